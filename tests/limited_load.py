"""Load one model file in a child process with a memory limit and a time limit, and say what happened.

    python tests/limited_load.py PATH [--format FMT] [--mem-mb 256] [--preload h5py,onnx]

The child imports gru_infer (and the frameworks named by --preload, whose own import is not
what is being measured), then caps its address space at what it uses now plus --mem-mb
(RLIMIT_AS), loads the file and prints one JSON line: "status" ("loaded" or "error"), the
exception's type, message and cause chain, whether it is a gru_infer error type, whether a
MemoryError occurred anywhere in the chain (= the limit was hit), the load's wall time and how
much the peak RSS grew. The parent (`run_limited`) kills it after a timeout, so a hang or a
crash is a result too, not a dead test run.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
MEM_MB = 256          # the budget beyond the model's real weights
# CPU seconds the load may use (RLIMIT_CPU, counted from after the imports): a hang detector, not a
# benchmark. CPU time rather than wall time because this machine is shared (imports alone can take
# 20 s of wall time under load); a load that blocks without using CPU hits WALL_TIMEOUT_S.
TIMEOUT_S = int(os.environ.get("GRU_INFER_HOSTILE_TIMEOUT", "20"))
WALL_TIMEOUT_S = 600


@dataclass
class LoadResult:
    status: str                   # "loaded", "error", "timeout" (CPU or wall limit), "crash"
    type: str = ""
    message: str = ""
    chain: List[str] = field(default_factory=list)
    is_model_error: bool = False  # ModelFormatError or UnsupportedModelError
    memory_error: bool = False    # a MemoryError anywhere in the chain: the limit was hit
    seconds: float = 0.0          # wall time of the load
    cpu_seconds: float = 0.0
    rss_growth_mb: float = 0.0
    returncode: Optional[int] = None
    stderr: str = ""

    def describe(self) -> str:
        return (f"{self.status} {self.type}: {self.message[:300]!r} (chain {self.chain}, {self.seconds:.2f} s, "
                f"{self.cpu_seconds:.2f} CPU s, "
                f"+{self.rss_growth_mb:.0f} MB RSS, rc={self.returncode}) {self.stderr[-500:]}")


def run_limited(path, fmt: Optional[str] = None, mem_mb: int = MEM_MB, preload=(), cwd=None,
                timeout: int = TIMEOUT_S, extra_mb: int = 0) -> LoadResult:
    """Run `gru_infer.load(path)` in a child process under RLIMIT_AS and RLIMIT_CPU."""
    cmd = [sys.executable, os.path.join(HERE, "limited_load.py"), os.fspath(path), "--mem-mb", str(mem_mb + extra_mb),
           "--cpu-s", str(timeout)]
    if fmt:
        cmd += ["--format", fmt]
    if preload:
        cmd += ["--preload", ",".join(preload)]
    env = dict(os.environ, MALLOC_ARENA_MAX="2", OMP_NUM_THREADS="1", KERAS_BACKEND="torch")
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=WALL_TIMEOUT_S, cwd=cwd, env=env)
    except subprocess.TimeoutExpired:
        return LoadResult("timeout", seconds=time.monotonic() - start, message=f"killed after {WALL_TIMEOUT_S} s")
    if p.returncode == -signal.SIGXCPU:
        return LoadResult("timeout", returncode=p.returncode, cpu_seconds=timeout,
                          message=f"killed after {timeout} CPU seconds", stderr=p.stderr[-2000:])
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        return LoadResult("crash", returncode=p.returncode, stderr=p.stderr, seconds=time.monotonic() - start)
    return LoadResult(**json.loads(lines[-1]), returncode=p.returncode, stderr=p.stderr[-2000:])


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _main(argv) -> None:
    import argparse
    import resource

    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--format")
    ap.add_argument("--mem-mb", type=int, default=MEM_MB)
    ap.add_argument("--preload", default="")
    ap.add_argument("--cpu-s", type=int, default=TIMEOUT_S)
    args = ap.parse_args(argv)

    import numpy  # noqa: F401

    import gru_infer
    for name in filter(None, args.preload.split(",")):
        __import__(name)
    model_errors = tuple(getattr(gru_infer, n) for n in ("ModelFormatError", "UnsupportedModelError")
                         if hasattr(gru_infer, n))
    if not hasattr(gru_infer, "UnsupportedModelError"):  # before gru_infer exported it
        try:
            from gru_infer.torch_import import UnsupportedModelError
            model_errors += (UnsupportedModelError,)
        except ImportError:
            pass
    rss0 = _status_kb("VmRSS")
    limit = _status_kb("VmSize") * 1024 + args.mem_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_used = int(cpu0.ru_utime + cpu0.ru_stime) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_used + args.cpu_s, cpu_used + args.cpu_s + 5))
    start = time.monotonic()
    out = {"status": "loaded"}
    try:
        gru_infer.load(args.path, format=args.format)
    except BaseException as e:  # noqa: B902 - reporting every kind is the point
        chain, cur, seen = [], e, set()
        while cur is not None and id(cur) not in seen:
            seen.add(id(cur))
            chain.append(type(cur).__name__)
            cur = cur.__cause__ or cur.__context__
        try:
            message = str(e)[:4000]
        except BaseException as m:  # noqa: B902
            message = f"<str() failed: {type(m).__name__}>"
        out = {"status": "error", "type": type(e).__name__, "message": message, "chain": chain,
               "is_model_error": isinstance(e, model_errors), "memory_error": "MemoryError" in chain}
    out["seconds"] = time.monotonic() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu_seconds"] = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    out["rss_growth_mb"] = max(0, _status_kb("VmHWM") - rss0) / 1024
    print(json.dumps(out), flush=True)
    os._exit(0)  # skip interpreter teardown: torch's exit handlers spin for ~20 s under RLIMIT_AS


if __name__ == "__main__":
    _main(sys.argv[1:])
