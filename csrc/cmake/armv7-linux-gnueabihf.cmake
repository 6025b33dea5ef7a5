# Cross-compiling for 32-bit ARM Linux (armv7, hard-float ABI) with Debian's armhf toolchain:
#   apt-get install g++-arm-linux-gnueabihf qemu-user
#   cmake -S csrc -B build/armv7 -DCMAKE_TOOLCHAIN_FILE=csrc/cmake/armv7-linux-gnueabihf.cmake
# If qemu-arm is installed, ctest runs the tests under it.
#
# The library is compiled for Debian's armhf baseline (ARMv7-A, VFPv3-D16, no NEON), so it runs on
# every armhf CPU; the NEON kernels compile themselves for NEON + VFPv4 (kernels/simd/neon_config.h)
# and dispatch.cpp picks them at run time only where the kernel reports both (AT_HWCAP). For a
# build tuned to one CPU, set GRU_INFER_ARMV7_FLAGS, e.g. "-mcpu=cortex-a7 -mfpu=neon-vfpv4".
# -mfp16-format=ieee gives the fp16 NEON kernel its conversions (vcvt.f32.f16); without it that
# kernel is left out and fp16 weights run on the scalar reference.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)

set(GRU_INFER_ARMV7_FLAGS "-march=armv7-a+fp -mfpu=vfpv3-d16" CACHE STRING "CPU flags of the armv7 build")
set(CMAKE_C_FLAGS_INIT "${GRU_INFER_ARMV7_FLAGS} -mfloat-abi=hard -mfp16-format=ieee")
set(CMAKE_CXX_FLAGS_INIT "${GRU_INFER_ARMV7_FLAGS} -mfloat-abi=hard -mfp16-format=ieee")

set(GRU_INFER_ARMV7_SYSROOT /usr/arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH ${GRU_INFER_ARMV7_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)  # programs (qemu) run on the host
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

if(NOT CMAKE_CROSSCOMPILING_EMULATOR)
  find_program(GRU_INFER_QEMU_ARM qemu-arm)
  if(GRU_INFER_QEMU_ARM)
    # -L: where qemu finds the target's dynamic loader and libraries. qemu's default CPU has NEON
    # and VFPv4; GRU_INFER_QEMU_CPU (e.g. cortex-a8: NEON without VFPv4) checks the fallback.
    if(DEFINED ENV{GRU_INFER_QEMU_CPU})
      set(CMAKE_CROSSCOMPILING_EMULATOR ${GRU_INFER_QEMU_ARM} -cpu $ENV{GRU_INFER_QEMU_CPU} -L ${GRU_INFER_ARMV7_SYSROOT})
    else()
      set(CMAKE_CROSSCOMPILING_EMULATOR ${GRU_INFER_QEMU_ARM} -L ${GRU_INFER_ARMV7_SYSROOT})
    endif()
  endif()
endif()
