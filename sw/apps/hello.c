/* Every started core reports its hart id and the id the event unit sees. */
#include "imcc.h"

int main(void) {
  int id = core_id();
  uint32_t eu_id = IMCC_EU(IMCC_EU_CORE_ID);
  imcc_printf("hello from core %d of %d (event unit: %u)\n", id, num_cores(), eu_id);
  return eu_id == (uint32_t)id ? 0 : 1;
}
