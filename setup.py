"""Builds gru_infer: the C++ core in csrc/ plus the pybind11 module in src/.

The core's source list lives once, in csrc/sources.cmake, shared with the CMake build.
"""
import re
from pathlib import Path

import numpy
from Cython.Build import cythonize
from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import Extension, find_packages, setup

ROOT = Path(__file__).parent


def core_sources():
    text = (ROOT / "csrc" / "sources.cmake").read_text()
    return ["csrc/" + p for p in re.findall(r"\$\{CMAKE_CURRENT_LIST_DIR\}/(\S+\.cpp)", text)]


ext = Pybind11Extension(
    "gru_infer._core",
    ["src/bindings.cpp"] + core_sources(),
    include_dirs=["csrc/include"],
    cxx_std=17,
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
    name="gru_infer",
    version="0.1.0",
    description="Fast, exact CPU inference for GRU networks trained in PyTorch, Keras or ONNX",
    long_description=(ROOT / "README.md").read_text() if (ROOT / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    packages=find_packages(include=["gru_infer", "gru_infer.*"]),
    package_data={"gru_infer": ["models/*.gru", "models/*.npz"]},
    ext_modules=[ext] + cythonize([stream_ext], language_level=3),
    cmdclass={"build_ext": build_ext},
    python_requires=">=3.9",
    install_requires=["numpy>=1.21"],
    extras_require={
        "torch": ["torch"],
        "onnx": ["onnx"],
        "keras": ["h5py"],
        "test": [
            "pytest>=7",
            "pytest-benchmark>=4",
            "torch==2.13.0",
            "onnx",
            "onnxruntime",
            "onnxscript",  # torch.onnx.export's default (dynamo) exporter
            "keras>=3",  # run with KERAS_BACKEND=torch: no TensorFlow needed
            "h5py",
            "safetensors",  # writes the reference files our own reader is tested on
            "cmake>=3.18",
            "ninja",
        ],
        "fuzz": ["atheris>=2.3"],  # tests/run_fuzz_python.sh: coverage-guided fuzzing of the importers
        "bench": ["torch==2.13.0", "onnx", "onnxruntime", "pytest-benchmark>=4", "matplotlib"],
    },
    entry_points={"console_scripts": ["gru-infer=gru_infer.cli:main"]},
    zip_safe=False,
)
