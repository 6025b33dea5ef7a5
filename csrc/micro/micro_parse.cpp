// Reads a native model file (docs/native_format.md, written by csrc/native_file.cpp) in place.
// Trusts nothing: every size, offset and enum is checked against the array before use, so a bad
// array gives an error code, never an out-of-bounds read. Tensors are used where they are: the
// file's 64-byte tensor alignment is more than fp32 and the int8 word loads need.
#include <string.h>

#include "micro_model.h"
#include "runtime/fnv1a64.h"

namespace gru_micro_impl {
namespace {

constexpr size_t kHeader = 64;
constexpr uint32_t kMinVersion = 2, kMaxVersion = 4;  // 1: plain fp32 GRU rows, which we do not run
constexpr uint32_t kDtypeF32 = 1, kDtypeU8 = 2, kDtypeI32 = 3;
constexpr uint32_t kMaxWidth = 1u << 16;  // features and units per layer (hosted: kMaxLayerWidth)

struct Reader {
    const uint8_t* file;
    uint64_t size, pos, end, data;
    uint32_t version;
    gru_micro_status err = GRU_MICRO_OK;

    bool fail(gru_micro_status s) {
        if (err == GRU_MICRO_OK) err = s;
        return false;
    }
    bool bytes(void* out, uint64_t n) {
        if (err != GRU_MICRO_OK || end - pos < n) return fail(GRU_MICRO_BAD_MODEL);
        memcpy(out, file + pos, n);
        pos += n;
        return true;
    }
    uint32_t u32() { uint32_t v = 0; bytes(&v, 4); return v; }
    uint64_t u64() { uint64_t v = 0; bytes(&v, 8); return v; }
    float f32() { float v = 0.0f; bytes(&v, 4); return v; }
    uint32_t width() {
        const uint32_t v = u32();
        if (v == 0 || v > kMaxWidth) fail(GRU_MICRO_BAD_MODEL);
        return v;
    }
    bool flag() {
        const uint32_t v = u32();
        if (v > 1) fail(GRU_MICRO_BAD_MODEL);
        return v == 1;
    }
    // A tensor record of exactly dims (at most 3) and dtype; returns its data in the file, or null.
    const void* tensor(uint32_t dtype, uint64_t d0, uint64_t d1 = 0, uint64_t d2 = 0) {
        const uint64_t want[3] = {d0, d1, d2};
        const uint32_t ndim = d2 ? 3 : d1 ? 2 : 1;
        if (u32() != dtype || u32() != ndim) fail(GRU_MICRO_BAD_MODEL);
        uint64_t count = 1;
        for (uint32_t i = 0; i < ndim; ++i) {
            if (u64() != want[i]) fail(GRU_MICRO_BAD_MODEL);
            count *= want[i];  // each <= 2^17 * 27, three of them: no overflow
        }
        const uint64_t rel = u64(), n = count * (dtype == kDtypeU8 ? 1 : 4);
        if (err != GRU_MICRO_OK) return nullptr;
        if (rel % 64 != 0 || rel > size || n > size - data || rel > size - data - n) {
            fail(GRU_MICRO_BAD_MODEL);
            return nullptr;
        }
        return file + data + rel;
    }
    const float* floats(uint64_t d0, uint64_t d1 = 0, uint64_t d2 = 0) {
        return static_cast<const float*>(tensor(kDtypeF32, d0, d1, d2));
    }
    // An int8 matrix of rows x cols in blocks of subs x 16 rows (quant_kernels.h's QMatrix).
    QMat qmatrix(uint32_t cols, uint32_t subs, uint32_t blocks) {
        QMat m{};
        m.cols = cols; m.kpad = (cols + kQGroup - 1) / kQGroup * kQGroup; m.subs = subs; m.blocks = blocks;
        const uint64_t rows = uint64_t(blocks) * subs * kQLanes;
        m.w = static_cast<const int8_t*>(tensor(kDtypeU8, blocks, uint64_t(m.kpad) * subs * kQLanes));
        m.scale = floats(rows);
        tensor(kDtypeI32, rows);  // row sums: the x86 kernels' offset trick, unused here
        if (m.scale)
            for (uint64_t p = 0; p < rows; ++p)
                if (!(m.scale[p] >= 0.0f && m.scale[p] <= 3.4e38f)) fail(GRU_MICRO_BAD_MODEL);
        return m;
    }
    uint32_t act(float* alpha = nullptr, float* beta = nullptr) {
        const uint32_t k = u32();
        const float a = f32(), b = f32();
        if (alpha) *alpha = a;
        if (beta) *beta = b;
        return k;
    }
};

bool read_gru(Reader& r, Layer& l) {
    const uint32_t H = r.width();
    const uint32_t direction = r.u32();
    l.reset_after = r.flag();
    r.flag();                     // has_bias (zeros when false)
    if (r.u32() > 3) return r.fail(GRU_MICRO_BAD_MODEL);  // merge mode (bidirectional only), as the hosted reader checks it
    r.flag();                     // return_sequences: a stream step gives the state either way
    r.flag();                     // reverse output order (reverse layers only)
    const uint32_t gate = r.act(), cand = r.act();
    l.clip = r.f32();
    if (r.version >= 4 && r.flag()) l.h0 = r.floats(1, H);
    const uint32_t storage = r.u32();
    l.hidden = H;
    if (r.err != GRU_MICRO_OK) return false;
    if (direction > 2 || !(l.clip >= 0.0f)) return r.fail(GRU_MICRO_BAD_MODEL);
    if (direction != 0 || gate != kSigmoid || cand != kTanh) return r.fail(GRU_MICRO_UNSUPPORTED);
    if (l.out != H) return r.fail(GRU_MICRO_BAD_MODEL);
    if (storage == 1) {  // fp32, packed tiles of 8 units
        const uint64_t tiles = (H + kTile - 1) / kTile;
        l.format = kFormatF32;
        l.w = r.floats(tiles, uint64_t(l.in) + H, kTileRow);
        l.b0 = r.floats(tiles, kTileRow);
        l.b1 = r.floats(tiles, kTileRow);
        return r.err == GRU_MICRO_OK;
    }
    if (storage != 2 || r.version < 3) return r.fail(storage == 0 ? GRU_MICRO_UNSUPPORTED : GRU_MICRO_BAD_MODEL);
    l.format = r.u32();
    l.x_scale = r.f32();
    if (r.err != GRU_MICRO_OK) return false;
    if (l.format != kFormatInt8) return r.fail(l.format >= 1 && l.format <= 2 ? GRU_MICRO_UNSUPPORTED : GRU_MICRO_BAD_MODEL);
    if (!(l.x_scale >= 0.0f && l.x_scale <= 3.4e38f)) return r.fail(GRU_MICRO_BAD_MODEL);
    const uint32_t tiles = (H + kQLanes - 1) / kQLanes;
    l.qw = r.qmatrix(l.in, 3, tiles);
    l.qr = r.qmatrix(H, 3, tiles);
    l.b0 = r.floats(tiles, 3 * kQLanes);
    l.b1 = r.floats(tiles, 3 * kQLanes);
    return r.err == GRU_MICRO_OK;
}

bool read_dense(Reader& r, Layer& l) {
    l.format = r.version >= 3 ? r.u32() : kFormatF32;
    if (l.format == kFormatF32) {
        l.w = r.floats(l.out, l.in);
        l.b0 = r.floats(l.out);
        return r.err == GRU_MICRO_OK;
    }
    if (r.err != GRU_MICRO_OK) return false;
    if (l.format != kFormatInt8) return r.fail(l.format <= 2 ? GRU_MICRO_UNSUPPORTED : GRU_MICRO_BAD_MODEL);
    l.x_scale = r.f32();
    if (!(l.x_scale >= 0.0f && l.x_scale <= 3.4e38f)) return r.fail(GRU_MICRO_BAD_MODEL);
    const uint32_t blocks = (l.out + kQLanes - 1) / kQLanes;
    l.qw = r.qmatrix(l.in, 1, blocks);
    l.b0 = r.floats(uint64_t(blocks) * kQLanes);
    return r.err == GRU_MICRO_OK;
}

bool read_layer(Reader& r, Layer& l) {
    l = Layer{};
    l.kind = r.u32();
    l.in = r.width();
    l.out = r.width();
    if (r.err != GRU_MICRO_OK) return false;
    switch (l.kind) {
        case kGru: return read_gru(r, l);
        case kDense: return read_dense(r, l);
        case kActivation:
            l.act = r.act(&l.alpha, &l.beta);
            if (r.err != GRU_MICRO_OK) return false;
            if (l.out != l.in || l.act >= kActCount) return r.fail(GRU_MICRO_BAD_MODEL);
            // every kind but gelu and log_softmax (kernels/act_scalar.h: erff and logf, ~1.7 KB of libm)
            return (l.act != kGelu && l.act != kLogSoftmax) || r.fail(GRU_MICRO_UNSUPPORTED);
        case kLastStep: return l.out == l.in || r.fail(GRU_MICRO_BAD_MODEL);
        case kAffine:
            if (l.out != l.in) return r.fail(GRU_MICRO_BAD_MODEL);
            l.w = r.floats(l.in);
            l.b0 = r.floats(l.in);
            return r.err == GRU_MICRO_OK;
        case kEmbedding: case kInputSkip: return r.fail(GRU_MICRO_UNSUPPORTED);
        default: return r.fail(GRU_MICRO_BAD_MODEL);
    }
}

}  // namespace

size_t gru_scratch_bytes(const Layer& l) {
    if (l.format == kFormatF32) return (l.reset_after ? 0 : (l.hidden + kTile - 1) / kTile * 2 * kTileRow) * 4;
    const size_t tiles = (l.hidden + kQLanes - 1) / kQLanes;
    // A and B pre-activations (48 per tile each), r * h (16 per tile), int8 x, h and r * h.
    return tiles * (2 * 3 * kQLanes + kQLanes) * 4 + l.qw.kpad + 2 * size_t(l.qr.kpad) + 8;
}

size_t dense_scratch_bytes(const Layer& l) { return l.format == kFormatInt8 ? l.qw.kpad + 8 : 0; }

gru_micro_status parse(const uint8_t* p, size_t size, Layer* layers, size_t capacity, Plan* plan) {
    if (!p || !plan) return GRU_MICRO_BAD_ARGUMENT;
    if (reinterpret_cast<uintptr_t>(p) % 4 != 0) return GRU_MICRO_MISALIGNED;
    uint32_t version, flags;
    uint64_t meta_offset, meta_size, data_offset, data_size, checksum, reserved;
    if (size < kHeader || memcmp(p, "GRUINFER", 8) != 0) return GRU_MICRO_BAD_MODEL;
    memcpy(&version, p + 8, 4); memcpy(&flags, p + 12, 4);
    memcpy(&meta_offset, p + 16, 8); memcpy(&meta_size, p + 24, 8); memcpy(&data_offset, p + 32, 8);
    memcpy(&data_size, p + 40, 8); memcpy(&checksum, p + 48, 8); memcpy(&reserved, p + 56, 8);
    if (version < kMinVersion || version > kMaxVersion) return GRU_MICRO_BAD_VERSION;
    if (flags != 0 || reserved != 0 || meta_offset != kHeader || meta_size > size - kHeader ||
        data_offset % 64 != 0 || data_offset < kHeader + meta_size || data_offset > size ||
        data_size != size - data_offset || gru_infer::fnv1a64(p + kHeader, size - kHeader) != checksum)
        return GRU_MICRO_BAD_MODEL;

    Reader r{p, size, kHeader, kHeader + meta_size, data_offset, version};
    const uint32_t source = r.u32();  // the source's name: skipped
    if (r.err == GRU_MICRO_OK && r.end - r.pos < source) return GRU_MICRO_BAD_MODEL;
    r.pos += source;
    const uint32_t n = r.u32();
    if (r.err != GRU_MICRO_OK) return r.err;
    if (n == 0 || n > meta_size / 12) return GRU_MICRO_BAD_MODEL;  // a record has 12 bytes at least
    *plan = Plan{n, 0, 0, 0, 0, 0};
    uint32_t prev_out = 0;
    for (uint32_t i = 0; i < n; ++i) {
        Layer l;
        if (!read_layer(r, l)) return r.err;
        if (i == 0) plan->input = l.in;
        else if (l.in != prev_out) return GRU_MICRO_BAD_MODEL;
        prev_out = l.out;
        if (l.in > plan->max_width) plan->max_width = l.in;
        if (l.out > plan->max_width) plan->max_width = l.out;
        size_t s = 0;
        if (l.kind == kGru) {
            l.state = plan->state_floats;
            plan->state_floats += l.hidden;
            s = gru_scratch_bytes(l);
        } else if (l.kind == kDense) {
            s = dense_scratch_bytes(l);
        }
        if (s > plan->scratch_bytes) plan->scratch_bytes = s;
        if (i < capacity) layers[i] = l;
    }
    plan->output = prev_out;
    return r.pos == r.end ? GRU_MICRO_OK : GRU_MICRO_BAD_MODEL;
}

}  // namespace gru_micro_impl
