#!/usr/bin/env bash
# The micro runtime (csrc/micro, gru_infer_micro.h) on emulated microcontrollers. Writes the test
# models as C arrays and their hosted-library and PyTorch references (tests/micro/micro_models.py),
# runs the malformed-array test on the host under ASan/UBSan, builds the test firmware with
# arm-none-eabi-gcc for a Cortex-M4 and a Cortex-M7, runs them under qemu-system-arm on the MPS2
# AN386 (M4) and AN500 (M7) boards (output and exit status over semihosting), and compares their
# outputs with the references (fp32 within 1e-5; int8 within 1e-5 of the hosted int8 model and
# within its bound of the reference). Also checks that the runtime needs nothing but libc's
# memcpy/memset/memmove and libm: no heap, no C++ runtime. Installs its Debian packages when
# they are missing (needs root, as in CI). Run from anywhere after building the Python extension.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
out=build/micro
start=$SECONDS

if ! command -v arm-none-eabi-g++ > /dev/null || ! command -v qemu-system-arm > /dev/null ||
   [ ! -e /usr/lib/arm-none-eabi/include/c++ ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "run_micro: needs gcc-arm-none-eabi, libnewlib-arm-none-eabi, libstdc++-arm-none-eabi-newlib" \
         "and qemu-system-arm: apt-get install them as root" >&2
    exit 1
  fi
  apt-get update -qq > /dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc-arm-none-eabi \
    libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm > /dev/null
fi

rm -rf "$out"
python tests/micro/micro_models.py make "$out/cases"

cmake -S tests/micro -B "$out/host" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DGRU_MICRO_CASES_DIR="$PWD/$out/cases" > /dev/null
cmake --build "$out/host" > /dev/null
"$out/host/test_micro_hostile"

logs=()
for cpu in cortex-m4 cortex-m7; do
  case $cpu in cortex-m4) board=mps2-an386 ;; cortex-m7) board=mps2-an500 ;; esac
  build=$out/fw-$cpu
  cmake -S tests/micro -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE="$PWD/csrc/cmake/arm-none-eabi.cmake" -DGRU_MICRO_CPU=$cpu \
    -DGRU_MICRO_CASES_DIR="$PWD/$out/cases" > /dev/null
  cmake --build "$build" > /dev/null
  # No heap, no C++ runtime: the library's only outside symbols are libc's mem* and libm's.
  extra=$(arm-none-eabi-nm -u "$build/micro/libgru_infer_micro.a" | awk 'NF == 2 {print $2}' | sort -u |
          grep -v -E '^(memcmp|memcpy|memmove|memset|expf|expm1f|log1pf|tanhf|fmaf|nearbyintf|_ZN(14gru_micro_impl|9gru_infer).*)$' || true)
  if [ -n "$extra" ]; then echo "run_micro: the micro runtime needs more than libc mem* and libm: $extra" >&2; exit 1; fi
  if grep -q "libstdc++" "$build/fw_test.map"; then
    echo "run_micro: libstdc++ is linked into the firmware ($build/fw_test.map)" >&2; exit 1
  fi
  log=$build/$board.log
  if ! timeout 120 qemu-system-arm -M $board -cpu $cpu -nographic -semihosting -kernel "$build/fw_test.elf" > "$log" 2>&1; then
    echo "run_micro: the firmware failed on $board (exit status != 0):" >&2; grep -v '^y' "$log" >&2; exit 1
  fi
  logs+=("$log")
done
python tests/micro/micro_models.py check "$out/cases" "${logs[@]}"
# The README's example (examples/micro/main.c) still compiles, on a test model named as it expects.
mkdir -p "$out/example"
printf '#include "model_fp32_i1_h16.h"\n#define gru_model model_fp32_i1_h16\n' > "$out/example/model.h"
arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -std=c11 -O2 -Wall -Wextra -Werror \
  -Icsrc/micro/include -I"$out/example" -I"$out/cases" -c examples/micro/main.c -o "$out/example/main.o"
echo "run_micro: ok ($((SECONDS - start)) s)"
