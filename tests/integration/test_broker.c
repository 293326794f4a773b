/* The broker, as a black box: the real childfirst-broker process on
 * 127.0.0.1, driven over CURVE by test clients built on libchildfirst. Each
 * test starts its own network and broker, and its teardown stops the broker
 * and requires a clean exit, so a sanitizer report in the broker fails it. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <zmq.h>

#include "childfirst/checkpoint.h"
#include "childfirst/file.h"
#include "childfirst/merkle.h"
#include "childfirst/notice.h"
#include "childfirst/record.h"
#include "childfirst/store.h"
#include "harness.h"

#define BROKER CF_BIN_DIR "/childfirst-broker"
#define QUIET_MS 500 /* how long "nothing more arrives" is watched for */

/* ---- Set-up: one network and broker per test ---- */

struct opts {
    const char *ini; /* extra broker.ini lines */
    bool stopped;    /* leave the broker for the test to start */
};

static const struct opts credit_5 = {"credit_window = 5\n", false};
static const struct opts map_1mb = {"map_size_mb = 1\n", false};
/* 16 TiB, the most broker.ini allows: far above the free space of any test host. */
static const struct opts no_space = {"min_free_mb = 16777216\n", false};
static const struct opts not_started = {NULL, true};
static const struct opts no_commit = {"commit_ms = 60000\n", false};
static const struct opts commit_each = {"commit_ms = 0\n", false};

static int setup(void **state)
{
    static const struct opts plain = {NULL, false};
    const struct opts *o = *state ? *state : &plain;
    struct net *n = calloc(1, sizeof *n);
    net_create(n, o->ini);
    if (!o->stopped)
        net_broker_start(n);
    *state = n;
    return 0;
}

static int teardown(void **state)
{
    struct net *n = *state;
    net_broker_stop(n); /* asserts exit status 0 if it still runs */
    net_destroy(n);
    free(n);
    return 0;
}

/* ---- Helpers ---- */

static const struct cf_keys *keys(struct net *n, const char *id)
{
    return net_agency(n, id)->keys;
}

/* A connection as `id` that has said Hello; the Welcome's mailbox depth in *depth. */
static void *online_depth(struct net *n, const char *id, uint64_t *depth)
{
    void *s = net_connect(n, keys(n, id));
    struct cf_frame w;
    net_hello(s, 0, &w);
    if (depth)
        *depth = w.mailbox_depth;
    cf_wire_frame_fini(&w);
    return s;
}

static void *online(struct net *n, const char *id)
{
    return online_depth(n, id, NULL);
}

static uint64_t tree_size(void *sock)
{
    struct cf_status st;
    net_status(sock, &st);
    return st.tree_size;
}

/* Submits and requires Accepted; frees env. Release *a with cf_wire_frame_fini. */
static void submit_accepted(void *sock, uint8_t *env, size_t len, struct cf_frame *a)
{
    net_submit(sock, env, len, a);
    if (a->kind != CF_FRAME_ACCEPTED)
        fail_msg("rejected: %s %s", a->code, a->reason);
    free(env);
}

/* A fresh referral from police-a, Accepted. */
static void refer(struct net *n, void *police, struct cf_header *h, struct cf_frame *a)
{
    uint8_t *env;
    size_t len;
    net_referral(n, "police-a", h, &env, &len);
    submit_accepted(police, env, len, a);
    assert_memory_equal(a->message_id, h->message_id, CF_MESSAGE_ID_LEN);
}

/* Submits one referral from police-a, Accepted, then stops the broker. */
static void refer_then_stop(struct net *n, struct cf_header *h)
{
    void *police = online(n, "police-a");
    struct cf_frame a;
    refer(n, police, h, &a);
    cf_wire_frame_fini(&a);
    net_close(n, police);
    net_broker_stop(n);
}

/* Submits and requires Rejected with exactly `code`; frees env. */
static void submit_rejected(void *sock, uint8_t *env, size_t len, const char *code,
                            struct cf_frame *r)
{
    net_submit(sock, env, len, r);
    if (r->kind != CF_FRAME_REJECTED)
        fail_msg("accepted at leaf %llu; expected %s", (unsigned long long)r->leaf_index, code);
    assert_string_equal(r->code, code);
    assert_true(strlen(r->reason) > 10); /* a sentence a person can act on */
    free(env);
}

/* Receives frames until a Rejected: bad input that names no message. */
static void expect_rejected(void *sock, const char *code)
{
    struct cf_frame r;
    if (net_recv(sock, &r, 10000) != 0)
        fail_msg("no answer; expected Rejected %s", code);
    assert_int_equal(r.kind, CF_FRAME_REJECTED);
    assert_string_equal(r.code, code);
    assert_true(strlen(r.reason) > 10);
    cf_wire_frame_fini(&r);
}

/* The next Deliver, which must be for leaf `leaf`. */
static void expect_deliver(void *sock, uint64_t leaf, struct cf_frame *d)
{
    net_expect(sock, CF_FRAME_DELIVER, d, 10000);
    assert_int_equal(d->leaf_index, leaf);
}

/* No Deliver arrives within QUIET_MS (or `ms`); other frames are dropped. */
static void expect_no_deliver(void *sock, int ms)
{
    struct cf_frame f;
    while (net_recv(sock, &f, ms) == 0) {
        if (f.kind == CF_FRAME_DELIVER)
            fail_msg("an unexpected Deliver for leaf %llu", (unsigned long long)f.leaf_index);
        cf_wire_frame_fini(&f);
    }
}

/* The sender's DeliveryReport about leaf `about`. */
static void expect_report(void *sock, uint64_t about, const char *recipient, const char *outcome,
                          const char *code)
{
    struct cf_frame r;
    net_expect(sock, CF_FRAME_REPORT, &r, 10000);
    assert_int_equal(r.leaf_index, about);
    assert_string_equal(r.recipient, recipient);
    assert_string_equal(r.outcome, outcome);
    assert_string_equal(r.code, code ? code : "");
    assert_true(r.report_leaf > about);
    cf_wire_frame_fini(&r);
}

/* The receipt in an Accepted or Deliver proves its record under its own
 * checkpoint, signed by the broker: 0, or cf_record_prove's code. */
