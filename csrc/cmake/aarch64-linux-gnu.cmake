# Cross-compiling for 64-bit ARM Linux with Debian's cross toolchain:
#   apt-get install g++-aarch64-linux-gnu qemu-user
#   cmake -S csrc -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=csrc/cmake/aarch64-linux-gnu.cmake
# If qemu-aarch64 is installed, ctest runs the tests under it.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

set(GRU_INFER_AARCH64_SYSROOT /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH ${GRU_INFER_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)  # programs (qemu) run on the host
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

if(NOT CMAKE_CROSSCOMPILING_EMULATOR)
  find_program(GRU_INFER_QEMU_AARCH64 qemu-aarch64)
  if(GRU_INFER_QEMU_AARCH64)
    # -L: where qemu finds the target's dynamic loader and libraries.
    set(CMAKE_CROSSCOMPILING_EMULATOR ${GRU_INFER_QEMU_AARCH64} -L ${GRU_INFER_AARCH64_SYSROOT})
  endif()
endif()
