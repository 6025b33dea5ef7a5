// Compiles the rest of an AMX kernel file for AVX-512 (F, VL, BW, DQ, VNNI, BF16) with AVX2, FMA,
// F16C and the AMX tile, int8 and bf16 instructions, whatever the global flags are, and defines
// GRU_INFER_AMX_NATIVE (amx_tiles.h's NativeTiles). Such code only runs after the checks of
// cpu_features.cpp (cpu_has_amx_int8 / cpu_has_amx_bf16: CPUID, XCR0, the OS's permission).
// Include first, inside the file's x86-64 guard; close with amx_target_end.h. No include guard.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx512bf16,avx2,fma,f16c,amx-tile,amx-int8,amx-bf16"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx512bf16,avx2,fma,f16c,amx-tile,amx-int8,amx-bf16")
#endif
#define GRU_INFER_AMX_NATIVE 1
