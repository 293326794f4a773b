/* The log store: one LMDB environment, its named databases and key layouts
 * (DESIGN.md section 8). The broker writes it; `childfirst audit` reads it,
 * through this same code, from a live state folder, a backup or a replica.
 *
 *   audit       index (u64 BE)                     -> AuditRecord bytes
 *   envelope    index (u64 BE)                     -> Envelope bytes (accepted leaves)
 *   tree        level (u8) || index (u64 BE)       -> SHA-256 node (complete subtrees)
 *   checkpoint  tree size (u64 BE)                 -> signed note
 *   dedup       sender || 0x00 || message_id       -> index (u64 BE)
 *   mailbox     recipient || 0x00 || index (u64 BE) -> flags (1 byte)
 *   case        case_id                            -> CaseRecord bytes
 *   timer       due ms (u64 BE) || case_id || kind -> empty
 *   meta        name                               -> value ("schema", "origin", "broker_key",
 *                                                     "redo_gen", ...)
 *
 * audit, envelope, tree and checkpoint are the log; the rest is derived from it.
 * LMDB has no page checksums, so the hashes in the log are what guard the data.
 * The environment is never opened with MDB_WRITEMAP (a full disk would become
 * SIGBUS) nor with MDB_NOSYNC / MDB_NOMETASYNC. The broker's batches between
 * two LMDB commits are durable in the redo log instead (redo.h).
 */
#ifndef CHILDFIRST_STORE_H
#define CHILDFIRST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "childfirst/error.h"
#include "childfirst/merkle.h"

#define CF_STORE_SCHEMA "1"

struct cf_redo;
struct cf_redo_entry;

struct cf_store {
    MDB_env *env;
    MDB_dbi audit, envelope, tree, checkpoint, dedup, mailbox, cases, timer, meta;
    bool readonly;
    size_t map_size;
    struct cf_redo *redo; /* when set, every put and delete is also captured there */
    uint64_t recovered;   /* redo records the open applied (redo.h) */
    int redo_fd;          /* a writable open's redo log, open and locked until close */
    bool has_redo_fd;
};

/* Opens (and with !readonly, creates) the environment in folder `dir`.
 * `map_size` is a starting size in bytes; 0 keeps the file's. A read-only open
 * of a folder that holds no log fails with CF_ENOTFOUND. Either kind of open
 * first applies the batches a writer that stopped left in its redo log
 * (redo.h). A writable open takes the redo log's lock, and fails with
 * CF_ESTORE while another process holds it; a read-only one skips a log a
 * live writer holds. Opened with MDB_NOTLS: a thread may read while it holds
 * the write transaction. */
CF_WUR int cf_store_open(struct cf_store *s, const char *dir, size_t map_size, bool readonly,
                         struct cf_error *err);

/* Closes; safe on a zeroed or already closed store. */
void cf_store_close(struct cf_store *s);

/* Grows the map to `map_size` bytes. Only with no transaction open. */
CF_WUR int cf_store_grow(struct cf_store *s, size_t map_size, struct cf_error *err);

/* An LMDB return code as one of ours: MDB_MAP_FULL -> CF_EMAPFULL, MDB_NOTFOUND
 * -> CF_ENOTFOUND, ENOSPC and EDQUOT -> CF_ENOSPACE, corruption -> CF_ECORRUPT,
 * anything else -> CF_ESTORE. */
int cf_store_error(int mdb_rc);

/* Big-endian u64 keys, so LMDB's byte order is numeric order. */
void cf_store_put_u64(uint8_t out[8], uint64_t v);
uint64_t cf_store_get_u64(const uint8_t in[8]);

/* A Merkle node store over `txn`. `t` must outlive `ms`'s use. */
struct cf_store_tree {
    const struct cf_store *store;
    MDB_txn *txn;
};
void cf_store_tree_init(struct cf_merkle_store *ms, struct cf_store_tree *t,
                        const struct cf_store *s, MDB_txn *txn);

