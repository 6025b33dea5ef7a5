// GRU layer, generic path: any element-wise gate and candidate activations (the packed kernels
// cover sigmoid gates with a tanh candidate), as gemm_nt products plus apply_activation.
#include "gru_infer/gru_layer.h"
#include "kernels/clamp.h"
#include "kernels/kernels.h"

namespace gru_infer {

void GruLayer::update(const GruWeights& w, std::size_t rows, const float* xp, std::size_t xp_stride,
                      float* h, float* rec) const {
    const Kernels& k = active_kernels();
    const std::size_t H = cfg_.hidden_size, ld = 4 * H;  // rec row: z r n | r*h
    const float clip = cfg_.clip;
    auto clamp = [clip](float* v, std::size_t n) {
        if (clip > 0.0f)
            for (std::size_t j = 0; j < n; ++j) v[j] = clamp_keep_nan(v[j], -clip, clip);
    };
    // z and r for every row (lbr=1: the candidate's recurrent product comes with them).
    k.gemm_nt(rows, cfg_.linear_before_reset ? 3 * H : 2 * H, H, h, H, w.R.data(), H, w.bR.data(), rec, ld);
    for (std::size_t b = 0; b < rows; ++b) {
        float* g = rec + b * ld;
        const float* x = xp + b * xp_stride;
        for (std::size_t j = 0; j < 2 * H; ++j) g[j] += x[j];
        clamp(g, 2 * H);
        apply_activation(cfg_.gate_activation, g, 2 * H);
        if (!cfg_.linear_before_reset) {
            const float* r = g + H;
            const float* hb = h + b * H;
            for (std::size_t j = 0; j < H; ++j) g[3 * H + j] = r[j] * hb[j];
        }
    }
    if (!cfg_.linear_before_reset)  // Rn (r * h) + bRn, after r is known
        k.gemm_nt(rows, H, H, rec + 3 * H, ld, w.R.data() + 2 * H * H, H, w.bR.data() + 2 * H, rec + 2 * H, ld);
    for (std::size_t b = 0; b < rows; ++b) {
        float* g = rec + b * ld;
        const float* x = xp + b * xp_stride;
        const float *z = g, *r = g + H;
        float* n = g + 2 * H;
        if (cfg_.linear_before_reset)
            for (std::size_t j = 0; j < H; ++j) n[j] = x[2 * H + j] + r[j] * n[j];
        else
            for (std::size_t j = 0; j < H; ++j) n[j] = x[2 * H + j] + n[j];
        clamp(n, H);
        apply_activation(cfg_.candidate_activation, n, H);
        float* hb = h + b * H;
        // As torch, onnxruntime and Keras write it: an activation without bounds (relu) can give
        // n = inf, which n + z (h - n) would turn into NaN (inf - inf) where they give inf.
        for (std::size_t j = 0; j < H; ++j) hb[j] = (1.0f - z[j]) * n[j] + z[j] * hb[j];
    }
}

}  // namespace gru_infer
