// The reduced-precision kernel tables (quant_kernels.h) and the CPU checks that pick them.
#include <string>

#include "kernels.h"
#include "quant_kernels.h"
#include "simd/neon_config.h"
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif
#if (defined(__aarch64__) || defined(GRU_INFER_NEON_ARMV7)) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace gru_infer {

#define GRU_INFER_DECLARE_QKERNELS(dt, isa)                                                                  \
    void gemm_packed_##dt##_##isa(std::size_t, const float*, std::size_t, const QMatrix&, float, const float*, \
                                  float*, std::size_t, void*);                                               \
    void gru_step_reset_after_##dt##_##isa(const QGruStepArgs&);                                                     \
    void gru_step_reset_before_##dt##_##isa(const QGruStepArgs&);
#define GRU_INFER_QTABLE(dt, isa) \
    QKernels { #dt "_" #isa, gemm_packed_##dt##_##isa, gru_step_reset_after_##dt##_##isa, gru_step_reset_before_##dt##_##isa }

GRU_INFER_DECLARE_QKERNELS(int8, scalar)
GRU_INFER_DECLARE_QKERNELS(bf16, scalar)
GRU_INFER_DECLARE_QKERNELS(fp16, scalar)
#if defined(__x86_64__) || defined(_M_X64)
GRU_INFER_DECLARE_QKERNELS(int8, avx512)
GRU_INFER_DECLARE_QKERNELS(bf16, avx512)
GRU_INFER_DECLARE_QKERNELS(fp16, avx512)
GRU_INFER_DECLARE_QKERNELS(int8, avx2)
GRU_INFER_DECLARE_QKERNELS(bf16, avx2)
GRU_INFER_DECLARE_QKERNELS(fp16, avx2)
#endif

#if GRU_INFER_NEON  // (kernels/simd/neon_config.h)
GRU_INFER_DECLARE_QKERNELS(int8, neon)
GRU_INFER_DECLARE_QKERNELS(bf16, neon)
#endif
#if GRU_INFER_NEON_FP16
GRU_INFER_DECLARE_QKERNELS(fp16, neon)
#endif
#if defined(__aarch64__)
GRU_INFER_DECLARE_QKERNELS(int8, neondot)
#endif

namespace {

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
struct X86Features {
    bool avx2 = false, avx512 = false, vnni = false, bf16 = false;
    X86Features() {
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
    }
};
const X86Features& x86() {
    static const X86Features f;
    return f;
}
#endif

}  // namespace

bool cpu_has_avx2_f16c() {
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
    return x86().avx2;
#else
    return false;
#endif
}
bool cpu_has_avx512() {
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
    return x86().avx512;
#else
    return false;
#endif
}
bool cpu_has_avx512_vnni() {
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
    return x86().vnni;
#else
    return false;
#endif
}
bool cpu_has_avx512_bf16() {
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
    return x86().bf16;
#else
    return false;
#endif
}

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

const QKernels* q_kernels(WeightFormat f, const std::string& isa) {
    static const QKernels int8_scalar = GRU_INFER_QTABLE(int8, scalar), bf16_scalar = GRU_INFER_QTABLE(bf16, scalar),
                          fp16_scalar = GRU_INFER_QTABLE(fp16, scalar);
    if (isa == "scalar")
        return f == WeightFormat::Int8 ? &int8_scalar : f == WeightFormat::BF16 ? &bf16_scalar
                                                      : f == WeightFormat::F16 ? &fp16_scalar : nullptr;
#if GRU_INFER_NEON
    static const QKernels int8_neon = GRU_INFER_QTABLE(int8, neon), bf16_neon = GRU_INFER_QTABLE(bf16, neon);
#if GRU_INFER_NEON_FP16
    static const QKernels fp16_neon = GRU_INFER_QTABLE(fp16, neon);
    const QKernels* fp16 = &fp16_neon;
#else
    const QKernels* fp16 = nullptr;  // armv7 without the IEEE half format: the scalar reference
#endif
    // "neon": sdot where the CPU has it; "neon-widening": the int8 fallback without it (tests).
    if ((isa == "neon" || isa == "neon-widening") && cpu_has_neon()) {
#if defined(__aarch64__)
        static const QKernels int8_neondot = GRU_INFER_QTABLE(int8, neondot);
        if (f == WeightFormat::Int8 && isa == "neon" && cpu_has_neon_dotprod()) return &int8_neondot;
#endif
        return f == WeightFormat::Int8 ? &int8_neon : f == WeightFormat::BF16 ? &bf16_neon
                                                    : f == WeightFormat::F16 ? fp16 : nullptr;
    }
#endif
#if defined(__x86_64__) || defined(_M_X64)
    static const QKernels int8_avx512 = GRU_INFER_QTABLE(int8, avx512), bf16_avx512 = GRU_INFER_QTABLE(bf16, avx512),
                          fp16_avx512 = GRU_INFER_QTABLE(fp16, avx512);
    static const QKernels int8_avx2 = GRU_INFER_QTABLE(int8, avx2), bf16_avx2 = GRU_INFER_QTABLE(bf16, avx2),
                          fp16_avx2 = GRU_INFER_QTABLE(fp16, avx2);
    if (isa == "avx2" && cpu_has_avx2_f16c())
        return f == WeightFormat::Int8 ? &int8_avx2 : f == WeightFormat::BF16 ? &bf16_avx2
                                                    : f == WeightFormat::F16 ? &fp16_avx2 : nullptr;
    if (isa == "avx512") {
        if (f == WeightFormat::Int8 && cpu_has_avx512_vnni()) return &int8_avx512;
        if (f == WeightFormat::BF16 && cpu_has_avx512_bf16()) return &bf16_avx512;
        if (f == WeightFormat::F16 && cpu_has_avx512()) return &fp16_avx512;
    }
#endif
    return nullptr;
}

const QKernels& q_active(WeightFormat f) {
    // The fp32 table in use names the ISA (GRU_INFER_ISA / set_isa choose it). The avx512 table
    // falls back to AVX2 for a format whose extension this CPU lacks (e.g. bf16 without AVX512_BF16).
    const std::string isa = active_kernels().name;
    if (isa == "avx512")
        if (const QKernels* k = q_kernels(f, "avx512")) return *k;
    if (isa == "avx512" || isa == "avx2")
        if (const QKernels* k = q_kernels(f, "avx2")) return *k;
    if (isa == "neon")
        if (const QKernels* k = q_kernels(f, "neon")) return *k;
    return *q_kernels(f, "scalar");
}

}  // namespace gru_infer
