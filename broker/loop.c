/* The broker's loop: one thread, one ROUTER socket, one LMDB writer.
 *
 * Each turn drains every frame that is ready (up to batch_max) and hands its
 * stateless checks (1-5, with the Ed25519 signature) to the verify pool. While
 * the workers check it, this thread applies the batch read the turn before,
 * whose checks are done, in ONE write
 * transaction: leaves, tree nodes, envelopes, dedup, mailboxes, cases and the
 * signed checkpoint. Only after that commit is durable do any Accepted,
 * Rejected or delivery reports leave, and only then are new messages offered
 * to their recipients. Group commit is what makes durability cheap: one fsync
 * per batch, not per message. A batch is a pure function of its frames and the
 * stored state, so when the LMDB map fills, the transaction is dropped, the
 * map grown, and the same batch replayed.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <sodium.h>
#include <zmq.h>

#include "childfirst/checkpoint.h"
#include "childfirst/clock.h"
#include "childfirst/file.h"
#include "childfirst/log.h"
#include "audit.h"
#include "cases.h"
#include "checks.h"
#include "loop.h"
#include "mailbox.h"
#include "notices.h"
#include "retention.h"
#include "timers.h"
#include "verify_pool.h"
#include "writer.h"
#include "zap.h"

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93 /* libzmq 4.3.4 has it only in the draft API */
#endif

enum item_kind { ITEM_SUBMIT, ITEM_ACK, ITEM_NACK, ITEM_REJECT };
enum outcome {
    OUT_NONE,
    OUT_ACCEPTED,
    OUT_REPEAT,
    OUT_REJECTED,
    OUT_REPORT,
    OUT_REPORT_TAKEN, /* the sender acknowledged its delivery report */
    OUT_IGNORED,
    OUT_REFUSED /* storage below its watermark: answered without a leaf */
};

/* One frame that changes the log, from arrival to reply. */
struct item {
    enum item_kind kind;
    cf_id actor;
    uint8_t routing[CF_ROUTING_ID_MAX];
    size_t routing_len;
    uint8_t frame_hash[CF_HASH_LEN];
    bool has_message_id;
    uint8_t message_id[CF_MESSAGE_ID_LEN];
    /* submit */
    struct cf_envelope env;
    struct cf_header hdr;
    uint8_t *envelope;
    size_t envelope_len;
    bool unchecked; /* checks 1-5 are still to run (on the verify pool) */
    /* ack, nack */
    uint64_t about;
    uint8_t ack_sig[CF_SIG_LEN];
    char nack_code[48];
    /* the pool's check of that signature, and the bytes it covered */
    bool ack_checked, ack_valid;
    uint8_t ack_hash[CF_HASH_LEN], ack_mid[CF_MESSAGE_ID_LEN];
    /* a failed check: before the batch (ITEM_REJECT) or inside it */
    int code;
    char reason[512];
    /* the outcome, reset each time the batch is (re)applied */
    enum outcome out;
    uint64_t leaf;
    cf_id report_to;
};

struct loop {
    struct broker *b;
    struct item *items; /* the batch to apply: checks 1-5 done */
    size_t n;
    struct item *next; /* the batch read this turn, on the verify pool */
    size_t n_next;
    uint64_t next_now; /* when it was read: its checks use this time */
    struct cf_verify_pool *pool;
    /* Held shared by a pool worker while it reads the store, and exclusively
     * while the map grows: LMDB resizes only with no transaction open. */
    pthread_rwlock_t readers;
    size_t timers_fired; /* by the last batch applied */
    bool purge;          /* this batch also purges what retention says is due */
    size_t purged;       /* envelopes it purged */
    void *peers;         /* the ROUTER's monitor: connections that ended (PEER-GONE) */
};

volatile sig_atomic_t cf_broker_stop;

struct session *cf_broker_session(struct broker *b, const char *id)
{
    const struct cf_agency *a = cf_directory_find(b->dir, id);
    return a ? &b->sessions[a - b->dir->agencies] : NULL;
}

const struct cf_agency *cf_broker_agency(const struct broker *b, const struct session *s)
{
    return &b->dir->agencies[s - b->sessions];
}

static void say_welcome(struct broker *b, struct session *s, const uint8_t *routing,
                        size_t routing_len, const struct cf_frame *hello);

/* Due timers fired per batch at most, so a backlog (a broker back after a
 * long stop) is worked off without starving the frames waiting behind it. */
#define TIMERS_PER_BATCH 64

/* How often retention looks for envelopes past retention_days. */
#define RETENTION_CHECK_MS 60000u

/* Messages read per turn at most, counting those answered at once (pings,
 * Hello, requests), so a flood of them cannot hold a commit back. */
#define READS_PER_TURN(batch_max) (4 * (batch_max))

/* ---- Sending ---- */

