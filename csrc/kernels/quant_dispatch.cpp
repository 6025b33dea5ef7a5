// The reduced-precision kernel tables (quant_kernels.h), picked with the CPU checks of
// cpu_features.cpp.
#include <atomic>
#include <string>

#include "kernels.h"
#include "quant_kernels.h"
#include "simd/neon_config.h"

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
// An ISA left out of the build (GRU_INFER_ISAS in CMake: GRU_INFER_NO_<ISA> is then defined) has
// no kernel files, so no table here either.
#if (defined(__x86_64__) || defined(_M_X64)) && !defined(GRU_INFER_NO_AVX512)
GRU_INFER_DECLARE_QKERNELS(int8, avx512)
GRU_INFER_DECLARE_QKERNELS(bf16, avx512)
GRU_INFER_DECLARE_QKERNELS(fp16, avx512)
#endif
#if (defined(__x86_64__) || defined(_M_X64)) && !defined(GRU_INFER_NO_AMX) && !defined(GRU_INFER_NO_AVX512)
#define GRU_INFER_Q_AMX 1
GRU_INFER_DECLARE_QKERNELS(int8, amx)
GRU_INFER_DECLARE_QKERNELS(bf16, amx)
#endif
#if (defined(__x86_64__) || defined(_M_X64)) && !defined(GRU_INFER_NO_AVX2)
GRU_INFER_DECLARE_QKERNELS(int8, avx2)
GRU_INFER_DECLARE_QKERNELS(bf16, avx2)
GRU_INFER_DECLARE_QKERNELS(fp16, avx2)
#endif

// NEON on aarch64 and armv7 (simd/neon_config.h); fp16 only where the half format is IEEE, sdot
// only on aarch64.
#if GRU_INFER_NEON && !defined(GRU_INFER_NO_NEON)
#define GRU_INFER_Q_NEON 1
GRU_INFER_DECLARE_QKERNELS(int8, neon)
GRU_INFER_DECLARE_QKERNELS(bf16, neon)
#if GRU_INFER_NEON_FP16
GRU_INFER_DECLARE_QKERNELS(fp16, neon)
#endif
#if defined(__aarch64__)
GRU_INFER_DECLARE_QKERNELS(int8, neondot)
#endif
#endif

const QKernels* q_kernels(WeightFormat f, const std::string& isa) {
    static const QKernels int8_scalar = GRU_INFER_QTABLE(int8, scalar), bf16_scalar = GRU_INFER_QTABLE(bf16, scalar),
                          fp16_scalar = GRU_INFER_QTABLE(fp16, scalar);
    if (isa == "scalar")
        return f == WeightFormat::Int8 ? &int8_scalar : f == WeightFormat::BF16 ? &bf16_scalar
                                                      : f == WeightFormat::F16 ? &fp16_scalar : nullptr;
#if GRU_INFER_Q_NEON
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
#if (defined(__x86_64__) || defined(_M_X64)) && !defined(GRU_INFER_NO_AVX2)
    static const QKernels int8_avx2 = GRU_INFER_QTABLE(int8, avx2), bf16_avx2 = GRU_INFER_QTABLE(bf16, avx2),
                          fp16_avx2 = GRU_INFER_QTABLE(fp16, avx2);
    if (isa == "avx2" && cpu_has_avx2_f16c())
        return f == WeightFormat::Int8 ? &int8_avx2 : f == WeightFormat::BF16 ? &bf16_avx2
                                                    : f == WeightFormat::F16 ? &fp16_avx2 : nullptr;
#endif
#if (defined(__x86_64__) || defined(_M_X64)) && !defined(GRU_INFER_NO_AVX512)
    static const QKernels int8_avx512 = GRU_INFER_QTABLE(int8, avx512), bf16_avx512 = GRU_INFER_QTABLE(bf16, avx512),
                          fp16_avx512 = GRU_INFER_QTABLE(fp16, avx512);
    if (isa == "avx512") {
        if (f == WeightFormat::Int8 && cpu_has_avx512_vnni()) return &int8_avx512;
        if (f == WeightFormat::BF16 && cpu_has_avx512_bf16()) return &bf16_avx512;
        if (f == WeightFormat::F16 && cpu_has_avx512()) return &fp16_avx512;
    }
#endif
#if GRU_INFER_Q_AMX
    // AMX tiles for products of 16+ rows, AVX-512 for the rest (gru_step/*_amx.cpp); fp16 has no
    // AMX form: AVX-512's table.
    static const QKernels int8_amx = GRU_INFER_QTABLE(int8, amx), bf16_amx = GRU_INFER_QTABLE(bf16, amx);
    if (isa == "amx") {
        if (f == WeightFormat::Int8 && cpu_has_amx_int8()) return &int8_amx;
        if (f == WeightFormat::BF16 && cpu_has_amx_bf16()) return &bf16_amx;
        if (f == WeightFormat::F16 && cpu_has_amx_int8()) return q_kernels(f, "avx512");
    }
#endif
    return nullptr;
}

