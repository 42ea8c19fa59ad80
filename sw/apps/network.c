/* A network on the cluster: core 0 walks the job list the network compiler
   (gen/compiler/program.py) left in L2 and drives the accelerators and the
   DMA with it, as the paper's cores do.  Compiled once per configuration:
   everything about the network is in the job list.

   L2 starts with a boot record {magic, address of the job list}.  The job
   list (a header with the unit table, then entries in 4 KiB chunks) comes
   into the TCDM through the DMA, one chunk ahead.  Each JOB entry first
   waits until the jobs it depends on have ended (counts of ended jobs per
   unit: FINISHED_JOBS of an HWPE, the DMA's DONE_ID for the transfer ids
   this program launched), sleeping on the units' events; then an HWPE job
   is ACQUIREd, its registers written and TRIGGERed (the accelerator has two
   job contexts, so the next job is configured while one runs), a DMA
   transfer is described and launched (NEXT_ID).  A MARK waits likewise and
   stores the cycle counter (the per-layer cycles of the report).  An error
   event of any unit ends the run: exit code 1, net_status says where.

   The compiler places its buffers in `arena` (the TCDM's base, ARENA_BYTES
   long: `imcc sw build network -D ARENA_BYTES=...`). */
#include "imcc.h"
#include "dma.h"

#ifndef ARENA_BYTES
#define ARENA_BYTES 4096
#endif
#define MAGIC 0x4E434D49u
#define BOOT_MAGIC 0x544F4F42u          /* "BOOT" */
#define HEADER_BYTES 256
#define CHUNK 4096
#define MAX_UNITS 8
#define MAX_MARKS 1024
#define FINISHED_JOBS 0x08
#define FAILED 0x18
#define ACQUIRE 0x04
#define TRIGGER 0x00
enum { JOB, MARK, NEXT, END };
enum { HWPE, DMAU };

__attribute__((section(".arena"))) uint8_t arena[ARENA_BYTES];
IMCC_NOINIT uint32_t chunk[2][CHUNK / 4];
IMCC_NOINIT uint32_t header[HEADER_BYTES / 4];
volatile uint32_t marks[MAX_MARKS];
volatile uint32_t mark_count;
volatile uint32_t start_cycles;   /* the cycle counter as the first entry starts */
/* entries done, the failed job's number within its unit (1-based; 0: none), that
   unit (MAX_UNITS: the job list itself), its error code */
volatile uint32_t net_status[4];
static uint16_t dma_ids[256];
static uint32_t dma_seq;
static uint32_t n_units, all_events, error_events;
static uint32_t base[MAX_UNITS], kind[MAX_UNITS], err_bit[MAX_UNITS];

static void fail(uint32_t unit, uint32_t job, uint32_t code) __attribute__((noreturn));
static void fail(uint32_t unit, uint32_t job, uint32_t code) {
  net_status[1] = job;
  net_status[2] = unit;
  net_status[3] = code;
  imcc_exit(1);
}

/* A unit reported an error: which of its jobs, and the code (an HWPE keeps the
   last failed job in FAILED; the DMA the id of its last failed transfer). */
static void fail_unit(uint32_t u) {
  if (kind[u] == DMAU) {
    uint32_t s = dma_status(), id = IMCC_FIELD_GET(IMCC_DMA_STATUS, ERROR_ID, s), job = 0;
    for (uint32_t k = 0; k < 256 && k < dma_seq; k++)
      if (dma_ids[(dma_seq - 1 - k) & 255] == id) { job = dma_seq - k; break; }
    fail(u, job, IMCC_FIELD_GET(IMCC_DMA_STATUS, ERROR, s));
  }
  uint32_t f = IMCC_REG(base[u], FAILED);
  fail(u, f >> 16, f & 0xff);
}

/* Sleep until an event of a unit; an error event ends the run. */
static void sleep_events(void) {
  uint32_t e = evt_wait_clear(all_events);
  if (e & error_events)
    for (uint32_t u = 0; u < n_units; u++)
      if (e & IMCC_EVT(err_bit[u])) fail_unit(u);
}

static int ended(uint32_t u, uint32_t count) {
  if (kind[u] == DMAU) return dma_done(dma_ids[(count - 1) & 255]);
  return IMCC_REG(base[u], FINISHED_JOBS) >= count;
}

