/* childfirst audit follow: an auditor's own replica of the broker's log.
 *
 * The replica is an LMDB store in the broker's own layout (records, tree
 * nodes, checkpoints), so `childfirst audit verify` works on it unchanged.
 * Nothing the broker says is taken on trust: each checkpoint must be signed
 * by the pinned broker key, its root must be the one the replica computes
 * from the records it was sent, and it must extend the last checkpoint the
 * replica holds by the RFC 9162 consistency proof. Anything else is a fork, a
 * rewritten record or a log that went backwards: the follower stops, loudly,
 * and writes the evidence (both checkpoints) to STATE_DIR/follow.alarm.json.
 * It resumes where the replica ends. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>
#include <zmq.h>

#include "agent.h"
#include "agent_text.h"
#include "childfirst/checkpoint.h"
#include "childfirst/clock.h"
#include "childfirst/file.h"
#include "childfirst/merkle.h"
#include "childfirst/record.h"
#include "childfirst/store.h"
#include "cli.h"
#include "curve_client.h"

#define FOLLOW_ALARM 3  /* exit status when the log is not what it was */
#define ANSWER_MS 15000 /* the broker must answer a request within this */
#define POLL_MS 1000    /* caught up: ask again this often */
#define REPLICA_MAP_MB 4096

static const char follow_help[] =
    "usage: childfirst audit follow -c auditor.ini [--once]\n"
    "\n"
    "Keeps this auditor's own replica of the broker's log in the state_dir of\n"
    "auditor.ini (the agent.ini format; the agency needs one of the policy's\n"
    "audit_roles). Every record is checked into the replica's Merkle tree, every\n"
    "checkpoint against the pinned broker key and its root, and each against the\n"
    "last by a consistency proof. It resumes where the replica ends.\n"
    "\n"
    "  -c FILE   auditor.ini\n"
    "  --once    stop once caught up (otherwise follow until SIGINT or SIGTERM)\n"
    "\n"
    "Exit status: 0 caught up or stopped; 1 an error (the reason on stderr);\n"
    "2 usage; 3 ALARM: the broker showed a history that contradicts the replica\n"
    "(fork, rewritten record, log gone backwards); evidence in\n"
    "STATE_DIR/follow.alarm.json.\n"
    "`childfirst audit verify STATE_DIR --broker-key KEY` checks the replica.\n";

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

struct follower {
    struct agent_config cfg;
    struct cf_keys *keys;
    uint8_t broker_pk[CF_SIGN_PK], broker_curve[CF_CURVE_KEY];
    struct cf_store store;
    void *zmq, *sock;
    uint64_t size;             /* records in the replica */
    struct cf_checkpoint held; /* the newest checkpoint the replica holds (size 0: none) */
    char held_note[CF_CHECKPOINT_MAX + 1];
};

