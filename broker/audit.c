/* Leaves, checkpoints and proofs on the broker's side. Everything here runs
 * inside a transaction the caller owns, so a batch's leaves, nodes and its
 * checkpoint become durable together in one commit, or not at all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "childfirst/checkpoint.h"
#include "childfirst/clock.h"
#include "childfirst/log.h"
#include "childfirst/notice.h"
#include "childfirst/policy.h"
#include "childfirst/wire.h"
#include "audit.h"

/* How many of the newest leaves are re-hashed at start. LMDB has no page
 * checksums; the newest pages are the ones a crash or a bad disk hits. */
#define START_CHECK_LEAVES 64

int cf_audit_append(struct broker *b, MDB_txn *txn, uint64_t *size, struct cf_record *rec)
{
    rec->index = *size;
    uint8_t *bytes;
    size_t len;
    int rc = cf_wire_record_encode(rec, &bytes, &len);
    if (rc != 0)
        return rc;
    rc = cf_store_append(&b->store, txn, *size, bytes, len);
    free(bytes);
    if (rc == 0)
        (*size)++;
    return rc;
}

int cf_audit_checkpoint(struct broker *b, MDB_txn *txn, uint64_t size, char **note, size_t *len)
{
    struct cf_merkle_store ms;
    struct cf_store_tree t;
    uint8_t root[CF_MERKLE_HASH];
    cf_store_tree_init(&ms, &t, &b->store, txn);
    int rc = cf_merkle_root(&ms, size, root);
    if (rc == 0)
        rc = cf_checkpoint_sign(b->cfg.origin, size, root, b->keys, note, len);
    if (rc != 0)
        return rc;
    rc = cf_store_put_last(&b->store, txn, b->store.checkpoint, size, *note, *len);
    if (rc != 0) {
        free(*note);
        *note = NULL;
    }
    return rc;
}

/* The root the newest checkpoint signs. Its signature is checked once per
 * checkpoint, not once per delivery: the note is kept beside the root. */
static bool served_root(struct broker *b, uint8_t root[CF_MERKLE_HASH])
{
    if (!b->served_note || b->served_note_len != b->checkpoint_len ||
        memcmp(b->served_note, b->checkpoint, b->checkpoint_len) != 0) {
        struct cf_checkpoint cp;
        struct cf_error err = {0};
        if (cf_checkpoint_open(b->checkpoint, b->checkpoint_len, b->keys->sign_pk, &cp, &err) != 0)
            return false;
        char *copy = malloc(b->checkpoint_len);
        if (!copy)
            return false;
        memcpy(copy, b->checkpoint, b->checkpoint_len);
        free(b->served_note);
        b->served_note = copy;
        b->served_note_len = b->checkpoint_len;
        memcpy(b->served_root, cp.root, CF_MERKLE_HASH);
    }
    memcpy(root, b->served_root, CF_MERKLE_HASH);
    return true;
}

bool cf_audit_serves_intact(struct broker *b, const struct cf_record *rec, uint64_t index,
                            const uint8_t *record, size_t record_len, const struct cf_frame *f)
{
    uint8_t root[CF_MERKLE_HASH], leaf[CF_MERKLE_HASH], hash[CF_HASH_LEN];
    cf_record_leaf_hash(record, record_len, leaf);
    if (!served_root(b, root) ||
        cf_merkle_verify_inclusion(index, b->size, leaf, (const uint8_t(*)[CF_MERKLE_HASH])f->proof,
                                   f->n_proof, root) != 0)
        return false;
    if (f->determination) {
        cf_envelope_hash(f->determination, f->determination_len, hash);
        if (!rec->has_determination || memcmp(hash, rec->determination_hash, sizeof hash) != 0)
            return false;
    } else if (f->envelope && rec->event == CF_EVENT_ACCEPTED) {
        struct cf_envelope env;
        struct cf_header h;
        memset(&env, 0, sizeof env);
        bool same = cf_envelope_decode(f->envelope, f->envelope_len, &env, &h, NULL) == 0 &&
                    cf_record_matches(rec, &env);
        cf_envelope_fini(&env);
        return same;
    }
    return true;
}