static int prove(struct net *n, const struct cf_frame *f, struct cf_checkpoint *cp,
                 struct cf_error *err)
{
    return cf_record_prove(f->record, f->record_len, f->leaf_index,
                           (const uint8_t(*)[CF_MERKLE_HASH])f->proof, f->n_proof, f->checkpoint,
                           f->checkpoint_len, n->broker->sign_pk, cp, err);
}

static void check_receipt(struct net *n, const struct cf_frame *f, struct cf_checkpoint *cp)
{
    struct cf_error err = {0};
    if (prove(n, f, cp, &err) != 0)
        fail_msg("the receipt for leaf %llu does not prove: %s", (unsigned long long)f->leaf_index,
                 err.text);
    assert_string_equal(cp->origin, "test.childfirst/log");
}

/* The receipt's record is the accepted record of exactly this envelope. */
static void check_record_of(const struct cf_frame *f, const uint8_t *env, size_t len)
{
    struct cf_record r;
    struct cf_envelope e;
    struct cf_header h;
    assert_int_equal(cf_wire_record_decode(f->record, f->record_len, &r, NULL), 0);
    assert_int_equal(cf_envelope_decode(env, len, &e, &h, NULL), 0);
    assert_int_equal(r.event, CF_EVENT_ACCEPTED);
    assert_int_equal(r.index, f->leaf_index);
    assert_string_equal(r.actor, h.sender);
    assert_true(cf_record_matches(&r, &e));
    cf_envelope_fini(&e);
    cf_wire_record_fini(&r);
}

/* Submits `count` fresh referrals from police-a, with at most `window`
 * unanswered. All are sealed first, so each window leaves back to back. Every
 * answer must be Accepted, once; leaves[i] (if not NULL) gets referral i's. */
static void submit_referrals(struct net *n, void *sock, size_t count, size_t window,
                             uint64_t *leaves)
{
    struct sealed {
        uint8_t id[CF_MESSAGE_ID_LEN];
        uint8_t *env;
        size_t len;
        bool answered;
    } *m = calloc(count, sizeof *m);
    assert_non_null(m);
    for (size_t i = 0; i < count; i++) {
        struct cf_header h;
        net_referral(n, "police-a", &h, &m[i].env, &m[i].len);
        memcpy(m[i].id, h.message_id, sizeof m[i].id);
    }
    size_t sent = 0, answered = 0;
    while (answered < count) {
        for (; sent < count && sent - answered < window; sent++) {
            struct cf_frame s = {
                .kind = CF_FRAME_SUBMIT, .envelope = m[sent].env, .envelope_len = m[sent].len};
            net_send(sock, &s);
        }
        struct cf_frame f;
        if (net_recv(sock, &f, 20000) != 0)
            fail_msg("only %zu of %zu submissions answered", answered, count);
        if (f.kind == CF_FRAME_REJECTED)
            fail_msg("submission rejected: %s %s", f.code, f.reason);
        if (f.kind == CF_FRAME_ACCEPTED) {
            size_t i = 0;
            while (i < sent && memcmp(m[i].id, f.message_id, CF_MESSAGE_ID_LEN) != 0)
                i++;
            assert_true(i < sent);
            assert_false(m[i].answered);
            m[i].answered = true;
            if (leaves)
                leaves[i] = f.leaf_index;
            answered++;
        }
        cf_wire_frame_fini(&f);
    }
    for (size_t i = 0; i < count; i++)
        free(m[i].env);
    free(m);
}

/* ---- Acceptance and delivery ---- */

static void test_accepted_and_delivered(void **state)
{
    struct net *n = *state;
    void *police = online(n, "police-a");
    void *csc = online(n, "la-csc");
    struct cf_frame answer, d;
    struct cf_checkpoint cp;
    struct cf_header h;
    uint8_t *env;
    size_t len;
    net_referral(n, "police-a", &h, &env, &len);
    net_submit(police, env, len, &answer);
    if (answer.kind != CF_FRAME_ACCEPTED)
        fail_msg("rejected: %s %s", answer.code, answer.reason);
    assert_memory_equal(answer.message_id, h.message_id, 16);
    check_receipt(n, &answer, &cp);
    assert_true(answer.leaf_index < cp.size);
    check_record_of(&answer, env, len);

    expect_deliver(csc, answer.leaf_index, &d);
    assert_int_equal(d.envelope_len, len);
    assert_memory_equal(d.envelope, env, len);
    check_receipt(n, &d, &cp);
    net_ack(csc, keys(n, "la-csc"), &d);
    expect_report(police, answer.leaf_index, "la-csc", "delivered", NULL);
    cf_wire_frame_fini(&d);
    cf_wire_frame_fini(&answer);
    free(env);
}

/* An answer signed by anyone but the recipient, over anything but what was
 * delivered, is refused and the entry stays; the real answer then counts.
 * The broker checks answers ahead on its verify pool: the outcome is still
 * the one the leaf's bytes give. */
static void test_forged_delivery_ack_keeps_the_entry(void **state)
{
    struct net *n = *state;
    void *police = online(n, "police-a");
    void *csc = online(n, "la-csc");
    struct cf_header h;
    struct cf_frame a, d, r, w;
    refer(n, police, &h, &a);
    expect_deliver(csc, a.leaf_index, &d);
    net_ack(csc, keys(n, "la-duty"), &d); /* another agency's key */
    net_expect(csc, CF_FRAME_REJECTED, &r, 10000);
    assert_string_equal(r.code, "CF_ESIG");
    cf_wire_frame_fini(&r);
    struct cf_frame other = {.kind = CF_FRAME_ACK, .leaf_index = d.leaf_index};
    uint8_t hash[CF_HASH_LEN];
    memcpy(other.message_id, h.message_id, sizeof other.message_id);
    cf_envelope_hash(d.envelope, d.envelope_len - 1, hash); /* the right key, other bytes */
    assert_int_equal(
        cf_envelope_ack_sign(h.message_id, hash, CF_ACK_OK, keys(n, "la-csc"), other.signature), 0);
    net_send(csc, &other);
    net_expect(csc, CF_FRAME_REJECTED, &r, 10000);
    assert_string_equal(r.code, "CF_ESIG");
    cf_wire_frame_fini(&r);
    net_ack(csc, keys(n, "la-csc"), &d);
    expect_report(police, a.leaf_index, "la-csc", "delivered", NULL);
    void *again = net_connect(n, keys(n, "la-csc"));
    net_hello(again, 0, &w);
    assert_int_equal(w.mailbox_depth, 0);
    cf_wire_frame_fini(&w);
    cf_wire_frame_fini(&d);
    cf_wire_frame_fini(&a);
}

