#!/usr/bin/env bash
# Builds and runs stream_api_overhead.cpp against the CMake build of the core (build/csrc, as
# tests/run_all.sh makes it), then counts instructions per step of each path with callgrind.
#     bash benchmarks/stream_api_overhead.sh [MODEL.gru ...]   (default: the demo model)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/csrc/libgru_infer.a ] || { cmake -S csrc -B build/csrc -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build/csrc; }
bin=build/stream_api_overhead
g++ -O2 -std=c++17 -Icsrc/include -Igru_infer/include -Isrc benchmarks/stream_api_overhead.cpp src/stream_api.cpp \
    build/csrc/libgru_infer.a -lpthread -o "$bin"
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(gru_infer/models/vibration_forecaster.gru)
for m in "${models[@]}"; do
    "$bin" "$m"
    if command -v valgrind >/dev/null; then
        for path in cxx capi table; do
            for n in 1000 2000; do
                valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$m" "$path" "$n" 2>&1 \
                    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p' > "build/ir_${path}_$n"
            done
            echo "  $path: $(( ($(cat build/ir_${path}_2000) - $(cat build/ir_${path}_1000)) / 1000 )) instructions per step (callgrind)"
        done
    fi
done
