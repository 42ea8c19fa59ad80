/* The MobileNetV2 bottleneck on the cores: expand 1x1 -> depthwise 3x3 ->
   project 1x1 -> residual add, every layer parallel over the started cores.
   Shapes are compile-time (H, W, CIN, T, COUT: `imcc sw build -D`); the
   testbench writes the input, weights and the `params` words, and reads the
   outputs and layer_cycles (cluster cycles of each layer, from core 0). */
#include "imcc.h"
#include "kernels.h"

#ifndef H
#define H 28
#define W 28
#define CIN 32
#define T 6
#define COUT 32
#endif
#define CEXP (CIN * T)
#define NPIX (H * W)

/* gain, shift, lo, hi of expand and project; dw shift, lo, hi; add sa, sb, shift, lo, hi */
enum { EG, ES, EL, EH, PG, PS, PL, PH, DS, DL, DH, AA, AB, AS, AL, AH, NPARAMS };
IMCC_NOINIT volatile int32_t params[NPARAMS];   /* written by the testbench */
volatile uint32_t layer_cycles[4];

IMCC_NOINIT int8_t x[NPIX * CIN];
IMCC_NOINIT int8_t w_expand_t[CEXP * CIN];     /* [Cexp][Cin] */
IMCC_NOINIT int8_t w_dw[9 * CEXP];             /* [ky][kx][C] */
IMCC_NOINIT int32_t dw_bias[CEXP];
IMCC_NOINIT uint32_t dw_scale[CEXP];
IMCC_NOINIT int8_t w_project_t[COUT * CEXP];   /* [Cout][Cexp] */
IMCC_NOINIT int8_t y_expand[NPIX * CEXP];
IMCC_NOINIT int8_t y_dw[NPIX * CEXP];
IMCC_NOINIT int8_t y_project[NPIX * COUT];
IMCC_NOINIT int8_t y[NPIX * COUT];

int main(void) {
  const int id = core_id();
  uint32_t t = cycles();
#define LAP(k) do { if (id == 0) { uint32_t now = cycles(); layer_cycles[k] = now - t; t = now; } } while (0)
  conv1x1(x, w_expand_t, y_expand, NPIX, CIN, CEXP, (uint32_t)params[EG], params[ES], params[EL],
          params[EH]);
  LAP(0);
  dw3x3(y_expand, w_dw, dw_bias, dw_scale, y_dw, H, W, CEXP, params[DS], params[DL], params[DH]);
  LAP(1);
  conv1x1(y_dw, w_project_t, y_project, NPIX, CEXP, COUT, (uint32_t)params[PG], params[PS],
          params[PL], params[PH]);
  LAP(2);
  residual_add(y_project, x, y, NPIX * COUT, params[AA], params[AB], params[AS], params[AL],
               params[AH]);
  LAP(3);
  if (id == 0)
    imcc_printf("bottleneck %dx%dx%d t=%d -> %d: %u %u %u %u cycles\n", H, W, CIN, T, COUT,
                layer_cycles[0], layer_cycles[1], layer_cycles[2], layer_cycles[3]);
  return 0;
}
