#!/usr/bin/env bash
# The C++ core on 32-bit ARM (armhf) under qemu-arm (tests/run_cross.sh armv7; extra arguments go
# to ctest). The NEON kernels run (qemu's default CPU has NEON and VFPv4); then, on a CPU with NEON
# but no VFPv4 (cortex-a8), test_vact must find the scalar kernels the only ones it can run (the
# run-time pick of dispatch.cpp), and the model files must still match PyTorch's outputs (no NEON
# or VFPv4 instruction outside the NEON kernels).
set -euo pipefail
here=$(dirname "$0")
bash "$here/run_cross.sh" armv7 "$@"
cd "$here/.."
models=${GRU_INFER_CPP_MODELS_DIR:-$PWD/build/cpp_models}
a8="qemu-arm -cpu cortex-a8 -L /usr/arm-linux-gnueabihf"
out=$($a8 build/armv7/tests/test_vact 2>&1) || {
  echo "run_armv7: test_vact failed on cortex-a8:" >&2; echo "$out" >&2; exit 1; }
if ! grep -q "ISA scalar" <<< "$out" || grep -q "ISA neon" <<< "$out"; then
  echo "run_armv7: on cortex-a8 (no VFPv4) the scalar kernels must be the only ones run:" >&2; echo "$out" >&2; exit 1
fi
$a8 build/armv7/tests/test_native_file "$models" > /dev/null || {
  echo "run_armv7: the model files do not match PyTorch's outputs on cortex-a8 (scalar kernels)" >&2; exit 1; }
echo "run_armv7: cortex-a8 (NEON without VFPv4) runs the scalar kernels, and the model files pass"
