/* The C API from plain C. With a folder of model files written by the Python side
 * (tests/test_cpp_interop.py), predict and streams are checked against PyTorch's outputs stored
 * next to each file; the demo model checks the stream contract, state in and out, lengths, and
 * every error path: a status and a message, never a crash.
 * Usage: test_c_api DEMO_MODEL [PYTORCH_MODELS_DIR] */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gru_infer/c_api.h"

static int checks, failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        ++checks;                                                              \
        if (!(cond)) {                                                         \
            ++failures;                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                      \
    } while (0)

/* A call that must fail with `status` and a message containing `text`. */
#define CHECK_FAILS(call, status, text)                                                   \
    do {                                                                                  \
        gru_infer_status got_ = (call);                                                   \
        CHECK(got_ == (status));                                                          \
        CHECK(strstr(gru_infer_last_error(), (text)) != NULL);                            \
        if (got_ != (status) || !strstr(gru_infer_last_error(), (text)))                  \
            fprintf(stderr, "  got status %d, message '%s'\n", (int)got_, gru_infer_last_error()); \
    } while (0)

static float max_abs_diff(const float* a, const float* b, size_t n) {
    float m = 0.0f;
    for (size_t i = 0; i < n; ++i) m = fmaxf(m, fabsf(a[i] - b[i]));
    return m;
}

static unsigned char* read_all(const char* path, size_t* size) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0, got;
    unsigned char* buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *size = n;
    return buf;
}

static void* xcalloc(size_t n, size_t size) {
    void* p = calloc(n ? n : 1, size);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(2); }
    return p;
}

/* ---- the demo model: contract, state, lengths, errors ----------------------------------------- */

