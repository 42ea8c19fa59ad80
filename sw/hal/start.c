/* C start-up (after crt0.S): core 0 clears .bss and makes the barrier wait for
   the started cores; everyone meets there, runs main, and imcc_exit reports. */
#include "imcc.h"

extern uint32_t __bss_start[], __bss_end[];
int main(void);

static volatile uint32_t exit_status;

void _imcc_start(void) __attribute__((noreturn, used));
void _imcc_start(void) {
  if (core_id() == 0) {
    for (uint32_t *p = __bss_start; p < __bss_end; p++) *p = 0;
    IMCC_EU(IMCC_EU_BARRIER_MASK) = IMCC_EU(IMCC_EU_FETCH_EN);
  }
  barrier();
  imcc_exit(main());
}

void imcc_exit(int code) {
  if (code) exit_status = (uint32_t)code;   /* any failing core's code wins */
  barrier();
  if (core_id() == 0) IMCC_EU(IMCC_EU_EOC) = exit_status;
  for (;;) (void)evt_wait_clear(0);          /* sleep for good */
}
