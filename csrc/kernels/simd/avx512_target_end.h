// Ends the AVX-512 region opened by avx512_target_begin.h (GCC: the target stays to the end of the
// file on purpose, see avx2_target_end.h).
#if defined(__clang__)
#pragma clang attribute pop
#endif
