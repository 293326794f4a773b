/* The agent's connection to the broker. ZeroMQ reconnects by itself, so the
 * agent watches the socket monitor: after each successful handshake it asks for
 * the signed directory and says Hello with the size of the last checkpoint it
 * kept, and the broker answers with a consistency proof from there. A broker
 * that shows this agency a history that does not extend the one it kept is
 * refused loudly: that is how a split view is caught. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "agent_http.h"
#include "agent_link.h"
#include "curve_client.h"
#include "agent_store.h"
#include "agent_text.h"
#include "childfirst/log.h"
#include "childfirst/store.h"

static const char monitor_endpoint[] = "inproc://childfirst-agent-monitor";

#define RESYNC_RETRY_MS 5000 /* a resynchronising Hello unanswered this long is sent again */

int agent_link_open(struct agent *a, struct cf_error *err)
{
    int rc = cf_curve_client_new(a->zmq, a->keys, a->broker_curve_pk, (unsigned)a->cfg.heartbeat_ms,
                                 &a->dealer, err);
    if (rc != 0)
        return rc;
    if (zmq_socket_monitor(a->dealer, monitor_endpoint,
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0)
        return cf_error_set(err, CF_ECONFIG, "cannot monitor the DEALER: %s",
                            zmq_strerror(zmq_errno()));
    a->monitor = zmq_socket(a->zmq, ZMQ_PAIR);
    if (!a->monitor || zmq_connect(a->monitor, monitor_endpoint) != 0)
        return cf_error_set(err, CF_ECONFIG, "cannot read the DEALER's monitor");
    if (zmq_connect(a->dealer, a->cfg.broker) != 0)
        return cf_error_set(err, CF_ECONFIG, "cannot connect to %s: %s", a->cfg.broker,
                            zmq_strerror(zmq_errno()));
    return 0;
}

void agent_link_close(struct agent *a)
{
    if (a->dealer) {
        zmq_socket_monitor(a->dealer, NULL, 0);
        zmq_close(a->dealer);
    }
    if (a->monitor)
        zmq_close(a->monitor);
    a->dealer = a->monitor = NULL;
}

bool agent_link_send(struct agent *a, const struct cf_frame *f)
{
    uint8_t *buf;
    size_t len;
    if (cf_wire_frame_encode(f, &buf, &len) != 0)
        return false;
    bool ok = zmq_send(a->dealer, buf, len, ZMQ_DONTWAIT) >= 0;
    free(buf);
    return ok;
}

/* Hello names the kept checkpoint; the Welcome's consistency proof starts there. */
static bool send_hello(struct agent *a)
{
    struct cf_frame h = {.kind = CF_FRAME_HELLO,
                         .version = CF_PROTOCOL_VERSION,
                         .last_checkpoint_size = a->checkpoint.size};
    a->hello_size = a->checkpoint.size;
    return agent_link_send(a, &h);
}

static void say_hello(struct agent *a)
{
    struct cf_frame d = {.kind = CF_FRAME_DIRECTORY_REQUEST};
    agent_link_send(a, &d);
    send_hello(a);
}

void agent_link_events(struct agent *a)
{
    for (;;) {
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, a->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        uint16_t event = 0;
        if (zmq_msg_size(&ev) >= 2)
            memcpy(&event, zmq_msg_data(&ev), 2);
        zmq_msg_close(&ev);
        zmq_msg_init(&addr);
        zmq_msg_recv(&addr, a->monitor, 0);
        zmq_msg_close(&addr);
        switch (event) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
            cf_log_info("BROKER-CONNECTED", "broker=%s", a->cfg.broker);
            a->distrusted = false; /* a new connection earns trust by its Welcome */
            a->resync_at = 0;
            say_hello(a);
            break;
        case ZMQ_EVENT_DISCONNECTED:
            if (a->connected)
                cf_log_warn("BROKER-DISCONNECTED", "broker=%s", a->cfg.broker);
            a->connected = false;
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
            cf_log_error("BROKER-REFUSED-US",
                         "broker=%s reason=\"this agency's CURVE key is not "
                         "in the broker's signed directory\"",
                         a->cfg.broker);
            break;
        default:
            cf_log_error("BROKER-HANDSHAKE-FAILED", "broker=%s event=%u", a->cfg.broker, event);
        }
    }
}

