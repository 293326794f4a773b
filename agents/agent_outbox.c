/* The sending side. A referral becomes "queued" only once its sealed envelope
 * is committed to the outbox, bound to its spool file in the same commit, so
 * a crash anywhere yields exactly one submission. The agent then resends the
 * identical bytes until the broker answers; the broker's dedup turns repeats
 * into the original receipt. Transient refusals (storage full) stay queued. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "agent_http.h"
#include "agent_link.h"
#include "agent_store.h"
#include "agent_text.h"
#include "childfirst/clock.h"
#include "childfirst/log.h"
#include "childfirst/record.h"
#include "childfirst/store.h"

uint64_t agent_now(void)
{
    return cf_clock_now(); /* the test clock in test builds: one for the whole network */
}

/* Test builds can resend what the broker has already accepted, so a receipt
 * arrives for a message no longer in the outbox, as when a resend crosses the
 * first answer (CF_TEST_FAULT=resend-answered). */
#ifdef CF_TEST_HOOKS
#define ANSWERED_MAX 8
static struct {
    uint8_t *envelope;
    size_t len;
} answered[ANSWERED_MAX];
static size_t n_answered;

static bool fault_active(const char *name)
{
    const char *f = getenv("CF_TEST_FAULT");
    return f && strcmp(f, name) == 0;
}
#endif

static void fault_keep_answered(const MDB_val *entry)
{
#ifdef CF_TEST_HOOKS
    struct cf_outbox_entry e;
    uint8_t *copy = NULL;
    if (fault_active("resend-answered") && n_answered < ANSWERED_MAX &&
        cf_wire_outbox_decode(entry->mv_data, entry->mv_size, &e, &copy, NULL) == 0) {
        answered[n_answered].envelope = malloc(e.envelope_len);
        if (answered[n_answered].envelope) {
            memcpy(answered[n_answered].envelope, e.envelope, e.envelope_len);
            answered[n_answered++].len = e.envelope_len;
        }
    }
    free(copy);
#else
    (void)entry;
#endif
}

static void submit(struct agent *a, const uint8_t *env, size_t len);

static void fault_resend_answered(struct agent *a)
{
#ifdef CF_TEST_HOOKS
    for (size_t i = 0; i < n_answered; i++) {
        cf_log_warn("TEST-FAULT", "point=resend-answered");
        submit(a, answered[i].envelope, answered[i].len);
    }
#else
    (void)a;
#endif
}

/* The header of a new referral: ids, enums and times only. */
static int referral_header(struct agent *a, const struct cf_referral *r, struct cf_header *h,
                           struct cf_error *err)
{
    memset(h, 0, sizeof *h);
    h->version = CF_PROTOCOL_VERSION;
    randombytes_buf(h->message_id, sizeof h->message_id);
    if (r->case_id[0])
        memcpy(h->case_id, r->case_id, sizeof h->case_id);
    else
        cf_header_case_id_new(h->case_id);
    h->type = CF_TYPE_REFERRAL;
    snprintf(h->sender, sizeof h->sender, "%s", a->cfg.id);
    h->created_at = agent_now();
    memcpy(h->la_code, r->la_code, sizeof h->la_code);
    h->urgency = r->urgency;
    h->immediate_risk = r->immediate_risk;
    const struct cf_jurisdiction *j;
    if (cf_policy_jurisdiction_of(a->dir->policy, r->la_code, &j) != 0)
        return cf_error_set(err, CF_EJURISDICTION,
                            "la_code: %s belongs to no jurisdiction in the signed policy",
                            r->la_code);
    snprintf(h->jurisdiction, sizeof h->jurisdiction, "%s", j->name);
    struct cf_route_ctx ctx = {
        .type = CF_TYPE_REFERRAL, .la_code = r->la_code, .sender = a->cfg.id};
    return cf_policy_recipients(a->dir->policy, a->dir, &ctx, h->recipients, &h->n_recipients, err);
}

