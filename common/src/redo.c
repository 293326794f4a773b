/* The redo log (redo.h): capture, append and sync, replay. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "childfirst/redo.h"

static const uint8_t magic[4] = {'C', 'F', 'R', '1'};

/* The file grows a chunk at a time, zero-filled and synced once, so the syncs
 * of the records written into it later carry no metadata. */
#define GROW_CHUNK (1u << 20)

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

int cf_redo_open(struct cf_redo *r, int fd, uint64_t gen, uint64_t cap, struct cf_error *err)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    struct stat st;
    uint64_t end = 0, records = 0;
    int rc = fstat(fd, &st) == 0 ? 0 : CF_EIO;
    /* Records the store does not hold yet (none, after cf_store_open) are
     * kept: the writer's transaction is rebuilt from them. */
    if (rc == 0)
        rc = cf_redo_replay(fd, gen, UINT64_MAX, NULL, NULL, &end, &records);
    if (rc != 0)
        return cf_error_set(err, rc, CF_REDO_FILE ": cannot read it: %s", cf_error_name(rc));
    r->fd = fd;
    r->gen = gen;
    r->seq = records;
    r->end = end;
    r->allocated = (uint64_t)st.st_size;
    r->cap = cap;
    cf_redo_clear(r);
    return 0;
}

void cf_redo_close(struct cf_redo *r)
{
    free(r->buf);
    memset(r, 0, sizeof *r);
    r->fd = -1;
}

static bool reserve(struct cf_redo *r, size_t more)
{
    if (r->len + more <= r->buf_cap)
        return true;
    size_t cap = r->buf_cap ? r->buf_cap : 64u << 10;
    while (cap < r->len + more)
        cap *= 2;
    uint8_t *p = realloc(r->buf, cap);
    if (!p)
        return false;
    r->buf = p;
    r->buf_cap = cap;
    return true;
}

void cf_redo_clear(struct cf_redo *r)
{
    r->len = CF_REDO_HEAD;
    r->lost = reserve(r, 0) ? 0 : CF_ENOMEM;
}

bool cf_redo_empty(const struct cf_redo *r)
{
    return r->len == CF_REDO_HEAD;
}

void cf_redo_add(struct cf_redo *r, enum cf_redo_op op, unsigned table, const void *key,
                 size_t key_len, const void *val, size_t val_len)
{
    bool del = op == CF_REDO_DEL;
    size_t need = 4 + (del ? 0 : 4) + key_len + (del ? 0 : val_len);
    if (r->lost)
        return;
    if (key_len == 0 || key_len > CF_REDO_KEY_MAX || val_len > CF_REDO_VALUE_MAX ||
        r->len - CF_REDO_HEAD + need > CF_REDO_PAYLOAD_MAX) {
        r->lost = CF_ETOOBIG;
        return;
    }
    if (!reserve(r, need)) {
        r->lost = CF_ENOMEM;
        return;
    }
    uint8_t *p = r->buf + r->len;
    p[0] = (uint8_t)op;
    p[1] = (uint8_t)table;
    put_be(p + 2, key_len, 2);
    p += 4;
    if (!del) {
        put_be(p, val_len, 4);
        p += 4;
    }
    memcpy(p, key, key_len);
    if (!del && val_len)
        memcpy(p + key_len, val, val_len);
    r->len += need;
}

static int write_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return errno == ENOSPC || errno == EFBIG || errno == EDQUOT || w == 0 ? CF_ENOSPACE
                                                                                  : CF_EIO;
        p += w, n -= (size_t)w, off += (uint64_t)w;
    }
    return 0;
}

/* Zero-fills the file up to at least `upto`, a chunk at a time, and syncs it
 * with its new size. */
static int grow(struct cf_redo *r, uint64_t upto)
{
    static const uint8_t zeros[64u << 10];
    uint64_t target = (upto + GROW_CHUNK - 1) / GROW_CHUNK * GROW_CHUNK;
    int rc = 0;
    for (uint64_t at = r->allocated; rc == 0 && at < target; at += sizeof zeros)
        rc = write_all(r->fd, zeros, sizeof zeros, at);
    if (rc == 0 && fsync(r->fd) != 0)
        rc = CF_EIO;
    if (rc == 0)
        r->allocated = target;
    return rc;
}

