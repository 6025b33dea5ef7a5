// How a layer stores its weights. fp32 is exact; the others trade accuracy for size and speed
// (docs/quantization.md): fp16 and bf16 weights, int8 weights with per-row scales. Biases,
// activations and the recurrent state stay fp32 in every format.
#pragma once
#include <cstdint>
#include <string>

namespace gru_infer {

// Values are stored in the native file: never renumber, only append.
enum class WeightFormat : std::uint32_t { F32 = 0, F16 = 1, BF16 = 2, Int8 = 3 };

const char* weight_format_name(WeightFormat f);        // "fp32", "fp16", "bf16", "int8"
WeightFormat parse_weight_format(const std::string&);  // throws InvalidArgument for other names

// Whether this build has the reduced-precision kernels (CMake GRU_INFER_REDUCED_PRECISION, on by
// default). Without them Model::quantize to a format other than fp32 throws InvalidArgument, and
// loading a file with reduced-precision weights throws FormatError.
bool has_reduced_precision();

}  // namespace gru_infer
