#include "gru_infer/dense_layer.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "gru_infer/error.h"
#include "kernels/kernels.h"
#include "kernels/quant_kernels.h"
#include "runtime/checked_size.h"

namespace gru_infer {

DenseLayer::DenseLayer(std::size_t in, std::size_t out, AlignedBuffer weight, AlignedBuffer bias)
    : in_(in), out_(out), w_(std::move(weight)), b_(std::move(bias)) {
    if (in == 0 || out == 0)
        throw InvalidArgument("Dense sizes must be positive, got in=" + std::to_string(in) +
                              ", out=" + std::to_string(out));
    if (w_.size() != checked_mul(in, out, "Dense weight (out x in)"))  // (no wrap on 32-bit hosts)
        throw InvalidArgument("Dense weight: expected " + std::to_string(out) + " x " +
                              std::to_string(in) + " values, got " + std::to_string(w_.size()));
    if (b_.size() != out)
        throw InvalidArgument("Dense bias: expected " + std::to_string(out) + " values, got " +
                              std::to_string(b_.size()));
}

DenseLayer::DenseLayer(std::size_t in, std::size_t out, QuantDense quant)
    : in_(in), out_(out), q_(std::make_shared<const QuantDense>(std::move(quant))) {
    if (!kHasReducedPrecision) throw InvalidArgument(kNoReducedPrecision);
    const QMatrix& m = q_->W;
    if (in == 0 || out == 0 || m.cols != in || m.rows != out || m.subs != 1 || m.blocks != (out + kQLanes - 1) / kQLanes ||
        q_->bias.size() != m.packed_rows())
        throw InvalidArgument("reduced-precision Dense weights do not match in=" + std::to_string(in) +
                              ", out=" + std::to_string(out));
}

DenseLayer::~DenseLayer() = default;

WeightFormat DenseLayer::weight_format() const { return q_ ? q_->W.format : WeightFormat::F32; }

AlignedBuffer DenseLayer::weight_fp32() const {
    if (!q_) return w_;
    AlignedBuffer w(in_ * out_);
    unpack_qmatrix(q_->W, w.data(), dense_row_of);
    return w;
}

AlignedBuffer DenseLayer::bias_fp32() const { return q_ ? AlignedBuffer(q_->bias.data(), out_) : b_; }

// Packed output rows (a multiple of 16), then the GEMM's scratch, 64-byte aligned.
std::size_t DenseLayer::quant_scratch_floats(std::size_t rows) const {
    return rows * q_->W.packed_rows() + q_gemm_scratch_bytes(rows, q_->W) / sizeof(float) + 32;
}

void DenseLayer::run_quant(const float* x, std::size_t rows, float* y, float* scratch) const {
    const std::size_t P = q_->W.packed_rows();
    float* out = scratch;
    auto* s = reinterpret_cast<char*>(scratch + rows * P);
    s += (64 - reinterpret_cast<std::uintptr_t>(s) % 64) % 64;
    q_active(q_->W.format).gemm(rows, x, in_, q_->W, q_->x_scale, q_->bias.data(), out, P, s);
    for (std::size_t r = 0; r < rows; ++r) std::memcpy(y + r * out_, out + r * P, out_ * sizeof(float));
}

void DenseLayer::forward(const float* x, float* y, std::size_t B, std::size_t T,
                         const SequenceContext&) const {
    if (q_) {
        AlignedBuffer scratch = AlignedBuffer::uninitialized(quant_scratch_floats(B * T));
        return run_quant(x, B * T, y, scratch.data());
    }
    active_kernels().gemm_nt(B * T, out_, in_, x, in_, w_.data(), in_, b_.data(), y, out_);
}

std::size_t DenseLayer::step_scratch_size(std::size_t B) const { return q_ ? quant_scratch_floats(B) : 0; }

void DenseLayer::step(const float* x, float* y, std::size_t B, float*, float* scratch, const StepContext&) const {
    if (q_) return run_quant(x, B, y, scratch);
    active_kernels().gemm_nt(B, out_, in_, x, in_, w_.data(), in_, b_.data(), y, out_);
}

}  // namespace gru_infer
