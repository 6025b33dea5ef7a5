#!/usr/bin/env bash
# The C++ core on 64-bit RISC-V under qemu-riscv64, scalar kernels (tests/run_cross.sh riscv64;
# extra arguments go to ctest).
exec bash "$(dirname "$0")/run_cross.sh" riscv64 "$@"
