/* The micro benchmark's firmware (benchmarks/micro/run.sh): for each model of bench_cases.h, the
   arena, the instructions per step of gru_micro_step and, for fp32 models, of the plain C step
   (plain_step.c) on the same weights, and the stack the runtime used. Run under qemu with
   -icount shift=0: each instruction advances the virtual clock by 1 ns, and SysTick counts that
   clock; the instructions per tick are measured on a loop of known length first. */
#include <stdint.h>
#include <string.h>

#include "bench_cases.h"
#include "board.h"
#include "gru_infer_micro.h"
#include "plain_step.h"

#define STEPS 200u
static uint64_t arena[64 * 1024 / 8];
static float y[STEPS], y_plain[STEPS], h[64];

static uint32_t loop_ticks(uint32_t n) { /* 2 instructions per iteration (subs, bne) + a few */
    board_timer_start();
    __asm__ volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n) : : "cc");
    return board_timer_ticks();
}

static void field(const char* name, uint32_t v) {
    board_print(" ");
    board_print(name);
    board_print(" ");
    board_print_uint(v);
}

/* Stack use: paint below the current stack pointer, run, find the deepest word changed. */
#define PAINT_WORDS 4096u
static uint32_t* paint(void) {
    uint32_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    uint32_t* low = (uint32_t*)(sp - 64 - PAINT_WORDS * 4);
    for (uint32_t i = 0; i < PAINT_WORDS; ++i) low[i] = 0xdeadbeefu;
    return low;
}
static uint32_t painted_used(const uint32_t* low) {
    uint32_t i = 0;
    while (i < PAINT_WORDS && low[i] == 0xdeadbeefu) ++i;
    return (PAINT_WORDS - i) * 4;
}

int main(void) {
    /* instructions per SysTick tick: two loop lengths, so the fixed overhead cancels */
    const uint32_t t1 = loop_ticks(100000), t2 = loop_ticks(1100000);
    const uint32_t per_tick_x1000 = (uint32_t)(2000000ull * 1000u / (t2 - t1));
    board_print("calibration instructions_per_tick_x1000 ");
    board_print_uint(per_tick_x1000);
    board_print("\n");
    for (unsigned i = 0; i < sizeof bench_cases / sizeof bench_cases[0]; ++i) {
        const struct bench_case* c = &bench_cases[i];
        size_t need;
        gru_micro* m;
        if (gru_micro_arena_size(c->model, c->size, &need) != GRU_MICRO_OK ||
            gru_micro_create(c->model, c->size, arena, sizeof arena, &m) != GRU_MICRO_OK) {
            board_print("bench failed to create a model\n");
            return 1;
        }
        const uint32_t* low = paint();
        gru_micro_step(m, c->x, y);
        const uint32_t stack = painted_used(low);
        gru_micro_reset(m);
        board_timer_start();
        for (uint32_t t = 0; t < STEPS; ++t) gru_micro_step(m, c->x + t * c->input, y + t);
        const uint32_t ticks = board_timer_ticks();
        board_print("bench ");
        board_print(c->name);
        field("arena", (uint32_t)need);
        field("stack", stack);
        field("model_bytes", (uint32_t)c->size);
        field("insns_per_step", (uint32_t)((uint64_t)ticks * per_tick_x1000 / 1000u / STEPS));
        if (c->plain) {
            memset(h, 0, sizeof h);
            board_timer_start();
            for (uint32_t t = 0; t < STEPS; ++t) plain_step(c->plain, c->x + t * c->input, h, y_plain + t);
            const uint32_t pticks = board_timer_ticks();
            field("plain_insns_per_step", (uint32_t)((uint64_t)pticks * per_tick_x1000 / 1000u / STEPS));
            float worst = 0.0f;
            for (uint32_t t = 0; t < STEPS; ++t) {
                const float d = y[t] > y_plain[t] ? y[t] - y_plain[t] : y_plain[t] - y[t];
                worst = d > worst ? d : worst;
            }
            field("plain_differs_1e-5", worst > 1e-5f);
        }
        board_print("\n");
    }
    board_print("done\n");
    return 0;
}
