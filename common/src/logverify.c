/* The log check behind `childfirst audit verify`, in common/ so every auditor
 * (verify, replay, export checks, replicas) rebuilds and checks the tree with
 * one piece of code. Records are streamed; only the tree's hashes stay in
 * memory. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "childfirst/envelope.h"
#include "childfirst/logverify.h"
#include "childfirst/wire.h"

void cf_logverify_init(struct cf_logverify *v, const uint8_t broker_pk[CF_SIGN_PK])
{
    memset(v, 0, sizeof *v);
    memcpy(v->broker_pk, broker_pk, CF_SIGN_PK);
    cf_memtree_init(&v->tree);
    cf_memtree_store(&v->tree, &v->ms);
}

void cf_logverify_fini(struct cf_logverify *v)
{
    cf_memtree_fini(&v->tree);
    free(v->missing);
    free(v->covered);
    v->missing = NULL;
    v->covered = NULL;
}

int cf_logverify_redacted(struct cf_logverify *v, uint64_t index)
{
    if (v->n_missing == v->cap_missing) {
        size_t cap = v->cap_missing ? 2 * v->cap_missing : 64;
        uint64_t *m = realloc(v->missing, cap * sizeof *m);
        if (m)
            v->missing = m;
        bool *c = m ? realloc(v->covered, cap * sizeof *c) : NULL;
        if (!c)
            return cf_logverify_fail(v, CF_ENOMEM, CF_LOGVERIFY_AT_INDEX, index, "out of memory");
        v->covered = c;
        v->cap_missing = cap;
    }
    v->missing[v->n_missing] = index;
    v->covered[v->n_missing++] = false;
    v->redacted++;
    return 0;
}

/* A purged leaf: each leaf it names must be one whose envelope is missing. */
static int check_purged(struct cf_logverify *v, const struct cf_record *r)
{
    for (size_t k = 0; k < r->n_purged; k++) {
        size_t lo = 0, hi = v->n_missing;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (v->missing[mid] < r->purged[k])
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == v->n_missing || v->missing[lo] != r->purged[k])
            return cf_logverify_fail(v, CF_ECORRUPT, CF_LOGVERIFY_AT_INDEX, r->index,
                                     "the purged leaf names leaf %" PRIu64
                                     ", whose envelope is still kept (or which has none)",
                                     r->purged[k]);
        v->covered[lo] = true;
    }
    return 0;
}

/* An origin leaf: it cites the broker's checkpoint of the log as it stood
 * just before it, under the old origin. */
static int check_origin_leaf(struct cf_logverify *v, const struct cf_record *r)
{
    struct cf_checkpoint prev;
    uint8_t root[CF_MERKLE_HASH];
    uint64_t i = r->index;
    if (!r->previous_checkpoint ||
        cf_checkpoint_open(r->previous_checkpoint, r->previous_checkpoint_len, v->broker_pk, &prev,
                           NULL) != 0)
        return cf_logverify_fail(v, CF_ECORRUPT, CF_LOGVERIFY_AT_INDEX, i,
                                 "the origin leaf cites no checkpoint signed by the broker");
    if (prev.size != i || cf_merkle_root(&v->ms, i, root) != 0 ||
        memcmp(root, prev.root, sizeof root) != 0)
        return cf_logverify_fail(v, CF_ECORRUPT, CF_LOGVERIFY_AT_INDEX, i,
                                 "the origin leaf cites a checkpoint of size %" PRIu64
                                 " that is not the log's first %" PRIu64 " records",
                                 prev.size, i);
    if (v->n_links == sizeof v->links / sizeof v->links[0])
        return cf_logverify_fail(v, CF_ECORRUPT, CF_LOGVERIFY_AT_INDEX, i,
                                 "more than %zu origin leaves", v->n_links);
    v->links[v->n_links].index = i;
    memcpy(v->links[v->n_links++].origin, prev.origin, sizeof prev.origin);
    return 0;
}

/* The origin leaf between the checkpoint of v->newest and one of `size`. */
static const char *link_between(const struct cf_logverify *v, uint64_t size)
{
    for (size_t k = 0; k < v->n_links; k++)
        if (v->links[k].index >= v->newest && v->links[k].index < size)
            return v->links[k].origin;
    return NULL;
}

