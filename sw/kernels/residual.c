/* Residual add on the cores, elements split over the cores. */
#include "imcc.h"
#include "kernels.h"
#include "requant.h"

void residual_add(const int8_t *a, const int8_t *b, int8_t *y, int n, int32_t sa, int32_t sb,
                  int shift, int lo, int hi) {
  int i0, i1;
  imcc_split(n, &i0, &i1);
  /* |a*sa + b*sb| <= 128 * (|sa| + |sb|): 32 bits unless the scales are huge */
  uint32_t m = (uint32_t)(sa < 0 ? -sa : sa) + (uint32_t)(sb < 0 ? -sb : sb);
  const int fast = m < (1u << 22) && rq_fits(128u * m, 1, shift);
  const int32_t rnd = (int32_t)((1u << shift) >> 1);
  for (int i = i0; i < i1; i++) {
    if (fast) {
      y[i] = (int8_t)rq_clip((a[i] * sa + b[i] * sb + rnd) >> shift, lo, hi);
    } else {
      int64_t v = ((int64_t)a[i] * sa + (int64_t)b[i] * sb + (((int64_t)1 << shift) >> 1)) >> shift;
      y[i] = (int8_t)(v < lo ? lo : v > hi ? hi : v);
    }
  }
  barrier();
}