int cf_audit_inclusion(struct broker *b, MDB_txn *txn, uint64_t index, uint64_t size,
                       struct cf_frame *f)
{
    struct cf_merkle_store ms;
    struct cf_store_tree t;
    cf_store_tree_init(&ms, &t, &b->store, txn);
    return cf_merkle_inclusion_proof(&ms, index, size, f->proof, &f->n_proof);
}

int cf_audit_consistency(struct broker *b, MDB_txn *txn, uint64_t from, uint64_t size,
                         struct cf_frame *f)
{
    f->n_proof = 0;
    if (from == 0 || from >= size)
        return 0;
    struct cf_merkle_store ms;
    struct cf_store_tree t;
    cf_store_tree_init(&ms, &t, &b->store, txn);
    return cf_merkle_consistency_proof(&ms, from, size, f->proof, &f->n_proof);
}

int cf_audit_records(struct broker *b, MDB_txn *txn, uint64_t from, uint64_t held,
                     struct cf_frame *f)
{
    f->kind = CF_FRAME_AUDIT_RECORDS;
    f->from_index = from;
    f->tree_size = b->size;
    f->n_records = 0;
    if (from > b->size)
        return CF_ERANGE;
    /* Caught up, the follower still gets the newest checkpoint: a log forked
     * at the same size shows there as another root. */
    uint64_t end = b->size - from > CF_MAX_AUDIT_RECORDS ? from + CF_MAX_AUDIT_RECORDS : b->size;
    uint64_t at;
    MDB_val note;
    int rc = cf_store_checkpoint_at_most(&b->store, txn, end, &at, &note);
    if (rc != 0 && rc != CF_ENOTFOUND)
        return rc;
    if (rc == 0 && (at > from || (at == from && from == b->size && from > 0))) {
        /* End the batch at the checkpoint, so the follower can check its root. */
        end = at;
        f->checkpoint = note.mv_data;
        f->checkpoint_len = note.mv_size;
        struct cf_frame proof = {.kind = CF_FRAME_NONE};
        if (held > 0 && held <= at && (rc = cf_audit_consistency(b, txn, held, at, &proof)) != 0)
            return rc;
        f->consistency_from = held;
        f->n_consistency = proof.n_proof;
        memcpy(f->consistency, proof.proof, proof.n_proof * CF_MERKLE_HASH);
    }
    size_t bytes = 0;
    for (uint64_t i = from; i < end; i++) {
        MDB_val v, e = {0, NULL};
        if ((rc = cf_store_record(&b->store, txn, i, &v)) != 0)
            return rc;
        if ((rc = cf_store_envelope(&b->store, txn, i, &e)) != 0 && rc != CF_ENOTFOUND)
            return rc;
        if (f->n_records > 0 && bytes + v.mv_size + e.mv_size > CF_MAX_AUDIT_BYTES) {
            /* Full: the rest comes in the next answer, the checkpoint with its end. */
            f->checkpoint = NULL;
            f->checkpoint_len = 0;
            f->n_consistency = 0;
            f->consistency_from = 0;
            break;
        }
        bytes += v.mv_size + e.mv_size;
        f->records[f->n_records] = v.mv_data;
        f->record_lens[f->n_records] = v.mv_size;
        f->envelopes[f->n_records] = e.mv_data;
        f->envelope_lens[f->n_records++] = e.mv_size;
    }
    return 0;
}

/* The newest checkpoint must be ours, for exactly the stored tree, with the
 * root the stored nodes give; the newest leaves must hash to their nodes. */
/* Whether a leaf names `agency` as its actor, a sender or recipient of its
 * header, or a recipient of its notice; reports and determinations follow
 * the leaf they are about, `depth` levels at most. */
