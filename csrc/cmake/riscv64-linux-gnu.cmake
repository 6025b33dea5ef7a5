# Cross-compiling for 64-bit RISC-V Linux with Debian's cross toolchain:
#   apt-get install g++-riscv64-linux-gnu qemu-user
#   cmake -S csrc -B build/riscv64 -DCMAKE_TOOLCHAIN_FILE=csrc/cmake/riscv64-linux-gnu.cmake
# If qemu-riscv64 is installed, ctest runs the tests under it. Scalar kernels only (no RVV ones).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR riscv64)
set(CMAKE_C_COMPILER riscv64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER riscv64-linux-gnu-g++)

set(GRU_INFER_AARCH64_SYSROOT /usr/riscv64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH ${GRU_INFER_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)  # programs (qemu) run on the host
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

if(NOT CMAKE_CROSSCOMPILING_EMULATOR)
  find_program(GRU_INFER_QEMU_AARCH64 qemu-riscv64)
  if(GRU_INFER_QEMU_AARCH64)
    # -L: where qemu finds the target's dynamic loader and libraries.
    set(CMAKE_CROSSCOMPILING_EMULATOR ${GRU_INFER_QEMU_AARCH64} -L ${GRU_INFER_AARCH64_SYSROOT})
  endif()
endif()
