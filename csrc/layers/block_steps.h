// The step loop of a stream block (gru_block for fp32, GruLayer::quant_block for reduced
// precision): one loop for both kinds of kernel arguments.
#pragma once
#include <cstddef>
#include <cstring>

namespace gru_infer {

// `steps` steps of `rows` rows: step s reads its inputs at in + s * G (row stride steps * G; the
// raw inputs when fused, else their projections) and the previous step's state, and writes y's
// step s (rows, steps, H); state (rows, H) is read first and left at the last step. a holds the
// arguments that stay the same (GruLayer::prepare_step, GruStepArgs or QGruStepArgs); step(a) runs
// one step; walk_backward is the first step's walk (then alternated).
template <class Args, class Step>
void block_steps(Args& a, Step step, std::size_t rows, std::size_t steps, std::size_t H, bool fused, const float* in,
                 std::size_t G, float* y, float* state, bool walk_backward) {
    const float* prev = state;
    std::size_t ld_prev = H;
    for (std::size_t s = 0; s < steps; ++s) {
        if (fused) { a.x = in + s * G; a.ldx = steps * G; }
        else { a.xp = in + s * G; a.ldxp = steps * G; }
        a.h = prev; a.ldh = ld_prev;
        a.h_out = y + s * H; a.ldo = steps * H;
        a.walk_backward = walk_backward != (s % 2 == 1);
        step(a);
        prev = a.h_out;
        ld_prev = steps * H;
    }
    for (std::size_t b = 0; b < rows; ++b) std::memcpy(state + b * H, prev + b * ld_prev, H * sizeof(float));
}

}  // namespace gru_infer
