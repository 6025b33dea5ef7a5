#!/usr/bin/env bash
# The C++ core on another CPU: cross-compiles csrc/ with Debian's cross toolchain for TARGET and
# runs the ctest suite under qemu-user, including test_python_models and test_c_api on the model
# files pytest wrote to $GRU_INFER_CPP_MODELS_DIR (so results are checked against PyTorch's within
# 1e-5). Installs the toolchain and qemu-user with apt-get when they are missing (needs root, as in
# CI). Run pytest first (run_all.sh does).
#   tests/run_cross.sh aarch64|armv7|riscv64 [ctest arguments...]
# Targets (toolchain file csrc/cmake/<triple>.cmake, build folder build/<target>):
#   aarch64  aarch64-linux-gnu     NEON kernels (and sdot where qemu's CPU has it)
#   armv7    arm-linux-gnueabihf   NEON kernels picked at run time (HWCAP_NEON + VFPv4), scalar otherwise
#   riscv64  riscv64-linux-gnu     scalar kernels only
# Extra arguments go to ctest, e.g. `-L kernels` or `-E test_realtime`. GRU_INFER_QEMU_CPU picks
# qemu's CPU model (e.g. cortex-a8 on armv7: NEON without VFPv4, so the scalar kernels run).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: run_cross.sh aarch64|armv7|riscv64 [ctest arguments]}
shift
case $target in
  aarch64) triple=aarch64-linux-gnu; toolchain=aarch64-linux-gnu; qemu=qemu-aarch64 ;;
  armv7) triple=arm-linux-gnueabihf; toolchain=armv7-linux-gnueabihf; qemu=qemu-arm ;;
  riscv64) triple=riscv64-linux-gnu; toolchain=riscv64-linux-gnu; qemu=qemu-riscv64 ;;
  *) echo "run_cross: unknown target '$target' (aarch64, armv7 or riscv64)" >&2; exit 2 ;;
esac
models=${GRU_INFER_CPP_MODELS_DIR:-$PWD/build/cpp_models}
build=build/$target

if ! command -v "$triple-g++" > /dev/null || ! command -v "$qemu" > /dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "run_cross $target: needs g++-$triple and qemu-user: apt-get install them as root" >&2
    exit 1
  fi
  apt-get update -qq > /dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "g++-$triple" qemu-user > /dev/null
fi
if ! ls "$models"/*.gru > /dev/null 2>&1; then
  echo "run_cross $target: no model files in $models: run pytest first (tests/run_all.sh does)" >&2
  exit 1
fi

start=$SECONDS
cmake -S csrc -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/csrc/cmake/$toolchain.cmake" -DGRU_INFER_PYTHON_MODELS_DIR="$models" > /dev/null
cmake --build "$build" > /dev/null
built=$SECONDS
ctest --test-dir "$build" --output-on-failure "$@"
echo "run_cross $target: build took $((built - start)) s, ctest under $qemu $((SECONDS - built)) s"
