/* The log store over LMDB: named databases, key layouts and the Merkle node
 * store, in one place so the broker that writes the log and the auditor that
 * reads it cannot disagree about a byte. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "childfirst/record.h"
#include "childfirst/store.h"

int cf_store_error(int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case MDB_MAP_FULL:
        return CF_EMAPFULL;
    case MDB_NOTFOUND:
        return CF_ENOTFOUND;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return CF_ENOSPACE;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
        return CF_ECORRUPT;
    default:
        return CF_ESTORE;
    }
}

void cf_store_put_u64(uint8_t out[8], uint64_t v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (56 - 8 * i));
}

uint64_t cf_store_get_u64(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | in[i];
    return v;
}

static const struct {
    const char *name;
    size_t offset;
} dbs[] = {
    {"audit", offsetof(struct cf_store, audit)},
    {"envelope", offsetof(struct cf_store, envelope)},
    {"tree", offsetof(struct cf_store, tree)},
    {"checkpoint", offsetof(struct cf_store, checkpoint)},
    {"dedup", offsetof(struct cf_store, dedup)},
    {"mailbox", offsetof(struct cf_store, mailbox)},
    {"case", offsetof(struct cf_store, cases)},
    {"timer", offsetof(struct cf_store, timer)},
    {"meta", offsetof(struct cf_store, meta)},
};

int cf_store_open(struct cf_store *s, const char *dir, size_t map_size, bool readonly,
                  struct cf_error *err)
{
    memset(s, 0, sizeof *s);
    s->readonly = readonly;
    struct stat st;
    char data[4096];
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    if (readonly && stat(data, &st) != 0)
        return cf_error_set(err, CF_ENOTFOUND, "%s: no log here (no data.mdb)", dir);
    int rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, sizeof dbs / sizeof dbs[0]);
    if (rc == 0 && map_size)
        rc = mdb_env_set_mapsize(s->env, map_size);
    if (rc == 0)
        rc = mdb_env_open(s->env, dir, readonly ? MDB_RDONLY : 0, 0600);
    if (rc != 0) {
        int code = cf_store_error(rc);
        cf_error_set(err, code, "%s: cannot open the store: %s", dir, mdb_strerror(rc));
        cf_store_close(s);
        return code;
    }
    MDB_txn *txn;
    rc = mdb_txn_begin(s->env, NULL, readonly ? MDB_RDONLY : 0, &txn);
    for (size_t i = 0; rc == 0 && i < sizeof dbs / sizeof dbs[0]; i++)
        rc = mdb_dbi_open(txn, dbs[i].name, readonly ? 0 : MDB_CREATE,
                          (MDB_dbi *)((char *)s + dbs[i].offset));
    /* Committed even when read-only: LMDB closes handles opened in a transaction
     * that is aborted. */
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc != 0) {
        int code = rc == MDB_NOTFOUND ? CF_ENOTFOUND : cf_store_error(rc);
        cf_error_set(err, code, "%s: cannot open the log databases: %s", dir, mdb_strerror(rc));
        cf_store_close(s);
        return code;
    }
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    s->map_size = info.me_mapsize;
    return 0;
}

void cf_store_close(struct cf_store *s)
{
    if (s->env)
        mdb_env_close(s->env);
    s->env = NULL;
}

int cf_store_grow(struct cf_store *s, size_t map_size, struct cf_error *err)
{
    int rc = mdb_env_set_mapsize(s->env, map_size);
    if (rc != 0)
        return cf_error_set(err, cf_store_error(rc), "cannot grow the store map to %zu MiB: %s",
                            map_size >> 20, mdb_strerror(rc));
    s->map_size = map_size;
    return 0;
}

static int tree_key(uint8_t key[9], unsigned level, uint64_t index)
{
    key[0] = (uint8_t)level;
    cf_store_put_u64(key + 1, index);
    return 0;
}

static int tree_get(void *ctx, unsigned level, uint64_t index, uint8_t out[CF_MERKLE_HASH])
{
    const struct cf_store_tree *t = ctx;
    uint8_t key[9];
    tree_key(key, level, index);
    MDB_val k = {sizeof key, key}, v;
    int rc = mdb_get(t->txn, t->store->tree, &k, &v);
    if (rc != 0)
        return cf_store_error(rc);
    if (v.mv_size != CF_MERKLE_HASH)
        return CF_ECORRUPT;
    memcpy(out, v.mv_data, CF_MERKLE_HASH);
    return 0;
}

static int tree_put(void *ctx, unsigned level, uint64_t index, const uint8_t hash[CF_MERKLE_HASH])
{
    const struct cf_store_tree *t = ctx;
    uint8_t key[9];
    tree_key(key, level, index);
    MDB_val k = {sizeof key, key}, v = {CF_MERKLE_HASH, (void *)hash};
    return cf_store_error(mdb_put(t->txn, t->store->tree, &k, &v, 0));
}

void cf_store_tree_init(struct cf_merkle_store *ms, struct cf_store_tree *t,
                        const struct cf_store *s, MDB_txn *txn)
{
    t->store = s;
    t->txn = txn;
    ms->ctx = t;
    ms->get = tree_get;
    ms->put = tree_put;
}

