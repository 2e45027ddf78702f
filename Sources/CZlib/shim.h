#include <zlib.h>

// inflateInit2 is a macro, which Swift cannot call: this opens a stream that reads gzip or zlib
// headers alike (window bits 15, plus 32 to detect which).
static inline int czlib_inflate_init(z_stream *stream) {
    return inflateInit2(stream, 15 + 32);
}