int agent_outbox_seal(struct agent *a, const struct cf_header *h, const uint8_t *payload,
                      size_t plen, const uint8_t *nrm, size_t nrm_len, const char *nrm_reader,
                      uint8_t **env, size_t *len, struct cf_error *err)
{
    uint8_t pks[CF_MAX_RECIPIENTS][CF_BOX_PK];
    for (size_t i = 0; i < h->n_recipients; i++) {
        const struct cf_agency *to = cf_directory_find(a->dir, h->recipients[i]);
        if (!to)
            return cf_error_set(err, CF_EUNKNOWNAGENCY, "%s is not in the directory",
                                h->recipients[i]);
        memcpy(pks[i], to->box_pk, CF_BOX_PK);
    }
    struct cf_envelope_return ret = {nrm, nrm_len, nrm_reader, NULL};
    if (nrm) {
        const struct cf_agency *liaison = cf_directory_find(a->dir, nrm_reader);
        if (!liaison)
            return cf_error_set(err, CF_EUNKNOWNAGENCY, "%s is not in the directory", nrm_reader);
        ret.box_pk = liaison->box_pk;
    }
    return cf_envelope_seal_with_return(h, payload, plen, (const uint8_t(*)[CF_BOX_PK])pks,
                                        nrm ? &ret : NULL, a->keys, env, len, err);
}

static int seal_referral(struct agent *a, const struct cf_header *h, const struct cf_referral *r,
                         uint8_t **env, size_t *len, struct cf_error *err)
{
    uint8_t *payload;
    size_t plen;
    int rc = cf_wire_referral_encode(r, &payload, &plen);
    if (rc != 0)
        return cf_error_set(err, rc, "cannot encode the referral");
    rc = agent_outbox_seal(a, h, payload, plen, NULL, 0, NULL, env, len, err);
    sodium_memzero(payload, plen);
    free(payload);
    return rc;
}

static void submit(struct agent *a, const uint8_t *env, size_t len)
{
    struct cf_frame f = {.kind = CF_FRAME_SUBMIT, .envelope = env, .envelope_len = len};
    agent_link_send(a, &f);
}

int agent_outbox_queue(struct agent *a, const struct cf_header *h, const uint8_t *env, size_t len,
                       const char *spool_file, struct cf_error *err)
{
    uint8_t *entry = NULL;
    size_t entry_len;
    MDB_txn *txn = NULL;
    struct cf_outbox_entry e = {.envelope = env, .envelope_len = len, .queued_at = agent_now()};
    if (spool_file)
        snprintf(e.spool_file, sizeof e.spool_file, "%s", spool_file);
    int rc = cf_wire_outbox_encode(&e, &entry, &entry_len);
    if (rc != 0)
        return cf_error_set(err, rc, "cannot encode the outbox entry");
    if ((rc = cf_store_error(mdb_txn_begin(a->store.env, NULL, 0, &txn))) != 0 ||
        (rc = agent_store_put(txn, a->store.outbox, h->message_id, CF_MESSAGE_ID_LEN, entry,
                              entry_len)) != 0 ||
        (spool_file && (rc = agent_store_put(txn, a->store.spool, spool_file, strlen(spool_file),
                                             h->message_id, CF_MESSAGE_ID_LEN)) != 0)) {
        if (txn)
            mdb_txn_abort(txn);
        free(entry);
        return cf_error_set(err, rc, "cannot commit to the outbox: %s", cf_strerror(rc));
    }
    free(entry);
    if ((rc = cf_store_error(mdb_txn_commit(txn))) != 0)
        return cf_error_set(err, rc, "cannot commit to the outbox: %s", cf_strerror(rc));
    char id[2 * CF_MESSAGE_ID_LEN + 1];
    sodium_bin2hex(id, sizeof id, h->message_id, CF_MESSAGE_ID_LEN);
    cf_log_info("MESSAGE-QUEUED", "message=%s case=%s type=%s recipients=%zu spool=%s", id,
                h->case_id, cf_header_type_name(h->type), h->n_recipients,
                spool_file ? "yes" : "no");
    if (a->connected)
        submit(a, env, len);
    return 0;
}

