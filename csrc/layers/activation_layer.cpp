#include "gru_infer/activation_layer.h"

#include <cstring>
#include <string>

#include "gru_infer/error.h"

namespace gru_infer {

ActivationLayer::ActivationLayer(std::size_t features, ActSpec act) : n_(features), act_(act) {
    if (features == 0) throw InvalidArgument("Activation layer needs a positive feature count");
    if (static_cast<std::uint32_t>(act.kind) >= static_cast<std::uint32_t>(ActKind::Count))
        throw InvalidArgument("unknown activation kind " + std::to_string(static_cast<std::uint32_t>(act.kind)));
    if (act.kind == ActKind::Celu && act.alpha == 0.0f) throw InvalidArgument("celu needs alpha != 0");
    if (act.kind == ActKind::Clip && !(act.alpha <= act.beta))
        throw InvalidArgument("clip needs min (alpha) <= max (beta)");
}

void ActivationLayer::forward(const float* x, float* y, std::size_t B, std::size_t T,
                              const SequenceContext&) const {
    if (x != y) std::memcpy(y, x, B * T * n_ * sizeof(float));
    apply_activation_rows(act_, y, B * T, n_);
}

void ActivationLayer::step(const float* x, float* y, std::size_t B, float*, float*, const StepContext&) const {
    if (x != y) std::memcpy(y, x, B * n_ * sizeof(float));
    apply_activation_rows(act_, y, B, n_);
}

}  // namespace gru_infer
