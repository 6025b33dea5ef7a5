#!/usr/bin/env bash
# Build and run the C++ benchmark (csrc/bench/bench_gru.cpp) from the repository root:
#     bash csrc/bench/run_bench.sh [bench_gru options, e.g. --only eigen]
# Installs Debian's libeigen3-dev first when it is missing and apt-get is usable (the Eigen
# reference step is built only for the benchmark; the library never needs Eigen).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -f /usr/include/eigen3/Eigen/Dense ] && command -v apt-get > /dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq libeigen3-dev > /dev/null || \
    echo "could not install libeigen3-dev: the benchmark runs without its Eigen rows" >&2
fi
cmake -S csrc -B build/csrc -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build/csrc --target bench_gru
build/csrc/bench_gru "$@"
