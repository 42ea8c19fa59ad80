/* imcc HAL: the in-memory accelerator (IMA) driven by a core (docs/ima.md,
   "Job programming model"): the job protocol of hwpe.h with the IMA's job
   registers.  Register offsets and fields come from the generated
   imcc_ima.h, the event bits from imcc_eu.h: nothing here is a number of its
   own.  The ima_* calls drive the first instance (`ima`); a cluster with
   ima.instances > 1 drives instance k at IMCC_IMA_BASE_OF(k) through the
   hwpe_* calls and ima_write_job_at.

   Events are sticky bits in each core's event buffer, not counters: keep at
   most one IMA job in flight per waiting core and consume its event with
   exactly one ima_wait (a job may be prepared while the previous one runs). */
#ifndef IMCC_HAL_IMA_H
#define IMCC_HAL_IMA_H

#include "hwpe.h"
#ifndef IMCC_IMA_BASE
#error "ima.h: this cluster configuration has no IMA (ima.enabled = false)"
#endif
#include "imcc_ima.h"

#define IMA(off) IMCC_REG(IMCC_IMA_BASE, off)
#define IMA_NO_CONTEXT HWPE_NO_CONTEXT
#define IMA_ERR_NO_CONTEXT HWPE_ERR_NO_CONTEXT
/* The first IMA's end-of-job events in the event unit. */
#define IMA_EVENTS HWPE_EVENTS(IMA)

/* One stream: step (i, o) at addr + i*step0 + o*step1, each c2 x c1 segments
   of len bytes at + a*stride2 + b*stride1. */
typedef struct {
  uint32_t addr, len, c1, c2;
  int32_t stride1, stride2, step0, step1;
} ima_stream_t;

/* One job: the values of the job registers (MODE .. DST_STEP1). */
typedef struct {
  uint32_t op;                               /* IMCC_IMA_OP_MVM / IMCC_IMA_OP_PROGRAM */
  uint32_t row_off, n_rows, col_off, n_cols; /* crossbar window */
  uint32_t gain, shift;                      /* ADC: clip(round(acc*gain / 2^shift), lo, hi) */
  int32_t lo, hi;
  uint32_t inner, outer;                     /* steps: two nested loops */
  ima_stream_t src, dst;
  uint32_t array;                            /* crossbar array (ima.arrays > 1) */
} ima_job_t;

#define ima_addr hwpe_addr

/* Lock the next job context: its job id, or IMA_NO_CONTEXT. */
static inline uint32_t ima_acquire(void) { return hwpe_acquire(IMCC_IMA_BASE); }