/* ---- Checkpoints: the split-view guard ---- */

void agent_link_distrust(struct agent *a, const char *detail)
{
    agent_batch_flush(a); /* what was verified before this frame is kept and answered */
    cf_log_error("SPLIT-VIEW", "broker=%s kept_size=%" PRIu64 " detail=\"%s\"", a->cfg.broker,
                 a->checkpoint.size, detail);
    a->connected = false;
    a->distrusted = true;
}

void agent_link_resync(struct agent *a, const char *event, const char *detail)
{
    if (!a->connected)
        return; /* a Hello is already out, or this connection is not trusted */
    /* First the batch, so the Hello names the size it keeps. */
    agent_batch_flush(a);
    cf_log_warn(event, "broker=%s kept_size=%" PRIu64 " detail=\"%s\"", a->cfg.broker,
                a->checkpoint.size, detail);
    /* Until the Welcome, every frame is ignored: the broker offers again all it
     * had not been answered, and the outbox is resent, once the Welcome is in. */
    if (!send_hello(a))
        return; /* not queued: still in step as before, and the next stale frame tries again */
    a->connected = false;
    a->resync_at = agent_now();
}

bool agent_link_refused(struct agent *a, int rc, const char *resync_event, const char *detail)
{
    if (rc == CF_ESTALE) {
        agent_link_resync(a, resync_event, detail);
        return true;
    }
    if (rc == CF_ECORRUPT || rc == CF_EPROOF || rc == CF_ESIG || rc == CF_EDECODE ||
        rc == CF_ERANGE) {
        agent_link_distrust(a, detail);
        return true;
    }
    return false;
}

int agent_link_take_checkpoint(struct agent *a, const struct cf_frame *f, const char *resync_event)
{
    MDB_txn *txn;
    struct cf_error err = {0};
    struct cf_checkpoint kept;
    int rc = agent_write_begin(a, &txn);
    if (rc != 0) {
        cf_log_error("CHECKPOINT-KEEP-FAILED", "code=%s", cf_error_name(rc));
        return rc;
    }
    rc = agent_checkpoint_advance(a, txn, f->checkpoint, f->checkpoint_len, f->consistency_from,
                                  (const uint8_t(*)[CF_MERKLE_HASH])f->consistency,
                                  f->n_consistency, &kept, &err);
    if (rc == 0)
        rc = agent_checkpoint_commit(a, txn, &kept, f->checkpoint, f->checkpoint_len);
    else
        mdb_txn_abort(txn);
    if (rc != 0 && !agent_link_refused(a, rc, resync_event, err.text))
        cf_log_error("CHECKPOINT-KEEP-FAILED", "code=%s reason=\"%s\"", cf_error_name(rc),
                     err.text);
    return rc;
}

void agent_link_ask_status(struct agent *a)
{
    uint64_t now = agent_now();
    if (!a->connected || (a->status_asked && now - a->status_asked < STATUS_WAIT_MS))
        return;
    struct cf_frame f = {.kind = CF_FRAME_STATUS_REQUEST};
    if (agent_link_send(a, &f))
        a->status_asked = now;
}

