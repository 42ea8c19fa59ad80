/* A network on the cluster: core 0 walks the job list the network compiler
   (gen/compiler/program.py) left in L2 and drives the accelerators and the
   DMA with it, as the paper's cores do.  Compiled once per configuration:
   everything about the network is in the job list.

   L2 starts with a boot record {magic, address of the job list}.  The job
   list (a header with the unit table, then entries in 4 KiB chunks) comes
   into the TCDM through the DMA, one chunk ahead.  A JOB may be issued once
   the jobs it depends on have ended (its waits: counts of ended jobs per
   unit, FINISHED_JOBS of an HWPE, the DMA's DONE_ID for the transfer ids
   this program launched) and its unit has room (a free job context, a
   queue slot).  The walker keeps the next entries (the list's lookahead, at
   most WINDOW) in a ring and, per unit, the first of them not issued yet (a
   unit's jobs stay in list order, which the waits' counts assume): a scan
   looks at those heads only, a few per scan however long the ring, and
   issues every one that may go, so a unit never idles because another
   unit's job further up the list is not ready; when none may go it sleeps
   on the units' events.  An HWPE job is
   ACQUIREd, its registers written (only those that differ from what its job
   context holds: the compiler encodes the difference) and TRIGGERed; a DMA
   transfer is described and launched (NEXT_ID).  An HWPE with job waits
   (ima.job_waits, dw.job_waits: WAIT registers per job context) takes a job
   before its waits are met, as long as every wait not met names a job already
   issued, of an HWPE or the DMA, and they are at most its WAIT registers: the
   controller starts it once they are met (docs/compiler.md, "Job waits"), so
   the unit never waits for core 0 to come round.  A MARK (a barrier: nothing
   after it goes before it) waits for its counts and stores the cycle counter
   (the per-layer cycles of the report); a WAIT is a barrier that records
   nothing.  An error event of any unit ends the run: exit code 1, net_status
   says where.

   The compiler places its buffers in `arena` (the TCDM's base, ARENA_BYTES
   long: `imcc sw build network -D ARENA_BYTES=...`). */
#include "imcc.h"
#include "dma.h"
#include "kernels.h"
#include "imcc_hwpe.h"

#ifndef ARENA_BYTES
#define ARENA_BYTES 4096
#endif
#define MAGIC 0x4E434D49u
#define BOOT_MAGIC 0x544F4F42u          /* "BOOT" */
#define HEADER_BYTES 256
#define CHUNK 4096
#define MAX_UNITS 8
#define UNIT_WORDS 6                   /* base, kind, done bit, error bit, contexts, waits|source */
#define NO_SOURCE 0xff
#define WINDOW 64                      /* the ring: at most this many entries ahead (a power of 2) */
#define PARSE_STEP 4
#define NONE 0xffffffffu
#define BAR 0xff                       /* a MARK or WAIT in the ring */
#define MAX_MARKS 1024
#define FINISHED_JOBS 0x08
#define FAILED 0x18
#define ACQUIRE 0x04
#define TRIGGER 0x00
enum { JOB, MARK, NEXT, END, WAIT };
enum { HWPE, DMAU, CORES };
#define NO_EVENT 0xff
#define WORK_EVENT 0                   /* software event: cores 1.. have work (or quit) */

/* A residual add the job list gives the cores (kind CORES): core 0 posts it and
   raises WORK_EVENT, every core takes its share (kernels/residual.c), the
   kernel's barrier ends it; quit ends the other cores' wait. */
static volatile struct { uint32_t a, b, dst, n, sa, sb, shift, lohi, quit; } work;

static void run_work(void) {
  residual_add((const int8_t *)(uintptr_t)work.a, (const int8_t *)(uintptr_t)work.b,
               (int8_t *)(uintptr_t)work.dst, (int)work.n, (int32_t)work.sa, (int32_t)work.sb,
               (int)work.shift, (int8_t)(work.lohi & 0xff), (int8_t)(work.lohi >> 8));
}

