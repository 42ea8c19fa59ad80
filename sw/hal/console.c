/* Console on the event unit's PUTC register (the testbench prints per core). */
#include <stdarg.h>
#include "imcc.h"

void imcc_puts(const char *s) {
  while (*s) imcc_putc(*s++);
}

static void put_uint(uint32_t v, unsigned base) {
  char buf[12];
  int i = 0;
  do {
    unsigned d = v % base;
    buf[i++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
    v /= base;
  } while (v);
  while (i) imcc_putc(buf[--i]);
}

void imcc_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  for (; *fmt; fmt++) {
    if (*fmt != '%') { imcc_putc(*fmt); continue; }
    switch (*++fmt) {
      case 'd': { int v = va_arg(ap, int);
                  if (v < 0) { imcc_putc('-'); put_uint(0u - (uint32_t)v, 10); }
                  else put_uint((uint32_t)v, 10);
                  break; }
      case 'u': put_uint(va_arg(ap, uint32_t), 10); break;
      case 'x': put_uint(va_arg(ap, uint32_t), 16); break;
      case 's': imcc_puts(va_arg(ap, const char *)); break;
      case 'c': imcc_putc((char)va_arg(ap, int)); break;
      case '\0': fmt--; break;
      default: imcc_putc(*fmt);
    }
  }
  va_end(ap);
}

void *memset(void *d, int c, size_t n) {
  uint8_t *p = d;
  while (n--) *p++ = (uint8_t)c;
  return d;
}

void *memcpy(void *d, const void *s, size_t n) {
  uint8_t *p = d;
  const uint8_t *q = s;
  while (n--) *p++ = *q++;
  return d;
}
