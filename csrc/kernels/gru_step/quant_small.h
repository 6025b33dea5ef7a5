// The small-layer reduced-precision step (quant_small_avx512.h, quant_small_avx2.h): batches of
// 1 to kQSmallRows rows of layers of at most kQSmallTiles tiles of 16 units (quant_kernels.h).
#pragma once
#include <cstddef>

#include "quant_step.h"

namespace gru_infer {

// The packed weights the small steps read: 64 bytes per (group, sub) for int8 and bf16, 32 for
// fp16 (widened per use).
template <WeightFormat F>
struct QSmallWeights {
    static constexpr std::size_t step() { return F == WeightFormat::F16 ? 32 : 64; }
    // Whether the small step serves a: 1 to kQSmallRows rows, at most kQSmallTiles tiles.
    static bool small_ready(const QGruStepArgs& a) { return a.rows <= kQSmallRows && a.w->tiles <= kQSmallTiles; }
};

// Row m of a step made ready for the small kernels: the input and state prepared by Ops as
// QuantStep prepares them (fp16's preparation is a plain copy of the row, kpad = cols: read in
// place), and where the row's pre-activations go in scratch.
struct QSmallRow {
    const char* xq = nullptr;
    const char* hq = nullptr;
    float sx = 1.0f, sh = 1.0f;
    float* pre = nullptr;

    template <class Ops, WeightFormat F>
    static QSmallRow prepare(const QGruStepArgs& a, const QStepScratch& L, char* S, std::size_t m) {
        const QuantGru& w = *a.w;
        QSmallRow r;
        r.pre = reinterpret_cast<float*>(S + m * L.row_bytes);
        if constexpr (F == WeightFormat::F16) {
            r.xq = reinterpret_cast<const char*>(a.x + m * a.ldx);
            r.hq = reinterpret_cast<const char*>(a.h + m * a.ldh);
        } else {
            r.sh = Ops::prepare(a.h + m * a.ldh, w.hidden, w.R.kpad, -QuantStep<Ops>::kStateScale, S + L.hq);
            r.hq = S + L.hq;
            if (a.x) {
                r.sx = Ops::prepare(a.x + m * a.ldx, w.input, w.W.kpad, w.x_scale, S + L.xq);
                r.xq = S + L.xq;
            }
        }
        return r;
    }

    // Row m's r h (the reset_before form, in scratch at L.rh) prepared as the state (|r h| <= |h|)
    // into hq and sh, as QuantStep::cho (its scale where QuantStep leaves it); fp16 reads it in place.
    template <class Ops, WeightFormat F>
    static QSmallRow prepare_rh(const QuantGru& w, const QStepScratch& L, char* S, std::size_t m) {
        char* rs = S + m * L.row_bytes;
        QSmallRow r;
        r.hq = rs + L.rh;
        if constexpr (F != WeightFormat::F16) {
            r.sh = Ops::prepare(reinterpret_cast<const float*>(rs + L.rh), w.hidden, w.R.kpad, -QuantStep<Ops>::kStateScale, rs + L.rhq);
            r.hq = rs + L.rhq;
        }
        *reinterpret_cast<float*>(rs + L.sh) = r.sh;
        return r;
    }
};

// f(L, S, row, m, act) for each row m of a small step, its input and state prepared (QSmallRow).
template <class Ops, WeightFormat F, class Fn>
inline void q_small_rows(const QGruStepArgs& a, Fn&& f) {
    const QStepScratch L(*a.w);
    char* S = static_cast<char*>(a.scratch);
    const QAct act{a.clip, a.fast};
    for (std::size_t m = 0; m < a.rows; ++m) f(L, S, QSmallRow::prepare<Ops, F>(a, L, S, m), m, act);
}

}  // namespace gru_infer
