// See eigen_gru.h. Combined matrices with the biases as an extra column (inputs extended by a
// constant 1), sigmoid as 1 / (exp(-x) + 1), Eigen's vectorised tanh: RTNeural's GRULayerT math.
#define EIGEN_STACK_ALLOCATION_LIMIT 0  // the H = 512 matrices are members of a heap object
#include "eigen_gru.h"

#include <Eigen/Dense>

namespace bench {
namespace {

template <int I, int H>
class Step final : public EigenGruStep {
public:
    Step() { reset(); }
    void set_weights(const float* W, const float* R, const float* bW, const float* bR) override {
        for (int g = 0; g < 3 * H; ++g) {
            for (int k = 0; k < I; ++k) w_(g, k) = W[g * I + k];
            for (int k = 0; k < H; ++k) u_(g, k) = R[g * H + k];
            w_(g, I) = bW[g];
            u_(g, H) = bR[g];
        }
    }
    void reset() override {
        x_.setZero(); x_(I) = 1.0f;
        h_.setZero(); h_(H) = 1.0f;
    }
    void step(const float* x, float* h) override {
        for (int i = 0; i < I; ++i) x_(i) = x[i];
        alpha_.noalias() = w_ * x_;
        beta_.noalias() = u_ * h_;
        gamma_ = 1.0f / ((-1.0f * (alpha_.template head<2 * H>() + beta_.template head<2 * H>()).array()).exp() + 1.0f);
        c_.noalias() = alpha_.template segment<H>(2 * H) +
                       gamma_.template segment<H>(H).cwiseProduct(beta_.template segment<H>(2 * H));
        c_ = c_.array().tanh();
        h_.template head<H>() = c_ + gamma_.template head<H>().cwiseProduct(h_.template head<H>() - c_);
        for (int i = 0; i < H; ++i) h[i] = h_(i);
    }

private:
    Eigen::Matrix<float, 3 * H, I + 1> w_;
    Eigen::Matrix<float, 3 * H, H + 1> u_;
    Eigen::Matrix<float, 3 * H, 1> alpha_, beta_;
    Eigen::Matrix<float, 2 * H, 1> gamma_;
    Eigen::Matrix<float, H, 1> c_;
    Eigen::Matrix<float, I + 1, 1> x_;
    Eigen::Matrix<float, H + 1, 1> h_;
};

template <int I, int H>
std::unique_ptr<EigenGruStep> make() { return std::make_unique<Step<I, H>>(); }

}  // namespace

std::unique_ptr<EigenGruStep> make_eigen_gru_step(std::size_t input, std::size_t hidden) {
    if (input == hidden) {
        switch (hidden) {
            case 8: return make<8, 8>();
            case 16: return make<16, 16>();
            case 32: return make<32, 32>();
            case 64: return make<64, 64>();
            case 128: return make<128, 128>();
            case 256: return make<256, 256>();
            case 512: return make<512, 512>();
        }
    }
    if (input == 1) {
        switch (hidden) {
            case 8: return make<1, 8>();
            case 16: return make<1, 16>();
            case 32: return make<1, 32>();
        }
    }
    return nullptr;
}

}  // namespace bench
