/* A growable byte buffer, and the length-prefixed writers every signed layout
 * uses: each variable-length field is preceded by its length as a 2-byte
 * big-endian integer, so no two different tuples give the same bytes. */
#ifndef CHILDFIRST_BUF_H
#define CHILDFIRST_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "childfirst/error.h"

struct cf_buf {
    uint8_t *data;
    size_t len, cap;
    size_t max; /* growth past this fails with CF_ETOOBIG; 0 means SIZE_MAX */
    int failed; /* the first error of any append; later appends do nothing */
};

/* Embedded: init leaves it empty with the given limit; fini frees the data. */
void cf_buf_init(struct cf_buf *b, size_t max);
void cf_buf_fini(struct cf_buf *b);

/* Appends. Errors are sticky: check b->failed (or cf_buf_status) once at the end. */
void cf_buf_put(struct cf_buf *b, const void *data, size_t len);
void cf_buf_put_u16be(struct cf_buf *b, uint16_t v);
void cf_buf_put_u64be(struct cf_buf *b, uint64_t v);
/* A field of at most 65535 bytes with its 2-byte big-endian length. */
void cf_buf_put_field(struct cf_buf *b, const void *data, size_t len);
void cf_buf_put_str(struct cf_buf *b, const char *s);

/* 0, or the first append's error. */
CF_WUR int cf_buf_status(const struct cf_buf *b);

#endif
