/* imcc HAL: cluster control, event unit, console.  Register offsets and
   bases come from the headers `imcc gen` / `imcc sw build` generate from the
   register descriptions (imcc_cluster.h, imcc_ctrl.h, imcc_eu.h). */
#ifndef IMCC_HAL_H
#define IMCC_HAL_H

#include <stdint.h>
#include <stddef.h>
#include "imcc_cluster.h"
#include "imcc_ctrl.h"
#include "imcc_eu.h"

#define IMCC_REG(base, off) (*(volatile uint32_t *)((uintptr_t)(base) + (off)))
#define IMCC_EU(off) IMCC_REG(IMCC_EU_BASE, off)
#define IMCC_CTRL(off) IMCC_REG(IMCC_CTRL_BASE, off)
#define IMCC_EVT(n) (1u << (n))
/* A register field from the generated header's <REG>_<FIELD>_LSB / _MASK:
   IMCC_FIELD(IMCC_IMA_ROWS, COUNT, n) packs, IMCC_FIELD_GET(IMCC_IMA_STATUS, ERROR, w) extracts. */
#define IMCC_FIELD(reg, field, v) (((uint32_t)(v) << reg##_##field##_LSB) & reg##_##field##_MASK)
#define IMCC_FIELD_GET(reg, field, w) (((uint32_t)(w) & reg##_##field##_MASK) >> reg##_##field##_LSB)
/* Buffers the testbench fills: no zeroing at start-up. */
#define IMCC_NOINIT __attribute__((section(".noinit"), aligned(16)))

static inline int core_id(void) {
  int id;
  __asm__ volatile("csrr %0, mhartid" : "=r"(id));
  return id;
}

/* Cores started by FETCH_EN (the ones kernels split work over). */
static inline int num_cores(void) { return __builtin_popcount(IMCC_EU(IMCC_EU_FETCH_EN)); }

/* cv.elw: a load the event unit may hold while the core sleeps clock-gated. */
static inline uint32_t eu_elw(uint32_t offset) {
  uint32_t v;
  __asm__ volatile("cv.elw %0, 0(%1)" : "=r"(v) : "r"(IMCC_EU_BASE + offset) : "memory");
  return v;
}

/* Hardware barrier over the cores of BARRIER_MASK (crt0: the started cores). */
static inline void barrier(void) { (void)eu_elw(IMCC_EU_BARRIER_WAIT); }

static inline void evt_mask_set(uint32_t mask) { IMCC_EU(IMCC_EU_EVT_MASK) = mask; }
static inline uint32_t evt_buffer(void) { return IMCC_EU(IMCC_EU_EVT_BUFFER); }
static inline void evt_clear(uint32_t bits) { IMCC_EU(IMCC_EU_EVT_CLEAR) = bits; }

/* Sleep until one of `mask`'s events is pending; clear and return those. */
static inline uint32_t evt_wait_clear(uint32_t mask) {
  evt_mask_set(mask);
  return eu_elw(IMCC_EU_EVT_WAIT_CLEAR);
}

/* Raise software event `n` (0..7) in the buffers of `cores`. */
static inline void sw_event(uint32_t cores, uint32_t n) {
  IMCC_EU(IMCC_EU_SW_EVENT) = (cores << IMCC_EU_SW_EVENT_CORES_LSB) | (n << IMCC_EU_SW_EVENT_EVENT_LSB);
}

/* Free-running cluster cycle counter (low word). */
static inline uint32_t cycles(void) { return IMCC_CTRL(IMCC_CTRL_CYCLE_LO); }

#ifdef IMCC_CTRL_CNT_CTRL
/* Activity counters (docs/counters.md; absent with counters.enabled = false):
   a new counting window, and freeze / resume for a consistent read of the
   IMCC_CTRL_CNT_* registers. */
static inline void counters_clear(void) { IMCC_CTRL(IMCC_CTRL_CNT_CLEAR) = 1; }
static inline void counters_freeze(int on) { IMCC_CTRL(IMCC_CTRL_CNT_CTRL) = on ? 1u : 0u; }
#endif

static inline void imcc_putc(char c) { IMCC_EU(IMCC_EU_PUTC) = (uint8_t)c; }
void imcc_puts(const char *s);
void imcc_printf(const char *fmt, ...);   /* %d %u %x %s %c, no widths */

/* Split [0, n) over the started cores: this core's [*lo, *hi). */
static inline void imcc_split(int n, int *lo, int *hi) {
  int nc = num_cores(), id = core_id();
  int chunk = (n + nc - 1) / nc;
  *lo = id * chunk < n ? id * chunk : n;
  *hi = *lo + chunk < n ? *lo + chunk : n;
}

/* End the program: every started core passes here; the OR of the codes goes to EOC. */
void imcc_exit(int code) __attribute__((noreturn));

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

#endif
