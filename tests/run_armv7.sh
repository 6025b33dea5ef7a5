#!/usr/bin/env bash
# The C++ core on 32-bit ARM (armhf) under qemu-arm (tests/run_cross.sh armv7; extra arguments go
# to ctest). The NEON kernels run (qemu's default CPU has NEON and VFPv4); then, on a CPU with NEON
# but no VFPv4 (cortex-a8), test_vact must find the scalar kernels the only ones it can run (the
# run-time pick of dispatch.cpp).
set -euo pipefail
here=$(dirname "$0")
bash "$here/run_cross.sh" armv7 "$@"
cd "$here/.."
out=$(qemu-arm -cpu cortex-a8 -L /usr/arm-linux-gnueabihf build/armv7/tests/test_vact 2>&1) || {
  echo "run_armv7: test_vact failed on cortex-a8:" >&2; echo "$out" >&2; exit 1; }
if ! grep -q "ISA scalar" <<< "$out" || grep -q "ISA neon" <<< "$out"; then
  echo "run_armv7: on cortex-a8 (no VFPv4) the scalar kernels must be the only ones run:" >&2; echo "$out" >&2; exit 1
fi
echo "run_armv7: cortex-a8 (NEON without VFPv4) runs the scalar kernels"
