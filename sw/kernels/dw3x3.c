/* 3x3 depthwise (stride 1, pad 1) on the cores: channels split over the
   cores; per channel the 9 weights stay in registers and a 3x3 window slides
   along each output row, so every output costs 3 byte loads (post-increment
   by the channel stride) and 9 MACs.  A padding row is handled by zero
   weights on a valid row, padding columns by zero window columns. */
#include "imcc.h"
#include "kernels.h"
#include "requant.h"

static inline int32_t ld(const int8_t **p, int stride) {
  int32_t v = **p;
  *p += stride;
  return v;
}

void dw3x3(const int8_t *x, const int8_t *w, const int32_t *bias, const uint32_t *scale,
           int8_t *y, int h, int wd, int c, int shift, int lo, int hi) {
  int c0, c1;
  imcc_split(c, &c0, &c1);
  const int32_t rnd = (int32_t)((1u << shift) >> 1);
  const int row = wd * c;
  for (int ch = c0; ch < c1; ch++) {
    int32_t k[9];
    for (int t = 0; t < 9; t++) k[t] = w[t * c + ch];
    const int32_t b = bias[ch];
    const uint32_t g = scale[ch];
    uint32_t kabs = 0;
    for (int t = 0; t < 9; t++) kabs += (uint32_t)(k[t] < 0 ? -k[t] : k[t]);
    const int fast = rq_fits(128u * kabs + (uint32_t)(b < 0 ? -b : b), g, shift);
    for (int oy = 0; oy < h; oy++) {
      /* rows oy-1, oy, oy+1; an outside row reads row oy with zero weights */
      const int top = oy > 0, bot = oy + 1 < h;
      const int32_t k0 = top ? k[0] : 0, k1 = top ? k[1] : 0, k2 = top ? k[2] : 0;
      const int32_t k3 = k[3], k4 = k[4], k5 = k[5];
      const int32_t k6 = bot ? k[6] : 0, k7 = bot ? k[7] : 0, k8 = bot ? k[8] : 0;
      const int8_t *r0 = x + (top ? oy - 1 : oy) * row + ch;
      const int8_t *r1 = x + oy * row + ch;
      const int8_t *r2 = x + (bot ? oy + 1 : oy) * row + ch;
      int8_t *out = y + oy * row + ch;
      int32_t a0 = 0, a1 = 0, a2 = 0;                       /* column ox-1 */
      int32_t b0 = ld(&r0, c), b1 = ld(&r1, c), b2 = ld(&r2, c);   /* column ox */
      for (int ox = 0; ox < wd; ox++) {
        int32_t c0v = 0, c1v = 0, c2v = 0;                  /* column ox+1 */
        if (ox + 1 < wd) { c0v = ld(&r0, c); c1v = ld(&r1, c); c2v = ld(&r2, c); }
        int32_t acc = b + k0 * a0 + k1 * b0 + k2 * c0v + k3 * a1 + k4 * b1 + k5 * c1v
                      + k6 * a2 + k7 * b2 + k8 * c2v;
        *out = (int8_t)(fast ? rq32(acc, (int32_t)g, rnd, shift, lo, hi)
                             : rq64(acc, g, shift, lo, hi));
        out += c;
        a0 = b0; a1 = b1; a2 = b2;
        b0 = c0v; b1 = c1v; b2 = c2v;
      }
    }
  }
  barrier();
}
