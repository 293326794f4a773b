/* The log store over LMDB: named databases, key layouts and the Merkle node
 * store, in one place so the broker that writes the log and the auditor that
 * reads it cannot disagree about a byte. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "childfirst/record.h"
#include "childfirst/redo.h"
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

#define N_TABLES (sizeof dbs / sizeof dbs[0])

static unsigned table_of(const struct cf_store *s, MDB_dbi dbi)
{
    for (unsigned i = 0; i < N_TABLES; i++)
        if (*(const MDB_dbi *)((const char *)s + dbs[i].offset) == dbi)
            return i;
    return N_TABLES;
}

static MDB_dbi table_dbi(const struct cf_store *s, unsigned table)
{
    return *(const MDB_dbi *)((const char *)s + dbs[table].offset);
}

static int open_env(struct cf_store *s, const char *dir, size_t map_size, bool readonly,
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
        rc = mdb_env_open(s->env, dir, MDB_NOTLS | (readonly ? MDB_RDONLY : 0), 0600);
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

int cf_store_redo_gen(const struct cf_store *s, MDB_txn *txn, uint64_t *gen)
{
    char text[24];
    int rc = cf_store_meta(s, txn, "redo_gen", text, sizeof text);
    *gen = rc == 0 ? strtoull(text, NULL, 10) : 0;
    return rc == CF_ENOTFOUND ? 0 : rc;
}

int cf_store_redo_gen_put(const struct cf_store *s, MDB_txn *txn, uint64_t gen)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64, gen);
    return cf_store_meta_put(s, txn, "redo_gen", text);
}

struct apply {
    const struct cf_store *s;
    MDB_txn *txn;
};

static int apply_entry(void *ctx, const struct cf_redo_entry *e)
{
    const struct apply *a = ctx;
    return cf_store_redo_apply(a->s, a->txn, e);
}

int cf_store_redo_replay(const struct cf_store *s, MDB_txn *txn, int fd, uint64_t gen,
                         uint64_t limit, uint64_t *end, uint64_t *records)
{
    struct apply a = {s, txn};
    return cf_redo_replay(fd, gen, limit, apply_entry, &a, end, records);
}

int cf_store_redo_apply(const struct cf_store *s, MDB_txn *txn, const struct cf_redo_entry *e)
{
    if (e->table >= N_TABLES)
        return CF_ECORRUPT;
    MDB_val k = {e->key_len, (void *)e->key}, v = {e->val_len, (void *)e->val};
    MDB_dbi dbi = table_dbi(s, e->table);
    int rc = e->op == CF_REDO_DEL        ? mdb_del(txn, dbi, &k, NULL)
             : e->op == CF_REDO_PUT_LAST ? mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE | MDB_APPEND)
                                         : mdb_put(txn, dbi, &k, &v, 0);
    return cf_store_error(rc);
}

/* Opens the redo log for recover(): a writer creates it and must get its lock;
 * a reader skips it while a live writer holds it (what that writer has not
 * committed is its own), or when there is none. -1 when there is nothing to do. */
