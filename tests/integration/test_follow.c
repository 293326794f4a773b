/* The auditor's replica (`childfirst audit follow`) and the broker's hot
 * backup, against real processes: a replica that verifies and resumes, a
 * stranger refused, and the alarms a sceptical auditor needs: a broker
 * restored from a backup and fed other messages (a fork), and a log cut
 * short (truncation), which `audit verify` also names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>
#include <lmdb.h>
#include <sodium.h>

#include "childfirst/checkpoint.h"
#include "childfirst/merkle.h"
#include "childfirst/record.h"
#include "childfirst/store.h"
#include "harness.h"

static int setup(void **state)
{
    const char *ini = *state; /* extra broker.ini lines, or NULL */
    struct net *n = calloc(1, sizeof *n);
    net_create(n, ini);
    net_broker_start(n);
    net_agent_setup(n, "auditor-x", NULL);
    net_agent_setup(n, "police-a", NULL); /* its agent.ini, for a refused follow */
    *state = n;
    return 0;
}

static int teardown(void **state)
{
    struct net *n = *state;
    net_broker_stop(n);
    net_destroy(n);
    free(n);
    return 0;
}

static char out[1 << 16], err_text[1 << 14];

/* The running broker's tree size, as it reports it. */
static uint64_t tree_size(struct net *n)
{
    void *s = net_connect(n, net_agency(n, "police-a")->keys);
    struct cf_status st;
    net_status(s, &st);
    net_close(n, s);
    return st.tree_size;
}

/* Submits `count` fresh referrals from police-a; the tree size after. */
static void refer(struct net *n, int count)
{
    void *s = net_connect(n, net_agency(n, "police-a")->keys);
    for (int i = 0; i < count; i++) {
        struct cf_header h;
        struct cf_frame a;
        uint8_t *env;
        size_t len;
        net_referral(n, "police-a", &h, &env, &len);
        net_submit(s, env, len, &a);
        assert_int_equal(a.kind, CF_FRAME_ACCEPTED);
        cf_wire_frame_fini(&a);
        free(env);
    }
    net_close(n, s);
}

/* `childfirst audit follow -c <id's agent.ini> --once`: its exit status. */
static int follow(struct net *n, const char *id)
{
    const char *argv[] = {CF_BIN_DIR "/childfirst", "audit",  "follow", "-c",
                          net_agent_of(n, id)->ini, "--once", NULL};
    return net_run_split(argv, out, sizeof out, err_text, sizeof err_text);
}

/* The replica's size, from follow's summary "replica DIR: N records (...". */
static uint64_t replica_size(void)
{
    const char *p = strstr(out, ": ");
    unsigned long long n;
    if (!p || sscanf(p + 2, "%llu records", &n) != 1)
        fail_msg("follow printed no summary: %s", out);
    return n;
}

static void backup(struct net *n, const char *dir)
{
    const char *args[] = {
        CF_BIN_DIR "/childfirst-broker", "-c", n->broker_ini, "--backup", dir, NULL};
    char log[700];
    snprintf(log, sizeof log, "%s/backup.log", n->dir);
    assert_int_equal(net_broker_run(n, args, log), 0);
}

/* The broker's log replaced by the folder `from` (a restore), started. */
static void restore(struct net *n, const char *from)
{
    char cmd[2048];
    net_broker_stop(n);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -R '%s' '%s'", n->state_dir, from, n->state_dir);
    assert_int_equal(system(cmd), 0);
    net_broker_start(n);
}

/* Cuts a log (broker stopped) to its first `keep` leaves; with
 * `and_checkpoints`, also every checkpoint beyond them, so a broker still
 * starts on it, only smaller. */
