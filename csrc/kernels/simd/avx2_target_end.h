// Ends the AVX2 + FMA region opened by avx2_target_begin.h. GCC keeps the target to the end of the
// file on purpose: it instantiates templates (map8<lambda>, ...) at the end of the translation
// unit, and a pop_options before that would compile them without AVX2.
#if defined(__clang__)
#pragma clang attribute pop
#endif