static void wait_for(uint32_t w) {
  uint32_t u = w >> 24, count = w & 0xffffff;
  while (!ended(u, count)) sleep_events();
}

static uint32_t fetch(void *dst, uint32_t src, uint32_t n) {
  uint32_t id = dma_memcpy((uint32_t)(uintptr_t)dst, src, n);
  if (!id) fail(MAX_UNITS, 0, dma_error());
  return id;
}

int main(void) {
  if (core_id() != 0) return 0;
  uint32_t boot[2];
  uint32_t id = fetch(header, IMCC_L2_BASE, 8);
  if (dma_wait(id)) fail(MAX_UNITS, 0, dma_error());
  boot[0] = header[0];
  boot[1] = header[1];
  if (boot[0] != BOOT_MAGIC) return 2;
  if (dma_wait(fetch(header, boot[1], HEADER_BYTES))) fail(MAX_UNITS, 0, dma_error());
  if (header[0] != MAGIC) return 3;
  n_units = header[4];
  uint32_t total = header[6];
  for (uint32_t u = 0; u < n_units && u < MAX_UNITS; u++) {
    base[u] = header[8 + 4 * u];
    kind[u] = header[9 + 4 * u];
    all_events |= IMCC_EVT(header[10 + 4 * u]) | IMCC_EVT(header[11 + 4 * u]);
    err_bit[u] = header[11 + 4 * u];
    error_events |= IMCC_EVT(err_bit[u]);
  }
  /* chunk k of the entries sits at list + HEADER_BYTES + k * CHUNK */
  uint32_t list = boot[1] + HEADER_BYTES, off = 0, cur = 0;
  if (dma_wait(fetch(chunk[0], list, total < CHUNK ? total : CHUNK))) fail(MAX_UNITS, 0, dma_error());
  uint32_t next_id = 0;
  if (total > CHUNK) next_id = fetch(chunk[1], list + CHUNK, total - CHUNK < CHUNK ? total - CHUNK : CHUNK);
  const uint32_t *p = chunk[0];
  start_cycles = cycles();

  for (;;) {
    uint32_t w0 = *p++;
    uint32_t k = w0 & 15, unit = (w0 >> 4) & 15, nw = (w0 >> 8) & 255, nr = w0 >> 16;
    if (k == NEXT) {
      /* the chunk being fetched becomes current; fetch the one after into the other buffer */
      if (dma_wait(next_id)) fail(MAX_UNITS, 0, dma_error());
      cur ^= 1;
      off += CHUNK;
      p = chunk[cur];
      if (off + CHUNK < total) {
        uint32_t o = off + CHUNK, n = total - o < CHUNK ? total - o : CHUNK;
        next_id = fetch(chunk[cur ^ 1], list + o, n);
      }
      continue;
    }
    if (k == END) break;
    for (uint32_t i = 0; i < nw; i++) wait_for(*p++);
    if (k == MARK) {
      uint32_t m = *p++;
      if (m < MAX_MARKS) marks[m] = cycles();
      mark_count = m + 1;
    } else if (kind[unit] == HWPE) {
      uint32_t b = base[unit];
      while (IMCC_REG(b, ACQUIRE) == 0xffffffffu) sleep_events();
      for (uint32_t i = 0; i < nr; i++, p += 2) IMCC_REG(b, p[0]) = p[1];
      IMCC_REG(b, TRIGGER) = 0;
    } else {
      uint32_t b = base[unit];
      for (uint32_t i = 0; i < nr; i++, p += 2) IMCC_REG(b, p[0]) = p[1];
      uint32_t tid;
      /* 0: the queue was full (a transfer in flight will end and wake us) or the
         launch was refused (STATUS.ERROR says why; reading FULL instead would race
         with a transfer ending in between) */
      while (!(tid = DMA(IMCC_DMA_NEXT_ID))) {
        if (dma_error()) fail(unit, dma_seq + 1, dma_error());
        sleep_events();
      }
      dma_ids[dma_seq++ & 255] = (uint16_t)tid;
    }
    net_status[0]++;
  }
  if (evt_buffer() & error_events) sleep_events();   /* an error not seen yet */
  for (uint32_t u = 0; u < n_units; u++)
    if (kind[u] == DMAU ? dma_error() != 0 : IMCC_REG(base[u], FAILED) != 0) fail_unit(u);
  return 0;
}
