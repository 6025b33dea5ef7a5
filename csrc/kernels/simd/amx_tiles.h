// AMX (Advanced Matrix Extensions) reduced-precision batches: int8 by TDPBUSD, bf16 by TDPBF16PS,
// for the products of kAmxRows+ rows (the input projection over B * T rows, the steps of 16+ rows).
// The amx table's entry points (gemm_packed/*_amx.cpp, gru_step/*_amx.cpp) give calls of fewer
// rows to the AVX-512 table's functions (no second copy of those kernels here); past that point
// every product runs on tiles, row groups of fewer than 16 rows (a remainder) with a config of
// fewer rows.
//
// The kernels are written once over a tile-operations interface (Tiles): config (LDTILECFG),
// release, zero, load (TILELOADD), store (TILESTORED), dpbusd, dpbf16ps, the tile numbers as
// template arguments. Two implementations: amx::NativeTiles (the intrinsics; only in files
// compiled for amx-tile/amx-int8/amx-bf16, which define GRU_INFER_AMX_NATIVE, and only called
// where cpu_has_amx_*() said so) and amx::EmulatedTiles (amx_emulated.h: a software model of the
// SDM's pseudocode that checks the configuration as the hardware faults; the tests run the same
// kernels through it on CPUs without AMX).
//
// Tile plan (7 of the 8 tiles): C0..C2 the outputs of 16 (or fewer) rows x 16 lanes of up to three
// units (a unit: one sub of one block, 16 packed rows); A = those rows' prepared inputs, 64 bytes
// (16 groups) at a time; B = 16 groups of one unit, which is one TILELOADD with stride S * 64
// straight from the packed weights (quant_kernels.h: a group of a (block, sub) is 16 lanes x G
// elements, 64 bytes, the next group of it S * 64 bytes on). The last groups % 16 groups use their
// own A and B tiles (At, Bt: 4 * tail bytes, tail rows), so that nothing past kpad (A) or past the
// unit's last group (B) is read and the C tiles live across the whole K loop under one config.
// Per row group and unit group: C from the start (bf16) or zero (int8), the K loop, TILESTORED to a
// 64-byte aligned buffer, then the epilogue in AVX-512 registers (int8: -128 x rowsum for the u8
// offset, float(sum) * (scale * sv) fma init, as qbatch_avx512.h; the lbr gates from registers).
//
// Arithmetic: int8 sums are exact int32, so the results equal the scalar reference's bit for bit.
// bf16 accumulates in TDPBF16PS's order (quant_kernels.h: not bit-exact; the bound is there).
// Include after a target pragma with avx512f/bw/dq/vl, fma, f16c and the format's extension.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../gru_step/quant_step.h"
#include "qops_avx512.h"

