#!/usr/bin/env bash
# The C++ core on 64-bit ARM: cross-compiles csrc/ with Debian's aarch64 toolchain
# (csrc/cmake/aarch64-linux-gnu.cmake) and runs the whole ctest suite under qemu-user, including
# test_python_models and test_c_api on the model files pytest wrote to $GRU_INFER_CPP_MODELS_DIR,
# so aarch64 results are checked against PyTorch's within 1e-5. Installs g++-aarch64-linux-gnu and
# qemu-user with apt-get when they are missing (needs root, as in CI). Run pytest first (run_all.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."
models=${GRU_INFER_CPP_MODELS_DIR:-$PWD/build/cpp_models}
build=build/aarch64

if ! command -v aarch64-linux-gnu-g++ > /dev/null || ! command -v qemu-aarch64 > /dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "run_aarch64: needs g++-aarch64-linux-gnu and qemu-user: apt-get install them as root" >&2
    exit 1
  fi
  apt-get update -qq > /dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++-aarch64-linux-gnu qemu-user > /dev/null
fi
if ! ls "$models"/*.gru > /dev/null 2>&1; then
  echo "run_aarch64: no model files in $models: run pytest first (tests/run_all.sh does)" >&2
  exit 1
fi

cmake -S csrc -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/csrc/cmake/aarch64-linux-gnu.cmake" -DGRU_INFER_PYTHON_MODELS_DIR="$models" > /dev/null
cmake --build "$build" > /dev/null
start=$SECONDS
ctest --test-dir "$build" --output-on-failure
echo "run_aarch64: ctest under qemu-aarch64 took $((SECONDS - start)) s"