static void release_cores(void) {
  work.quit = 1;
  sw_event(((1u << num_cores()) - 1) & ~1u, WORK_EVENT);
}

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
static uint32_t base[MAX_UNITS], kind[MAX_UNITS], err_bit[MAX_UNITS], room[MAX_UNITS];
static uint32_t issued[MAX_UNITS];      /* HWPE jobs issued */
#ifdef WALKER_PROFILE
/* core 0's cycles per part of the walk (-D WALKER_PROFILE: scripts/bench_walker.py) and
   how often each part ran: parse, snapshot, barriers, heads looked at without
   issuing, HWPE issues, DMA issues, sleeping, the rest */
volatile uint32_t walker_profile[16];
static uint32_t prof_t;
#define PROF(b) do { uint32_t _t = cycles(); walker_profile[b] += _t - prof_t; \
                     walker_profile[8 + (b)]++; prof_t = _t; } while (0)
#else
#define PROF(b) do { } while (0)
#endif

static void fail(uint32_t unit, uint32_t job, uint32_t code) __attribute__((noreturn));
static void fail(uint32_t unit, uint32_t job, uint32_t code) {
  release_cores();
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
      if (kind[u] != CORES && (e & IMCC_EVT(err_bit[u]))) fail_unit(u);
}

/* Each unit's end count, read once per scan of the window (a scan reads a few
   registers, not two per entry), as a count of the unit's jobs ended: an
   HWPE's FINISHED_JOBS; the DMA's jobs whose transfer id DONE_ID has passed
   (transfers end in order); the cores' jobs issued (they end before the next
   entry).  A wait is then one compare, whatever the unit (the scan is core 0's
   inner loop). */
static uint32_t ended_jobs[MAX_UNITS];
static volatile uint32_t *count_reg[MAX_UNITS];
static uint32_t n_counted, counted[MAX_UNITS];      /* the HWPEs */
static uint32_t dma_unit = NONE, dma_ended, dma_snap;   /* the DMA: jobs ended, DONE_ID */

static void snapshot(void) {
  for (uint32_t k = 0; k < n_counted; k++) {
    uint32_t u = counted[k];
    ended_jobs[u] = *count_reg[u];
  }
  if (dma_unit != NONE) {
    uint32_t id = dma_snap = DMA(IMCC_DMA_DONE_ID);
    while (dma_ended < dma_seq && (int16_t)(uint16_t)(id - dma_ids[dma_ended & 255]) >= 0)
      dma_ended++;
    ended_jobs[dma_unit] = dma_ended;
  }
}

/* (a wait may name a job not issued yet: the window issues out of list order) */
static inline int ended(uint32_t u, uint32_t count) { return ended_jobs[u] >= count; }

static uint32_t last_id;      /* the last DMA transfer launched (the job list's own fetches too) */

static uint32_t fetch(void *dst, uint32_t src, uint32_t n) {
  uint32_t id = dma_memcpy((uint32_t)(uintptr_t)dst, src, n);
  if (!id) fail(MAX_UNITS, 0, dma_error());
  return last_id = id;
}

static inline uint32_t entry_words(const uint32_t *e) {
  uint32_t w0 = e[0], k = w0 & 15, nw = (w0 >> 8) & 255, nr = w0 >> 16;
  return 1 + nw + (k == MARK ? 1 : 0) + 2 * nr;
}

/* Every wait of the entry is met (no sleeping). */
static int waits_met(const uint32_t *e) {
  uint32_t nw = (e[0] >> 8) & 255;
  for (uint32_t i = 1; i <= nw; i++)
    if (!ended(e[i] >> 24, e[i] & 0xffffff)) return 0;
  return 1;
}

/* The unit can take a job now: a free job context, a free queue slot. */
static int has_room(uint32_t u) {
  /* the DMA: transfers launched and not ended (ids count up, DONE_ID follows; the
     job list's own fetches count too) */
  if (kind[u] == DMAU) return (uint16_t)(last_id - dma_snap) < room[u];
  if (kind[u] == CORES) return 1;
  return issued[u] - ended_jobs[u] < room[u];
}

#ifdef JOB_WAITS
/* Job waits (-D JOB_WAITS: tb/programs.py builds the walker with it when the
   job list uses them, Program.use_waits; without it the scan is the plain one).  Per unit its WAIT registers and its job source index. */
static uint32_t n_waits[MAX_UNITS], source[MAX_UNITS];