namespace {

const QKernels& q_resolve(WeightFormat f) {
    // The fp32 table in use names the ISA (GRU_INFER_ISA / set_isa choose it). The avx512 table
    // falls back to AVX2 for a format whose extension this CPU lacks (e.g. bf16 without AVX512_BF16).
    // "amx" (AVX-512's fp32 kernels) takes its AMX tables, else AVX-512's as "avx512" does.
    const std::string isa = active_kernels().name;
    if (isa == "amx")
        if (const QKernels* k = q_kernels(f, "amx")) return *k;
    if (isa == "avx512" || isa == "amx")
        if (const QKernels* k = q_kernels(f, "avx512")) return *k;
    if (isa == "avx512" || isa == "amx" || isa == "avx2")
        if (const QKernels* k = q_kernels(f, "avx2")) return *k;
    if (isa == "neon")
        if (const QKernels* k = q_kernels(f, "neon")) return *k;
    return *q_kernels(f, "scalar");
}

}  // namespace

const QKernels& q_active(WeightFormat f) {
    // Resolved once per fp32 table and format, not per call (the string work cost a small layer's
    // step ~25% of its time). Another thread's set_isa can at worst pair a key with the table of
    // the ISA active a moment before: a table this CPU runs, with the same results bit for bit.
    struct Cache {
        std::atomic<const Kernels*> key{nullptr};
        std::atomic<const QKernels*> table{nullptr};
    };
    static Cache cache[4];
    const Kernels* k = &active_kernels();
    Cache& c = cache[static_cast<std::uint32_t>(f) & 3];
    if (c.key.load(std::memory_order_acquire) == k)
        if (const QKernels* t = c.table.load(std::memory_order_acquire)) return *t;
    const QKernels& t = q_resolve(f);
    c.table.store(&t, std::memory_order_release);
    c.key.store(k, std::memory_order_release);
    return t;
}

namespace {

// The ISA of the table in use for f: "avx512", "amx", "avx2", "neon", "neondot", "scalar".
std::string q_active_isa(WeightFormat f) {
    const std::string name = q_active(f).name;  // "<format>_<isa>"
    return name.substr(name.find('_') + 1);
}

}  // namespace

std::size_t q_fp32_max_hidden(WeightFormat f) {
    // The hidden sizes below each table's crossover with fp32, step and predict, both GRU forms
    // (AMD Zen 4; NEON unmeasured: AVX2's values, which widen the same way; amx: its steps of
    // fewer than 16 rows are AVX-512's).
    const std::string isa = q_active_isa(f);
    const bool i8 = f == WeightFormat::Int8, b16 = f == WeightFormat::BF16;
    if (isa == "avx512" || isa == "amx") return i8 ? 16 : b16 ? 32 : 64;
    if (isa == "avx2" || isa == "neon" || isa == "neondot") return i8 ? 32 : b16 ? 64 : 32;
    return 0;
}

bool q_fp32_batches(WeightFormat f) {
    // fp16 on every vector table (F16C / vcvt per use): AVX-512 0.70-0.97x of fp32 at batches of
    // 4-256, AVX2 0.88-0.95x; bf16 where it has no dot product (AVX2 0.79-0.86x; NEON unmeasured).
    const std::string isa = q_active_isa(f);
    if (f == WeightFormat::F16) return isa != "scalar";
    return f == WeightFormat::BF16 && (isa == "avx2" || isa == "neon");
}

}  // namespace gru_infer
