/* gru_infer micro: runs a native model file (docs/native_format.md) on a microcontroller.
 *
 * The model stays where it is (a const array in flash, e.g. `gru-infer convert --c-array`): its
 * weights are used in place. Everything that changes (the GRU states, one step's scratch and the
 * model's layer table) lives in an arena the caller provides, sized by gru_micro_arena_size. No
 * heap, no exceptions, no threads, no files. Every malformed array gives an error code; no call
 * reads outside [model, model + model_size) or the arena.
 *
 *   size_t bytes;
 *   gru_micro_arena_size(gru_model, gru_model_size, &bytes);        // or a constant measured once
 *   static float arena[ARENA_FLOATS];                                // bytes <= sizeof arena
 *   gru_micro* m;
 *   if (gru_micro_create(gru_model, gru_model_size, arena, sizeof arena, &m) != GRU_MICRO_OK) ...
 *   gru_micro_step(m, x, y);                                         // x: input_size, y: output_size
 *
 * Runs: GRU layers (forward; reset after the recurrent product as PyTorch, or before it; sigmoid
 * gates and tanh candidate; optional clip and initial state), Dense, Affine, LastStep and every
 * activation but gelu and log_softmax, with fp32 or int8 weights. Anything else gives
 * GRU_MICRO_UNSUPPORTED. */
#ifndef GRU_INFER_MICRO_H
#define GRU_INFER_MICRO_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    GRU_MICRO_OK = 0,
    GRU_MICRO_BAD_ARGUMENT = 1,    /* a null pointer, or a step/run on no model */
    GRU_MICRO_BAD_MODEL = 2,       /* not a valid native model file (header, sizes, checksum, records) */
    GRU_MICRO_BAD_VERSION = 3,     /* a native format version this runtime does not read */
    GRU_MICRO_UNSUPPORTED = 4,     /* a valid model with a layer or option the micro runtime does not run */
    GRU_MICRO_MISALIGNED = 5,      /* the model array is not 4-byte aligned (the C array header is 64) */
    GRU_MICRO_ARENA_TOO_SMALL = 6  /* the arena is smaller than gru_micro_arena_size says */
} gru_micro_status;

typedef struct gru_micro gru_micro; /* lives at the start of the arena */

/* Checks the whole array and sets *arena_bytes to the arena create needs (any alignment). */
gru_micro_status gru_micro_arena_size(const void* model, size_t model_size, size_t* arena_bytes);

/* Builds the runtime in `arena` (the model array must stay valid and unchanged while it is used);
 * the states start at the model's initial state (zeros unless the file holds one). */
gru_micro_status gru_micro_create(const void* model, size_t model_size, void* arena, size_t arena_bytes,
                                  gru_micro** out);

size_t gru_micro_input_size(const gru_micro* m);
size_t gru_micro_output_size(const gru_micro* m);

/* One time step: x holds input_size floats, y receives output_size floats. */
gru_micro_status gru_micro_step(gru_micro* m, const float* x, float* y);
/* `steps` time steps: x is (steps, input_size), y is (steps, output_size), row-major. */
gru_micro_status gru_micro_run(gru_micro* m, const float* x, size_t steps, float* y);
/* Back to the initial state. */
void gru_micro_reset(gru_micro* m);

const char* gru_micro_status_name(gru_micro_status s);

#ifdef __cplusplus
}
#endif
#endif /* GRU_INFER_MICRO_H */
