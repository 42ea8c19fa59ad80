/* Parallel int8 kernels of the MobileNetV2 bottleneck, bit-exact with
   sim/golden.py.  Every kernel is called by all started cores with the same
   arguments, splits the work by core_id() and ends with a barrier (the
   output is complete when it returns).  Layouts: activations HWC; pointwise
   weights transposed, [Cout][Cin] (each output channel's Cin contiguous);
   depthwise weights [ky][kx][C].  Requantisation (the contract's rule):
   y = clip(floor((acc * gain + 2^(shift-1)) / 2^shift), lo, hi). */
#ifndef IMCC_KERNELS_H
#define IMCC_KERNELS_H

#include <stdint.h>

/* 1x1 convolution: y[p][co] = rq(sum_ci x[p][ci] * wt[co][ci]); cin % 4 == 0,
   x, wt 4-byte aligned. */
void conv1x1(const int8_t *x, const int8_t *wt, int8_t *y, int npix, int cin, int cout,
             uint32_t gain, int shift, int lo, int hi);

/* 3x3 depthwise, stride 1, zero padding 1: acc = bias[c] + 9 taps;
   y = rq(acc) with per-channel scale[c]. */
void dw3x3(const int8_t *x, const int8_t *w, const int32_t *bias, const uint32_t *scale,
           int8_t *y, int h, int wd, int c, int shift, int lo, int hi);

/* Residual add: y = clip(round_shift(a*sa + b*sb, shift), lo, hi). */
void residual_add(const int8_t *a, const int8_t *b, int8_t *y, int n, int32_t sa, int32_t sb,
                  int shift, int lo, int hi);

#endif
