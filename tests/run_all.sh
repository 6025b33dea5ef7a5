#!/usr/bin/env bash
# The whole suite: ruff (lint, configured in pyproject.toml), pytest (which also writes model files
# for the C++ tests), a short fuzz smoke of the Python importers (tests/run_fuzz_python.sh, when
# atheris is installed), then the C++ core built on its own with CMake and its ctest suite, and
# in its size variants (tests/run_size_options.sh), cross builds under qemu and the micro runtime's
# firmware (tests/run_micro.sh). Run
# from the repository root after `pip install -e ".[test]"` (and ".[fuzz]" for the smoke).
set -euo pipefail
cd "$(dirname "$0")/.."
export GRU_INFER_CPP_MODELS_DIR="$PWD/build/cpp_models"
rm -rf "$GRU_INFER_CPP_MODELS_DIR"
ruff check .
python -m pytest -q
# Fuzz smoke of the Python importers: GRU_INFER_FUZZ_SMOKE seconds per format (atheris, the "fuzz" extra)
if python -c "import atheris" 2> /dev/null; then
  bash tests/run_fuzz_python.sh "${GRU_INFER_FUZZ_SMOKE:-10}"
else
  echo "atheris is not installed (pip install -e '.[fuzz]'): Python fuzz smoke skipped"
fi
cmake -S csrc -B build/csrc -G Ninja -DCMAKE_BUILD_TYPE=Release -DGRU_INFER_PYTHON_MODELS_DIR="$GRU_INFER_CPP_MODELS_DIR" > /dev/null
cmake --build build/csrc
ctest --test-dir build/csrc --output-on-failure
bash tests/run_size_options.sh  # reduced precision off, scalar only: their ctest and stripped sizes (~1.5 min)
bash tests/run_consumer.sh && bash tests/run_aarch64.sh  # install + find_package app vs Python; aarch64 under qemu
# armv7 (NEON picked at run time, 32-bit size_t) and riscv64 (scalar) under qemu, cut to fit CI's
# few minutes: test_realtime, test_quant_model and the scalar reduced-precision kernels take
# minutes each under qemu-arm (its soft-float fma and fenv calls) and test nothing there that x86
# and aarch64 do not; riscv64 runs the kernel tests, the model files against PyTorch and the C API.
# `bash tests/run_armv7.sh` / `bash tests/run_riscv64.sh` alone run everything.
bash tests/run_armv7.sh -j "$(nproc)" -E "^(test_realtime|test_quant_model|quant_kernels_scalar)$"
bash tests/run_riscv64.sh -j "$(nproc)" -R "^(.*_scalar|test_model|test_native_file|test_python_models|test_c_api|test_hostile_sizes)$"
# The micro runtime (csrc/micro): its malformed-array test on the host, and its firmware on
# Cortex-M4 and M7 under qemu-system-arm against the hosted library and PyTorch (~40 s).
bash tests/run_micro.sh
