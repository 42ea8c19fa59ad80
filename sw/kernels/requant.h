/* The contract's requantisation, in 32 bits when the caller has shown that
   |acc| * gain + 2^(shift-1) stays below 2^31 (rq_fits), else in 64 bits. */
#ifndef IMCC_REQUANT_H
#define IMCC_REQUANT_H

#include <stdint.h>

static inline int32_t rq_clip(int32_t v, int32_t lo, int32_t hi) {
  v = v < lo ? lo : v;
  return v > hi ? hi : v;
}

static inline int32_t rq32(int32_t acc, int32_t gain, int32_t rnd, int shift, int32_t lo,
                           int32_t hi) {
  return rq_clip((acc * gain + rnd) >> shift, lo, hi);
}

static inline int32_t rq64(int32_t acc, uint32_t gain, int shift, int32_t lo, int32_t hi) {
  int64_t v = ((int64_t)acc * (int64_t)gain + (((int64_t)1 << shift) >> 1)) >> shift;
  return v < lo ? lo : v > hi ? hi : (int32_t)v;
}

/* Does an accumulator bounded by |acc| <= amax take the 32-bit path? */
static inline int rq_fits(uint32_t amax, uint32_t gain, int shift) {
  if (shift > 30) return 0;
  uint64_t worst = (uint64_t)amax * gain + (((uint64_t)1 << shift) >> 1);
  return worst < ((uint64_t)1 << 31);
}

#endif