static int redo_fd(const char *path, bool readonly, bool *writable, struct cf_error *err)
{
    int fd = open(path, O_RDWR | O_CLOEXEC | (readonly ? 0 : O_CREAT), 0600);
    *writable = fd >= 0;
    if (fd < 0 && readonly && (errno == EACCES || errno == EROFS))
        fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (readonly && errno == ENOENT)
            return -1;
        cf_error_set(err, CF_ESTORE, "%s: %s", path, strerror(errno));
        return -2;
    }
    if (flock(fd, (*writable ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
        return fd;
    int e = errno;
    close(fd);
    if (readonly && e == EWOULDBLOCK)
        return -1;
    cf_error_set(err, CF_ESTORE, "%s: %s", path,
                 e == EWOULDBLOCK ? "another process is writing this store" : strerror(e));
    return -2;
}

/* Applies what a writer that stopped without committing left in redo log
 * `fd`. Looks read-only first, so a folder with nothing to apply never needs
 * to be writable. */
static int recover(struct cf_store *s, const char *dir, int fd, bool writable, size_t map_size,
                   struct cf_error *err)
{
    uint64_t gen = 0, end, records = 0;
    MDB_txn *txn;
    int rc = open_env(s, dir, 0, true, err);
    if (rc == CF_ENOTFOUND) /* no log at all yet */
        return 0;
    if (rc == 0 && (rc = cf_store_error(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))) == 0) {
        rc = cf_store_redo_gen(s, txn, &gen);
        mdb_txn_abort(txn);
    }
    cf_store_close(s);
    if (rc == 0)
        rc = cf_redo_replay(fd, gen, UINT64_MAX, NULL, NULL, &end, &records);
    if (rc == 0 && records > 0 && !writable)
        rc = cf_error_set(err, CF_ESTORE,
                          "%s/" CF_REDO_FILE ": holds %" PRIu64 " batches not yet in data.mdb, and "
                          "the folder is read-only: open it once where it can be written",
                          dir, records);
    for (size_t map = map_size; rc == 0 && records > 0;) {
        if ((rc = open_env(s, dir, map, false, err)) != 0)
            break;
        MDB_txn *w = NULL;
        rc = cf_store_error(mdb_txn_begin(s->env, NULL, 0, &w));
        if (rc == 0)
            rc = cf_store_redo_replay(s, w, fd, gen, UINT64_MAX, &end, &records);
        if (rc == 0)
            rc = cf_store_redo_gen_put(s, w, gen + 1);
        if (rc == 0)
            rc = cf_store_error(mdb_txn_commit(w));
        else if (w)
            mdb_txn_abort(w);
        map = s->map_size * 2;
        cf_store_close(s);
        if (rc == 0) {
            s->recovered = records;
            break;
        }
        if (rc != CF_EMAPFULL || map > ((size_t)1 << 40))
            rc = cf_error_set(err, rc,
                              "%s/" CF_REDO_FILE ": cannot apply its %" PRIu64 " batches: %s", dir,
                              records, cf_error_name(rc));
        else
            rc = 0; /* again, in a larger map */
    }
    return rc;
}

int cf_store_open(struct cf_store *s, const char *dir, size_t map_size, bool readonly,
                  struct cf_error *err)
{
    memset(s, 0, sizeof *s);
    s->redo_fd = -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/" CF_REDO_FILE, dir);
    bool writable;
    int fd = redo_fd(path, readonly, &writable, err);
    if (fd == -2)
        return CF_ESTORE;
    struct cf_store r = {0};
    int rc = fd >= 0 ? recover(&r, dir, fd, writable, map_size, err) : 0;
    if (rc == 0)
        rc = open_env(s, dir, map_size, readonly, err);
    if (rc != 0 || readonly) {
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    s->recovered = r.recovered;
    s->redo_fd = fd;
    s->has_redo_fd = fd >= 0;
    return rc;
}

void cf_store_close(struct cf_store *s)
{
    if (s->env)
        mdb_env_close(s->env);
    s->env = NULL;
    if (s->has_redo_fd && s->redo_fd >= 0)
        close(s->redo_fd); /* and with it the lock */
    s->has_redo_fd = false;
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
    return cf_store_put(t->store, t->txn, t->store->tree, key, sizeof key, hash, CF_MERKLE_HASH);
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
    MDB_val k = {key_len, (void *)key}, v = {val_len, (void *)val};
    int rc = cf_store_error(mdb_put(txn, dbi, &k, &v, 0));
    if (rc == 0 && s->redo)
        cf_redo_add(s->redo, CF_REDO_PUT, table_of(s, dbi), key, key_len, val, val_len);
    return rc;
}

int cf_store_del(const struct cf_store *s, MDB_txn *txn, MDB_dbi dbi, const void *key,
                 size_t key_len)
{
    MDB_val k = {key_len, (void *)key};
    int rc = cf_store_error(mdb_del(txn, dbi, &k, NULL));
    if (rc == 0 && s->redo)
        cf_redo_add(s->redo, CF_REDO_DEL, table_of(s, dbi), key, key_len, NULL, 0);
    return rc;
}

int cf_store_cursor_del(const struct cf_store *s, MDB_cursor *c, MDB_dbi dbi)
{
    MDB_val k, v;
    int rc = cf_store_error(mdb_cursor_get(c, &k, &v, MDB_GET_CURRENT));
    if (rc == 0 && s->redo)
        cf_redo_add(s->redo, CF_REDO_DEL, table_of(s, dbi), k.mv_data, k.mv_size, NULL, 0);
    return rc == 0 ? cf_store_error(mdb_cursor_del(c, 0)) : rc;
}

int cf_store_put_last(const struct cf_store *s, MDB_txn *txn, MDB_dbi dbi, uint64_t index,
                      const void *val, size_t val_len)
{
    uint8_t key[8];
    cf_store_put_u64(key, index);
    MDB_val k = {8, key}, v = {val_len, (void *)val};
    int rc = cf_store_error(mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE | MDB_APPEND));
    if (rc == 0 && s->redo)
        cf_redo_add(s->redo, CF_REDO_PUT_LAST, table_of(s, dbi), key, 8, val, val_len);
    return rc;
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
