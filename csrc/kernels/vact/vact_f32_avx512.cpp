// Element-wise sigmoid and tanh in the AVX-512 table: the AVX2 kernels (activation layers and the
// generic GRU path, off the fused kernels' hot path).
#if defined(__x86_64__) || defined(_M_X64)
#include <cstddef>

namespace gru_infer {

void sigmoid_f32_avx2(std::size_t n, const float* x, float* y);
void tanh_f32_avx2(std::size_t n, const float* x, float* y);

void sigmoid_f32_avx512(std::size_t n, const float* x, float* y) { sigmoid_f32_avx2(n, x, y); }
void tanh_f32_avx512(std::size_t n, const float* x, float* y) { tanh_f32_avx2(n, x, y); }

}  // namespace gru_infer
#endif  // x86-64
