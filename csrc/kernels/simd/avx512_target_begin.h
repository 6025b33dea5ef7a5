// Compiles the rest of a file for AVX-512 (F, VL, BW, DQ) with AVX2 + FMA, whatever the global
// flags are. Such code only runs after the CPU check in dispatch.cpp (CPUID and the OS's XCR0).
// Include first, inside the file's x86-64 guard and before <immintrin.h>; close with
// avx512_target_end.h at the end of the file. No include guard: each file includes it once.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
// GCC 12's own AVX-512 intrinsics (_mm512_min_ps, _mm512_scalef_ps, ...) pass _mm512_undefined_ps()
// through and then warn that it is uninitialised: a known false positive, silenced for this file.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// Vector types as template arguments (avx512_math.h's Lanes<__m512>) drop their alignment attribute.
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif
