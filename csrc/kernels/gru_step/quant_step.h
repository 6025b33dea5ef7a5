// The reduced-precision GRU step and input projection, written once over an ISA's operations
// (Ops): prepare (quantize / round one input row into scratch, returning its scale), dot (packed
// rows of a QMatrix times prepared rows, started from init, see quant_kernels.h) and the gate
// epilogues on 16 units. Every ISA runs this same sequence of operations, so its results equal
// the scalar reference's bit for bit when its Ops do (tested in test_quant_kernels.cpp).
// Include after the ISA's target pragma.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstring>

#include "../quant_kernels.h"

namespace gru_infer {

struct QAct {
    float clip;
    bool fast;
};

// Ops::lbr_rows(a), where Ops has it (batch kernels: true when it ran the step), else false.
template <class Ops>
auto q_lbr_rows(const QGruStepArgs& a, int) -> decltype(Ops::lbr_rows(a)) { return Ops::lbr_rows(a); }
template <class Ops>
bool q_lbr_rows(const QGruStepArgs&, long) { return false; }

template <class Ops>
struct QuantStep {
    // |h| <= 1 for sigmoid/tanh GRUs once a step has run: the state's scale is 1/127, unless a row
    // (an h0 given by the user) is larger (prepare with a negative scale: see quantize_row_int8).
    static constexpr float kStateScale = 1.0f / 127.0f;

    // Quantize the state rows (and the input rows when fused) into scratch.
    static void prepare_rows(const QGruStepArgs& a, const QStepScratch& L, char* S) {
        const QuantGru& w = *a.w;
        for (std::size_t m = 0; m < a.rows; ++m)
            *reinterpret_cast<float*>(S + m * L.row_bytes + L.sh) =
                Ops::prepare(a.h + m * a.ldh, w.hidden, w.R.kpad, -kStateScale, S + m * L.row_bytes + L.hq);
        if (!a.x) return;
        for (std::size_t m = 0; m < a.rows; ++m) {
            char* row = S + m * L.row_bytes;
            *reinterpret_cast<float*>(row + L.sx) = Ops::prepare(a.x + m * a.ldx, w.input, w.W.kpad, w.x_scale, row + L.xq);
        }
    }

    // The start of a batch kernel's lbr step (Ops::lbr_rows): the rows prepared, and with a fused
    // input its product (x W + bx, by Ops::dot) in scratch A, as qgemm would give it. Returns the
    // input part (A, or the caller's xp) and sets ldxp to its stride.
    static const float* lbr_rows_input(const QGruStepArgs& a, const QStepScratch& L, char* S, std::size_t& ldxp) {
        const QuantGru& w = *a.w;
        prepare_rows(a, L, S);
        ldxp = a.ldxp;
        if (!a.x) return a.xp;
        const std::size_t ldf = L.row_bytes / sizeof(float);
        float* A = reinterpret_cast<float*>(S + L.a);
        Ops::dot(w.W, QBlockRange{0, w.tiles, false}, a.rows, 0, 3, S + L.xq, L.row_bytes,
                 reinterpret_cast<const float*>(S + L.sx), ldf, w.bx.data(), 0, A, ldf);
        ldxp = ldf;
        return A;
    }

    // The tiles of a step in chunks of at most ~256 KB of weights (8 tiles at least), each chunk's
    // input and recurrent products back to back, the chunks in the walk's order: a step that walks
    // back starts on the weights the last one read last, still in cache.
    template <class F>
    static void for_chunks(const QGruStepArgs& a, F&& f) {
        const QuantGru& w = *a.w;
        const std::size_t bytes = (a.x ? w.W.block_bytes() : 0) + w.R.block_bytes();
        const std::size_t per_chunk = std::max<std::size_t>(8, (256u << 10) / bytes / 8 * 8);
        for_block_passes(QBlockRange{0, w.tiles, a.walk_backward}, per_chunk, f);
    }

    // The input product of chunk c (fused streaming), then B's start for it: z and r from the
    // input part plus bh (the same operations whether the input part came from here or from
    // qgemm: a stream gives predict's results bit for bit), n from bh when with_n.
    static void input_part(const QGruStepArgs& a, const QStepScratch& L, char* S, QBlockRange c, float* A, float* B,
                           bool with_n) {
        const QuantGru& w = *a.w;
        const std::size_t ldf = L.row_bytes / sizeof(float);
        if (a.x)
            Ops::dot(w.W, c, a.rows, 0, 3, S + L.xq, L.row_bytes, reinterpret_cast<const float*>(S + L.sx), ldf,
                     w.bx.data(), 0, A, ldf);
        for (std::size_t m = 0; m < a.rows; ++m)
            for (std::size_t t = c.b0; t < c.b1; ++t) {
                float* b = B + m * ldf + t * kQTileRow;
                const float* bh = w.bh.data() + t * kQTileRow;
                const float* xp = (a.x ? A + m * ldf : a.xp + m * a.ldxp) + t * kQTileRow;
                for (std::size_t k = 0; k < 2 * kQLanes; ++k) b[k] = xp[k] + bh[k];
                if (with_n) std::memcpy(b + 2 * kQLanes, bh + 2 * kQLanes, kQLanes * sizeof(float));
            }
    }

