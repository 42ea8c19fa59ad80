/* The barrier releases all cores together: the cores arrive far apart (core i
   works i * SPREAD cycles more), then each notes the cycle it left the barrier.
   The exit code fails when the leave cycles spread more than the TCDM
   arbitration of the cycle-counter reads allows, or the arrivals were not
   spread at all. */
#include "imcc.h"

#define SPREAD 200

volatile uint32_t arrive[IMCC_NUM_CORES], leave[IMCC_NUM_CORES];

int main(void) {
  int id = core_id(), n = num_cores();
  uint32_t t0 = cycles();
  while (cycles() - t0 < (uint32_t)(id * SPREAD)) {}
  arrive[id] = cycles();
  barrier();
  leave[id] = cycles();
  barrier();
  if (id != 0) return 0;
  uint32_t lmin = leave[0], lmax = leave[0], amin = arrive[0], amax = arrive[0];
  for (int i = 1; i < n; i++) {
    lmin = leave[i] < lmin ? leave[i] : lmin;
    lmax = leave[i] > lmax ? leave[i] : lmax;
    amin = arrive[i] < amin ? arrive[i] : amin;
    amax = arrive[i] > amax ? arrive[i] : amax;
  }
  imcc_printf("barrier: arrivals spread %u cycles, leaves spread %u cycles\n", amax - amin,
              lmax - lmin);
  /* n reads of one register through the interconnect take n cycles; allow 2 per core */
  if (lmax - lmin > 2u * (uint32_t)n) return 2;
  if (n > 1 && amax - amin < (uint32_t)(SPREAD * (n - 1) / 2)) return 3;
  return 0;
}
