// The one place that picks kernels for this CPU: the list of ISAs (GRU_INFER_ISAS) and their tables.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gru_infer/error.h"
#include "kernels/kernels.h"
#include "kernels/quant_kernels.h"

// Each ISA on its target, unless the build left it out (CMake's GRU_INFER_ISAS list defines
// GRU_INFER_NO_<ISA> for the others, and leaves their kernel files out; scalar is always there).
#if (defined(__x86_64__) || defined(_M_X64)) && !defined(GRU_INFER_NO_AVX2)
#define GRU_INFER_WITH_AVX2(...) __VA_ARGS__
#else
#define GRU_INFER_WITH_AVX2(...)
#endif
#if (defined(__x86_64__) || defined(_M_X64)) && !defined(GRU_INFER_NO_AVX512)
#define GRU_INFER_WITH_AVX512(...) __VA_ARGS__
#else
#define GRU_INFER_WITH_AVX512(...)
#endif
#if (defined(__x86_64__) || defined(_M_X64)) && !defined(GRU_INFER_NO_AMX) && !defined(GRU_INFER_NO_AVX512)
#define GRU_INFER_WITH_AMX(...) __VA_ARGS__
#else
#define GRU_INFER_WITH_AMX(...)
#endif
#include "kernels/simd/neon_config.h"
#if GRU_INFER_NEON && !defined(GRU_INFER_NO_NEON)  // aarch64, and armv7 (neon_config.h)
#define GRU_INFER_WITH_NEON(...) __VA_ARGS__
#else
#define GRU_INFER_WITH_NEON(...)
#endif

namespace gru_infer {
namespace {

// Whether this CPU runs an ISA's kernels.
[[maybe_unused]] bool cpu_any() { return true; }  // scalar (NEON: cpu_has_neon, cpu_features.cpp)
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
[[maybe_unused]] bool cpu_has_avx2_fma() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
#elif defined(__x86_64__) || defined(_M_X64)
[[maybe_unused]] bool cpu_has_avx2_fma() { return false; }
#endif
#if defined(__x86_64__) || defined(_M_X64)
// AVX-512 F/BW/DQ/VL with the OS saving the opmask and ZMM state (CPUID + XCR0: cpu_features.cpp).
// The fp32 entries are kernels/<op>/<op>_f32_avx512.cpp; the reduced-precision kernels are picked
// per weight format by quant_dispatch.cpp (vpdpbusd, vdpbf16ps need their own CPUID bits).
[[maybe_unused]] bool cpu_has_avx512_all() { return cpu_has_avx2_fma() && cpu_has_avx512(); }
// "amx": AVX-512's fp32 kernels, and for int8 and bf16 the AMX tile kernels (quant_dispatch.cpp),
// listed only where the CPU, the OS's XCR0 and (Linux) the process's permission allow both AMX
// formats: no tile instruction ever runs elsewhere.
[[maybe_unused]] bool cpu_has_amx_all() { return cpu_has_avx512_all() && cpu_has_amx_int8() && cpu_has_amx_bf16(); }
#endif

}  // namespace

// The kernel tables of this build, worst first: X(name, isa, cpu check), the fp32 kernels of `isa`
// under `name` (amx: AVX-512's; only its reduced-precision tables differ). The default is the last
// one the CPU runs. A new ISA is one line here plus one file per operation,
// kernels/<op>/<op>_f32_<isa>.cpp, defining <op>_f32_<isa> (every entry of the Kernels table).
#define GRU_INFER_ISAS(X)                                        \
    X(scalar, scalar, cpu_any)                                   \
    GRU_INFER_WITH_AVX2(X(avx2, avx2, cpu_has_avx2_fma))         \
    GRU_INFER_WITH_AVX512(X(avx512, avx512, cpu_has_avx512_all)) \
    GRU_INFER_WITH_AMX(X(amx, avx512, cpu_has_amx_all))          \
    GRU_INFER_WITH_NEON(X(neon, neon, cpu_has_neon))

// Every ISA's kernels, declared once per ISA suffix. A new operation (or dtype of one) is one line
// in each of these two macros, plus its entry in the Kernels table (kernels.h).
#define GRU_INFER_DECLARE_KERNELS(name, isa, cpu_check)                                                  \
    void gemm_nt_f32_##isa(std::size_t, std::size_t, std::size_t, const float*, std::size_t,       \
                           const float*, std::size_t, const float*, float*, std::size_t);          \
    void gemm_packed_f32_##isa(std::size_t, std::size_t, const float*, std::size_t, const float*,  \
                               std::size_t, std::size_t, const float*, float*, std::size_t);       \
    void gru_step_reset_after_f32_##isa(const GruStepArgs&);                                       \
    void gru_step_reset_before_f32_##isa(const GruStepArgs&);                                      \
    void sigmoid_f32_##isa(std::size_t, const float*, float*);                                     \
    void tanh_f32_##isa(std::size_t, const float*, float*);
