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
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(GRU_INFER_ARMV7_FLAGS "-march=armv7-a+fp -mfpu=vfpv3-d16" CACHE STRING "CPU flags of the armv7 build")
set(CMAKE_C_FLAGS_INIT "${GRU_INFER_ARMV7_FLAGS} -mfloat-abi=hard -mfp16-format=ieee")
set(CMAKE_CXX_FLAGS_INIT "${GRU_INFER_ARMV7_FLAGS} -mfloat-abi=hard -mfp16-format=ieee")
# qemu's default CPU has NEON and VFPv4; GRU_INFER_QEMU_CPU=cortex-a8 (NEON without VFPv4) checks the fallback.
set(GRU_INFER_CROSS_TRIPLE arm-linux-gnueabihf)
set(GRU_INFER_CROSS_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