static void test_offline_recipient_gets_it_after_hello(void **state)
{
    struct net *n = *state;
    void *police = online(n, "police-a");
    struct cf_header h;
    struct cf_frame a, d;
    struct cf_checkpoint cp;
    refer(n, police, &h, &a);

    void *csc = net_connect(n, keys(n, "la-csc"));
    expect_no_deliver(csc, QUIET_MS); /* connected is not enough: the mailbox waits for Hello */
    struct cf_frame w;
    net_hello(csc, 0, &w);
    assert_int_equal(w.mailbox_depth, 1);
    cf_wire_frame_fini(&w);
    expect_deliver(csc, a.leaf_index, &d);
    check_receipt(n, &d, &cp);
    check_record_of(&d, d.envelope, d.envelope_len);
    net_ack(csc, keys(n, "la-csc"), &d);
    expect_report(police, a.leaf_index, "la-csc", "delivered", NULL);
    cf_wire_frame_fini(&d);
    cf_wire_frame_fini(&a);
}

static void test_sigkill_after_accepted_delivers_exactly_once(void **state)
{
    struct net *n = *state;
    void *police = online(n, "police-a");
    struct cf_header h;
    struct cf_frame a, again, d;
    struct cf_checkpoint cp;
    uint8_t *env;
    size_t len;
    net_referral(n, "police-a", &h, &env, &len);
    net_submit(police, env, len, &a);
    assert_int_equal(a.kind, CF_FRAME_ACCEPTED);
    net_broker_kill(n); /* no chance to flush: Accepted must already be durable */
    net_broker_start(n);

    police = online(n, "police-a");       /* the broker has a new port: new connections */
    net_submit(police, env, len, &again); /* an agent unsure of the answer resends */
    assert_int_equal(again.kind, CF_FRAME_ACCEPTED);
    assert_int_equal(again.leaf_index, a.leaf_index);
    void *csc = online(n, "la-csc");
    expect_deliver(csc, a.leaf_index, &d);
    assert_int_equal(d.envelope_len, len);
    assert_memory_equal(d.envelope, env, len);
    check_receipt(n, &d, &cp);
    net_ack(csc, keys(n, "la-csc"), &d);
    expect_report(police, a.leaf_index, "la-csc", "delivered", NULL);
    expect_no_deliver(csc, QUIET_MS);
    net_close(n, csc);

    uint64_t depth;
    csc = online_depth(n, "la-csc", &depth);
    assert_int_equal(depth, 0);
    expect_no_deliver(csc, 1000);
    cf_wire_frame_fini(&d);
    cf_wire_frame_fini(&again);
    cf_wire_frame_fini(&a);
    free(env);
}

/* The audit leaves data.mdb itself holds, read with LMDB alone: no redo applied. */
static size_t leaves_in_data_file(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat st;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "audit", 0, &dbi), 0);
    assert_int_equal(mdb_stat(txn, dbi, &st), 0);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return st.ms_entries;
}

/* With no LMDB commit due for a minute, what was Accepted is durable in the
 * redo log alone: SIGKILL leaves data.mdb without it, and the next open
 * applies it, once. While the broker runs, no second one may write its store. */
static void test_accepted_batches_outlive_a_kill_in_the_redo_log(void **state)
{
    struct net *n = *state;
    void *police = online(n, "police-a");
    size_t at_start = leaves_in_data_file(n->state_dir);
    uint64_t before = tree_size(police);
    struct cf_header h[3];
    struct cf_frame a[3];
    for (int i = 0; i < 3; i++)
        refer(n, police, &h[i], &a[i]);
    uint64_t after = tree_size(police);
    assert_true(after >= before + 3);

    char log[700];
    snprintf(log, sizeof log, "%s/second-broker.log", n->dir);
    const char *args[] = {CF_BIN_DIR "/childfirst-broker", "-c", n->broker_ini, NULL};
    assert_int_equal(net_broker_run(n, args, log), 1);
    assert_true(net_file_contains(log, "another process is writing this store"));

    net_broker_kill(n);
    assert_int_equal(leaves_in_data_file(n->state_dir), at_start); /* none of it committed */
    net_broker_start(n);
    assert_true(net_file_contains(n->broker_log, "STORE-RECOVERED"));
    police = online(n, "police-a");
    assert_int_equal(tree_size(police), after);
    net_close(n, police);
    net_broker_stop(n);
    assert_int_equal(net_log_size(n), after);
    for (int i = 0; i < 3; i++) {
        uint8_t *rec;
        size_t len;
        net_log_record(n, a[i].leaf_index, &rec, &len);
        assert_non_null(memmem(rec, len, h[i].message_id, CF_MESSAGE_ID_LEN));
        free(rec);
        cf_wire_frame_fini(&a[i]);
    }
    char out[4096], err[4096];
    if (net_audit_verify(n, n->state_dir, out, sizeof out, err, sizeof err) != 0)
        fail_msg("audit verify failed:\n%s%s", out, err);
}

/* With commit_ms 0 each batch is its own LMDB commit: what was Accepted is in
 * data.mdb before any restart, and nothing is left to recover. */
static void test_commit_ms_0_commits_each_batch_to_lmdb(void **state)
{
    struct net *n = *state;
    void *police = online(n, "police-a");
    size_t at_start = leaves_in_data_file(n->state_dir);
    struct cf_header h;
    struct cf_frame a;
    refer(n, police, &h, &a);
    assert_true(leaves_in_data_file(n->state_dir) > at_start); /* while it runs */
    net_broker_kill(n);
    assert_true(leaves_in_data_file(n->state_dir) > a.leaf_index);
    net_broker_start(n);
    assert_false(net_file_contains(n->broker_log, "STORE-RECOVERED"));
    net_close(n, police);
    net_broker_stop(n);
    uint8_t *rec;
    size_t len;
    net_log_record(n, a.leaf_index, &rec, &len);
    assert_non_null(memmem(rec, len, h.message_id, CF_MESSAGE_ID_LEN));
    free(rec);
    cf_wire_frame_fini(&a);
}

/* The broker dies with a delivery in flight (sent, not yet acknowledged):
 * after the restart the recipient gets it again, once, and then never. */