int agent_refer(struct agent *a, const char *json, size_t len, const char *spool_file,
                uint8_t message_id[CF_MESSAGE_ID_LEN], char case_id[CF_CASE_ID_LEN + 1],
                struct cf_error *err)
{
    struct cf_referral r;
    struct cf_header h;
    char today[AGENT_TEXT_DATE_MAX];
    agent_text_today(today);
    int rc = cf_referral_from_json(json, len, today, &r, err);
    if (rc != 0)
        return rc;
    uint8_t *env = NULL;
    size_t env_len;
    if (!a->dir) {
        rc = cf_error_set(err, CF_EUNKNOWNAGENCY,
                          "no signed directory yet: the agent has not "
                          "reached the broker since it was installed");
        goto out;
    }
    if ((rc = referral_header(a, &r, &h, err)) != 0 ||
        (rc = seal_referral(a, &h, &r, &env, &env_len, err)) != 0 ||
        (rc = agent_outbox_queue(a, &h, env, env_len, spool_file, err)) != 0)
        goto out;
    memcpy(message_id, h.message_id, CF_MESSAGE_ID_LEN);
    memcpy(case_id, h.case_id, CF_CASE_ID_LEN + 1);
out:
    free(env);
    cf_referral_fini(&r);
    return rc;
}

/* Refusals that say "later", not "never": the message stays queued. */
static bool transient(const char *code)
{
    int rc = cf_error_from_name(code);
    return rc == CF_ENOSPACE || rc == CF_ENOMEM || rc == CF_ESTORE || rc == CF_EMAPFULL;
}

/* Whether a receipt's record is this outbox entry's envelope; its header
 * and leaf time into *h and *time. */
static int receipt_matches(const MDB_val *entry, const struct cf_frame *f, struct cf_header *h,
                           uint64_t *time, struct cf_error *err)
{
    struct cf_outbox_entry e;
    uint8_t *copy = NULL;
    struct cf_record rec;
    struct cf_envelope env;
    memset(&rec, 0, sizeof rec);
    memset(&env, 0, sizeof env);
    int rc = cf_wire_outbox_decode(entry->mv_data, entry->mv_size, &e, &copy, err);
    if (rc == 0)
        rc = cf_envelope_decode(e.envelope, e.envelope_len, &env, h, err);
    if (rc == 0)
        rc = cf_wire_record_decode(f->record, f->record_len, &rec, err);
    if (rc == 0 && (rec.index != f->leaf_index || !cf_record_matches(&rec, &env)))
        rc = cf_error_set(err, CF_ECORRUPT, "the receipt's record is not this message");
    *time = rec.time;
    cf_wire_record_fini(&rec);
    cf_envelope_fini(&env);
    free(copy);
    return rc;
}

/* An Accepted: its checkpoint must extend ours and hold its record, and the
 * record must be the envelope we sent. The checkpoint is kept for every
 * receipt, also one for a message already answered (a resend crossed the first
 * answer): the broker counts it as shown to this connection, so the next
 * receipt's consistency proof starts from it. */
