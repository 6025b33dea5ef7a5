// The small-layer reduced-precision step (quant_small_avx512.h, quant_small_avx2.h) serves
// batches of 1 to 3 rows of layers of at most this many tiles of 16 units (H <= 128); larger ones
// run QuantStep.
#pragma once
#include <cstddef>

#include "quant_step.h"

namespace gru_infer {

constexpr std::size_t kQSmallTiles = 8;
constexpr std::size_t kQSmallRows = 3;

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
};

}  // namespace gru_infer
