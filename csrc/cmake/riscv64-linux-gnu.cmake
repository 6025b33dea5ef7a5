# Cross-compiling for 64-bit RISC-V Linux with Debian's cross toolchain:
#   apt-get install g++-riscv64-linux-gnu qemu-user
#   cmake -S csrc -B build/riscv64 -DCMAKE_TOOLCHAIN_FILE=csrc/cmake/riscv64-linux-gnu.cmake
# If qemu-riscv64 is installed, ctest runs the tests under it. Scalar kernels only (no RVV ones).
set(CMAKE_SYSTEM_PROCESSOR riscv64)
set(GRU_INFER_CROSS_TRIPLE riscv64-linux-gnu)
set(GRU_INFER_CROSS_QEMU qemu-riscv64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
