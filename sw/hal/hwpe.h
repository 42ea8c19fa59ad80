/* imcc HAL: the job protocol every accelerator of the cluster follows (HWPE
   convention, docs/architecture.md): acquire a job context, write its job
   registers, trigger, sleep on the end-of-job event, read the job's error
   code.  One accelerator instance is its window's base address and its event
   bits in the event unit (IMCC_EU_EVENT_<INSTANCE>_DONE / _ERROR); ima.h and
   dw.h add each kind's job registers.  Offsets and fields come from the
   generated imcc_hwpe.h (the control registers every kind shares).

   Events are sticky bits in each core's event buffer, not counters: keep at
   most one job in flight per instance and waiting core, and consume its
   event with exactly one hwpe_wait (the next job may be prepared meanwhile). */
#ifndef IMCC_HAL_HWPE_H
#define IMCC_HAL_HWPE_H

#include "imcc.h"
#include "imcc_hwpe.h"

#define HWPE(base, off) IMCC_REG(base, off)
/* ACQUIRE's answer when every job context is queued or running. */
#define HWPE_NO_CONTEXT 0xFFFFFFFFu
/* Result of a prepare / run when no context was free: beyond the STATUS.ERROR
   codes of every kind, which fit the field. */
#define HWPE_ERR_NO_CONTEXT ((IMCC_HWPE_STATUS_ERROR_MASK >> IMCC_HWPE_STATUS_ERROR_LSB) + 1u)
/* An instance's end-of-job events (the error event comes with done). */
#define HWPE_EVENTS(INST) (IMCC_EVT(IMCC_EU_EVENT_##INST##_DONE) | \
                           IMCC_EVT(IMCC_EU_EVENT_##INST##_ERROR))

static inline uint32_t hwpe_addr(const volatile void *p) { return (uint32_t)(uintptr_t)p; }

/* Lock the next job context of the accelerator at `base`: its job id, or HWPE_NO_CONTEXT. */
static inline uint32_t hwpe_acquire(uint32_t base) { return HWPE(base, IMCC_HWPE_ACQUIRE); }

/* Commit the acquired context: the job runs when the ones before it have. */
static inline void hwpe_trigger(uint32_t base) { HWPE(base, IMCC_HWPE_TRIGGER) = 0; }

/* STATUS.ERROR: the error code of the last job that ended (the kind's ERR_* values). */
static inline uint32_t hwpe_error(uint32_t base) {
  return IMCC_FIELD_GET(IMCC_HWPE_STATUS, ERROR, HWPE(base, IMCC_HWPE_STATUS));
}

/* STATUS.BUSY: a job is queued or running. */
static inline uint32_t hwpe_busy(uint32_t base) {
  return IMCC_FIELD_GET(IMCC_HWPE_STATUS, BUSY, HWPE(base, IMCC_HWPE_STATUS));
}

/* Sleep (cv.elw) until one of `events` (HWPE_EVENTS of the instance), clear
   it; the job's error code. */
static inline uint32_t hwpe_wait(uint32_t base, uint32_t events) {
  (void)evt_wait_clear(events);
  return hwpe_error(base);
}

/* Abort the running job and drop the queued ones; returns once the
   accelerator is idle. */
static inline void hwpe_soft_clear(uint32_t base) {
  HWPE(base, IMCC_HWPE_SOFT_CLEAR) = 1;
  while (hwpe_busy(base)) {
  }
}

#endif
