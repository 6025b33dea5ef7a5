#include "gru_infer/affine_layer.h"

#include <string>

#include "gru_infer/error.h"

namespace gru_infer {

AffineLayer::AffineLayer(std::size_t features, AlignedBuffer scale, AlignedBuffer shift)
    : n_(features), scale_(std::move(scale)), shift_(std::move(shift)) {
    if (features == 0) throw InvalidArgument("Affine layer needs a positive feature count");
    if (scale_.size() != n_ || shift_.size() != n_)
        throw InvalidArgument("Affine scale and shift: expected " + std::to_string(n_) + " values each, got " +
                              std::to_string(scale_.size()) + " and " + std::to_string(shift_.size()));
}

void AffineLayer::apply(const float* x, float* y, std::size_t rows) const noexcept {
    const float* s = scale_.data();
    const float* b = shift_.data();
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t j = 0; j < n_; ++j) y[r * n_ + j] = x[r * n_ + j] * s[j] + b[j];
}

void AffineLayer::forward(const float* x, float* y, std::size_t B, std::size_t T, const SequenceContext&) const {
    apply(x, y, B * T);
}

void AffineLayer::step(const float* x, float* y, std::size_t B, float*, float*, const StepContext&) const { apply(x, y, B); }

}  // namespace gru_infer
