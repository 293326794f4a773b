/* The redo log: how a batch becomes durable without an LMDB commit.
 *
 * An LMDB commit syncs every page the batch dirtied, scattered over nine
 * B-trees: a referral costs about 35 page writes at one in flight. The broker
 * instead keeps one write transaction open, and makes each batch durable by
 * appending the puts and deletes it made to `redo.log` and syncing that one
 * sequential write. Every so often (and at stop) the transaction is committed
 * as usual, recording in `meta` the next generation; the log then starts
 * again from its beginning.
 *
 * The records after the last commit are those of the generation `meta` names.
 * Whoever opens the store next (the broker, `childfirst audit`, a test)
 * applies them first, unless a live writer holds the file's lock.
 *
 * A record: "CFR1" || payload length (u32 BE) || generation (u64 BE) ||
 * number in its generation (u64 BE) || payload || BLAKE2b-128 of all before.
 * Its payload is a run of operations:
 *   put, put-last: op || table || key length (u16 BE) || value length (u32 BE) || key || value
 *   delete:        op || table || key length (u16 BE) || key
 * A torn, stale or damaged record ends the generation where it starts: its
 * batch was never answered, since nothing is answered before its sync. */
#ifndef CHILDFIRST_REDO_H
#define CHILDFIRST_REDO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "childfirst/error.h"

#define CF_REDO_FILE "redo.log"
#define CF_REDO_HEAD 24
#define CF_REDO_TAG 16
#define CF_REDO_PAYLOAD_MAX (256u << 20)
#define CF_REDO_KEY_MAX 511 /* LMDB's default key limit */
#define CF_REDO_VALUE_MAX (64u << 20)

enum cf_redo_op { CF_REDO_PUT = 1, CF_REDO_PUT_LAST = 2, CF_REDO_DEL = 3 };

struct cf_redo_entry {
    enum cf_redo_op op;
    unsigned table; /* an index into the store's table list */
    const uint8_t *key, *val;
    size_t key_len, val_len;
};

typedef int (*cf_redo_fn)(void *ctx, const struct cf_redo_entry *e);

struct cf_redo {
    int fd;
    uint64_t gen;       /* the generation being written */
    uint64_t seq;       /* the number of its next record */
    uint64_t end;       /* the end of its last synced record */
    uint64_t allocated; /* bytes of the file already written once: syncs below need no metadata */
    uint64_t cap;       /* `end` stays below this: past it the caller commits LMDB instead */
    uint8_t *buf;       /* the batch being captured: a record being built */
    size_t len, buf_cap;
    int lost; /* why an entry could not be captured (CF_ENOMEM, CF_ETOOBIG), or 0:
                 a batch with one lost is never written */
};

/* Starts writing redo log `fd` (a writable store's redo_fd, which stays the
 * store's) in generation `gen`, the one the store's meta names, after any of
 * its records already there. */
CF_WUR int cf_redo_open(struct cf_redo *r, int fd, uint64_t gen, uint64_t cap,
                        struct cf_error *err);
void cf_redo_close(struct cf_redo *r);

/* Captures one entry of the batch being built. */
void cf_redo_add(struct cf_redo *r, enum cf_redo_op op, unsigned table, const void *key,
                 size_t key_len, const void *val, size_t val_len);
/* Forgets the captured batch. */
void cf_redo_clear(struct cf_redo *r);
/* Whether the captured batch is empty. */
bool cf_redo_empty(const struct cf_redo *r);
/* Appends the captured batch as the generation's next record and syncs it;
 * then clears the capture. CF_ENOSPACE when it would pass `cap` or the file
 * cannot grow; any error leaves the generation as it was. */
CF_WUR int cf_redo_write(struct cf_redo *r);
/* After an LMDB commit that named generation `gen` in meta: the log starts again. */
void cf_redo_restart(struct cf_redo *r, uint64_t gen);

/* Calls `fn` for every entry of generation `gen`'s records in `fd`, in order,
 * stopping at the first record that is not the next of that generation, and
 * below `limit` bytes. Sets *end to where the good records end and *records
 * to their count. An error from `fn` or a read stops it. */
CF_WUR int cf_redo_replay(int fd, uint64_t gen, uint64_t limit, cf_redo_fn fn, void *ctx,
                          uint64_t *end, uint64_t *records);

/* Decodes a payload's entries, calling `fn` for each: CF_EDECODE for a
 * truncated or malformed entry (checked before any is passed on). */
CF_WUR int cf_redo_entries(const uint8_t *p, size_t len, unsigned tables, cf_redo_fn fn, void *ctx);

#endif