int cf_logverify_fail(struct cf_logverify *v, int code, const char *where, uint64_t at,
                      const char *fmt, ...)
{
    if (v->failure[0])
        return code;
    int n = snprintf(v->failure, sizeof v->failure, "%s %" PRIu64 ": ", where, at);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof v->failure)
        vsnprintf(v->failure + n, sizeof v->failure - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

/* A broker time as people read it in a failure: ISO 8601 UTC. */
static void time_text(uint64_t ms, char out[64])
{
    struct tm tm;
    time_t secs = (time_t)(ms / 1000);
    if (ms / 1000 > (uint64_t)253402300799 || !gmtime_r(&secs, &tm)) {
        snprintf(out, 64, "%" PRIu64 " ms", ms);
        return;
    }
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
}

int cf_logverify_leaf(struct cf_logverify *v, const uint8_t *bytes, size_t len,
                      struct cf_record *out)
{
    const char *at = CF_LOGVERIFY_AT_INDEX;
    uint64_t i = v->records;
    struct cf_record r;
    struct cf_error err = {0};
    int rc = cf_wire_record_decode(bytes, len, &r, &err);
    if (rc != 0) {
        rc = cf_logverify_fail(v, CF_ECORRUPT, at, i, "the record does not decode: %s (%s)",
                               err.text, cf_error_name(rc));
        goto out;
    }
    if (r.index != i) {
        rc = cf_logverify_fail(v, CF_ECORRUPT, at, i, "the record says it is index %" PRIu64,
                               r.index);
        goto out;
    }
    if (i > 0 && r.time < v->last_time) {
        char t1[64], t2[64];
        time_text(r.time, t1);
        time_text(v->last_time, t2);
        rc =
            cf_logverify_fail(v, CF_ECORRUPT, at, i,
                              "its time %s is before %s, the time of the record before it", t1, t2);
        goto out;
    }
    if (r.event == CF_EVENT_ORIGIN && (rc = check_origin_leaf(v, &r)) != 0)
        goto out;
    if (r.event == CF_EVENT_PURGED && (rc = check_purged(v, &r)) != 0)
        goto out;
    uint8_t leaf[CF_MERKLE_HASH];
    cf_record_leaf_hash(bytes, len, leaf);
    if ((rc = cf_merkle_append(&v->ms, i, leaf)) != 0) {
        /* A check hook that refused has said why already. */
        rc = cf_logverify_fail(v, rc, at, i, "cannot rebuild the tree: %s", cf_strerror(rc));
        goto out;
    }
    if (i == 0)
        v->first_time = r.time;
    v->last_time = r.time;
    v->records++;
out:
    if (out)
        *out = r;
    else
        cf_wire_record_fini(&r);
    return rc;
}

int cf_logverify_checkpoint(struct cf_logverify *v, uint64_t size, const char *note, size_t len)
{
    const char *at = CF_LOGVERIFY_AT_CHECKPOINT;
    if (size > v->records)
        return cf_logverify_fail(v, CF_ECORRUPT, at, size, "the log holds only %" PRIu64 " records",
                                 v->records);
    if (v->checkpoints > 0 && size <= v->newest)
        return cf_logverify_fail(v, CF_ECORRUPT, at, size,
                                 "it comes after the checkpoint of size %" PRIu64
                                 "; checkpoints go in increasing size",
                                 v->newest);
    struct cf_checkpoint cp;
    struct cf_error err = {0};
    int rc = cf_checkpoint_open(note, len, v->broker_pk, &cp, &err);
    if (rc == CF_ESIG)
        return cf_logverify_fail(v, rc, at, size,
                                 "no signature on the note verifies with the given broker key");
    if (rc != 0)
        return cf_logverify_fail(v, rc, at, size, "the note is malformed: %s", err.text);
    if (cp.size != size)
        return cf_logverify_fail(v, CF_ECORRUPT, at, size, "the note says size %" PRIu64, cp.size);
    const char *linked = v->checkpoints > 0 ? link_between(v, size) : NULL;
    if (linked && (strcmp(linked, v->origin) != 0 || strcmp(cp.origin, v->origin) == 0))
        return cf_logverify_fail(v, CF_ECORRUPT, at, size,
                                 "an origin leaf before it links %s to a new origin, but it "
                                 "names %s after %s",
                                 linked, cp.origin, v->origin);
    if (v->checkpoints > 0 && !linked && strcmp(cp.origin, v->origin) != 0)
        return cf_logverify_fail(
            v, CF_ECORRUPT, at, size,
            "its origin %s differs from %s, the origin of the checkpoints before it, and no "
            "origin leaf links them",
            cp.origin, v->origin);
    uint8_t root[CF_MERKLE_HASH];
    if ((rc = cf_merkle_root(&v->ms, size, root)) != 0)
        return cf_logverify_fail(v, rc, at, size, "cannot compute the root of the records: %s",
                                 cf_strerror(rc));
    if (memcmp(root, cp.root, sizeof root) != 0)
        return cf_logverify_fail(
            v, CF_ECORRUPT, at, size,
            "the signed root differs from the root of the first %" PRIu64 " records", size);
    /* What an agent or a follower asks of every new checkpoint: a proof that
     * it extends the one before, checked by the RFC 9162 verifier. The roots
     * already match the records, so a failure here is the verifier's or the
     * proof builder's, and just as fatal. */
    if (v->checkpoints > 0 && v->newest > 0) {
        uint8_t proof[2 * CF_MERKLE_MAX_PROOF][CF_MERKLE_HASH];
        size_t n = 0;
        rc = cf_merkle_consistency_proof(&v->ms, v->newest, size, proof, &n);
        if (rc == 0)
            rc = cf_merkle_verify_consistency(v->newest, size, v->newest_root, cp.root,
                                              (const uint8_t(*)[CF_MERKLE_HASH])proof, n);
        if (rc != 0)
            return cf_logverify_fail(v, rc, at, size,
                                     "the consistency proof from the checkpoint of size %" PRIu64
                                     " does not verify (%s)",
                                     v->newest, cf_error_name(rc));
        v->consistency++;
    }
    memcpy(v->origin, cp.origin, sizeof v->origin);
    memcpy(v->newest_root, cp.root, sizeof v->newest_root);
    v->checkpoints++;
    v->newest = size;
    return 0;
}

int cf_logverify_finish(struct cf_logverify *v)
{
    const char *at = CF_LOGVERIFY_AT_INDEX;
    if (v->records > 0 && v->checkpoints == 0)
        return cf_logverify_fail(v, CF_ECORRUPT, at, 0,
                                 "no checkpoint covers this record (there are none)");
    if (v->records > 0 && v->newest < v->records)
        return cf_logverify_fail(
            v, CF_ECORRUPT, at, v->newest,
            "no checkpoint covers this record (the newest has size %" PRIu64 ")", v->newest);
    for (size_t k = 0; k < v->n_missing; k++)
        if (!v->covered[k])
            return cf_logverify_fail(v, CF_ECORRUPT, at, v->missing[k],
                                     "its envelope is gone, and no purged leaf says retention "
                                     "removed it");
    return 0;
}

/* ---- Walking a store ---- */

struct walk {
    struct cf_logverify *v;
    const struct cf_store *s;
    MDB_txn *txn;
    MDB_cursor *cp;
    bool cp_more; /* cp_key/cp_val hold the next checkpoint to check */
    MDB_val cp_key, cp_val;
};

/* The tree's check hook: each rebuilt node must equal the one stored at the
 * same (level, index) (store.h: level u8 || index u64 BE). */
static int stored_node(void *ctx, unsigned level, uint64_t index,
                       const uint8_t hash[CF_MERKLE_HASH])
{
    struct walk *w = ctx;
    uint8_t key[9];
    key[0] = (uint8_t)level;
    cf_store_put_u64(key + 1, index);
    MDB_val k = {sizeof key, key}, val;
    int rc = mdb_get(w->txn, w->s->tree, &k, &val);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return cf_logverify_fail(w->v, cf_store_error(rc), CF_LOGVERIFY_AT_INDEX, w->v->records,
                                 "cannot read the stored tree: %s", mdb_strerror(rc));
    if (rc == 0 && val.mv_size == CF_MERKLE_HASH && memcmp(val.mv_data, hash, CF_MERKLE_HASH) == 0)
        return 0;
    if (rc == 0 && level == 0)
        return cf_logverify_fail(w->v, CF_ECORRUPT, CF_LOGVERIFY_AT_INDEX, w->v->records,
                                 "the record's leaf hash differs from the stored tree's");
    return cf_logverify_fail(w->v, CF_ECORRUPT, CF_LOGVERIFY_AT_INDEX, w->v->records,
                             "the stored tree node (level %u, index %" PRIu64 ") %s", level, index,
                             rc == MDB_NOTFOUND ? "is missing"
                                                : "differs from the hash the records give");
}

static int next_checkpoint(struct walk *w, MDB_cursor_op op)
{
    int rc = mdb_cursor_get(w->cp, &w->cp_key, &w->cp_val, op);
    w->cp_more = rc == 0;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return cf_logverify_fail(w->v, cf_store_error(rc), CF_LOGVERIFY_AT_CHECKPOINT, w->v->newest,
                                 "cannot read the next checkpoint: %s", mdb_strerror(rc));
    return 0;
}

/* Checks every checkpoint whose size the rebuilt tree has just reached. The
 * cursor walks sizes in order, so each is checked the moment it can be. */
static int due_checkpoints(struct walk *w)
{
    while (w->cp_more) {
        if (w->cp_key.mv_size != 8)
            return cf_logverify_fail(
                w->v, CF_ECORRUPT, CF_LOGVERIFY_AT_CHECKPOINT, w->v->newest,
                "the next checkpoint's key is %zu bytes, not an 8-byte tree size",
                w->cp_key.mv_size);
        uint64_t size = cf_store_get_u64(w->cp_key.mv_data);
        if (size > w->v->records)
            return 0;
        int rc = cf_logverify_checkpoint(w->v, size, w->cp_val.mv_data, w->cp_val.mv_size);
        if (rc == 0)
            rc = next_checkpoint(w, MDB_NEXT);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* An accepted record is the proof of its envelope: the stored envelope must
 * carry exactly the header, digests, commitment and signature it names. */
static int check_envelope(struct walk *w, const struct cf_record *r, const MDB_val *val)
{
    struct cf_logverify *v = w->v;
    uint64_t i = r->index;
    const char *at = CF_LOGVERIFY_AT_INDEX;
    if (!r->header || !r->has_digests)
        return cf_logverify_fail(v, CF_ECORRUPT, at, i,
                                 "the accepted record lacks its header or digests");
    struct cf_envelope env;
    struct cf_header hdr;
    struct cf_error err = {0};
    memset(&env, 0, sizeof env);
    int rc = cf_envelope_decode(val->mv_data, val->mv_size, &env, &hdr, &err);
    if (rc != 0) {
        cf_envelope_fini(&env);
        return cf_logverify_fail(v, CF_ECORRUPT, at, i,
                                 "the stored envelope does not decode: %s (%s)", err.text,
                                 cf_error_name(rc));
    }
    struct cf_envelope_digests d;
    cf_envelope_digests(&env, &d);
    const char *what = NULL;
    if (env.header_len != r->header_len || memcmp(env.header, r->header, r->header_len) != 0)
        what = "header bytes";
    else if (memcmp(d.ciphertext, r->ciphertext_hash, CF_HASH_LEN) != 0)
        what = "ciphertext digest";
    else if (memcmp(d.keys, r->keys_hash, CF_HASH_LEN) != 0)
        what = "key list digest";
    else if (memcmp(env.commit, r->commit, CF_HASH_LEN) != 0)
        what = "key commitment";
    else if (memcmp(env.signature, r->signature, CF_SIG_LEN) != 0)
        what = "signature";
    else if (!cf_record_matches(r, &env))
        what = "NRM return digests";
    cf_envelope_fini(&env);
    if (what)
        return cf_logverify_fail(v, CF_ECORRUPT, at, i,
                                 "the stored envelope's %s differs from the record's", what);
    return 0;
}

/* What retention may remove beside a leaf, checked when it is still there. */
static int check_beside(struct walk *w, const struct cf_record *r, MDB_val *val, bool *present)
{
    *present = false;
    if (r->event != CF_EVENT_ACCEPTED && r->event != CF_EVENT_DETERMINATION)
        return 0;
    int rc = cf_store_envelope(w->s, w->txn, r->index, val);
    if (rc == CF_ENOTFOUND)
        return cf_logverify_redacted(w->v, r->index);
    if (rc != 0)
        return cf_logverify_fail(w->v, rc, CF_LOGVERIFY_AT_INDEX, r->index,
                                 "cannot read the envelope: %s", cf_strerror(rc));
    *present = true;
    if (r->event == CF_EVENT_ACCEPTED)
        return check_envelope(w, r, val);
    uint8_t hash[CF_HASH_LEN];
    cf_envelope_hash(val->mv_data, val->mv_size, hash);
    if (!r->has_determination || memcmp(hash, r->determination_hash, sizeof hash) != 0)
        return cf_logverify_fail(w->v, CF_ECORRUPT, CF_LOGVERIFY_AT_INDEX, r->index,
                                 "the stored determination does not hash to the record's "
                                 "determination_hash");
    return 0;
}

static int check_record(struct walk *w, const MDB_val *key, const MDB_val *val,
                        cf_logverify_leaf_fn fn, void *ctx)
{
    struct cf_logverify *v = w->v;
    uint64_t i = v->records;
    if (key->mv_size != 8)
        return cf_logverify_fail(v, CF_ECORRUPT, CF_LOGVERIFY_AT_INDEX, i,
                                 "a key of %zu bytes is not an 8-byte index", key->mv_size);
    uint64_t stored = cf_store_get_u64(key->mv_data);
    if (stored != i)
        return cf_logverify_fail(v, CF_ECORRUPT, CF_LOGVERIFY_AT_INDEX, i,
                                 "the record is missing (the next stored index is %" PRIu64 ")",
                                 stored);
    struct cf_record r;
    int rc = cf_logverify_leaf(v, val->mv_data, val->mv_size, &r);
    MDB_val env;
    bool present = false;
    if (rc == 0)
        rc = check_beside(w, &r, &env, &present);
    if (rc == 0 && fn)
        rc = fn(ctx, v, &r, val->mv_data, val->mv_size, present ? &env : NULL);
    cf_wire_record_fini(&r);
    return rc;
}

int cf_logverify_store(struct cf_logverify *v, const struct cf_store *s, MDB_txn *txn,
                       cf_logverify_leaf_fn fn, void *ctx)
{
    struct walk w = {.v = v, .s = s, .txn = txn};
    v->tree.check = stored_node;
    v->tree.check_ctx = &w;
    MDB_stat st;
    if (mdb_stat(txn, s->audit, &st) == 0)
        cf_memtree_reserve(&v->tree, st.ms_entries);
    MDB_cursor *records = NULL;
    int mrc = mdb_cursor_open(txn, s->checkpoint, &w.cp);
    int rc = 0;
    if (mrc != 0)
        rc = cf_logverify_fail(v, cf_store_error(mrc), CF_LOGVERIFY_AT_CHECKPOINT, 0,
                               "cannot read the checkpoints: %s", mdb_strerror(mrc));
    if (rc == 0 && (mrc = mdb_cursor_open(txn, s->audit, &records)) != 0)
        rc = cf_logverify_fail(v, cf_store_error(mrc), CF_LOGVERIFY_AT_INDEX, 0,
                               "cannot read the records: %s", mdb_strerror(mrc));
    if (rc == 0)
        rc = next_checkpoint(&w, MDB_FIRST);
    if (rc == 0)
        rc = due_checkpoints(&w);
    MDB_val key, val;
    for (MDB_cursor_op op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
        mrc = mdb_cursor_get(records, &key, &val, op);
        if (mrc == MDB_NOTFOUND)
            break;
        if (mrc != 0)
            rc = cf_logverify_fail(v, cf_store_error(mrc), CF_LOGVERIFY_AT_INDEX, v->records,
                                   "cannot read the record: %s", mdb_strerror(mrc));
        if (rc == 0)
            rc = check_record(&w, &key, &val, fn, ctx);
        if (rc == 0)
            rc = due_checkpoints(&w);
    }
    if (rc == 0 && w.cp_more)
        rc = cf_logverify_fail(v, CF_ECORRUPT, CF_LOGVERIFY_AT_CHECKPOINT,
                               w.cp_key.mv_size == 8 ? cf_store_get_u64(w.cp_key.mv_data) : 0,
                               "the log holds only %" PRIu64 " records", v->records);
    if (records)
        mdb_cursor_close(records);
    if (w.cp)
        mdb_cursor_close(w.cp);
    v->tree.check = NULL;
    v->tree.check_ctx = NULL;
    return rc == 0 ? cf_logverify_finish(v) : rc;
}
