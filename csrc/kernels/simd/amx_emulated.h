// A software model of the AMX tile operations the kernels use (amx_tiles.h's Tiles interface),
// after the Intel SDM's pseudocode of LDTILECFG, TILERELEASE, TILEZERO, TILELOADD, TILESTORED,
// TDPBUSD and TDPBF16PS, for the tests: the AMX kernels run through it on CPUs without AMX. It
// checks what the hardware checks (LDTILECFG's #GP: palette 1, reserved bytes zero, at most 8
// tiles of at most 16 rows x 64 bytes, rows and colsb both zero or both not; the operations' #UD:
// tiles configured and valid, distinct operands, M x K times K/4 x N*4 shapes) and throws
// amx::Fault with a message where the hardware would fault. The tile state is per thread, as the
// hardware's. Plain C++ (no intrinsics): it runs anywhere.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "../quant_kernels.h"
#include "amx_tiles.h"

namespace gru_infer {
namespace amx {

struct Fault : std::logic_error {
    using std::logic_error::logic_error;
};

struct EmulatedTiles {
    struct State {
        bool configured = false;
        TileConfig cfg;
        std::uint8_t t[kMaxTiles][kMaxRowsPerTile][kMaxColsb] = {};
        std::size_t ops = 0;  // tile operations run (the tests check that the tiles were used)
    };
    static State& state() {
        thread_local State s;
        return s;
    }
    [[noreturn]] static void fault(const std::string& what) { throw Fault("AMX emulator: " + what); }

    static void config(const TileConfig& c) {
        if (c.palette != 1) fault("LDTILECFG: palette " + std::to_string(c.palette) + " (only palette 1)");
        if (c.start_row != 0) fault("LDTILECFG: start_row " + std::to_string(c.start_row) + " (must be 0)");
        for (std::uint8_t b : c.reserved)
            if (b) fault("LDTILECFG: reserved bytes must be zero");
        for (int i = 0; i < 16; ++i) {
            const std::string t = "tile " + std::to_string(i);
            if (i >= kMaxTiles && (c.rows[i] || c.colsb[i])) fault("LDTILECFG: " + t + " configured (palette 1 has 8)");
            if (c.rows[i] > kMaxRowsPerTile) fault("LDTILECFG: " + t + " rows " + std::to_string(c.rows[i]) + " > 16");
            if (c.colsb[i] > kMaxColsb) fault("LDTILECFG: " + t + " colsb " + std::to_string(c.colsb[i]) + " > 64");
            if ((c.rows[i] == 0) != (c.colsb[i] == 0))
                fault("LDTILECFG: " + t + " has rows " + std::to_string(c.rows[i]) + " and colsb " +
                      std::to_string(c.colsb[i]) + " (both zero or neither)");
        }
        State& s = state();
        s.cfg = c;
        s.configured = true;
        std::memset(s.t, 0, sizeof s.t);  // LDTILECFG zeroes the tiles
        ++s.ops;
    }
    static void release() {
        State& s = state();
        s.configured = false;
        s.cfg = TileConfig{};
        std::memset(s.t, 0, sizeof s.t);
    }
    static bool configured() { return state().configured; }

    // A tile operand: configured and valid.
    static void check_tile(const char* op, int t) {
        const State& s = state();
        if (!s.configured) fault(std::string(op) + ": no tile configuration loaded");
        if (t < 0 || t >= kMaxTiles) fault(std::string(op) + ": tile " + std::to_string(t) + " out of range");
        if (s.cfg.rows[t] == 0) fault(std::string(op) + ": tile " + std::to_string(t) + " is not configured");
    }
    static int rows(int t) { return state().cfg.rows[t]; }
    static int colsb(int t) { return state().cfg.colsb[t]; }