#define GRU_INFER_KERNEL_TABLE(name, isa, cpu_check)                                               \
    {Kernels{#name, gemm_nt_f32_##isa, gemm_packed_f32_##isa, gru_step_reset_after_f32_##isa,       \
             gru_step_reset_before_f32_##isa, sigmoid_f32_##isa, tanh_f32_##isa},                  \
     cpu_check},

GRU_INFER_ISAS(GRU_INFER_DECLARE_KERNELS)

namespace {

struct Isa {
    Kernels table;
    bool (*cpu_runs)();
};

// Constant-initialised (function addresses and literals only): usable before main, never allocates.
const Isa kIsas[] = {GRU_INFER_ISAS(GRU_INFER_KERNEL_TABLE)};

const Isa* find_isa(const char* name) {
    for (const Isa& isa : kIsas)
        if (std::strcmp(isa.table.name, name) == 0) return &isa;
    return nullptr;
}

// No allocation here (the first stream step may be what gets us here).
const Kernels* best_table() {
    const char* forced = std::getenv("GRU_INFER_ISA");
    if (forced && *forced) {
        const Isa* isa = find_isa(forced);
        // An unusable forced value falls back to the best table rather than aborting start-up,
        // saying so once on stderr (no allocation: the first stream step may be what gets us here).
        if (isa && isa->cpu_runs()) return &isa->table;
        std::fprintf(stderr, "gru_infer: GRU_INFER_ISA=%s is %s; available:", forced,
                     isa ? "not available on this CPU" : "not an ISA of this build");
        for (const Isa& i : kIsas)
            if (i.cpu_runs()) std::fprintf(stderr, " %s", i.table.name);
        std::fprintf(stderr, " (using the best of them)\n");
    }
    // amx is opt-in (GRU_INFER_ISA=amx, set_isa("amx")) until its kernels have run on AMX hardware:
    // so far they were tested only through the tile emulator (simd/amx_emulated.h).
    const Kernels* best = &kIsas[0].table;
    for (const Isa& isa : kIsas)
        if (isa.cpu_runs() && std::strcmp(isa.table.name, "amx") != 0) best = &isa.table;
    return best;
}

std::atomic<const Kernels*> g_active{nullptr};

}  // namespace

const Kernels& scalar_kernels() { return kIsas[0].table; }

const Kernels* compiled_kernels(const std::string& name) {
    const Isa* isa = find_isa(name.c_str());
    return isa ? &isa->table : nullptr;
}

std::vector<std::string> compiled_isas() {
    std::vector<std::string> out;
    for (const Isa& isa : kIsas) out.emplace_back(isa.table.name);
    return out;
}

std::vector<std::string> available_isas() {
    std::vector<std::string> out;
    for (const Isa& isa : kIsas)
        if (isa.cpu_runs()) out.emplace_back(isa.table.name);
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

const char* active_isa() { return active_kernels().name; }

void set_isa(const std::string& name) {
    const Isa* isa = find_isa(name.c_str());
    if (!isa || !isa->cpu_runs()) {
        std::string have;
        for (const auto& s : available_isas()) have += (have.empty() ? "" : ", ") + s;
        throw InvalidArgument("ISA '" + name + "' is not available on this CPU; available: " + have);
    }
    g_active.store(&isa->table, std::memory_order_release);
}

}  // namespace gru_infer