static bool concerns(struct broker *b, MDB_txn *txn, const char *agency, uint64_t index, int depth)
{
    MDB_val v;
    struct cf_record r;
    if (cf_store_record(&b->store, txn, index, &v) != 0 ||
        cf_wire_record_decode(v.mv_data, v.mv_size, &r, NULL) != 0) {
        cf_wire_record_fini(&r);
        return false;
    }
    bool yes =
        r.event == CF_EVENT_CONFIG || r.event == CF_EVENT_ORIGIN || strcmp(r.actor, agency) == 0;
    if (!yes && r.header) {
        struct cf_header *h = malloc(sizeof *h);
        if (h && cf_wire_header_decode(r.header, r.header_len, h, NULL) == 0) {
            yes = strcmp(h->sender, agency) == 0;
            for (size_t i = 0; !yes && i < h->n_recipients; i++)
                yes = strcmp(h->recipients[i], agency) == 0;
        }
        free(h);
    }
    if (!yes && r.notice) {
        struct cf_notice *n = malloc(sizeof *n);
        if (n && cf_wire_notice_decode(r.notice, r.notice_len, n, NULL) == 0)
            for (size_t i = 0; !yes && i < n->n_recipients; i++)
                yes = strcmp(n->recipients[i], agency) == 0;
        free(n);
    }
    uint64_t about = r.has_about ? r.about : r.has_determination ? r.determination_of : UINT64_MAX;
    cf_wire_record_fini(&r);
    return yes || (depth > 0 && about < index && concerns(b, txn, agency, about, depth - 1));
}

bool cf_audit_may_see(struct broker *b, MDB_txn *txn, const char *agency, uint64_t index)
{
    const struct cf_agency *a = cf_directory_find(b->dir, agency);
    if (!a)
        return false;
    return cf_policy_may_audit(b->dir->policy, a->roles) || concerns(b, txn, agency, index, 1);
}

static int check_tail(struct broker *b, MDB_txn *txn, const char *origin, struct cf_error *err)
{
    const char *dir = b->cfg.state_dir;
    uint64_t size, cp_size;
    MDB_val note;
    int rc = cf_store_size(&b->store, txn, &size);
    if (rc != 0)
        return cf_error_set(err, rc, "%s: cannot read the log's size", dir);
    rc = cf_store_checkpoint_latest(&b->store, txn, &cp_size, &note);
    if (rc == CF_ENOTFOUND && size == 0)
        return 0;
    if (rc != 0)
        return cf_error_set(err, CF_ECORRUPT, "%s: %llu leaves but no readable checkpoint", dir,
                            (unsigned long long)size);
    struct cf_checkpoint cp;
    struct cf_error why = {0};
    if (cf_checkpoint_open(note.mv_data, note.mv_size, b->keys->sign_pk, &cp, &why) != 0)
        return cf_error_set(err, CF_ECORRUPT,
                            "%s: the newest checkpoint (size %llu) fails: %s; is this the "
                            "broker key that signed it?",
                            dir, (unsigned long long)cp_size, why.text);
    if (cp.size != cp_size || cp.size != size || strcmp(cp.origin, origin) != 0)
        return cf_error_set(err, CF_ECORRUPT,
                            "%s: the newest checkpoint covers %llu leaves of origin %s, but the "
                            "log holds %llu leaves and the origin is %s",
                            dir, (unsigned long long)cp.size, cp.origin, (unsigned long long)size,
                            origin);
    struct cf_merkle_store ms;
    struct cf_store_tree t;
    uint8_t root[CF_MERKLE_HASH], node[CF_MERKLE_HASH], leaf[CF_MERKLE_HASH];
    cf_store_tree_init(&ms, &t, &b->store, txn);
    rc = cf_merkle_root(&ms, size, root);
    if (rc != 0 || memcmp(root, cp.root, sizeof root) != 0)
        return cf_error_set(err, CF_ECORRUPT,
                            "%s: the stored tree's root does not match the newest checkpoint", dir);
    for (uint64_t i = size > START_CHECK_LEAVES ? size - START_CHECK_LEAVES : 0; i < size; i++) {
        MDB_val rec;
        if (cf_store_record(&b->store, txn, i, &rec) != 0 || ms.get(ms.ctx, 0, i, node) != 0)
            return cf_error_set(err, CF_ECORRUPT, "%s: leaf %llu is missing", dir,
                                (unsigned long long)i);
        cf_record_leaf_hash(rec.mv_data, rec.mv_size, leaf);
        if (memcmp(leaf, node, sizeof leaf) != 0)
            return cf_error_set(err, CF_ECORRUPT,
                                "%s: record %llu does not hash to its leaf; the store is damaged",
                                dir, (unsigned long long)i);
    }
    b->size = size;
    b->checkpoint = malloc(note.mv_size + 1);
    if (!b->checkpoint)
        return cf_error_set(err, CF_ENOMEM, "out of memory");
    memcpy(b->checkpoint, note.mv_data, note.mv_size);
    b->checkpoint[note.mv_size] = 0;
    b->checkpoint_len = note.mv_size;
    return 0;
}

