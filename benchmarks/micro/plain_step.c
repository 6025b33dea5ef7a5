/* The yardstick of the micro benchmark: a textbook C GRU step (PyTorch's form) and Dense(1) on
   plain row-major fp32 weights, what one would write by hand for a microcontroller. */
#include "plain_step.h"

#include <math.h>
#include <string.h>

static float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

void plain_step(const struct plain_gru* m, const float* x, float* h, float* y) {
    enum { MAX_H = 64 };
    const int I = m->input, H = m->hidden;
    float gx[3 * MAX_H], gh[3 * MAX_H];
    for (int j = 0; j < 3 * H; ++j) {
        float s = m->bW[j], t = m->bR[j];
        for (int k = 0; k < I; ++k) s += m->W[j * I + k] * x[k];
        for (int k = 0; k < H; ++k) t += m->R[j * H + k] * h[k];
        gx[j] = s;
        gh[j] = t;
    }
    for (int u = 0; u < H; ++u) {  /* gates z, r, n */
        const float z = sigmoid(gx[u] + gh[u]), r = sigmoid(gx[H + u] + gh[H + u]);
        const float n = tanhf(gx[2 * H + u] + r * gh[2 * H + u]);
        h[u] = n + z * (h[u] - n);
    }
    float s = m->dense_b;
    for (int u = 0; u < H; ++u) s += m->dense_w[u] * h[u];
    *y = s;
}
