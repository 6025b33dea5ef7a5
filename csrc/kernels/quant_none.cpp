// A build without reduced precision (CMake GRU_INFER_REDUCED_PRECISION=OFF, which defines
// GRU_INFER_NO_REDUCED_PRECISION and leaves out quant_pack.cpp, quant_dispatch.cpp and every
// int8/bf16/fp16 kernel): what the layers' reduced-precision paths link against, refusing. Nothing
// reaches them in such a build (Model::quantize, the native file reader and the layers'
// reduced-precision constructors refuse first); they are here so the layer code stays one copy.
// In the full build this file is empty (setup.py compiles every file of sources.cmake).
#if defined(GRU_INFER_NO_REDUCED_PRECISION)
#include "gru_infer/error.h"
#include "gru_infer/gru_layer.h"
#include "kernels/quant_kernels.h"

namespace gru_infer {
namespace {
[[noreturn]] void refuse() { throw InvalidArgument(kNoReducedPrecision); }
}  // namespace

const QKernels* q_kernels(WeightFormat, const std::string&) { return nullptr; }
const QKernels& q_active(WeightFormat) { refuse(); }
QMatrix pack_qmatrix(WeightFormat, const float*, std::size_t, std::size_t, std::size_t, std::size_t,
                     long (*)(std::size_t, std::size_t, std::size_t)) { refuse(); }
void unpack_qmatrix(const QMatrix&, float*, long (*)(std::size_t, std::size_t, std::size_t)) { refuse(); }
long gru_row_of(std::size_t, std::size_t, std::size_t) { refuse(); }
long dense_row_of(std::size_t, std::size_t, std::size_t) { refuse(); }
QuantDense quantize_dense(const float*, const float*, std::size_t, std::size_t, WeightFormat, float) { refuse(); }
QuantGru quantize_gru(const GruWeights&, std::size_t, std::size_t, WeightFormat, float) { refuse(); }
GruWeights dequantize_gru(const QuantGru&) { refuse(); }
std::size_t q_fp32_max_hidden(WeightFormat) { refuse(); }
bool q_fp32_batches(WeightFormat) { refuse(); }

}  // namespace gru_infer
#endif
