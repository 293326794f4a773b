/* The receiving side. A Deliver is checked end to end before anything is
 * kept: the checkpoint extends the kept one, the record is in it, the record
 * is this envelope, and the sender signed it (or, for a notice, the broker).
 * Then, in this order: one LMDB commit (inbox, index, hook queue, checkpoint),
 * the spool file (temp, sync, rename, sync), and only then the signed
 * DeliveryAck. The frames of one drain of the socket share that commit and
 * those syncs (agent_batch_flush), so a burst costs what one message does.
 * A crash anywhere leaves the message unacknowledged, so the broker offers it
 * again, and a repeat (the same message at the same leaf) is acknowledged
 * without being kept twice; another message at a kept leaf is a split view. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "agent_http.h"
#include "agent_link.h"
#include "agent_notice.h"
#include "agent_store.h"
#include "agent_text.h"
#include "childfirst/file.h"
#include "childfirst/log.h"
#include "childfirst/message.h"
#include "childfirst/record.h"
#include "childfirst/store.h"

/* Test builds can stop the agent at a named point, to prove what a crash there
 * leaves: between keeping a message and acknowledging it (the broker offers it
 * again: CF_TEST_FAULT=after-inbox-commit), or between committing a local
 * notice and writing its spool file (after-notice-commit). */
void agent_fault_point(const char *name)
{
#ifdef CF_TEST_HOOKS
    const char *f = getenv("CF_TEST_FAULT");
    if (f && strcmp(f, name) == 0) {
        cf_log_warn("TEST-FAULT", "point=%s", name);
        _exit(99);
    }
#else
    (void)name;
#endif
}

/* What a delivery holds, once checked. A determination comes with the
 * proposal's audit record and header, and, for a final reader, the
 * proposal's envelope (in env and hdr). */
struct delivery {
    struct cf_record rec;
    bool is_notice;
    struct cf_notice notice;
    bool is_determination;
    struct cf_determination det;
    struct cf_record proposal;
    struct cf_header phdr;
    bool has_env;
    struct cf_envelope env;
    struct cf_header hdr;
    uint8_t message_id[CF_MESSAGE_ID_LEN];
    uint8_t hash[CF_HASH_LEN]; /* of the envelope, notice or determination: what the ack signs */
};

static void delivery_fini(struct delivery *d)
{
    cf_wire_record_fini(&d->rec);
    cf_wire_record_fini(&d->proposal);
    cf_wire_determination_fini(&d->det);
    cf_envelope_fini(&d->env);
}

/* A sealed determination: on arrival every signature in it is checked (the
 * broker's countersignature, the proposer's, each voter's) against the
 * directory then in force; a kept one is only decoded again. */
static int check_determination(struct agent *a, const struct cf_frame *f, struct delivery *d,
                               bool verify, struct cf_error *err)
{
    d->is_determination = true;
    uint8_t hash[CF_HASH_LEN];
    cf_envelope_hash(f->determination, f->determination_len, hash);
    if (d->rec.event != CF_EVENT_DETERMINATION || !d->rec.has_determination ||
        sodium_memcmp(d->rec.determination_hash, hash, CF_HASH_LEN) != 0 ||
        sodium_memcmp(d->rec.determination_signature, f->determination_signature, CF_SIG_LEN) != 0)
        return cf_error_set(err, CF_ECORRUPT, "the logged record is not this determination");
    int rc = cf_wire_determination_decode(f->determination, f->determination_len, &d->det, err);
    if (rc != 0)
        return rc;
    if (verify) {
        if (!a->dir)
            return cf_error_set(err, CF_EUNKNOWNAGENCY, "no directory to check the votes with");
        rc = cf_determination_verify(&d->det, f->determination_signature, a->broker_sign_pk, a->dir,
                                     &d->proposal, &d->phdr, err);
    } else if ((rc = cf_wire_record_decode(d->det.proposal_record, d->det.proposal_record_len,
                                           &d->proposal, err)) == 0) {
        rc = cf_wire_header_decode(d->proposal.header, d->proposal.header_len, &d->phdr, err);
    }
    if (rc != 0)
        return rc;
    memcpy(d->message_id, d->det.id, CF_MESSAGE_ID_LEN);
    memcpy(d->hash, hash, CF_HASH_LEN);
    if (!f->envelope)
        return 0; /* the liaison's: the NRM return alone */
    uint8_t env_hash[CF_HASH_LEN];
    cf_envelope_hash(f->envelope, f->envelope_len, env_hash);
    if (sodium_memcmp(env_hash, d->det.proposal_hash, CF_HASH_LEN) != 0)
        return cf_error_set(err, CF_ECORRUPT,
                            "the envelope delivered is not the proposal the determination seals");
    d->has_env = true;
    return cf_envelope_decode(f->envelope, f->envelope_len, &d->env, &d->hdr, err);
}

/* The content checks, which need no store: who signed it and that the logged
 * record describes exactly these bytes. Signatures are checked on arrival
 * (`verify`) against the directory then in force; a kept message is not
 * checked again, so a later key rotation leaves it readable. */
