/* Mailbox entries keyed recipient || 0x00 || index (big-endian), so one
 * recipient's queue is one contiguous, ordered key range. */
#include <string.h>

#include "childfirst/limits.h"
#include "mailbox.h"

#define KEY_MAX (CF_ID_MAX + 1 + 8)

static size_t key_of(uint8_t key[KEY_MAX], const char *recipient, uint64_t index)
{
    uint8_t be[8];
    cf_store_put_u64(be, index);
    return cf_store_id_key(key, KEY_MAX, recipient, be, 8);
}

int cf_mailbox_put(const struct cf_store *s, MDB_txn *txn, const char *recipient, uint64_t index)
{
    uint8_t key[KEY_MAX], flags = 0;
    size_t n = key_of(key, recipient, index);
    return n ? cf_store_put(s, txn, s->mailbox, key, n, &flags, 1) : CF_EINVAL;
}

int cf_mailbox_take(const struct cf_store *s, MDB_txn *txn, const char *recipient, uint64_t index)
{
    uint8_t key[KEY_MAX];
    size_t n = key_of(key, recipient, index);
    return n ? cf_store_del(s, txn, s->mailbox, key, n) : CF_EINVAL;
}

int cf_mailbox_has(const struct cf_store *s, MDB_txn *txn, const char *recipient, uint64_t index)
{
    uint8_t key[KEY_MAX];
    size_t n = key_of(key, recipient, index);
    if (n == 0)
        return CF_EINVAL;
    MDB_val k = {n, key}, v;
    int rc = mdb_get(txn, s->mailbox, &k, &v);
    return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : cf_store_error(rc);
}

int cf_mailbox_scan(const struct cf_store *s, MDB_txn *txn, const char *recipient, uint64_t from,
                    int (*fn)(void *ctx, uint64_t index), void *ctx)
{
    uint8_t key[KEY_MAX];
    size_t n = key_of(key, recipient, from), prefix = strlen(recipient) + 1;
    if (n == 0)
        return CF_EINVAL;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->mailbox, &c);
    if (rc != 0)
        return cf_store_error(rc);
    MDB_val k = {n, key}, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != prefix + 8 || memcmp(k.mv_data, key, prefix) != 0)
            break;
        rc = fn(ctx, cf_store_get_u64((const uint8_t *)k.mv_data + prefix));
        if (rc != 0) {
            mdb_cursor_close(c);
            return rc;
        }
    }
    mdb_cursor_close(c);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : cf_store_error(rc);
}
