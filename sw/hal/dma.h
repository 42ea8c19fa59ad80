/* imcc HAL: the cluster DMA between the TCDM and the SoC's L2 (docs/dma.md),
   after PULP's iDMA register front-end: describe a transfer in its
   registers, read NEXT_ID to launch it (its id, 0 when refused), wait for
   its end (DONE_ID; the dma_done event wakes a sleeping core).  Offsets and
   fields come from the generated imcc_dma.h, the event bits from imcc_eu.h.

   Transfers end in launch order, so waiting for an id waits for every
   transfer launched before it. */
#ifndef IMCC_HAL_DMA_H
#define IMCC_HAL_DMA_H

#include "imcc.h"
#ifndef IMCC_DMA_BASE
#error "dma.h: this cluster configuration has no DMA (dma.enabled = false)"
#endif
#include "imcc_dma.h"

#define DMA(off) IMCC_REG(IMCC_DMA_BASE, off)
/* The DMA's events in the event unit (the error event comes with done). */
#define DMA_EVENTS (IMCC_EVT(IMCC_EU_EVENT_DMA_DONE) | IMCC_EVT(IMCC_EU_EVENT_DMA_ERROR))

static inline uint32_t dma_status(void) { return DMA(IMCC_DMA_STATUS); }
static inline uint32_t dma_error(void) { return IMCC_FIELD_GET(IMCC_DMA_STATUS, ERROR, dma_status()); }

/* Read NEXT_ID: the id of the transfer the registers describe, sleeping on
   the DMA's events while the queue is full; 0 when the transfer is refused
   (dma_error() says why). */
static inline uint32_t dma_launch(void) {
  uint32_t id;
  /* STATUS.ERROR, not FULL, tells a refusal from a full queue: FULL may have
     dropped since NEXT_ID answered (a transfer ended in between) */
  while (!(id = DMA(IMCC_DMA_NEXT_ID)) && !dma_error())
    (void)evt_wait_clear(DMA_EVENTS);
  return id;
}

/* Launch a 1-D transfer of n bytes (one side in the TCDM, the other in L2):
   its id, or 0 when refused. */
static inline uint32_t dma_memcpy(uint32_t dst, uint32_t src, uint32_t n) {
  DMA(IMCC_DMA_SRC_ADDR) = src;
  DMA(IMCC_DMA_DST_ADDR) = dst;
  DMA(IMCC_DMA_NUM_BYTES) = n;
  DMA(IMCC_DMA_CONF) = 0;
  return dma_launch();
}

/* Launch a 2-D transfer: `reps` rows of n bytes, row r from src + r*src_stride
   to dst + r*dst_stride. */
static inline uint32_t dma_memcpy_2d(uint32_t dst, uint32_t src, uint32_t n, int32_t dst_stride,
                                     int32_t src_stride, uint32_t reps) {
  DMA(IMCC_DMA_SRC_ADDR) = src;
  DMA(IMCC_DMA_DST_ADDR) = dst;
  DMA(IMCC_DMA_NUM_BYTES) = n;
  DMA(IMCC_DMA_SRC_STRIDE) = (uint32_t)src_stride;
  DMA(IMCC_DMA_DST_STRIDE) = (uint32_t)dst_stride;
  DMA(IMCC_DMA_NUM_REPS) = IMCC_FIELD(IMCC_DMA_NUM_REPS, REPS, reps);
  DMA(IMCC_DMA_CONF) = IMCC_FIELD(IMCC_DMA_CONF, TWO_D, 1);
  return dma_launch();
}

/* The transfer `id` (launched before the last 2^15 ones) has ended. */
static inline int dma_done(uint32_t id) {
  return (int16_t)(uint16_t)(DMA(IMCC_DMA_DONE_ID) - id) >= 0;
}

/* Sleep (cv.elw on the DMA's events) until transfer `id` has ended; 0, or
   IMCC_DMA_ERR_AXI when it failed. */
static inline uint32_t dma_wait(uint32_t id) {
  while (!dma_done(id)) (void)evt_wait_clear(DMA_EVENTS);
  uint32_t s = dma_status();
  return IMCC_FIELD_GET(IMCC_DMA_STATUS, ERROR_ID, s) == id ? IMCC_FIELD_GET(IMCC_DMA_STATUS, ERROR, s) : 0;
}

#endif
