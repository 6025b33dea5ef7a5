// Model::quantize: a copy of a model with reduced-precision GRU and Dense weights, and the
// calibration pass that measures each layer's input range.
#include <algorithm>
#include <cmath>
#include <string>

#include "gru_infer/dense_layer.h"
#include "gru_infer/embedding_layer.h"
#include "gru_infer/error.h"
#include "gru_infer/gru_layer.h"
#include "gru_infer/model.h"
#include "gru_infer/native_file.h"
#include "kernels/quant_kernels.h"

namespace gru_infer {
namespace {

// Reduced precision would hide a NaN or inf weight (the int8 row scale is a maximum, which skips
// NaN) where the fp32 model outputs NaN: refuse it, naming the layer and the tensor.
void check_finite(const AlignedBuffer& v, std::size_t layer, LayerKind kind, const std::string& tensor) {
    for (std::size_t k = 0; k < v.size(); ++k)
        if (!std::isfinite(v.data()[k]))
            throw InvalidArgument("cannot quantize layer " + std::to_string(layer) + " (" + layer_kind_name(kind) +
                                  "): its " + tensor + " holds " + (std::isnan(v.data()[k]) ? "NaN" : "inf") +
                                  " at index " + std::to_string(k) + " (only finite weights can be quantized)");
}

}  // namespace

const char* weight_format_name(WeightFormat f) {
    switch (f) {
        case WeightFormat::F32: return "fp32";
        case WeightFormat::F16: return "fp16";
        case WeightFormat::BF16: return "bf16";
        case WeightFormat::Int8: return "int8";
    }
    return "unknown";
}

WeightFormat parse_weight_format(const std::string& s) {
    for (WeightFormat f : {WeightFormat::F32, WeightFormat::F16, WeightFormat::BF16, WeightFormat::Int8})
        if (s == weight_format_name(f)) return f;
    if (s == "float32" || s == "f32") return WeightFormat::F32;
    if (s == "float16" || s == "half") return WeightFormat::F16;
    if (s == "bfloat16") return WeightFormat::BF16;
    throw InvalidArgument("weight format must be 'fp32', 'fp16', 'bf16' or 'int8', got '" + s + "'");
}

bool has_reduced_precision() { return kHasReducedPrecision; }

std::shared_ptr<Model> Model::quantize(WeightFormat f, const QuantizeOptions& o) const {
    const std::size_t n = layers_.size();
    if (static_cast<std::uint32_t>(f) > static_cast<std::uint32_t>(WeightFormat::Int8))
        throw InvalidArgument("unknown weight format " + std::to_string(static_cast<std::uint32_t>(f)));
    for (std::size_t i : o.keep_fp32)
        if (i >= n)
            throw InvalidArgument("keep_fp32: layer " + std::to_string(i) + " does not exist (the model has " +
                                  std::to_string(n) + " layers)");
    if (o.input_scales.size() > n)
        throw InvalidArgument("input_scales: " + std::to_string(o.input_scales.size()) + " values for " +
                              std::to_string(n) + " layers");
    if (f != WeightFormat::F32 && !kHasReducedPrecision)
        throw InvalidArgument(std::string("cannot quantize to ") + weight_format_name(f) + ": " + kNoReducedPrecision);
    for (float s : o.input_scales)
        if (!(s >= 0.0f) || std::isinf(s))
            throw InvalidArgument("input_scales must be finite and >= 0 (0 = dynamic), got " + std::to_string(s));
    // A deep copy through the native format (every layer kind knows how to write and read itself).
    const auto bytes = serialize_model(*this);
    auto out = load_model_from_memory(bytes.data(), bytes.size());
    for (std::size_t i = 0; i < n; ++i) {
        if (std::find(o.keep_fp32.begin(), o.keep_fp32.end(), i) != o.keep_fp32.end()) continue;
        const float scale = i < o.input_scales.size() ? o.input_scales[i] : 0.0f;
        Layer& l = *out->layers_[i];
        if (l.kind() == LayerKind::Gru) {
            const auto& g = static_cast<const GruLayer&>(l);
            if (!GruLayer::uses_packed_kernels(g.config())) continue;
            if (g.weight_format() == f) continue;
            const GruConfig c = g.config();
            std::vector<GruWeights> w = g.weights();
            if (f == WeightFormat::F32) {
                out->layers_[i] = std::make_unique<GruLayer>(c, std::move(w));
                continue;
            }
            for (std::size_t d = 0; d < w.size(); ++d) {
                const std::string dir = w.size() > 1 ? (d == 0 ? " (direction 0, forward)" : " (direction 1, reverse)") : "";
                check_finite(w[d].W, i, l.kind(), "W" + dir);
                check_finite(w[d].R, i, l.kind(), "R" + dir);
                check_finite(w[d].bW, i, l.kind(), "bW" + dir);
                check_finite(w[d].bR, i, l.kind(), "bR" + dir);
            }
            std::vector<QuantGru> q;
            for (const auto& d : w) q.push_back(quantize_gru(d, c.input_size, c.hidden_size, f, scale));
            out->layers_[i] = std::make_unique<GruLayer>(c, std::move(q));
        } else if (l.kind() == LayerKind::Dense) {
            const auto& d = static_cast<const DenseLayer&>(l);
            if (d.weight_format() == f) continue;
            const std::size_t in = d.input_size(), o_ = d.output_size();
            AlignedBuffer w = d.weight_fp32(), b = d.bias_fp32();
            if (f == WeightFormat::F32) {
                out->layers_[i] = std::make_unique<DenseLayer>(in, o_, std::move(w), std::move(b));
                continue;
            }
            check_finite(w, i, l.kind(), "weight");
            check_finite(b, i, l.kind(), "bias");
            out->layers_[i] = std::make_unique<DenseLayer>(in, o_, quantize_dense(w.data(), b.data(), in, o_, f, scale));
        }
    }
    out->source = source;
    return out;
}

std::vector<float> Model::layer_input_absmax(const float* x, const std::int64_t* ids, std::size_t B,
                                             std::size_t T) const {
    if (B == 0 || T == 0) throw InvalidArgument("calibration data must hold at least one step");
    if (takes_ids() ? !ids : !x) throw InvalidArgument(takes_ids() ? "calibration needs ids" : "calibration needs x");
    std::vector<float> amax(layers_.size(), 0.0f);
    std::size_t widest = input_size();
    for (const auto& l : layers_) widest = std::max(widest, l->output_size());
    AlignedBuffer a = AlignedBuffer::uninitialized(B * T * widest), b = AlignedBuffer::uninitialized(B * T * widest);
    const float* cur = x;
    std::size_t cur_T = T;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
        const Layer& l = *layers_[i];
        float* y = i % 2 == 0 ? a.data() : b.data();
        if (l.kind() == LayerKind::Embedding) {
            static_cast<const EmbeddingLayer&>(l).lookup(ids, B * T, y);
        } else {
            float m = 0.0f;
            for (std::size_t k = 0; k < B * cur_T * l.input_size(); ++k) m = std::max(m, std::fabs(cur[k]));
            amax[i] = m;
            SequenceContext ctx;
            ctx.model_input = x;  // for an InputSkip layer
            l.forward(cur, y, B, cur_T, ctx);
        }
        if (!l.keeps_time()) cur_T = 1;
        cur = y;
    }
    return amax;
}

}  // namespace gru_infer