static void check_demo(const char* path) {
    gru_infer_model* m = NULL;
    CHECK(gru_infer_model_load_file(path, &m) == GRU_INFER_OK);
    if (!m) { fprintf(stderr, "cannot load %s: %s\n", path, gru_infer_last_error()); return; }
    CHECK(gru_infer_model_input_size(m) == 1);
    CHECK(gru_infer_model_output_size(m) == 1);
    CHECK(gru_infer_model_state_size(m) == 24);
    CHECK(gru_infer_model_takes_ids(m) == 0);
    CHECK(gru_infer_model_output_has_time(m) == 1);
    CHECK(gru_infer_model_output_floats(m, 2, 5) == 10);

    enum { B = 2, T = 30, H = 24 };
    float x[B * T], y[B * T], hn[B * H];
    for (int i = 0; i < B * T; ++i) x[i] = (float)sin(0.37 * i) + 0.1f * (float)(i % 7);
    CHECK(gru_infer_predict(m, B, T, x, NULL, NULL, y, hn) == GRU_INFER_OK);

    /* The same bytes from memory give the same model. */
    size_t size = 0;
    unsigned char* bytes = read_all(path, &size);
    gru_infer_model* mm = NULL;
    CHECK(bytes && gru_infer_model_load_memory(bytes, size, &mm) == GRU_INFER_OK);
    float y_mem[B * T];
    CHECK(mm && gru_infer_predict(mm, B, T, x, NULL, NULL, y_mem, NULL) == GRU_INFER_OK);
    CHECK(memcmp(y, y_mem, sizeof y) == 0);

    /* In place (zero-copy) from a 64-byte aligned image of the file: the same outputs; a
     * misaligned image is refused with an error, never read wrongly. */
    {
        unsigned char* block = malloc(size + 128);
        unsigned char* image = block ? block + (64 - (uintptr_t)block % 64) % 64 : NULL;
        gru_infer_model* mv = NULL;
        CHECK(image != NULL);
        if (image) {
            memcpy(image, bytes, size);
            CHECK(gru_infer_model_view_memory(image, size, &mv) == GRU_INFER_OK);
            float y_view[B * T];
            CHECK(mv && gru_infer_predict(mv, B, T, x, NULL, NULL, y_view, NULL) == GRU_INFER_OK);
            CHECK(memcmp(y, y_view, sizeof y) == 0);
            gru_infer_model_free(mv);
            memmove(image + 4, image, size);
            gru_infer_model* bad = NULL;
            CHECK(gru_infer_model_view_memory(image + 4, size, &bad) == GRU_INFER_ERROR_INVALID_ARGUMENT && !bad);
            free(block);
        }
    }

    /* Stream contract: step t gives predict's output at t; the state after T steps is h_n. */
    gru_infer_stream* s = NULL;
    CHECK(gru_infer_stream_create(m, B, &s) == GRU_INFER_OK);
    CHECK(gru_infer_stream_state_floats(s) == B * H);
    float err = 0.0f, xt[B], yt[B];
    for (int t = 0; t < T; ++t) {
        for (int b = 0; b < B; ++b) xt[b] = x[b * T + t];
        CHECK(gru_infer_stream_step(s, xt, yt) == GRU_INFER_OK);
        for (int b = 0; b < B; ++b) err = fmaxf(err, fabsf(yt[b] - y[b * T + t]));
    }
    CHECK(err < 1e-6f);
    float state[B * H];
    CHECK(gru_infer_stream_get_state(s, state, B * H) == GRU_INFER_OK);
    CHECK(max_abs_diff(state, hn, B * H) < 1e-6f);

    /* Split a run in two with hn -> h0, in predict and across streams with get/set state. */
    enum { K = 11 };
    float xa[B * K], xb[B * (T - K)], ya[B * K], yb[B * (T - K)], mid[B * H];
    for (int b = 0; b < B; ++b) {
        memcpy(xa + b * K, x + b * T, K * sizeof(float));
        memcpy(xb + b * (T - K), x + b * T + K, (T - K) * sizeof(float));
    }
    CHECK(gru_infer_predict(m, B, K, xa, NULL, NULL, ya, mid) == GRU_INFER_OK);
    CHECK(gru_infer_predict(m, B, T - K, xb, NULL, mid, yb, NULL) == GRU_INFER_OK);
    err = 0.0f;
    for (int b = 0; b < B; ++b) {
        err = fmaxf(err, max_abs_diff(ya + b * K, y + b * T, K));
        err = fmaxf(err, max_abs_diff(yb + b * (T - K), y + b * T + K, T - K));
    }
    CHECK(err < 1e-6f);
    gru_infer_stream* s2 = NULL;
    CHECK(gru_infer_stream_create(mm, B, &s2) == GRU_INFER_OK);
    CHECK(gru_infer_stream_set_state(s2, mid, B * H) == GRU_INFER_OK);
    for (int b = 0; b < B; ++b) xt[b] = x[b * T + K];
    CHECK(gru_infer_stream_step(s2, xt, yt) == GRU_INFER_OK);
    for (int b = 0; b < B; ++b) CHECK(fabsf(yt[b] - y[b * T + K]) < 1e-6f);

    /* reset: zero state, so the next step gives predict's first output again. */
    CHECK(gru_infer_stream_reset(s) == GRU_INFER_OK);
    CHECK(gru_infer_stream_get_state(s, state, B * H) == GRU_INFER_OK);
    for (int i = 0; i < B * H; ++i) CHECK(state[i] == 0.0f);
    for (int b = 0; b < B; ++b) xt[b] = x[b * T];
    CHECK(gru_infer_stream_step(s, xt, yt) == GRU_INFER_OK);
    for (int b = 0; b < B; ++b) CHECK(fabsf(yt[b] - y[b * T]) < 1e-6f);

    /* A stream outlives the model it came from. */
    gru_infer_model_free(mm);
    CHECK(gru_infer_stream_step(s2, xt, yt) == GRU_INFER_OK);

    /* lengths: row 1 stops after L steps. The GRU's outputs past the end are 0, so the model's
     * (GRU -> Dense) are the Dense layer's output for 0: one constant. */
    enum { L = 17 };
    const int64_t lengths[B] = {T, L};
    float yl[B * T], hl[B * H], y1[L], h1[H];
    CHECK(gru_infer_predict(m, B, T, x, lengths, NULL, yl, hl) == GRU_INFER_OK);
    CHECK(gru_infer_predict(m, 1, L, x + T, NULL, NULL, y1, h1) == GRU_INFER_OK);
    CHECK(max_abs_diff(yl, y, T) < 1e-6f);
    CHECK(max_abs_diff(yl + T, y1, L) < 1e-6f);
    for (int t = L + 1; t < T; ++t) CHECK(yl[T + t] == yl[T + L]);
    CHECK(max_abs_diff(hl + H, h1, H) < 1e-6f);

    /* Errors: a status and a message; outputs untouched where the call is refused up front. */
    gru_infer_model* none = (gru_infer_model*)1;
    CHECK_FAILS(gru_infer_model_load_file("/nonexistent/model.gru", &none), GRU_INFER_ERROR_IO,
                "/nonexistent/model.gru");
    CHECK(none == NULL);
    CHECK_FAILS(gru_infer_model_load_file("/", &none), GRU_INFER_ERROR_IO, "regular model file");
    CHECK_FAILS(gru_infer_model_load_file(NULL, &none), GRU_INFER_ERROR_INVALID_ARGUMENT, "path is NULL");
    CHECK_FAILS(gru_infer_model_load_file(path, NULL), GRU_INFER_ERROR_INVALID_ARGUMENT, "out is NULL");
    CHECK_FAILS(gru_infer_model_load_memory("hello", 5, &none), GRU_INFER_ERROR_FORMAT, "not a gru_infer model");
    CHECK_FAILS(gru_infer_model_load_memory(NULL, 0, &none), GRU_INFER_ERROR_INVALID_ARGUMENT, "data is NULL");
    if (bytes) {
        CHECK_FAILS(gru_infer_model_load_memory(bytes, size - 1, &none), GRU_INFER_ERROR_FORMAT, "truncated");
        bytes[size - 5] ^= 0x40;  /* a weight byte: only the checksum notices */
        CHECK_FAILS(gru_infer_model_load_memory(bytes, size, &none), GRU_INFER_ERROR_FORMAT, "checksum");
        bytes[8] = 7;
        CHECK_FAILS(gru_infer_model_load_memory(bytes, size, &none), GRU_INFER_ERROR_FORMAT, "version 7");
    }
    CHECK(none == NULL);

    const int64_t ids[2] = {0, 1}, bad_lengths[B] = {T, T + 1};
    CHECK_FAILS(gru_infer_predict(m, 0, T, x, NULL, NULL, y, NULL), GRU_INFER_ERROR_INVALID_ARGUMENT, "batch=0");
    CHECK_FAILS(gru_infer_predict(m, B, T, x, bad_lengths, NULL, y, NULL), GRU_INFER_ERROR_INVALID_ARGUMENT,
                "lengths[1]");
    CHECK_FAILS(gru_infer_predict(m, B, T, NULL, NULL, NULL, y, NULL), GRU_INFER_ERROR_INVALID_ARGUMENT, "x is NULL");
    CHECK_FAILS(gru_infer_predict(m, B, T, x, NULL, NULL, NULL, NULL), GRU_INFER_ERROR_INVALID_ARGUMENT, "y is NULL");
    CHECK_FAILS(gru_infer_predict(NULL, B, T, x, NULL, NULL, y, NULL), GRU_INFER_ERROR_INVALID_ARGUMENT,
                "model is NULL");
    CHECK_FAILS(gru_infer_predict_ids(m, 1, 2, ids, NULL, NULL, y, NULL), GRU_INFER_ERROR_INVALID_ARGUMENT,
                "takes float features");
    /* Sizes whose buffers cannot exist: refused before any arithmetic wraps around... */
    CHECK_FAILS(gru_infer_predict(m, SIZE_MAX / 2, 3, x, NULL, NULL, y, NULL), GRU_INFER_ERROR_INVALID_ARGUMENT,
                "batch x steps must be at most");
#if SIZE_MAX > 0xffffffffu
    /* ...and a batch under that bound (2^47 bytes of buffers) but past this machine's memory is
     * out of memory, not a crash. (On a 32-bit host the bound is 512 MiB of buffers, which may
     * well be there: no batch is surely out of memory and under it, so this one is 64-bit only.) */
    CHECK_FAILS(gru_infer_predict(m, (size_t)1 << 34, 1, x, NULL, NULL, y, NULL), GRU_INFER_ERROR_OUT_OF_MEMORY,
                "out of memory");
#endif

    gru_infer_stream* ns = (gru_infer_stream*)1;
    CHECK_FAILS(gru_infer_stream_create(m, 0, &ns), GRU_INFER_ERROR_INVALID_ARGUMENT, "batch must be in [1, ");
    CHECK(ns == NULL);
    CHECK_FAILS(gru_infer_stream_create(m, SIZE_MAX, &ns), GRU_INFER_ERROR_INVALID_ARGUMENT, "batch must be in [1, ");
    CHECK(ns == NULL);
    CHECK_FAILS(gru_infer_stream_create(NULL, 1, &ns), GRU_INFER_ERROR_INVALID_ARGUMENT, "model is NULL");
    CHECK_FAILS(gru_infer_stream_step_ids(s, ids, yt), GRU_INFER_ERROR_INVALID_ARGUMENT, "takes float features");
    CHECK_FAILS(gru_infer_stream_step(s, NULL, yt), GRU_INFER_ERROR_INVALID_ARGUMENT, "x is NULL");
    CHECK_FAILS(gru_infer_stream_step(NULL, xt, yt), GRU_INFER_ERROR_INVALID_ARGUMENT, "stream is NULL");
    CHECK_FAILS(gru_infer_stream_get_state(s, state, B * H - 1), GRU_INFER_ERROR_INVALID_ARGUMENT, "48 floats");
    CHECK_FAILS(gru_infer_stream_set_state(s, NULL, B * H), GRU_INFER_ERROR_INVALID_ARGUMENT, "state is NULL");
    CHECK_FAILS(gru_infer_stream_reset(NULL), GRU_INFER_ERROR_INVALID_ARGUMENT, "stream is NULL");
    CHECK(gru_infer_model_input_size(NULL) == 0 && gru_infer_stream_state_floats(NULL) == 0);
    gru_infer_model_free(NULL);
    gru_infer_stream_free(NULL);

    gru_infer_stream_free(s);
    gru_infer_stream_free(s2);
    gru_infer_model_free(m);
    free(bytes);
}