int agent_checkpoint_advance(struct agent *a, MDB_txn *txn, const char *note, size_t len,
                             uint64_t from, const uint8_t (*proof)[CF_MERKLE_HASH], size_t n,
                             struct cf_checkpoint *out, struct cf_error *err)
{
    struct cf_checkpoint cp;
    if (len > CF_CHECKPOINT_MAX)
        return cf_error_set(err, CF_ETOOBIG, "the checkpoint note is %zu bytes; the limit is %d",
                            len, CF_CHECKPOINT_MAX);
    int rc = cf_checkpoint_open(note, len, a->broker_sign_pk, &cp, err);
    if (rc != 0)
        return rc;
    const struct cf_checkpoint *kept = a->batch.txn ? &a->batch.cp : &a->checkpoint;
    if (kept->size > 0) {
        if (strcmp(cp.origin, kept->origin) != 0)
            return cf_error_set(err, CF_ECORRUPT, "the log's origin changed from %s to %s",
                                kept->origin, cp.origin);
        if (cp.size < kept->size)
            return cf_error_set(err, CF_ECORRUPT,
                                "the broker shows a tree of %" PRIu64
                                " leaves after one of %" PRIu64,
                                cp.size, kept->size);
        if (cp.size == kept->size) {
            if (memcmp(cp.root, kept->root, sizeof cp.root) != 0)
                return cf_error_set(err, CF_ECORRUPT,
                                    "two different roots for the tree of %" PRIu64 " leaves",
                                    cp.size);
            *out = cp;
            return 0;
        }
        if (from != kept->size)
            return cf_error_set(err, CF_ESTALE,
                                "the consistency proof starts at %" PRIu64 ", not at %" PRIu64,
                                from, kept->size);
        rc = cf_merkle_verify_consistency(kept->size, cp.size, kept->root, cp.root, proof, n);
        if (rc != 0)
            return cf_error_set(err, CF_EPROOF,
                                "the tree of %" PRIu64
                                " leaves does not extend the kept one of %" PRIu64,
                                cp.size, kept->size);
    }
    rc = agent_store_put(txn, a->store.meta, "checkpoint", 10, note, len);
    if (rc != 0)
        return cf_error_set(err, rc, "cannot keep the checkpoint");
    *out = cp;
    return 0;
}

int agent_checkpoint_commit(struct agent *a, MDB_txn *txn, const struct cf_checkpoint *cp,
                            const char *note, size_t len)
{
    int rc = cf_store_error(mdb_txn_commit(txn));
    if (rc != 0 || len > CF_CHECKPOINT_MAX)
        return rc;
    bool nested = a->batch.txn != NULL;
    *(nested ? &a->batch.cp : &a->checkpoint) = *cp;
    char *kept = nested ? a->batch.note : a->checkpoint_note;
    memcpy(kept, note, len);
    kept[len] = 0;
    if (nested)
        a->batch.note_len = len;
    return 0;
}

int agent_write_begin(struct agent *a, MDB_txn **txn)
{
    return cf_store_error(mdb_txn_begin(a->store.env, a->batch.txn, 0, txn));
}

/* ---- The directory ---- */

static bool keys_equal(const struct cf_agency *x, const struct cf_agency *y)
{
    return memcmp(x->sign_pk, y->sign_pk, CF_SIGN_PK) == 0 &&
           memcmp(x->box_pk, y->box_pk, CF_BOX_PK) == 0 &&
           memcmp(x->curve_pk, y->curve_pk, CF_CURVE_KEY) == 0;
}

/* A key change is news to the agency's people: a notice of the agent's own
 * for each agency whose keys differ, kept in `txn` with the directory itself,
 * so a crash cannot keep the one without the other. Returns how many, or a
 * negative CF_E* code. */
static int notice_key_changes(struct agent *a, MDB_txn *txn, const struct cf_directory *old,
                              const struct cf_directory *fresh)
{
    int count = 0;
    for (size_t i = 0; i < fresh->n_agencies; i++) {
        const struct cf_agency *now = &fresh->agencies[i];
        const struct cf_agency *before = cf_directory_find(old, now->id);
        if (!before || keys_equal(before, now))
            continue;
        json_t *doc = json_pack("{s:s, s:s, s:I, s:I}", "kind", "key_changed", "agency", now->id,
                                "old_serial", (json_int_t)old->serial, "new_serial",
                                (json_int_t)fresh->serial);
        struct cf_error err = {0};
        int rc = doc ? agent_inbox_add_local(a, txn, doc, &err) : CF_ENOMEM;
        json_decref(doc);
        if (rc != 0)
            return rc;
        count++;
    }
    return count;
}