namespace gru_infer {

// Products of at least this many rows run on AMX tiles (one A tile's rows).
constexpr std::size_t kAmxRows = 16;

namespace amx {

// LDTILECFG's 64-byte memory operand (palette 1: 8 tiles of at most 16 rows x 64 bytes).
struct TileConfig {
    std::uint8_t palette = 0, start_row = 0;
    std::uint8_t reserved[14] = {};
    std::uint16_t colsb[16] = {};
    std::uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64, "LDTILECFG reads 64 bytes");

constexpr int kMaxTiles = 8, kMaxRowsPerTile = 16, kMaxColsb = 64;
// The kernels' tiles.
constexpr int kC0 = 0, kA = 3, kB = 4, kAt = 5, kBt = 6;
constexpr std::size_t kChunkGroups = 16;  // groups of G elements per 64-byte row of A

// The kernels' configuration for `rows` rows (1..16) and `tail` groups past the last whole chunk.
inline TileConfig kernel_config(std::size_t rows, std::size_t tail) {
    TileConfig c;
    c.palette = 1;
    auto set = [&](int t, std::size_t r, std::size_t colsb) {
        c.rows[t] = static_cast<std::uint8_t>(r);
        c.colsb[t] = static_cast<std::uint16_t>(colsb);
    };
    for (int t = kC0; t < kC0 + 3; ++t) set(t, rows, 64);
    set(kA, rows, 64);
    set(kB, kChunkGroups, 64);
    if (tail) {
        set(kAt, rows, 4 * tail);
        set(kBt, tail, 64);
    }
    return c;
}

#if defined(GRU_INFER_AMX_NATIVE)
// The intrinsics take tile numbers as literal tokens (GCC pastes them into the instruction's
// text), hence the chains below. The asm statements GCC's intrinsics expand to declare no memory
// operands (TILELOADD's source, TILESTORED's destination, LDTILECFG past its first 8 bytes):
// compiler barriers keep the stores before a load and the loads after a store in place.
#define GRU_INFER_AMX_EACH_C(T, OP) \
    if constexpr (T == 0) { OP(0); } else if constexpr (T == 1) { OP(1); } else if constexpr (T == 2) { OP(2); } \
    else if constexpr (T == 3) { OP(3); } else if constexpr (T == 4) { OP(4); } else if constexpr (T == 5) { OP(5); } \
    else if constexpr (T == 6) { OP(6); } else { static_assert(T == 7, "tile number"); OP(7); }
struct NativeTiles {
    static void barrier() { asm volatile("" ::: "memory"); }
    static void config(const TileConfig& c) {
        barrier();
        _tile_loadconfig(&c);
    }
    static void release() { _tile_release(); }
    template <int T>
    static void zero() {
#define GRU_INFER_AMX_OP(n) _tile_zero(n)
        GRU_INFER_AMX_EACH_C(T, GRU_INFER_AMX_OP)
#undef GRU_INFER_AMX_OP
    }
    template <int T>
    static void load(const void* p, std::size_t stride) {
        barrier();
#define GRU_INFER_AMX_OP(n) _tile_loadd(n, p, static_cast<long>(stride))
        GRU_INFER_AMX_EACH_C(T, GRU_INFER_AMX_OP)
#undef GRU_INFER_AMX_OP
    }
    template <int T>
    static void store(void* p, std::size_t stride) {
#define GRU_INFER_AMX_OP(n) _tile_stored(n, p, static_cast<long>(stride))
        GRU_INFER_AMX_EACH_C(T, GRU_INFER_AMX_OP)
#undef GRU_INFER_AMX_OP
        barrier();
    }
    // The kernels' products: C0..C2 from (A, B) or (At, Bt).
    template <int C, int A, int B>
    static void dpbusd() { dp<C, A, B, false>(); }
    template <int C, int A, int B>
    static void dpbf16ps() { dp<C, A, B, true>(); }
    template <int C, int A, int B, bool Bf16>
    static void dp() {
        static_assert(C >= 0 && C < 3 && ((A == kA && B == kB) || (A == kAt && B == kBt)), "the kernels' tiles");
        if constexpr (A == kA) {
#define GRU_INFER_AMX_OP(n) if constexpr (Bf16) _tile_dpbf16ps(n, 3, 4); else _tile_dpbusd(n, 3, 4)
            GRU_INFER_AMX_EACH_C(C, GRU_INFER_AMX_OP)
#undef GRU_INFER_AMX_OP
        } else {
#define GRU_INFER_AMX_OP(n) if constexpr (Bf16) _tile_dpbf16ps(n, 5, 6); else _tile_dpbusd(n, 5, 6)
            GRU_INFER_AMX_EACH_C(C, GRU_INFER_AMX_OP)
#undef GRU_INFER_AMX_OP
        }
    }
};
#undef GRU_INFER_AMX_EACH_C
#endif  // GRU_INFER_AMX_NATIVE

}  // namespace amx

// QuantStep's Ops with every product on AMX tiles (Tiles: amx::NativeTiles or
// amx::EmulatedTiles): dot and lbr_rows on tiles, with the contracts of Avx512QBatchOps's (so
// QuantStep's gemm, lbr and cho run on them unchanged); prepare and the gates are Avx512QOps's.
template <WeightFormat F, class Tiles>
struct AmxQBatchOps : Avx512QOps<F> {
    static_assert(F == WeightFormat::Int8 || F == WeightFormat::BF16, "AMX has int8 and bf16 products");
    using Base = Avx512QOps<F>;
    static constexpr std::size_t kUnits = 3;  // C tiles