/* ---- the last error is per thread ----------------------------------------------------------- */

/* Blocks and slots on the demo model: run of T steps equals T step calls (also split by
 * max_block), a slot equals a stream of its own, and every misuse fails with a message. */
static void check_blocks_and_slots(const char* path) {
    gru_infer_model* m = NULL;
    CHECK(gru_infer_model_load_file(path, &m) == GRU_INFER_OK);
    if (!m) return;
    enum { B = 3, T = 40, S = 24 };
    float x[B * T], y_run[B * T], y_step[B * T], xt[B], yt[B];
    for (int i = 0; i < B * T; ++i) x[i] = (float)cos(0.21 * i) - 0.05f * (float)(i % 5);
    gru_infer_stream *a = NULL, *b = NULL;
    CHECK(gru_infer_stream_create_ex(m, B, 7, &a) == GRU_INFER_OK);  /* T = 40: pieces of 7 */
    CHECK(gru_infer_stream_create(m, B, &b) == GRU_INFER_OK);
    if (!a || !b) return;
    CHECK(gru_infer_stream_max_block(a) == 7);
    CHECK(gru_infer_stream_max_block(b) == 64);
    CHECK(gru_infer_stream_max_block(NULL) == 0);
    CHECK(gru_infer_stream_run(a, T, x, y_run) == GRU_INFER_OK);
    for (int t = 0; t < T; ++t) {
        for (int r = 0; r < B; ++r) xt[r] = x[r * T + t];
        CHECK(gru_infer_stream_step(b, xt, yt) == GRU_INFER_OK);
        for (int r = 0; r < B; ++r) y_step[r * T + t] = yt[r];
    }
    CHECK(max_abs_diff(y_run, y_step, B * T) < 1e-6f);
    float sa[B * S], sb[B * S];
    CHECK(gru_infer_stream_get_state(a, sa, B * S) == GRU_INFER_OK);
    CHECK(gru_infer_stream_get_state(b, sb, B * S) == GRU_INFER_OK);
    CHECK(max_abs_diff(sa, sb, B * S) < 1e-6f);
    CHECK(gru_infer_stream_run(a, 0, NULL, NULL) == GRU_INFER_OK);  /* an empty block does nothing */

    /* Slots: slot 2 then 0 of a 3-slot stream against two streams of one row. */
    gru_infer_stream *slots = NULL, *one0 = NULL, *one2 = NULL;
    CHECK(gru_infer_stream_create(m, B, &slots) == GRU_INFER_OK);
    CHECK(gru_infer_stream_create(m, 1, &one0) == GRU_INFER_OK);
    CHECK(gru_infer_stream_create(m, 1, &one2) == GRU_INFER_OK);
    if (!slots || !one0 || !one2) return;
    const size_t ids20[2] = {2, 0}, ids2[1] = {2};
    float err = 0.0f;
    for (int t = 0; t < 10; ++t) {
        float in[2] = {x[t], x[T + t]}, out[2], r0, r2;
        const size_t* which = t % 3 == 1 ? ids2 : ids20;  /* slot 0 skips every third step */
        const size_t n = t % 3 == 1 ? 1 : 2;
        CHECK(gru_infer_stream_step_slots(slots, n, which, in, out) == GRU_INFER_OK);
        CHECK(gru_infer_stream_step(one2, &in[0], &r2) == GRU_INFER_OK);
        err = fmaxf(err, fabsf(out[0] - r2));
        if (n == 2) {
            CHECK(gru_infer_stream_step(one0, &in[1], &r0) == GRU_INFER_OK);
            err = fmaxf(err, fabsf(out[1] - r0));
        }
    }
    CHECK(err < 1e-6f);
    float st[S], ref[S], zero[S] = {0};
    CHECK(gru_infer_stream_get_slot_state(slots, 0, st, S) == GRU_INFER_OK);
    CHECK(gru_infer_stream_get_state(one0, ref, S) == GRU_INFER_OK);
    CHECK(max_abs_diff(st, ref, S) < 1e-6f);
    CHECK(gru_infer_stream_get_slot_state(slots, 1, st, S) == GRU_INFER_OK);
    CHECK(max_abs_diff(st, zero, S) == 0.0f);  /* never stepped */
    CHECK(gru_infer_stream_set_slot_state(slots, 1, ref, S) == GRU_INFER_OK);
    CHECK(gru_infer_stream_get_slot_state(slots, 1, st, S) == GRU_INFER_OK);
    CHECK(memcmp(st, ref, sizeof st) == 0);
    CHECK(gru_infer_stream_reset_slots(slots, 1, ids2) == GRU_INFER_OK);
    CHECK(gru_infer_stream_get_slot_state(slots, 2, st, S) == GRU_INFER_OK);
    CHECK(max_abs_diff(st, zero, S) == 0.0f);

    /* Misuse: a status and a message, and no state change. */
    float before[B * S], after[B * S], in2[2] = {0.5f, 0.5f}, out2[2];
    CHECK(gru_infer_stream_get_state(slots, before, B * S) == GRU_INFER_OK);
    const size_t dup[2] = {1, 1}, far[2] = {0, 3}, four[4] = {0, 1, 2, 0};
    CHECK_FAILS(gru_infer_stream_step_slots(slots, 2, dup, in2, out2), GRU_INFER_ERROR_INVALID_ARGUMENT, "slot 1 is given twice");
    CHECK_FAILS(gru_infer_stream_step_slots(slots, 2, far, in2, out2), GRU_INFER_ERROR_INVALID_ARGUMENT, "slot 3 is outside [0, 3)");
    CHECK_FAILS(gru_infer_stream_step_slots(slots, 4, four, in2, out2), GRU_INFER_ERROR_INVALID_ARGUMENT, "4 slots given");
    CHECK_FAILS(gru_infer_stream_step_slots(slots, 2, NULL, in2, out2), GRU_INFER_ERROR_INVALID_ARGUMENT, "slots");
    CHECK_FAILS(gru_infer_stream_reset_slots(slots, 2, far), GRU_INFER_ERROR_INVALID_ARGUMENT, "outside");
    CHECK_FAILS(gru_infer_stream_step_ids_slots(slots, 1, ids2, (const int64_t*)in2, out2),
                GRU_INFER_ERROR_INVALID_ARGUMENT, "takes float features");
    CHECK_FAILS(gru_infer_stream_get_slot_state(slots, 3, st, S), GRU_INFER_ERROR_INVALID_ARGUMENT, "slot 3");
    CHECK_FAILS(gru_infer_stream_set_slot_state(slots, 0, st, S - 1), GRU_INFER_ERROR_INVALID_ARGUMENT, "count");
    CHECK_FAILS(gru_infer_stream_run(slots, T, NULL, y_run), GRU_INFER_ERROR_INVALID_ARGUMENT, "x");
    CHECK_FAILS(gru_infer_stream_run_ids(slots, 2, (const int64_t*)x, y_run), GRU_INFER_ERROR_INVALID_ARGUMENT,
                "takes float features");
    CHECK_FAILS(gru_infer_stream_run(NULL, T, x, y_run), GRU_INFER_ERROR_INVALID_ARGUMENT, "stream");
    CHECK(gru_infer_stream_get_state(slots, after, B * S) == GRU_INFER_OK);
    CHECK(memcmp(before, after, sizeof before) == 0);
    gru_infer_stream* none = NULL;
    CHECK_FAILS(gru_infer_stream_create_ex(m, 0, 4, &none), GRU_INFER_ERROR_INVALID_ARGUMENT, "batch");
    CHECK(none == NULL);

    gru_infer_stream_free(a);
    gru_infer_stream_free(b);
    gru_infer_stream_free(slots);
    gru_infer_stream_free(one0);
    gru_infer_stream_free(one2);
    gru_infer_model_free(m);
}

