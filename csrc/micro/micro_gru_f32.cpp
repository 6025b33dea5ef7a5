// The fp32 GRU step: the hosted library's scalar reference kernel itself
// (kernels/gru_step/gru_step_f32_scalar.cpp, built into the micro library unchanged) on the
// file's packed rows, in place.
#include <string.h>

#include "kernels/kernels.h"
#include "micro_model.h"

namespace gru_infer {
void gru_step_reset_after_f32_scalar(const GruStepArgs& a);
void gru_step_reset_before_f32_scalar(const GruStepArgs& a);
}  // namespace gru_infer

namespace gru_micro_impl {

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
