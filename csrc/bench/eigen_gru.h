// A reference GRU step for the benchmark only: the math of RTNeural's templated Eigen backend
// (GRULayerT), fixed sizes known at compile time, compiled with -march=native (eigen_gru.cpp).
// Never part of the library or its tests; built only when CMake finds Eigen3.
#pragma once
#include <cstddef>
#include <memory>

namespace bench {

class EigenGruStep {
public:
    virtual ~EigenGruStep() = default;
    // W (3H, I), R (3H, H), bW (3H), bR (3H), gates z, r, n (PyTorch order, lbr = 1).
    virtual void set_weights(const float* W, const float* R, const float* bW, const float* bR) = 0;
    virtual void reset() = 0;
    virtual void step(const float* x, float* h) = 0;  // x (I), h (H): the new state
};

// Null for a size pair that is not instantiated (see eigen_gru.cpp).
std::unique_ptr<EigenGruStep> make_eigen_gru_step(std::size_t input, std::size_t hidden);

}  // namespace bench
