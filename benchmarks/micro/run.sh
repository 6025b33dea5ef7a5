#!/usr/bin/env bash
# The micro runtime's benchmark (not a test): GRU(H) -> Dense(1) at H = 8, 16, 32, 64, I = 1 and H,
# fp32 and int8, on a Cortex-M4 under qemu-system-arm -icount shift=0 (instructions, not cycles),
# against a plain C step (plain_step.c); int8 with and without SMLAD; the flash the runtime's code
# takes (linker map) and the arena and stack it uses. Prints a markdown table (benchmarks/results.md).
# Needs what tests/run_micro.sh installs; run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
out=build/micro-bench
rm -rf "$out"
python benchmarks/micro/bench_models.py make "$out/cases" > /dev/null
for v in dsp nodsp; do
  cmake -S benchmarks/micro -B "$out/$v" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE="$PWD/csrc/cmake/arm-none-eabi.cmake" -DGRU_MICRO_CASES_DIR="$PWD/$out/cases" \
    -DGRU_MICRO_NO_DSP=$([ $v = nodsp ] && echo ON || echo OFF) > /dev/null
  cmake --build "$out/$v" > /dev/null
  timeout 300 qemu-system-arm -M mps2-an386 -cpu cortex-m4 -nographic -semihosting -icount shift=0 \
    -kernel "$out/$v/bench.elf" > "$out/$v.log" 2>&1
done
python benchmarks/micro/bench_models.py report "$out/cases" "$out/dsp.log" "$out/nodsp.log" "$out/dsp/bench.map"
