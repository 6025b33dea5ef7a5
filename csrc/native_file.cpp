// Reader and writer of the native model file; the layout is in docs/native_format.md.
// The reader trusts nothing: every size, offset and enum is checked before use, so a corrupt or
// hostile file gives a FormatError, never a crash or an out-of-bounds read.
#include "gru_infer/native_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "gru_infer/activation_layer.h"
#include "gru_infer/affine_layer.h"
#include "runtime/checked_size.h"
#include "runtime/file_io.h"
#include "runtime/fnv1a64.h"
#include "gru_infer/dense_layer.h"
#include "gru_infer/embedding_layer.h"
#include "gru_infer/error.h"
#include "gru_infer/gru_layer.h"
#include "gru_infer/input_skip_layer.h"
#include "gru_infer/last_step_layer.h"
#include "gru_infer/packed_gru.h"
#include "kernels/quant_kernels.h"

namespace gru_infer {
namespace {

constexpr char kMagic[8] = {'G', 'R', 'U', 'I', 'N', 'F', 'E', 'R'};
constexpr std::size_t kHeaderSize = 64;
constexpr std::uint32_t kDtypeF32 = 1, kDtypeU8 = 2, kDtypeI32 = 3;  // u8: raw bytes of int8 / bf16 / fp16 weights
constexpr std::uint32_t kStoragePlain = 0, kStoragePacked = 1, kStorageQuant = 2;

std::size_t dtype_bytes(std::uint32_t dtype) { return dtype == kDtypeU8 ? 1 : 4; }
constexpr std::uint64_t kMaxRows = std::uint64_t(1) << 31;  // Embedding rows; widths: kMaxLayerWidth

bool host_is_little_endian() {
    const std::uint32_t one = 1;
    unsigned char c;
    std::memcpy(&c, &one, 1);
    return c == 1;
}

std::size_t align_up(std::size_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

// ---- writing ----

struct Writer {
    std::vector<std::uint8_t> meta;
    std::vector<std::vector<GruWeights>> unpacked;  // keeps tensors made for writing alive
    struct Data { const void* p; std::size_t bytes; };
    std::vector<Data> tensors;                  // data section, in order
    std::size_t data_size = 0;                  // bytes so far, each tensor 64-byte aligned
    std::uint32_t version = 2;                  // raised to what a layer needs: 3 reduced precision, 4 a GRU initial state
    // Fields newer versions have in every record (fp32 Dense format: 3; GRU has_initial_state: 4):
    // (metadata offset, first version), a u32 0 goes there if the file is that version or newer.
    std::vector<std::pair<std::size_t, std::uint32_t>> later_fields;

    template <typename T> void put(T v) {
        const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
        meta.insert(meta.end(), p, p + sizeof(T));
    }
    void u32(std::uint64_t v) { put(static_cast<std::uint32_t>(v)); }
    void act(const ActSpec& a) { u32(static_cast<std::uint32_t>(a.kind)); put(a.alpha); put(a.beta); }
    void str(const std::string& s) { u32(s.size()); meta.insert(meta.end(), s.begin(), s.end()); }
    // Records dims and the tensor's offset relative to the data section (made absolute by +data_offset).
    void tensor(const AlignedBuffer& t, std::initializer_list<std::size_t> dims, std::uint32_t dtype = kDtypeF32) {
        tensor(t.data(), dims, dtype);
    }
    void tensor(const void* data, std::initializer_list<std::size_t> dims, std::uint32_t dtype = kDtypeF32) {
        u32(dtype);
        u32(dims.size());
        std::size_t count = 1;
        for (auto d : dims) { put(static_cast<std::uint64_t>(d)); count *= d; }
        put(static_cast<std::uint64_t>(data_size));
        tensors.push_back({data, count * dtype_bytes(dtype)});
        data_size = align_up(data_size + count * dtype_bytes(dtype));
    }
    void qmatrix(const QMatrix& m) {
        tensor(m.data, {m.blocks, m.block_bytes()}, kDtypeU8);
        if (m.format != WeightFormat::Int8) return;
        tensor(m.scale, {m.packed_rows()});
        tensor(m.rowsum, {m.packed_rows()}, kDtypeI32);
    }
};

void write_layer(Writer& w, const Layer& layer) {
    w.u32(static_cast<std::uint32_t>(layer.kind()));
    w.u32(layer.input_size());
    w.u32(layer.output_size());
    switch (layer.kind()) {
        case LayerKind::Gru: {
            const auto& g = static_cast<const GruLayer&>(layer);
            const GruConfig& c = g.config();
            const std::size_t H = c.hidden_size, I = c.input_size;
            w.u32(H);
            w.u32(static_cast<std::uint32_t>(c.direction));
            w.u32(c.linear_before_reset);
            w.u32(c.has_bias);
            w.u32(static_cast<std::uint32_t>(c.merge_mode));
            w.u32(c.return_sequences);
            w.u32(c.reverse_output_in_processing_order);
            w.act(c.gate_activation);
            w.act(c.candidate_activation);
            w.put(c.clip);
            if (c.initial_state.empty()) {
                w.later_fields.push_back({w.meta.size(), 4});  // has_initial_state = 0 in version 4
            } else {
                w.version = 4;
                w.u32(1);
                w.tensor(c.initial_state.data(), {c.num_directions(), H});
            }
            if (const auto* q = g.quantized()) {  // storage 2 (version 3): reduced precision, loadable in place
                w.version = std::max(w.version, 3u);
                w.u32(kStorageQuant);
                w.u32(static_cast<std::uint32_t>(g.weight_format()));
                w.put((*q)[0].x_scale);
                for (const auto& d : *q) {
                    w.qmatrix(d.W);
                    w.qmatrix(d.R);
                    w.tensor(d.bx, {d.tiles, kQTileRow});
                    w.tensor(d.bh, {d.tiles, kQTileRow});
                }
                break;
            }
            if (!g.packed().empty()) {  // storage 1: the packed layout, loadable in place
                w.u32(1);
                for (const auto& p : g.packed()) {
                    w.tensor(p.w, {p.tiles, I + H, kTileRow});
                    w.tensor(p.bx, {p.tiles, kTileRow});
                    w.tensor(p.bh, {p.tiles, kTileRow});
                }
                break;
            }
            w.u32(0);  // storage 0: plain W, R, bW, bR
            w.unpacked.push_back(g.weights());
            for (const auto& d : w.unpacked.back()) {
                w.tensor(d.W, {3 * H, I});
                w.tensor(d.R, {3 * H, H});
                w.tensor(d.bW, {3 * H});
                w.tensor(d.bR, {3 * H});
            }
            break;
        }
        case LayerKind::Dense: {
            const auto& d = static_cast<const DenseLayer&>(layer);
            if (const QuantDense* q = d.quantized()) {  // version 3: u32 weight format, then its tensors
                w.version = std::max(w.version, 3u);
                w.u32(static_cast<std::uint32_t>(q->W.format));
                w.put(q->x_scale);
                w.qmatrix(q->W);
                w.tensor(q->bias, {q->W.packed_rows()});
                break;
            }
            w.later_fields.push_back({w.meta.size(), 3});  // version 3 files hold a format here (0 = fp32)
            w.tensor(d.weight(), {d.output_size(), d.input_size()});
            w.tensor(d.bias(), {d.output_size()});
            break;
        }
        case LayerKind::Activation:
            w.act(static_cast<const ActivationLayer&>(layer).activation());
            break;
        case LayerKind::Embedding: {
            const auto& e = static_cast<const EmbeddingLayer&>(layer);
            w.u32(e.num_embeddings());
            w.tensor(e.table(), {e.num_embeddings(), e.output_size()});
            break;
        }
        case LayerKind::LastStep: break;
        case LayerKind::InputSkip: {
            const auto& s = static_cast<const InputSkipLayer&>(layer);
            w.u32(s.start());
            w.u32(s.model_input_size());
            break;
        }
        case LayerKind::Affine: {
            const auto& a = static_cast<const AffineLayer&>(layer);
            w.tensor(a.scale(), {a.output_size()});
            w.tensor(a.shift(), {a.output_size()});
            break;
        }
    }
}

template <typename T> void put_at(std::vector<std::uint8_t>& out, std::size_t at, T v) {
    std::memcpy(out.data() + at, &v, sizeof(T));
}

// ---- reading ----

class Reader {
public:
    Reader(const std::uint8_t* file, std::size_t file_size, std::size_t meta_begin, std::size_t meta_end,
           std::size_t data_offset, std::uint32_t version, bool view)
        : file_(file), file_size_(file_size), pos_(meta_begin), end_(meta_end), data_offset_(data_offset),
          version_(version), view_(view) {}
    std::uint32_t version() const { return version_; }

    template <typename T> T get(const char* what) {
        if (end_ - pos_ < sizeof(T)) fail(std::string("truncated metadata while reading ") + what);
        T v;
        std::memcpy(&v, file_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }
    std::uint32_t u32(const char* what) { return get<std::uint32_t>(what); }
    // A width (features, units) or, with max = kMaxRows, a row count: in [1, max].
    std::size_t size(const char* what, std::uint64_t max = kMaxLayerWidth) {
        std::uint32_t v = u32(what);
        if (v == 0 || v > max)
            fail(std::string(what) + " = " + std::to_string(v) + " is outside [1, " + std::to_string(max) + "]");
        return v;
    }
    bool flag(const char* what) {
        std::uint32_t v = u32(what);
        if (v > 1) fail(std::string(what) + " must be 0 or 1, got " + std::to_string(v));
        return v == 1;
    }
    float f32(const char* what) { return get<float>(what); }
    ActSpec act(const char* what) {
        ActSpec a;
        std::uint32_t k = u32(what);
        if (k >= static_cast<std::uint32_t>(ActKind::Count))
            fail(std::string(what) + ": unknown activation kind " + std::to_string(k));
        a.kind = static_cast<ActKind>(k);
        a.alpha = f32(what);
        a.beta = f32(what);
        return a;
    }
    std::string str(const char* what) {
        std::uint32_t n = u32(what);
        if (end_ - pos_ < n) fail(std::string("truncated metadata while reading ") + what);
        std::string s(reinterpret_cast<const char*>(file_ + pos_), n);
        pos_ += n;
        return s;
    }
    // Reads a tensor record, checks it has exactly `dims`, and copies its data.
    AlignedBuffer tensor(const char* what, std::initializer_list<std::size_t> dims, std::uint32_t dtype = kDtypeF32) {
        const std::uint32_t got = u32(what);
        if (got != dtype)
            fail(std::string(what) + ": tensor dtype " + std::to_string(got) + ", expected " + std::to_string(dtype));
        std::uint32_t ndim = u32(what);
        if (ndim != dims.size())
            fail(std::string(what) + ": expected " + std::to_string(dims.size()) + " dimensions, got " +
                 std::to_string(ndim));
        std::size_t count = 1;
        for (auto expect : dims) {
            std::uint64_t d = get<std::uint64_t>(what);
            if (d != expect)
                fail(std::string(what) + ": dimension " + std::to_string(d) + " does not match the layer (" +
                     std::to_string(expect) + ")");
            count = checked_mul(count, expect, what);
            if (count > file_size_ / dtype_bytes(dtype)) fail(std::string(what) + ": tensor is larger than the file");
        }
        std::uint64_t rel = get<std::uint64_t>(what);
        const std::uint64_t bytes = static_cast<std::uint64_t>(count) * dtype_bytes(dtype);
        if (rel % kAlignment != 0 || rel > file_size_ || data_offset_ > file_size_ - rel ||
            bytes > file_size_ - data_offset_ - rel)
            fail(std::string(what) + ": tensor data lies outside the file");
        const float* data = reinterpret_cast<const float*>(file_ + data_offset_ + rel);
        if (dtype == kDtypeU8) {  // raw bytes, held in float storage (a multiple of 64 bytes: see qmatrix)
            if (bytes % 4 != 0) fail(std::string(what) + ": byte tensor size is not a multiple of 4");
            count = bytes / 4;
        }
        return view_ ? AlignedBuffer::view(data, count) : AlignedBuffer(data, count);
    }
    bool done() const { return pos_ == end_; }
    [[noreturn]] static void fail(const std::string& msg) { throw FormatError("invalid model file: " + msg); }

private:
    const std::uint8_t* file_;
    std::size_t file_size_, pos_, end_, data_offset_;
    std::uint32_t version_;
    bool view_;
};

WeightFormat read_format(Reader& r, const char* what, bool fp32_ok = false) {
    const std::uint32_t f = r.u32(what);
    if (f > static_cast<std::uint32_t>(WeightFormat::Int8) || (f == 0 && !fp32_ok))
        Reader::fail(std::string(what) + " " + std::to_string(f) + " is not " + (fp32_ok ? "0 (fp32), " : "") +
                     "1 (fp16), 2 (bf16) or 3 (int8)");
    return static_cast<WeightFormat>(f);
}

float read_scale(Reader& r) {
    const float s = r.f32("int8 input scale");
    if (!(s >= 0.0f) || std::isinf(s)) Reader::fail("int8 input scale must be finite and >= 0, got " + std::to_string(s));
    return s;
}

// A packed reduced-precision matrix; int8 ones are checked (weights in [-127, 127], finite scales
// >= 0, row sums that match), bf16 ones hold no denormal (vdpbf16ps reads one as zero, the other
// ISAs would not), so no file can make a kernel compute something else than written.
QMatrix read_qmatrix(Reader& r, WeightFormat f, std::size_t rows, std::size_t cols, std::size_t subs,
                     std::size_t blocks, long (*row_of)(std::size_t, std::size_t, std::size_t), const char* what) {
    QMatrix m;
    m.format = f; m.rows = rows; m.cols = cols; m.subs = subs; m.blocks = blocks;
    const std::size_t G = q_group(f);
    m.kpad = (cols + G - 1) / G * G;
    if (f == WeightFormat::Int8 && cols > 66000) Reader::fail(std::string(what) + ": too many inputs for int8");
    m.data = r.tensor(what, {blocks, m.block_bytes()}, kDtypeU8);
    if (f == WeightFormat::BF16) {
        const auto* u = static_cast<const std::uint16_t*>(m.bytes());
        for (std::size_t i = 0; i < blocks * m.block_bytes() / 2; ++i)
            if ((u[i] & 0x7f80u) == 0 && (u[i] & 0x7fu) != 0)
                Reader::fail(std::string(what) + ": bf16 weight is a denormal (weights are rounded with denormals flushed)");
    }
    if (f != WeightFormat::Int8) return m;
    m.scale = r.tensor(what, {m.packed_rows()});
    m.rowsum = r.tensor(what, {m.packed_rows()}, kDtypeI32);
    const auto* w = static_cast<const std::int8_t*>(m.bytes());
    std::vector<std::int32_t> sums(m.packed_rows(), 0);
    const std::size_t per_block = subs * kQLanes;
    for (std::size_t i = 0; i < blocks * m.block_bytes(); ++i) {
        if (w[i] == -128) Reader::fail(std::string(what) + ": int8 weight -128 (weights are in [-127, 127])");
        const std::size_t b = i / m.block_bytes(), in_block = i % m.block_bytes();
        const std::size_t s = (in_block / (kQLanes * G)) % subs, l = (in_block % (kQLanes * G)) / G;
        sums[b * per_block + s * kQLanes + l] += w[i];
    }
    for (std::size_t p = 0; p < m.packed_rows(); ++p) {
        const bool pad = row_of(p, rows, subs) < 0;
        if (!(m.scale[p] >= 0.0f) || std::isinf(m.scale[p]) || sums[p] != m.rowsums()[p] || (pad && sums[p] != 0))
            Reader::fail(std::string(what) + ": int8 scales or row sums do not match the weights");
    }
    return m;
}

std::unique_ptr<Layer> read_layer(Reader& r) {
    const std::uint32_t kind = r.u32("layer kind");
    const std::size_t in = r.size("layer input size"), out = r.size("layer output size");
    std::unique_ptr<Layer> layer;
    switch (static_cast<LayerKind>(kind)) {
        case LayerKind::Gru: {
            GruConfig c;
            c.input_size = in;
            c.hidden_size = r.size("GRU hidden size");
            std::uint32_t dir = r.u32("GRU direction");
            if (dir > 2) Reader::fail("GRU direction " + std::to_string(dir) + " is not 0, 1 or 2");
            c.direction = static_cast<GruDirection>(dir);
            c.linear_before_reset = r.flag("GRU linear_before_reset");
            c.has_bias = r.flag("GRU has_bias");
            std::uint32_t merge = r.u32("GRU merge mode");
            if (merge > 3) Reader::fail("GRU merge mode " + std::to_string(merge) + " is not 0..3");
            c.merge_mode = static_cast<MergeMode>(merge);
            c.return_sequences = r.flag("GRU return_sequences");
            c.reverse_output_in_processing_order = r.flag("GRU reverse_output_in_processing_order");
            c.gate_activation = r.act("GRU gate activation");
            c.candidate_activation = r.act("GRU candidate activation");
            c.clip = r.f32("GRU clip");
            const std::size_t H = c.hidden_size;
            if (r.version() >= 4 && r.flag("GRU has_initial_state")) {
                const AlignedBuffer h0 = r.tensor("GRU initial state", {c.num_directions(), H});
                c.initial_state.assign(h0.data(), h0.data() + h0.size());
            }
            const std::uint32_t storage = r.version() >= 2 ? r.u32("GRU weight storage") : 0;
            if (storage == 1) {  // packed: used as is (and in place, in view mode)
                if (!GruLayer::uses_packed_kernels(c)) Reader::fail("packed GRU weights need sigmoid/tanh activations");
                std::vector<PackedGru> packed;
                const std::size_t tiles = tiles_for(H);
                for (std::size_t d = 0; d < c.num_directions(); ++d) {
                    PackedGru p;
                    p.input = in; p.hidden = H; p.tiles = tiles; p.tile_stride = (in + H) * kTileRow;
                    p.w = r.tensor("GRU packed weights", {tiles, in + H, kTileRow});
                    p.bx = r.tensor("GRU packed input bias", {tiles, kTileRow});
                    p.bh = r.tensor("GRU packed recurrent bias", {tiles, kTileRow});
                    packed.push_back(std::move(p));
                }
                layer = std::make_unique<GruLayer>(c, std::move(packed));
                break;
            }
            if (storage == kStorageQuant && r.version() >= 3) {
                if (!GruLayer::uses_packed_kernels(c)) Reader::fail("reduced-precision GRU weights need sigmoid/tanh activations");
                const WeightFormat f = read_format(r, "GRU weight format");
                if (!kHasReducedPrecision)
                    Reader::fail(std::string("GRU weights in ") + weight_format_name(f) + ": " + kNoReducedPrecision);
                const float xs = read_scale(r);
                std::vector<QuantGru> q;
                const std::size_t tiles = (H + kQLanes - 1) / kQLanes;
                for (std::size_t d = 0; d < c.num_directions(); ++d) {
                    QuantGru g;
                    g.format = f; g.input = in; g.hidden = H; g.tiles = tiles; g.x_scale = xs;
                    g.W = read_qmatrix(r, f, 3 * H, in, 3, tiles, gru_row_of, "GRU W");
                    g.R = read_qmatrix(r, f, 3 * H, H, 3, tiles, gru_row_of, "GRU R");
                    g.bx = r.tensor("GRU packed input bias", {tiles, kQTileRow});
                    g.bh = r.tensor("GRU packed recurrent bias", {tiles, kQTileRow});
                    q.push_back(std::move(g));
                }
                layer = std::make_unique<GruLayer>(c, std::move(q));
                break;
            }
            if (storage != 0) Reader::fail("GRU weight storage " + std::to_string(storage) + " is not 0 or 1" +
                                           (r.version() >= 3 ? " or 2" : ""));
            std::vector<GruWeights> w;
            for (std::size_t d = 0; d < c.num_directions(); ++d) {
                GruWeights g;
                g.W = r.tensor("GRU W", {3 * H, in});
                g.R = r.tensor("GRU R", {3 * H, H});
                g.bW = r.tensor("GRU bW", {3 * H});
                g.bR = r.tensor("GRU bR", {3 * H});
                w.push_back(std::move(g));
            }
            layer = std::make_unique<GruLayer>(c, std::move(w));
            break;
        }
        case LayerKind::Dense: {
            const WeightFormat f = r.version() >= 3 ? read_format(r, "Dense weight format", true) : WeightFormat::F32;
            if (f != WeightFormat::F32) {
                if (!kHasReducedPrecision)
                    Reader::fail(std::string("Dense weights in ") + weight_format_name(f) + ": " + kNoReducedPrecision);
                QuantDense q;
                q.x_scale = read_scale(r);
                q.W = read_qmatrix(r, f, out, in, 1, (out + kQLanes - 1) / kQLanes, dense_row_of, "Dense weight");
                q.bias = r.tensor("Dense bias", {q.W.packed_rows()});
                layer = std::make_unique<DenseLayer>(in, out, std::move(q));
                break;
            }
            AlignedBuffer W = r.tensor("Dense weight", {out, in});
            AlignedBuffer b = r.tensor("Dense bias", {out});
            layer = std::make_unique<DenseLayer>(in, out, std::move(W), std::move(b));
            break;
        }
        case LayerKind::Activation:
            layer = std::make_unique<ActivationLayer>(in, r.act("activation"));
            break;
        case LayerKind::Embedding: {
            std::size_t num = r.size("Embedding rows", kMaxRows);
            if (in != 1) Reader::fail("Embedding input size must be 1");
            layer = std::make_unique<EmbeddingLayer>(num, out, r.tensor("Embedding table", {num, out}));
            break;
        }
        case LayerKind::LastStep:
            layer = std::make_unique<LastStepLayer>(in);
            break;
        case LayerKind::InputSkip: {
            const std::uint32_t start = r.u32("InputSkip start");
            const std::size_t src = r.size("InputSkip model input size");
            if (start > src || in > src - start) Reader::fail("InputSkip slice lies outside the model input");
            layer = std::make_unique<InputSkipLayer>(in, start, src);
            break;
        }
        case LayerKind::Affine: {
            AlignedBuffer scale = r.tensor("Affine scale", {in});
            AlignedBuffer shift = r.tensor("Affine shift", {in});
            layer = std::make_unique<AffineLayer>(in, std::move(scale), std::move(shift));
            break;
        }
        default:
            Reader::fail("unknown layer kind " + std::to_string(kind));
    }
    if (layer->input_size() != in || layer->output_size() != out)
        Reader::fail(std::string(layer_kind_name(layer->kind())) + " sizes do not match its record");
    return layer;
}

}  // namespace

std::vector<std::uint8_t> serialize_model(const Model& model) {
    if (!host_is_little_endian()) throw FormatError("the native format is written on little-endian hosts only");
    Writer w;
    w.str(model.source);
    w.u32(model.layers().size());
    for (const auto& l : model.layers()) write_layer(w, *l);
    for (auto it = w.later_fields.rbegin(); it != w.later_fields.rend(); ++it)  // last first
        if (w.version >= it->second) w.meta.insert(w.meta.begin() + static_cast<std::ptrdiff_t>(it->first), 4, std::uint8_t{0});

    const std::size_t meta_offset = kHeaderSize;
    const std::size_t data_offset = align_up(meta_offset + w.meta.size());
    std::vector<std::uint8_t> out(data_offset + w.data_size, 0);
    std::memcpy(out.data() + meta_offset, w.meta.data(), w.meta.size());
    std::size_t at = data_offset;
    for (const Writer::Data& t : w.tensors) {
        if (t.bytes) std::memcpy(out.data() + at, t.p, t.bytes);
        at = align_up(at + t.bytes);
    }
    std::memcpy(out.data(), kMagic, sizeof(kMagic));
    put_at<std::uint32_t>(out, 8, w.version);
    put_at<std::uint32_t>(out, 12, 0);  // flags
    put_at<std::uint64_t>(out, 16, meta_offset);
    put_at<std::uint64_t>(out, 24, w.meta.size());
    put_at<std::uint64_t>(out, 32, data_offset);
    put_at<std::uint64_t>(out, 40, w.data_size);
    put_at<std::uint64_t>(out, 48, fnv1a64(out.data() + kHeaderSize, out.size() - kHeaderSize));
    return out;
}

void save_model(const Model& model, const std::string& path) {
    const auto bytes = serialize_model(model);
    write_file_atomically(path, bytes.data(), bytes.size());
}

namespace {

// The header's own checks, which need only its 64 bytes and the file's size: run on a file's head
// before the rest is read.
void check_header(const std::uint8_t* p, std::size_t available, std::uint64_t size) {
    if (!host_is_little_endian()) throw FormatError("the native format is read on little-endian hosts only");
    if (!p || available < kHeaderSize || size < kHeaderSize || std::memcmp(p, kMagic, sizeof(kMagic)) != 0)
        throw FormatError("not a gru_infer model file (no GRUINFER header)");
    auto u32_at = [&](std::size_t at) { std::uint32_t v; std::memcpy(&v, p + at, 4); return v; };
    auto u64_at = [&](std::size_t at) { std::uint64_t v; std::memcpy(&v, p + at, 8); return v; };
    const std::uint32_t version = u32_at(8);
    if (version < 1 || version > kNativeFormatVersion)
        throw FormatError("model file has format version " + std::to_string(version) +
                          "; this build reads versions 1 to " + std::to_string(kNativeFormatVersion));
    if (u32_at(12) != 0) throw FormatError("invalid model file: unknown flags " + std::to_string(u32_at(12)));
    if (u64_at(56) != 0) throw FormatError("invalid model file: reserved header bytes 56-63 are not zero");
    const std::uint64_t meta_offset = u64_at(16), meta_size = u64_at(24), data_offset = u64_at(32),
                        data_size = u64_at(40);
    if (meta_offset != kHeaderSize || meta_size > size - kHeaderSize || data_offset % kAlignment != 0 ||
        data_offset < meta_offset + meta_size || data_offset > size || data_size != size - data_offset)
        throw FormatError("invalid model file: section sizes do not match a file of " + std::to_string(size) +
                          " bytes (truncated or corrupt)");
}

}  // namespace

std::shared_ptr<Model> load_model_from_memory(const void* data, std::size_t size, LoadMode mode) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    check_header(p, size, size);
    auto u32_at = [&](std::size_t at) { std::uint32_t v; std::memcpy(&v, p + at, 4); return v; };
    auto u64_at = [&](std::size_t at) { std::uint64_t v; std::memcpy(&v, p + at, 8); return v; };
    const std::uint32_t version = u32_at(8);
    const bool view = mode == LoadMode::View;
    if (view && reinterpret_cast<std::uintptr_t>(data) % kAlignment != 0)
        throw InvalidArgument("loading a model in place needs a 64-byte aligned buffer");
    const std::uint64_t meta_offset = u64_at(16), meta_size = u64_at(24), data_offset = u64_at(32),
                        checksum = u64_at(48);
    if (fnv1a64(p + kHeaderSize, size - kHeaderSize) != checksum)
        throw FormatError("invalid model file: checksum mismatch (the file is corrupt)");

    Reader r(p, size, meta_offset, meta_offset + meta_size, data_offset, version, view);
    auto model = std::make_shared<Model>();
    model->source = r.str("source");
    const std::uint32_t n = r.u32("layer count");
    if (n == 0) Reader::fail("the model has no layers");
    for (std::uint32_t i = 0; i < n; ++i) {
        try {
            model->add(read_layer(r));
        } catch (const InvalidArgument& e) {
            Reader::fail("layer " + std::to_string(i) + ": " + e.what());
        }
    }
    if (!r.done()) Reader::fail("trailing bytes after the last layer record");
    return model;
}

std::shared_ptr<Model> load_model(const std::string& path) {
    const auto bytes = read_regular_file(path, kHeaderSize, check_header);
    return load_model_from_memory(bytes.data(), bytes.size());
}

}  // namespace gru_infer