    // Runtime tile numbers (the tests call these directly; the templates below forward to them).
    static void zero_n(int t) {
        check_tile("TILEZERO", t);
        std::memset(state().t[t], 0, sizeof state().t[t]);
        ++state().ops;
    }
    static void load_n(int t, const void* p, std::size_t stride) {
        check_tile("TILELOADD", t);
        State& s = state();
        for (int r = 0; r < kMaxRowsPerTile; ++r) {
            std::memset(s.t[t][r], 0, kMaxColsb);  // rows and bytes past the shape read as zero
            if (r < rows(t)) std::memcpy(s.t[t][r], static_cast<const char*>(p) + r * stride, colsb(t));
        }
        ++s.ops;
    }
    static void store_n(int t, void* p, std::size_t stride) {
        check_tile("TILESTORED", t);
        for (int r = 0; r < rows(t); ++r) std::memcpy(static_cast<char*>(p) + r * stride, state().t[t][r], colsb(t));
        ++state().ops;
    }
    // TDPBUSD / TDPBF16PS's checks: dst rows x colsb += A (rows x K*4 bytes) times B (K rows x colsb).
    static void check_dp(const char* op, int c, int a, int b) {
        check_tile(op, c);
        check_tile(op, a);
        check_tile(op, b);
        const std::string o(op);
        if (c == a || c == b || a == b) fault(o + ": operands must be three different tiles");
        if (colsb(c) % 4 || colsb(a) % 4 || colsb(b) % 4) fault(o + ": a colsb not a multiple of 4");
        if (colsb(a) / 4 != rows(b))
            fault(o + ": tmm" + std::to_string(a) + ".colsb/4 = " + std::to_string(colsb(a) / 4) + " != tmm" +
                  std::to_string(b) + ".rows = " + std::to_string(rows(b)));
        if (colsb(c) != colsb(b))
            fault(o + ": tmm" + std::to_string(c) + ".colsb = " + std::to_string(colsb(c)) + " != tmm" +
                  std::to_string(b) + ".colsb = " + std::to_string(colsb(b)));
        if (rows(c) != rows(a))
            fault(o + ": tmm" + std::to_string(c) + ".rows = " + std::to_string(rows(c)) + " != tmm" +
                  std::to_string(a) + ".rows = " + std::to_string(rows(a)));
    }
    // TDPBUSD: dst.dword[m][n] += sum over k, e of u8 A[m][4k+e] * s8 B[k][4n+e], int32 wrapping.
    static void dpbusd_n(int c, int a, int b) {
        check_dp("TDPBUSD", c, a, b);
        State& s = state();
        for (int m = 0; m < rows(c); ++m)
            for (int n = 0; n < colsb(c) / 4; ++n) {
                std::uint32_t acc;
                std::memcpy(&acc, &s.t[c][m][4 * n], 4);
                for (int k = 0; k < colsb(a) / 4; ++k)
                    for (int e = 0; e < 4; ++e)
                        acc += static_cast<std::uint32_t>(std::int32_t(s.t[a][m][4 * k + e]) *
                                                          std::int32_t(static_cast<std::int8_t>(s.t[b][k][4 * n + e])));
                std::memcpy(&s.t[c][m][4 * n], &acc, 4);
            }
        ++s.ops;
    }
    static float bf16_at(const std::uint8_t* p) {  // make_fp32, denormals read as zero
        std::uint16_t h;
        std::memcpy(&h, p, 2);
        return ftz(from_bf16(h));
    }
    // TDPBF16PS (the SDM's current pseudocode): per output, two fp32 lanes from zero, the even and
    // the odd products of the K pairs accumulated into each by FMA (RNE, DAZ and FTZ), then
    // dst = dst + (even + odd), each sum with DAZ and FTZ. MXCSR plays no part.
    static void dpbf16ps_n(int c, int a, int b) {
        check_dp("TDPBF16PS", c, a, b);
        State& s = state();
        for (int m = 0; m < rows(c); ++m)
            for (int n = 0; n < colsb(c) / 4; ++n) {
                float even = 0.0f, odd = 0.0f;
                for (int k = 0; k < colsb(a) / 4; ++k) {
                    even = ftz(std::fma(bf16_at(&s.t[a][m][4 * k]), bf16_at(&s.t[b][k][4 * n]), even));
                    odd = ftz(std::fma(bf16_at(&s.t[a][m][4 * k + 2]), bf16_at(&s.t[b][k][4 * n + 2]), odd));
                }
                float d;
                std::memcpy(&d, &s.t[c][m][4 * n], 4);
                d = ftz(ftz(d) + ftz(even + odd));
                std::memcpy(&s.t[c][m][4 * n], &d, 4);
            }
        ++s.ops;
    }

    template <int T>
    static void zero() { zero_n(T); }
    template <int T>
    static void load(const void* p, std::size_t stride) { load_n(T, p, stride); }
    template <int T>
    static void store(void* p, std::size_t stride) { store_n(T, p, stride); }
    template <int C, int A, int B>
    static void dpbusd() { dpbusd_n(C, A, B); }
    template <int C, int A, int B>
    static void dpbf16ps() { dpbf16ps_n(C, A, B); }
};

}  // namespace amx
}  // namespace gru_infer
