/* imcc HAL: the depthwise 3x3 / element-wise add accelerator (DW) driven by a
   core (docs/dw.md): the job protocol of hwpe.h with the DW's job registers.
   Offsets and fields come from the generated imcc_dw.h, the event bits from
   imcc_eu.h.  The dw_* calls drive the first instance (`dw`); instance k of a
   cluster with dw.instances > 1 is at IMCC_DW_BASE_OF(k) (hwpe_* calls and
   dw_write_job_at).

   As for the IMA: at most one DW job in flight per waiting core, its event
   consumed by exactly one dw_wait (the next job may be prepared meanwhile). */
#ifndef IMCC_HAL_DW_H
#define IMCC_HAL_DW_H

#include "hwpe.h"
#ifndef IMCC_DW_BASE
#error "dw.h: this cluster configuration has no DW accelerator (dw.enabled = false)"
#endif
#include "imcc_dw.h"

#define DW(off) IMCC_REG(IMCC_DW_BASE, off)
#define DW_NO_CONTEXT HWPE_NO_CONTEXT
#define DW_ERR_NO_CONTEXT HWPE_ERR_NO_CONTEXT
/* The first DW's end-of-job events in the event unit. */
#define DW_EVENTS HWPE_EVENTS(DW)

/* One job: the values of the job registers (MODE .. SCALE_B). */
typedef struct {
  uint32_t op;                              /* IMCC_DW_OP_DW3X3 / IMCC_DW_OP_ADD */
  uint32_t stride, pad_t, pad_b, pad_l, pad_r;
  uint32_t h, w, c;                         /* input (ADD: the tensors') size, HWC */
  uint32_t src, src2, weight, bias, scale, dst;   /* byte addresses */
  uint32_t shift;                           /* requantisation: clip(round(v / 2^shift), lo, hi) */
  int32_t lo, hi;
  int32_t scale_a, scale_b;                 /* ADD: y = (a*scale_a + b*scale_b) requantised */
} dw_job_t;

#define dw_addr hwpe_addr

/* Lock the next job context: its job id, or DW_NO_CONTEXT. */
static inline uint32_t dw_acquire(void) { return hwpe_acquire(IMCC_DW_BASE); }

/* Write the job registers of the context acquired at the DW at `base` (all
   of them: a context keeps what an earlier job left in it). */
static inline void dw_write_job_at(uint32_t base, const dw_job_t *j) {
  HWPE(base, IMCC_DW_MODE) = IMCC_FIELD(IMCC_DW_MODE, OP, j->op) |
                             IMCC_FIELD(IMCC_DW_MODE, STRIDE, j->stride) |
                             IMCC_FIELD(IMCC_DW_MODE, PAD_T, j->pad_t) |
                             IMCC_FIELD(IMCC_DW_MODE, PAD_B, j->pad_b) |
                             IMCC_FIELD(IMCC_DW_MODE, PAD_L, j->pad_l) |
                             IMCC_FIELD(IMCC_DW_MODE, PAD_R, j->pad_r);
  HWPE(base, IMCC_DW_SIZE) = IMCC_FIELD(IMCC_DW_SIZE, H, j->h) | IMCC_FIELD(IMCC_DW_SIZE, W, j->w);
  HWPE(base, IMCC_DW_CHANNELS) = IMCC_FIELD(IMCC_DW_CHANNELS, C, j->c);
  HWPE(base, IMCC_DW_SRC_ADDR) = j->src;
  HWPE(base, IMCC_DW_SRC2_ADDR) = j->src2;
  HWPE(base, IMCC_DW_WEIGHT_ADDR) = j->weight;
  HWPE(base, IMCC_DW_BIAS_ADDR) = j->bias;
  HWPE(base, IMCC_DW_SCALE_ADDR) = j->scale;
  HWPE(base, IMCC_DW_DST_ADDR) = j->dst;
  HWPE(base, IMCC_DW_QUANT) = IMCC_FIELD(IMCC_DW_QUANT, SHIFT, j->shift) |
                              IMCC_FIELD(IMCC_DW_QUANT, LO, j->lo) |
                              IMCC_FIELD(IMCC_DW_QUANT, HI, j->hi);
  HWPE(base, IMCC_DW_SCALE_A) = (uint32_t)j->scale_a;
  HWPE(base, IMCC_DW_SCALE_B) = (uint32_t)j->scale_b;
}

/* Write the job registers of the acquired context. */
static inline void dw_write_job(const dw_job_t *j) { dw_write_job_at(IMCC_DW_BASE, j); }

static inline void dw_trigger(void) { hwpe_trigger(IMCC_DW_BASE); }

/* STATUS.ERROR: the error code of the last job that ended (IMCC_DW_ERR_*). */
static inline uint32_t dw_error(void) { return hwpe_error(IMCC_DW_BASE); }

/* Acquire a context and write the job, without triggering it: 0 or DW_ERR_NO_CONTEXT. */
static inline uint32_t dw_prepare(const dw_job_t *j) {
  if (dw_acquire() == DW_NO_CONTEXT) return DW_ERR_NO_CONTEXT;
  dw_write_job(j);
  return 0;
}

/* Sleep (cv.elw) until the DW's end-of-job event, clear it; the job's error code. */
static inline uint32_t dw_wait(void) { return hwpe_wait(IMCC_DW_BASE, DW_EVENTS); }

/* Prepare, trigger, wait: the job's error code (0: success). */
static inline uint32_t dw_run(const dw_job_t *j) {
  uint32_t e = dw_prepare(j);
  if (e) return e;
  dw_trigger();
  return dw_wait();
}

/* Depthwise 3x3 over an h x w x c HWC input, zero padding 1 on each side,
   stride 1 or 2: weights w[ky][kx][c], int32 bias[c], unsigned scale[c]. */
static inline dw_job_t dw_conv3x3_job(const volatile void *src, const volatile void *weight,
                                      const volatile void *bias, const volatile void *scale,
                                      volatile void *dst, uint32_t h, uint32_t w, uint32_t c,
                                      uint32_t stride, uint32_t shift, int32_t lo, int32_t hi) {
  return (dw_job_t){.op = IMCC_DW_OP_DW3X3, .stride = stride,
                    .pad_t = 1, .pad_b = 1, .pad_l = 1, .pad_r = 1, .h = h, .w = w, .c = c,
                    .src = dw_addr(src), .weight = dw_addr(weight), .bias = dw_addr(bias),
                    .scale = dw_addr(scale), .dst = dw_addr(dst),
                    .shift = shift, .lo = lo, .hi = hi};
}

/* Element-wise add of two h x w x c int8 tensors. */
static inline dw_job_t dw_add_job(const volatile void *a, const volatile void *b,
                                  volatile void *dst, uint32_t h, uint32_t w, uint32_t c,
                                  int32_t scale_a, int32_t scale_b, uint32_t shift, int32_t lo,
                                  int32_t hi) {
  return (dw_job_t){.op = IMCC_DW_OP_ADD, .h = h, .w = w, .c = c, .src = dw_addr(a),
                    .src2 = dw_addr(b), .dst = dw_addr(dst), .shift = shift, .lo = lo,
                    .hi = hi, .scale_a = scale_a, .scale_b = scale_b};
}

#endif
