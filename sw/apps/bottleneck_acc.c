/* The MobileNetV2 bottleneck on the accelerators, driven by core 0 through
   the HAL (ima.h, dw.h): bulk-programming jobs write the packed weights the
   testbench left in the TCDM into the crossbar windows, then expand 1x1 (IMA),
   depthwise 3x3 (DW), project 1x1 (IMA) and the residual add (DW) run as one
   job each, core 0 sleeping on each job's end-of-job event and preparing the
   next job (acquire + registers) while the current one runs.  The other cores
   go straight to the final barrier, asleep.

   Compile-time: shapes H, W, CIN, T, COUT, STRIDE and the crossbar windows
   EXP_ROW, EXP_COL, PRJ_ROW, PRJ_COL (`imcc sw build -D`; tb/programs.py
   passes gen/mapping.py plan_bottleneck's; the defaults are its placement).
   The testbench writes the input, the packed weights, the depthwise
   parameters and the `params` words (the layout of bottleneck_sw.c), and
   reads the outputs, layer_cycles (cluster cycles of each layer, the next
   job's configuration overlapped), program_cycles and job_error.  The exit
   code is 0, or (job number + 1) << 16 | error code of the first failing job. */
#include "imcc.h"

#if defined(IMCC_IMA_BASE) && defined(IMCC_DW_BASE)
#include "dw.h"
#include "ima.h"

#ifndef H
#define H 28
#define W 28
#define CIN 32
#define T 6
#define COUT 32
#endif
#ifndef STRIDE
#define STRIDE 1
#endif
#define CEXP (CIN * T)
#define EXPAND (T != 1)
#define RESIDUAL (STRIDE == 1 && CIN == COUT)
#define HO ((H - 1) / STRIDE + 1)
#define WO ((W - 1) / STRIDE + 1)
#define GROUPS(n) (((n) + 7) / 8)   /* programming writes groups of 8 columns */
#if EXPAND
#define CDW CEXP                    /* channels of the depthwise layer */
#else
#define CDW CIN
#endif

#ifndef EXP_ROW
#define EXP_ROW 0
#define EXP_COL 0
#endif
#ifndef PRJ_ROW
#if EXPAND
#define PRJ_ROW (EXP_ROW + CIN)
#define PRJ_COL (EXP_COL + 8 * GROUPS(CEXP))
#else
#define PRJ_ROW 0
#define PRJ_COL 0
#endif
#endif

/* gain, shift, lo, hi of expand and project; dw shift, lo, hi; add sa, sb, shift, lo, hi */
enum { EG, ES, EL, EH, PG, PS, PL, PH, DS, DL, DH, AA, AB, AS, AL, AH, NPARAMS };
IMCC_NOINIT volatile int32_t params[NPARAMS];   /* written by the testbench */

/* The jobs, in order; job_error[k] is job k's error code. */
enum { JOB_PROG_EXPAND, JOB_PROG_PROJECT, JOB_EXPAND, JOB_DW, JOB_PROJECT, JOB_ADD, NJOBS };
volatile uint32_t job_error[NJOBS];
volatile uint32_t layer_cycles[4];   /* expand, depthwise, project, add */
volatile uint32_t program_cycles;    /* both crossbar windows */

IMCC_NOINIT int8_t x[H * W * CIN];
#if EXPAND
IMCC_NOINIT uint32_t w_expand_packed[CIN * GROUPS(CEXP)];   /* [Cin][Cexp/8] words */
IMCC_NOINIT int8_t y_expand[H * W * CEXP];
#endif
IMCC_NOINIT int8_t w_dw[9 * CDW];                          /* [ky][kx][C] */
IMCC_NOINIT int32_t dw_bias[CDW];
IMCC_NOINIT uint32_t dw_scale[CDW];
IMCC_NOINIT uint32_t w_project_packed[CDW * GROUPS(COUT)];  /* [Cexp][Cout/8] words */
IMCC_NOINIT int8_t y_dw[HO * WO * CDW];
IMCC_NOINIT int8_t y_project[HO * WO * COUT];
#if RESIDUAL
IMCC_NOINIT int8_t y[HO * WO * COUT];
#endif

