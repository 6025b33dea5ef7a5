"""The Python examples run and do what they print: examples/python/many_streams.py scores random
sensor arrivals through slots and through one stream per sensor, and both give the same scores."""
import runpy
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "python"


def test_many_streams_slots_equal_separate_streams():
    example = runpy.run_path(str(EXAMPLES / "many_streams.py"))
    diff = example["main"](["--sensors", "40", "--hidden", "24", "--ticks", "30", "--rate", "0.4"])
    assert diff <= 1e-6


def test_many_streams_prints_throughput():
    out = subprocess.run([sys.executable, str(EXAMPLES / "many_streams.py"), "--sensors", "16", "--hidden", "8",
                          "--ticks", "10"], capture_output=True, text=True, check=True).stdout
    assert "stream-steps/s" in out and "one stream per sensor" in out and "max score difference" in out
