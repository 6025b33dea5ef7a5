// The CPU checks (declared in quant_kernels.h) that pick the fp32 tables (dispatch.cpp) and the
// reduced-precision ones (quant_dispatch.cpp): built into every configuration of the library.
#include "kernels/quant_kernels.h"
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif
#if (defined(__x86_64__) || defined(_M_X64)) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
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
    bool amx_int8 = false, amx_bf16 = false;  // the CPU's bits and XCR0's tile state; the OS's permission: amx_permitted
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
        // AMX: CPUID.(7,0):EDX bit 24 AMX-TILE, 25 AMX-INT8, 22 AMX-BF16, with the OS saving both
        // tile state parts (XCR0 bits 17 XTILECFG and 18 XTILEDATA). The kernels' epilogues are
        // AVX-512 (int8: VNNI for the rows left to it; bf16: AVX512_BF16), so they are required too.
        const bool tile = d & (1u << 24), tile_os = (xlo & 0x60000u) == 0x60000u;
        amx_int8 = tile && tile_os && vnni && (d & (1u << 25));
        const bool amx_bf16_bit = d & (1u << 22);
        if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) bf16 = avx512 && (a & (1u << 5));
        amx_bf16 = amx_int8 && bf16 && amx_bf16_bit;
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

namespace {

// Linux hands out the AMX tile data state (8 KB of the signal frame) only to a process that asks
// for it: arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA), once per process (the permission
// covers every thread, those started later too). Without it the first tile instruction faults.
// Asked only where the CPU and XCR0 have AMX; elsewhere (and on other OSes) false.
bool amx_permitted() {
    static const bool ok = [] {
        if (!x86().amx_int8) return false;
#if (defined(__x86_64__) || defined(_M_X64)) && defined(__linux__) && defined(SYS_arch_prctl)
        constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
        return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
        return false;
#endif
    }();  // (a function-local static: initialised once, thread-safe)
    return ok;
}

}  // namespace

bool cpu_has_amx_int8() { return x86().amx_int8 && amx_permitted(); }
bool cpu_has_amx_bf16() { return x86().amx_bf16 && amx_permitted(); }

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