static int check_content(struct agent *a, const struct cf_frame *f, struct delivery *d, bool verify,
                         struct cf_error *err)
{
    memset(d, 0, sizeof *d);
    int rc = cf_wire_record_decode(f->record, f->record_len, &d->rec, err);
    if (rc != 0)
        return rc;
    if (d->rec.index != f->leaf_index)
        return cf_error_set(err, CF_ECORRUPT, "the record is leaf %" PRIu64 ", not %" PRIu64,
                            d->rec.index, f->leaf_index);
    if (f->notice) {
        d->is_notice = true;
        if (verify && (rc = cf_notice_verify(f->notice, f->notice_len, f->notice_signature,
                                             a->broker_sign_pk)) != 0)
            return cf_error_set(err, rc, "the notice is not signed by the broker");
        if (d->rec.event != CF_EVENT_NOTICE || d->rec.notice_len != f->notice_len ||
            memcmp(d->rec.notice, f->notice, f->notice_len) != 0)
            return cf_error_set(err, CF_ECORRUPT, "the logged record is not this notice");
        if ((rc = cf_wire_notice_decode(f->notice, f->notice_len, &d->notice, err)) != 0)
            return rc;
        memcpy(d->message_id, d->notice.notice_id, CF_MESSAGE_ID_LEN);
        cf_envelope_hash(f->notice, f->notice_len, d->hash);
        return 0;
    }
    if (f->determination)
        return check_determination(a, f, d, verify, err);
    d->has_env = true;
    if ((rc = cf_envelope_decode(f->envelope, f->envelope_len, &d->env, &d->hdr, err)) != 0)
        return rc;
    if (verify) {
        const struct cf_agency *sender = a->dir ? cf_directory_find(a->dir, d->hdr.sender) : NULL;
        if (!sender)
            return cf_error_set(err, CF_EUNKNOWNAGENCY, "the sender %s is not in the directory",
                                d->hdr.sender);
        if ((rc = cf_envelope_verify(&d->env, sender->sign_pk)) != 0)
            return cf_error_set(err, rc, "the signature is not %s's", d->hdr.sender);
    }
    if (!cf_record_matches(&d->rec, &d->env))
        return cf_error_set(err, CF_ECORRUPT, "the logged record is not this envelope");
    memcpy(d->message_id, d->hdr.message_id, CF_MESSAGE_ID_LEN);
    cf_envelope_hash(f->envelope, f->envelope_len, d->hash);
    return 0;
}

/* A frame kept in the open batch (a Deliver, a delivery report, a receipt;
 * for a nack, only its checkpoint): what its answer, log line, spool file,
 * live-feed line and waiting clients need once the batch has committed. */
struct agent_pending {
    uint64_t leaf; /* the leaf the answer names */
    uint8_t message_id[CF_MESSAGE_ID_LEN], hash[CF_HASH_LEN];
    char answer[48]; /* CF_ACK_OK, a nack's code, or "" for none */
    bool repeat;
    bool settle;    /* a receipt for message_id: tell the spool, control and dashboard */
    json_t *doc;    /* what to spool; NULL for a nack or a report */
    char event[24]; /* the log line once committed: none when "" */
    char detail[256];
    char path[2 * AGENT_PATH_MAX];
    char *text; /* the spool file's text, while it is written */
};

static void send_answer(struct agent *a, const struct agent_pending *p)
{
    struct cf_frame r = {.kind = strcmp(p->answer, CF_ACK_OK) == 0 ? CF_FRAME_ACK : CF_FRAME_NACK,
                         .leaf_index = p->leaf,
                         .has_message_id = true};
    memcpy(r.message_id, p->message_id, CF_MESSAGE_ID_LEN);
    snprintf(r.code, sizeof r.code, "%s", p->answer);
    if (cf_envelope_ack_sign(p->message_id, p->hash, p->answer, a->keys, r.signature) == 0)
        agent_link_send(a, &r);
}

/* The spool document of a message: its header facts and its payload (owned). */
static json_t *message_doc(uint64_t leaf, const struct cf_header *h, uint64_t accepted_at,
                           json_t *body)
{
    json_t *to = json_array();
    for (size_t i = 0; to && i < h->n_recipients; i++)
        json_array_append_new(to, json_string(h->recipients[i]));
    return json_pack("{s:I, s:s, s:o, s:s, s:s, s:o, s:o, s:o, s:s, s:s, s:s, s:b, s:o}",
                     "leaf_index", (json_int_t)leaf, "type", cf_header_type_name(h->type),
                     "message_id", agent_text_hex(h->message_id, CF_MESSAGE_ID_LEN), "case_id",
                     h->case_id, "sender", h->sender, "recipients", to, "created_at",
                     agent_text_time_json(h->created_at), "accepted_at",
                     agent_text_time_json(accepted_at), "jurisdiction", h->jurisdiction, "la_code",
                     h->la_code, "urgency", cf_header_urgency_name(h->urgency), "immediate_risk",
                     h->immediate_risk, "payload", body);
}

/* A determination: the decision, who voted how, and what this agency may
 * read of the proposal: all of it for a final reader, only the NRM return
 * for the liaison. */