int cf_redo_write(struct cf_redo *r)
{
    if (r->lost)
        return r->lost;
    size_t payload = r->len - CF_REDO_HEAD, total = r->len + CF_REDO_TAG;
    if (r->end + total > r->cap)
        return CF_ENOSPACE;
    if (!reserve(r, CF_REDO_TAG))
        return CF_ENOMEM;
    memcpy(r->buf, magic, 4);
    put_be(r->buf + 4, payload, 4);
    put_be(r->buf + 8, r->gen, 8);
    put_be(r->buf + 16, r->seq, 8);
    crypto_generichash(r->buf + r->len, CF_REDO_TAG, r->buf, r->len, NULL, 0);
    int rc = r->end + total > r->allocated ? grow(r, r->end + total) : 0;
    if (rc == 0)
        rc = write_all(r->fd, r->buf, total, r->end);
    if (rc == 0 && fdatasync(r->fd) != 0)
        rc = CF_EIO;
    if (rc != 0)
        return rc;
    r->end += total;
    r->seq++;
    cf_redo_clear(r);
    return 0;
}

void cf_redo_restart(struct cf_redo *r, uint64_t gen)
{
    r->gen = gen;
    r->seq = 0;
    r->end = 0;
    cf_redo_clear(r);
}

static int entries(const uint8_t *p, size_t len, unsigned tables, cf_redo_fn fn, void *ctx)
{
    while (len > 0) {
        if (len < 4)
            return CF_EDECODE;
        struct cf_redo_entry e = {.op = (enum cf_redo_op)p[0], .table = p[1]};
        e.key_len = (size_t)get_be(p + 2, 2);
        bool del = e.op == CF_REDO_DEL;
        if ((e.op != CF_REDO_PUT && e.op != CF_REDO_PUT_LAST && !del) || e.table >= tables ||
            e.key_len == 0 || e.key_len > CF_REDO_KEY_MAX)
            return CF_EDECODE;
        p += 4, len -= 4;
        if (!del) {
            if (len < 4)
                return CF_EDECODE;
            e.val_len = (size_t)get_be(p, 4);
            p += 4, len -= 4;
            if (e.val_len > CF_REDO_VALUE_MAX)
                return CF_EDECODE;
        }
        if (len < e.key_len || len - e.key_len < e.val_len)
            return CF_EDECODE;
        e.key = p;
        e.val = del ? NULL : p + e.key_len;
        p += e.key_len + e.val_len, len -= e.key_len + e.val_len;
        int rc = fn ? fn(ctx, &e) : 0;
        if (rc != 0)
            return rc;
    }
    return 0;
}

int cf_redo_entries(const uint8_t *p, size_t len, unsigned tables, cf_redo_fn fn, void *ctx)
{
    int rc = entries(p, len, tables, NULL, NULL); /* all of it checked before any is applied */
    return rc == 0 && fn ? entries(p, len, tables, fn, ctx) : rc;
}

static int read_all(int fd, uint8_t *p, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t got = pread(fd, p, n, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return CF_EIO;
        if (got == 0)
            return CF_ENOTFOUND;
        p += got, n -= (size_t)got, off += (uint64_t)got;
    }
    return 0;
}

int cf_redo_replay(int fd, uint64_t gen, uint64_t limit, cf_redo_fn fn, void *ctx, uint64_t *end,
                   uint64_t *records)
{
    uint64_t off = 0, n = 0;
    uint8_t *buf = NULL;
    int rc = 0;
    for (;;) {
        uint8_t head[CF_REDO_HEAD];
        if (off + CF_REDO_HEAD > limit || (rc = read_all(fd, head, sizeof head, off)) != 0)
            break;
        uint64_t payload = get_be(head + 4, 4);
        if (memcmp(head, magic, 4) != 0 || payload > CF_REDO_PAYLOAD_MAX ||
            get_be(head + 8, 8) != gen || get_be(head + 16, 8) != n ||
            off + CF_REDO_HEAD + payload + CF_REDO_TAG > limit)
            break;
        size_t total = CF_REDO_HEAD + (size_t)payload + CF_REDO_TAG;
        uint8_t *p = realloc(buf, total);
        if (!p) {
            rc = CF_ENOMEM;
            break;
        }
        buf = p;
        memcpy(buf, head, sizeof head);
        if ((rc = read_all(fd, buf + CF_REDO_HEAD, total - CF_REDO_HEAD, off + CF_REDO_HEAD)) != 0)
            break;
        uint8_t tag[CF_REDO_TAG];
        crypto_generichash(tag, sizeof tag, buf, total - CF_REDO_TAG, NULL, 0);
        if (sodium_memcmp(tag, buf + total - CF_REDO_TAG, sizeof tag) != 0)
            break; /* torn: its batch was never answered */
        /* Whole and sealed, yet not decodable: not a torn write, but damage. */
        rc = cf_redo_entries(buf + CF_REDO_HEAD, (size_t)payload, 256, fn, ctx);
        if (rc == CF_EDECODE)
            rc = CF_ECORRUPT;
        if (rc != 0)
            break;
        off += total;
        n++;
    }
    free(buf);
    *end = off;
    *records = n;
    return rc == CF_ENOTFOUND ? 0 : rc;
}
