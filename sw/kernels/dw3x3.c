/* 3x3 depthwise (stride 1, pad 1) on the cores.

   Channels are split over the cores (C = 192: core k starts 6k words into
   each pixel, so cores running in step use different TCDM banks).  Per
   channel the fast path makes two output rows (oy, oy+1) per sweep along x,
   with SIMD dot products on "column words":

     V(x) = [in(oy-1,x), in(oy,x), in(oy+1,x), in(oy+2,x)]   (4 cv.lb + 2 packs)
     y(oy,  x) = sum_kx sdot(V(x-1+kx), [k0kx, k1kx, k2kx, 0])
     y(oy+1,x) = sum_kx sdot(V(x-1+kx), [0, k0kx, k1kx, k2kx])

   A column step is 6 (gather) + 6 (dot) + 8 (requantise and store two
   outputs) = 20 instructions for 18 MACs, against 3 loads + 9 MACs + ~6
   requantisation instructions per output for a scalar sliding window.  The
   requantisation is folded into
     t = acc * g;  t = (t + bias*g + 2^(s-1)) >> s  (cv.addrnr);  cv.clipur / cv.clipr
   which equals clip(round_shift((acc + bias) * g, s)) whenever the exact value
   fits 32 bits (rq_fits, checked per channel): the 32-bit wrap-around of the
   partial terms cancels.  The column loop is a hardware loop, unrolled 3x so
   the three column words rotate without moves; a padding column is a zero
   word, a padding row a valid row under a zero weight lane.  Channels failing
   rq_fits, clip bounds other than [0, hi] / [-hi-1, hi], and H < 2 take the
   scalar path (64-bit requantisation where needed). */
#include "imcc.h"
#include "kernels.h"
#include "requant.h"

/* One column step, as asm text with the three column-word registers P
   (x-1), C (x) and N (x+1, gathered here).  No loaded value is used by the
   next instruction (no load-use stalls); every instruction is 32 bits. */
#define DW_STEP(P, C, N, CLIP)                  \
  "cv.lb       %[t0], (%[r0]), %[cs]\n\t"       \
  "cv.lb       %[xa], (%[r1]), %[cs]\n\t"       \
  "cv.lb       %[xb], (%[r2]), %[cs]\n\t"       \
  "cv.packlo.b " N ", %[xa], %[t0]\n\t"         \
  "cv.lb       %[t0], (%[r3]), %[cs]\n\t"       \
  "cv.dotsp.b  %[xa], " P ", %[ka0]\n\t"        \
  "cv.packhi.b " N ", %[t0], %[xb]\n\t"         \
  "cv.dotsp.b  %[xb], " P ", %[kb0]\n\t"        \
  "cv.sdotsp.b %[xa], " C ", %[ka1]\n\t"        \
  "cv.sdotsp.b %[xb], " C ", %[kb1]\n\t"        \
  "cv.sdotsp.b %[xa], " N ", %[ka2]\n\t"        \
  "cv.sdotsp.b %[xb], " N ", %[kb2]\n\t"        \
  DW_RQ_STORE(CLIP)

/* Requantise and store the two accumulators (8 instructions). */
#define DW_RQ_STORE(CLIP)                       \
  "mul         %[xa], %[xa], %[g]\n\t"          \
  "mul         %[xb], %[xb], %[g]\n\t"          \
  "cv.addrnr   %[xa], %[bg], %[sh]\n\t"         \
  "cv.addrnr   %[xb], %[bg], %[sh]\n\t"         \
  CLIP "       %[xa], %[xa], %[hi]\n\t"         \
  CLIP "       %[xb], %[xb], %[hi]\n\t"         \
  "cv.sb       %[xa], (%[oa]), %[cs]\n\t"       \
  "cv.sb       %[xb], (%[ob]), %[cs]\n\t"

/* Rows oy-1..oy+2 from r0..r3 to rows oy, oy+1 at oa, ob, for ctl[3] row
   pairs (pointers move on by two rows per pair).  ctl = {(w-1)/3, (w-1)%3,
   row bytes, pairs} (in memory: no registers left).  Per pair: column 0,
   hardware loop 0 over 3 column steps, the leftover steps, then the last
   column, whose x+1 is padding (no third tap).  The assembler has no
   XCVhwlp, so cv.setup 0, n, 61 (loop over the next 60 instructions) is
   spelled with .insn; the loop body must be 32-bit instructions without
   branches, and the cv.setup word-aligned (all instructions here are 32-bit,
   after one .balign). */