static int render_determination(struct agent *a, const struct cf_frame *f, const struct delivery *d,
                                json_t **out, struct cf_error *err)
{
    const struct cf_determination *det = &d->det;
    json_t *votes = json_array(), *to = json_array();
    for (size_t i = 0; votes && i < det->n_votes; i++)
        json_array_append_new(votes, json_pack("{s:s, s:s}", "voter", det->votes[i].voter, "vote",
                                               det->votes[i].approve ? "approve" : "reject"));
    for (size_t i = 0; to && i < det->n_recipients; i++)
        json_array_append_new(to, json_string(det->recipients[i]));
    uint8_t *plain = NULL;
    size_t plen = 0;
    json_t *body = NULL;
    int rc;
    if (d->has_env) {
        rc = cf_envelope_open(&d->env, a->keys, &plain, &plen);
        if (rc == 0)
            rc = cf_message_document(&d->phdr, plain, plen, &body, err);
        else
            cf_error_set(err, rc, "cannot open the proposal of leaf %" PRIu64 ": %s", f->leaf_index,
                         cf_strerror(rc));
    } else {
        rc = cf_determination_open_return(det, &d->proposal, a->keys, &plain, &plen);
        if (rc == 0)
            rc = cf_message_nrm_to_json(plain, plen, &body, err);
        else
            cf_error_set(err, rc, "cannot open the NRM return of leaf %" PRIu64 ": %s",
                         f->leaf_index, cf_strerror(rc));
    }
    if (plain)
        sodium_memzero(plain, plen);
    free(plain);
    if (rc != 0) {
        json_decref(votes), json_decref(to);
        return rc;
    }
    *out = json_pack(
        "{s:I, s:s, s:o, s:s, s:s, s:o, s:o, s:o, s:s, s:o, s:I, s:s, s:o, s:o}", "leaf_index",
        (json_int_t)f->leaf_index, "type", "determination", "message_id",
        agent_text_hex(det->id, CF_MESSAGE_ID_LEN), "case_id", det->case_id, "sender", "broker",
        "recipients", to, "created_at", agent_text_time_json(det->created_at), "accepted_at",
        agent_text_time_json(d->rec.time), "decision", cf_header_decision_name(det->decision),
        "proposal_id", agent_text_hex(det->proposal_id, CF_MESSAGE_ID_LEN), "proposal_leaf",
        (json_int_t)det->proposal_leaf, "proposer", d->phdr.sender, "votes", votes,
        d->has_env ? "payload" : "nrm_return", body);
    /* The case's urgency, from the proposal's signed header, for hooks and watch. */
    const char *urgency = cf_header_urgency_name(d->phdr.urgency);
    if (*out && d->phdr.urgency && urgency)
        json_object_set_new(*out, "urgency", json_string(urgency));
    if (*out)
        json_object_set_new(*out, "immediate_risk", json_boolean(d->phdr.immediate_risk));
    return *out ? 0 : cf_error_set(err, CF_ENOMEM, "out of memory");
}

/* The spool JSON of a checked delivery; opens a message with the agency's key.
 * Returns 0, an open failure (CF_ESEAL, CF_ECOMMIT, CF_EDECRYPT, CF_EPAD) that
 * deserves a nack, or another code. */
static int render(struct agent *a, const struct cf_frame *f, const struct delivery *d, json_t **out,
                  struct cf_error *err)
{
    *out = NULL;
    if (d->is_notice) {
        *out = agent_notice_render(&d->notice, f->leaf_index);
        return *out ? 0 : cf_error_set(err, CF_ENOMEM, "out of memory");
    }
    if (d->is_determination)
        return render_determination(a, f, d, out, err);
    uint8_t *payload = NULL;
    size_t plen;
    int rc = cf_envelope_open(&d->env, a->keys, &payload, &plen);
    if (rc != 0)
        return cf_error_set(err, rc, "cannot open leaf %" PRIu64 ": %s", f->leaf_index,
                            cf_strerror(rc));
    const struct cf_header *h = &d->hdr;
    json_t *body = NULL;
    rc = cf_message_document(h, payload, plen, &body, err);
    sodium_memzero(payload, plen);
    free(payload);
    if (rc != 0)
        return rc;
    *out = message_doc(f->leaf_index, h, d->rec.time, body);
    return *out ? 0 : cf_error_set(err, CF_ENOMEM, "out of memory");
}

json_t *agent_inbox_render(struct agent *a, const uint8_t *frame, size_t len, struct cf_error *err)
{
    struct cf_frame f;
    struct delivery d;
    json_t *doc = NULL;
    memset(&d, 0, sizeof d);
    if (cf_wire_frame_decode(frame, len, &f, err) == 0 && check_content(a, &f, &d, false, err) == 0)
        render(a, &f, &d, &doc, err);
    delivery_fini(&d);
    cf_wire_frame_fini(&f);
    return doc;
}

