# What every Debian cross toolchain file here shares, included after it sets
# GRU_INFER_CROSS_TRIPLE (e.g. aarch64-linux-gnu) and GRU_INFER_CROSS_QEMU (e.g. qemu-aarch64):
# the compilers <triple>-gcc / -g++, the target's libraries in /usr/<triple>, and qemu-user as
# ctest's emulator when it is installed (env GRU_INFER_QEMU_CPU picks qemu's CPU model).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${GRU_INFER_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${GRU_INFER_CROSS_TRIPLE}-g++)

set(GRU_INFER_CROSS_SYSROOT /usr/${GRU_INFER_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH ${GRU_INFER_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)  # programs (qemu) run on the host
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

if(NOT CMAKE_CROSSCOMPILING_EMULATOR)
  find_program(GRU_INFER_QEMU ${GRU_INFER_CROSS_QEMU})
  if(GRU_INFER_QEMU)
    set(GRU_INFER_QEMU_CPU_ARGS "")
    if(DEFINED ENV{GRU_INFER_QEMU_CPU})
      set(GRU_INFER_QEMU_CPU_ARGS -cpu $ENV{GRU_INFER_QEMU_CPU})
    endif()
    # -L: where qemu finds the target's dynamic loader and libraries.
    set(CMAKE_CROSSCOMPILING_EMULATOR ${GRU_INFER_QEMU} ${GRU_INFER_QEMU_CPU_ARGS} -L ${GRU_INFER_CROSS_SYSROOT})
  endif()
endif()
