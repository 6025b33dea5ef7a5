// The one place that picks kernels for this CPU.
#include <atomic>
#include <cstdlib>
#include <string>

#include "gru_infer/error.h"
#include "gru_infer/kernels.h"

namespace gru_infer {

// Every ISA's kernels, declared once per ISA suffix.
#define GRU_INFER_DECLARE_KERNELS(isa)                                                             \
    void gemm_nt_f32_##isa(std::size_t, std::size_t, std::size_t, const float*, std::size_t,       \
                           const float*, std::size_t, const float*, float*, std::size_t);          \
    void gemm_packed_f32_##isa(std::size_t, std::size_t, const float*, std::size_t, const float*,  \
                               std::size_t, std::size_t, const float*, float*, std::size_t);       \
    void gru_lbr_step_f32_##isa(const GruStepArgs&);                                               \
    void gru_cho_step_f32_##isa(const GruStepArgs&);                                               \
    void sigmoid_f32_##isa(std::size_t, const float*, float*);                                     \
    void tanh_f32_##isa(std::size_t, const float*, float*);
#define GRU_INFER_KERNEL_TABLE(isa)                                                                \
    Kernels{#isa, gemm_nt_f32_##isa, gemm_packed_f32_##isa, gru_lbr_step_f32_##isa,               \
            gru_cho_step_f32_##isa, sigmoid_f32_##isa, tanh_f32_##isa}

GRU_INFER_DECLARE_KERNELS(scalar)
const Kernels& scalar_kernels() {
    static const Kernels k = GRU_INFER_KERNEL_TABLE(scalar);
    return k;
}

#if defined(__aarch64__)
GRU_INFER_DECLARE_KERNELS(neon)
const Kernels& neon_kernels() {
    static const Kernels k = GRU_INFER_KERNEL_TABLE(neon);
    return k;
}
#endif

#if defined(__x86_64__) || defined(_M_X64)
GRU_INFER_DECLARE_KERNELS(avx2)
const Kernels& avx2_kernels() {
    static const Kernels k = GRU_INFER_KERNEL_TABLE(avx2);
    return k;
}
#endif

namespace {

bool cpu_has(const std::string& isa) {
    if (isa == "scalar") return true;
#if defined(__aarch64__)
    if (isa == "neon") return true;  // Advanced SIMD is part of the aarch64 base architecture
#endif
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
    if (isa == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return false;
}

const Kernels* table_for(const std::string& isa) {
    if (isa == "scalar") return &scalar_kernels();
#if defined(__aarch64__)
    if (isa == "neon") return &neon_kernels();
#endif
#if defined(__x86_64__) || defined(_M_X64)
    if (isa == "avx2") return &avx2_kernels();
#endif
    return nullptr;
}

const Kernels* best_table() {
    const char* forced = std::getenv("GRU_INFER_ISA");
    if (forced && *forced) {
        const Kernels* k = table_for(forced);
        // An unusable forced value falls back to the best table rather than aborting start-up.
        if (k && cpu_has(forced)) return k;
    }
    // Best first; no allocation here (the first stream step may be what gets us here).
    for (const char* isa : {"avx2", "neon"})
        if (cpu_has(isa)) return table_for(isa);
    return &scalar_kernels();
}

std::atomic<const Kernels*> g_active{nullptr};

}  // namespace

std::vector<std::string> available_isas() {
    std::vector<std::string> out{"scalar"};
    for (const char* isa : {"avx2", "neon"})
        if (cpu_has(isa)) out.emplace_back(isa);
    return out;
}

const Kernels& active_kernels() {
    const Kernels* k = g_active.load(std::memory_order_acquire);
    if (!k) {
        k = best_table();
        g_active.store(k, std::memory_order_release);
    }
    return *k;
}

void set_isa(const std::string& name) {
    const Kernels* k = table_for(name);
    if (!k || !cpu_has(name)) {
        std::string have;
        for (const auto& s : available_isas()) have += (have.empty() ? "" : ", ") + s;
        throw InvalidArgument("ISA '" + name + "' is not available on this CPU; available: " + have);
    }
    g_active.store(k, std::memory_order_release);
}

}  // namespace gru_infer