#define DW_SWEEP(CLIP)                                                         \
  __asm__ volatile(                                                            \
      ".balign 4\n\t"                                                          \
      ".option push\n\t"                                                       \
      ".option norvc\n"                                                        \
      "1:\n\t"                                                                 \
      "cv.lb       %[t0], (%[r0]), %[cs]\n\t"                                  \
      "cv.lb       %[xa], (%[r1]), %[cs]\n\t"                                  \
      "cv.lb       %[xb], (%[r2]), %[cs]\n\t"                                  \
      "cv.packlo.b %[v1], %[xa], %[t0]\n\t"                                    \
      "cv.lb       %[t0], (%[r3]), %[cs]\n\t"                                  \
      "mv          %[v0], zero\n\t"                                            \
      "cv.packhi.b %[v1], %[t0], %[xb]\n\t"                                    \
      "lw          %[t0], 0(%[ctl])\n\t"                                       \
      "beqz        %[t0], 2f\n\t"                                              \
      ".insn i 0x2b, 4, x14, %[t0], 61\n\t"                                    \
      DW_STEP("%[v0]", "%[v1]", "%[v2]", CLIP)                                 \
      DW_STEP("%[v1]", "%[v2]", "%[v0]", CLIP)                                 \
      DW_STEP("%[v2]", "%[v0]", "%[v1]", CLIP)                                 \
      "2:\n\t"                                                                 \
      "lw          %[t0], 4(%[ctl])\n\t"                                       \
      "beqz        %[t0], 4f\n\t"                                              \
      "addi        %[t0], %[t0], -1\n\t"                                       \
      "beqz        %[t0], 3f\n\t"                                              \
      DW_STEP("%[v0]", "%[v1]", "%[v2]", CLIP)                                 \
      "mv          %[v0], %[v1]\n\t"                                           \
      "mv          %[v1], %[v2]\n"                                             \
      "3:\n\t"                                                                 \
      DW_STEP("%[v0]", "%[v1]", "%[v2]", CLIP)                                 \
      "mv          %[v0], %[v1]\n\t"                                           \
      "mv          %[v1], %[v2]\n"                                             \
      "4:\n\t"                                                                 \
      "cv.dotsp.b  %[xa], %[v0], %[ka0]\n\t"                                   \
      "cv.dotsp.b  %[xb], %[v0], %[kb0]\n\t"                                   \
      "cv.sdotsp.b %[xa], %[v1], %[ka1]\n\t"                                   \
      "cv.sdotsp.b %[xb], %[v1], %[kb1]\n\t"                                   \
      DW_RQ_STORE(CLIP)                                                        \
      "lw          %[t0], 8(%[ctl])\n\t"                                       \
      "add         %[r0], %[r0], %[t0]\n\t"                                    \
      "add         %[r1], %[r1], %[t0]\n\t"                                    \
      "add         %[r2], %[r2], %[t0]\n\t"                                    \
      "add         %[r3], %[r3], %[t0]\n\t"                                    \
      "add         %[oa], %[oa], %[t0]\n\t"                                    \
      "add         %[ob], %[ob], %[t0]\n\t"                                    \
      "lw          %[t0], 12(%[ctl])\n\t"                                      \
      "addi        %[t0], %[t0], -1\n\t"                                       \
      "sw          %[t0], 12(%[ctl])\n\t"                                      \
      "bnez        %[t0], 1b\n\t"                                              \
      ".option pop"                                                            \
      : [r0] "+r"(r0), [r1] "+r"(r1), [r2] "+r"(r2), [r3] "+r"(r3), [oa] "+r"(oa), \
        [ob] "+r"(ob), [v0] "=&r"(v0), [v1] "=&r"(v1), [v2] "=&r"(v2),         \
        [t0] "=&r"(t0), [xa] "=&r"(xa), [xb] "=&r"(xb)                         \
      : [cs] "r"(cs), [ka0] "r"(ka0), [ka1] "r"(ka1), [ka2] "r"(ka2),          \
        [kb0] "r"(kb0), [kb1] "r"(kb1), [kb2] "r"(kb2), [g] "r"(g), [bg] "r"(bg), \
        [sh] "r"(sh), [hi] "r"(hi), [ctl] "r"(ctl)                             \
      : "memory")

/* `pairs` row pairs from output row oy on, same weights for all; top / bot:
   rows oy-1 / oy+2 exist.  Not inlined: one copy of the loop per clip kind. */
static __attribute__((noinline)) void dw_sweep(const int8_t *x, int8_t *y, int oy, int pairs,
                                               int top, int bot, int w, int cs, uint32_t ka0,
                                               uint32_t ka1, uint32_t ka2, int32_t g, int32_t bg,
                                               int sh, int hi, int sym) {
  const int row = w * cs;
  /* a padding row (oy-1 or oy+2): read a valid row under a zero weight lane */
  const uint32_t ma = top ? ~0u : ~0xffu, mb = bot ? ~0u : 0x00ffffffu;
  const uint32_t kb0 = (ka0 << 8) & mb, kb1 = (ka1 << 8) & mb, kb2 = (ka2 << 8) & mb;
  ka0 &= ma; ka1 &= ma; ka2 &= ma;
  const int8_t *r1 = x + oy * row, *r2 = r1 + row;
  const int8_t *r0 = top ? r1 - row : r1, *r3 = bot ? r2 + row : r2;
  int8_t *oa = y + oy * row, *ob = oa + row;
  int32_t ctl[4] = {(w - 1) / 3, (w - 1) % 3, row, pairs};
  uint32_t v0, v1, v2;
  int32_t t0, xa, xb;
  if (sym) DW_SWEEP("cv.clipr"); else DW_SWEEP("cv.clipur");
}

