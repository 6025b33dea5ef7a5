// The one place that picks kernels for this CPU.
#include <atomic>
#include <cstdlib>
#include <string>

#include "gru_infer/error.h"
#include "gru_infer/kernels.h"

namespace gru_infer {

void gemm_nt_f32_scalar(std::size_t, std::size_t, std::size_t, const float*, std::size_t,
                        const float*, std::size_t, const float*, float*, std::size_t);
#if defined(__x86_64__) || defined(_M_X64)
void gemm_nt_f32_avx2(std::size_t, std::size_t, std::size_t, const float*, std::size_t,
                      const float*, std::size_t, const float*, float*, std::size_t);
#endif

const Kernels& scalar_kernels() {
    static const Kernels k{"scalar", gemm_nt_f32_scalar};
    return k;
}

#if defined(__x86_64__) || defined(_M_X64)
const Kernels& avx2_kernels() {
    static const Kernels k{"avx2", gemm_nt_f32_avx2};
    return k;
}
#endif

namespace {

bool cpu_has(const std::string& isa) {
    if (isa == "scalar") return true;
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
    if (isa == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return false;
}

const Kernels* table_for(const std::string& isa) {
    if (isa == "scalar") return &scalar_kernels();
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
    const auto isas = available_isas();
    return table_for(isas.back());
}

std::atomic<const Kernels*> g_active{nullptr};

}  // namespace

std::vector<std::string> available_isas() {
    std::vector<std::string> out{"scalar"};
    for (const char* isa : {"avx2"})
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
