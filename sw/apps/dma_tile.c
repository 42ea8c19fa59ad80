/* Core 0 moves a tile from L2 into the TCDM with the cluster DMA (an
   unaligned 1-D transfer), sleeps on the DMA's event until it has ended, and
   writes rows of it back to L2 with a 2-D transfer; the testbench checks both
   copies.  The other cores end at once. */
#include "imcc.h"
#include "dma.h"

#define TILE 3001         /* bytes moved in */
#define ROW 100           /* 2-D: bytes per row, ROWS rows */
#define ROWS 24
#define L2_SRC (IMCC_L2_BASE + 0x1003u)
#define L2_DST (IMCC_L2_BASE + 0x40000u)
#define L2_PITCH 128

IMCC_NOINIT uint8_t tile[TILE + 16];

int main(void) {
  if (core_id() != 0) return 0;
  uint32_t id = dma_memcpy((uint32_t)(uintptr_t)&tile[1], L2_SRC, TILE);
  if (!id) return 10 + (int)dma_error();
  uint32_t err = dma_wait(id);
  if (err) return 20 + (int)err;
  /* rows of ROW bytes, ROW + 1 apart in the tile, L2_PITCH apart in L2 */
  id = dma_memcpy_2d(L2_DST, (uint32_t)(uintptr_t)&tile[1], ROW, L2_PITCH, ROW + 1, ROWS);
  if (!id) return 30 + (int)dma_error();
  err = dma_wait(id);
  if (err) return 40 + (int)err;
  imcc_printf("dma: %u bytes in, %u rows out\n", TILE, ROWS);
  return 0;
}
