/* Whole-sequence prediction through the C API: reads one sequence from standard input
 * (whitespace-separated numbers, input_size per step; one integer id per step for a model that
 * takes ids) and writes the output, one line per step (or one line if the model ends on the last
 * step).
 *   predict model.gru < samples.txt */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "gru_infer/c_api.h"

static int fail(const char* what) {
    fprintf(stderr, "predict: %s: %s\n", what, gru_infer_last_error());
    return 1;
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.gru < input\n", argv[0]);
        return 2;
    }
    gru_infer_model* model = NULL;
    if (gru_infer_model_load_file(argv[1], &model) != GRU_INFER_OK) return fail("cannot load the model");
    const int takes_ids = gru_infer_model_takes_ids(model);
    const size_t features = gru_infer_model_input_size(model), outputs = gru_infer_model_output_size(model);

    /* Read every value: floats, or int64 ids. */
    size_t n = 0, cap = 1024;
    float* x = malloc(cap * sizeof(float));
    int64_t* ids = malloc(cap * sizeof(int64_t));
    for (;;) {
        if (!x || !ids) { fprintf(stderr, "predict: out of memory\n"); return 1; }
        if (n == cap) {
            cap *= 2;
            x = realloc(x, cap * sizeof(float));
            ids = realloc(ids, cap * sizeof(int64_t));
            continue;
        }
        if ((takes_ids ? scanf("%" SCNd64, &ids[n]) : scanf("%f", &x[n])) != 1) break;
        ++n;
    }
    if (!feof(stdin)) { fprintf(stderr, "predict: input is not a number\n"); return 1; }
    if (n == 0 || n % features != 0) {
        fprintf(stderr, "predict: read %zu values, expected a positive multiple of %zu\n", n, features);
        return 1;
    }

    const size_t steps = n / features;
    float* y = malloc(gru_infer_model_output_floats(model, 1, steps) * sizeof(float));
    if (!y) { fprintf(stderr, "predict: out of memory\n"); return 1; }
    const gru_infer_status status = takes_ids ? gru_infer_predict_ids(model, 1, steps, ids, NULL, NULL, y, NULL)
                                              : gru_infer_predict(model, 1, steps, x, NULL, NULL, y, NULL);
    if (status != GRU_INFER_OK) return fail("predict failed");
    const size_t lines = gru_infer_model_output_has_time(model) ? steps : 1;
    for (size_t t = 0; t < lines; ++t)
        for (size_t i = 0; i < outputs; ++i) printf(i + 1 < outputs ? "%.9g " : "%.9g\n", y[t * outputs + i]);

    free(y);
    free(ids);
    free(x);
    gru_infer_model_free(model);
    return 0;
}
