// The CPU checks (declared in quant_kernels.h) that pick the fp32 tables (dispatch.cpp) and the
// reduced-precision ones (quant_dispatch.cpp): built into every configuration of the library.
#include "kernels/quant_kernels.h"
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif
#include "kernels/simd/neon_config.h"
#if (defined(__aarch64__) || defined(GRU_INFER_NEON_ARMV7)) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace gru_infer {

namespace {

// What this CPU and OS run, read once (all false on other CPUs and compilers).
struct X86Features {
    bool avx2 = false, avx512 = false, vnni = false, bf16 = false;
    X86Features() {
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
        unsigned a, b, c, d;
        if (!__get_cpuid(1, &a, &b, &c, &d)) return;
        const bool osxsave = c & (1u << 27), f16c = c & (1u << 29), fma = c & (1u << 12);
        if (!osxsave || !f16c || !fma) return;
        unsigned xlo, xhi;
        __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
        if ((xlo & 0x6u) != 0x6u) return;  // XMM and YMM state saved by the OS
        if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return;
        const bool zmm = (xlo & 0xE6u) == 0xE6u;  // and opmask and both ZMM state parts
        avx2 = b & (1u << 5);
        const bool f = b & (1u << 16), dq = b & (1u << 17), bw = b & (1u << 30),
                   vl = b & (1u << 31);
        avx512 = zmm && avx2 && f && dq && bw && vl;
        vnni = avx512 && (c & (1u << 11));
        if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) bf16 = avx512 && (a & (1u << 5));
#endif
    }
};
const X86Features& x86() {
    static const X86Features f;
    return f;
}

}  // namespace

bool cpu_has_avx2_f16c() { return x86().avx2; }
bool cpu_has_avx512() { return x86().avx512; }
bool cpu_has_avx512_vnni() { return x86().vnni; }
bool cpu_has_avx512_bf16() { return x86().bf16; }

bool cpu_has_neon_dotprod() {
#if defined(__aarch64__) && defined(__linux__) && defined(HWCAP_ASIMDDP)
    return getauxval(AT_HWCAP) & HWCAP_ASIMDDP;
#else
    return false;
#endif
}

bool cpu_has_neon() {
#if defined(__aarch64__)
    return true;  // Advanced SIMD is part of the aarch64 base
#elif defined(GRU_INFER_NEON_ARMV7) && defined(__linux__) && defined(HWCAP_NEON) && defined(HWCAP_VFPv4)
    // NEON is optional on armv7 (Cortex-A7 and A9 come without it too), and the kernels need
    // VFPv4's fused multiply-add, which Cortex-A8/A9 lack (neon_config.h).
    const unsigned long hw = getauxval(AT_HWCAP);
    return (hw & HWCAP_NEON) && (hw & HWCAP_VFPv4);
#else
    return false;
#endif
}

}  // namespace gru_infer
