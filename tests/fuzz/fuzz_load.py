"""Atheris (libFuzzer for Python) target: every input is a model file given to `gru_infer.load`.

    python tests/fuzz/fuzz_load.py FORMAT [libFuzzer flags] CORPUS_DIR [SEED_DIR ...]

FORMAT is one of TARGETS: the name of the seed corpus, and what the load forces (`format=`;
"detect" lets gru_infer.load recognise the content itself, so mutations wander across
formats). An input passes when it loads or raises ModelFormatError / UnsupportedModelError;
anything else (another exception, a crash, a MemoryError from the address-space cap set after
the imports, a libFuzzer -timeout) is a finding, which libFuzzer saves under -artifact_prefix.
tests/run_fuzz_python.sh runs every target for a given time and keeps the findings in
tests/data/fuzz_findings/<format>/; tests/test_fuzz_findings.py replays them.
"""
from __future__ import annotations

import builtins
import importlib
import os
import pkgutil
import resource
import sys
import tempfile

import atheris

# FORMAT -> (the format= given to gru_infer.load, the frameworks imported before the cap)
TARGETS = {
    "native": ("native", ()),
    "torch_zip": ("pytorch", ()),
    "torch_legacy": ("pytorch", ()),
    "safetensors": ("safetensors", ()),
    "keras_zip": ("keras", ("h5py",)),
    "keras_h5": ("keras", ("h5py",)),
    "onnx": ("onnx", ("onnx", "onnx.reference", "onnx.inliner")),
    "npz": ("npz", ()),
    "rtneural": ("rtneural", ()),
    "detect": (None, ("h5py", "onnx", "onnx.reference", "onnx.inliner")),
}
MEM_MB = int(os.environ.get("GRU_INFER_FUZZ_MEM_MB", "2048"))  # libFuzzer and atheris grow too


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def main(argv):
    if len(argv) < 2 or argv[1] not in TARGETS:
        sys.exit(f"usage: {argv[0]} FORMAT [libFuzzer flags] CORPUS...; FORMAT one of {sorted(TARGETS)}")
    fmt, preload = TARGETS[argv[1]]
    os.environ.setdefault("KERAS_BACKEND", "torch")
    for name in preload:
        __import__(name)
    with atheris.instrument_imports(include=["gru_infer"]):
        import gru_infer
        for mod in pkgutil.walk_packages(gru_infer.__path__, "gru_infer."):  # the importers load lazily
            if mod.name not in ("gru_infer.cli", "gru_infer.demo", "gru_infer.verify"):
                importlib.import_module(mod.name)
    accepted = tuple(getattr(gru_infer, n) for n in ("ModelFormatError", "UnsupportedModelError")
                     if hasattr(gru_infer, n))
    extra = os.environ.get("GRU_INFER_FUZZ_ACCEPT")  # e.g. "ValueError" to explore past known findings
    if extra:
        accepted += tuple(getattr(builtins, n) for n in extra.split(","))
    workdir = tempfile.mkdtemp(prefix="gru_infer_fuzz_", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    path = os.path.join(workdir, "input")

    def one_input(data: bytes):
        with open(path, "wb") as f:
            f.write(data)
        try:
            gru_infer.load(path, format=fmt)
        except accepted:
            pass

    limit = _vm_size() + MEM_MB * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    atheris.Setup([argv[0]] + argv[2:], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