/* Sends a frame to a routing id without ever blocking the loop. */
static int send_to(struct broker *b, const uint8_t *routing, size_t routing_len,
                   const struct cf_frame *f)
{
    uint8_t *buf;
    size_t len;
    int rc = cf_wire_frame_encode(f, &buf, &len);
    if (rc != 0)
        return rc;
    if (zmq_send(b->router, routing, routing_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(b->router, buf, len, ZMQ_DONTWAIT) < 0)
        rc = zmq_errno() == EAGAIN ? CF_ETIMEOUT : CF_ENOTFOUND;
    free(buf);
    return rc;
}

static void send_rejected(struct broker *b, const struct item *it)
{
    struct cf_frame f = {.kind = CF_FRAME_REJECTED, .has_message_id = it->has_message_id};
    memcpy(f.message_id, it->message_id, sizeof f.message_id);
    snprintf(f.code, sizeof f.code, "%s", cf_error_name(it->code));
    snprintf(f.reason, sizeof f.reason, "%s", it->reason);
    send_to(b, it->routing, it->routing_len, &f);
}

/* Every checkpoint a connection is shown comes with the proof that it extends
 * the one shown before, so the agent can refuse a forked history at once. */
static int add_consistency(struct broker *b, MDB_txn *txn, struct session *s, struct cf_frame *f)
{
    if (!s)
        return 0; /* a connection that never said Hello keeps no checkpoint */
    struct cf_frame proof = {.kind = CF_FRAME_NONE};
    int rc = cf_audit_consistency(b, txn, s->seen, b->size, &proof);
    if (rc != 0)
        return rc;
    f->consistency_from = s->seen;
    f->n_consistency = proof.n_proof;
    memcpy(f->consistency, proof.proof, proof.n_proof * CF_MERKLE_HASH);
    s->seen = b->size;
    return 0;
}

/* The session whose Hello came from this routing id, if any. */
static struct session *session_at(struct broker *b, const char *actor, const uint8_t *routing,
                                  size_t len)
{
    struct session *s = cf_broker_session(b, actor);
    return s && s->connected && s->routing_len == len && memcmp(s->routing, routing, len) == 0
               ? s
               : NULL;
}

/* The receipt: the leaf's record, the newest checkpoint and the proof that
 * one is in the other, so the sender holds evidence that needs no broker. */
static void send_accepted(struct broker *b, MDB_txn *txn, const struct item *it)
{
    struct cf_frame f = {.kind = CF_FRAME_ACCEPTED, .has_message_id = true};
    memcpy(f.message_id, it->hdr.message_id, sizeof f.message_id);
    f.leaf_index = it->leaf;
    f.checkpoint = b->checkpoint;
    f.checkpoint_len = b->checkpoint_len;
    MDB_val rec;
    int rc = cf_store_record(&b->store, txn, it->leaf, &rec);
    if (rc == 0)
        rc = cf_audit_inclusion(b, txn, it->leaf, b->size, &f);
    if (rc == 0)
        rc = add_consistency(b, txn, session_at(b, it->actor, it->routing, it->routing_len), &f);
    if (rc != 0) {
        cf_log_error("RECEIPT-FAILED", "leaf=%" PRIu64 " error=%s", it->leaf, cf_error_name(rc));
        return; /* the sender resends and gets the receipt from dedup */
    }
    f.record = rec.mv_data;
    f.record_len = rec.mv_size;
    send_to(b, it->routing, it->routing_len, &f);
}

/* ---- Receiving ---- */

static void reject_now(struct item *it, int code, const char *reason)
{
    it->kind = ITEM_REJECT;
    it->code = code;
    snprintf(it->reason, sizeof it->reason, "%s", reason);
}

static void refuse(struct broker *b, const uint8_t *routing, size_t len, int code,
                   const char *reason)
{
    struct cf_frame r = {.kind = CF_FRAME_REJECTED};
    snprintf(r.code, sizeof r.code, "%s", cf_error_name(code));
    snprintf(r.reason, sizeof r.reason, "%s", reason);
    send_to(b, routing, len, &r);
}

/* A leaf's inclusion proof against the newest checkpoint, for an agency the
 * leaf concerns (cf_audit_may_see): a receipt older than the newest tree is
 * proven in it too. */
static void answer_proof(struct broker *b, const char *actor, const uint8_t *routing, size_t len,
                         const struct cf_frame *q)
{
    MDB_txn *txn;
    struct cf_frame *f = calloc(1, sizeof *f);
    if (!f || cf_writer_txn(b, &txn) != 0) {
        free(f);
        refuse(b, routing, len, CF_ESTORE, "the log cannot be read now; ask again");
        return;
    }
    MDB_val rec;
    struct cf_frame consistency = {.kind = CF_FRAME_NONE};
    int rc = q->leaf_index < b->size ? 0 : CF_ERANGE;
    if (rc == 0 && !cf_audit_may_see(b, txn, actor, q->leaf_index))
        rc = CF_ENOTPARTY;
    if (rc == 0)
        rc = cf_store_record(&b->store, txn, q->leaf_index, &rec);
    if (rc == 0)
        rc = cf_audit_inclusion(b, txn, q->leaf_index, b->size, f);
    if (rc == 0 && q->from_size > b->size)
        rc = CF_ERANGE;
    if (rc == 0)
        rc = cf_audit_consistency(b, txn, q->from_size, b->size, &consistency);
    if (rc == 0) {
        f->kind = CF_FRAME_PROOF;
        f->leaf_index = q->leaf_index;
        f->record = rec.mv_data;
        f->record_len = rec.mv_size;
        f->checkpoint = b->checkpoint;
        f->checkpoint_len = b->checkpoint_len;
        f->consistency_from = q->from_size;
        f->n_consistency = consistency.n_proof;
        memcpy(f->consistency, consistency.proof, consistency.n_proof * CF_MERKLE_HASH);
        send_to(b, routing, len, f);
    } else {
        char why[160];
        if (rc == CF_ENOTPARTY)
            snprintf(why, sizeof why,
                     "leaf %" PRIu64 " does not concern %s: only an auditor may see any leaf",
                     q->leaf_index, actor);
        else
            snprintf(why, sizeof why,
                     rc == CF_ERANGE
                         ? "leaf %" PRIu64 " or size %" PRIu64 " is beyond the log's %" PRIu64
                         : "leaf %" PRIu64 " cannot be proven now (size %" PRIu64 ", log %" PRIu64
                           ")",
                     q->leaf_index, q->from_size, b->size);
        refuse(b, routing, len, rc, why);
    }
    free(f);
}

/* The log for an auditor's replica; nobody else streams it. */
static void answer_follow(struct broker *b, const char *actor, const uint8_t *routing, size_t len,
                          const struct cf_frame *q)
{
    const struct cf_agency *a = cf_directory_find(b->dir, actor);
    if (!a || !cf_policy_may_audit(b->dir->policy, a->roles)) {
        cf_log_warn("AUDIT-FOLLOW-DENIED", "agency=%s", actor);
        refuse(b, routing, len, CF_EROLE,
               "only an agency with one of the policy's audit_roles may stream the log");
        return;
    }
    MDB_txn *txn;
    struct cf_frame *f = calloc(1, sizeof *f);
    int rc = f ? cf_writer_txn(b, &txn) : CF_ENOMEM;
    if (rc == 0) {
        if (q->from_index > b->size || q->from_size > b->size)
            rc = CF_ERANGE;
        else
            rc = cf_audit_records(b, txn, q->from_index, q->from_size, f);
        if (rc == 0)
            send_to(b, routing, len, f);
    }
    if (rc != 0) {
        char why[160];
        snprintf(why, sizeof why,
                 rc == CF_ERANGE ? "the log holds %" PRIu64 " leaves: a follower ahead of it "
                                   "holds another history"
                                 : "the log cannot be read now (%" PRIu64 " leaves); ask again",
                 b->size);
        refuse(b, routing, len, rc, why);
    }
    free(f);
}

/* Turns an authenticated frame that changes the log into an item; answers the
 * others at once. Returns true when `it` was filled. */
static bool take_frame(struct loop *L, struct item *it, const uint8_t *buf, size_t len)
{
    struct broker *b = L->b;
    struct cf_frame f;
    struct cf_error err = {0};
    int rc = cf_wire_frame_decode(buf, len, &f, &err);
    if (rc != 0) {
        reject_now(it, rc, err.text);
        cf_wire_frame_fini(&f);
        return true;
    }
    struct session *s = cf_broker_session(b, it->actor);
    bool filled = true;
    switch (f.kind) {
    case CF_FRAME_SUBMIT:
        it->kind = ITEM_SUBMIT;
        it->envelope = malloc(f.envelope_len ? f.envelope_len : 1);
        if (!it->envelope) {
            reject_now(it, CF_ENOMEM, "the broker is out of memory; send again later");
            break;
        }
        memcpy(it->envelope, f.envelope, f.envelope_len);
        it->envelope_len = f.envelope_len;
        it->unchecked = true; /* check_one, on the verify pool */
        break;
    case CF_FRAME_ACK:
    case CF_FRAME_NACK:
        it->kind = f.kind == CF_FRAME_ACK ? ITEM_ACK : ITEM_NACK;
        it->has_message_id = true;
        memcpy(it->message_id, f.message_id, sizeof it->message_id);
        it->about = f.leaf_index;
        memcpy(it->ack_sig, f.signature, sizeof it->ack_sig);
        snprintf(it->nack_code, sizeof it->nack_code, "%s", f.code);
        break;
    case CF_FRAME_HELLO:
        filled = false;
        if (f.version != CF_PROTOCOL_VERSION) {
            /* Another protocol's agent would misread every frame after the
             * Welcome: no session, and a reason. */
            char why[160];
            snprintf(why, sizeof why,
                     "Hello says protocol version %u; this broker speaks version %u only. "
                     "Upgrade or downgrade the agent",
                     f.version, CF_PROTOCOL_VERSION);
            cf_log_warn("HELLO-REFUSED", "agency=%s version=%u", it->actor, f.version);
            refuse(b, it->routing, it->routing_len, CF_EVERSION, why);
            break;
        }
        say_welcome(b, s, it->routing, it->routing_len, &f);
        break;
    case CF_FRAME_DIRECTORY_REQUEST: {
        filled = false;
        const struct cf_bundle *d = &b->dir->bundle;
        struct cf_frame r = {.kind = CF_FRAME_DIRECTORY};
        r.agencies = d->agencies, r.agencies_len = d->agencies_len;
        r.policy = d->policy, r.policy_len = d->policy_len;
        r.sig = d->sig, r.sig_len = d->sig_len;
        send_to(b, it->routing, it->routing_len, &r);
        break;
    }
    case CF_FRAME_PING: {
        filled = false;
        struct cf_frame r = {.kind = CF_FRAME_PONG, .nonce = f.nonce};
        send_to(b, it->routing, it->routing_len, &r);
        break;
    }
    case CF_FRAME_PROOF_REQUEST:
        filled = false;
        answer_proof(b, it->actor, it->routing, it->routing_len, &f);
        break;
    case CF_FRAME_AUDIT_FOLLOW:
        filled = false;
        answer_follow(b, it->actor, it->routing, it->routing_len, &f);
        break;
    case CF_FRAME_CASE_REQUEST: {
        filled = false;
        struct cf_frame *r = malloc(sizeof *r);
        if (r) {
            cf_cases_info(b, it->actor, f.case_id, r);
            send_to(b, it->routing, it->routing_len, r);
            free(r);
        }
        break;
    }
    case CF_FRAME_STATUS_REQUEST: {
        filled = false;
        struct cf_frame r = {.kind = CF_FRAME_STATUS, .status = b->stats};
        r.status.tree_size = b->size;
        for (size_t i = 0; i < b->dir->n_agencies; i++)
            r.status.sessions += b->sessions[i].connected;
        send_to(b, it->routing, it->routing_len, &r);
        break;
    }
    default:
        reject_now(it, CF_EDECODE, "that frame only travels from the broker to agents");
    }
    cf_wire_frame_fini(&f);
    return filled;
}

static int delivered_hash(struct broker *b, MDB_txn *txn, uint64_t index, uint8_t out[32],
                          uint8_t message_id[CF_MESSAGE_ID_LEN], char *sender, size_t cap,
                          bool *is_report);

/* An answer's signature, checked ahead against the leaf it names as the
 * store holds it now. apply_answer takes the result only if that leaf still
 * gives the same message id and hash: the check is a pure function of what
 * it covers, so the outcome is the one checking it there would give. */
static void precheck_answer(struct loop *L, struct item *it)
{
    struct broker *b = L->b;
    MDB_txn *txn;
    cf_id sender;
    bool report;
    pthread_rwlock_rdlock(&L->readers);
    if (mdb_txn_begin(b->store.env, NULL, MDB_RDONLY, &txn) == 0) {
        if (delivered_hash(b, txn, it->about, it->ack_hash, it->ack_mid, sender, sizeof sender,
                           &report) == 0) {
            const struct cf_agency *a = cf_directory_find(b->dir, it->actor);
            const char *code = it->kind == ITEM_ACK ? CF_ACK_OK : it->nack_code;
            it->ack_valid = a && cf_envelope_ack_verify(it->ack_mid, it->ack_hash, code,
                                                        it->ack_sig, a->sign_pk) == 0;
            it->ack_checked = true;
        }
        mdb_txn_abort(txn);
    }
    pthread_rwlock_unlock(&L->readers);
}

/* Checks 1-5 of one submit read this turn. They read only the frame, the
 * directory and the time it was read, never the store, so they can run on a
 * worker while the batch before is applied: the outcome is the same as if
 * they had run as it arrived. Runs on any thread; touches only its item. */
static void check_one(void *ctx, size_t i)
{
    struct loop *L = ctx;
    struct item *it = &L->next[i];
    if (it->kind == ITEM_ACK || it->kind == ITEM_NACK) {
        precheck_answer(L, it);
        return;
    }
    if (!it->unchecked)
        return;
    it->unchecked = false;
    struct cf_error err = {0};
    int rc = cf_checks_stateless(L->b, it->actor, it->envelope, it->envelope_len, L->next_now,
                                 &it->env, &it->hdr, &err);
    if (it->hdr.version) { /* the header decoded: the reply can name the message */
        it->has_message_id = true;
        memcpy(it->message_id, it->hdr.message_id, sizeof it->message_id);
    }
    if (rc != 0)
        reject_now(it, rc, err.text);
}

/* Reads one ZeroMQ message: [routing id][frame]. Returns 1 with `it` filled,
 * 0 for a message answered or dropped, -1 when nothing more is waiting. */
static int receive_one(struct loop *L, struct item *it)
{
    struct broker *b = L->b;
    zmq_msg_t id, body;
    zmq_msg_init(&id);
    if (zmq_msg_recv(&id, b->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&id);
        return -1;
    }
    memset(it, 0, sizeof *it);
    it->routing_len = zmq_msg_size(&id) < CF_ROUTING_ID_MAX ? zmq_msg_size(&id) : CF_ROUTING_ID_MAX;
    memcpy(it->routing, zmq_msg_data(&id), it->routing_len);
    bool more = zmq_msg_more(&id);
    zmq_msg_close(&id);
    if (!more)
        return 0;
    zmq_msg_init(&body);
    if (zmq_msg_recv(&body, b->router, 0) < 0) {
        zmq_msg_close(&body);
        return 0;
    }
    /* Attribution by the ZAP User-Id only; never by the routing id or the frame. */
    const char *user = zmq_msg_gets(&body, "User-Id");
    int fd = zmq_msg_get(&body, ZMQ_SRCFD);
    int parts = 1;
    /* A rejected leaf names what it refused by hash, so every part counts,
     * oversize or one of many. */
    crypto_generichash_state hash;
    crypto_generichash_init(&hash, NULL, 0, sizeof it->frame_hash);
    crypto_generichash_update(&hash, zmq_msg_data(&body), zmq_msg_size(&body));
    while (zmq_msg_more(&body)) { /* one frame per message: drain and refuse the rest */
        zmq_msg_close(&body);
        zmq_msg_init(&body);
        zmq_msg_recv(&body, b->router, 0);
        crypto_generichash_update(&hash, zmq_msg_data(&body), zmq_msg_size(&body));
        parts++;
    }
    crypto_generichash_final(&hash, it->frame_hash, sizeof it->frame_hash);
    if (!user || !cf_broker_session(b, user)) {
        zmq_msg_close(&body);
        cf_log_warn("FRAME-UNATTRIBUTED", "dropped a frame without a directory User-Id");
        return 0;
    }
    snprintf(it->actor, sizeof it->actor, "%s", user);
    int filled;
    if (parts > 1) {
        reject_now(it, CF_EDECODE, "send one frame per message");
        filled = 1;
    } else if (zmq_msg_size(&body) > CF_MAX_FRAME) {
        char why[160];
        snprintf(why, sizeof why, "the frame is %zu bytes; the limit is %u", zmq_msg_size(&body),
                 CF_MAX_FRAME);
        reject_now(it, CF_ETOOBIG, why);
        filled = 1;
    } else {
        filled = take_frame(L, it, zmq_msg_data(&body), zmq_msg_size(&body));
    }
    /* Which socket the session's connection is (a Hello just moved it), so
     * PEER-GONE can name the agency. */
    struct session *s = session_at(b, it->actor, it->routing, it->routing_len);
    if (s)
        s->peer_fd = fd;
    zmq_msg_close(&body);
    return filled;
}

/* ---- Applying a batch ---- */

static int append_rejected(struct broker *b, MDB_txn *txn, uint64_t *size, struct item *it,
                           uint64_t now)
{
    struct cf_record rec = {.time = now, .event = CF_EVENT_REJECTED, .has_frame_hash = true};
    snprintf(rec.actor, sizeof rec.actor, "%s", it->actor);
    memcpy(rec.frame_hash, it->frame_hash, sizeof rec.frame_hash);
    snprintf(rec.code, sizeof rec.code, "%s", cf_error_name(it->code));
    it->out = OUT_REJECTED;
    return cf_audit_append(b, txn, size, &rec);
}

static int apply_submit(struct broker *b, MDB_txn *txn, uint64_t *size, struct item *it,
                        uint64_t now)
{
    struct cf_error err = {0};
    uint64_t repeat_of;
    int rc = cf_checks_stateful(b, txn, &it->env, &it->hdr, now, &repeat_of, &err);
    if (rc == CF_EMAPFULL || rc == CF_ENOSPACE || rc == CF_ESTORE || rc == CF_ECORRUPT ||
        rc == CF_ENOMEM)
        return rc;
    if (rc != 0) {
        it->code = rc;
        snprintf(it->reason, sizeof it->reason, "%s", err.text);
        if ((rc = append_rejected(b, txn, size, it, now)) != 0)
            return rc;
        /* An inquorate meeting is a ruling, not only a refusal: it is noticed
         * and starts the reconvene deadline. */
        return it->code == CF_EINQUORATE ? cf_cases_inquorate(b, txn, size, &it->hdr, now) : 0;
    }
    if (repeat_of != UINT64_MAX) {
        it->out = OUT_REPEAT;
        it->leaf = repeat_of;
        return 0;
    }
    const struct cf_header *h = &it->hdr;
    struct cf_record rec = {.time = now};
    cf_record_of_envelope(&rec, &it->env);
    snprintf(rec.actor, sizeof rec.actor, "%s", it->actor);
    uint64_t leaf = *size;
    uint8_t key[8], dedup[CF_ID_MAX + 1 + CF_MESSAGE_ID_LEN];
    cf_store_put_u64(key, leaf);
    bool members_only;
    if ((rc = cf_audit_append(b, txn, size, &rec)) != 0 ||
        (rc = cf_store_put_last(&b->store, txn, b->store.envelope, leaf, it->envelope,
                                it->envelope_len)) != 0 ||
        (rc = cf_store_put(&b->store, txn, b->store.dedup, dedup, cf_checks_dedup_key(dedup, h),
                           key, 8)) != 0 ||
        (rc = cf_cases_accepted(b, txn, size, h, leaf, now, &members_only)) != 0)
        return rc;
    struct cf_case *c = members_only ? malloc(sizeof *c) : NULL;
    if (members_only && (!c || cf_cases_load(b, txn, h->case_id, c) != 0)) {
        free(c);
        return CF_ECORRUPT;
    }
    /* A proposal reaches the conference's members now; its other readers
     * get it with the sealed determination, or never if it is rejected. */
    for (size_t i = 0; rc == 0 && i < h->n_recipients; i++)
        if (!c || cf_cases_member(c, h->recipients[i]))
            rc = cf_mailbox_put(&b->store, txn, h->recipients[i], leaf);
    free(c);
    if (rc != 0)
        return rc;
    it->out = OUT_ACCEPTED;
    it->leaf = leaf;
    return 0;
}

/* The hash the recipient signed: of the envelope, the notice, the
 * determination, or for a delivery report of its record. Also names who is
 * told of the answer (a notice's sender is the broker: nobody). */
static int delivered_hash(struct broker *b, MDB_txn *txn, uint64_t index, uint8_t out[32],
                          uint8_t message_id[CF_MESSAGE_ID_LEN], char *sender, size_t cap,
                          bool *is_report)
{
    MDB_val v;
    struct cf_record rec;
    int rc = cf_store_record(&b->store, txn, index, &v);
    if (rc != 0)
        return rc;
    if (cf_wire_record_decode(v.mv_data, v.mv_size, &rec, NULL) != 0)
        return CF_ECORRUPT;
    sender[0] = 0;
    *is_report = rec.event == CF_EVENT_DELIVERED || rec.event == CF_EVENT_NACKED;
    if (*is_report) {
        cf_envelope_hash(v.mv_data, v.mv_size, out);
        memcpy(message_id, rec.ack_message_id, CF_MESSAGE_ID_LEN);
        cf_wire_record_fini(&rec);
        return 0;
    }
    if (rec.event == CF_EVENT_NOTICE) {
        struct cf_notice n;
        rc = cf_wire_notice_decode(rec.notice, rec.notice_len, &n, NULL);
        if (rc == 0) {
            cf_envelope_hash(rec.notice, rec.notice_len, out);
            memcpy(message_id, n.notice_id, CF_MESSAGE_ID_LEN);
        }
    } else if (rec.event == CF_EVENT_ACCEPTED) {
        struct cf_header h;
        rc = cf_wire_header_decode(rec.header, rec.header_len, &h, NULL);
        if (rc == 0)
            rc = cf_store_envelope(&b->store, txn, index, &v);
        if (rc == 0) {
            cf_envelope_hash(v.mv_data, v.mv_size, out);
            memcpy(message_id, h.message_id, CF_MESSAGE_ID_LEN);
            snprintf(sender, cap, "%s", h.sender);
        }
    } else if (rec.event == CF_EVENT_DETERMINATION) {
        struct cf_determination d;
        rc = cf_store_envelope(&b->store, txn, index, &v);
        if (rc == 0 && (rc = cf_wire_determination_decode(v.mv_data, v.mv_size, &d, NULL)) == 0) {
            cf_envelope_hash(v.mv_data, v.mv_size, out);
            memcpy(message_id, d.id, CF_MESSAGE_ID_LEN);
        }
        cf_wire_determination_fini(&d);
    } else {
        rc = CF_ENOTFOUND;
    }
    cf_wire_record_fini(&rec);
    return rc == CF_EDECODE || rc == CF_ECANON ? CF_ECORRUPT : rc;
}

/* A nack means a recipient could not open what it was sent: the sender and
 * the duty team are told at once (DESIGN.md section 4), durably. */
static int notice_nack(struct broker *b, MDB_txn *txn, uint64_t *size, const struct item *it,
                       uint64_t now)
{
    MDB_val v;
    struct cf_record rec;
    struct cf_header h;
    int rc = cf_store_record(&b->store, txn, it->about, &v);
    if (rc != 0)
        return rc;
    bool message = cf_wire_record_decode(v.mv_data, v.mv_size, &rec, NULL) == 0 &&
                   rec.event == CF_EVENT_ACCEPTED &&
                   cf_wire_header_decode(rec.header, rec.header_len, &h, NULL) == 0;
    cf_wire_record_fini(&rec);
    if (!message)
        return 0; /* a nacked notice or determination: the leaf records it */
    struct cf_notice *n = malloc(sizeof *n);
    struct cf_case *c = malloc(sizeof *c);
    if (!n || !c) {
        free(n), free(c);
        return CF_ENOMEM;
    }
    bool have_case = cf_cases_load(b, txn, h.case_id, c) == 0;
    cf_notices_about(n, have_case ? c : NULL, &h, it->about);
    n->n_outstanding = 1;
    memcpy(n->outstanding[0], it->actor, sizeof(cf_id));
    snprintf(n->code, sizeof n->code, "%s", it->nack_code);
    struct cf_parties parties;
    cf_case_parties(have_case ? c : NULL, NULL, &parties);
    struct cf_route_ctx ctx = {
        .la_code = h.la_code, .sender = h.sender, .parties = have_case ? &parties : NULL};
    rc = cf_notices_issue(b, txn, size, CF_NOTICE_UNDELIVERED, n, &ctx, now);
    free(n), free(c);
    return rc;
}

/* Whether the answer is signed over these bytes: the pool's result when it
 * checked the same message id and hash, otherwise checked now. */
static bool answer_signed(const struct item *it, const struct cf_agency *a,
                          const uint8_t message_id[CF_MESSAGE_ID_LEN], const uint8_t hash[32],
                          const char *code)
{
    if (it->ack_checked && memcmp(it->ack_mid, message_id, CF_MESSAGE_ID_LEN) == 0 &&
        memcmp(it->ack_hash, hash, CF_HASH_LEN) == 0)
        return it->ack_valid;
    return cf_envelope_ack_verify(message_id, hash, code, it->ack_sig, a->sign_pk) == 0;
}

static int apply_answer(struct broker *b, MDB_txn *txn, uint64_t *size, struct item *it,
                        uint64_t now)
{
    bool ack = it->kind == ITEM_ACK;
    uint8_t hash[32], message_id[CF_MESSAGE_ID_LEN];
    /* Only an answer to an entry still in the mailbox counts: a repeated ack is
     * a no-op, and nobody answers for another agency's mailbox. */
    int rc = cf_mailbox_take(&b->store, txn, it->actor, it->about);
    if (rc == CF_ENOTFOUND) {
        it->out = OUT_IGNORED;
        return 0;
    }
    bool report = false;
    if (rc == 0)
        rc = delivered_hash(b, txn, it->about, hash, message_id, it->report_to,
                            sizeof it->report_to, &report);
    if (rc != 0)
        return rc;
    const char *code = ack ? CF_ACK_OK : it->nack_code;
    const struct cf_agency *a = cf_directory_find(b->dir, it->actor);
    if (memcmp(message_id, it->message_id, sizeof message_id) != 0 ||
        !answer_signed(it, a, message_id, hash, code)) {
        it->code = CF_ESIG;
        snprintf(it->reason, sizeof it->reason,
                 "the %s for leaf %" PRIu64 " is not signed by %s over that message; it stays "
                 "in the mailbox",
                 ack ? "DeliveryAck" : "DeliveryNack", it->about, it->actor);
        /* The entry stays: put it back in this same transaction. */
        if ((rc = cf_mailbox_put(&b->store, txn, it->actor, it->about)) != 0)
            return rc;
        return append_rejected(b, txn, size, it, now);
    }
    if (report) {
        /* The delivered leaf is the record; the sender's receipt of it is
         * not logged again. */
        it->out = OUT_REPORT_TAKEN;
        return 0;
    }
    if (!ack && cf_error_from_name(code) == 0) {
        /* An unknown code is still recorded: the signature covers it. */
        cf_log_warn("NACK-CODE-UNKNOWN", "from=%s leaf=%" PRIu64, it->actor, it->about);
    }
    struct cf_record rec = {.time = now,
                            .event = ack ? CF_EVENT_DELIVERED : CF_EVENT_NACKED,
                            .has_about = true,
                            .about = it->about};
    snprintf(rec.actor, sizeof rec.actor, "%s", it->actor);
    memcpy(rec.envelope_hash, hash, 32);
    memcpy(rec.ack_message_id, message_id, sizeof rec.ack_message_id);
    memcpy(rec.ack_signature, it->ack_sig, 64);
    if (!ack)
        snprintf(rec.code, sizeof rec.code, "%s", code);
    it->leaf = *size;
    it->out = OUT_REPORT;
    if ((rc = cf_audit_append(b, txn, size, &rec)) != 0)
        return rc;
    /* The sender learns of it through its mailbox, so even offline. */
    if (it->report_to[0] && strcmp(it->report_to, it->actor) != 0 &&
        (rc = cf_mailbox_put(&b->store, txn, it->report_to, it->leaf)) != 0)
        return rc;
    return ack ? 0 : notice_nack(b, txn, size, it, now);
}

/* Applies every item in one transaction; on success the caller commits. */
static int apply_batch(struct loop *L, MDB_txn *txn, uint64_t now, bool refuse_submits,
                       uint64_t *size, size_t *written)
{
    struct broker *b = L->b;
    *size = b->size;
    *written = 0;
    /* Deadlines and undelivered alerts that fell due go first, in this same
     * commit, so the notices are as durable as the messages. */
    int trc = cf_timers_fire(b, txn, size, now, TIMERS_PER_BATCH, &L->timers_fired);
    L->purged = 0;
    if (trc == 0 && L->purge)
        trc = cf_retention_purge(b, txn, size, now, &L->purged);
    if (trc != 0)
        return trc;
    for (size_t i = 0; i < L->n; i++) {
        struct item *it = &L->items[i];
        int rc = 0;
        it->out = OUT_NONE;
        if ((it->kind == ITEM_SUBMIT || it->kind == ITEM_REJECT) && refuse_submits) {
            it->out = OUT_REFUSED; /* answered CF_ENOSPACE after the batch, without a leaf */
            continue;
        }
        switch (it->kind) {
        case ITEM_SUBMIT:
            rc = apply_submit(b, txn, size, it, now);
            break;
        case ITEM_REJECT:
            rc = append_rejected(b, txn, size, it, now);
            break;
        case ITEM_ACK:
        case ITEM_NACK:
            rc = apply_answer(b, txn, size, it, now);
            break;
        }
        if (rc != 0)
            return rc;
        if (it->out != OUT_IGNORED && it->out != OUT_REPEAT && it->out != OUT_REFUSED)
            (*written)++;
    }
    return 0;
}

static bool disk_low(const struct broker *b)
{
    struct statvfs st;
    if (b->cfg.min_free_mb == 0 || statvfs(b->cfg.state_dir, &st) != 0)
        return false;
    return (unsigned long long)st.f_bavail * st.f_frsize < b->cfg.min_free_mb << 20;
}

/* Whether the data file has reached the process's file-size limit: LMDB
 * reports a write cut short there (the file ends at the limit) as EIO, though
 * it means the same as EFBIG. */
static bool at_file_size_limit(const struct broker *b)
{
    struct rlimit rl;
    struct stat st;
    char path[CF_PATH_MAX + 16];
    if (getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return false;
    snprintf(path, sizeof path, "%s/data.mdb", b->cfg.state_dir);
    return stat(path, &st) == 0 && (rlim_t)st.st_size >= rl.rlim_cur;
}

static void forget_batch(struct loop *L);
static int commit_once(struct loop *L, uint64_t now);

/* Applies and commits the batch, growing the map and replaying when it fills.
 * Returns 0 once committed (submits refused below the free-space watermark
 * are OUT_REFUSED), or the error that left nothing written. */
static int commit_batch(struct loop *L, uint64_t now)
{
    int rc = commit_once(L, now);
    if (rc != 0)
        forget_batch(L);
    return rc;
}

static int commit_once(struct loop *L, uint64_t now)
{
    struct broker *b = L->b;
    bool refuse = disk_low(b);
    for (;;) {
        MDB_txn *txn;
        int rc = cf_writer_txn(b, &txn);
        if (rc != 0)
            return rc;
        uint64_t size;
        size_t written;
        char *note = NULL;
        size_t note_len = 0;
        rc = apply_batch(L, txn, now, refuse, &size, &written);
        if (rc == 0 && size > b->size)
            rc = cf_audit_checkpoint(b, txn, size, &note, &note_len);
        if (rc == 0)
            rc = cf_writer_durable(b);
        else
            cf_writer_abandon(b);
        if (rc == CF_EMAPFULL) {
            free(note);
            size_t grown = b->store.map_size * 2, max = (size_t)b->cfg.map_max_mb << 20;
            if (b->store.map_size >= max) {
                cf_log_error("STORE-FULL", "map_mb=%zu map_max_mb=%llu", b->store.map_size >> 20,
                             b->cfg.map_max_mb);
                return CF_ENOSPACE;
            }
            struct cf_error err = {0};
            pthread_rwlock_wrlock(&L->readers);
            int grc = cf_store_grow(&b->store, grown < max ? grown : max, &err);
            pthread_rwlock_unlock(&L->readers);
            if (grc != 0) {
                cf_log_error("STORE-GROW-FAILED", "%s", err.text);
                return CF_ENOSPACE;
            }
            cf_log_info("STORE-GROWN", "map_mb=%zu", b->store.map_size >> 20);
            continue; /* replay the same batch into the larger map */
        }
        if (rc == CF_ESTORE && at_file_size_limit(b))
            rc = CF_ENOSPACE;
        if (rc != 0) {
            free(note);
            cf_log_error("STORE-COMMIT-FAILED", "error=%s", cf_error_name(rc));
            return rc;
        }
        if (note) {
            free(b->checkpoint);
            b->checkpoint = note;
            b->checkpoint_len = note_len;
            b->size = size;
        }
        if (written > 0) {
            b->stats.commits++;
            b->stats.frames += written;
        }
        return 0;
    }
}

/* After a batch that did not commit, nothing it decided happened: every item
 * is answered as not recorded, and what an ack answered is offered again. */
static void forget_batch(struct loop *L)
{
    for (size_t i = 0; i < L->n; i++) {
        struct item *it = &L->items[i];
        it->out = OUT_NONE;
        struct session *s = it->kind == ITEM_ACK || it->kind == ITEM_NACK
                                ? session_at(L->b, it->actor, it->routing, it->routing_len)
                                : NULL;
        if (s && s->next > it->about) {
            s->next = it->about; /* its entry is still in the mailbox: offer it again */
            if (s->inflight > 0)
                s->inflight--;
        }
    }
}

/* ---- After the commit ---- */

static void log_outcome(const struct item *it)
{
    switch (it->out) {
    case OUT_ACCEPTED:
        cf_log_info("MESSAGE-ACCEPTED", "leaf=%" PRIu64 " type=%s sender=%s case=%s recipients=%zu",
                    it->leaf, cf_header_type_name(it->hdr.type), it->actor, it->hdr.case_id,
                    it->hdr.n_recipients);
        break;
    case OUT_REPEAT:
        cf_log_info("MESSAGE-REPEATED", "leaf=%" PRIu64 " sender=%s", it->leaf, it->actor);
        break;
    case OUT_REJECTED:
        cf_log_info("MESSAGE-REJECTED", "sender=%s code=%s reason=\"%s\"", it->actor,
                    cf_error_name(it->code), it->reason);
        break;
    case OUT_REPORT:
        cf_log_info(it->kind == ITEM_ACK ? "MESSAGE-DELIVERED" : "MESSAGE-NACKED",
                    "about=%" PRIu64 " recipient=%s leaf=%" PRIu64 " code=%s", it->about, it->actor,
                    it->leaf, it->kind == ITEM_ACK ? CF_ACK_OK : it->nack_code);
        break;
    default:
        break;
    }
}

static void answer(struct loop *L, int batch_rc)
{
    struct broker *b = L->b;
    MDB_txn *txn = NULL;
    if (cf_writer_txn(b, &txn) != 0)
        txn = NULL;
    for (size_t i = 0; i < L->n; i++) {
        struct item *it = &L->items[i];
        if (it->kind == ITEM_REJECT && (it->out == OUT_REFUSED || batch_rc != 0)) {
            send_rejected(b, it); /* its own fault, unrecorded while storage is refused */
            continue;
        }
        if (it->kind == ITEM_SUBMIT && (it->out == OUT_REFUSED || batch_rc != 0)) {
            bool full = it->out == OUT_REFUSED || batch_rc == CF_ENOSPACE;
            it->code = full ? CF_ENOSPACE : CF_ESTORE;
            snprintf(it->reason, sizeof it->reason,
                     full ? "the broker's storage is full; nothing was recorded. Send the same "
                            "message again later"
                          : "the broker could not record it (a storage error); nothing was "
                            "recorded. Send the same message again later");
            cf_log_warn("MESSAGE-REFUSED", "sender=%s code=%s", it->actor, cf_error_name(it->code));
            send_rejected(b, it);
            continue;
        }
        if (batch_rc != 0)
            continue; /* an ack or nack: its entry stays and is offered again */
        log_outcome(it);
        switch (it->out) {
        case OUT_ACCEPTED:
            b->stats.accepted++;
            if (txn)
                send_accepted(b, txn, it);
            break;
        case OUT_REPEAT:
            if (txn)
                send_accepted(b, txn, it);
            break;
        case OUT_REJECTED:
            b->stats.rejected++;
            send_rejected(b, it);
            break;
        case OUT_REPORT:
        case OUT_REPORT_TAKEN: {
            b->stats.delivered += it->out == OUT_REPORT && it->kind == ITEM_ACK;
            /* Only a real answer frees credit: repeats cannot widen the window. */
            struct session *from = session_at(b, it->actor, it->routing, it->routing_len);
            if (from && from->inflight > 0)
                from->inflight--;
            break;
        }
        case OUT_IGNORED: {
            /* An answer for an entry already gone, say acked on an older
             * connection: this connection was still sent it, so its credit
             * comes back, or the window would shrink until the next Hello. */
            struct session *from = session_at(b, it->actor, it->routing, it->routing_len);
            if (from && from->inflight > 0 && it->about < from->next)
                from->inflight--;
            break;
        }
        default:
            break;
        }
    }
}

/* ---- Delivery ---- */

struct pump {
    struct broker *b;
    struct session *s;
    MDB_txn *txn;
};

/* A delivery report for the sender: the recipient's signed answer, as its
 * leaf records it. Like any offer it takes a credit until acknowledged. */
static int offer_report(struct broker *b, struct session *s, const struct cf_record *rec,
                        uint64_t index, const MDB_val *record)
{
    struct cf_frame f = {.kind = CF_FRAME_REPORT,
                         .has_message_id = true,
                         .leaf_index = rec->about,
                         .report_leaf = index,
                         .record = record->mv_data,
                         .record_len = record->mv_size};
    memcpy(f.message_id, rec->ack_message_id, sizeof f.message_id);
    snprintf(f.recipient, sizeof f.recipient, "%s", rec->actor);
    snprintf(f.outcome, sizeof f.outcome, "%s",
             rec->event == CF_EVENT_DELIVERED ? "delivered" : "nacked");
    snprintf(f.code, sizeof f.code, "%s", rec->code);
    int rc = send_to(b, s->routing, s->routing_len, &f);
    if (rc == CF_ETIMEOUT) {
        s->blocked = true;
        return 1;
    }
    if (rc == CF_ENOTFOUND) {
        s->connected = false;
        return 1;
    }
    s->next = index + 1;
    s->inflight++;
    return 0;
}

/* A sealed determination for `agency`: its bytes, and the proposal's
 * envelope for a final reader; the liaison gets neither the envelope nor any
 * key to it, only the NRM return the determination carries. */
static void offer_determination(struct broker *b, MDB_txn *txn, const struct cf_record *rec,
                                uint64_t index, const char *agency, struct cf_frame *f)
{
    MDB_val dv, ev;
    if (cf_store_envelope(&b->store, txn, index, &dv) != 0)
        return;
    f->determination = dv.mv_data;
    f->determination_len = dv.mv_size;
    memcpy(f->determination_signature, rec->determination_signature, CF_SIG_LEN);
    struct cf_header h;
    struct cf_envelope env;
    if (cf_store_envelope(&b->store, txn, rec->determination_of, &ev) != 0)
        return;
    if (cf_envelope_decode(ev.mv_data, ev.mv_size, &env, &h, NULL) == 0) {
        for (size_t i = 0; i < h.n_recipients; i++)
            if (strcmp(h.recipients[i], agency) == 0) {
                f->envelope = ev.mv_data;
                f->envelope_len = ev.mv_size;
            }
    }
    cf_envelope_fini(&env);
}

static int offer(void *ctx, uint64_t index)
{
    struct pump *p = ctx;
    struct broker *b = p->b;
    struct session *s = p->s;
    if (s->inflight >= b->cfg.credit_window)
        return 1;
    MDB_val rv, ev;
    struct cf_record rec;
    struct cf_frame f = {.kind = CF_FRAME_DELIVER, .leaf_index = index};
    int rc = cf_store_record(&b->store, p->txn, index, &rv);
    if (rc == 0)
        rc = cf_wire_record_decode(rv.mv_data, rv.mv_size, &rec, NULL);
    if (rc != 0) {
        cf_log_error("DELIVER-UNREADABLE", "leaf=%" PRIu64 " error=%s", index, cf_error_name(rc));
        s->next = index + 1; /* do not spin on a damaged entry */
        return 0;
    }
    if (rec.event == CF_EVENT_NOTICE) {
        f.notice = rec.notice;
        f.notice_len = rec.notice_len;
        memcpy(f.notice_signature, rec.notice_signature, CF_SIG_LEN);
    } else if (rec.event == CF_EVENT_DETERMINATION) {
        offer_determination(b, p->txn, &rec, index, cf_broker_agency(b, s)->id, &f);
    } else if (rec.event == CF_EVENT_DELIVERED || rec.event == CF_EVENT_NACKED) {
        rc = offer_report(b, s, &rec, index, &rv);
        cf_wire_record_fini(&rec);
        return rc;
    } else if (cf_store_envelope(&b->store, p->txn, index, &ev) == 0) {
        f.envelope = ev.mv_data;
        f.envelope_len = ev.mv_size;
    }
    f.checkpoint = b->checkpoint;
    f.checkpoint_len = b->checkpoint_len;
    f.record = rv.mv_data;
    f.record_len = rv.mv_size;
    uint64_t seen = s->seen;
    rc = cf_audit_inclusion(b, p->txn, index, b->size, &f);
    bool sendable = f.envelope || f.notice || f.determination;
    if (rc == 0 && sendable && !cf_audit_serves_intact(b, &rec, index, rv.mv_data, rv.mv_size, &f)) {
        cf_log_error("STORE-DAMAGED", "leaf=%" PRIu64 " agency=%s not_sent=1",
                     index, cf_broker_agency(b, s)->id);
        cf_wire_record_fini(&rec);
        s->next = index + 1;
        return 0;
    }
    if (rc == 0)
        rc = add_consistency(b, p->txn, s, &f);
    if (rc == 0 && sendable)
        rc = send_to(b, s->routing, s->routing_len, &f);
    if (rc != 0 || !sendable)
        s->seen = seen; /* not sent: the connection still holds the older checkpoint */
    cf_wire_record_fini(&rec);
    if (rc == 0 && !sendable) {
        /* Its bytes are gone (retention) or damaged: nothing to offer, and
         * it must not take a credit the agency never gets back. */
        cf_log_error("DELIVER-NOTHING", "leaf=%" PRIu64 " agency=%s", index,
                     cf_broker_agency(b, s)->id);
        s->next = index + 1;
        return 0;
    }
    if (rc == CF_ETIMEOUT) {
        s->blocked = true;
        return 1;
    }
    if (rc == CF_ENOTFOUND) {
        s->connected = false;
        return 1;
    }
    s->next = index + 1;
    s->inflight++;
    return 0;
}

/* Offers each connected session its waiting mailbox entries, within its credit. */
static void pump_all(struct broker *b)
{
    MDB_txn *txn;
    if (cf_writer_txn(b, &txn) != 0)
        return;
    for (size_t i = 0; i < b->dir->n_agencies; i++) {
        struct session *s = &b->sessions[i];
        if (!s->connected || s->inflight >= b->cfg.credit_window)
            continue;
        s->blocked = false;
        struct pump p = {b, s, txn};
        int rc = cf_mailbox_scan(&b->store, txn, b->dir->agencies[i].id, s->next, offer, &p);
        if (rc < 0)
            cf_log_error("MAILBOX-SCAN-FAILED", "agency=%s error=%s", b->dir->agencies[i].id,
                         cf_error_name(rc));
    }
}

static int count_entry(void *ctx, uint64_t index)
{
    (void)index;
    (*(uint64_t *)ctx)++;
    return 0;
}

/* A Hello: the agency's deliveries now go to this connection, starting again
 * from the beginning of its mailbox; answers with a Welcome. */
/* A restored log's link, for an agent that kept a checkpoint of the old
 * origin: the origin leaf's record (citing the old checkpoint) and the proof
 * that today's tree extends that checkpoint. */
static void add_origin_link(struct broker *b, MDB_txn *txn, struct cf_frame *w)
{
    MDB_val v;
    struct cf_record rec;
    struct cf_checkpoint prev;
    if (b->origin_leaf == UINT64_MAX || cf_store_record(&b->store, txn, b->origin_leaf, &v) != 0)
        return;
    bool ok = cf_wire_record_decode(v.mv_data, v.mv_size, &rec, NULL) == 0 &&
              rec.event == CF_EVENT_ORIGIN && rec.previous_checkpoint &&
              cf_checkpoint_open(rec.previous_checkpoint, rec.previous_checkpoint_len,
                                 b->keys->sign_pk, &prev, NULL) == 0;
    cf_wire_record_fini(&rec);
    struct cf_frame proof = {.kind = CF_FRAME_NONE};
    if (!ok || cf_audit_consistency(b, txn, prev.size, b->size, &proof) != 0)
        return;
    w->record = v.mv_data;
    w->record_len = v.mv_size;
    w->n_consistency = proof.n_proof;
    memcpy(w->consistency, proof.proof, proof.n_proof * CF_MERKLE_HASH);
}

static void say_welcome(struct broker *b, struct session *s, const uint8_t *routing,
                        size_t routing_len, const struct cf_frame *hello)
{
    const struct cf_agency *a = cf_broker_agency(b, s);
    /* Whatever was in flight on an older connection is offered again here. */
    memcpy(s->routing, routing, routing_len);
    s->routing_len = routing_len;
    s->connected = true;
    s->next = 0;
    s->inflight = 0;
    s->blocked = false;
    s->seen = hello->last_checkpoint_size <= b->size ? b->size : 0;
    struct cf_frame w = {.kind = CF_FRAME_WELCOME};
    w.checkpoint = b->checkpoint;
    w.checkpoint_len = b->checkpoint_len;
    MDB_txn *txn;
    if (cf_writer_txn(b, &txn) == 0) {
        if (hello->last_checkpoint_size > b->size)
            cf_log_warn("HELLO-AHEAD",
                        "agency=%s seen=%" PRIu64 " size=%" PRIu64
                        " (this log is smaller than one the agency has seen)",
                        a->id, hello->last_checkpoint_size, b->size);
        else if (cf_audit_consistency(b, txn, hello->last_checkpoint_size, b->size, &w) != 0)
            w.n_proof = 0;
        if (cf_mailbox_scan(&b->store, txn, a->id, 0, count_entry, &w.mailbox_depth) != 0)
            w.mailbox_depth = 0;
        add_origin_link(b, txn, &w); /* borrows from txn: sent before it ends */
        cf_log_info("AGENCY-HELLO", "agency=%s version=%u mailbox=%" PRIu64, a->id, hello->version,
                    w.mailbox_depth);
        send_to(b, routing, routing_len, &w);
        return;
    }
    cf_log_info("AGENCY-HELLO", "agency=%s version=%u mailbox=%" PRIu64, a->id, hello->version,
                w.mailbox_depth);
    send_to(b, routing, routing_len, &w);
}

/* ---- The loop ---- */

static int open_router(struct broker *b, struct cf_error *err)
{
    b->router = zmq_socket(b->zmq, ZMQ_ROUTER);
    if (!b->router)
        return cf_error_set(err, CF_ECONFIG, "cannot make a ROUTER socket");
    int one = 1, zero = 0, hb = (int)b->cfg.heartbeat_ms, hb_timeout = 3 * hb;
    int64_t maxmsg = CF_MAX_TRANSPORT;
    if (zmq_setsockopt(b->router, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(b->router, ZMQ_CURVE_SECRETKEY, b->keys->curve_sk, CF_CURVE_KEY) != 0 ||
        zmq_setsockopt(b->router, ZMQ_ZAP_DOMAIN, CF_ZAP_DOMAIN, strlen(CF_ZAP_DOMAIN)) != 0 ||
        zmq_setsockopt(b->router, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof one) != 0 ||
        zmq_setsockopt(b->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0 ||
        zmq_setsockopt(b->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        zmq_setsockopt(b->router, ZMQ_HEARTBEAT_IVL, &hb, sizeof hb) != 0 ||
        zmq_setsockopt(b->router, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout) != 0 ||
        zmq_setsockopt(b->router, ZMQ_LINGER, &zero, sizeof zero) != 0)
        return cf_error_set(err, CF_ECONFIG, "cannot set the ROUTER's options: %s",
                            zmq_strerror(zmq_errno()));
    if (zmq_bind(b->router, b->cfg.endpoint) != 0)
        return cf_error_set(err, CF_ECONFIG, "cannot bind %s: %s", b->cfg.endpoint,
                            zmq_strerror(zmq_errno()));
    /* Tests bind port 0 (tcp://127.0.0.1:*): publish the port the kernel chose. */
    char endpoint[256], path[CF_PATH_MAX + 32];
    size_t len = sizeof endpoint;
    zmq_getsockopt(b->router, ZMQ_LAST_ENDPOINT, endpoint, &len);
    snprintf(path, sizeof path, "%s/broker.endpoint", b->cfg.state_dir);
    struct cf_error werr = {0};
    if (cf_file_write_atomic(path, endpoint, strlen(endpoint), 0644, &werr) != 0)
        return cf_error_set(err, CF_EIO, "%s", werr.text);
    cf_log_info("BROKER-LISTENING", "endpoint=%s leaves=%" PRIu64 " directory_serial=%" PRIu64,
                endpoint, b->size, b->dir->serial);
    return 0;
}

/* A connection that ends, a heartbeat timeout among them, is logged as
 * PEER-GONE with the agency whose session lived on it: libzmq 4.3.4 has no
 * ZMQ_ROUTER_NOTIFY (DESIGN.md section 12), so the ROUTER's monitor says it.
 * Only a log line: a session still learns of a gone peer from its next send. */
static const char peers_endpoint[] = "inproc://childfirst-broker-peers";

static int open_peers(struct loop *L, struct cf_error *err)
{
    struct broker *b = L->b;
    for (size_t i = 0; i < b->dir->n_agencies; i++)
        b->sessions[i].peer_fd = -1;
    if (zmq_socket_monitor(b->router, peers_endpoint, ZMQ_EVENT_DISCONNECTED) != 0 ||
        !(L->peers = zmq_socket(b->zmq, ZMQ_PAIR)) || zmq_connect(L->peers, peers_endpoint) != 0)
        return cf_error_set(err, CF_ECONFIG, "cannot monitor the ROUTER's connections: %s",
                            zmq_strerror(zmq_errno()));
    return 0;
}

/* Drains the monitor: each event is two parts, [event u16, value u32] and an
 * address; a DISCONNECTED event's value is the socket that closed. */
static void watch_peers(struct loop *L)
{
    struct broker *b = L->b;
    for (;;) {
        zmq_msg_t ev, addr;
        uint16_t event = 0;
        uint32_t fd = 0;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, L->peers, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        if (zmq_msg_size(&ev) >= 6) {
            memcpy(&event, zmq_msg_data(&ev), sizeof event);
            memcpy(&fd, (const uint8_t *)zmq_msg_data(&ev) + 2, sizeof fd);
        }
        zmq_msg_close(&ev);
        zmq_msg_init(&addr);
        zmq_msg_recv(&addr, L->peers, 0);
        zmq_msg_close(&addr);
        if (event != ZMQ_EVENT_DISCONNECTED)
            continue;
        const char *agency = "none"; /* refused, or it never said Hello */
        for (size_t i = 0; i < b->dir->n_agencies; i++)
            if (b->sessions[i].peer_fd >= 0 && (uint32_t)b->sessions[i].peer_fd == fd) {
                agency = b->dir->agencies[i].id;
                b->sessions[i].peer_fd = -1;
            }
        cf_log_info("PEER-GONE", "agency=%s", agency);
    }
}

/* Frees what a batch's items hold. */
static void free_items(struct item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(items[i].envelope);
        cf_envelope_fini(&items[i].env);
    }
}

/* Commits the checked batch (with the timers and purge due), answers it and
 * frees it; sets when the timers are next looked at. */
static void commit_and_answer(struct loop *L, uint64_t now, uint64_t *next_timer,
                              bool *purge_backlog)
{
    int batch_rc = commit_batch(L, now);
    answer(L, batch_rc);
    free_items(L->items, L->n);
    L->n = 0;
    /* After a failed batch, try its timers again in a second, not at once. */
    *next_timer = batch_rc == 0 ? cf_timers_next(L->b) : now + 1000;
    /* A full purge leaves more behind it: go on next turn. */
    *purge_backlog = batch_rc == 0 && L->purged == CF_MAX_PURGED;
}

int cf_loop_run(struct broker *b, struct cf_error *err)
{
    struct loop L = {.b = b};
    int rc;
    pthread_rwlock_init(&L.readers, NULL);
    b->zmq = zmq_ctx_new();
    b->sessions = calloc(b->dir->n_agencies ? b->dir->n_agencies : 1, sizeof *b->sessions);
    L.items = calloc(b->cfg.batch_max, sizeof *L.items);
    L.next = calloc(b->cfg.batch_max, sizeof *L.next);
    if (!b->zmq || !b->sessions || !L.items || !L.next) {
        rc = cf_error_set(err, CF_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = cf_verify_pool_new((unsigned)b->cfg.verify_threads, &L.pool)) != 0) {
        rc = cf_error_set(err, rc, "cannot start the verify_threads workers");
        goto out;
    }
    if ((rc = cf_zap_open(b, err)) != 0 || (rc = open_router(b, err)) != 0 ||
        (rc = open_peers(&L, err)) != 0)
        goto out;
    cf_log_info("BROKER-VERIFY-POOL", "threads=%u", cf_verify_pool_threads(L.pool));
    uint64_t next_timer = cf_timers_next(b), last_retention = 0;
    bool purge_backlog = false;
    while (!cf_broker_stop) {
        bool blocked = false;
        for (size_t i = 0; i < b->dir->n_agencies; i++)
            blocked |= b->sessions[i].connected && b->sessions[i].blocked;
        zmq_pollitem_t items[] = {
            {b->zap, 0, ZMQ_POLLIN, 0}, {b->router, 0, ZMQ_POLLIN, 0}, {L.peers, 0, ZMQ_POLLIN, 0}};
        /* Wake for the next timer, but at least once a second: the test
         * clock may jump ahead, and the disk may fill or free meanwhile. A
         * checked batch waiting to be applied does not wait at all. */
        uint64_t wall = cf_clock_now();
        long wait = L.n > 0 || next_timer <= wall ? 0
                    : next_timer - wall < 1000    ? (long)(next_timer - wall)
                                                  : 1000;
        long flush = cf_writer_flush(b); /* the LMDB commit, when it is due */
        if (flush >= 0 && flush < wait)
            wait = flush;
        int n = zmq_poll(items, 3, blocked && wait > 20 ? 20 : wait);
        if (n < 0) {
            if (zmq_errno() == EINTR)
                continue;
            rc = cf_error_set(err, CF_EIO, "poll failed: %s", zmq_strerror(zmq_errno()));
            goto out;
        }
        if (items[0].revents & ZMQ_POLLIN)
            cf_zap_handle(b);
        if (items[2].revents & ZMQ_POLLIN)
            watch_peers(&L); /* before the frames: a new connection may reuse the socket */
        uint64_t now = cf_clock_now();
        L.n_next = 0;
        L.next_now = now;
        if (items[1].revents & ZMQ_POLLIN) {
            for (size_t reads = 0;
                 L.n_next < b->cfg.batch_max && reads < READS_PER_TURN(b->cfg.batch_max); reads++) {
                int got = receive_one(&L, &L.next[L.n_next]);
                if (got < 0)
                    break;
                if (got > 0)
                    L.n_next++;
            }
        }
        /* The frames just read are checked on the pool while this thread
         * applies and commits the batch read before them. Batches are applied
         * in the order they were read, each frame in its place. */
        cf_verify_pool_start(L.pool, check_one, &L, L.n_next);
        bool timers_due = now >= next_timer;
        /* Retention is looked at once a minute, and runs inside an ordinary
         * batch, a few envelopes at a time. */
        bool look =
            purge_backlog || now - last_retention >= RETENTION_CHECK_MS || now < last_retention;
        L.purge = look && cf_retention_due(b, now);
        if (look)
            last_retention = now;
        bool overlap = L.n > 0;
        if (overlap || timers_due || L.purge)
            commit_and_answer(&L, now, &next_timer, &purge_backlog);
        cf_verify_pool_wait(L.pool);
        struct item *applied = L.items;
        L.items = L.next, L.n = L.n_next;
        L.next = applied, L.n_next = 0;
        /* Nothing was waiting to overlap with: the batch just checked is
         * committed now rather than a turn later, so one frame alone (1 in
         * flight) pays for no pipeline. */
        if (!overlap && L.n > 0) {
            L.purge = false; /* looked at, and done if due, by the commit above */
            commit_and_answer(&L, now, &next_timer, &purge_backlog);
        }
        pump_all(b);
    }
    rc = 0;
    cf_log_info("BROKER-STOPPING", "leaves=%" PRIu64, b->size);
out:
    /* A checked batch not yet applied was never answered: its senders send
     * the same bytes again to the next broker. */
    if (L.items)
        free_items(L.items, L.n);
    cf_verify_pool_destroy(&L.pool);
    free(L.items);
    free(L.next);
    pthread_rwlock_destroy(&L.readers);
    /* The monitor stops before its reader closes: libzmq sends each event
     * blocking, holding the socket's monitor lock, and a PAIR with no peer
     * never takes it, so a connection ending now would hang the stop. */
    if (b->router)
        zmq_socket_monitor(b->router, NULL, 0);
    if (L.peers)
        zmq_close(L.peers);
    if (b->router)
        zmq_close(b->router);
    if (b->zap)
        zmq_close(b->zap);
    if (b->zmq)
        zmq_ctx_term(b->zmq);
    b->router = b->zap = b->zmq = NULL;
    return rc;
}
