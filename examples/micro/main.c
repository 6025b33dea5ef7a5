/* A GRU on a microcontroller with the micro runtime (csrc/micro, gru_infer_micro.h): the model is
   the const array `gru-infer convert model.gru --c-array model.h` wrote, used in place from
   flash; the arena is a static buffer, so nothing is allocated. Build with
   csrc/cmake/arm-none-eabi.cmake and the gru_infer_micro library (csrc/micro/CMakeLists.txt). */
#include <stdint.h>

#include "gru_infer_micro.h"
#include "model.h" /* alignas(64) static const unsigned char gru_model[] = {...}; */

#define ARENA_BYTES 4096 /* >= gru_micro_arena_size(gru_model, ...): checked below */
static uint64_t arena[ARENA_BYTES / 8];
static gru_micro* model;

int model_init(void) {
    size_t need;
    if (gru_micro_arena_size(gru_model, sizeof gru_model, &need) != GRU_MICRO_OK || need > sizeof arena) return -1;
    return gru_micro_create(gru_model, sizeof gru_model, arena, sizeof arena, &model) == GRU_MICRO_OK ? 0 : -1;
}

/* One sensor sample in, one prediction out: call from the sampling interrupt or main loop. */
float model_step(float sample) {
    float y;
    gru_micro_step(model, &sample, &y); /* input_size 1, output_size 1 for this model */
    return y;
}
