/* One model shared by several threads through the C API: each thread runs whole-sequence predict
 * (large enough that predict itself splits the batch over its own threads) and its own stream,
 * over and over, and every result must equal, bit for bit, the one computed first on a single
 * thread. Run by ctest, and under ThreadSanitizer by tests/run_sanitizers.sh.
 * Usage: test_c_api_threads MODEL_FILE   (a float model that can stream, e.g. the demo model) */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gru_infer/c_api.h"

enum { THREADS = 4, ROUNDS = 4, B = 16, T = 320, SB = 3 };  /* B x T large enough for predict to split */

static const gru_infer_model* model;
static size_t in_size, out_size;
static float *x, *want_y, *want_hn, *want_stream;
static size_t y_floats, hn_floats;

static void* xmalloc(size_t n) {
    void* p = malloc(n ? n : 1);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(2); }
    return p;
}

/* The stream's outputs for rows 0..SB-1 of x over all T steps, (T, SB, out). */
static int run_stream(float* out) {
    gru_infer_stream* s = NULL;
    if (gru_infer_stream_create(model, SB, &s) != GRU_INFER_OK) return 0;
    float* xt = xmalloc(SB * in_size * sizeof(float));
    int ok = 1;
    for (size_t t = 0; t < T && ok; ++t) {
        for (size_t b = 0; b < SB; ++b) memcpy(xt + b * in_size, x + (b * T + t) * in_size, in_size * sizeof(float));
        ok = gru_infer_stream_step(s, xt, out + t * SB * out_size) == GRU_INFER_OK;
    }
    free(xt);
    gru_infer_stream_free(s);
    return ok;
}

static void* worker(void* arg) {
    (void)arg;
    float* y = xmalloc(y_floats * sizeof(float));
    float* hn = xmalloc(hn_floats * sizeof(float));
    float* ys = xmalloc(T * SB * out_size * sizeof(float));
    intptr_t bad = 0;
    for (int r = 0; r < ROUNDS; ++r) {
        if (gru_infer_predict(model, B, T, x, NULL, NULL, y, hn) != GRU_INFER_OK ||
            memcmp(y, want_y, y_floats * sizeof(float)) != 0 || memcmp(hn, want_hn, hn_floats * sizeof(float)) != 0)
            ++bad;
        if (!run_stream(ys) || memcmp(ys, want_stream, T * SB * out_size * sizeof(float)) != 0) ++bad;
    }
    free(y);
    free(hn);
    free(ys);
    return (void*)bad;
}

int main(int argc, char** argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s MODEL_FILE\n", argv[0]); return 2; }
    gru_infer_model* m = NULL;
    if (gru_infer_model_load_file(argv[1], &m) != GRU_INFER_OK) {
        fprintf(stderr, "cannot load %s: %s\n", argv[1], gru_infer_last_error());
        return 1;
    }
    model = m;
    in_size = gru_infer_model_input_size(m);
    out_size = gru_infer_model_output_size(m);
    y_floats = gru_infer_model_output_floats(m, B, T);
    hn_floats = B * gru_infer_model_state_size(m);
    x = xmalloc(B * T * in_size * sizeof(float));
    for (size_t i = 0; i < B * T * in_size; ++i) x[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
    want_y = xmalloc(y_floats * sizeof(float));
    want_hn = xmalloc(hn_floats * sizeof(float));
    want_stream = xmalloc(T * SB * out_size * sizeof(float));
    /* The references, on this thread alone. */
    if (gru_infer_predict(m, B, T, x, NULL, NULL, want_y, want_hn) != GRU_INFER_OK || !run_stream(want_stream)) {
        fprintf(stderr, "reference run failed: %s\n", gru_infer_last_error());
        return 1;
    }
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; ++i)
        if (pthread_create(&threads[i], NULL, worker, NULL) != 0) { fprintf(stderr, "pthread_create failed\n"); return 1; }
    intptr_t bad = 0;
    for (int i = 0; i < THREADS; ++i) {
        void* r;
        pthread_join(threads[i], &r);
        bad += (intptr_t)r;
    }
    printf("test_c_api_threads: %d threads x %d rounds of predict (B=%d, T=%d) and a stream: %ld results differ\n",
           THREADS, ROUNDS, B, T, (long)bad);
    gru_infer_model_free(m);
    free(x);
    free(want_y);
    free(want_hn);
    free(want_stream);
    return bad == 0 ? 0 : 1;
}
