/* A growable buffer with sticky errors, so a signed layout is written as a
 * straight list of appends and checked once at the end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "childfirst/buf.h"

void cf_buf_init(struct cf_buf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max ? max : SIZE_MAX;
}

void cf_buf_fini(struct cf_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void cf_buf_put(struct cf_buf *b, const void *data, size_t len)
{
    if (b->failed || len == 0)
        return;
    if (len > b->max - b->len) {
        b->failed = CF_ETOOBIG;
        return;
    }
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len)
            cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        uint8_t *p = realloc(b->data, cap);
        if (!p) {
            b->failed = CF_ENOMEM;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

void cf_buf_put_u16be(struct cf_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    cf_buf_put(b, x, 2);
}

void cf_buf_put_u64be(struct cf_buf *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (56 - 8 * i));
    cf_buf_put(b, x, 8);
}

void cf_buf_put_field(struct cf_buf *b, const void *data, size_t len)
{
    if (len > UINT16_MAX) {
        if (!b->failed)
            b->failed = CF_ETOOBIG;
        return;
    }
    cf_buf_put_u16be(b, (uint16_t)len);
    cf_buf_put(b, data, len);
}

void cf_buf_put_str(struct cf_buf *b, const char *s)
{
    cf_buf_put_field(b, s, strlen(s));
}

int cf_buf_status(const struct cf_buf *b)
{
    return b->failed;
}
