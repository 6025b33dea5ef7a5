#!/usr/bin/env bash
# The suite under sanitizers, each in its own build folder (the normal build and install are left
# alone). GCC's ASan/UBSan/TSan runtimes (libasan, libubsan, libtsan: part of Debian's gcc) are
# used, with -fno-sanitize-recover so that any report fails the step.
#   1. the C++ core and its ctest suite with AddressSanitizer + UndefinedBehaviorSanitizer
#      (build/asan), the fuzz replay of tests/data/fuzz/ among them; test_realtime is left out
#      there, since it replaces malloc, which ASan needs for itself;
#   2. test_realtime with UBSan only (build/ubsan);
#   3. a pytest subset against an ASan+UBSan build of the extension: built with setup.py into
#      build/asan-ext (the build requirements of pyproject.toml pip installed first) and put first on
#      PYTHONPATH, run with libasan LD_PRELOADed (detect_leaks=0: the interpreter itself is not
#      instrumented and keeps memory until exit);
#   4. the C API shared by several threads under ThreadSanitizer (build/tsan, test_c_api_threads).
# Run after `pip install -e ".[test]"`; test_c_api and test_python_models use the model files
# pytest writes (written here first when missing). Arguments pick steps (asan ubsan pytest tsan;
# default: all). Takes about 15 minutes (872 s measured) on the shared 2-core machine, most of it compiling the core
# three times and the extension once: not part of tests/run_all.sh (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
models=${GRU_INFER_CPP_MODELS_DIR:-$PWD/build/cpp_models}
if ! ls "$models"/*.gru > /dev/null 2>&1; then
  GRU_INFER_CPP_MODELS_DIR=$models python -m pytest -q tests/test_cpp_interop.py > /dev/null
fi
steps=${*:-asan ubsan pytest tsan}
want() { [[ " $steps " == *" $1 "* ]]; }
flags="-O1 -g -fno-sanitize-recover=all -fno-omit-frame-pointer"
step() { echo "run_sanitizers: $* ($((SECONDS - start)) s so far)"; }
configure() {  # folder, sanitizers
  cmake -S csrc -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=None -DGRU_INFER_PYTHON_MODELS_DIR="$models" \
    -DCMAKE_C_FLAGS="-fsanitize=$2 $flags" -DCMAKE_CXX_FLAGS="-fsanitize=$2 $flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=$2" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=$2" \
    -DGRU_INFER_INSTALL=OFF > /dev/null
}
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

if want asan; then
  step "1. ctest with ASan+UBSan"
  configure build/asan address,undefined
  cmake --build build/asan > /dev/null
  # allocator_may_return_null: the out-of-memory tests expect a failed allocation, not an ASan abort.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 ctest --test-dir build/asan --output-on-failure -E test_realtime
fi

if want ubsan; then
  step "2. test_realtime with UBSan"
  configure build/ubsan undefined
  cmake --build build/ubsan --target test_realtime > /dev/null
  ctest --test-dir build/ubsan --output-on-failure -R test_realtime
fi

if want pytest; then
step "3. pytest subset against an ASan+UBSan build of the extension"
ext=build/asan-ext
rm -rf "$ext/pkg/gru_infer"
mkdir -p "$ext/pkg"
cp -r gru_infer "$ext/pkg/"
find "$ext/pkg/gru_infer" -name '*.so' -delete
# setup.py runs here, in this environment, not in the isolated one pip builds in: first install the
# build requirements, read from pyproject.toml's [build-system] requires (pybind11, Cython, ...;
# tomllib, or on Python < 3.11 pip's own vendored copy of it).
build_requires=$(python - <<'PY'
try:
    import tomllib
except ImportError:
    from pip._vendor import tomli as tomllib
with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["build-system"]["requires"]))
PY
)
mapfile -t build_requires <<< "$build_requires"
python -m pip install -q "${build_requires[@]}"
CFLAGS="-fsanitize=address,undefined $flags" CXXFLAGS="-fsanitize=address,undefined $flags" LDFLAGS="-fsanitize=address,undefined" \
  python setup.py -q build_ext --build-temp "$ext/temp" --build-lib "$ext/pkg" > "$ext/build.log" 2>&1 \
  || { tail -30 "$ext/build.log"; exit 1; }
# Python runs in $ext, not in this checkout: it puts its working directory first on sys.path, before
# PYTHONPATH, and the checkout's gru_infer/ holds the normal build's modules (python -P would avoid
# that, but only from Python 3.11; subprocesses the tests start inherit the working directory too).
# libstdc++ preloaded too: the interpreter does not link it, and ASan must find its __cxa_throw.
root=$PWD
asan_env=(env PYTHONPATH="$root/$ext/pkg" LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)"
          ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 GRU_INFER_CPP_MODELS_DIR="$root/$ext/cpp_models")
where=$(cd "$ext" && "${asan_env[@]}" python -c "import gru_infer; print(gru_infer._core.__file__)")
case $where in "$root/$ext/pkg/"*) ;; *) echo "run_sanitizers: imported $where, not the ASan build" >&2; exit 1;; esac
# the caller-array copies (races, slots), atomic writes, GRU initial states, InputSkip/Affine and the
# reduced-precision kernels among them
tests=(test_hostile_api.py test_bad_input.py test_stream.py test_native_roundtrip.py test_concurrency.py test_cpp_interop.py
       test_caller_array_races.py test_stream_slots.py test_atomic_writes.py test_onnx_initial_state.py
       test_skip_affine_layers.py test_quantize.py)
(cd "$ext" && "${asan_env[@]}" python -m pytest -q -p no:cacheprovider --rootdir="$root" ${GRU_INFER_SANITIZER_PYTEST_ARGS:-} \
  "${tests[@]/#/$root/tests/}")
fi

if want tsan; then
  step "4. the C API from several threads under TSan"
  configure build/tsan thread
  cmake --build build/tsan --target test_c_api_threads > /dev/null
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest --test-dir build/tsan --output-on-failure -R test_c_api_threads
fi

echo "run_sanitizers: all clean in $((SECONDS - start)) s"