static void log_key_changes(const struct cf_directory *old, const struct cf_directory *fresh)
{
    for (size_t i = 0; i < fresh->n_agencies; i++) {
        const struct cf_agency *now = &fresh->agencies[i];
        const struct cf_agency *before = cf_directory_find(old, now->id);
        if (before && !keys_equal(before, now))
            cf_log_warn("AGENCY-KEY-CHANGED", "agency=%s serial=%" PRIu64 "->%" PRIu64, now->id,
                        old->serial, fresh->serial);
    }
}

/* The bundle, its serial and the notices of the keys it changes, in one commit.
 * Returns how many notices, or a negative CF_E* code. */
static int keep_directory(struct agent *a, const struct cf_bundle *b,
                          const struct cf_directory *fresh)
{
    MDB_txn *txn;
    int rc = cf_store_error(mdb_txn_begin(a->store.env, NULL, 0, &txn));
    if (rc != 0)
        return rc;
    uint8_t be[8];
    cf_store_put_u64(be, fresh->serial);
    int notices = 0;
    if ((rc = agent_store_put(txn, a->store.meta, "dir.agencies", 12, b->agencies,
                              b->agencies_len)) != 0 ||
        (rc = agent_store_put(txn, a->store.meta, "dir.policy", 10, b->policy, b->policy_len)) !=
            0 ||
        (rc = agent_store_put(txn, a->store.meta, "dir.sig", 7, b->sig, b->sig_len)) != 0 ||
        (rc = agent_store_put(txn, a->store.meta, "dir.serial", 10, be, 8)) != 0 ||
        (a->dir && (rc = notices = notice_key_changes(a, txn, a->dir, fresh)) < 0)) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = cf_store_error(mdb_txn_commit(txn));
    return rc != 0 ? rc : notices;
}

static void on_directory(struct agent *a, const struct cf_frame *f)
{
    struct cf_bundle b = {(uint8_t *)f->agencies, (uint8_t *)f->policy, (uint8_t *)f->sig,
                          f->agencies_len,        f->policy_len,        f->sig_len};
    struct cf_directory *fresh = NULL;
    struct cf_error err = {0};
    /* The floor survives a kept bundle that no longer verifies: it comes from
     * the stored serial, not only from the directory in memory. */
    uint64_t floor =
        a->dir && a->dir->serial > a->dir_serial_floor ? a->dir->serial : a->dir_serial_floor;
    int rc = cf_directory_load_mem(&b, a->authority_pk, floor, &fresh, &err);
    if (rc != 0) {
        cf_log_error("DIRECTORY-REFUSED", "code=%s reason=\"%s\"", cf_error_name(rc), err.text);
        return;
    }
    if (a->dir && memcmp(a->dir->digest, fresh->digest, CF_HASH_LEN) == 0) {
        cf_directory_destroy(&fresh);
        return;
    }
    if (!cf_directory_find(fresh, a->cfg.id))
        cf_log_error("DIRECTORY-LACKS-US", "agency=%s serial=%" PRIu64, a->cfg.id, fresh->serial);
    int notices = keep_directory(a, &b, fresh);
    if (notices < 0) {
        cf_log_error("DIRECTORY-KEEP-FAILED", "code=%s", cf_error_name(notices));
        cf_directory_destroy(&fresh);
        return;
    }
    a->dir_serial_floor = fresh->serial;
    if (a->dir)
        log_key_changes(a->dir, fresh);
    if (notices > 0) {
        agent_fault_point("after-notice-commit");
        agent_inbox_spool_local(a); /* the spool files, now that the notices are kept */
    }
    cf_log_info("DIRECTORY-LOADED", "serial=%" PRIu64 " agencies=%zu", fresh->serial,
                fresh->n_agencies);
    cf_directory_destroy(&a->dir);
    a->dir = fresh;
}