/* The store remembers which broker key and origin it belongs to, so a broker
 * started with the wrong key or origin refuses instead of forking the log. */
/* Checks the log belongs to this broker. A restored log (--restored) may
 * carry another origin: *relink is set, and the caller starts the new one. */
static int check_meta(struct broker *b, MDB_txn *txn, bool *relink, struct cf_error *err)
{
    char value[256], key64[CF_B64_KEY_LEN + 1];
    cf_keys_b64_encode(b->keys->sign_pk, key64);
    static const char *const names[] = {"schema", "origin", "broker_key"};
    const char *want[] = {CF_STORE_SCHEMA, b->cfg.origin, key64};
    *relink = false;
    for (int i = 0; i < 3; i++) {
        int rc = cf_store_meta(&b->store, txn, names[i], value, sizeof value);
        if (rc == 0 && i == 1 && b->restored) {
            if (strcmp(value, want[i]) == 0)
                return cf_error_set(err, CF_ECONFIG,
                                    "%s: --restored needs a new origin: the log's is already "
                                    "'%s'; set origin in broker.ini to a name this log never had",
                                    b->cfg.state_dir, value);
            *relink = true;
            continue;
        }
        if (rc == 0 && i == 1 && strcmp(value, want[i]) != 0)
            return cf_error_set(err, CF_ECONFIG,
                                "%s: the log's origin is '%s' but this broker's is '%s'. If this "
                                "log was restored from a backup, start it with --restored: it "
                                "goes on under the new origin, linked to the old one's last "
                                "checkpoint (README, Operations: restore)",
                                b->cfg.state_dir, value, want[i]);
        if (rc == CF_ENOTFOUND)
            rc = cf_store_meta_put(&b->store, txn, names[i], want[i]);
        else if (rc == 0 && strcmp(value, want[i]) != 0)
            return cf_error_set(err, CF_ECONFIG,
                                "%s: the log's %s is '%s' but this broker's is '%s'; refusing to "
                                "write a log that belongs to another configuration",
                                b->cfg.state_dir, names[i], value, want[i]);
        if (rc != 0)
            return cf_error_set(err, rc, "%s: cannot read or write meta %s", b->cfg.state_dir,
                                names[i]);
    }
    return 0;
}

/* A config leaf for the directory in force, if it is not the last one logged.
 * A directory older than the last one logged is refused: the log never goes back. */
static int log_directory(struct broker *b, MDB_txn *txn, bool *appended, struct cf_error *err)
{
    char digest[2 * CF_HASH_LEN + 1], logged[2 * CF_HASH_LEN + 1], serial[24];
    sodium_bin2hex(digest, sizeof digest, b->dir->digest, CF_HASH_LEN);
    int rc = cf_store_meta(&b->store, txn, "directory_serial", serial, sizeof serial);
    if (rc == 0 && strtoull(serial, NULL, 10) > b->dir->serial)
        return cf_error_set(err, CF_ESERIAL,
                            "%s.sig: serial %llu is lower than %s, the last directory in this "
                            "log; sign the new directory with a higher serial",
                            b->cfg.directory, (unsigned long long)b->dir->serial, serial);
    rc = cf_store_meta(&b->store, txn, "directory", logged, sizeof logged);
    if (rc == 0 && strcmp(logged, digest) == 0)
        return 0;
    if (rc != 0 && rc != CF_ENOTFOUND)
        return cf_error_set(err, rc, "cannot read meta directory");
    struct cf_record rec = {.time = cf_clock_now(), .event = CF_EVENT_CONFIG};
    const struct cf_bundle *bundle = &b->dir->bundle;
    rec.agencies = bundle->agencies, rec.agencies_len = bundle->agencies_len;
    rec.policy = bundle->policy, rec.policy_len = bundle->policy_len;
    rec.sig = bundle->sig, rec.sig_len = bundle->sig_len;
    uint64_t size = b->size;
    snprintf(serial, sizeof serial, "%llu", (unsigned long long)b->dir->serial);
    if ((rc = cf_audit_append(b, txn, &size, &rec)) != 0 ||
        (rc = cf_store_meta_put(&b->store, txn, "directory", digest)) != 0 ||
        (rc = cf_store_meta_put(&b->store, txn, "directory_serial", serial)) != 0)
        return cf_error_set(err, rc, "cannot log the directory: %s", cf_strerror(rc));
    char *note;
    size_t len;
    if ((rc = cf_audit_checkpoint(b, txn, size, &note, &len)) != 0)
        return cf_error_set(err, rc, "cannot sign a checkpoint: %s", cf_strerror(rc));
    free(b->checkpoint);
    b->checkpoint = note;
    b->checkpoint_len = len;
    b->size = size;
    *appended = true;
    cf_log_info("DIRECTORY-LOGGED", "serial=%llu leaf=%llu", (unsigned long long)b->dir->serial,
                (unsigned long long)(size - 1));
    return 0;
}