static int enqueue_hook(struct agent *a, MDB_txn *txn, uint64_t leaf)
{
    uint8_t key[8], val[20];
    uint64_t seq = a->hook_seq++;
    cf_store_put_u64(key, seq);
    cf_store_put_u64(val, leaf);
    memset(val + 8, 0, 4);                   /* attempts */
    cf_store_put_u64(val + 12, agent_now()); /* due now */
    int rc = agent_store_put(txn, a->store.hooks, key, 8, val, sizeof val);
    if (rc == 0)
        rc = agent_store_put(txn, a->store.meta, "hook_seq", 8, key, 8);
    return rc;
}

/* A leaf already kept must come again as the same message with the same
 * delivered bytes: the leaf index alone proves nothing. CF_ECORRUPT (a split
 * view: never acknowledged) when the broker now shows another one there. */
static int same_as_kept(struct agent *a, const MDB_val *kept, const struct cf_frame *f,
                        const struct delivery *d, struct cf_error *err)
{
    struct cf_frame old;
    struct delivery was;
    memset(&was, 0, sizeof was);
    int rc = cf_wire_frame_decode(kept->mv_data, kept->mv_size, &old, NULL);
    if (rc == 0)
        rc = check_content(a, &old, &was, false, NULL);
    if (rc != 0) {
        rc = cf_error_set(err, CF_ESTORE, "the kept copy of leaf %" PRIu64 " cannot be read",
                          f->leaf_index);
    } else if (sodium_memcmp(was.message_id, d->message_id, CF_MESSAGE_ID_LEN) != 0 ||
               sodium_memcmp(was.hash, d->hash, CF_HASH_LEN) != 0) {
        char then[2 * CF_MESSAGE_ID_LEN + 1], now[2 * CF_MESSAGE_ID_LEN + 1];
        sodium_bin2hex(then, sizeof then, was.message_id, CF_MESSAGE_ID_LEN);
        sodium_bin2hex(now, sizeof now, d->message_id, CF_MESSAGE_ID_LEN);
        rc = cf_error_set(err, CF_ECORRUPT,
                          "leaf %" PRIu64 " was kept as message %s; the broker now shows %s%s "
                          "there",
                          f->leaf_index, then, now,
                          strcmp(then, now) == 0 ? " with other bytes" : "");
    }
    delivery_fini(&was);
    cf_wire_frame_fini(&old);
    return rc;
}

/* The live feed's line for a kept document: its header facts, no payload. */
static void push_event(struct agent *a, const json_t *doc)
{
    static const char *const keys[] = {
        "leaf_index",       "type",           "kind",     "case_id", "sender",   "message_id",
        "urgency",          "immediate_risk", "deadline", "due",     "decision", "state",
        "referring_agency", "outstanding",    "code"};
    json_t *e = json_object();
    for (size_t i = 0; e && i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(doc, keys[i]);
        if (v)
            json_object_set(e, keys[i], v);
    }
    json_t *at = json_object_get(doc, "accepted_at");
    json_object_set(e, "received_at", at ? at : json_object_get(doc, "created_at"));
    agent_events_push(a, e);
    json_decref(e);
}

/* Keeps a checked delivery: inbox, id index, hook queue and checkpoint in one
 * transaction, nested in the batch's. A repeat (a leaf already kept) stores
 * only the checkpoint: the broker counts it as shown, so the next delivery's
 * proof starts from it. */
