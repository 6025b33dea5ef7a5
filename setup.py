"""Builds gru_infer's extensions: the C++ core in csrc/ plus the pybind11 module in src/, and the Cython Stream.

The package metadata is in pyproject.toml ([project]); its version is passed to the C++ module as
VERSION_INFO (`gru_infer._core.__version__`). The core's source list lives once, in
csrc/sources.cmake, shared with the CMake build.
"""
import re
from pathlib import Path

import numpy
from Cython.Build import cythonize
from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext
from setuptools import Extension, setup

ROOT = Path(__file__).parent


def project_version():
    """[project] version from pyproject.toml (the same regex csrc/CMakeLists.txt uses)."""
    return re.search(r'\nversion = "([^"]+)"', (ROOT / "pyproject.toml").read_text()).group(1)


def core_sources():
    text = (ROOT / "csrc" / "sources.cmake").read_text()
    return ["csrc/" + p for p in re.findall(r"\$\{CMAKE_CURRENT_LIST_DIR\}/(\S+\.cpp)", text)]


# The core's ~70 sources compile in parallel, one job per core (NPY_NUM_BUILD_JOBS overrides).
ParallelCompile("NPY_NUM_BUILD_JOBS").install()

ext = Pybind11Extension(
    "gru_infer._core",
    ["src/bindings.cpp", "src/stream_api.cpp"] + core_sources(),
    # public headers, the core's private ones (kernels/, runtime/), and the stream table's header
    include_dirs=["csrc/include", "csrc", "gru_infer/include"],
    cxx_std=17,
    define_macros=[("VERSION_INFO", project_version())],
    # Portable baseline build: AVX2/NEON kernels carry their own target attributes and are picked
    # at run time, so no -march=native here.
    extra_compile_args=["-O3"],
)

# The per-step hot path from Python (gru_infer.Stream), in Cython: see src/_stream.pyx.
stream_ext = Extension(
    "gru_infer._stream",
    ["src/_stream.pyx"],
    include_dirs=[numpy.get_include(), "src"],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=["-O3"],
)

setup(
    ext_modules=[ext] + cythonize([stream_ext], language_level=3),
    cmdclass={"build_ext": build_ext},
)
