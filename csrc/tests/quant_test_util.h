// Helpers of the reduced-precision kernel tests (test_quant_kernels, test_amx_kernels).
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "../kernels/quant_kernels.h"

namespace test {

// A 64-byte aligned scratch buffer, its bytes set to garbage (0x5a).
struct Scratch {
    std::vector<char> raw;
    void* p;
    explicit Scratch(std::size_t bytes) : raw(bytes + 64, 0x5a) {
        p = raw.data() + (64 - reinterpret_cast<std::uintptr_t>(raw.data()) % 64) % 64;
    }
};

inline bool same_bits(const float* a, const float* b, std::size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

// One step of the same rows through ref, then through k (walking the tiles backward when asked:
// the walk order must change no bit): x (rows x I) fused, or its projection by ref's gemm (xp);
// h with row stride H + 1; the new states into want (ref) and got (k), row stride H + 2, the two
// floats past each row left at 9. s1 and s2 keep each one's scratch (pre-activations A and B).
struct StepRun {
    std::vector<float> xp, want, got;
    Scratch s1, s2;
    StepRun(const gru_infer::QKernels& k, const gru_infer::QKernels& ref, const gru_infer::QuantGru& q,
            std::size_t rows, const float* x, const float* h, bool lbr, bool fused, bool fast, float clip,
            bool backward)
        : xp(rows * q.tiles * gru_infer::kQTileRow), want(rows * (q.hidden + 2), 9.0f),
          got(rows * (q.hidden + 2), 9.0f), s1(gru_infer::q_step_scratch_bytes(rows, q)),
          s2(gru_infer::q_step_scratch_bytes(rows, q)) {
        const std::size_t I = q.input, H = q.hidden, ldxp = q.tiles * gru_infer::kQTileRow;
        Scratch gs(gru_infer::q_gemm_scratch_bytes(rows, q.W));
        ref.gemm(rows, x, I, q.W, q.x_scale, q.bx.data(), xp.data(), ldxp, gs.p);
        gru_infer::QGruStepArgs a;
        a.rows = rows;
        if (fused) { a.x = x; a.ldx = I; } else { a.xp = xp.data(); a.ldxp = ldxp; }
        a.h = h; a.ldh = H + 1; a.ldo = H + 2; a.w = &q; a.clip = clip; a.fast = fast;
        a.h_out = want.data(); a.scratch = s1.p;
        (lbr ? ref.gru_step_reset_after : ref.gru_step_reset_before)(a);
        a.h_out = got.data(); a.scratch = s2.p;
        a.walk_backward = backward;
        (lbr ? k.gru_step_reset_after : k.gru_step_reset_before)(a);
    }
};

}  // namespace test
