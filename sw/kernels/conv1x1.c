/* 1x1 convolution on the cores: 2 pixels x 4 output channels per inner block,
   so 6 word loads (post-increment) feed 8 SIMD dot products (cv.sdotsp.b,
   4 int8 MACs each).  Pixels are split over the cores. */
#include "imcc.h"
#include "kernels.h"
#include "requant.h"

#define SDOT(acc, a, b) __asm__("cv.sdotsp.b %0, %1, %2" : "+r"(acc) : "r"(a), "r"(b))

static inline int8_t rq(int32_t acc, uint32_t gain, int32_t rnd, int shift, int lo, int hi,
                        int fast) {
  return (int8_t)(fast ? rq32(acc, (int32_t)gain, rnd, shift, lo, hi)
                       : rq64(acc, gain, shift, lo, hi));
}

void conv1x1(const int8_t *x, const int8_t *wt, int8_t *y, int npix, int cin, int cout,
             uint32_t gain, int shift, int lo, int hi) {
  int p0, p1;
  imcc_split(npix, &p0, &p1);
  const int fast = rq_fits(128u * 128u * (uint32_t)cin, gain, shift);
  const int32_t rnd = (int32_t)((1u << shift) >> 1);
  const int n4 = cin / 4;
  int p = p0;
  for (; p + 1 < p1; p += 2) {
    const int8_t *xa = x + p * cin;
    int8_t *ya = y + p * cout, *yb = ya + cout;
    int co = 0;
    for (; co + 3 < cout; co += 4) {
      const int32_t *a = (const int32_t *)xa, *b = (const int32_t *)(xa + cin);
      const int32_t *w0 = (const int32_t *)(wt + co * cin), *w1 = w0 + n4, *w2 = w1 + n4,
                    *w3 = w2 + n4;
      int32_t s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
#pragma clang loop unroll_count(2)
      for (int i = 0; i < n4; i++) {
        int32_t va = *a++, vb = *b++, k0 = *w0++, k1 = *w1++, k2 = *w2++, k3 = *w3++;
        SDOT(s00, va, k0); SDOT(s01, va, k1); SDOT(s02, va, k2); SDOT(s03, va, k3);
        SDOT(s10, vb, k0); SDOT(s11, vb, k1); SDOT(s12, vb, k2); SDOT(s13, vb, k3);
      }
      ya[co] = rq(s00, gain, rnd, shift, lo, hi, fast);
      ya[co + 1] = rq(s01, gain, rnd, shift, lo, hi, fast);
      ya[co + 2] = rq(s02, gain, rnd, shift, lo, hi, fast);
      ya[co + 3] = rq(s03, gain, rnd, shift, lo, hi, fast);
      yb[co] = rq(s10, gain, rnd, shift, lo, hi, fast);
      yb[co + 1] = rq(s11, gain, rnd, shift, lo, hi, fast);
      yb[co + 2] = rq(s12, gain, rnd, shift, lo, hi, fast);
      yb[co + 3] = rq(s13, gain, rnd, shift, lo, hi, fast);
    }
    for (; co < cout; co++) {           /* output channels beyond a multiple of 4 */
      const int32_t *a = (const int32_t *)xa, *b = (const int32_t *)(xa + cin);
      const int32_t *w0 = (const int32_t *)(wt + co * cin);
      int32_t s0 = 0, s1 = 0;
      for (int i = 0; i < n4; i++) {
        int32_t k = *w0++;
        SDOT(s0, *a++, k); SDOT(s1, *b++, k);
      }
      ya[co] = rq(s0, gain, rnd, shift, lo, hi, fast);
      yb[co] = rq(s1, gain, rnd, shift, lo, hi, fast);
    }
  }
  for (; p < p1; p++) {                 /* an odd last pixel */
    for (int co = 0; co < cout; co++) {
      const int32_t *a = (const int32_t *)(x + p * cin), *w0 = (const int32_t *)(wt + co * cin);
      int32_t s = 0;
      for (int i = 0; i < n4; i++) SDOT(s, *a++, *w0++);
      y[p * cout + co] = rq(s, gain, rnd, shift, lo, hi, fast);
    }
  }
  barrier();
}