/* Writes the evidence and says so on stderr; returns FOLLOW_ALARM. */
static int alarm_raised(struct follower *f, const char *kind, const char *detail,
                        const char *theirs, size_t theirs_len)
{
    char path[AGENT_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/follow.alarm.json", f->cfg.state_dir);
    json_t *doc = json_pack("{s:s, s:s, s:o, s:I, s:s, s:s#}", "alarm", kind, "detail", detail,
                            "at", agent_text_time_json(cf_clock_now()), "replica_size",
                            (json_int_t)f->size, "held_checkpoint", f->held_note,
                            "broker_checkpoint", theirs ? theirs : "", (int)theirs_len);
    char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    struct cf_error err = {0};
    if (!text || cf_file_write_atomic(path, text, strlen(text), 0600, &err) != 0)
        fprintf(stderr, "childfirst audit follow: cannot write %s: %s\n", path, err.text);
    free(text);
    json_decref(doc);
    fprintf(stderr,
            "childfirst audit follow: ALARM (%s): %s.\n"
            "The broker's log contradicts this auditor's replica. Nothing more is taken\n"
            "from it. Evidence: %s\n",
            kind, detail, path);
    return FOLLOW_ALARM;
}

/* The replica's size and newest checkpoint, at start. */
static int restore(struct follower *f, struct cf_error *err)
{
    MDB_txn *txn;
    MDB_val note;
    int rc = cf_store_error(mdb_txn_begin(f->store.env, NULL, MDB_RDONLY, &txn));
    if (rc == 0)
        rc = cf_store_size(&f->store, txn, &f->size);
    if (rc == 0) {
        uint64_t at;
        int found = cf_store_checkpoint_latest(&f->store, txn, &at, &note);
        if (found == 0) {
            if (note.mv_size > CF_CHECKPOINT_MAX)
                rc = CF_ECORRUPT;
            else {
                memcpy(f->held_note, note.mv_data, note.mv_size);
                f->held_note[note.mv_size] = 0;
                rc = cf_checkpoint_open(f->held_note, note.mv_size, f->broker_pk, &f->held, err);
            }
        } else if (found != CF_ENOTFOUND) {
            rc = found;
        }
    }
    if (txn)
        mdb_txn_abort(txn);
    return rc == 0 ? 0 : cf_error_set(err, rc, "%s: the replica cannot be read", f->cfg.state_dir);
}

/* Whether bytes sent beside a record are what the record describes: the
 * envelope an accepted record signs, or the determination whose hash a
 * determination record holds. */
static bool envelope_fits(const struct cf_record *rec, const uint8_t *bytes, size_t len)
{
    if (rec->event == CF_EVENT_DETERMINATION) {
        uint8_t hash[CF_HASH_LEN];
        cf_envelope_hash(bytes, len, hash);
        return rec->has_determination &&
               sodium_memcmp(hash, rec->determination_hash, CF_HASH_LEN) == 0;
    }
    struct cf_envelope env;
    struct cf_header h;
    bool fits = rec->event == CF_EVENT_ACCEPTED &&
                cf_envelope_decode(bytes, len, &env, &h, NULL) == 0 && cf_record_matches(rec, &env);
    cf_envelope_fini(&env);
    return fits;
}

/* Whether the records after the held checkpoint (up to `size`) hold a
 * restored log's link: an origin leaf citing a checkpoint of the held origin,
 * signed by the broker, whose root is the replica's at that size. */
static bool linked(struct follower *f, MDB_txn *txn, uint64_t size)
{
    struct cf_merkle_store ms;
    struct cf_store_tree t;
    cf_store_tree_init(&ms, &t, &f->store, txn);
    for (uint64_t i = f->held.size; i < size; i++) {
        MDB_val v;
        struct cf_record rec;
        struct cf_checkpoint prev;
        uint8_t root[CF_MERKLE_HASH];
        if (cf_store_record(&f->store, txn, i, &v) != 0 ||
            cf_wire_record_decode(v.mv_data, v.mv_size, &rec, NULL) != 0) {
            cf_wire_record_fini(&rec);
            return false;
        }
        bool ok = rec.event == CF_EVENT_ORIGIN && rec.previous_checkpoint &&
                  cf_checkpoint_open(rec.previous_checkpoint, rec.previous_checkpoint_len,
                                     f->broker_pk, &prev, NULL) == 0 &&
                  strcmp(prev.origin, f->held.origin) == 0 && prev.size == i &&
                  cf_merkle_root(&ms, prev.size, root) == 0 &&
                  sodium_memcmp(root, prev.root, CF_MERKLE_HASH) == 0;
        cf_wire_record_fini(&rec);
        if (ok) {
            fprintf(stderr,
                    "childfirst audit follow: the log was restored from a backup: it goes on "
                    "under a new origin, linked at leaf %" PRIu64 " to %s\n",
                    i, f->held.origin);
            return true;
        }
    }
    return false;
}

/* Appends a batch of records, and checks and keeps its checkpoint if it
 * brings one, in one commit. Returns 0, FOLLOW_ALARM, or an error. */
static int take(struct follower *f, const struct cf_frame *r, struct cf_error *err)
{
    if (r->tree_size < f->size ||
        (r->checkpoint == NULL && r->n_records == 0 && r->tree_size < f->held.size))
        return alarm_raised(f, "backwards",
                            "the broker's log is now smaller than this replica, which it once "
                            "showed a longer history",
                            r->checkpoint, r->checkpoint_len);
    if (r->from_index != f->size)
        return cf_error_set(err, CF_EDECODE,
                            "the broker sent records from %" PRIu64 ", not from %" PRIu64,
                            r->from_index, f->size);
    MDB_txn *txn;
    int rc = cf_store_error(mdb_txn_begin(f->store.env, NULL, 0, &txn));
    if (rc != 0)
        return cf_error_set(err, rc, "cannot write the replica");
    uint64_t size = f->size;
    for (size_t i = 0; rc == 0 && i < r->n_records; i++) {
        struct cf_record rec;
        rc = cf_wire_record_decode(r->records[i], r->record_lens[i], &rec, err);
        if (rc == 0 && rec.index != size)
            rc = cf_error_set(err, CF_ECORRUPT, "record %" PRIu64 " says it is leaf %" PRIu64, size,
                              rec.index);
        bool fits = rc != 0 || r->envelope_lens[i] == 0 ||
                    envelope_fits(&rec, r->envelopes[i], r->envelope_lens[i]);
        /* The replica keeps what the broker keeps: a purge here purges here too. */
        for (size_t p = 0; rc == 0 && rec.event == CF_EVENT_PURGED && p < rec.n_purged; p++) {
            uint8_t key[8];
            cf_store_put_u64(key, rec.purged[p]);
            MDB_val k = {8, key};
            int del = mdb_del(txn, f->store.envelope, &k, NULL);
            if (del != 0 && del != MDB_NOTFOUND)
                rc = cf_error_set(err, cf_store_error(del), "cannot apply a purge");
        }
        cf_wire_record_fini(&rec);
        if (!fits) {
            mdb_txn_abort(txn);
            return alarm_raised(f, "envelope",
                                "an envelope sent beside its record is not the one the record "
                                "describes",
                                r->checkpoint, r->checkpoint_len);
        }
        if (rc == 0)
            rc = cf_store_append(&f->store, txn, size, r->records[i], r->record_lens[i]);
        if (rc == 0 && r->envelope_lens[i] > 0) {
            uint8_t key[8];
            cf_store_put_u64(key, size);
            rc = cf_store_put(&f->store, txn, f->store.envelope, key, 8, r->envelopes[i],
                              r->envelope_lens[i]);
        }
        size++;
    }
    struct cf_checkpoint cp = {0};
    if (rc == 0 && r->checkpoint) {
        char note[CF_CHECKPOINT_MAX + 1];
        if (r->checkpoint_len > CF_CHECKPOINT_MAX)
            rc = cf_error_set(err, CF_ETOOBIG, "the checkpoint is too long");
        else {
            memcpy(note, r->checkpoint, r->checkpoint_len);
            note[r->checkpoint_len] = 0;
            rc = cf_checkpoint_open(note, r->checkpoint_len, f->broker_pk, &cp, err);
        }
        if (rc == CF_ESIG) {
            mdb_txn_abort(txn);
            return alarm_raised(f, "signature",
                                "a checkpoint is not signed by the pinned broker key",
                                r->checkpoint, r->checkpoint_len);
        }
        uint8_t root[CF_MERKLE_HASH];
        struct cf_merkle_store ms;
        struct cf_store_tree t;
        cf_store_tree_init(&ms, &t, &f->store, txn);
        if (rc == 0 && cp.size != size) {
            mdb_txn_abort(txn);
            return alarm_raised(f, "size", "a checkpoint does not cover the records sent with it",
                                r->checkpoint, r->checkpoint_len);
        }
        if (rc == 0 && f->held.size && strcmp(cp.origin, f->held.origin) != 0 &&
            !linked(f, txn, size)) {
            mdb_txn_abort(txn);
            return alarm_raised(f, "origin",
                                "the checkpoint names another log origin, and no origin leaf "
                                "after the replica's checkpoint links it to the one held; if "
                                "the broker was restored from a backup older than this replica, "
                                "the replica holds records the log lost: keep it as evidence "
                                "and follow into a new state_dir",
                                r->checkpoint, r->checkpoint_len);
        }
        if (rc == 0 && (rc = cf_merkle_root(&ms, size, root)) == 0 &&
            sodium_memcmp(root, cp.root, CF_MERKLE_HASH) != 0) {
            mdb_txn_abort(txn);
            return alarm_raised(f, "rewritten",
                                "the checkpoint's root is not the root of the records sent: a "
                                "record was changed or the log forked",
                                r->checkpoint, r->checkpoint_len);
        }
        if (rc == 0 && f->held.size > 0 &&
            (r->consistency_from != f->held.size ||
             cf_merkle_verify_consistency(f->held.size, cp.size, f->held.root, cp.root,
                                          (const uint8_t(*)[CF_MERKLE_HASH])r->consistency,
                                          r->n_consistency) != 0)) {
            mdb_txn_abort(txn);
            return alarm_raised(f, "fork",
                                "the new checkpoint does not extend the one this replica holds",
                                r->checkpoint, r->checkpoint_len);
        }
        uint8_t key[8];
        cf_store_put_u64(key, cp.size);
        if (rc == 0)
            rc = cf_store_put(&f->store, txn, f->store.checkpoint, key, 8, note, r->checkpoint_len);
        if (rc == 0) {
            memcpy(f->held_note, note, r->checkpoint_len + 1);
        }
    }
    if (rc == 0)
        rc = cf_store_error(mdb_txn_commit(txn));
    else
        mdb_txn_abort(txn);
    if (rc != 0)
        return rc;
    f->size = size;
    if (r->checkpoint)
        f->held = cp;
    return 0;
}

/* Asks for what follows the replica and waits for the answer. The frame
 * borrows from *bytes, which the caller frees after cf_wire_frame_fini. */
static int ask(struct follower *f, struct cf_frame *r, uint8_t **bytes, struct cf_error *err)
{
    struct cf_frame q = {
        .kind = CF_FRAME_AUDIT_FOLLOW, .from_index = f->size, .from_size = f->held.size};
    return cf_curve_ask(f->sock, &q, CF_FRAME_AUDIT_RECORDS, ANSWER_MS, &stopping, r, bytes, err);
}

static void nap(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int follow(struct follower *f, bool once)
{
    struct cf_error err = {0};
    unsigned long batches = 0;
    uint64_t start = f->size;
    while (!stopping) {
        struct cf_frame r;
        uint8_t *bytes;
        int rc = ask(f, &r, &bytes, &err);
        if (rc == CF_ETIMEOUT && stopping)
            break;
        if (rc == CF_ERANGE)
            return alarm_raised(f, "backwards",
                                "the broker's log is now smaller than this replica (it refuses "
                                "to stream from the replica's end)",
                                NULL, 0);
        if (rc != 0) {
            fprintf(stderr, "childfirst audit follow: %s\n", err.text);
            return CLI_FAIL;
        }
        rc = take(f, &r, &err);
        bool more = r.tree_size > f->size;
        cf_wire_frame_fini(&r);
        free(bytes);
        if (rc == FOLLOW_ALARM)
            return rc;
        if (rc != 0) {
            fprintf(stderr, "childfirst audit follow: %s\n", err.text);
            return CLI_FAIL;
        }
        batches++;
        if (!more && once)
            break;
        for (unsigned waited = 0; !more && waited < POLL_MS && !stopping; waited += 100)
            nap(100);
    }
    printf("replica %s: %" PRIu64 " records (%" PRIu64 " new), checkpoint size %" PRIu64
           " (origin %s), %lu requests\n",
           f->cfg.state_dir, f->size, f->size - start, f->held.size,
           f->held.size ? f->held.origin : "-", batches);
    return CLI_OK;
}

int cli_audit_follow(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"once", no_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *config = NULL;
    bool once = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'o')
            once = true;
        else if (c == 'h')
            return fputs(follow_help, stdout), CLI_OK;
        else
            return fputs(follow_help, stderr), CLI_USAGE;
    }
    if (!config || optind != argc)
        return fputs(follow_help, stderr), CLI_USAGE;
    static struct follower f;
    struct cf_error err = {0};
    int rc = agent_config_load(config, &f.cfg, &err);
    if (rc == 0)
        rc = cf_keys_load(f.cfg.key_file, &f.keys, &err);
    if (rc == 0 && (cf_keys_b64_decode(f.cfg.broker_sign_key, f.broker_pk) != 0 ||
                    cf_keys_z85_decode(f.cfg.broker_curve_key, f.broker_curve) != 0))
        rc = cf_error_set(&err, CF_ECONFIG, "%s: broker_sign_key or broker_curve_key is not a key",
                          config);
    if (rc == 0) {
        mkdir(f.cfg.state_dir, 0700);
        rc = cf_store_open(&f.store, f.cfg.state_dir, (size_t)REPLICA_MAP_MB << 20, false, &err);
    }
    if (rc == 0)
        rc = restore(&f, &err);
    if (rc == 0 && !(f.zmq = zmq_ctx_new()))
        rc = cf_error_set(&err, CF_ENOMEM, "cannot start ZeroMQ");
    if (rc == 0)
        rc = cf_curve_client_new(f.zmq, f.keys, f.broker_curve, (unsigned)f.cfg.heartbeat_ms,
                                 &f.sock, &err);
    if (rc == 0 && zmq_connect(f.sock, f.cfg.broker) != 0)
        rc = cf_error_set(&err, CF_ECONFIG, "cannot connect to %s: %s", f.cfg.broker,
                          zmq_strerror(zmq_errno()));
    int status = CLI_FAIL;
    if (rc != 0) {
        fprintf(stderr, "childfirst audit follow: %s\n", err.text);
    } else {
        struct sigaction sa = {.sa_handler = on_signal};
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        status = follow(&f, once);
    }
    if (f.sock)
        zmq_close(f.sock);
    if (f.zmq)
        zmq_ctx_term(f.zmq);
    cf_store_close(&f.store);
    cf_keys_destroy(&f.keys);
    return status;
}