static void test_sigkill_with_a_delivery_in_flight(void **state)
{
    struct net *n = *state;
    void *police = online(n, "police-a");
    void *csc = online(n, "la-csc");
    struct cf_header h;
    struct cf_frame a, d, again;
    refer(n, police, &h, &a);
    expect_deliver(csc, a.leaf_index, &d); /* in flight: not acknowledged */
    net_broker_kill(n);
    net_broker_start(n);
    uint64_t depth;
    csc = online_depth(n, "la-csc", &depth);
    assert_int_equal(depth, 1);
    expect_deliver(csc, a.leaf_index, &again);
    assert_int_equal(again.envelope_len, d.envelope_len);
    assert_memory_equal(again.envelope, d.envelope, d.envelope_len);
    net_ack(csc, keys(n, "la-csc"), &again);
    expect_no_deliver(csc, QUIET_MS);
    net_close(n, csc);
    csc = online_depth(n, "la-csc", &depth);
    assert_int_equal(depth, 0);
    expect_no_deliver(csc, QUIET_MS);
    cf_wire_frame_fini(&again);
    cf_wire_frame_fini(&d);
    cf_wire_frame_fini(&a);
}

/* Each directory version the broker loads becomes a config leaf, once. */
static void test_new_directory_version_is_logged(void **state)
{
    struct net *n = *state;
    net_broker_stop(n);
    uint64_t before = net_log_size(n);
    net_broker_start(n); /* the same directory: nothing new to log */
    net_broker_stop(n);
    assert_int_equal(net_log_size(n), before);
    net_rekey(n, "health-x");
    net_sign_directory(n, 2);
    net_broker_start(n);
    net_broker_stop(n);
    uint64_t size = net_log_size(n);
    assert_int_equal(size, before + 1);
    uint8_t *bytes;
    size_t len;
    struct cf_record r;
    net_log_record(n, size - 1, &bytes, &len);
    assert_int_equal(cf_wire_record_decode(bytes, len, &r, NULL), 0);
    assert_int_equal(r.event, CF_EVENT_CONFIG);
    char path[600];
    uint8_t *sig;
    size_t sig_len;
    snprintf(path, sizeof path, "%s/agencies.ini.sig", n->dir);
    assert_int_equal(cf_file_read(path, 1u << 16, &sig, &sig_len, NULL), 0);
    assert_int_equal(r.sig_len, sig_len);
    assert_memory_equal(r.sig, sig, sig_len); /* the new version's signature */
    free(sig);
    cf_wire_record_fini(&r);
    free(bytes);
    net_broker_start(n);
}

static void test_same_message_twice_is_one_leaf(void **state)
{
    struct net *n = *state;
    void *police = online(n, "police-a");
    struct cf_header h;
    struct cf_frame first, second;
    uint8_t *env;
    size_t len;
    uint64_t before = tree_size(police);
    net_referral(n, "police-a", &h, &env, &len);
    net_submit(police, env, len, &first);
    assert_int_equal(first.kind, CF_FRAME_ACCEPTED);
    uint64_t after_first = tree_size(police);
    assert_true(after_first > before);

    net_submit(police, env, len, &second);
    assert_int_equal(second.kind, CF_FRAME_ACCEPTED);
    assert_int_equal(second.leaf_index, first.leaf_index);
    assert_memory_equal(second.record, first.record, first.record_len);
    assert_int_equal(tree_size(police), after_first);
    cf_wire_frame_fini(&first);
    cf_wire_frame_fini(&second);
    free(env);
}

/* ---- Rejections, in the order of the checks ---- */

static void test_same_id_different_bytes_is_duplicate(void **state)
{
    struct net *n = *state;
    void *police = online(n, "police-a");
    struct cf_header h;
    struct cf_frame a, r;
    uint8_t *env, *changed;
    size_t len, changed_len;
    static const uint8_t other[] = "another payload under the same message id";
    net_referral(n, "police-a", &h, &env, &len);
    net_seal(n, &h, other, sizeof other, &changed, &changed_len);
    submit_accepted(police, env, len, &a);
    submit_rejected(police, changed, changed_len, "CF_EDUPLICATE", &r);
    assert_true(r.has_message_id);
    assert_memory_equal(r.message_id, h.message_id, CF_MESSAGE_ID_LEN);
    cf_wire_frame_fini(&r);
    cf_wire_frame_fini(&a);
}

