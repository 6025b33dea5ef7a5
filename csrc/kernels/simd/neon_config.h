// Whether this build has the NEON kernels (GRU_INFER_NEON) and the fp16 one (GRU_INFER_NEON_FP16).
// Included by the NEON kernel files (their guard) and by the dispatchers, so both agree.
//   aarch64: Advanced SIMD is part of the base ISA; always there.
//   armv7 (32-bit ARM, hard or softfp float): the NEON files compile themselves for NEON + VFPv4
//     (neon_target_begin.h; GCC), whatever the global flags; dispatch.cpp picks them at run time
//     only if the kernel reports NEON and VFPv4 (AT_HWCAP). VFPv4 because the kernels use fused
//     multiply-adds (vfma, as on aarch64 and as std::fma in the scalar reference), which
//     Cortex-A8/A9 (NEON with VFPv3) lack: those CPUs run the scalar kernels. The aarch64-only
//     intrinsics have armv7 equivalents in neon_compat.h. The fp16 kernel needs the IEEE half
//     format (-mfp16-format=ieee, as csrc/cmake/armv7-linux-gnueabihf.cmake sets): without it,
//     fp16 weights run on the scalar reference. The int8 sdot kernels (neondot) are aarch64 only.
#pragma once
#if defined(__aarch64__)
#define GRU_INFER_NEON 1
#define GRU_INFER_NEON_FP16 1
#elif defined(__arm__) && defined(__ARM_FP) && \
    ((defined(__GNUC__) && !defined(__clang__)) || (defined(__ARM_NEON) && defined(__ARM_FEATURE_FMA)))
#define GRU_INFER_NEON 1
#define GRU_INFER_NEON_ARMV7 1
#if defined(__ARM_FP16_FORMAT_IEEE)
#define GRU_INFER_NEON_FP16 1
#else
#define GRU_INFER_NEON_FP16 0
#endif
#else
#define GRU_INFER_NEON 0
#define GRU_INFER_NEON_FP16 0
#endif
