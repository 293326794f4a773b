/* Checking a log from its records alone (DESIGN.md section 7): the tree is
 * rebuilt in memory from the records, so nothing a store says about itself is
 * believed until its records reproduce it, and every checkpoint is checked
 * against the broker key the caller pins, never one read from the store.
 *
 * The core takes leaves and checkpoints from any source (an LMDB store, an
 * exported JSON Lines file, a replica); cf_logverify_store walks a store. The
 * first failure is kept as one sentence that starts with what it is about:
 * "index N: ..." or "checkpoint of size N: ...".
 */
#ifndef CHILDFIRST_LOGVERIFY_H
#define CHILDFIRST_LOGVERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "childfirst/checkpoint.h"
#include "childfirst/error.h"
#include "childfirst/memtree.h"
#include "childfirst/record.h"
#include "childfirst/store.h"

struct cf_logverify {
    uint8_t broker_pk[CF_SIGN_PK];
    struct cf_memtree tree; /* rebuilt from the records */
    struct cf_merkle_store ms;
    uint64_t records; /* leaves checked so far: also the next index expected */
    uint64_t first_time, last_time;
    uint64_t checkpoints; /* checked */
    uint64_t newest;      /* the size of the newest checkpoint checked */
    uint8_t newest_root[CF_MERKLE_HASH];
    uint64_t consistency; /* proofs checked between consecutive checkpoints */
    uint64_t redacted;    /* leaves whose envelope is gone (retention) */
    char origin[CF_ORIGIN_MAX + 1];
    /* Origin leaves (a restored log): each cites the old origin's checkpoint
     * of its own index, so a checkpoint may change origin just after one. */
    size_t n_links;
    struct {
        uint64_t index;
        char origin[CF_ORIGIN_MAX + 1];
    } links[16];
    /* The leaves whose envelope is gone, in order, and whether a purged leaf
     * has said retention removed it: every one must be, by the end. */
    uint64_t *missing;
    bool *covered;
    size_t n_missing, cap_missing;
    char failure[768]; /* the first failure, "" while there is none */
};

/* The places a failure names. */
#define CF_LOGVERIFY_AT_INDEX "index"
#define CF_LOGVERIFY_AT_CHECKPOINT "checkpoint of size"

/* Starts a check against `broker_pk` (copied). Release with cf_logverify_fini. */
void cf_logverify_init(struct cf_logverify *v, const uint8_t broker_pk[CF_SIGN_PK]);
void cf_logverify_fini(struct cf_logverify *v);

/* Records the first failure as "WHERE AT: sentence" (later ones are dropped)
 * and returns `code`, for callers that check more than the core does. */
int cf_logverify_fail(struct cf_logverify *v, int code, const char *where, uint64_t at,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Checks `bytes` as leaf number v->records: it decodes as a canonical record
 * that says it is that index, its time is not before the leaf before it, and
 * its leaf hash goes into the tree (through the tree's check hook, if set).
 * With `out` non-NULL the decoded record is left there; release it with
 * cf_wire_record_fini, also after a failure.
 * @return 0; CF_ECORRUPT, or the tree's code, with v->failure set. */
CF_WUR int cf_logverify_leaf(struct cf_logverify *v, const uint8_t *bytes, size_t len,
                             struct cf_record *out);

/* Checks the signed note kept for tree size `size`. Sizes must come in
 * increasing order, each once the tree holds at least `size` leaves. The note
 * must be signed by the broker key, say `size`, share the origin of the notes
 * before it (or, just after an origin leaf, name a new one), and sign the
 * rebuilt root; and a consistency proof, computed from
 * the rebuilt tree, from the previous checkpoint checked to this one must
 * verify by RFC 9162 against both signed roots.
 * @return 0; CF_ESIG, CF_EDECODE, CF_ECORRUPT, CF_ERANGE or CF_EPROOF with
 *         v->failure set. */
CF_WUR int cf_logverify_checkpoint(struct cf_logverify *v, uint64_t size, const char *note,
                                   size_t len);

/* Notes that leaf `index` (the newest checked) should have an envelope and
 * has none: a later purged leaf must account for it. 0, or CF_ENOMEM. */
CF_WUR int cf_logverify_redacted(struct cf_logverify *v, uint64_t index);

/* After the last leaf and checkpoint: a log with leaves has a checkpoint, the
 * newest covers every leaf, and a purged leaf accounts for every missing
 * envelope. 0 or CF_ECORRUPT. */
CF_WUR int cf_logverify_finish(struct cf_logverify *v);

/* Called by cf_logverify_store for each leaf once the core has checked it:
 * its bytes and decoded record, and its stored envelope (the Envelope of an
 * accepted leaf, the Determination of a determination leaf), NULL when the
 * leaf has none or retention removed it. Borrowed for the call. Return 0, or
 * a code after cf_logverify_fail to stop the walk. */
typedef int (*cf_logverify_leaf_fn)(void *ctx, struct cf_logverify *v, const struct cf_record *r,
                                    const uint8_t *bytes, size_t len, const MDB_val *envelope);

/* Checks a whole store inside the read transaction `txn` (a consistent
 * snapshot, safe while the broker writes): records 0..N-1 without gaps, each
 * as cf_logverify_leaf with every rebuilt node held against the stored tree;
 * each accepted leaf's stored envelope against its record, and each
 * determination leaf's against its hash, a missing one counted as redacted;
 * `fn` (may be NULL); every stored checkpoint as soon as the tree reaches its
 * size; then cf_logverify_finish.
 * @return 0, or the first failure's code with v->failure set. */
CF_WUR int cf_logverify_store(struct cf_logverify *v, const struct cf_store *s, MDB_txn *txn,
                              cf_logverify_leaf_fn fn, void *ctx);

#endif
