// Compiles the rest of a file for AVX2 + FMA, whatever the global flags are (setup.py builds every
// source with one set of flags). Such code only runs after the CPU check in dispatch.cpp.
// Include first, inside the file's x86-64 guard and before <immintrin.h> and avx2_math.h; close
// with avx2_target_end.h at the end of the file. No include guard: each file includes it once.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma")
#endif
