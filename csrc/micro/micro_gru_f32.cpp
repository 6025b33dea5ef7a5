// The fp32 GRU step: the hosted library's scalar reference kernel itself
// (kernels/gru_step/gru_step_f32_scalar.cpp, built into the micro library unchanged) on the
// file's packed rows, in place.
#include <string.h>

#include "gru_infer/activation.h"
#include "gru_infer/layer.h"
#include "gru_infer/weight_format.h"
#include "kernels/kernels.h"
#include "kernels/quant_kernels.h"
#include "micro_model.h"

namespace gru_infer {
void gru_step_reset_after_f32_scalar(const GruStepArgs& a);
void gru_step_reset_before_f32_scalar(const GruStepArgs& a);
}  // namespace gru_infer

namespace gru_micro_impl {

// micro_model.h restates the native format's numbers (so that the parser needs none of the hosted
// headers); they must stay the hosted library's.
static_assert(kTile == gru_infer::kTile && kTileRow == gru_infer::kTileRow, "fp32 packed layout");
static_assert(kQLanes == gru_infer::kQLanes && kFormatInt8 == uint32_t(gru_infer::WeightFormat::Int8), "int8 layout");
static_assert(kGru == uint32_t(gru_infer::LayerKind::Gru) && kDense == uint32_t(gru_infer::LayerKind::Dense) &&
              kActivation == uint32_t(gru_infer::LayerKind::Activation) &&
              kLastStep == uint32_t(gru_infer::LayerKind::LastStep) && kAffine == uint32_t(gru_infer::LayerKind::Affine),
              "layer kinds");
static_assert(kSigmoid == uint32_t(gru_infer::ActKind::Sigmoid) && kTanh == uint32_t(gru_infer::ActKind::Tanh) &&
              kSoftmax == uint32_t(gru_infer::ActKind::Softmax) && kClip == uint32_t(gru_infer::ActKind::Clip) &&
              kSilu == uint32_t(gru_infer::ActKind::Silu) && kHardSwish == uint32_t(gru_infer::ActKind::HardSwish) &&
              kScaledTanh == uint32_t(gru_infer::ActKind::ScaledTanh) && kElu == uint32_t(gru_infer::ActKind::Elu) &&
              kLogSoftmax == uint32_t(gru_infer::ActKind::LogSoftmax) && kGelu == uint32_t(gru_infer::ActKind::Gelu) &&
              kActCount == uint32_t(gru_infer::ActKind::Count),
              "activation kinds");

void gru_step_f32(const Layer& l, const float* x, float* h, float* y, void* scratch) {
    gru_infer::GruStepArgs a;
    a.rows = 1; a.input = l.in; a.hidden = l.hidden;
    a.x = x; a.ldx = l.in;
    a.h = h; a.ldh = l.hidden;
    a.h_out = y; a.ldo = l.hidden;
    a.w = l.w; a.tile_stride = (size_t(l.in) + l.hidden) * kTileRow;
    a.bx = l.b0; a.bh = l.b1;
    a.clip = l.clip;
    a.scratch = static_cast<float*>(scratch);
    if (l.reset_after) gru_infer::gru_step_reset_after_f32_scalar(a);
    else gru_infer::gru_step_reset_before_f32_scalar(a);
    memcpy(h, y, l.hidden * sizeof(float));
}

}  // namespace gru_micro_impl