int agent_link_restore(struct agent *a, struct cf_error *err)
{
    MDB_txn *txn;
    int rc = cf_store_error(mdb_txn_begin(a->store.env, NULL, MDB_RDONLY, &txn));
    if (rc != 0)
        return cf_error_set(err, rc, "cannot read the agent store");
    MDB_val note, ag, po, sg, serial;
    if (agent_store_get(txn, a->store.meta, "checkpoint", 10, &note) == 0) {
        rc = cf_checkpoint_open(note.mv_data, note.mv_size, a->broker_sign_pk, &a->checkpoint, err);
        if (rc != 0) {
            mdb_txn_abort(txn);
            return cf_error_set(err, rc,
                                "the kept checkpoint fails (%s): was broker_sign_key "
                                "changed?",
                                err->text);
        }
        memcpy(a->checkpoint_note, note.mv_data, note.mv_size);
        a->checkpoint_note[note.mv_size] = 0;
    }
    if (agent_store_get(txn, a->store.meta, "dir.serial", 10, &serial) == 0 && serial.mv_size == 8)
        a->dir_serial_floor = cf_store_get_u64(serial.mv_data);
    if (agent_store_get(txn, a->store.meta, "dir.agencies", 12, &ag) == 0 &&
        agent_store_get(txn, a->store.meta, "dir.policy", 10, &po) == 0 &&
        agent_store_get(txn, a->store.meta, "dir.sig", 7, &sg) == 0) {
        struct cf_bundle b = {ag.mv_data, po.mv_data, sg.mv_data,
                              ag.mv_size, po.mv_size, sg.mv_size};
        rc = cf_directory_load_mem(&b, a->authority_pk, a->dir_serial_floor, &a->dir, err);
        if (rc != 0) /* fetched again on connect, at no lower serial than the kept one */
            cf_log_warn("DIRECTORY-KEPT-INVALID", "serial_floor=%" PRIu64 " reason=\"%s\"",
                        a->dir_serial_floor, err->text);
    }
    mdb_txn_abort(txn);
    return 0;
}

/* ---- Frames ---- */

/* A restore lost leaves this agency had seen: its own notice names the
 * messages it sent that the broker accepted at those leaves (their receipts
 * are in `sent`), so its people know exactly what to send again. Kept in
 * `txn`, with the new checkpoint. */
static int notice_lost(struct agent *a, MDB_txn *txn, const struct cf_checkpoint *kept,
                       const struct cf_checkpoint *prev, const struct cf_checkpoint *now)
{
    json_t *ids = json_array();
    MDB_cursor *c;
    MDB_val k, v;
    if (!ids || mdb_cursor_open(txn, a->store.sent, &c) != 0) {
        json_decref(ids);
        return CF_ENOMEM;
    }
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        struct cf_frame f;
        struct cf_checkpoint cp;
        if (cf_wire_frame_decode(v.mv_data, v.mv_size, &f, NULL) == 0 && f.checkpoint &&
            cf_checkpoint_open(f.checkpoint, f.checkpoint_len, a->broker_sign_pk, &cp, NULL) == 0 &&
            strcmp(cp.origin, kept->origin) == 0 && f.leaf_index >= prev->size)
            json_array_append_new(ids, agent_text_hex(f.message_id, CF_MESSAGE_ID_LEN));
        cf_wire_frame_fini(&f);
    }
    mdb_cursor_close(c);
    json_t *doc =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "kind", "restored", "old_origin", kept->origin,
                  "new_origin", now->origin, "linked_size", (json_int_t)prev->size, "lost_leaves",
                  (json_int_t)(kept->size - prev->size), "lost_sent", ids);
    struct cf_error err = {0};
    int rc = doc ? agent_inbox_add_local(a, txn, doc, &err) : CF_ENOMEM;
    json_decref(doc);
    return rc;
}

/* A Welcome under another origin than the kept checkpoint's: a broker
 * restored from a backup. It is taken only through its link, the new
 * origin's first leaf, which cites the old origin's last checkpoint: that
 * checkpoint must be the broker's, of the kept origin; today's tree must
 * extend it; and the kept tree must be a prefix of today's, unless it is
 * longer than the restored log, whose lost leaves are then reported. */
