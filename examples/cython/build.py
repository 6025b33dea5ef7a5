"""Compile stream_loop.pyx against the installed gru_infer and check it against Stream.step.

    python examples/cython/build.py        # builds in a temporary directory, then runs

Your own setup.py needs the same two things: cythonize can find gru_infer's .pxd files (they are
installed with the package, so with a normal install nothing is needed), and the C compiler gets
include_dirs=[gru_infer.get_include()].
"""
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

import gru_infer

HERE = Path(__file__).resolve().parent


def build(out_dir, pyx=HERE / "stream_loop.pyx"):
    """Cythonize and compile `pyx` into out_dir; return the imported module."""
    from Cython.Build import cythonize
    from setuptools import Distribution, Extension
    package_parent = os.path.dirname(os.path.dirname(gru_infer.__file__))  # where gru_infer/*.pxd live
    name = Path(pyx).stem
    ext = Extension(name, [str(pyx)], include_dirs=[gru_infer.get_include()], extra_compile_args=["-O2"])
    dist = Distribution({"ext_modules": cythonize([ext], include_path=[package_parent], quiet=True,
                                                  build_dir=str(out_dir))})
    cmd = dist.get_command_obj("build_ext")
    cmd.build_lib = cmd.build_temp = str(out_dir)
    cmd.ensure_finalized()
    cmd.run()
    spec = importlib.util.spec_from_file_location(name, cmd.get_ext_fullpath(name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(loop=None):
    """Run the demo model through `loop` (stream_loop, built here if None); 0 if it equals Stream.step."""
    model = gru_infer.load(Path(gru_infer.__file__).parent / "models" / "vibration_forecaster.gru")
    with tempfile.TemporaryDirectory() as tmp:
        loop = loop or build(tmp)
        x = np.sin(np.arange(200, dtype=np.float32) / 7)[:, None, None]  # (steps, batch 1, 1 feature)
        y = np.empty((200, 1, model.output_size), np.float32)
        loop.run(model.stream(), x, y)
        s = model.stream()
        want = np.stack([s.step(x_t) for x_t in x])
        print(f"200 steps through the capsule from Cython; max difference to Stream.step: "
              f"{np.abs(y - want).max():g}")
        return 0 if np.array_equal(y, want) else 1


if __name__ == "__main__":
    sys.exit(main())