static void* fail_in_thread(void* arg) {
    char* seen = arg;
    strcpy(seen, gru_infer_last_error()); /* nothing failed on this thread yet: "" */
    gru_infer_model* m = NULL;
    gru_infer_model_load_memory("thread", 6, &m);
    strcat(seen, "|");
    strncat(seen, gru_infer_last_error(), 200);
    return NULL;
}

static void check_thread_errors(void) {
    gru_infer_model* m = NULL;
    CHECK(gru_infer_model_load_file("/nonexistent/main-thread.gru", &m) == GRU_INFER_ERROR_IO);
    char seen[256] = "";
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, fail_in_thread, seen) == 0);
    pthread_join(thread, NULL);
    CHECK(strncmp(seen, "|not a gru_infer model", 22) == 0);
    CHECK(strstr(gru_infer_last_error(), "main-thread.gru") != NULL);
}

/* ---- PyTorch's outputs ------------------------------------------------------------------------ */

/* <name>.gru with <name>.case: u32 B, T, F, out_count; float x[B*T*F]; float y[out_count]. */
static void check_pytorch_case(const char* base) {
    char path[4096];
    snprintf(path, sizeof path, "%s.case", base);
    size_t size = 0;
    unsigned char* c = read_all(path, &size);
    uint32_t hdr[4];
    CHECK(c && size >= sizeof hdr);
    if (!c || size < sizeof hdr) { free(c); return; }
    memcpy(hdr, c, sizeof hdr);
    const size_t B = hdr[0], T = hdr[1], F = hdr[2], O = hdr[3];
    CHECK(size == sizeof hdr + (B * T * F + O) * sizeof(float));
    if (size != sizeof hdr + (B * T * F + O) * sizeof(float)) { free(c); return; }
    float* x = xcalloc(B * T * F, sizeof(float));
    float* want = xcalloc(O, sizeof(float));
    memcpy(x, c + sizeof hdr, B * T * F * sizeof(float));
    memcpy(want, c + sizeof hdr + B * T * F * sizeof(float), O * sizeof(float));
    free(c);

    gru_infer_model* m = NULL;
    snprintf(path, sizeof path, "%s.gru", base);
    CHECK(gru_infer_model_load_file(path, &m) == GRU_INFER_OK);
    if (!m) { free(x); free(want); return; }
    CHECK(gru_infer_model_output_floats(m, B, T) == O);
    float* y = xcalloc(gru_infer_model_output_floats(m, B, T), sizeof(float));
    int64_t* ids = xcalloc(B * T, sizeof(int64_t));
    for (size_t i = 0; i < B * T; ++i) ids[i] = (int64_t)x[i];
    const int takes_ids = gru_infer_model_takes_ids(m);
    CHECK((takes_ids ? gru_infer_predict_ids(m, B, T, ids, NULL, NULL, y, NULL)
                     : gru_infer_predict(m, B, T, x, NULL, NULL, y, NULL)) == GRU_INFER_OK);
    const float err = max_abs_diff(y, want, O);
    printf("%s: predict, max abs error vs PyTorch %.3g\n", base, err);
    CHECK(err <= 1e-5f);

    if (takes_ids) {  /* an id past the table is refused */
        ids[B * T - 1] = 1000000;
        CHECK_FAILS(gru_infer_predict_ids(m, B, T, ids, NULL, NULL, y, NULL), GRU_INFER_ERROR_INVALID_ARGUMENT,
                    "1000000");
    }

    /* Streams: step t against PyTorch's output at t (forward models), or refused with a reason. */
    gru_infer_stream* s = NULL;
    const gru_infer_status st = gru_infer_stream_create(m, B, &s);
    if (st != GRU_INFER_OK) {
        CHECK(st == GRU_INFER_ERROR_INVALID_ARGUMENT);
        CHECK(strstr(gru_infer_last_error(), "cannot stream") != NULL);
        printf("%s: no stream (%s)\n", base, gru_infer_last_error());
    } else if (!takes_ids && gru_infer_model_output_has_time(m)) {
        const size_t out = gru_infer_model_output_size(m);
        float* xt = xcalloc(B * F, sizeof(float));
        float* yt = xcalloc(B * out, sizeof(float));
        float serr = 0.0f;
        for (size_t t = 0; t < T; ++t) {
            for (size_t b = 0; b < B; ++b) memcpy(xt + b * F, x + (b * T + t) * F, F * sizeof(float));
            CHECK(gru_infer_stream_step(s, xt, yt) == GRU_INFER_OK);
            for (size_t b = 0; b < B; ++b)
                serr = fmaxf(serr, max_abs_diff(yt + b * out, want + (b * T + t) * out, out));
        }
        printf("%s: stream, max abs error vs PyTorch %.3g\n", base, serr);
        CHECK(serr <= 1e-5f);
        free(xt);
        free(yt);
    }
    if (st == GRU_INFER_OK && gru_infer_model_output_has_time(m)) {
        /* The whole input as blocks of at most 4 steps: PyTorch's outputs at every step. */
        gru_infer_stream* r = NULL;
        CHECK(gru_infer_stream_create_ex(m, B, 4, &r) == GRU_INFER_OK);
        float* yr = xcalloc(O, sizeof(float));
        if (takes_ids) ids[B * T - 1] = (int64_t)x[B * T - 1];  /* valid again (refused above) */
        CHECK((takes_ids ? gru_infer_stream_run_ids(r, T, ids, yr) : gru_infer_stream_run(r, T, x, yr)) ==
              GRU_INFER_OK);
        const float rerr = max_abs_diff(yr, want, O);
        printf("%s: stream run, max abs error vs PyTorch %.3g\n", base, rerr);
        CHECK(rerr <= 1e-5f);
        if (takes_ids) {  /* a bad id is refused before any state changes */
            ids[0] = -3;
            CHECK_FAILS(gru_infer_stream_run_ids(r, T, ids, yr), GRU_INFER_ERROR_INVALID_ARGUMENT, "-3");
        }
        free(yr);
        gru_infer_stream_free(r);
    }
    gru_infer_stream_free(s);
    gru_infer_model_free(m);
    free(ids);
    free(y);
    free(x);
    free(want);
}