/* The first leaf of a restored log's new origin: it cites the old origin's
 * last checkpoint, so agents and followers that saw the old log can take the
 * new one only through this link, and none is ever shown a smaller tree
 * under the origin it already knows. */
static int link_new_origin(struct broker *b, MDB_txn *txn, struct cf_error *err)
{
    char old[256];
    uint64_t at;
    MDB_val note;
    int rc = cf_store_meta(&b->store, txn, "origin", old, sizeof old);
    if (rc == 0 && (rc = cf_store_checkpoint_latest(&b->store, txn, &at, &note)) != 0)
        return cf_error_set(err, rc, "%s: a restored log needs its old checkpoints",
                            b->cfg.state_dir);
    if (rc != 0)
        return cf_error_set(err, rc, "cannot read meta origin");
    struct cf_record rec = {.time = cf_clock_now(),
                            .event = CF_EVENT_ORIGIN,
                            .previous_checkpoint = note.mv_data,
                            .previous_checkpoint_len = note.mv_size};
    uint64_t size = b->size, leaf = b->size;
    char index[24];
    snprintf(index, sizeof index, "%llu", (unsigned long long)leaf);
    char *signed_note;
    size_t len;
    if ((rc = cf_audit_append(b, txn, &size, &rec)) != 0 ||
        (rc = cf_store_meta_put(&b->store, txn, "origin", b->cfg.origin)) != 0 ||
        (rc = cf_store_meta_put(&b->store, txn, "origin_leaf", index)) != 0 ||
        (rc = cf_audit_checkpoint(b, txn, size, &signed_note, &len)) != 0)
        return cf_error_set(err, rc, "cannot start the new origin: %s", cf_strerror(rc));
    free(b->checkpoint);
    b->checkpoint = signed_note;
    b->checkpoint_len = len;
    b->size = size;
    b->origin_leaf = leaf;
    cf_log_warn("ORIGIN-RESTARTED", "old=%s new=%s leaf=%llu linked_size=%llu", old, b->cfg.origin,
                (unsigned long long)leaf, (unsigned long long)at);
    return 0;
}

int cf_audit_start(struct broker *b, struct cf_error *err)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(b->store.env, NULL, 0, &txn);
    if (rc != 0)
        return cf_error_set(err, cf_store_error(rc), "cannot begin a transaction: %s",
                            mdb_strerror(rc));
    bool appended = false, relink = false;
    char leaf[24];
    b->origin_leaf = UINT64_MAX;
    rc = check_meta(b, txn, &relink, err);
    /* A log about to be relinked still ends in a checkpoint of its old origin. */
    char origin[256];
    if (rc == 0 && (!relink || cf_store_meta(&b->store, txn, "origin", origin, sizeof origin) != 0))
        snprintf(origin, sizeof origin, "%s", b->cfg.origin);
    if (rc == 0)
        rc = check_tail(b, txn, origin, err);
    if (rc == 0 && relink)
        rc = link_new_origin(b, txn, err);
    if (rc == 0 && cf_store_meta(&b->store, txn, "origin_leaf", leaf, sizeof leaf) == 0)
        b->origin_leaf = strtoull(leaf, NULL, 10);
    if (rc == 0)
        rc = log_directory(b, txn, &appended, err);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0)
        return cf_error_set(err, cf_store_error(rc), "cannot commit: %s", mdb_strerror(rc));
    return 0;
}