    // A unit: sub s of block b, its first packed row p and its weights.
    struct Unit {
        std::size_t p;
        const char* w;
    };

    // One K chunk into C tile U (tile numbers of A, B: kA/kB or kAt/kBt).
    template <int U, int A, int B>
    static void chunk(const Unit* u, std::size_t nu, std::size_t wstride) {
        using namespace amx;
        if (U >= static_cast<int>(nu)) return;
        Tiles::template load<B>(u[U].w, wstride);
        if constexpr (F == WeightFormat::Int8) Tiles::template dpbusd<kC0 + U, A, B>();
        else Tiles::template dpbf16ps<kC0 + U, A, B>();
    }

    // The products of the configured rows of v (stride vs; kernel_config(rows, tail)) for nu <= 3
    // units: c[u] (16 x 16 floats / int32, row stride 64 bytes) holds the start on entry (bf16;
    // int8 starts at zero) and the sums on return.
    static void products(const QMatrix& m, const Unit* u, std::size_t nu, const char* v, std::size_t vs,
                         float (*c)[kQLanes * kQLanes]) {
        using namespace amx;
        const std::size_t groups = m.groups(), whole = groups / kChunkGroups, tail = groups % kChunkGroups;
        const std::size_t wstride = m.subs * 64, wchunk = kChunkGroups * wstride;
        auto start = [&](auto t) {
            constexpr int U = decltype(t)::value;
            if (U >= static_cast<int>(nu)) return;
            if constexpr (F == WeightFormat::Int8) Tiles::template zero<kC0 + U>();
            else Tiles::template load<kC0 + U>(c[U], 64);
        };
        start(std::integral_constant<int, 0>{});
        start(std::integral_constant<int, 1>{});
        start(std::integral_constant<int, 2>{});
        Unit w[kUnits];
        for (std::size_t i = 0; i < nu; ++i) w[i] = u[i];
        for (std::size_t q = 0; q < whole; ++q) {
            Tiles::template load<kA>(v + q * 64, vs);
            chunk<0, kA, kB>(w, nu, wstride);
            chunk<1, kA, kB>(w, nu, wstride);
            chunk<2, kA, kB>(w, nu, wstride);
            for (std::size_t i = 0; i < nu; ++i) w[i].w += wchunk;
        }
        if (tail) {
            Tiles::template load<kAt>(v + whole * 64, vs);
            chunk<0, kAt, kBt>(w, nu, wstride);
            chunk<1, kAt, kBt>(w, nu, wstride);
            chunk<2, kAt, kBt>(w, nu, wstride);
        }
        auto finish = [&](auto t) {
            constexpr int U = decltype(t)::value;
            if (U < static_cast<int>(nu)) Tiles::template store<kC0 + U>(c[U], 64);
        };
        finish(std::integral_constant<int, 0>{});
        finish(std::integral_constant<int, 1>{});
        finish(std::integral_constant<int, 2>{});
    }

