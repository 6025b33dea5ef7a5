// Ends the region opened by amx_target_begin.h (GCC: the target stays to the end of the file).
#if defined(__clang__)
#pragma clang attribute pop
#endif