static int status;

static void done(int job, uint32_t err) {
  job_error[job] = err;
  if (err && !status) status = (job + 1) << 16 | (int)err;
}

int main(void) {
  if (core_id() != 0) return 0;

  /* -- program the crossbar: one bulk-programming job per window ------------------------ */
  uint32_t t = cycles();
#if EXPAND
  const ima_job_t prog_expand =
      ima_program_job(w_expand_packed, EXP_ROW, CIN, EXP_COL, 8 * GROUPS(CEXP));
  done(JOB_PROG_EXPAND, ima_run(&prog_expand));
#endif
  const ima_job_t prog_project =
      ima_program_job(w_project_packed, PRJ_ROW, CDW, PRJ_COL, 8 * GROUPS(COUT));
  done(JOB_PROG_PROJECT, ima_run(&prog_project));
  program_cycles = cycles() - t;

  /* -- inference: each layer one job; the next job is prepared while it runs ------------- */
#if EXPAND
  const int8_t *dw_in = y_expand;
#else
  const int8_t *dw_in = x;
#endif
  const dw_job_t dw = dw_conv3x3_job(dw_in, w_dw, dw_bias, dw_scale, y_dw, H, W, CDW, STRIDE,
                                     (uint32_t)params[DS], params[DL], params[DH]);
  const ima_job_t project = ima_pointwise_job(y_dw, y_project, CDW, COUT, HO * WO, PRJ_ROW,
                                              PRJ_COL, (uint32_t)params[PG],
                                              (uint32_t)params[PS], params[PL], params[PH]);
  uint32_t e;
  t = cycles();
#define LAP(k) do { uint32_t now = cycles(); layer_cycles[k] = now - t; t = now; } while (0)
#if EXPAND
  const ima_job_t expand = ima_pointwise_job(x, y_expand, CIN, CEXP, H * W, EXP_ROW, EXP_COL,
                                             (uint32_t)params[EG], (uint32_t)params[ES],
                                             params[EL], params[EH]);
  e = ima_prepare(&expand);
  if (!e) ima_trigger();
  uint32_t e_next = dw_prepare(&dw);
  if (!e) e = ima_wait();
  done(JOB_EXPAND, e);
  LAP(0);
#else
  uint32_t e_next = dw_prepare(&dw);
#endif
  e = e_next;
  if (!e) dw_trigger();
  e_next = ima_prepare(&project);
  if (!e) e = dw_wait();
  done(JOB_DW, e);
  LAP(1);
  e = e_next;
  if (!e) ima_trigger();
#if RESIDUAL
  const dw_job_t add = dw_add_job(y_project, x, y, HO, WO, COUT, params[AA], params[AB],
                                  (uint32_t)params[AS], params[AL], params[AH]);
  e_next = dw_prepare(&add);
#endif
  if (!e) e = ima_wait();
  done(JOB_PROJECT, e);
  LAP(2);
#if RESIDUAL
  e = e_next;
  if (!e) {
    dw_trigger();
    e = dw_wait();
  }
  done(JOB_ADD, e);
  LAP(3);
#endif

  imcc_printf("bottleneck_acc %dx%dx%d t=%d -> %d: program %u, layers %u %u %u %u cycles\n", H, W,
              CIN, T, COUT, program_cycles, layer_cycles[0], layer_cycles[1], layer_cycles[2],
              layer_cycles[3]);
  if (status) imcc_printf("bottleneck_acc: job %d ended with error %d\n", (status >> 16) - 1,
                          status & 0xffff);
  return status;
}

#else
/* Built for a cluster without the IMA or the DW: nothing to drive. */
int main(void) {
  if (core_id() == 0) imcc_puts("bottleneck_acc: the cluster has no IMA or no DW\n");
  return 1;
}
#endif