static void on_accepted(struct agent *a, const uint8_t *frame, size_t len, const struct cf_frame *f,
                        const char *id)
{
    MDB_txn *txn;
    MDB_val v;
    struct cf_error err = {0};
    struct cf_checkpoint kept, cp;
    /* Kept in the batch, with the frames around it. */
    if (agent_batch_open(a) != 0 || agent_write_begin(a, &txn) != 0)
        return; /* kept in the outbox: resent, and answered again from dedup */
    int rc = agent_checkpoint_advance(a, txn, f->checkpoint, f->checkpoint_len, f->consistency_from,
                                      (const uint8_t(*)[CF_MERKLE_HASH])f->consistency,
                                      f->n_consistency, &kept, &err);
    if (rc == 0)
        rc = cf_record_prove(f->record, f->record_len, f->leaf_index,
                             (const uint8_t(*)[CF_MERKLE_HASH])f->proof, f->n_proof, f->checkpoint,
                             f->checkpoint_len, a->broker_sign_pk, &cp, &err);
    if (rc != 0) {
        mdb_txn_abort(txn);
        char detail[sizeof err.text + 64];
        snprintf(detail, sizeof detail, "receipt for message %s: %s", id, err.text);
        if (!agent_link_refused(a, rc, "RECEIPT-RESYNC", detail))
            cf_log_error("RECEIPT-REFUSED", "message=%s code=%s reason=\"%s\"", id,
                         cf_error_name(rc), err.text);
        return; /* kept in the outbox: resent, and answered again from dedup */
    }
    if (agent_store_get(txn, a->store.outbox, f->message_id, CF_MESSAGE_ID_LEN, &v) != 0) {
        rc = agent_checkpoint_commit(a, txn, &kept, f->checkpoint, f->checkpoint_len);
        if (rc != 0)
            cf_log_error("CHECKPOINT-KEEP-FAILED", "code=%s", cf_error_name(rc));
        else
            cf_log_info("RECEIPT-REPEATED", "message=%s leaf=%" PRIu64 " size=%" PRIu64, id,
                        f->leaf_index, kept.size);
        return;
    }
    struct cf_header h;
    uint64_t accepted_at = 0;
    if ((rc = receipt_matches(&v, f, &h, &accepted_at, &err)) != 0) {
        cf_log_error("RECEIPT-REFUSED", "message=%s code=%s reason=\"%s\"", id, cf_error_name(rc),
                     err.text);
        if (agent_checkpoint_commit(a, txn, &kept, f->checkpoint, f->checkpoint_len) != 0)
            cf_log_error("CHECKPOINT-KEEP-FAILED", "message=%s", id);
        return; /* kept in the outbox: resent, and answered again from dedup */
    }
    fault_keep_answered(&v);
    if ((rc = agent_store_put(txn, a->store.sent, f->message_id, CF_MESSAGE_ID_LEN, frame, len)) !=
            0 ||
        (rc = agent_store_del(txn, a->store.outbox, f->message_id, CF_MESSAGE_ID_LEN)) != 0 ||
        (rc = agent_cases_note(a, txn, &h, f->leaf_index, accepted_at)) != 0)
        mdb_txn_abort(txn);
    else
        rc = agent_checkpoint_commit(a, txn, &kept, f->checkpoint, f->checkpoint_len);
    char detail[128];
    snprintf(detail, sizeof detail, "message=%s leaf=%" PRIu64, id, f->leaf_index);
    if (rc == 0)
        rc = agent_batch_settled(a, f->message_id, "MESSAGE-ACCEPTED", detail);
    if (rc != 0)
        cf_log_error("OUTBOX-UPDATE-FAILED", "message=%s code=%s", id, cf_error_name(rc));
}

static void on_rejected(struct agent *a, const uint8_t *frame, size_t len, const struct cf_frame *f,
                        const char *id)
{
    MDB_txn *txn;
    MDB_val v;
    if (mdb_txn_begin(a->store.env, NULL, 0, &txn) != 0)
        return;
    int rc = agent_store_get(txn, a->store.outbox, f->message_id, CF_MESSAGE_ID_LEN, &v);
    if (rc != 0) { /* an answer to a resend already answered */
        mdb_txn_abort(txn);
        return;
    }
    if ((rc = agent_store_put(txn, a->store.rejected, f->message_id, CF_MESSAGE_ID_LEN, frame,
                              len)) != 0 ||
        (rc = agent_store_del(txn, a->store.outbox, f->message_id, CF_MESSAGE_ID_LEN)) != 0)
        mdb_txn_abort(txn);
    else
        rc = cf_store_error(mdb_txn_commit(txn));
    if (rc != 0) {
        cf_log_error("OUTBOX-UPDATE-FAILED", "message=%s code=%s", id, cf_error_name(rc));
        return;
    }
    cf_log_warn("MESSAGE-REJECTED", "message=%s code=%s reason=\"%s\"", id, f->code, f->reason);
    agent_spool_answered(a, &f->message_id, 1);
    agent_control_answered(a, f->message_id);
    agent_http_answered(a, f->message_id);
}