static int keep(struct agent *a, const uint8_t *frame, size_t len, const struct cf_frame *f,
                const struct delivery *d, bool *repeat, struct cf_error *err)
{
    MDB_txn *txn;
    int rc = agent_write_begin(a, &txn);
    if (rc != 0)
        return cf_error_set(err, rc, "cannot begin a transaction");
    uint8_t key[8];
    MDB_val v;
    cf_store_put_u64(key, f->leaf_index);
    *repeat = agent_store_get(txn, a->store.inbox, key, 8, &v) == 0;
    if (*repeat && (rc = same_as_kept(a, &v, f, d, err)) != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    struct cf_checkpoint kept;
    rc = agent_checkpoint_advance(a, txn, f->checkpoint, f->checkpoint_len, f->consistency_from,
                                  (const uint8_t(*)[CF_MERKLE_HASH])f->consistency,
                                  f->n_consistency, &kept, err);
    if (rc == 0) {
        struct cf_checkpoint cp;
        rc = cf_record_prove(f->record, f->record_len, f->leaf_index,
                             (const uint8_t(*)[CF_MERKLE_HASH])f->proof, f->n_proof, f->checkpoint,
                             f->checkpoint_len, a->broker_sign_pk, &cp, err);
    }
    if (rc == 0 && !*repeat &&
        ((rc = agent_store_put(txn, a->store.inbox, key, 8, frame, len)) != 0 ||
         (rc = agent_store_put(txn, a->store.byid, d->message_id, CF_MESSAGE_ID_LEN, key, 8)) != 0))
        cf_error_set(err, rc, "cannot keep leaf %" PRIu64, f->leaf_index);
    bool hook = d->is_notice ? a->cfg.on_notice[0] : a->cfg.on_message[0];
    if (rc == 0 && !*repeat && hook && (rc = enqueue_hook(a, txn, f->leaf_index)) != 0)
        cf_error_set(err, rc, "cannot queue the hook");
    /* What the message says of its case, for routing this agency's own. */
    if (rc == 0 && !*repeat && d->is_determination &&
        (rc = agent_cases_note_determination(a, txn, d->det.case_id, f->leaf_index, d->rec.time)) !=
            0)
        cf_error_set(err, rc, "cannot note leaf %" PRIu64 " in its case", f->leaf_index);
    else if (rc == 0 && !*repeat && !d->is_notice && !d->is_determination &&
             (rc = agent_cases_note(a, txn, &d->hdr, f->leaf_index, d->rec.time)) != 0)
        cf_error_set(err, rc, "cannot note leaf %" PRIu64 " in its case", f->leaf_index);
    if (rc == 0)
        rc = agent_checkpoint_commit(a, txn, &kept, f->checkpoint, f->checkpoint_len);
    else
        mdb_txn_abort(txn);
    return rc;
}

static bool open_failure(int rc)
{
    return rc == CF_ESEAL || rc == CF_ECOMMIT || rc == CF_EDECRYPT || rc == CF_EPAD ||
           rc == CF_ENOTRECIPIENT || rc == CF_EDECODE || rc == CF_EFIELD || rc == CF_ETYPE ||
           rc == CF_EMISMATCH || rc == CF_EUNKNOWNFIELD;
}

/* Opens the batch, if none is open, from the checkpoint the disk holds. */
int agent_batch_open(struct agent *a)
{
    struct agent_batch *b = &a->batch;
    if (b->txn)
        return 0;
    int rc = cf_store_error(mdb_txn_begin(a->store.env, NULL, 0, &b->txn));
    if (rc != 0) {
        b->txn = NULL;
        return rc;
    }
    b->cp = a->checkpoint;
    b->note_len = 0;
    return 0;
}

/* Adds a pending item with its log line; NULL when out of memory. */
static struct agent_pending *pending_add(struct agent *a,
                                         const uint8_t message_id[CF_MESSAGE_ID_LEN],
                                         const char *event, const char *detail)
{
    struct agent_pending *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    memcpy(p->message_id, message_id, CF_MESSAGE_ID_LEN);
    snprintf(p->event, sizeof p->event, "%s", event ? event : "");
    snprintf(p->detail, sizeof p->detail, "%s", detail ? detail : "");
    a->batch.items[a->batch.n++] = p;
    return p;
}

int agent_batch_answer(struct agent *a, uint64_t leaf, const uint8_t message_id[CF_MESSAGE_ID_LEN],
                       const uint8_t hash[CF_HASH_LEN], const char *answer, json_t *doc,
                       bool repeat, const char *event, const char *detail)
{
    struct agent_pending *p = pending_add(a, message_id, event, detail);
    if (!p) {
        json_decref(doc);
        return CF_ENOMEM;
    }
    p->leaf = leaf;
    memcpy(p->hash, hash, CF_HASH_LEN);
    snprintf(p->answer, sizeof p->answer, "%s", answer);
    p->repeat = repeat;
    p->doc = doc;
    if (a->batch.n == AGENT_BATCH_MAX)
        agent_batch_flush(a);
    return 0;
}

int agent_batch_settled(struct agent *a, const uint8_t message_id[CF_MESSAGE_ID_LEN],
                        const char *event, const char *detail)
{
    struct agent_pending *p = pending_add(a, message_id, event, detail);
    if (!p)
        return CF_ENOMEM;
    p->settle = true;
    if (a->batch.n == AGENT_BATCH_MAX)
        agent_batch_flush(a);
    return 0;
}

/* Queues the answer to a checked delivery. */
static void batch_add(struct agent *a, const struct cf_frame *f, const struct delivery *d,
                      json_t *doc, bool repeat, const char *answer)
{
    char id[2 * CF_MESSAGE_ID_LEN + 1], detail[256];
    sodium_bin2hex(id, sizeof id, d->message_id, CF_MESSAGE_ID_LEN);
    snprintf(detail, sizeof detail, "leaf=%" PRIu64 " kind=%s message=%s", f->leaf_index,
             d->is_notice          ? d->notice.kind
             : d->is_determination ? "determination"
                                   : cf_header_type_name(d->hdr.type),
             id);
    const char *event = !doc ? NULL : repeat ? "DELIVERY-REPEATED" : "DELIVERY-KEPT";
    if (agent_batch_answer(a, f->leaf_index, d->message_id, d->hash, answer, doc, repeat, event,
                           detail) != 0)
        cf_log_error("INBOX-KEEP-FAILED", "leaf=%" PRIu64 " reason=\"out of memory\"",
                     f->leaf_index); /* not answered: the broker offers it again after a Hello */
}

void agent_inbox_deliver(struct agent *a, const uint8_t *frame, size_t len,
                         const struct cf_frame *f)
{
    struct delivery d;
    struct cf_error err = {0};
    json_t *doc = NULL;
    int rc = agent_batch_open(a);
    if (rc != 0) {
        cf_log_error("INBOX-KEEP-FAILED", "leaf=%" PRIu64 " code=%s", f->leaf_index,
                     cf_error_name(rc)); /* not answered: offered again */
        return;
    }
    rc = check_content(a, f, &d, true, &err);
    if (rc != 0) {
        /* Not the sender's fault: a broker showing something it did not log, or
         * a directory this agent has not caught up with. Nothing is answered;
         * the broker offers it again after the next Hello. Its checkpoint is
         * still kept, so the frames after it follow on. */
        cf_log_error("DELIVERY-UNVERIFIED", "leaf=%" PRIu64 " code=%s reason=\"%s\"", f->leaf_index,
                     cf_error_name(rc), err.text);
        if (rc == CF_EUNKNOWNAGENCY) {
            struct cf_frame r = {.kind = CF_FRAME_DIRECTORY_REQUEST};
            agent_link_send(a, &r);
        }
        (void)agent_link_take_checkpoint(a, f, "CHECKPOINT-RESYNC");
        delivery_fini(&d);
        return;
    }
    rc = render(a, f, &d, &doc, &err);
    if (rc != 0) {
        /* The sender's envelope cannot be opened here: a signed nack tells them,
         * once its checkpoint is kept like any other. */
        cf_log_error("DELIVERY-UNOPENABLE", "leaf=%" PRIu64 " code=%s", f->leaf_index,
                     cf_error_name(rc));
        if (agent_link_take_checkpoint(a, f, "CHECKPOINT-RESYNC") == 0 && open_failure(rc))
            batch_add(a, f, &d, NULL, false, cf_error_name(rc));
        delivery_fini(&d);
        return;
    }
    bool repeat = false;
    rc = keep(a, frame, len, f, &d, &repeat, &err);
    if (rc != 0) {
        if (!agent_link_refused(a, rc, "CHECKPOINT-RESYNC", err.text))
            cf_log_error("INBOX-KEEP-FAILED", "leaf=%" PRIu64 " reason=\"%s\"", f->leaf_index,
                         err.text);
        json_decref(doc);
    } else {
        /* Also a repeat: a crash may have lost its spool file. */
        batch_add(a, f, &d, doc, repeat, CF_ACK_OK);
    }
    delivery_fini(&d);
}

/* Writes the spool files of the batch's kept messages, with two syncs for all
 * of them; a message whose file failed loses its ack (it comes again, and the
 * file is written then). */
static void batch_spool(struct agent *a)
{
    struct agent_batch *b = &a->batch;
    struct cf_file_out files[AGENT_BATCH_MAX];
    struct agent_pending *of[AGENT_BATCH_MAX];
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++) {
        struct agent_pending *p = b->items[i];
        struct cf_error err = {0};
        if (!p->doc)
            continue;
        if (agent_spool_inbox_text(a, p->leaf, p->doc, p->path, sizeof p->path, &p->text, &err) !=
            0) {
            cf_log_error("SPOOL-WRITE-FAILED", "leaf=%" PRIu64 " reason=\"%s\"", p->leaf, err.text);
            p->answer[0] = 0;
            continue;
        }
        files[n] = (struct cf_file_out){.path = p->path, .buf = p->text, .len = strlen(p->text)};
        of[n++] = p;
    }
    if (cf_file_write_many(files, n, 0640) > 0)
        for (size_t i = 0; i < n; i++)
            if (files[i].rc != 0) {
                cf_log_error("SPOOL-WRITE-FAILED", "leaf=%" PRIu64 " reason=\"%s\"", of[i]->leaf,
                             files[i].err.text);
                of[i]->answer[0] = 0;
            }
    for (size_t i = 0; i < n; i++) {
        sodium_memzero(of[i]->text, files[i].len);
        free(of[i]->text);
        of[i]->text = NULL;
    }
}

