# Cross-compiling for 64-bit ARM Linux with Debian's cross toolchain:
#   apt-get install g++-aarch64-linux-gnu qemu-user
#   cmake -S csrc -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=csrc/cmake/aarch64-linux-gnu.cmake
# If qemu-aarch64 is installed, ctest runs the tests under it.
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(GRU_INFER_CROSS_TRIPLE aarch64-linux-gnu)
set(GRU_INFER_CROSS_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
