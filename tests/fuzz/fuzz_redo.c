/* Fuzz target: the redo log's decoders. The input is taken two ways:
 *   as one record's payload: whatever decodes is passed on entry by entry,
 *   and capturing those entries again gives the same bytes (one spelling);
 *   as a whole redo file: replaying generation 0 of it stops inside it, at a
 *   record boundary, and passes on only entries whose bytes lie in the input.
 * A malformed payload is refused before any entry of it is passed on. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "childfirst/redo.h"

#define TABLES 9

struct span {
    const uint8_t *lo, *hi;
    struct cf_redo *again;
};

static int take(void *ctx, const struct cf_redo_entry *e)
{
    struct span *s = ctx;
    if (e->table >= TABLES || e->key_len == 0 || e->key_len > CF_REDO_KEY_MAX)
        abort();
    if (s->lo &&
        (e->key < s->lo || e->key + e->key_len > s->hi || (e->val && e->val + e->val_len > s->hi)))
        abort();
    if (s->again)
        cf_redo_add(s->again, e->op, e->table, e->key, e->key_len, e->val, e->val_len);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cf_redo again = {0};
    cf_redo_clear(&again);
    struct span s = {data, data + size, &again};
    if (cf_redo_entries(data, size, TABLES, take, &s) == 0) {
        if (again.lost || again.len - CF_REDO_HEAD != size ||
            (size && memcmp(again.buf + CF_REDO_HEAD, data, size) != 0))
            abort();
    } else if (!cf_redo_empty(&again)) {
        abort(); /* refused, yet something was passed on */
    }
    cf_redo_close(&again);

    int fd = memfd_create("redo", 0);
    if (fd < 0)
        abort();
    if (size && write(fd, data, size) != (ssize_t)size)
        abort();
    uint64_t end = 0, records = 0;
    struct span file = {NULL, NULL, NULL}; /* entries point into the replay's own buffer */
    int rc = cf_redo_replay(fd, 0, UINT64_MAX, take, &file, &end, &records);
    if ((rc != 0 && rc != CF_ECORRUPT) || end > size || (records == 0 && end != 0) ||
        (records > 0 && end < (uint64_t)records * (CF_REDO_HEAD + CF_REDO_TAG)))
        abort();
    close(fd);
    return 0;
}
