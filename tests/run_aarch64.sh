#!/usr/bin/env bash
# The C++ core on 64-bit ARM under qemu-aarch64 (tests/run_cross.sh aarch64; extra arguments go to ctest).
exec bash "$(dirname "$0")/run_cross.sh" aarch64 "$@"
