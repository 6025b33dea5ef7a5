#!/usr/bin/env bash
# The whole suite: ruff (lint, configured in pyproject.toml), pytest (which also writes model files
# for the C++ tests), a short fuzz smoke of the Python importers (tests/run_fuzz_python.sh, when
# atheris is installed), then the C++ core built on its own with CMake and its ctest suite, and
# in its size variants (tests/run_size_options.sh). Run
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