    // The units of subs [s0, s0 + ns) of the blocks of r, in r's order, in passes of ~256 KB of
    // weights; per pass every row group of <= 16 rows goes through each group of <= 3 units:
    // g(first row, rows, units, count, c) after start(first row, rows, units, count, c) filled c
    // (bf16: each unit's start values) and the products ran.
    template <class Start, class G>
    static void for_groups(const QMatrix& m, QBlockRange blocks, std::size_t rows, std::size_t s0, std::size_t ns,
                           const char* v, std::size_t vs, Start&& start, G&& g) {
        using namespace amx;
        alignas(64) float c[kUnits][kQLanes * kQLanes];
        const std::size_t tail = m.groups() % kChunkGroups, bb = m.block_bytes();
        const std::size_t per_pass = std::max<std::size_t>(1, (256u << 10) / bb);
        std::size_t configured = 0;  // rows of the config loaded (0: none)
        for_block_passes(blocks, per_pass, [&](QBlockRange pass) {
            for (std::size_t r0 = 0; r0 < rows; r0 += kAmxRows) {
                const std::size_t r = rows - r0 < kAmxRows ? rows - r0 : kAmxRows;
                if (r != configured) {
                    Tiles::config(kernel_config(r, tail));
                    configured = r;
                }
                Unit u[kUnits];
                std::size_t nu = 0;
                auto flush = [&] {
                    start(r0, r, u, nu, c);
                    products(m, u, nu, v + r0 * vs, vs, c);
                    g(r0, r, u, nu, c);
                    nu = 0;
                };
                for_block_runs<1>(pass, [&](std::size_t b, bool) {
                    for (std::size_t s = s0; s < s0 + ns; ++s) {
                        u[nu++] = Unit{(b * m.subs + s) * kQLanes,
                                       static_cast<const char*>(m.bytes()) + b * bb + s * 64};
                        if (nu == kUnits) flush();
                    }
                });
                if (nu) flush();
            }
        });
        if (configured) Tiles::release();
    }

