// clamp(x, lo, hi) that keeps NaN, as torch.clamp / hardtanh / relu6, onnxruntime and Keras do
// (private). Neither std::min / std::max nor `x > lo ? x : lo` does: they turn NaN into a bound.
// The vector versions (avx2::clamp, avx512::clamp) rely on minps / maxps returning their second
// operand when either is NaN, so x goes second; NEON's vminq / vmaxq return NaN by themselves.
// A value inside [lo, hi] comes back unchanged, -0.0 included (torch: relu6(-0.0) = -0.0).
#pragma once

namespace gru_infer {

inline float clamp_keep_nan(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

}  // namespace gru_infer
