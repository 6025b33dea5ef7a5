#ifndef GRU_MICRO_PLAIN_STEP_H
#define GRU_MICRO_PLAIN_STEP_H
/* GRU(input, hidden) -> Dense(1), gates z, r, n: W (3H, I), R (3H, H), row-major. */
struct plain_gru {
    int input, hidden;
    const float *W, *R, *bW, *bR, *dense_w;
    float dense_b;
};
void plain_step(const struct plain_gru* m, const float* x, float* h, float* y);
#endif
