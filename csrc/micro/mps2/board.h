/* Bare-metal support for the test and benchmark firmware on qemu's MPS2 boards: semihosting
   output and exit (qemu -semihosting), and the SysTick counter for timing. */
#ifndef GRU_MICRO_BOARD_H
#define GRU_MICRO_BOARD_H
#include <stdint.h>

void board_print(const char* s);                 /* semihosting SYS_WRITE0 */
void board_print_hex(uint32_t v);                /* 8 hex digits */
void board_print_uint(uint32_t v);               /* decimal */
void board_exit(int status) __attribute__((noreturn)); /* 0: qemu exits 0, else 1 */
void board_timer_start(void);                    /* SysTick from the core clock, free running */
uint32_t board_timer_ticks(void);                /* ticks since board_timer_start (< 2^24) */

#endif