static int take_new_origin(struct agent *a, MDB_txn *txn, const struct cf_frame *f,
                           struct cf_checkpoint *out, bool *lost, struct cf_error *err)
{
    struct cf_record link;
    struct cf_checkpoint prev, cp;
    const struct cf_checkpoint *kept = a->batch.txn ? &a->batch.cp : &a->checkpoint;
    int rc = cf_checkpoint_open(f->checkpoint, f->checkpoint_len, a->broker_sign_pk, &cp, err);
    if (rc != 0)
        return rc;
    if (!f->record)
        return cf_error_set(err, CF_ECORRUPT,
                            "the log's origin changed from %s to %s without a link to the old "
                            "one",
                            kept->origin, cp.origin);
    rc = cf_wire_record_decode(f->record, f->record_len, &link, err);
    if (rc == 0 && (link.event != CF_EVENT_ORIGIN || !link.previous_checkpoint))
        rc = cf_error_set(err, CF_ECORRUPT, "the origin link is not an origin leaf");
    if (rc == 0)
        rc = cf_checkpoint_open(link.previous_checkpoint, link.previous_checkpoint_len,
                                a->broker_sign_pk, &prev, err);
    uint64_t index = link.index;
    cf_wire_record_fini(&link);
    if (rc != 0)
        return rc;
    if (strcmp(prev.origin, kept->origin) != 0 || cp.size <= index || prev.size != index)
        return cf_error_set(err, CF_ECORRUPT,
                            "the origin link cites %s at %" PRIu64 ", not this agency's %s",
                            prev.origin, prev.size, kept->origin);
    if (cf_merkle_verify_consistency(prev.size, cp.size, prev.root, cp.root,
                                     (const uint8_t(*)[CF_MERKLE_HASH])f->consistency,
                                     f->n_consistency) != 0)
        return cf_error_set(err, CF_EPROOF, "the new origin's tree does not extend its link");
    if (kept->size <= prev.size) {
        if (a->hello_size != kept->size ||
            cf_merkle_verify_consistency(kept->size, cp.size, kept->root, cp.root,
                                         (const uint8_t(*)[CF_MERKLE_HASH])f->proof,
                                         f->n_proof) != 0)
            return cf_error_set(err, CF_EPROOF,
                                "the restored log does not hold the tree this agency kept");
        cf_log_warn("BROKER-RESTORED",
                    "old=%s new=%s linked_size=%" PRIu64 " kept=%" PRIu64 " lost=0", kept->origin,
                    cp.origin, prev.size, kept->size);
    } else {
        /* This agency saw leaves the backup did not hold: they are gone from
         * the log. Its outbox is resent; what the broker had accepted from
         * it after the backup must be sent again by a person. */
        cf_log_error("BROKER-RESTORED",
                     "old=%s new=%s linked_size=%" PRIu64 " kept=%" PRIu64 " lost=%" PRIu64,
                     kept->origin, cp.origin, prev.size, kept->size, kept->size - prev.size);
        if ((rc = notice_lost(a, txn, kept, &prev, &cp)) != 0)
            return cf_error_set(err, rc, "cannot keep the notice of what the restore lost");
        *lost = true;
    }
    if ((rc = agent_store_put(txn, a->store.meta, "checkpoint", 10, f->checkpoint,
                              f->checkpoint_len)) != 0)
        return cf_error_set(err, rc, "cannot keep the checkpoint");
    *out = cp;
    return 0;
}

/* Whether a Welcome's checkpoint names another origin than the kept one. */
static bool origin_changed(const struct agent *a, const struct cf_frame *f)
{
    struct cf_checkpoint cp;
    return a->checkpoint.size > 0 &&
           cf_checkpoint_open(f->checkpoint, f->checkpoint_len, a->broker_sign_pk, &cp, NULL) ==
               0 &&
           strcmp(cp.origin, a->checkpoint.origin) != 0;
}