static void check_pytorch_models(const char* dir) {
    DIR* d = opendir(dir);
    CHECK(d != NULL);
    if (!d) return;
    int n = 0;
    struct dirent* e;
    while ((e = readdir(d)) != NULL) {
        const size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".gru") != 0) continue;
        char base[4096];
        snprintf(base, sizeof base, "%s/%.*s", dir, (int)(len - 4), e->d_name);
        check_pytorch_case(base);
        ++n;
    }
    closedir(d);
    CHECK(n > 0);
}

/* Files: load refuses what is not a regular model file without reading it (a device would never
 * end, a FIFO would block); save is atomic and reports every failed write. */
static void check_files(const char* path) {
    gru_infer_model* m = NULL;
    CHECK(gru_infer_model_load_file(path, &m) == GRU_INFER_OK);
    if (!m) return;
    gru_infer_model* none = (gru_infer_model*)1;
    CHECK_FAILS(gru_infer_model_load_file("/dev/zero", &none), GRU_INFER_ERROR_IO, "regular model file");
    CHECK_FAILS(gru_infer_model_load_file("/dev/urandom", &none), GRU_INFER_ERROR_IO, "regular model file");
    char dir[] = "/tmp/gru_infer_c_api_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char fifo[4096], file[4096], missing[4096], junk[4096];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    snprintf(file, sizeof file, "%s/model.gru", dir);
    snprintf(missing, sizeof missing, "%s/no/such/folder/model.gru", dir);
    snprintf(junk, sizeof junk, "%s/junk.gru", dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK_FAILS(gru_infer_model_load_file(fifo, &none), GRU_INFER_ERROR_IO, "regular model file");
    /* A large file that is not a model: refused from its header, without reading 64 MB. */
    FILE* f = fopen(junk, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs("not a model", f);
        CHECK(ftruncate(fileno(f), 64 << 20) == 0);
        fclose(f);
    }
    CHECK_FAILS(gru_infer_model_load_file(junk, &none), GRU_INFER_ERROR_FORMAT, "not a gru_infer model");
    CHECK(none == NULL);

    CHECK(gru_infer_model_save(m, file) == GRU_INFER_OK);
    gru_infer_model* back = NULL;
    CHECK(gru_infer_model_load_file(file, &back) == GRU_INFER_OK);
    CHECK(back && gru_infer_model_input_size(back) == gru_infer_model_input_size(m));
    gru_infer_model_free(back);
    CHECK_FAILS(gru_infer_model_save(m, "/dev/full"), GRU_INFER_ERROR_IO, "No space left");
    CHECK_FAILS(gru_infer_model_save(m, dir), GRU_INFER_ERROR_IO, "folder");
    CHECK_FAILS(gru_infer_model_save(m, missing), GRU_INFER_ERROR_IO, "No such file");
    CHECK_FAILS(gru_infer_model_save(NULL, file), GRU_INFER_ERROR_INVALID_ARGUMENT, "model is NULL");
    CHECK_FAILS(gru_infer_model_save(m, NULL), GRU_INFER_ERROR_INVALID_ARGUMENT, "path is NULL");
    /* Nothing left behind but the files made here (no temporary files). */
    DIR* d = opendir(dir);
    int entries = 0;
    struct dirent* e;
    while (d && (e = readdir(d)) != NULL) entries += e->d_name[0] != '.';
    if (d) closedir(d);
    CHECK(entries == 3);
    unlink(fifo);
    unlink(file);
    unlink(junk);
    rmdir(dir);
    gru_infer_model_free(m);
}

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s DEMO_MODEL [PYTORCH_MODELS_DIR]\n", argv[0]);
        return 2;
    }
    CHECK(strcmp(gru_infer_last_error(), "") == 0);
    check_demo(argv[1]);
    check_blocks_and_slots(argv[1]);
    check_thread_errors();
    check_files(argv[1]);
    if (argc > 2) check_pytorch_models(argv[2]);
    printf("test_c_api: %d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