static void test_stranger_key_fails_the_handshake(void **state)
{
    struct net *n = *state;
    const int done = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    void *monitor;
    uint32_t status = 0;
    net_connect_monitored(n, n->stranger, &monitor);
    assert_int_equal(net_monitor_wait(monitor, done, 10000, &status),
                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    assert_int_equal(status, 400); /* the ZAP handler's refusal */
    char z85[CF_Z85_KEY_LEN + 1], line[128];
    cf_keys_z85_encode(n->stranger->curve_pk, z85);
    snprintf(line, sizeof line, "curve_key=%s reason=not-in-directory", z85);
    assert_true(net_file_contains(n->broker_log, "ZAP-DENIED"));
    assert_true(net_file_contains(n->broker_log, line));

    /* The same monitor sees a directory agency get in. */
    net_connect_monitored(n, keys(n, "police-a"), &monitor);
    assert_int_equal(net_monitor_wait(monitor, done, 10000, NULL), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
}

static void test_wrong_role(void **state)
{
    struct net *n = *state;
    void *health = online(n, "health-x");
    struct cf_header h;
    struct cf_frame r;
    uint8_t *env;
    size_t len;
    net_referral(n, "health-x", &h, &env, &len);
    submit_rejected(health, env, len, "CF_EROLE", &r);
    assert_non_null(strstr(r.reason, "health-x"));
    cf_wire_frame_fini(&r);
}

static void test_sender_is_not_the_connection(void **state)
{
    struct net *n = *state;
    void *police = online(n, "police-a");
    struct cf_header h;
    struct cf_frame r;
    uint8_t *env;
    size_t len;
    net_referral(n, "la-csc", &h, &env, &len); /* sealed and signed by la-csc's own keys */
    submit_rejected(police, env, len, "CF_ESENDER", &r);
    assert_non_null(strstr(r.reason, "authenticated as police-a"));
    cf_wire_frame_fini(&r);
}

static void test_forged_signature(void **state)
{
    struct net *n = *state;
    void *police = online(n, "police-a");
    struct cf_keys *forger;
    struct cf_header h;
    struct cf_frame r;
    uint8_t *env;
    size_t len;
    assert_int_equal(cf_keys_generate(CF_KEYS_AGENCY, "police-a", &forger, NULL), 0);
    net_referral_header(n, "police-a", &h);
    net_seal_as(n, &h, (const uint8_t *)NET_PAYLOAD, sizeof NET_PAYLOAD, forger, &env, &len);
    cf_keys_destroy(&forger);
    submit_rejected(police, env, len, "CF_ESIG", &r);
    cf_wire_frame_fini(&r);
}

static void test_recipients_differ_from_policy(void **state)
{
    struct net *n = *state;
    void *police = online(n, "police-a");
    struct cf_header h;
    struct cf_frame r;
    uint8_t *env;
    size_t len;
    net_referral_header(n, "police-a", &h);
    h.n_recipients = 1;
    strcpy(h.recipients[0], "la-csc");
    net_seal(n, &h, (const uint8_t *)NET_PAYLOAD, sizeof NET_PAYLOAD, &env, &len);
    submit_rejected(police, env, len, "CF_ERECIPIENTS", &r);
    assert_non_null(strstr(r.reason, "[guardian-x la-csc la-duty]"));
    assert_non_null(strstr(r.reason, "[la-csc]"));
    cf_wire_frame_fini(&r);
}

/* ---- Receipts and the log ---- */

static void test_receipts_prove_inclusion(void **state)
{
    struct net *n = *state;
    void *police = online(n, "police-a");
    struct cf_header h;
    struct cf_frame first, later;
    struct cf_checkpoint cp1, cp2;
    refer(n, police, &h, &first);
    refer(n, police, &h, &later);
    check_receipt(n, &first, &cp1);
    check_receipt(n, &later, &cp2);
    assert_true(cp2.size > cp1.size);
    assert_true(later.leaf_index >= cp1.size);
    assert_true(first.n_proof > 0);

    first.proof[first.n_proof / 2][7] ^= 0x01;
    assert_int_equal(prove(n, &first, &cp1, NULL), CF_EPROOF);
    first.proof[first.n_proof / 2][7] ^= 0x01;
    assert_int_equal(prove(n, &first, &cp1, NULL), 0);
    cf_wire_frame_fini(&first);
    cf_wire_frame_fini(&later);
}

static void test_group_commit_of_100_in_flight(void **state)
{
    struct net *n = *state;
    void *police = online(n, "police-a");
    struct cf_status st;
    submit_referrals(n, police, 100, 100, NULL);
    net_status(police, &st);
    assert_int_equal(st.accepted, 100);
    assert_true(st.commits > 0);
    double ratio = (double)st.frames / (double)st.commits;
    print_message("frames per commit: %llu / %llu = %.2f\n", (unsigned long long)st.frames,
                  (unsigned long long)st.commits, ratio);
    assert_true(st.frames > st.commits);
}

static void test_audit_verify_passes_then_catches_a_damaged_record(void **state)
{
    struct net *n = *state;
    void *police = online(n, "police-a");
    void *csc = online(n, "la-csc");
    struct cf_header h;
    struct cf_frame a, d;
    refer(n, police, &h, &a);
    expect_deliver(csc, a.leaf_index, &d);
    net_ack(csc, keys(n, "la-csc"), &d);
    cf_wire_frame_fini(&d);
    expect_report(police, a.leaf_index, "la-csc", "delivered", NULL);
    submit_referrals(n, police, 5, 5, NULL);
    uint8_t *env;
    size_t len;
    net_referral(n, "la-csc", &h, &env, &len); /* and a rejected leaf */
    submit_rejected(police, env, len, "CF_ESENDER", &d);
    cf_wire_frame_fini(&d);
    net_broker_stop(n);

    char out[4096], err[4096], copy[600], data[700], want[64];
    assert_int_equal(net_audit_verify(n, n->state_dir, out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "verified"));

    snprintf(copy, sizeof copy, "%s/damaged", n->dir);
    snprintf(data, sizeof data, "%s/data.mdb", copy);
    net_copy_dir(n->state_dir, copy);
    assert_true(net_file_damage(data, a.record, a.record_len, a.record_len / 2) >= 1);
    assert_int_equal(net_audit_verify(n, copy, out, sizeof out, err, sizeof err), 1);
    snprintf(want, sizeof want, "FAILED at index %llu", (unsigned long long)a.leaf_index);
    if (!strstr(err, want))
        fail_msg("stderr lacks '%s':\n%s", want, err);
    cf_wire_frame_fini(&a);
}

/* ---- Notices, directory, nacks, credit ---- */

static void test_duty_team_gets_a_signed_new_referral_notice(void **state)
{
    struct net *n = *state;
    void *police = online(n, "police-a");
    struct cf_header h;
    struct cf_frame a, d;
    struct cf_checkpoint cp;
    struct cf_notice nt;
    refer(n, police, &h, &a);
    void *duty = online(n, "la-duty");
    expect_deliver(duty, a.leaf_index, &d); /* the referral itself comes first */
    net_ack(duty, keys(n, "la-duty"), &d);
    cf_wire_frame_fini(&d);
    expect_deliver(duty, a.leaf_index + 1, &d);
    assert_non_null(d.notice);
    assert_null(d.envelope);
    check_receipt(n, &d, &cp);

    assert_int_equal(
        cf_notice_verify(d.notice, d.notice_len, d.notice_signature, n->broker->sign_pk), 0);
    assert_int_equal(cf_wire_notice_decode(d.notice, d.notice_len, &nt, NULL), 0);
    assert_string_equal(nt.kind, "new_referral");
    assert_string_equal(nt.case_id, h.case_id);
    assert_int_equal(nt.urgency, CF_URGENCY_IMMEDIATE);
    assert_true(nt.has_immediate_risk && nt.immediate_risk);
    assert_string_equal(nt.referring_agency, "police-a");
    assert_true(nt.n_recipients == 1 && strcmp(nt.recipients[0], "la-duty") == 0);
    assert_true(nt.has_about_leaf && nt.about_leaf == a.leaf_index);
    static const char *const absent[] = {NET_PAYLOAD, "E09000033", "england-wales", "la-csc",
                                         "guardian-x"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        if (memmem(d.notice, d.notice_len, absent[i], strlen(absent[i])))
            fail_msg("the notice carries '%s'", absent[i]);
    d.notice_signature[0] ^= 0x01;
    assert_int_equal(
        cf_notice_verify(d.notice, d.notice_len, d.notice_signature, n->broker->sign_pk), CF_ESIG);
    cf_wire_frame_fini(&d);
    cf_wire_frame_fini(&a);
}

static void check_same_as_file(const uint8_t *got, size_t len, const char *dir, const char *name)
{
    char path[600];
    uint8_t *want;
    size_t want_len;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(cf_file_read(path, 1u << 24, &want, &want_len, NULL), 0);
    assert_int_equal(len, want_len);
    assert_memory_equal(got, want, len);
    free(want);
}

static void test_directory_request_serves_the_signed_files(void **state)
{
    struct net *n = *state;
    void *csc = net_connect(n, keys(n, "la-csc")); /* an agent fetches it before Hello */
    struct cf_frame f = {.kind = CF_FRAME_DIRECTORY_REQUEST};
    net_send(csc, &f);
    net_expect(csc, CF_FRAME_DIRECTORY, &f, 10000);
    check_same_as_file(f.agencies, f.agencies_len, n->dir, "agencies.ini");
    check_same_as_file(f.policy, f.policy_len, n->dir, "policy.ini");
    check_same_as_file(f.sig, f.sig_len, n->dir, "agencies.ini.sig");
    cf_wire_frame_fini(&f);
}

static void test_nack_reports_to_sender_and_empties_the_mailbox(void **state)
{
    struct net *n = *state;
    void *police = online(n, "police-a");
    void *csc = online(n, "la-csc");
    struct cf_header h;
    struct cf_frame a, d;
    refer(n, police, &h, &a);
    expect_deliver(csc, a.leaf_index, &d);
    net_answer(csc, keys(n, "la-csc"), &d, "CF_EDECRYPT");
    expect_report(police, a.leaf_index, "la-csc", "nacked", "CF_EDECRYPT");
    net_close(n, csc);

    uint64_t depth;
    csc = online_depth(n, "la-csc", &depth);
    assert_int_equal(depth, 0);
    expect_no_deliver(csc, QUIET_MS);
    assert_true(net_file_contains(n->broker_log, "MESSAGE-NACKED"));
    cf_wire_frame_fini(&d);
    cf_wire_frame_fini(&a);
}

/* Acknowledges a delivery report as `who`: signed over the report's record. */
static void ack_report(void *sock, const struct cf_keys *who, const struct cf_frame *r)
{
    struct cf_frame ack = {
        .kind = CF_FRAME_ACK, .leaf_index = r->report_leaf, .has_message_id = true};
    uint8_t hash[CF_HASH_LEN];
    memcpy(ack.message_id, r->message_id, CF_MESSAGE_ID_LEN);
    cf_envelope_hash(r->record, r->record_len, hash);
    assert_int_equal(cf_envelope_ack_sign(r->message_id, hash, CF_ACK_OK, who, ack.signature), 0);
    net_send(sock, &ack);
}

/* A delivery report waits in the sender's mailbox while it is offline, holds
 * the recipient's own signed answer, and is gone once acknowledged. */
static void test_delivery_report_waits_for_an_offline_sender(void **state)
{
    struct net *n = *state;
    void *police = online(n, "police-a");
    struct cf_header h;
    struct cf_frame a, d, r;
    refer(n, police, &h, &a);
    net_close(n, police);
    void *csc = online(n, "la-csc");
    expect_deliver(csc, a.leaf_index, &d);
    net_ack(csc, keys(n, "la-csc"), &d);
    uint64_t depth;
    police = online_depth(n, "police-a", &depth);
    assert_int_equal(depth, 1);
    net_expect(police, CF_FRAME_REPORT, &r, 10000);
    assert_int_equal(r.leaf_index, a.leaf_index);
    assert_string_equal(r.recipient, "la-csc");
    assert_string_equal(r.outcome, "delivered");
    /* The report's record is la-csc's answer, signed over the referral. */
    struct cf_record rec;
    assert_int_equal(cf_wire_record_decode(r.record, r.record_len, &rec, NULL), 0);
    assert_int_equal(rec.event, CF_EVENT_DELIVERED);
    assert_int_equal(rec.index, r.report_leaf);
    uint8_t env_hash[CF_HASH_LEN];
    cf_envelope_hash(d.envelope, d.envelope_len, env_hash);
    assert_memory_equal(rec.envelope_hash, env_hash, CF_HASH_LEN);
    assert_int_equal(cf_envelope_ack_verify(h.message_id, rec.envelope_hash, CF_ACK_OK,
                                            rec.ack_signature, keys(n, "la-csc")->sign_pk),
                     0);
    cf_wire_record_fini(&rec);
    ack_report(police, keys(n, "police-a"), &r);
    cf_wire_frame_fini(&r);
    struct cf_status st;
    net_status(police, &st); /* a round trip: the broker has read the ack */
    net_close(n, police);
    police = online_depth(n, "police-a", &depth);
    assert_int_equal(depth, 0);
    cf_wire_frame_fini(&d);
    cf_wire_frame_fini(&a);
}

static void test_hello_redelivers_under_the_credit_window(void **state)
{
    struct net *n = *state;
    enum { N = 12, WINDOW = 5 };
    void *police = online(n, "police-a");
    uint64_t leaves[N], depth;
    struct cf_frame d[N];
    submit_referrals(n, police, N, N, leaves);

    void *csc = online_depth(n, "la-csc", &depth);
    assert_int_equal(depth, N);
    size_t got = 0;
    for (; got < WINDOW; got++)
        expect_deliver(csc, leaves[got], &d[got]);
    expect_no_deliver(csc, QUIET_MS);
    for (size_t acked = 0; acked < N; acked++) {
        net_ack(csc, keys(n, "la-csc"), &d[acked]);
        if (got < N) { /* each ack frees one credit, for the next in leaf order */
            expect_deliver(csc, leaves[got], &d[got]);
            got++;
        }
    }
    expect_no_deliver(csc, QUIET_MS);
    for (size_t i = 0; i < N; i++)
        cf_wire_frame_fini(&d[i]);
}

/* ---- Start-up and storage ---- */

static void test_refuses_a_bad_bundle(void **state)
{
    struct net *n = *state;
    char out[8192], agencies[600];
    const char *check[] = {BROKER, "-c", n->broker_ini, "--check-config", NULL};
    assert_int_equal(net_run(check, out, sizeof out), 0);
    assert_non_null(strstr(out, "configuration ok"));

    snprintf(agencies, sizeof agencies, "%s/agencies.ini", n->dir);
    assert_int_equal(net_file_damage(agencies, "Test agency la-csc", 18, 0), 1);
    /* 1 exactly: a sanitizer report or a crash on the way out would change it. */
    assert_int_equal(net_run(check, out, sizeof out), 1);
    assert_non_null(strstr(out, "signature does not verify"));
    assert_int_equal(net_broker_try_start(n), 1);
    if (!net_file_contains(n->broker_log, "the authority signature does not verify"))
        fail_msg("the broker's log does not say why");
    assert_false(net_broker_listening(n));
}

static void test_startup_check_refuses_a_damaged_last_record(void **state)
{
    struct net *n = *state;
    struct cf_header h;
    refer_then_stop(n, &h);

    uint8_t *rec;
    size_t len;
    char data[600], want[128];
    uint64_t last = net_log_size(n) - 1;
    net_log_record(n, last, &rec, &len);
    snprintf(data, sizeof data, "%s/data.mdb", n->state_dir);
    assert_true(net_file_damage(data, rec, len, len / 2) >= 1);
    free(rec);
    assert_int_equal(net_broker_try_start(n), 1); /* -1 would mean it listens */
    snprintf(want, sizeof want, "record %llu does not hash to its leaf", (unsigned long long)last);
    assert_true(net_file_contains(n->broker_log, want));
    assert_true(net_file_contains(n->broker_log, "BROKER-REFUSED code=CF_ECORRUPT"));
    assert_false(net_broker_listening(n));
}

static void test_map_full_grows_and_replays(void **state)
{
    struct net *n = *state;
    enum { N = 600 };
    void *police = online(n, "police-a");
    submit_referrals(n, police, N, 50, NULL);
    net_broker_stop(n);
    assert_true(net_file_contains(n->broker_log, "STORE-GROWN"));
    assert_int_equal(net_log_size(n), 1 + 2 * N); /* config, then each referral and its notice */
    char out[4096], err[4096];
    if (net_audit_verify(n, n->state_dir, out, sizeof out, err, sizeof err) != 0)
        fail_msg("audit verify failed:\n%s%s", out, err);
}

static void test_below_the_watermark_submissions_are_refused(void **state)
{
    struct net *n = *state;
    void *police = online(n, "police-a");
    struct cf_header h;
    struct cf_frame r;
    uint8_t *env;
    size_t len;
    uint64_t before = tree_size(police);
    net_referral(n, "police-a", &h, &env, &len);
    submit_rejected(police, env, len, "CF_ENOSPACE", &r);
    assert_int_equal(tree_size(police), before);
    assert_true(net_file_contains(n->broker_log, "MESSAGE-REFUSED"));
    cf_wire_frame_fini(&r);
}

/* ---- Bad input ---- */

/* la-csc's Ping is answered; a referral from police-a is still Accepted and
 * reaches la-csc, whose ack comes back to police-a as a report. */
static void still_works(struct net *n, void *police, void *csc)
{
    struct cf_header h;
    struct cf_frame a, d, pong = {.kind = CF_FRAME_PING, .nonce = 7};
    net_send(csc, &pong); /* another agency's traffic */
    net_expect(csc, CF_FRAME_PONG, &pong, 10000);
    assert_int_equal(pong.nonce, 7);
    cf_wire_frame_fini(&pong);
    refer(n, police, &h, &a);
    expect_deliver(csc, a.leaf_index, &d);
    net_ack(csc, keys(n, "la-csc"), &d);
    expect_report(police, a.leaf_index, "la-csc", "delivered", NULL);
    cf_wire_frame_fini(&d);
    cf_wire_frame_fini(&a);
}

static void test_bad_input_is_rejected_and_the_connection_lives(void **state)
{
    struct net *n = *state;
    void *police = online(n, "police-a");
    void *csc = online(n, "la-csc");
    uint8_t noise[256], seed[randombytes_SEEDBYTES] = {42};
    randombytes_buf_deterministic(noise, sizeof noise, seed);
    net_send_raw(police, noise, sizeof noise);
    expect_rejected(police, "CF_EDECODE");
    still_works(n, police, csc);

    size_t big_len = CF_MAX_FRAME + 4096; /* over the application limit, under the transport's */
    uint8_t *big = calloc(1, big_len);
    assert_non_null(big);
    net_send_raw(police, big, big_len);
    free(big);
    expect_rejected(police, "CF_ETOOBIG");
    still_works(n, police, csc);

    /* Two parts, each a valid Ping: the message as a whole is still refused. */
    struct cf_frame ping = {.kind = CF_FRAME_PING, .nonce = 1};
    uint8_t *one;
    size_t one_len;
    assert_int_equal(cf_wire_frame_encode(&ping, &one, &one_len), 0);
    const void *parts[] = {one, one};
    const size_t lens[] = {one_len, one_len};
    net_send_parts(police, parts, lens, 2);
    free(one);
    expect_rejected(police, "CF_EDECODE");
    still_works(n, police, csc);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define TEST_WITH(f, o) cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, (void *)&(o))

/* ---- Deadline timers ---- */

/* The broker's log so far; free it. */
static char *log_text(struct net *n)
{
    uint8_t *text;
    size_t len;
    struct cf_error err = {0};
    if (cf_file_read(n->broker_log, 64u << 20, &text, &len, &err) != 0)
        fail_msg("%s", err.text);
    return (char *)text;
}

/* Occurrences of `needle` in the broker's log. */
static size_t log_count(struct net *n, const char *needle)
{
    char *text = log_text(n);
    size_t count = 0;
    for (const char *p = text; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
        count++;
    free(text);
    return count;
}

/* What the stopped broker's store holds of a case, in the `case` and `timer`
 * tables. With `rewrite` it puts them in the layout of logs written before:
 * the case's state under its id (not under the leaf that opened it, with the
 * id pointing there), and each deadline key (due || 'c' || opening leaf ||
 * deadline || phase -> case id) as due || 'd' || case id || deadline ||
 * phase. Returns the deadline keys of the case, in either layout; *by_leaf
 * says whether its id points to its leaf. */
static size_t case_keys(struct net *n, const char *case_id, bool rewrite, bool *by_leaf)
{
    struct cf_store store;
    struct cf_error err = {0};
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    if (cf_store_open(&store, n->state_dir, 0, !rewrite, &err) != 0)
        fail_msg("%s", err.text);
    assert_int_equal(mdb_txn_begin(store.env, NULL, rewrite ? 0 : MDB_RDONLY, &txn), 0);
    MDB_val id = {CF_CASE_ID_LEN, (void *)case_id};
    assert_int_equal(mdb_get(txn, store.cases, &id, &v), 0);
    *by_leaf = v.mv_size == 8;
    if (rewrite) {
        assert_true(*by_leaf);
        MDB_val leaf = {8, v.mv_data}, state;
        assert_int_equal(mdb_get(txn, store.cases, &leaf, &state), 0);
        uint8_t *copy = malloc(state.mv_size);
        memcpy(copy, state.mv_data, state.mv_size);
        state.mv_data = copy;
        assert_int_equal(mdb_del(txn, store.cases, &leaf, NULL), 0);
        assert_int_equal(mdb_put(txn, store.cases, &id, &state, 0), 0);
        free(copy);
    }
    assert_int_equal(mdb_cursor_open(txn, store.timer, &cur), 0);
    size_t found = 0;
    enum { NEW_LEN = 8 + 1 + 8 + 2, OLD_LEN = 8 + 1 + CF_CASE_ID_LEN + 2 };
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *key = k.mv_data;
        if (k.mv_size == OLD_LEN && key[8] == 'd' && !rewrite)
            found += memcmp(key + 9, case_id, CF_CASE_ID_LEN) == 0;
        if (k.mv_size != NEW_LEN || key[8] != 'c')
            continue;
        /* The new layout holds the case id as the value. */
        assert_int_equal(v.mv_size, CF_CASE_ID_LEN);
        if (memcmp(v.mv_data, case_id, CF_CASE_ID_LEN) != 0)
            continue;
        found++;
        if (!rewrite)
            continue;
        uint8_t old[OLD_LEN];
        memcpy(old, key, 9);
        old[8] = 'd';
        memcpy(old + 9, case_id, CF_CASE_ID_LEN);
        old[9 + CF_CASE_ID_LEN] = key[17];
        old[10 + CF_CASE_ID_LEN] = key[18];
        MDB_val ok = {sizeof old, old}, empty = {0, ""};
        assert_int_equal(mdb_cursor_del(cur, 0), 0);
        assert_int_equal(mdb_put(txn, store.timer, &ok, &empty, 0), 0);
    }
    mdb_cursor_close(cur);
    if (rewrite)
        assert_int_equal(mdb_txn_commit(txn), 0);
    else
        mdb_txn_abort(txn);
    cf_store_close(&store);
    return found;
}

/* A log written before cases and deadline keys were kept by the case's
 * opening leaf still holds them by case id: the case still loads, each
 * deadline still fires, once, and goes, and the case moves to its leaf. */
static void test_cases_and_deadlines_of_the_earlier_layout_still_work(void **state)
{
    struct net *n = *state;
    struct cf_header h;
    refer_then_stop(n, &h);
    bool by_leaf;
    size_t keys_set = case_keys(n, h.case_id, true, &by_leaf);
    assert_true(keys_set >= 2); /* a deadline's near and breach notices at least */
    assert_int_equal(case_keys(n, h.case_id, false, &by_leaf), keys_set); /* now all 'd' keys */
    assert_false(by_leaf);

    net_broker_start(n);
    net_clock_advance(n, 400LL * 24 * 3600 * 1000); /* past every deadline */
    char near[96], breached[96];
    snprintf(near, sizeof near, "DEADLINE-NEAR case=%s", h.case_id);
    snprintf(breached, sizeof breached, "DEADLINE-BREACHED case=%s", h.case_id);
    for (int waited = 0; log_count(n, near) + log_count(n, breached) < keys_set; waited += 50) {
        if (waited > 20000)
            fail_msg("%zu deadline keys, but the broker's log has:\n%s", keys_set, log_text(n));
        usleep(50 * 1000);
    }
    net_broker_stop(n);
    assert_int_equal(log_count(n, near) + log_count(n, breached), keys_set);
    assert_int_equal(case_keys(n, h.case_id, false, &by_leaf), 0); /* fired keys are gone */
    assert_true(by_leaf); /* stored again when its deadlines fired */
    net_broker_start(n);  /* and nothing fires twice */
    net_clock_advance(n, 24LL * 3600 * 1000);
    usleep(1500 * 1000);
    assert_int_equal(log_count(n, near) + log_count(n, breached), keys_set);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        TEST(test_accepted_and_delivered),
        TEST(test_offline_recipient_gets_it_after_hello),
        TEST(test_sigkill_after_accepted_delivers_exactly_once),
        TEST(test_sigkill_with_a_delivery_in_flight),
        TEST_WITH(test_accepted_batches_outlive_a_kill_in_the_redo_log, no_commit),
        TEST_WITH(test_commit_ms_0_commits_each_batch_to_lmdb, commit_each),
        TEST(test_new_directory_version_is_logged),
        TEST(test_same_message_twice_is_one_leaf),
        TEST(test_same_id_different_bytes_is_duplicate),
        TEST(test_stranger_key_fails_the_handshake),
        TEST(test_wrong_role),
        TEST(test_sender_is_not_the_connection),
        TEST(test_forged_signature),
        TEST(test_forged_delivery_ack_keeps_the_entry),
        TEST(test_recipients_differ_from_policy),
        TEST(test_receipts_prove_inclusion),
        TEST(test_group_commit_of_100_in_flight),
        TEST(test_audit_verify_passes_then_catches_a_damaged_record),
        TEST(test_duty_team_gets_a_signed_new_referral_notice),
        TEST(test_directory_request_serves_the_signed_files),
        TEST(test_nack_reports_to_sender_and_empties_the_mailbox),
        TEST(test_delivery_report_waits_for_an_offline_sender),
        TEST_WITH(test_hello_redelivers_under_the_credit_window, credit_5),
        TEST_WITH(test_refuses_a_bad_bundle, not_started),
        TEST(test_startup_check_refuses_a_damaged_last_record),
        TEST_WITH(test_map_full_grows_and_replays, map_1mb),
        TEST_WITH(test_below_the_watermark_submissions_are_refused, no_space),
        TEST(test_bad_input_is_rejected_and_the_connection_lives),
        TEST(test_cases_and_deadlines_of_the_earlier_layout_still_work),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
