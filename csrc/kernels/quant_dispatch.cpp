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
#define GRU_INFER_QTABLE(dt, isa)                                                                             \
    QKernels {                                                                                                \
        #dt "_" #isa, gemm_packed_##dt##_##isa, gru_step_reset_after_##dt##_##isa,                            \
            gru_step_reset_before_##dt##_##isa, kFp32MaxHidden_##dt##_##isa, kFp32Batches_##dt##_##isa        \
    }

// Where each table is slower than the fp32 kernels (QKernels::fp32_max_hidden, fp32_batches):
// batch-1 steps and predicts of I = H, both GRU forms, and batches of 4-256 rows, measured on AMD
// Zen 4 (benchmarks/results.md; AVX2 there too). int8 and bf16 with a dot product (VNNI,
// AVX512_BF16) win from a few dozen units; fp16, and bf16 without one, widen every weight per use:
// until the fp32 weights leave L2 (past 128 units) the widening costs more than the bytes saved.
// amx: its steps of fewer than 16 rows are AVX-512's. NEON: unmeasured (qemu has no timing), AVX2's
// values, which widen the same way.
constexpr std::size_t kFp32MaxHidden_int8_scalar = 0, kFp32MaxHidden_bf16_scalar = 0, kFp32MaxHidden_fp16_scalar = 0;
constexpr bool kFp32Batches_int8_scalar = false, kFp32Batches_bf16_scalar = false, kFp32Batches_fp16_scalar = false;
constexpr std::size_t kFp32MaxHidden_int8_avx512 = 16, kFp32MaxHidden_bf16_avx512 = 32, kFp32MaxHidden_fp16_avx512 = 128;
constexpr bool kFp32Batches_int8_avx512 = false, kFp32Batches_bf16_avx512 = false, kFp32Batches_fp16_avx512 = true;
constexpr std::size_t kFp32MaxHidden_int8_amx = 16, kFp32MaxHidden_bf16_amx = 32;
constexpr bool kFp32Batches_int8_amx = false, kFp32Batches_bf16_amx = false;
constexpr std::size_t kFp32MaxHidden_int8_avx2 = 40, kFp32MaxHidden_bf16_avx2 = 128, kFp32MaxHidden_fp16_avx2 = 56;
constexpr bool kFp32Batches_int8_avx2 = false, kFp32Batches_bf16_avx2 = true, kFp32Batches_fp16_avx2 = true;
constexpr std::size_t kFp32MaxHidden_int8_neon = 40, kFp32MaxHidden_int8_neondot = 40, kFp32MaxHidden_bf16_neon = 128,
                      kFp32MaxHidden_fp16_neon = 56;
constexpr bool kFp32Batches_int8_neon = false, kFp32Batches_int8_neondot = false, kFp32Batches_bf16_neon = true,
               kFp32Batches_fp16_neon = true;

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

std::size_t q_fp32_max_hidden(WeightFormat f) { return q_active(f).fp32_max_hidden; }
bool q_fp32_batches(WeightFormat f) { return q_active(f).fp32_batches; }

}  // namespace gru_infer