static void on_welcome(struct agent *a, const struct cf_frame *f)
{
    MDB_txn *txn;
    struct cf_error err = {0};
    struct cf_checkpoint cp;
    bool lost = false;
    if (a->distrusted)
        return; /* this connection showed a split view: only a new one is heard */
    if (mdb_txn_begin(a->store.env, NULL, 0, &txn) != 0)
        return;
    /* The proof starts at the size our Hello named. */
    int rc = origin_changed(a, f)
                 ? take_new_origin(a, txn, f, &cp, &lost, &err)
                 : agent_checkpoint_advance(a, txn, f->checkpoint, f->checkpoint_len, a->hello_size,
                                            (const uint8_t(*)[CF_MERKLE_HASH])f->proof, f->n_proof,
                                            &cp, &err);
    if (rc == 0)
        rc = agent_checkpoint_commit(a, txn, &cp, f->checkpoint, f->checkpoint_len);
    else
        mdb_txn_abort(txn);
    if (rc == 0 && lost)
        agent_inbox_spool_local(a); /* the restore's notice, now that it is kept */
    if (rc == CF_ESTALE) {
        /* A Welcome to an older Hello: ask again from what is kept now. */
        cf_log_warn("CHECKPOINT-RESYNC", "broker=%s detail=\"%s\"", a->cfg.broker, err.text);
        a->connected = false;
        send_hello(a);
        a->resync_at = agent_now();
        return;
    }
    if (rc != 0) {
        agent_link_distrust(a, err.text);
        return; /* not connected: nothing is sent to or accepted from this broker */
    }
    a->connected = true;
    a->resync_at = 0;
    a->connected_since = agent_now();
    cf_log_info("BROKER-WELCOME", "size=%" PRIu64 " mailbox=%" PRIu64, a->checkpoint.size,
                f->mailbox_depth);
    a->status_asked = 0; /* one asked on an earlier connection is not coming */
    agent_link_ask_status(a);
    agent_outbox_resend(a);
}

void agent_link_ready(struct agent *a)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, a->dealer, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            agent_batch_flush(a);
            return;
        }
        const uint8_t *buf = zmq_msg_data(&m);
        size_t len = zmq_msg_size(&m);
        struct cf_frame f;
        struct cf_error err = {0};
        int rc = cf_wire_frame_decode(buf, len, &f, &err);
        bool batched =
            f.kind == CF_FRAME_DELIVER || f.kind == CF_FRAME_REPORT || f.kind == CF_FRAME_ACCEPTED;
        if (rc != 0 || !batched || !a->connected)
            agent_batch_flush(a); /* the batch's answers go first, in order */
        if (rc != 0) {
            cf_log_error("FRAME-UNREADABLE", "from=broker code=%s", cf_error_name(err.code));
        } else if (f.kind == CF_FRAME_WELCOME) {
            on_welcome(a, &f);
        } else if (f.kind == CF_FRAME_DIRECTORY) {
            on_directory(a, &f);
        } else if (f.kind == CF_FRAME_STATUS && !a->distrusted) {
            a->broker_status = f.status;
            a->status_asked = 0;
            agent_control_status(a);
        } else if (!a->connected) {
            /* Until a Welcome is verified this broker's frames are not trusted. */
        } else if (f.kind == CF_FRAME_DELIVER) {
            agent_inbox_deliver(a, buf, len, &f);
        } else if (f.kind == CF_FRAME_ACCEPTED || f.kind == CF_FRAME_REJECTED) {
            agent_outbox_answer(a, buf, len, &f);
        } else if (f.kind == CF_FRAME_CASE_INFO) {
            agent_control_case_info(a, f.case_id, f.case_info.state[0] ? &f.case_info : NULL,
                                    "the broker shows this case only to the agencies that take "
                                    "part in it");
            agent_http_case_info(a, f.case_id, f.case_info.state[0] ? &f.case_info : NULL);
        } else if (f.kind == CF_FRAME_REPORT) {
            agent_outbox_report(a, &f);
        }
        cf_wire_frame_fini(&f);
        zmq_msg_close(&m);
    }
}

void agent_link_tick(struct agent *a, uint64_t now)
{
    /* A resynchronising Hello whose Welcome has not come: ask again. */
    if (a->resync_at && !a->connected && !a->distrusted && now - a->resync_at >= RESYNC_RETRY_MS) {
        cf_log_warn("CHECKPOINT-RESYNC", "broker=%s detail=\"no Welcome yet; saying Hello again\"",
                    a->cfg.broker);
        send_hello(a);
        a->resync_at = now;
    }
    if (a->connected && now - a->last_resend >= a->cfg.resend_s * 1000u)
        agent_outbox_resend(a);
}
