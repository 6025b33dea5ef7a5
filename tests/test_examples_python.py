"""The README's "Scale out" examples run as written (the "From Cython" one: tests/test_cython_api.py)."""
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "scale_out"


@pytest.mark.parametrize("script,needs", [("process_pool.py", None), ("dask_cluster.py", "distributed")])
def test_scale_out_example(script, needs):
    if needs:
        pytest.importorskip(needs)
    r = subprocess.run([sys.executable, str(EXAMPLES / script)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "identical to predict here: True" in r.stdout
