#!/usr/bin/env bash
# Fuzz the Python importers with atheris (tests/fuzz/fuzz_load.py), SECONDS per format.
#   bash tests/run_fuzz_python.sh [SECONDS=60] [FORMAT ...]     (FORMAT: see TARGETS in fuzz_load.py)
# Seeds are made once by tests/fuzz/make_seeds.py under $GRU_INFER_FUZZ_DIR (build/fuzz_python);
# the growing corpus stays there too. What a run finds (crash-*, timeout-*, oom-* inputs) is kept in
# tests/data/fuzz_findings/<format>/ and replayed by tests/test_fuzz_findings.py: fix the loader,
# then commit the input. Prints executions per format; exits 1 if any format had a finding.
# Each format runs in sessions of at most GRU_INFER_FUZZ_SESSION seconds (60; 10 for rtneural),
# restarted on the same corpus: atheris' own memory grows with JSON inputs (about 25 kB per input
# on the rtneural target; gru_infer's loads of the same inputs in a plain loop stay flat) and would
# otherwise reach the address-space cap.
# GRU_INFER_FUZZ_FLAGS adds libFuzzer flags (e.g. "-runs=1000000" to stop a session after that many).
# Needs `pip install -e ".[fuzz]"` (atheris) and the test extras (the seeds are made by torch/keras/onnx).
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
formats=("$@")
[ ${#formats[@]} -eq 0 ] && formats=(native torch_zip torch_legacy safetensors keras_zip keras_h5 onnx npz rtneural detect)
work=${GRU_INFER_FUZZ_DIR:-build/fuzz_python}
if [ ! -d "$work/seeds" ]; then
  python tests/fuzz/make_seeds.py "$work/seeds.tmp" > /dev/null 2>&1 && mv "$work/seeds.tmp" "$work/seeds" || {
    echo "making the seed corpora failed: python tests/fuzz/make_seeds.py $work/seeds"; exit 2; }
fi
status=0
for f in "${formats[@]}"; do
  mkdir -p "$work/corpus/$f" "tests/data/fuzz_findings/$f"
  log="$work/$f.log"
  : > "$log"
  before=$(ls "tests/data/fuzz_findings/$f" | wc -l)
  left=$secs execs=0 rc=0 start=$SECONDS
  session=${GRU_INFER_FUZZ_SESSION:-60}
  [ "$f" = rtneural ] && session=${GRU_INFER_FUZZ_SESSION:-10}  # atheris grows ~25 kB per JSON input here
  while [ "$left" -gt 0 ] && [ "$rc" -eq 0 ]; do
    t=$(( left < session ? left : session ))
    KERAS_BACKEND=torch MALLOC_ARENA_MAX=2 OMP_NUM_THREADS=1 \
      python tests/fuzz/fuzz_load.py "$f" -max_total_time="$t" -timeout=10 -rss_limit_mb=4096 -max_len=131072 \
        -print_final_stats=1 ${GRU_INFER_FUZZ_FLAGS:-} -artifact_prefix="tests/data/fuzz_findings/$f/" \
        "$work/corpus/$f" "$work/seeds/$f" >> "$log" 2>&1
    rc=$?
    n=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    execs=$(( execs + ${n:-0} ))
    sed -i 's/stat::number_of_executed_units/counted::number_of_executed_units/' "$log"
    left=$(( secs - (SECONDS - start) ))
  done
  after=$(ls "tests/data/fuzz_findings/$f" | wc -l)
  echo "$f: $execs executions in $((SECONDS - start)) s, $((after - before)) new findings (exit $rc; log $log)"
  if [ "$rc" -ne 0 ] || [ "$after" -gt "$before" ]; then status=1; fi
done
exit $status
