// Compiles the rest of a NEON kernel file for NEON + VFPv4 on armv7, whatever the global flags are
// (Debian's armhf baseline has no NEON); such code only runs after the CPU check in dispatch.cpp.
// Nothing to do on aarch64. Include first, inside the file's GRU_INFER_NEON guard (after
// neon_config.h), before <arm_neon.h>. GCC keeps the target to the end of the file (templates are
// instantiated there), as avx2_target_begin.h does. No include guard: each file includes it once.
#if defined(GRU_INFER_NEON_ARMV7) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("fpu=neon-vfpv4")
#endif
