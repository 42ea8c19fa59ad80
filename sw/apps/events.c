/* Events wake sleeping cores.  Phase 1: every core sleeps (cv.elw) until the
   host raises software event 2.  Phase 2: cores 1.. sleep until core 0, having
   seen them all asleep (SLEEPING), raises software event 1 for them; each notes
   how many cycles after the raise it woke. */
#include "imcc.h"

volatile uint32_t raised, woke[IMCC_NUM_CORES];

int main(void) {
  int id = core_id(), n = num_cores();
  uint32_t got = evt_wait_clear(IMCC_EVT(IMCC_EU_EVENT_SW2));
  if (got != IMCC_EVT(IMCC_EU_EVENT_SW2)) return 10;
  barrier();
  uint32_t others = ((1u << n) - 1) & ~1u;
  if (id == 0) {
    while ((IMCC_EU(IMCC_EU_SLEEPING) & others) != others) {}
    raised = cycles();
    sw_event(others, 1);
  } else {
    got = evt_wait_clear(IMCC_EVT(IMCC_EU_EVENT_SW1));
    woke[id] = cycles();
    if (got != IMCC_EVT(IMCC_EU_EVENT_SW1)) return 11;
    if (evt_buffer() & IMCC_EVT(IMCC_EU_EVENT_SW1)) return 12;   /* cleared */
  }
  barrier();
  if (id != 0) return 0;
  uint32_t worst = 0;
  for (int i = 1; i < n; i++) worst = woke[i] - raised > worst ? woke[i] - raised : worst;
  imcc_printf("events: %d cores woke at most %u cycles after the event\n", n - 1, worst);
  return worst > 10u + 2u * (uint32_t)n ? 13 : 0;
}