void agent_batch_flush(struct agent *a)
{
    struct agent_batch *b = &a->batch;
    if (!b->txn)
        return;
    int rc = cf_store_error(mdb_txn_commit(b->txn));
    b->txn = NULL;
    if (rc != 0) {
        /* Nothing is answered, so the broker offers all of them again; the
         * next frame's proof starts past the kept checkpoint, and resyncs. */
        cf_log_error("INBOX-KEEP-FAILED", "frames=%zu code=%s", b->n, cf_error_name(rc));
    } else {
        if (b->note_len > 0) {
            a->checkpoint = b->cp;
            memcpy(a->checkpoint_note, b->note, b->note_len + 1);
        }
        batch_spool(a);
    }
    bool kept = false;
    for (size_t i = 0; i < b->n; i++)
        kept |= rc == 0 && b->items[i]->doc && b->items[i]->answer[0];
    if (kept)
        agent_fault_point("after-inbox-commit");
    for (size_t i = 0; i < b->n; i++) {
        struct agent_pending *p = b->items[i];
        if (rc == 0 && p->answer[0]) {
            if (p->doc && !p->repeat)
                push_event(a, p->doc);
            send_answer(a, p);
        }
        if (rc == 0 && (p->answer[0] || p->settle) && p->event[0])
            cf_log_info(p->event, "%s", p->detail);
    }
    /* The items are taken off the batch first: what follows may open another. */
    size_t n = b->n;
    struct agent_pending *items[AGENT_BATCH_MAX];
    memcpy(items, b->items, n * sizeof *items);
    b->n = 0;
    b->note_len = 0;
    uint8_t ids[AGENT_BATCH_MAX][CF_MESSAGE_ID_LEN];
    size_t n_ids = 0;
    for (size_t i = 0; i < n; i++)
        if (rc == 0 && items[i]->settle)
            memcpy(ids[n_ids++], items[i]->message_id, CF_MESSAGE_ID_LEN);
    if (n_ids > 0) {
        agent_link_ask_status(a); /* the commits that took them changed the broker's figures */
        agent_spool_answered(a, (const uint8_t(*)[CF_MESSAGE_ID_LEN])ids, n_ids);
    }
    for (size_t i = 0; i < n; i++) {
        struct agent_pending *p = items[i];
        if (rc == 0 && p->settle) {
            agent_control_answered(a, p->message_id);
            agent_http_answered(a, p->message_id);
        }
        json_decref(p->doc);
        free(p);
    }
}

