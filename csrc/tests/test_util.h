// A minimal test harness: CHECK records a failure and goes on; main returns the failure count.
#pragma once
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace test {

inline int& failures() { static int n = 0; return n; }
inline int& checks() { static int n = 0; return n; }

#define CHECK(cond)                                                                 \
    do {                                                                            \
        ++test::checks();                                                           \
        if (!(cond)) {                                                              \
            ++test::failures();                                                     \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                           \
    } while (0)

#define CHECK_THROWS(expr, Exc)                                                     \
    do {                                                                            \
        bool thrown_ = false;                                                       \
        try { expr; } catch (const Exc&) { thrown_ = true; }                        \
        CHECK(thrown_ && #expr " throws " #Exc);                                    \
    } while (0)

inline std::vector<float> random_vec(std::mt19937& rng, std::size_t n, float scale = 1.0f) {
    std::uniform_real_distribution<float> d(-scale, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

inline float max_abs_diff(const float* a, const float* b, std::size_t n) {
    float m = 0.0f;
    for (std::size_t i = 0; i < n; ++i) m = std::fmax(m, std::fabs(a[i] - b[i]));
    return m;
}

inline int finish(const char* name) {
    std::printf("%s: %d checks, %d failed\n", name, checks(), failures());
    return failures() == 0 ? 0 : 1;
}

}  // namespace test