void agent_outbox_answer(struct agent *a, const uint8_t *frame, size_t len,
                         const struct cf_frame *f)
{
    char id[2 * CF_MESSAGE_ID_LEN + 1];
    sodium_bin2hex(id, sizeof id, f->message_id, CF_MESSAGE_ID_LEN);
    if (!f->has_message_id) {
        cf_log_warn("BROKER-REJECTED-FRAME", "code=%s reason=\"%s\"", f->code, f->reason);
        return;
    }
    if (f->kind == CF_FRAME_ACCEPTED)
        on_accepted(a, frame, len, f, id);
    else if (transient(f->code))
        cf_log_warn("MESSAGE-DEFERRED", "message=%s code=%s", id, f->code);
    else
        on_rejected(a, frame, len, f, id);
}

void agent_outbox_resend(struct agent *a)
{
    MDB_txn *txn;
    a->last_resend = agent_now();
    if (mdb_txn_begin(a->store.env, NULL, MDB_RDONLY, &txn) != 0)
        return;
    MDB_cursor *c;
    MDB_val k, v;
    size_t sent = 0;
    if (mdb_cursor_open(txn, a->store.outbox, &c) == 0) {
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            struct cf_outbox_entry e;
            uint8_t *copy;
            if (cf_wire_outbox_decode(v.mv_data, v.mv_size, &e, &copy, NULL) == 0) {
                submit(a, e.envelope, e.envelope_len);
                sent++;
            }
            free(copy);
        }
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    if (sent)
        cf_log_info("OUTBOX-RESENT", "messages=%zu", sent);
    fault_resend_answered(a);
}

/* The receipt JSON of DESIGN.md section 9, from a stored Accepted frame. */
/* A receipt that proves itself (README, "Receipts"): besides DESIGN.md
 * section 9's fields, the leaf's record (base64) and its inclusion proof
 * (hex), so `childfirst audit prove` can check it with the broker's key
 * alone. */