    static const float* nx_of(const QGruStepArgs& a, const float* A, std::size_t ldf, std::size_t m, std::size_t t) {
        return (a.x ? A + m * ldf : a.xp + m * a.ldxp) + t * kQTileRow + 2 * kQLanes;
    }

    static void lbr(const QGruStepArgs& a) {
        if (q_lbr_rows<Ops>(a, 0)) return;
        const QuantGru& w = *a.w;
        const QStepScratch L(w);
        char* S = static_cast<char*>(a.scratch);
        const std::size_t ldf = L.row_bytes / sizeof(float);
        float* A = reinterpret_cast<float*>(S + L.a);
        float* B = reinterpret_cast<float*>(S + L.b);
        const QAct act{a.clip, a.fast};
        prepare_rows(a, L, S);
        const float* hs = reinterpret_cast<const float*>(S + L.sh);
        // A chunk's gates right after its products, so that the CPU runs them while it loads the
        // next chunk's weights (the state was quantized before the first chunk).
        for_chunks(a, [&](QBlockRange c) {
            input_part(a, L, S, c, A, B, true);
            Ops::dot(w.R, c, a.rows, 0, 3, S + L.hq, L.row_bytes, hs, ldf, B, ldf, B, ldf);
            for (std::size_t m = 0; m < a.rows; ++m)
                for (std::size_t t = c.b0; t < c.b1; ++t) {
                    const std::size_t u0 = t * kQLanes, lanes = w.hidden - u0 < kQLanes ? w.hidden - u0 : kQLanes;
                    Ops::lbr_gates(B + m * ldf + t * kQTileRow, nx_of(a, A, ldf, m, t), a.h + m * a.ldh + u0,
                                   a.h_out + m * a.ldo + u0, lanes, act);
                }
        });
    }

    static void cho(const QGruStepArgs& a) {
        const QuantGru& w = *a.w;
        const QStepScratch L(w);
        char* S = static_cast<char*>(a.scratch);
        const std::size_t ldf = L.row_bytes / sizeof(float);
        float* A = reinterpret_cast<float*>(S + L.a);
        float* B = reinterpret_cast<float*>(S + L.b);
        const QAct act{a.clip, a.fast};
        prepare_rows(a, L, S);
        const float* hs = reinterpret_cast<const float*>(S + L.sh);
        for_chunks(a, [&](QBlockRange c) {
            input_part(a, L, S, c, A, B, false);
            Ops::dot(w.R, c, a.rows, 0, 2, S + L.hq, L.row_bytes, hs, ldf, B, ldf, B, ldf);  // z, r
        });
        for (std::size_t m = 0; m < a.rows; ++m) {
            float* rh = reinterpret_cast<float*>(S + m * L.row_bytes + L.rh);
            for (std::size_t t = 0; t < w.tiles; ++t) {
                const std::size_t u0 = t * kQLanes, lanes = w.hidden - u0 < kQLanes ? w.hidden - u0 : kQLanes;
                float* b = B + m * ldf + t * kQTileRow;
                Ops::cho_zr(b, a.h + m * a.ldh + u0, rh + u0, lanes, act);  // z in place, r * h
                std::memcpy(b + 2 * kQLanes, w.bh.data() + t * kQTileRow + 2 * kQLanes, kQLanes * sizeof(float));
            }
            *reinterpret_cast<float*>(S + m * L.row_bytes + L.sh) =
                Ops::prepare(rh, w.hidden, w.R.kpad, -kStateScale, S + m * L.row_bytes + L.rhq);  // |r h| <= |h|
        }
        Ops::dot(w.R, QBlockRange{0, w.tiles, a.walk_backward}, a.rows, 2, 1, S + L.rhq, L.row_bytes, hs, ldf, B, ldf,
                 B, ldf);  // Rn (r h) + bh
        for (std::size_t m = 0; m < a.rows; ++m)
            for (std::size_t t = 0; t < w.tiles; ++t) {
                const std::size_t u0 = t * kQLanes, lanes = w.hidden - u0 < kQLanes ? w.hidden - u0 : kQLanes;
                Ops::cho_out(B + m * ldf + t * kQTileRow, nx_of(a, A, ldf, m, t), a.h + m * a.ldh + u0,
                             a.h_out + m * a.ldo + u0, lanes, act);
            }
    }

    static void gemm(std::size_t M, const float* Am, std::size_t lda, const QMatrix& m, float a_scale,
                     const float* init, float* C, std::size_t ldc, void* scratch) {
        const std::size_t rb = q_gemm_row_bytes(m), cap = M < kQGemmRows ? M : kQGemmRows;
        char* S = static_cast<char*>(scratch);
        float* scales = reinterpret_cast<float*>(S + cap * rb);
        for (std::size_t i0 = 0; i0 < M; i0 += cap) {
            const std::size_t n = M - i0 < cap ? M - i0 : cap;
            for (std::size_t r = 0; r < n; ++r)
                scales[r] = Ops::prepare(Am + (i0 + r) * lda, m.cols, m.kpad, a_scale, S + r * rb);
            Ops::dot(m, QBlockRange{0, m.blocks, false}, n, 0, m.subs, S, rb, scales, 1, init, 0, C + i0 * ldc, ldc);
        }
    }
};

}  // namespace gru_infer
