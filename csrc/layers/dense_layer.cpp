#include "gru_infer/dense_layer.h"

#include <string>

#include "gru_infer/error.h"
#include "kernels/kernels.h"

namespace gru_infer {

DenseLayer::DenseLayer(std::size_t in, std::size_t out, AlignedBuffer weight, AlignedBuffer bias)
    : in_(in), out_(out), w_(std::move(weight)), b_(std::move(bias)) {
    if (in == 0 || out == 0)
        throw InvalidArgument("Dense sizes must be positive, got in=" + std::to_string(in) +
                              ", out=" + std::to_string(out));
    if (w_.size() != in * out)
        throw InvalidArgument("Dense weight: expected " + std::to_string(out) + " x " +
                              std::to_string(in) + " values, got " + std::to_string(w_.size()));
    if (b_.size() != out)
        throw InvalidArgument("Dense bias: expected " + std::to_string(out) + " values, got " +
                              std::to_string(b_.size()));
}

void DenseLayer::forward(const float* x, float* y, std::size_t B, std::size_t T,
                         const SequenceContext&) const {
    active_kernels().gemm_nt(B * T, out_, in_, x, in_, w_.data(), in_, b_.data(), y, out_);
}

void DenseLayer::step(const float* x, float* y, std::size_t B, float*, float*, const StepContext&) const {
    active_kernels().gemm_nt(B, out_, in_, x, in_, w_.data(), in_, b_.data(), y, out_);
}

}  // namespace gru_infer
