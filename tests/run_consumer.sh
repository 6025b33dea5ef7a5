#!/usr/bin/env bash
# The C/C++ library as an application gets it. Installs it (cmake --install) into a temporary
# prefix, builds examples/ as a project of its own outside the repository, once with
# find_package(gru_infer) against that prefix and once with add_subdirectory(csrc), runs its three
# programs (C++ stream, C predict on the static and on the shared library) on the demo model, and
# compares their output with Python's gru_infer predict on the same input (max abs diff <= 1e-5).
# Also checks that the install holds exactly the public headers, each compiling on its own.
# Exits non-zero on any failure. Uses build/csrc (configured here if run_all.sh did not).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
build=${GRU_INFER_BUILD_DIR:-$repo/build/csrc}
model=$repo/gru_infer/models/vibration_forecaster.gru
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S csrc -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
fi
cmake --build "$build" > /dev/null
cmake --install "$build" --prefix "$tmp/prefix" > /dev/null
for f in lib/libgru_infer.a lib/libgru_infer.so \
         lib/cmake/gru_infer/gru_infer-config.cmake lib/cmake/gru_infer/gru_infer-config-version.cmake; do
  [ -e "$tmp/prefix/$f" ] || { echo "run_consumer: the install has no $f" >&2; exit 1; }
done
# Exactly the public headers (csrc/include/gru_infer/): the kernel table, the runtime helpers and
# the SIMD headers are private, and each public header compiles on its own against the install.
headers="activation.h activation_layer.h aligned_buffer.h c_api.h dense_layer.h embedding_layer.h error.h \
gru_infer.h gru_layer.h isa.h last_step_layer.h layer.h model.h native_file.h packed_gru.h stream.h threading.h"
installed=$(cd "$tmp/prefix/include" && find . -type f | sed 's|^\./gru_infer/||' | sort | tr '\n' ' ')
if [ "$installed" != "$headers " ]; then
  echo "run_consumer: installed headers: $installed" >&2
  echo "run_consumer: expected:          $headers" >&2
  exit 1
fi
for h in $headers; do
  echo "#include \"gru_infer/$h\"" | ${CXX:-c++} -std=c++17 -fsyntax-only -x c++ -I "$tmp/prefix/include" - \
    || { echo "run_consumer: installed gru_infer/$h does not compile on its own" >&2; exit 1; }
done

cp -r examples "$tmp/app"
# find_package against the installed prefix, and add_subdirectory of the sources.
cmake -S "$tmp/app" -B "$tmp/build-find" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$tmp/prefix" > /dev/null
grep -q "^gru_infer_DIR:PATH=$tmp/prefix/" "$tmp/build-find/CMakeCache.txt" \
  || { echo "run_consumer: find_package(gru_infer) did not use the installed package" >&2; exit 1; }
cmake -S "$tmp/app" -B "$tmp/build-subdir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGRU_INFER_SOURCE_DIR="$repo/csrc" > /dev/null
cmake --build "$tmp/build-find" > /dev/null
cmake --build "$tmp/build-subdir" > /dev/null

# 300 steps of a noisy vibration signal, and Python's whole-sequence prediction of it.
python - "$model" "$tmp/input.txt" "$tmp/expected.txt" <<'PY'
import sys
import numpy as np
import gru_infer
model = gru_infer.load(sys.argv[1])
t = np.arange(300)
x = (np.sin(2 * np.pi * t / 25) + 0.1 * np.random.default_rng(0).standard_normal(300)).astype(np.float32)
np.savetxt(sys.argv[2], x.reshape(-1, model.input_size), fmt="%.9g")
np.savetxt(sys.argv[3], model.predict(x.reshape(-1, model.input_size)), fmt="%.9g")
PY

cat > "$tmp/compare.py" <<'PY'
import sys
import numpy as np
want = np.loadtxt(sys.argv[1], ndmin=2)
got = np.loadtxt(sys.argv[2], ndmin=2)
if got.shape != want.shape:
    sys.exit(f"run_consumer: {sys.argv[3]}: output shape {got.shape}, Python's {want.shape}")
diff = float(np.abs(got - want).max())
print(f"run_consumer: {sys.argv[3]}: {got.shape[0]} steps, max abs diff vs Python predict {diff:.3g}")
sys.exit(0 if diff <= 1e-5 else 1)
PY

passed=0 failed=0
for dir in build-find build-subdir; do
  for program in stream_stdin predict predict_shared; do
    out=$tmp/$dir-$program.txt
    if "$tmp/$dir/$program" "$model" < "$tmp/input.txt" > "$out" &&
       python "$tmp/compare.py" "$tmp/expected.txt" "$out" "$dir/$program"; then
      passed=$((passed + 1))
    else
      echo "run_consumer: $dir/$program FAILED" >&2
      failed=$((failed + 1))
    fi
  done
done
echo "run_consumer: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