/* The number of leaves: the last audit index + 1, or 0. */
CF_WUR int cf_store_size(const struct cf_store *s, MDB_txn *txn, uint64_t *size);

/* Values borrowed from LMDB, valid until the transaction ends: copy them out. */
CF_WUR int cf_store_record(const struct cf_store *s, MDB_txn *txn, uint64_t index, MDB_val *out);
CF_WUR int cf_store_envelope(const struct cf_store *s, MDB_txn *txn, uint64_t index,
                             MDB_val *out);
CF_WUR int cf_store_checkpoint(const struct cf_store *s, MDB_txn *txn, uint64_t size,
                               MDB_val *out);
/* The checkpoint of the largest stored tree size at most `max`; CF_ENOTFOUND
 * when there is none. */
CF_WUR int cf_store_checkpoint_at_most(const struct cf_store *s, MDB_txn *txn, uint64_t max,
                                       uint64_t *size, MDB_val *out);
/* The checkpoint of the largest tree size; CF_ENOTFOUND in an empty log. */
CF_WUR int cf_store_checkpoint_latest(const struct cf_store *s, MDB_txn *txn, uint64_t *size,
                                      MDB_val *out);

/* Appends the record as leaf `index` (which must be the current size): the
 * record and every tree node it completes. */
CF_WUR int cf_store_append(const struct cf_store *s, MDB_txn *txn, uint64_t index,
                           const uint8_t *record, size_t len);

CF_WUR int cf_store_put(const struct cf_store *s, MDB_txn *txn, MDB_dbi dbi, const void *key,
                        size_t key_len, const void *val, size_t val_len);

/* Puts `val` under the 8-byte key `index` of a table keyed by index
 * (audit, envelope, checkpoint), which must be above every key it holds. LMDB then
 * appends without splitting pages in half, so they are written full: half
 * the envelope pages per commit. CF_ESTORE (a bug) when `index` is not above them. */
CF_WUR int cf_store_put_last(const struct cf_store *s, MDB_txn *txn, MDB_dbi dbi, uint64_t index,
                             const void *val, size_t val_len);

/* Deletes `key`; CF_ENOTFOUND when it is not there. */
CF_WUR int cf_store_del(const struct cf_store *s, MDB_txn *txn, MDB_dbi dbi, const void *key,
                        size_t key_len);
/* Deletes the cursor's current entry of table `dbi`. */
CF_WUR int cf_store_cursor_del(const struct cf_store *s, MDB_cursor *c, MDB_dbi dbi);

/* The redo generation meta names (0 when it names none), and setting it. */
CF_WUR int cf_store_redo_gen(const struct cf_store *s, MDB_txn *txn, uint64_t *gen);
CF_WUR int cf_store_redo_gen_put(const struct cf_store *s, MDB_txn *txn, uint64_t gen);
/* Applies one redo entry, as it was captured, without capturing it again
 * unless s->redo is set. */
CF_WUR int cf_store_redo_apply(const struct cf_store *s, MDB_txn *txn,
                               const struct cf_redo_entry *e);
/* Applies generation `gen`'s records in redo log `fd` below `limit` bytes
 * (cf_redo_replay). */
CF_WUR int cf_store_redo_replay(const struct cf_store *s, MDB_txn *txn, int fd, uint64_t gen,
                                uint64_t limit, uint64_t *end, uint64_t *records);

/* meta: text values. cf_store_meta copies into `out` (NUL-terminated). */
CF_WUR int cf_store_meta(const struct cf_store *s, MDB_txn *txn, const char *name, char *out,
                         size_t cap);
CF_WUR int cf_store_meta_put(const struct cf_store *s, MDB_txn *txn, const char *name,
                             const char *value);

/* Composite keys: an id (agency or case), a 0x00 separator, then a suffix. */
size_t cf_store_id_key(uint8_t *out, size_t cap, const char *id, const void *suffix,
                       size_t suffix_len);

#endif