    // Row i of unit u's outputs from its sums (c as products leaves it) and its start (int8).
    static __m512 result(const QMatrix& m, const float* cu, const Unit& u, std::size_t i, float sv, __m512 start) {
        if constexpr (F == WeightFormat::Int8) {
            const __m512i corr = _mm512_slli_epi32(_mm512_loadu_si512(m.rowsums() + u.p), 7);
            const __m512i acc = _mm512_load_si512(cu + i * kQLanes);
            const __m512 sc = _mm512_mul_ps(_mm512_loadu_ps(m.scales() + u.p), _mm512_set1_ps(sv));
            return _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc, corr)), sc, start);
        } else {
            (void)m; (void)u; (void)sv; (void)start;
            return _mm512_load_ps(cu + i * kQLanes);
        }
    }

    // Avx512QOps::dot's contract, on tiles.
    static void dot(const QMatrix& m, QBlockRange blocks, std::size_t rows, std::size_t s0, std::size_t ns, const void* v,
                    std::size_t v_stride, const float* sv, std::size_t ldsv, const float* init, std::size_t ld_init,
                    float* out, std::size_t ld_out) {
        auto init_of = [&](std::size_t i, const Unit& u) {
            return init ? _mm512_loadu_ps(init + i * ld_init + u.p) : _mm512_setzero_ps();
        };
        for_groups(
            m, blocks, rows, s0, ns, static_cast<const char*>(v), v_stride,
            [&](std::size_t r0, std::size_t r, const Unit* u, std::size_t nu, float (*c)[kQLanes * kQLanes]) {
                if constexpr (F == WeightFormat::BF16)
                    for (std::size_t k = 0; k < nu; ++k)
                        for (std::size_t i = 0; i < r; ++i) _mm512_store_ps(c[k] + i * kQLanes, init_of(r0 + i, u[k]));
            },
            [&](std::size_t r0, std::size_t r, const Unit* u, std::size_t nu, float (*c)[kQLanes * kQLanes]) {
                for (std::size_t k = 0; k < nu; ++k)
                    for (std::size_t i = 0; i < r; ++i) {
                        const std::size_t row = r0 + i;
                        const __m512 st = F == WeightFormat::Int8 ? init_of(row, u[k]) : _mm512_setzero_ps();
                        _mm512_storeu_ps(out + row * ld_out + u[k].p, result(m, c[k], u[k], i, sv[row * ldsv], st));
                    }
            });
    }

    // The lbr step (QuantStep::lbr's values, as Avx512QBatchOps::lbr_rows): the input product
    // (fused streaming) by dot, then per block and row group R h on tiles with B's start (z, r:
    // input part + bh; n: bh), the gates from registers. The pre-activations are also stored to
    // scratch B, where QuantStep::lbr leaves them.
    static bool lbr_rows(const QGruStepArgs& a) {
        const QuantGru& w = *a.w;
        const QStepScratch L(w);
        char* S = static_cast<char*>(a.scratch);
        const std::size_t ldf = L.row_bytes / sizeof(float);
        std::size_t ldxp;
        const float* xp = QuantStep<AmxQBatchOps>::lbr_rows_input(a, L, S, ldxp);
        const QAct act{a.clip, a.fast};
        const float* hs = reinterpret_cast<const float*>(S + L.sh);
        float* B = reinterpret_cast<float*>(S + L.b);
        // B's start of row i, unit u (its sub: (u.p / 16) % 3).
        auto start_of = [&](std::size_t i, const Unit& u) {
            const __m512 bh = _mm512_load_ps(w.bh.data() + u.p);
            return (u.p / kQLanes) % 3 == 2 ? bh : _mm512_add_ps(_mm512_loadu_ps(xp + i * ldxp + u.p), bh);
        };
        for_groups(
            w.R, QBlockRange{0, w.tiles, a.walk_backward}, a.rows, 0, 3, S + L.hq, L.row_bytes,
            [&](std::size_t r0, std::size_t r, const Unit* u, std::size_t nu, float (*c)[kQLanes * kQLanes]) {
                if constexpr (F == WeightFormat::BF16)
                    for (std::size_t k = 0; k < nu; ++k)
                        for (std::size_t i = 0; i < r; ++i) _mm512_store_ps(c[k] + i * kQLanes, start_of(r0 + i, u[k]));
            },
            [&](std::size_t r0, std::size_t r, const Unit* u, std::size_t, float (*c)[kQLanes * kQLanes]) {
                const std::size_t t = u[0].p / kQTileRow, u0 = t * kQLanes;  // (ns = 3: a group is one block)
                const std::size_t lanes = w.hidden - u0 < kQLanes ? w.hidden - u0 : kQLanes;
                const __mmask16 k = avx512q::lane_mask(lanes);
                for (std::size_t i = 0; i < r; ++i) {
                    const std::size_t row = r0 + i;
                    __m512 pre[3];
                    for (int s = 0; s < 3; ++s) {
                        const __m512 st = F == WeightFormat::Int8 ? start_of(row, u[s]) : _mm512_setzero_ps();
                        pre[s] = result(w.R, c[s], u[s], i, hs[row * ldf], st);
                        _mm512_storeu_ps(B + row * ldf + u[s].p, pre[s]);
                    }
                    const __m512 nx = _mm512_loadu_ps(xp + row * ldxp + t * kQTileRow + 2 * kQLanes);
                    const __m512 h = _mm512_maskz_loadu_ps(k, a.h + row * a.ldh + u0);
                    _mm512_mask_storeu_ps(a.h_out + row * a.ldo + u0, k, Base::lbr_out(pre[0], pre[1], pre[2], nx, h, act));
                }
            });
        return true;
    }
};

// The AMX kernel table's entries over Tiles (gemm_packed/*_amx.cpp and gru_step/*_amx.cpp with
// NativeTiles, for calls of kAmxRows+ rows; the tests with EmulatedTiles): QuantStep on
// AmxQBatchOps, the Cho form too (its products are dot's).
template <WeightFormat F, class Tiles>
struct AmxKernels {
    using Step = QuantStep<AmxQBatchOps<F, Tiles>>;
    static void gemm(std::size_t M, const float* A, std::size_t lda, const QMatrix& m, float a_scale, const float* init,
                     float* C, std::size_t ldc, void* scratch) {
        Step::gemm(M, A, lda, m, a_scale, init, C, ldc, scratch);
    }
    static void lbr(const QGruStepArgs& a) { Step::lbr(a); }
    static void cho(const QGruStepArgs& a) { Step::cho(a); }
};

}  // namespace gru_infer