/* ---- The agent's own notices ---- */

/* The next key of the notices table, in `txn`. */
static uint64_t next_local_key(struct agent *a, MDB_txn *txn)
{
    MDB_cursor *c;
    MDB_val k, v;
    uint64_t next = AGENT_LOCAL_NOTICE + 1;
    if (mdb_cursor_open(txn, a->store.notices, &c) == 0) {
        if (mdb_cursor_get(c, &k, &v, MDB_LAST) == 0 && k.mv_size == 8)
            next = cf_store_get_u64(k.mv_data) + 1;
        mdb_cursor_close(c);
    }
    return next;
}

int agent_inbox_add_local(struct agent *a, MDB_txn *txn, json_t *doc, struct cf_error *err)
{
    uint8_t id[CF_MESSAGE_ID_LEN], key[8];
    randombytes_buf(id, sizeof id);
    uint64_t k = next_local_key(a, txn);
    cf_store_put_u64(key, k);
    json_object_set_new(doc, "type", json_string("notice"));
    json_object_set_new(doc, "sender", json_string("agent"));
    json_object_set_new(doc, "message_id", agent_text_hex(id, sizeof id));
    json_object_set_new(doc, "created_at", agent_text_time_json(agent_now()));
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    size_t len = text ? strlen(text) : 0;
    uint8_t *val = text ? malloc(len + 1) : NULL;
    if (!val) {
        free(text);
        return cf_error_set(err, CF_ENOMEM, "out of memory for a notice");
    }
    val[0] = 'P';
    memcpy(val + 1, text, len);
    free(text);
    int rc = agent_store_put(txn, a->store.notices, key, 8, val, len + 1);
    free(val);
    if (rc == 0)
        rc = agent_store_put(txn, a->store.byid, id, sizeof id, key, 8);
    if (rc == 0 && a->cfg.on_notice[0])
        rc = enqueue_hook(a, txn, k);
    return rc == 0 ? 0 : cf_error_set(err, rc, "cannot keep the agent's notice");
}

static json_t *local_doc(const MDB_val *v)
{
    if (v->mv_size < 2)
        return NULL;
    return json_loadb((const char *)v->mv_data + 1, v->mv_size - 1, JSON_REJECT_DUPLICATES, NULL);
}

void agent_inbox_spool_local(struct agent *a)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    uint64_t written[64];
    size_t n = 0;
    if (mdb_txn_begin(a->store.env, NULL, MDB_RDONLY, &txn) != 0)
        return;
    if (mdb_cursor_open(txn, a->store.notices, &c) == 0) {
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && n < 64;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            if (k.mv_size != 8 || v.mv_size < 1 || ((const uint8_t *)v.mv_data)[0] != 'P')
                continue;
            uint64_t key = cf_store_get_u64(k.mv_data);
            json_t *doc = local_doc(&v);
            struct cf_error err = {0};
            if (doc && agent_spool_inbox(a, key, doc, &err) == 0) {
                written[n++] = key;
                push_event(a, doc);
            } else
                cf_log_error("NOTICE-WRITE-FAILED", "notice=%" PRIu64 " reason=\"%s\"",
                             key - AGENT_LOCAL_NOTICE, doc ? err.text : "unreadable");
            json_decref(doc);
        }
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    if (n == 0 || mdb_txn_begin(a->store.env, NULL, 0, &txn) != 0)
        return;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint8_t key[8];
        cf_store_put_u64(key, written[i]);
        if ((rc = agent_store_get(txn, a->store.notices, key, 8, &v)) == 0) {
            uint8_t *val = malloc(v.mv_size);
            if (!val) {
                rc = CF_ENOMEM;
                break;
            }
            memcpy(val, v.mv_data, v.mv_size);
            val[0] = 'W';
            rc = agent_store_put(txn, a->store.notices, key, 8, val, v.mv_size);
            free(val);
        }
    }
    if (rc == 0)
        rc = cf_store_error(mdb_txn_commit(txn));
    else
        mdb_txn_abort(txn);
    if (rc != 0) /* written again at the next start: a file twice, never none */
        cf_log_error("NOTICE-MARK-FAILED", "code=%s", cf_error_name(rc));
}

/* ---- Listing and showing ---- */