/* The registers of stream P (SRC or DST) from an ima_stream_t. */
#define IMA_WRITE_STREAM(base, P, s) do {                                                    \
    HWPE(base, IMCC_IMA_##P##_ADDR) = (s)->addr;                                             \
    HWPE(base, IMCC_IMA_##P##_LEN) = IMCC_FIELD(IMCC_IMA_##P##_LEN, LEN, (s)->len);          \
    HWPE(base, IMCC_IMA_##P##_COUNT) = IMCC_FIELD(IMCC_IMA_##P##_COUNT, C1, (s)->c1) |       \
                                       IMCC_FIELD(IMCC_IMA_##P##_COUNT, C2, (s)->c2);        \
    HWPE(base, IMCC_IMA_##P##_STRIDE1) = (uint32_t)(s)->stride1;                             \
    HWPE(base, IMCC_IMA_##P##_STRIDE2) = (uint32_t)(s)->stride2;                             \
    HWPE(base, IMCC_IMA_##P##_STEP0) = (uint32_t)(s)->step0;                                 \
    HWPE(base, IMCC_IMA_##P##_STEP1) = (uint32_t)(s)->step1;                                 \
  } while (0)

/* Write the job registers of the context acquired at the IMA at `base`. */
static inline void ima_write_job_at(uint32_t base, const ima_job_t *j) {
  HWPE(base, IMCC_IMA_MODE) = IMCC_FIELD(IMCC_IMA_MODE, OP, j->op);
  HWPE(base, IMCC_IMA_ROWS) = IMCC_FIELD(IMCC_IMA_ROWS, OFFSET, j->row_off) |
                              IMCC_FIELD(IMCC_IMA_ROWS, COUNT, j->n_rows);
  HWPE(base, IMCC_IMA_COLS) = IMCC_FIELD(IMCC_IMA_COLS, OFFSET, j->col_off) |
                              IMCC_FIELD(IMCC_IMA_COLS, COUNT, j->n_cols);
  HWPE(base, IMCC_IMA_GAIN) = j->gain;
  HWPE(base, IMCC_IMA_ADC) = IMCC_FIELD(IMCC_IMA_ADC, SHIFT, j->shift) |
                             IMCC_FIELD(IMCC_IMA_ADC, LO, j->lo) |
                             IMCC_FIELD(IMCC_IMA_ADC, HI, j->hi);
  HWPE(base, IMCC_IMA_STEPS) = IMCC_FIELD(IMCC_IMA_STEPS, INNER, j->inner) |
                               IMCC_FIELD(IMCC_IMA_STEPS, OUTER, j->outer);
  IMA_WRITE_STREAM(base, SRC, &j->src);
  IMA_WRITE_STREAM(base, DST, &j->dst);
  HWPE(base, IMCC_IMA_ARRAY) = IMCC_FIELD(IMCC_IMA_ARRAY, INDEX, j->array);
}

/* Write the job registers of the acquired context. */
static inline void ima_write_job(const ima_job_t *j) { ima_write_job_at(IMCC_IMA_BASE, j); }

static inline void ima_trigger(void) { hwpe_trigger(IMCC_IMA_BASE); }

/* STATUS.ERROR: the error code of the last job that ended (IMCC_IMA_ERR_*). */
static inline uint32_t ima_error(void) { return hwpe_error(IMCC_IMA_BASE); }

/* Acquire a context and write the job, without triggering it (configure the
   next job while the current one runs): 0 or IMA_ERR_NO_CONTEXT. */
static inline uint32_t ima_prepare(const ima_job_t *j) {
  if (ima_acquire() == IMA_NO_CONTEXT) return IMA_ERR_NO_CONTEXT;
  ima_write_job(j);
  return 0;
}

/* Sleep (cv.elw) until the IMA's end-of-job event, clear it; the job's error code. */
static inline uint32_t ima_wait(void) { return hwpe_wait(IMCC_IMA_BASE, IMA_EVENTS); }

/* Prepare, trigger, wait: the job's error code (0: success). */
static inline uint32_t ima_run(const ima_job_t *j) {
  uint32_t e = ima_prepare(j);
  if (e) return e;
  ima_trigger();
  return ima_wait();
}

/* STEPS for `pixels` steps: inner * outer == pixels, each within its field;
   none (0, a job ending with IMCC_IMA_ERR_ZERO) when there is no such split. */
static inline void ima_grid(uint32_t pixels, uint32_t *inner, uint32_t *outer) {
  const uint32_t max = IMCC_IMA_STEPS_INNER_MASK >> IMCC_IMA_STEPS_INNER_LSB;
  const uint32_t max_outer = IMCC_IMA_STEPS_OUTER_MASK >> IMCC_IMA_STEPS_OUTER_LSB;
  *inner = *outer = 0;
  for (uint32_t i = pixels < max ? pixels : max; i > 0; i--)
    if (pixels % i == 0 && pixels / i <= max_outer) {
      *inner = i;
      *outer = pixels / i;
      return;
    }
}

/* A 1x1 layer over `pixels` HWC pixels (cin -> cout channels, one MVM per
   pixel) with its weights in crossbar rows row_off.., columns col_off.. */
static inline ima_job_t ima_pointwise_job(const volatile void *src, volatile void *dst,
                                          uint32_t cin, uint32_t cout, uint32_t pixels,
                                          uint32_t row_off, uint32_t col_off, uint32_t gain,
                                          uint32_t shift, int32_t lo, int32_t hi) {
  ima_job_t j = {.op = IMCC_IMA_OP_MVM, .row_off = row_off, .n_rows = cin, .col_off = col_off,
                 .n_cols = cout, .gain = gain, .shift = shift, .lo = lo, .hi = hi};
  ima_grid(pixels, &j.inner, &j.outer);
  j.src = (ima_stream_t){.addr = ima_addr(src), .len = cin, .c1 = 1, .c2 = 1,
                         .step0 = (int32_t)cin, .step1 = (int32_t)(cin * j.inner)};
  j.dst = (ima_stream_t){.addr = ima_addr(dst), .len = cout, .c1 = 1, .c2 = 1,
                         .step0 = (int32_t)cout, .step1 = (int32_t)(cout * j.inner)};
  return j;
}

/* Bulk programming of a crossbar window from packed weights in the TCDM:
   row-major, n_cols / 8 words per row (column 8g+i in bits 4i+3:4i of word
   g); col_off and n_cols multiples of 8. */
static inline ima_job_t ima_program_job(const volatile uint32_t *words, uint32_t row_off,
                                        uint32_t n_rows, uint32_t col_off, uint32_t n_cols) {
  const uint32_t row_bytes = n_cols / 2;
  return (ima_job_t){.op = IMCC_IMA_OP_PROGRAM, .row_off = row_off, .n_rows = n_rows,
                     .col_off = col_off, .n_cols = n_cols, .gain = 1, .lo = INT8_MIN,
                     .hi = INT8_MAX, .inner = n_rows, .outer = 1,
                     .src = {.addr = ima_addr(words), .len = row_bytes, .c1 = 1, .c2 = 1,
                             .step0 = (int32_t)row_bytes},
                     .dst = {.len = 1, .c1 = 1, .c2 = 1}};
}

#endif