static json_t *receipt(const uint8_t *frame, size_t len)
{
    struct cf_frame f;
    struct cf_record rec;
    struct cf_header h;
    json_t *doc = NULL;
    memset(&rec, 0, sizeof rec);
    if (cf_wire_frame_decode(frame, len, &f, NULL) == 0 &&
        cf_wire_record_decode(f.record, f.record_len, &rec, NULL) == 0 &&
        cf_wire_header_decode(rec.header, rec.header_len, &h, NULL) == 0) {
        size_t b64_len = sodium_base64_encoded_len(f.record_len, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = malloc(b64_len);
        json_t *proof = json_array();
        for (size_t i = 0; proof && i < f.n_proof; i++)
            json_array_append_new(proof, agent_text_hex(f.proof[i], CF_MERKLE_HASH));
        if (b64) {
            sodium_bin2base64(b64, b64_len, f.record, f.record_len, sodium_base64_VARIANT_ORIGINAL);
            doc = json_pack("{s:o, s:s, s:I, s:s#, s:s, s:s, s:o}", "message_id",
                            agent_text_hex(f.message_id, CF_MESSAGE_ID_LEN), "case_id", h.case_id,
                            "leaf_index", (json_int_t)f.leaf_index, "checkpoint", f.checkpoint,
                            (int)f.checkpoint_len, "status", "accepted", "record", b64,
                            "inclusion_proof", proof);
        } else {
            json_decref(proof);
        }
        free(b64);
    }
    cf_wire_record_fini(&rec);
    cf_wire_frame_fini(&f);
    return doc;
}

enum agent_outcome agent_outcome(struct agent *a, const uint8_t message_id[CF_MESSAGE_ID_LEN],
                                 json_t **detail)
{
    MDB_txn *txn;
    MDB_val v;
    *detail = NULL;
    enum agent_outcome out = AGENT_UNKNOWN;
    if (mdb_txn_begin(a->store.env, NULL, MDB_RDONLY, &txn) != 0)
        return out;
    if (agent_store_get(txn, a->store.sent, message_id, CF_MESSAGE_ID_LEN, &v) == 0) {
        out = AGENT_ACCEPTED;
        *detail = receipt(v.mv_data, v.mv_size);
    } else if (agent_store_get(txn, a->store.rejected, message_id, CF_MESSAGE_ID_LEN, &v) == 0) {
        struct cf_frame f;
        out = AGENT_REJECTED;
        if (cf_wire_frame_decode(v.mv_data, v.mv_size, &f, NULL) == 0)
            *detail = json_pack("{s:o, s:s, s:s, s:s}", "message_id",
                                agent_text_hex(message_id, CF_MESSAGE_ID_LEN), "status", "rejected",
                                "code", f.code, "reason", f.reason);
        cf_wire_frame_fini(&f);
    } else if (agent_store_get(txn, a->store.outbox, message_id, CF_MESSAGE_ID_LEN, &v) == 0) {
        out = AGENT_QUEUED;
        *detail = json_pack("{s:o, s:s}", "message_id",
                            agent_text_hex(message_id, CF_MESSAGE_ID_LEN), "status", "queued");
    }
    mdb_txn_abort(txn);
    return out;
}

json_t *agent_status(struct agent *a)
{
    size_t depth = 0;
    MDB_txn *txn;
    if (mdb_txn_begin(a->store.env, NULL, MDB_RDONLY, &txn) == 0) {
        depth = agent_store_count(txn, a->store.outbox);
        mdb_txn_abort(txn);
    }
    const struct cf_status *s = &a->broker_status;
    char root[64];
    sodium_bin2base64(root, sizeof root, a->checkpoint.root, 32, sodium_base64_VARIANT_ORIGINAL);
    return json_pack("{s:s, s:b, s:I, s:s, s:I, s:f, s:I, s:{s:s, s:I, s:s}, s:I}", "agency",
                     a->cfg.id, "connected", a->connected, "connected_since",
                     (json_int_t)(a->connected ? a->connected_since : 0), "broker", a->cfg.broker,
                     "outbox_depth", (json_int_t)depth, "frames_per_commit",
                     s->commits ? (double)s->frames / (double)s->commits : 0.0, "broker_tree_size",
                     (json_int_t)s->tree_size, "checkpoint", "origin", a->checkpoint.origin, "size",
                     (json_int_t)a->checkpoint.size, "root", root, "directory_serial",
                     (json_int_t)(a->dir ? a->dir->serial : 0));
}

/* ---- Delivery reports ---- */

/* The report's record must be the recipient's own signed answer to the
 * message this agency sent: same message, same recipient, its signature. */
static int check_report(struct agent *a, const struct cf_frame *f, struct cf_record *rec,
                        struct cf_error *err)
{
    int rc = f->record ? cf_wire_record_decode(f->record, f->record_len, rec, err)
                       : cf_error_set(err, CF_EDECODE, "the report carries no record");
    if (rc != 0)
        return rc;
    if ((rec->event != CF_EVENT_DELIVERED && rec->event != CF_EVENT_NACKED) ||
        rec->index != f->report_leaf || !rec->has_about || rec->about != f->leaf_index ||
        strcmp(rec->actor, f->recipient) != 0 ||
        sodium_memcmp(rec->ack_message_id, f->message_id, CF_MESSAGE_ID_LEN) != 0)
        return cf_error_set(err, CF_ECORRUPT, "the report's record is not this answer");
    const struct cf_agency *to = a->dir ? cf_directory_find(a->dir, rec->actor) : NULL;
    if (!to)
        return cf_error_set(err, CF_EUNKNOWNAGENCY, "%s is not in the directory", rec->actor);
    const char *code = rec->event == CF_EVENT_DELIVERED ? CF_ACK_OK : rec->code;
    if (cf_envelope_ack_verify(rec->ack_message_id, rec->envelope_hash, code, rec->ack_signature,
                               to->sign_pk) != 0)
        return cf_error_set(err, CF_ESIG, "the answer is not signed by %s", rec->actor);
    return 0;
}

void agent_outbox_report(struct agent *a, const struct cf_frame *f)
{
    char id[2 * CF_MESSAGE_ID_LEN + 1];
    sodium_bin2hex(id, sizeof id, f->message_id, CF_MESSAGE_ID_LEN);
    struct cf_record rec;
    struct cf_error err = {0};
    memset(&rec, 0, sizeof rec);
    int rc = check_report(a, f, &rec, &err);
    if (rc == 0) {
        uint8_t key[CF_MESSAGE_ID_LEN + CF_ID_MAX + 1];
        size_t klen = CF_MESSAGE_ID_LEN + strlen(rec.actor);
        memcpy(key, f->message_id, CF_MESSAGE_ID_LEN);
        memcpy(key + CF_MESSAGE_ID_LEN, rec.actor, strlen(rec.actor));
        json_t *doc = json_pack("{s:s, s:s, s:s, s:o, s:I}", "recipient", rec.actor, "outcome",
                                f->outcome, "code", rec.code, "at", agent_text_time_json(rec.time),
                                "report_leaf", (json_int_t)f->report_leaf);
        char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(doc);
        /* Kept in the batch, with the Deliver frames around it: acknowledged
         * once that commits. */
        MDB_txn *txn = NULL;
        rc = !text ? CF_ENOMEM : agent_batch_open(a);
        if (rc == 0)
            rc = agent_write_begin(a, &txn);
        if (rc == 0 &&
            (rc = agent_store_put(txn, a->store.reports, key, klen, text, strlen(text))) == 0)
            rc = cf_store_error(mdb_txn_commit(txn));
        else if (txn)
            mdb_txn_abort(txn);
        free(text);
        char detail[256];
        uint8_t hash[CF_HASH_LEN];
        snprintf(detail, sizeof detail, "message=%s recipient=%s outcome=%s code=%s", id, rec.actor,
                 f->outcome, rec.code[0] ? rec.code : "-");
        cf_envelope_hash(f->record, f->record_len, hash);
        if (rc == 0)
            rc = agent_batch_answer(a, f->report_leaf, f->message_id, hash, CF_ACK_OK, NULL, false,
                                    "DELIVERY-REPORT", detail);
        if (rc != 0)
            cf_log_error("REPORT-KEEP-FAILED", "message=%s code=%s", id, cf_error_name(rc));
        cf_wire_record_fini(&rec);
        return; /* not acknowledged when it failed: it comes again */
    }
    /* Acknowledged all the same: the broker would offer it for ever, and the
     * leaf, not this copy, is the evidence. */
    cf_log_error("REPORT-UNVERIFIED", "message=%s code=%s reason=\"%s\"", id, cf_error_name(rc),
                 err.text);
    cf_wire_record_fini(&rec);
    struct cf_frame ack = {
        .kind = CF_FRAME_ACK, .leaf_index = f->report_leaf, .has_message_id = true};
    memcpy(ack.message_id, f->message_id, CF_MESSAGE_ID_LEN);
    uint8_t hash[CF_HASH_LEN];
    cf_envelope_hash(f->record, f->record_len, hash);
    if (cf_envelope_ack_sign(f->message_id, hash, CF_ACK_OK, a->keys, ack.signature) == 0)
        agent_link_send(a, &ack);
}
