"""Replay every input the fuzzers ever kept (tests/data/fuzz_findings/<format>/*) under the memory
and time limits of tests/limited_load.py: each loads, or is refused with our error types naming the
file, with no MemoryError in the chain and no hang or crash."""
from pathlib import Path

import pytest
from limited_load import MEM_MB, run_limited

FINDINGS = Path(__file__).parent / "data" / "fuzz_findings"
FILES = sorted(p for p in FINDINGS.glob("*/*") if p.is_file())


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name}" for p in FILES])
def test_fuzz_finding_is_handled(path):
    res = run_limited(path, preload=["h5py", "onnx"])
    assert res.status in ("loaded", "error"), res.describe()
    assert not res.memory_error, f"hit the {MEM_MB} MB limit: {res.describe()}"
    if res.status == "error":
        assert res.is_model_error, res.describe()
        assert path.name in res.message, res.describe()
    assert res.rss_growth_mb < MEM_MB, res.describe()
