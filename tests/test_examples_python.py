"""The Python examples run and do what they print: examples/python/many_streams.py scores random
sensor arrivals through slots and through one stream per sensor, and both give the same scores; the
README's "Scale out" examples run as written (the "From Cython" one: tests/test_cython_api.py)."""
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_many_streams_slots_equal_separate_streams():
    example = runpy.run_path(str(EXAMPLES / "python" / "many_streams.py"))
    diff = example["main"](["--sensors", "40", "--hidden", "24", "--ticks", "30", "--rate", "0.4"])
    assert diff <= 1e-6


def test_many_streams_prints_throughput():
    out = subprocess.run([sys.executable, str(EXAMPLES / "python" / "many_streams.py"), "--sensors", "16",
                          "--hidden", "8", "--ticks", "10"], capture_output=True, text=True, check=True).stdout
    assert "stream-steps/s" in out and "one stream per sensor" in out and "max score difference" in out


@pytest.mark.parametrize("script,needs", [("process_pool.py", None), ("dask_cluster.py", "distributed")])
def test_scale_out_example(script, needs):
    if needs:
        pytest.importorskip(needs)
    r = subprocess.run([sys.executable, str(EXAMPLES / "scale_out" / script)], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "identical to predict here: True" in r.stdout