/* The WAIT word that has an HWPE start a job once unit v has ended c jobs, if v
   is a job source and its c-th job was issued (an HWPE counts its jobs, the
   DMA its transfer ids); 0: it cannot (the walker waits for it itself). */
static uint32_t wait_word(uint32_t v, uint32_t c) {
  uint32_t n;
  if (source[v] == NO_SOURCE) return 0;
  if (kind[v] == DMAU) {
    if (c > dma_seq || dma_seq - c >= 256) return 0;
    n = dma_ids[(c - 1) & 255];
  } else {
    if (c > issued[v]) return 0;
    n = c;
  }
  return IMCC_HWPE_WAIT0_ON_MASK | source[v] << IMCC_HWPE_WAIT0_SOURCE_LSB |
         (n & IMCC_HWPE_WAIT0_COUNT_MASK);
}

#define WAIT_REGS 2                     /* WAIT0, WAIT1 (imcc_hwpe.h): config MAX_JOB_WAITS */
static uint32_t gate[WAIT_REGS], ngate; /* the WAIT words of the job being issued */

/* The waits of entry e from its k-th on that are not met go to unit u's WAIT
   registers (gate[], ngate): 1 if they all can (out of the scan's loop, so a
   walk without job waits pays nothing for them). */
static __attribute__((noinline)) int gate_waits(const uint32_t *e, uint32_t k, uint32_t u) {
  uint32_t nw = (e[0] >> 8) & 255;
  ngate = 0;
  for (; k < nw; k++) {
    uint32_t v = e[1 + k] >> 24, c = e[1 + k] & 0xffffff, g;
    if (ended(v, c)) continue;
    if (ngate == n_waits[u] || !(g = wait_word(v, c))) return 0;
    gate[ngate++] = g;
  }
  return 1;
}

/* Unit u's WAIT registers for the job being issued: gate[], then off (the job
   context may hold an earlier job's). */
static __attribute__((noinline)) void write_waits(uint32_t b, uint32_t u) {
  for (uint32_t i = 0; i < n_waits[u]; i++)
    IMCC_REG(b, IMCC_HWPE_WAIT0 + 4 * i) = i < ngate ? gate[i] : 0;
  ngate = 0;
}
#define HAS_WAITS(u) n_waits[u]
#define GATE(e, k, u) gate_waits(e, k, u)
#define WRITE_WAITS(b, u) do { if (n_waits[u]) write_waits(b, u); } while (0)
#else
#define HAS_WAITS(u) 0
#define GATE(e, k, u) 0
#define WRITE_WAITS(b, u) do { } while (0)
#endif

static void issue(const uint32_t *e) {
  uint32_t w0 = e[0], u = (w0 >> 4) & 15, nw = (w0 >> 8) & 255, nr = w0 >> 16;
  const uint32_t *r = e + 1 + nw;
  uint32_t b = base[u];
  if (kind[u] == CORES) {           /* arguments in order: a, b, dst, n, sa, sb, shift, lo|hi */
    work.a = r[1]; work.b = r[3]; work.dst = r[5]; work.n = r[7];
    work.sa = r[9]; work.sb = r[11]; work.shift = r[13]; work.lohi = r[15];
    sw_event(((1u << num_cores()) - 1) & ~1u, WORK_EVENT);
    run_work();                      /* core 0's share; the kernel's barrier waits for all */
    ended_jobs[u] = ++issued[u];
    return;
  }
  if (kind[u] == HWPE) {
    while (IMCC_REG(b, ACQUIRE) == 0xffffffffu) sleep_events();
    for (uint32_t i = 0; i < nr; i++, r += 2) IMCC_REG(b, r[0]) = r[1];
    WRITE_WAITS(b, u);
    IMCC_REG(b, TRIGGER) = 0;
    issued[u]++;
  } else {
    for (uint32_t i = 0; i < nr; i++, r += 2) IMCC_REG(b, r[0]) = r[1];
    uint32_t tid;
    /* 0: the queue was full (a transfer in flight will end and wake us: the
       job list's own fetches share the queue) or the launch was refused
       (STATUS.ERROR says why; reading FULL instead would race with a
       transfer ending in between) */
    while (!(tid = DMA(IMCC_DMA_NEXT_ID))) {
      if (dma_error()) fail(u, dma_seq + 1, dma_error());
      sleep_events();
    }
    dma_ids[dma_seq++ & 255] = (uint16_t)tid;
    last_id = tid;
  }
}