/* A word of four int8 lanes. */
static inline uint32_t lanes(int a, int b, int c, int d) {
  return (uint32_t)(uint8_t)a | (uint32_t)(uint8_t)b << 8 | (uint32_t)(uint8_t)c << 16 |
         (uint32_t)(uint8_t)d << 24;
}

/* Scalar reference path for one channel (any bounds, 64-bit requantisation
   when 32 bits may overflow): 3 byte loads and 9 MACs per output. */
static void dw_channel_scalar(const int8_t *x, const int8_t *w, const int32_t *bias,
                              const uint32_t *scale, int8_t *y, int h, int wd, int c, int ch,
                              int shift, int lo, int hi, int fast) {
  const int32_t rnd = (int32_t)((1u << shift) >> 1);
  const int row = wd * c;
  int32_t k[9];
  for (int t = 0; t < 9; t++) k[t] = w[t * c + ch];
  const int32_t b = bias[ch];
  const uint32_t g = scale[ch];
  for (int oy = 0; oy < h; oy++) {
    /* rows oy-1, oy, oy+1; an outside row reads row oy with zero weights */
    const int top = oy > 0, bot = oy + 1 < h;
    const int32_t k0 = top ? k[0] : 0, k1 = top ? k[1] : 0, k2 = top ? k[2] : 0;
    const int32_t k3 = k[3], k4 = k[4], k5 = k[5];
    const int32_t k6 = bot ? k[6] : 0, k7 = bot ? k[7] : 0, k8 = bot ? k[8] : 0;
    const int8_t *r0 = x + (top ? oy - 1 : oy) * row + ch;
    const int8_t *r1 = x + oy * row + ch;
    const int8_t *r2 = x + (bot ? oy + 1 : oy) * row + ch;
    int8_t *out = y + oy * row + ch;
    int32_t a0 = 0, a1 = 0, a2 = 0;                       /* column ox-1 */
    int32_t b0 = *r0, b1 = *r1, b2 = *r2;                 /* column ox */
    for (int ox = 0; ox < wd; ox++) {
      int32_t c0v = 0, c1v = 0, c2v = 0;                  /* column ox+1 */
      if (ox + 1 < wd) { r0 += c; r1 += c; r2 += c; c0v = *r0; c1v = *r1; c2v = *r2; }
      int32_t acc = b + k0 * a0 + k1 * b0 + k2 * c0v + k3 * a1 + k4 * b1 + k5 * c1v
                    + k6 * a2 + k7 * b2 + k8 * c2v;
      *out = (int8_t)(fast ? rq32(acc, (int32_t)g, rnd, shift, lo, hi)
                           : rq64(acc, g, shift, lo, hi));
      out += c;
      a0 = b0; a1 = b1; a2 = b2;
      b0 = c0v; b1 = c1v; b2 = c2v;
    }
  }
}

void dw3x3(const int8_t *x, const int8_t *w, const int32_t *bias, const uint32_t *scale,
           int8_t *y, int h, int wd, int c, int shift, int lo, int hi) {
  int c0, c1;
  imcc_split(c, &c0, &c1);
  /* clip bounds the SIMD path does in one instruction: [0, hi] or [-hi-1, hi] */
  const int sym = hi >= 0 && lo == -hi - 1;
  const int simd_ok = h >= 2 && (lo == 0 || sym);
  for (int ch = c0; ch < c1; ch++) {
    int32_t k[9];
    uint32_t kabs = 0;
    for (int t = 0; t < 9; t++) {
      k[t] = w[t * c + ch];
      kabs += (uint32_t)(k[t] < 0 ? -k[t] : k[t]);
    }
    const int32_t b = bias[ch];
    const uint32_t g = scale[ch];
    const int fast = rq_fits(128u * kabs + (uint32_t)(b < 0 ? -b : b), g, shift);
    if (!(fast && simd_ok)) {
      dw_channel_scalar(x, w, bias, scale, y, h, wd, c, ch, shift, lo, hi, fast);
      continue;
    }
    /* weight words of output row oy (lanes: rows oy-1, oy, oy+1, -) and of
       row oy+1 (lanes: -, oy, oy+1, oy+2), per kernel column kx */
    const uint32_t ka0 = lanes(k[0], k[3], k[6], 0), ka1 = lanes(k[1], k[4], k[7], 0),
                   ka2 = lanes(k[2], k[5], k[8], 0);
    const int32_t bg = (int32_t)((uint32_t)b * g);
    /* pairs (0,1) (2,3) ...; odd h: the last pair (h-2, h-1) overlaps */
    const int npairs = (h + 1) / 2, last = h - 2;
    const int8_t *xc = x + ch;
    int8_t *yc = y + ch;
#define SWEEP(oy, n, top, bot) \
    dw_sweep(xc, yc, oy, n, top, bot, wd, c, ka0, ka1, ka2, (int32_t)g, bg, shift, hi, sym)
    if (npairs == 1) {
      SWEEP(0, 1, 0, 0);
    } else {
      SWEEP(0, 1, 0, 1);
      if (npairs > 2) SWEEP(2, npairs - 2, 1, 1);
      SWEEP(last, 1, 1, 0);
    }
#undef SWEEP
  }
  barrier();
}