static void truncate_log(const char *state_dir, uint64_t keep, bool and_checkpoints)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi audit, checkpoint;
    MDB_cursor *c;
    MDB_val k, v;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, state_dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "audit", 0, &audit), 0);
    assert_int_equal(mdb_dbi_open(txn, "checkpoint", 0, &checkpoint), 0);
    MDB_dbi dbis[2] = {audit, checkpoint};
    for (int d = 0; d < (and_checkpoints ? 2 : 1); d++) {
        assert_int_equal(mdb_cursor_open(txn, dbis[d], &c), 0);
        uint8_t key[8];
        cf_store_put_u64(key, d == 0 ? keep : keep + 1);
        k.mv_size = 8, k.mv_data = key;
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
            assert_int_equal(mdb_cursor_del(c, 0), 0);
        mdb_cursor_close(c);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* The newest checkpointed size at most `max` in a stopped broker's log. */
static uint64_t checkpoint_at_most(const char *state_dir, uint64_t max)
{
    struct cf_store s;
    struct cf_error err = {0};
    MDB_txn *txn;
    MDB_val note;
    uint64_t at = 0;
    assert_int_equal(cf_store_open(&s, state_dir, 0, true, &err), 0);
    assert_int_equal(mdb_txn_begin(s.env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(cf_store_checkpoint_at_most(&s, txn, max, &at, &note), 0);
    mdb_txn_abort(txn);
    cf_store_close(&s);
    return at;
}

static json_t *alarm_file(struct net *n)
{
    char path[800];
    snprintf(path, sizeof path, "%s/follow.alarm.json", net_agent_of(n, "auditor-x")->state);
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc)
        fail_msg("no alarm file %s: %s", path, je.text);
    return doc;
}

/* ---- Tests ---- */

static void test_replica_verifies_and_resumes(void **state)
{
    struct net *n = *state;
    refer(n, 3);
    assert_int_equal(follow(n, "auditor-x"), 0);
    if (replica_size() != tree_size(n))
        fail_msg("replica %llu, log %llu: %s %s", (unsigned long long)replica_size(),
                 (unsigned long long)tree_size(n), out, err_text);
    refer(n, 300); /* more than one stream batch */
    assert_int_equal(follow(n, "auditor-x"), 0);
    assert_int_equal(replica_size(), tree_size(n));
    assert_non_null(strstr(out, "new)"));
    /* The replica is a log `audit verify` checks like the broker's own. */
    char verify_out[4096], verify_err[4096];
    assert_int_equal(net_audit_verify(n, net_agent_of(n, "auditor-x")->state, verify_out,
                                      sizeof verify_out, verify_err, sizeof verify_err),
                     0);
    assert_non_null(strstr(verify_out, "verified"));
    /* Caught up, a second run takes nothing new and says so. */
    assert_int_equal(follow(n, "auditor-x"), 0);
    assert_non_null(strstr(out, "(0 new)"));
}

static void test_only_an_auditor_may_follow(void **state)
{
    struct net *n = *state;
    assert_int_equal(follow(n, "police-a"), 1);
    assert_non_null(strstr(err_text, "audit_roles"));
    assert_true(net_file_contains(n->broker_log, "AUDIT-FOLLOW-DENIED"));
}

static void test_hot_backup_while_running(void **state)
{
    struct net *n = *state;
    refer(n, 5);
    char dir[700];
    snprintf(dir, sizeof dir, "%s/backup", n->dir);
    backup(n, dir); /* the broker keeps running */
    refer(n, 1);
    char verify_out[4096], verify_err[4096];
    assert_int_equal(
        net_audit_verify(n, dir, verify_out, sizeof verify_out, verify_err, sizeof verify_err), 0);
    assert_non_null(strstr(verify_out, "records: 11")); /* config, 5 referrals and notices */
}

/* A broker restored from a backup and fed other messages shows a history
 * that forks from the one the replica holds. */
static void test_a_fork_raises_the_alarm(void **state)
{
    struct net *n = *state;
    refer(n, 2);
    char dir[700];
    snprintf(dir, sizeof dir, "%s/backup", n->dir);
    backup(n, dir);
    refer(n, 2);
    assert_int_equal(follow(n, "auditor-x"), 0);
    uint64_t held = replica_size();
    restore(n, dir);
    refer(n, 3); /* other messages: the restored log grows past the replica */
    assert_true(tree_size(n) > held);
    assert_int_equal(follow(n, "auditor-x"), 3);
    assert_non_null(strstr(err_text, "ALARM"));
    json_t *a = alarm_file(n);
    const char *kind = json_string_value(json_object_get(a, "alarm"));
    assert_true(strcmp(kind, "fork") == 0 || strcmp(kind, "rewritten") == 0);
    /* Both checkpoints, as evidence: the replica's and the broker's. */
    assert_non_null(
        strstr(json_string_value(json_object_get(a, "held_checkpoint")), "test.childfirst/log"));
    assert_non_null(
        strstr(json_string_value(json_object_get(a, "broker_checkpoint")), "test.childfirst/log"));
    json_decref(a);
    /* And it stays stopped: the replica did not take the forked records. */
    assert_int_equal(follow(n, "auditor-x"), 3);
}

static void test_a_truncated_log_is_noticed(void **state)
{
    struct net *n = *state;
    refer(n, 6);
    assert_int_equal(follow(n, "auditor-x"), 0);
    uint64_t held = replica_size();
    net_broker_stop(n);
    /* verify names the first missing leaf of a copy cut short. */
    char copy[700], verify_out[4096], verify_err[4096];
    snprintf(copy, sizeof copy, "%s/cut", n->dir);
    net_copy_dir(n->state_dir, copy);
    truncate_log(copy, held - 3, false);
    if (net_audit_verify(n, copy, verify_out, sizeof verify_out, verify_err, sizeof verify_err) !=
        1)
        fail_msg("verify passed a truncated log: %s", verify_out);
    char want[64];
    snprintf(want, sizeof want, "%llu", (unsigned long long)(held - 3));
    assert_non_null(strstr(verify_err, want));
    /* A broker started on a log cut back to an earlier checkpoint is smaller
     * than the replica: the follower calls it. */
    uint64_t keep = checkpoint_at_most(n->state_dir, held - 3);
    truncate_log(n->state_dir, keep, true);
    net_broker_start(n);
    assert_int_equal(tree_size(n), keep);
    assert_int_equal(follow(n, "auditor-x"), 3);
    json_t *a = alarm_file(n);
    assert_string_equal(json_string_value(json_object_get(a, "alarm")), "backwards");
    json_decref(a);
}

/* The envelopes in a (stopped) log's envelope table. */
static size_t envelopes(const char *state_dir)
{
    struct cf_store s;
    struct cf_error err = {0};
    MDB_txn *txn;
    MDB_stat st;
    assert_int_equal(cf_store_open(&s, state_dir, 0, true, &err), 0);
    assert_int_equal(mdb_txn_begin(s.env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_stat(txn, s.envelope, &st), 0);
    mdb_txn_abort(txn);
    cf_store_close(&s);
    return st.ms_entries;
}

/* Retention removes old envelopes in logged purges; every receipt still
 * proves, against its own checkpoint and the newest, and the replica purges
 * what the broker purged. */
static void test_retention_keeps_every_proof(void **state)
{
    struct net *n = *state;
    void *s = net_connect(n, net_agency(n, "police-a")->keys);
    struct cf_frame a[3];
    for (int i = 0; i < 3; i++) {
        struct cf_header h;
        uint8_t *env;
        size_t len;
        net_referral(n, "police-a", &h, &env, &len);
        net_submit(s, env, len, &a[i]);
        assert_int_equal(a[i].kind, CF_FRAME_ACCEPTED);
        free(env);
    }
    assert_int_equal(follow(n, "auditor-x"), 0);
    net_clock_advance(n, 2 * 86400000ll + 120000); /* past retention_days = 1 */
    for (int waited = 0; !net_file_contains(n->broker_log, "ENVELOPES-PURGED"); waited += 50) {
        if (waited > 20000)
            fail_msg("no purge within 20 s");
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < 3; i++) {
        struct cf_checkpoint cp;
        struct cf_error err = {0};
        /* The receipt as it was given. */
        assert_int_equal(cf_record_prove(a[i].record, a[i].record_len, a[i].leaf_index,
                                         (const uint8_t(*)[CF_MERKLE_HASH])a[i].proof, a[i].n_proof,
                                         a[i].checkpoint, a[i].checkpoint_len, n->broker->sign_pk,
                                         &cp, &err),
                         0);
        /* And against the newest checkpoint, with its extension of the old. */
        struct cf_frame q = {.kind = CF_FRAME_PROOF_REQUEST,
                             .leaf_index = a[i].leaf_index,
                             .from_size = cp.size},
                        p;
        net_send(s, &q);
        net_expect(s, CF_FRAME_PROOF, &p, 10000);
        struct cf_checkpoint now;
        assert_int_equal(cf_record_prove(p.record, p.record_len, p.leaf_index,
                                         (const uint8_t(*)[CF_MERKLE_HASH])p.proof, p.n_proof,
                                         p.checkpoint, p.checkpoint_len, n->broker->sign_pk, &now,
                                         &err),
                         0);
        assert_true(now.size > cp.size);
        assert_int_equal(cf_merkle_verify_consistency(
                             cp.size, now.size, cp.root, now.root,
                             (const uint8_t(*)[CF_MERKLE_HASH])p.consistency, p.n_consistency),
                         0);
        cf_wire_frame_fini(&p);
        cf_wire_frame_fini(&a[i]);
    }
    net_close(n, s);
    assert_int_equal(follow(n, "auditor-x"), 0); /* takes the purge too */
    net_broker_stop(n);
    assert_int_equal(envelopes(n->state_dir), 0);
    assert_int_equal(envelopes(net_agent_of(n, "auditor-x")->state), 0);
    /* Both still verify, each missing envelope accounted for by a purge. */
    const char *dirs[] = {n->state_dir, net_agent_of(n, "auditor-x")->state};
    for (int d = 0; d < 2; d++) {
        char vout[4096], verr[4096];
        if (net_audit_verify(n, dirs[d], vout, sizeof vout, verr, sizeof verr) != 0)
            fail_msg("%s does not verify after retention: %s%s", dirs[d], vout, verr);
        assert_non_null(strstr(vout, "redacted: 3 envelopes"));
    }
    net_broker_start(n);
}

/* How many referrals an agent has written to its inbox, waiting up to 20 s
 * for `want`. */
static size_t await_referrals(struct net *n, const char *id, size_t want)
{
    char pattern[800];
    snprintf(pattern, sizeof pattern, "%s/inbox/*/*-referral.json", net_agent_of(n, id)->spool);
    size_t have = 0;
    for (int waited = 0; (have = net_count_glob(pattern)) < want && waited < 20000; waited += 50) {
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    return have;
}

/* `count` referrals through police-a's running agent (`childfirst refer`). */
static void refer_by_agent(struct net *n, int count)
{
    const char *args[] = {"refer", CF_SOURCE_DIR "/deploy/examples/referral.json", NULL};
    for (int i = 0; i < count; i++)
        if (net_cli(n, "police-a", args, out, sizeof out, err_text, sizeof err_text) != 0)
            fail_msg("childfirst refer failed:\n%s\n%s", out, err_text);
}

/* A restore done right: the backup goes on under a new origin whose first
 * leaf links it to the old one's last checkpoint. Without --restored the
 * broker refuses a log of another origin; the agents and the replica take the
 * new origin only through the link; an agency that had seen leaves the
 * backup lacks says how many were lost; and the log verifies end to end. */
static void test_a_restore_goes_on_under_a_linked_origin(void **state)
{
    struct net *n = *state;
    net_agent_setup(n, "la-csc", NULL);
    net_agent_start(n, "la-csc", NULL);
    net_agent_start(n, "police-a", NULL);
    refer_by_agent(n, 2);
    assert_int_equal(await_referrals(n, "la-csc", 2), 2);
    assert_int_equal(follow(n, "auditor-x"), 0);
    char dir[700], cmd[4096];
    snprintf(dir, sizeof dir, "%s/backup", n->dir);
    backup(n, dir);
    refer_by_agent(n, 2); /* seen by la-csc, lost with the broker's disk */
    assert_int_equal(await_referrals(n, "la-csc", 4), 4);

    net_broker_stop(n);
    snprintf(cmd, sizeof cmd,
             "rm -rf '%s' && cp -R '%s' '%s' && sed -i 's|^origin = .*|origin = "
             "test.childfirst/log-2|' '%s'",
             n->state_dir, dir, n->state_dir, n->broker_ini);
    assert_int_equal(system(cmd), 0);
    int status = net_broker_try_start(n);
    assert_true(status > 0); /* refused: another origin, and no --restored */
    assert_true(net_file_contains(n->broker_log, "start it with --restored"));
    n->broker_flag = "--restored";
    net_broker_start(n);
    n->broker_flag = NULL;
    assert_true(net_file_contains(n->broker_log, "ORIGIN-RESTARTED"));

    refer_by_agent(n, 1); /* reaches la-csc only if it took the new origin */
    assert_int_equal(await_referrals(n, "la-csc", 5), 5);
    assert_true(net_file_contains(net_agent_of(n, "la-csc")->log, "BROKER-RESTORED"));
    assert_false(net_file_contains(net_agent_of(n, "la-csc")->log, "lost=0"));
    /* The sender's own notice names the two referrals the restore lost. */
    char pattern[900], notice[900];
    snprintf(pattern, sizeof pattern, "%s/inbox/_agent/*-notice.json",
             net_agent_of(n, "police-a")->spool);
    assert_true(net_wait_glob(pattern, 20000, notice, sizeof notice));
    json_error_t je;
    json_t *doc = json_load_file(notice, 0, &je);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "kind")), "restored");
    assert_string_equal(json_string_value(json_object_get(doc, "new_origin")),
                        "test.childfirst/log-2");
    assert_int_equal(json_array_size(json_object_get(doc, "lost_sent")), 2);
    json_decref(doc);
    assert_int_equal(follow(n, "auditor-x"), 0);
    assert_non_null(strstr(err_text, "restored from a backup"));
    assert_int_equal(follow(n, "auditor-x"), 0); /* and goes on from there */

    /* Restarted plainly, the log is of its own origin now. */
    net_agent_stop(n, "la-csc");
    net_agent_stop(n, "police-a");
    net_broker_stop(n);
    char verify_out[4096], verify_err[4096];
    if (net_audit_verify(n, n->state_dir, verify_out, sizeof verify_out, verify_err,
                         sizeof verify_err) != 0)
        fail_msg("the restored log does not verify: %s%s", verify_out, verify_err);
    assert_non_null(strstr(verify_out, "restores: 1 "));
    net_broker_start(n);
}

/* `childfirst receipt`: an agency's receipt proven in a later checkpoint,
 * every part of it checked here again; refused to an agency the leaf does not
 * concern, given to an auditor, and never for a record that is not the
 * receipt's. */
static void test_a_receipt_is_proven_later(void **state)
{
    struct net *n = *state;
    net_agent_setup(n, "health-x", NULL);
    net_agent_start(n, "police-a", NULL);
    const char *args[] = {"refer", CF_SOURCE_DIR "/deploy/examples/referral.json", NULL};
    assert_int_equal(net_cli(n, "police-a", args, out, sizeof out, err_text, sizeof err_text), 0);
    char path[800], bad[800];
    snprintf(path, sizeof path, "%s/receipt.json", n->dir);
    json_error_t je;
    json_t *receipt = json_loads(out, 0, &je);
    assert_non_null(receipt);
    assert_int_equal(json_dump_file(receipt, path, 0), 0);
    refer_by_agent(n, 2); /* the tree grows past the receipt's checkpoint */
    net_agent_stop(n, "police-a");

    const char *prove[] = {CF_BIN_DIR "/childfirst",         "receipt", path, "-c",
                           net_agent_of(n, "police-a")->ini, NULL};
    if (net_run_split(prove, out, sizeof out, err_text, sizeof err_text) != 0)
        fail_msg("childfirst receipt failed: %s", err_text);
    json_t *doc = json_loads(out, 0, &je);
    assert_non_null(doc);
    const json_t *later = json_object_get(doc, "later");
    const char *note = json_string_value(json_object_get(later, "checkpoint"));
    assert_non_null(note);
    size_t rec_len;
    uint8_t rec[4096];
    const char *b64 = json_string_value(json_object_get(receipt, "record"));
    assert_int_equal(sodium_base642bin(rec, sizeof rec, b64, strlen(b64), NULL, &rec_len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    uint8_t proof[64][CF_MERKLE_HASH], cons[64][CF_MERKLE_HASH];
    size_t n_proof = json_array_size(json_object_get(later, "inclusion_proof"));
    size_t n_cons = json_array_size(json_object_get(later, "consistency_proof"));
    for (size_t i = 0; i < n_proof; i++)
        assert_int_equal(sodium_hex2bin(proof[i], CF_MERKLE_HASH,
                                        json_string_value(json_array_get(
                                            json_object_get(later, "inclusion_proof"), i)),
                                        2 * CF_MERKLE_HASH, NULL, NULL, NULL),
                         0);
    for (size_t i = 0; i < n_cons; i++)
        assert_int_equal(sodium_hex2bin(cons[i], CF_MERKLE_HASH,
                                        json_string_value(json_array_get(
                                            json_object_get(later, "consistency_proof"), i)),
                                        2 * CF_MERKLE_HASH, NULL, NULL, NULL),
                         0);
    struct cf_checkpoint then, now;
    struct cf_error e = {0};
    const char *old_note = json_string_value(json_object_get(receipt, "checkpoint"));
    assert_int_equal(cf_checkpoint_open(old_note, strlen(old_note), n->broker->sign_pk, &then, &e),
                     0);
    uint64_t leaf = (uint64_t)json_integer_value(json_object_get(receipt, "leaf_index"));
    assert_int_equal(cf_record_prove(rec, rec_len, leaf, (const uint8_t(*)[CF_MERKLE_HASH])proof,
                                     n_proof, note, strlen(note), n->broker->sign_pk, &now, &e),
                     0);
    assert_true(now.size > then.size);
    assert_int_equal(cf_merkle_verify_consistency(then.size, now.size, then.root, now.root,
                                                  (const uint8_t(*)[CF_MERKLE_HASH])cons, n_cons),
                     0);
    json_decref(doc);

    /* Not a party: refused, with the reason. An auditor: given. */
    prove[4] = net_agent_of(n, "health-x")->ini;
    assert_int_equal(net_run_split(prove, out, sizeof out, err_text, sizeof err_text), 1);
    assert_non_null(strstr(err_text, "CF_ENOTPARTY"));
    assert_int_equal(out[0], 0);
    prove[4] = net_agent_of(n, "auditor-x")->ini;
    assert_int_equal(net_run_split(prove, out, sizeof out, err_text, sizeof err_text), 0);

    /* A receipt whose record was altered is not proven, whoever asks. */
    b64 = json_string_value(json_object_get(receipt, "record"));
    char *altered = strdup(b64);
    altered[10] = altered[10] == 'A' ? 'B' : 'A';
    json_object_set_new(receipt, "record", json_string(altered));
    free(altered);
    snprintf(bad, sizeof bad, "%s/altered.json", n->dir);
    assert_int_equal(json_dump_file(receipt, bad, 0), 0);
    prove[2] = bad;
    assert_int_equal(net_run_split(prove, out, sizeof out, err_text, sizeof err_text), 1);
    assert_non_null(strstr(err_text, "not the receipt's"));
    json_decref(receipt);
}

static const char retention_1_day[] = "retention_days = 1\n";

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        TEST(test_replica_verifies_and_resumes),
        TEST(test_only_an_auditor_may_follow),
        TEST(test_hot_backup_while_running),
        TEST(test_a_fork_raises_the_alarm),
        TEST(test_a_truncated_log_is_noticed),
        TEST(test_a_restore_goes_on_under_a_linked_origin),
        TEST(test_a_receipt_is_proven_later),
        cmocka_unit_test_prestate_setup_teardown(test_retention_keeps_every_proof, setup, teardown,
                                                 (void *)retention_1_day),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
