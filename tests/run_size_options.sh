#!/usr/bin/env bash
# The C++ core's size options (csrc/CMakeLists.txt): builds it without reduced precision
# (GRU_INFER_REDUCED_PRECISION=OFF) and with the scalar kernels only (GRU_INFER_ISAS=scalar), runs
# their ctest, and prints the stripped size of each variant's libgru_infer.so (and of the full
# build in build/csrc, if tests/run_all.sh made one). Tests that need what a variant leaves out
# are not registered by CMake there.
#
# CI time: about 1.5 minutes on 2 cores for both variants with every ctest. GRU_INFER_SIZE_QUICK=1
# builds and runs only the library and the tests that check the options (test_model,
# test_native_file, test_c_api, test_c_api_shared): about 1 minute. Builds go to build/size_*.
set -euo pipefail
cd "$(dirname "$0")/.."
generator=()
if command -v ninja > /dev/null; then generator=(-G Ninja); fi
jobs="${GRU_INFER_SIZE_JOBS:-$(nproc 2> /dev/null || echo 2)}"
quick_targets=(gru_infer_shared test_model test_native_file test_c_api test_c_api_shared)
quick_tests='^(test_model|test_native_file|test_c_api|test_c_api_shared)$'

# The stripped size in bytes of a build's shared library (a stripped copy; the build is untouched).
stripped_size() {
  local lib tmp
  lib="$(ls "$1"/libgru_infer.so.*.*.* 2> /dev/null | head -n 1)"
  [[ -n "$lib" ]] || { echo "?"; return; }
  tmp="$(mktemp)"
  cp "$lib" "$tmp" && strip "$tmp" && stat -c %s "$tmp"
  rm -f "$tmp"
}

variant() {  # name, cmake options...
  local name="$1"; shift
  local dir="build/size_$name"
  echo "== $name: $*"
  cmake -S csrc -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DGRU_INFER_BUILD_EXAMPLES=OFF \
    "$@" > /dev/null
  if [[ "${GRU_INFER_SIZE_QUICK:-0}" == 1 ]]; then
    cmake --build "$dir" -j "$jobs" --target "${quick_targets[@]}"
    ctest --test-dir "$dir" --output-on-failure -R "$quick_tests"
  else
    cmake --build "$dir" -j "$jobs"
    ctest --test-dir "$dir" --output-on-failure
  fi
  sizes+=("$(printf '%-36s %9s bytes' "$name ($*)" "$(stripped_size "$dir")")")
}

sizes=()
if [[ -d build/csrc ]]; then
  sizes+=("$(printf '%-36s %9s bytes' "full (build/csrc)" "$(stripped_size build/csrc)")")
fi
variant no_reduced_precision -DGRU_INFER_REDUCED_PRECISION=OFF
variant scalar_only -DGRU_INFER_ISAS=scalar
echo "== stripped libgru_infer.so"
printf '%s\n' "${sizes[@]}"
