// Thin shim over zlib (deflate and crc32 for PNG files).
#ifndef SCORESERVE_CZLIB_SHIM_H
#define SCORESERVE_CZLIB_SHIM_H
#include <zlib.h>

/// `deflateInit` is a macro over deflateInit_ with version and struct size.
static inline int sz_deflate_init(z_stream *stream, int level) { return deflateInit(stream, level); }
#endif
