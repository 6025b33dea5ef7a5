/* Start-up and semihosting for qemu's MPS2 boards (see board.h). */
#include "board.h"

#include <string.h>

extern uint32_t _data_start, _data_end, _data_load, _bss_start, _bss_end, _stack_top;
int main(void);

static int semihost(int op, const void* arg) {
    register int r0 __asm__("r0") = op;
    register const void* r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void board_print(const char* s) { semihost(0x04, s); }

void board_print_hex(uint32_t v) {
    char s[9];
    for (int i = 7; i >= 0; --i, v >>= 4) s[i] = "0123456789abcdef"[v & 15];
    s[8] = 0;
    board_print(s);
}

void board_print_uint(uint32_t v) {
    char s[11];
    int i = 10;
    s[i] = 0;
    do { s[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    board_print(s + i);
}

void board_exit(int status) {
    semihost(0x18, (const void*)(status == 0 ? 0x20026u : 0x20023u)); /* ApplicationExit / RunTimeError */
    for (;;) {}
}

#define SYST_CSR (*(volatile uint32_t*)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t*)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t*)0xE000E018u)

void board_timer_start(void) {
    SYST_CSR = 0;
    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 5; /* enabled, core clock, no interrupt */
}

uint32_t board_timer_ticks(void) { return (0xFFFFFFu - SYST_CVR) & 0xFFFFFFu; }

static void fault(void) {
    board_print("fault: hard fault, bus fault or usage fault\n");
    board_exit(1);
}

void reset_handler(void) {
    *(volatile uint32_t*)0xE000ED88u |= 0xFu << 20; /* CPACR: CP10, CP11 full access (the FPU) */
    __asm__ volatile("dsb\n isb");
    memcpy(&_data_start, &_data_load, (size_t)((char*)&_data_end - (char*)&_data_start));
    memset(&_bss_start, 0, (size_t)((char*)&_bss_end - (char*)&_bss_start));
    board_exit(main());
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))&_stack_top, reset_handler, fault, fault, fault, fault, fault, 0, 0, 0, 0, fault, fault, 0, fault, fault,
};
