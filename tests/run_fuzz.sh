#!/usr/bin/env bash
# Coverage-guided fuzzing of the model loaders for a given time per target, keeping what it finds.
#
#   bash tests/run_fuzz.sh [-t SECONDS_PER_TARGET] [TARGET ...]     (default: 60 s, every target)
#
# A target NAME is either
#   - csrc/fuzz/fuzz_NAME.cpp: a libFuzzer target, built here with clang
#     -fsanitize=fuzzer,address,undefined (build/fuzz; clang and its runtime are apt-get installed
#     when missing, as root, like tests/run_aarch64.sh does for the cross compiler), or
#   - tests/fuzz/fuzz_NAME.py: an atheris target, run with this Python (pip install atheris).
# Each starts from the seeds in tests/data/fuzz/corpus/NAME/ and grows its corpus in
# build/fuzz/corpus/NAME/. Every crash, leak, timeout (> 10 s) or allocation past 256 MB is written
# to tests/data/fuzz/crashes/NAME/, which the suite replays (ctest: fuzz_NAME_replay); the script
# prints each target's executions and exits 1 if any target found something.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60
if [ "${1:-}" = "-t" ]; then seconds=$2; shift 2; fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in csrc/fuzz/fuzz_*.cpp tests/fuzz/fuzz_*.py; do
    [ -e "$f" ] || continue
    name=$(basename "$f"); name=${name#fuzz_}; name=${name%.*}
    [ "$name" = replay ] || targets+=("$name")
  done
fi

need_clang() {
  if command -v clang++ > /dev/null && [ -f "$(clang++ -print-file-name=libclang_rt.fuzzer-x86_64.a)" ]; then return; fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "run_fuzz: needs clang with libFuzzer (apt-get install clang libclang-rt-dev as root)" >&2
    exit 1
  fi
  apt-get update -qq > /dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang > /dev/null
  major=$(clang++ -dumpversion | cut -d. -f1)
  if [ ! -f "$(clang++ -print-file-name=libclang_rt.fuzzer-x86_64.a)" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "libclang-rt-$major-dev" > /dev/null
  fi
}

build_native() {
  need_clang
  cmake -S csrc -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" \
    -DCMAKE_C_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DGRU_INFER_BUILD_FUZZERS=ON -DGRU_INFER_BUILD_EXAMPLES=OFF -DGRU_INFER_INSTALL=OFF > /dev/null
  cmake --build build/fuzz --target "$@" > /dev/null
}

status=0
summary=()
for t in "${targets[@]}"; do
  seeds=tests/data/fuzz/corpus/$t crashes=tests/data/fuzz/crashes/$t corpus=build/fuzz/corpus/$t
  mkdir -p "$corpus" "$crashes"
  flags=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256
         -print_final_stats=1 -artifact_prefix="$crashes/" "$corpus")
  [ -d "$seeds" ] && flags+=("$seeds")
  log=build/fuzz/$t.log
  if [ -f "csrc/fuzz/fuzz_$t.cpp" ]; then
    build_native "fuzz_$t"
    cmd=(build/fuzz/fuzz/fuzz_"$t")
  elif [ -f "tests/fuzz/fuzz_$t.py" ]; then
    cmd=(python "tests/fuzz/fuzz_$t.py")
  else
    echo "run_fuzz: no target '$t' (csrc/fuzz/fuzz_$t.cpp or tests/fuzz/fuzz_$t.py)" >&2
    exit 2
  fi
  before=$(ls "$crashes" | wc -l)
  echo "run_fuzz: $t for $seconds s"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
    "${cmd[@]}" "${flags[@]}" > "$log" 2>&1 || true
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  found=$(( $(ls "$crashes" | wc -l) - before ))
  summary+=("$t: $runs executions in $seconds s, $found new findings (log: $log)")
  if [ "$found" -gt 0 ] || ! grep -q 'Done [0-9]* runs' "$log"; then
    status=1
    tail -40 "$log" >&2
  fi
done
printf 'run_fuzz: %s\n' "${summary[@]}"
exit $status