json_t *agent_inbox_doc(struct agent *a, MDB_txn *txn, uint64_t key, struct cf_error *err)
{
    uint8_t k[8];
    MDB_val v;
    cf_store_put_u64(k, key);
    if (key >= AGENT_LOCAL_NOTICE) {
        json_t *doc = agent_store_get(txn, a->store.notices, k, 8, &v) == 0 ? local_doc(&v) : NULL;
        if (!doc)
            cf_error_set(err, CF_ENOTFOUND, "the agent's notice %" PRIu64 " cannot be read",
                         key - AGENT_LOCAL_NOTICE);
        return doc;
    }
    if (agent_store_get(txn, a->store.inbox, k, 8, &v) != 0) {
        cf_error_set(err, CF_ENOTFOUND, "leaf %" PRIu64 " is not in the inbox", key);
        return NULL;
    }
    return agent_inbox_render(a, v.mv_data, v.mv_size, err);
}

/* Puts `e` into `list` (ordered by received_at, an ISO-8601 string that sorts
 * as text) after every entry received no later. */
static void insert_by_time(json_t *list, json_t *e)
{
    const char *t = json_string_value(json_object_get(e, "received_at"));
    size_t i = json_array_size(list);
    while (t && i > 0) {
        const char *u =
            json_string_value(json_object_get(json_array_get(list, i - 1), "received_at"));
        if (!u || strcmp(u, t) <= 0)
            break;
        i--;
    }
    json_array_insert_new(list, i, e);
}

json_t *agent_inbox(struct agent *a, const char *case_id)
{
    json_t *list = json_array();
    MDB_txn *txn;
    if (!list || mdb_txn_begin(a->store.env, NULL, MDB_RDONLY, &txn) != 0) {
        json_decref(list);
        return NULL; /* the caller says the inbox cannot be read */
    }
    MDB_cursor *c;
    MDB_val k, v;
    if (mdb_cursor_open(txn, a->store.inbox, &c) == 0) {
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            struct cf_frame f;
            struct delivery d;
            memset(&d, 0, sizeof d);
            if (cf_wire_frame_decode(v.mv_data, v.mv_size, &f, NULL) == 0 &&
                check_content(a, &f, &d, false, NULL) == 0) {
                const char *cid = d.is_notice          ? d.notice.case_id
                                  : d.is_determination ? d.det.case_id
                                                       : d.hdr.case_id;
                if (!case_id || strcmp(case_id, cid) == 0) {
                    enum cf_urgency u = d.is_notice          ? d.notice.urgency
                                        : d.is_determination ? d.phdr.urgency
                                                             : d.hdr.urgency;
                    const char *type = d.is_notice          ? "notice"
                                       : d.is_determination ? "determination"
                                                            : cf_header_type_name(d.hdr.type);
                    json_t *e = json_pack(
                        "{s:I, s:o, s:s, s:s, s:s, s:o, s:s}", "leaf_index",
                        (json_int_t)f.leaf_index, "received_at", agent_text_time_json(d.rec.time),
                        "case_id", cid, "type", type, "sender",
                        d.is_notice || d.is_determination ? "broker" : d.hdr.sender, "message_id",
                        agent_text_hex(d.message_id, CF_MESSAGE_ID_LEN), "urgency",
                        u ? cf_header_urgency_name(u) : "");
                    if (e && d.is_notice)
                        json_object_set_new(e, "kind", json_string(d.notice.kind));
                    json_array_append_new(list, e);
                }
            }
            delivery_fini(&d);
            cf_wire_frame_fini(&f);
        }
        mdb_cursor_close(c);
    }
    /* The agent's own notices belong to no case: listed only without --case. */
    if (!case_id && mdb_cursor_open(txn, a->store.notices, &c) == 0) {
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            json_t *doc = local_doc(&v);
            json_t *e = doc ? json_pack("{s:n, s:O?, s:s, s:s, s:s, s:O?, s:s, s:O?}", "leaf_index",
                                        "received_at", json_object_get(doc, "created_at"),
                                        "case_id", "", "type", "notice", "sender", "agent",
                                        "message_id", json_object_get(doc, "message_id"), "urgency",
                                        "", "kind", json_object_get(doc, "kind"))
                            : NULL;
            if (e)
                insert_by_time(list, e);
            json_decref(doc);
        }
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    return list;
}

json_t *agent_show(struct agent *a, const uint8_t message_id[CF_MESSAGE_ID_LEN],
                   struct cf_error *err)
{
    MDB_txn *txn;
    MDB_val key;
    json_t *doc = NULL;
    if (mdb_txn_begin(a->store.env, NULL, MDB_RDONLY, &txn) != 0) {
        cf_error_set(err, CF_ESTORE, "cannot read the agent store");
        return NULL;
    }
    if (agent_store_get(txn, a->store.byid, message_id, CF_MESSAGE_ID_LEN, &key) != 0 ||
        key.mv_size != 8)
        cf_error_set(err, CF_ENOTFOUND, "no received message has that id");
    else
        doc = agent_inbox_doc(a, txn, cf_store_get_u64(key.mv_data), err);
    mdb_txn_abort(txn);
    return doc;
}