int main(void) {
  if (core_id() != 0) {             /* the other cores: residual adds when core 0 posts them */
    for (;;) {
      (void)evt_wait_clear(IMCC_EVT(WORK_EVENT));
      if (work.quit) return 0;
      run_work();
    }
  }
  uint32_t id = fetch(header, IMCC_L2_BASE, 8);
  if (dma_wait(id)) fail(MAX_UNITS, 0, dma_error());
  uint32_t boot_magic = header[0], list_addr = header[1];
  if (boot_magic != BOOT_MAGIC) return 2;
  if (dma_wait(fetch(header, list_addr, HEADER_BYTES))) fail(MAX_UNITS, 0, dma_error());
  if (header[0] != MAGIC) return 3;
  n_units = header[4];
  uint32_t total = header[6];
  /* entries parsed ahead (the compiler's choice, header word 7; 0: the ring's size) */
  uint32_t ahead = header[7] == 0 || header[7] > WINDOW ? WINDOW : header[7];
  for (uint32_t u = 0; u < n_units && u < MAX_UNITS; u++) {
    const uint32_t *t = &header[8 + UNIT_WORDS * u];
    base[u] = t[0];
    kind[u] = t[1];
    room[u] = t[4];
    err_bit[u] = t[3];
#ifdef JOB_WAITS
    source[u] = t[5] & 0xff;
    n_waits[u] = (t[5] >> 8) & 0xff;
    if (n_waits[u] > WAIT_REGS) n_waits[u] = WAIT_REGS;
#endif
    if (kind[u] == CORES) continue;   /* no events: its work ends before the next entry */
    if (kind[u] == DMAU) dma_unit = u;
    else {
      count_reg[u] = &IMCC_REG(base[u], FINISHED_JOBS);
      counted[n_counted++] = u;
    }
    all_events |= IMCC_EVT(t[2]) | IMCC_EVT(t[3]);
    error_events |= IMCC_EVT(err_bit[u]);
  }
  /* chunk k of the entries sits at list + HEADER_BYTES + k * CHUNK; two buffers:
     the window may hold entries of both, and a buffer takes the chunk after
     next once no entry of the window is in it */
  uint32_t list = list_addr + HEADER_BYTES, nchunks = (total + CHUNK - 1) / CHUNK;
  uint32_t pb = 0, pchunk = 0, refill = 0, fetched[2] = {0, 0};
  if (dma_wait(fetch(chunk[0], list, total < CHUNK ? total : CHUNK))) fail(MAX_UNITS, 0, dma_error());
  if (nchunks > 1) fetched[1] = fetch(chunk[1], list + CHUNK, total - CHUNK < CHUNK ? total - CHUNK : CHUNK);
  const uint32_t *p = chunk[0];
  /* the ring: entries [head, tail) of the list (absolute numbers), each with its
     unit (BAR: a barrier) and whether it went; next[u] is unit u's first entry
     not issued (NONE: none in the ring), bar the first barrier not passed */
  static const uint32_t *win[WINDOW];
  static uint8_t wunit[WINDOW], wgone[WINDOW];
  /* nxt[s]: the next entry of the same unit after ring slot s (linked as parsed,
     so finding a unit's next entry takes no search); last[u]: u's last entry
     parsed; seen[u]: waits of next[u]'s entry already met (counts only grow, so
     a scan goes on from the first wait not met) */
  static uint32_t nxt[WINDOW];
  uint32_t head = 0, tail = 0, bar = NONE, at_end = 0;
  uint32_t next[MAX_UNITS], last[MAX_UNITS], seen[MAX_UNITS];
  for (uint32_t u = 0; u < MAX_UNITS; u++) next[u] = NONE;
  start_cycles = cycles();
#ifdef WALKER_PROFILE
  prof_t = start_cycles;
#endif

  for (;;) {
    /* parse ahead into the ring, PARSE_STEP entries between scans (a long burst
       of parsing would keep ready units waiting) */
    uint32_t more = 0, parsed = 0;
    while (tail - head < ahead && !at_end) {
      if (parsed == PARSE_STEP) { more = 1; break; }
      uint32_t k = p[0] & 15;
      if (k == END) { at_end = 1; break; }
      if (k == NEXT) {
        if (refill) break;               /* the other buffer still holds ring entries */
        if (dma_wait(fetched[pb ^ 1])) fail(MAX_UNITS, 0, dma_error());
        pb ^= 1;
        pchunk++;
        p = chunk[pb];
        refill = pchunk + 1 < nchunks;
        continue;
      }
      uint32_t s = tail % WINDOW, u = (p[0] >> 4) & 15;
      win[s] = p;
      wgone[s] = 0;
      if (k == MARK || k == WAIT) {
        wunit[s] = BAR;
        if (bar == NONE) bar = tail;
      } else {
        wunit[s] = u;
        nxt[s] = NONE;
        if (next[u] == NONE) { next[u] = tail; seen[u] = 0; }
        else nxt[last[u] % WINDOW] = tail;
        last[u] = tail;
      }
      tail++;
      parsed++;
      p += entry_words(p);
    }
    if (head == tail && at_end) break;
    PROF(0);

    uint32_t progress = 0;
    snapshot();
    PROF(1);
    /* a barrier at the head (everything before it went) passes when its waits are met */
    while (bar != NONE && bar == head && waits_met(win[bar % WINDOW])) {
      const uint32_t *e = win[bar % WINDOW];
      if ((e[0] & 15) == MARK) {
        uint32_t m = e[1 + ((e[0] >> 8) & 255)];
        if (m < MAX_MARKS) marks[m] = cycles();
        mark_count = m + 1;
      }
      net_status[0]++;
      progress = 1;
      wgone[bar % WINDOW] = 1;
      while (head < tail && wgone[head % WINDOW]) head++;
      uint32_t j = bar + 1;
      while (j < tail && wunit[j % WINDOW] != BAR) j++;
      bar = j < tail ? j : NONE;
    }
    PROF(2);
    /* each unit's first entry, if before the barrier, may go: unit by unit, in the
       unit table's order (the accelerators before the DMA) */
    for (uint32_t u = 0; u < n_units; u++) {
      uint32_t i = next[u];
      if (i == NONE || i > bar) continue;            /* (bar = NONE: no barrier) */
      const uint32_t *e = win[i % WINDOW];
      uint32_t nw = (e[0] >> 8) & 255, k = seen[u];
      while (k < nw && ended(e[1 + k] >> 24, e[1 + k] & 0xffffff)) k++;
      seen[u] = k;
      /* waits not met: the unit's WAIT registers may take them */
      if ((k < nw && !HAS_WAITS(u)) || !has_room(u) || (k < nw && !GATE(e, k, u))) {
        PROF(3);
        continue;
      }
      PROF(3);
      issue(e);
      net_status[0]++;
      progress = 1;
      wgone[i % WINDOW] = 1;
      next[u] = nxt[i % WINDOW];
      seen[u] = 0;
      if (kind[u] == DMAU) PROF(5); else PROF(4);
    }
    while (head < tail && wgone[head % WINDOW]) head++;
    if (refill) {      /* the old buffer takes the chunk after next once the ring has left it */
      const uint32_t *lo = chunk[pb ^ 1], *hi = lo + CHUNK / 4;
      if (head == tail || win[head % WINDOW] < lo || win[head % WINDOW] >= hi) {
        uint32_t o = (pchunk + 1) * CHUNK, n = total - o < CHUNK ? total - o : CHUNK;
        fetched[pb ^ 1] = fetch(chunk[pb ^ 1], list + o, n);
        refill = 0;
        continue;
      }
    }
    PROF(7);
    if (!progress && !more) { sleep_events(); PROF(6); }
  }
  if (evt_buffer() & error_events) sleep_events();   /* an error not seen yet */
  for (uint32_t u = 0; u < n_units; u++)
    if (kind[u] == CORES) continue;
    else if (kind[u] == DMAU ? dma_error() != 0 : IMCC_REG(base[u], FAILED) != 0) fail_unit(u);
  release_cores();
  return 0;
}