int cf_store_size(const struct cf_store *s, MDB_txn *txn, uint64_t *size)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->audit, &c);
    if (rc != 0)
        return cf_store_error(rc);
    MDB_val k, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND) {
        *size = 0;
        return 0;
    }
    if (rc != 0)
        return cf_store_error(rc);
    if (k.mv_size != 8)
        return CF_ECORRUPT;
    *size = cf_store_get_u64(k.mv_data) + 1;
    return 0;
}

static int get_u64(MDB_txn *txn, MDB_dbi dbi, uint64_t key, MDB_val *out)
{
    uint8_t kb[8];
    cf_store_put_u64(kb, key);
    MDB_val k = {8, kb};
    return cf_store_error(mdb_get(txn, dbi, &k, out));
}

int cf_store_record(const struct cf_store *s, MDB_txn *txn, uint64_t index, MDB_val *out)
{
    return get_u64(txn, s->audit, index, out);
}

int cf_store_envelope(const struct cf_store *s, MDB_txn *txn, uint64_t index, MDB_val *out)
{
    return get_u64(txn, s->envelope, index, out);
}

int cf_store_checkpoint(const struct cf_store *s, MDB_txn *txn, uint64_t size, MDB_val *out)
{
    return get_u64(txn, s->checkpoint, size, out);
}

int cf_store_checkpoint_at_most(const struct cf_store *s, MDB_txn *txn, uint64_t max,
                                uint64_t *size, MDB_val *out)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->checkpoint, &c);
    if (rc != 0)
        return cf_store_error(rc);
    uint8_t key[8];
    cf_store_put_u64(key, max);
    MDB_val k = {8, key};
    rc = mdb_cursor_get(c, &k, out, MDB_SET_RANGE); /* the first at or above max */
    if (rc == 0 && (k.mv_size != 8 || cf_store_get_u64(k.mv_data) > max))
        rc = mdb_cursor_get(c, &k, out, MDB_PREV);
    else if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(c, &k, out, MDB_LAST);
    mdb_cursor_close(c);
    if (rc != 0)
        return cf_store_error(rc);
    if (k.mv_size != 8)
        return CF_ECORRUPT;
    *size = cf_store_get_u64(k.mv_data);
    return *size <= max ? 0 : CF_ENOTFOUND;
}

int cf_store_checkpoint_latest(const struct cf_store *s, MDB_txn *txn, uint64_t *size, MDB_val *out)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->checkpoint, &c);
    if (rc != 0)
        return cf_store_error(rc);
    MDB_val k;
    rc = mdb_cursor_get(c, &k, out, MDB_LAST);
    mdb_cursor_close(c);
    if (rc != 0)
        return cf_store_error(rc);
    if (k.mv_size != 8)
        return CF_ECORRUPT;
    *size = cf_store_get_u64(k.mv_data);
    return 0;
}

int cf_store_put(const struct cf_store *s, MDB_txn *txn, MDB_dbi dbi, const void *key,
                 size_t key_len, const void *val, size_t val_len)
{
    (void)s;
    MDB_val k = {key_len, (void *)key}, v = {val_len, (void *)val};
    return cf_store_error(mdb_put(txn, dbi, &k, &v, 0));
}

int cf_store_put_last(const struct cf_store *s, MDB_txn *txn, MDB_dbi dbi, uint64_t index,
                      const void *val, size_t val_len)
{
    (void)s;
    uint8_t key[8];
    cf_store_put_u64(key, index);
    MDB_val k = {8, key}, v = {val_len, (void *)val};
    return cf_store_error(mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE | MDB_APPEND));
}

int cf_store_append(const struct cf_store *s, MDB_txn *txn, uint64_t index, const uint8_t *record,
                    size_t len)
{
    uint8_t leaf[CF_MERKLE_HASH];
    int rc = cf_store_put_last(s, txn, s->audit, index, record, len);
    if (rc != 0)
        return rc;
    struct cf_merkle_store ms;
    struct cf_store_tree t;
    cf_store_tree_init(&ms, &t, s, txn);
    cf_record_leaf_hash(record, len, leaf);
    return cf_merkle_append(&ms, index, leaf);
}

int cf_store_meta(const struct cf_store *s, MDB_txn *txn, const char *name, char *out, size_t cap)
{
    MDB_val k = {strlen(name), (void *)name}, v;
    int rc = cf_store_error(mdb_get(txn, s->meta, &k, &v));
    if (rc != 0)
        return rc;
    if (v.mv_size >= cap || memchr(v.mv_data, 0, v.mv_size))
        return CF_ECORRUPT;
    memcpy(out, v.mv_data, v.mv_size);
    out[v.mv_size] = 0;
    return 0;
}

int cf_store_meta_put(const struct cf_store *s, MDB_txn *txn, const char *name, const char *value)
{
    return cf_store_put(s, txn, s->meta, name, strlen(name), value, strlen(value));
}

size_t cf_store_id_key(uint8_t *out, size_t cap, const char *id, const void *suffix,
                       size_t suffix_len)
{
    size_t n = strlen(id);
    if (n + 1 + suffix_len > cap)
        return 0;
    memcpy(out, id, n);
    out[n] = 0;
    memcpy(out + n + 1, suffix, suffix_len);
    return n + 1 + suffix_len;
}
