/* Crash faults (issue 8): SIGKILL at seeded random moments while four senders
 * stream referrals to three recipients, each victim restarted on the state the
 * kill left. Nothing gets a chance to flush, so whatever the products promise
 * must already be on disk when they say it.
 *
 * test_broker_crash kills the broker. At each kill, with the broker down, the
 * log must hold every Accepted any sender has seen, at the leaf its receipt
 * names (Accepted only after the commit), and `audit verify` must pass on
 * exactly what the crash left. After each restart, once everything has
 * settled: every referral a sender saw Accepted is in each recipient's spool
 * inbox and `childfirst inbox` exactly once, no referral reported rejected
 * reached anyone, and the tree size equals the accepted leaves plus the audited
 * events (one delivered leaf per recipient, the rejections, the directory).
 *
 * test_agent_crash does the same to the recipient agents while deliveries
 * flow: exactly once in each inbox and in the log's delivered leaves, and each
 * hook run once, or twice only for the one hook a kill caught unsettled.
 *
 * One referral in DUP_EVERY names a case that is already accepted, so the
 * broker must refuse it (CF_ECASEEXISTS): the rejected side of the stream.
 *
 * Knobs: CF_FAULT_SEED (default: from the clock; printed), CF_FAULT_KILLS
 * (kills per test, default 20), CF_FAULT_MESSAGES (referrals per test,
 * default 2,000, as issue 8 asks). bench/fault-crash.sh runs more kills. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "childfirst/error.h"
#include "childfirst/header.h"
#include "childfirst/notice.h"
#include "childfirst/record.h"
#include "childfirst/store.h"
#include "childfirst/wire.h"
#include "harness.h"

#define EXAMPLE CF_SOURCE_DIR "/deploy/examples/referral.json"
#define HEARTBEAT_MS 300
#define WAIT_MS 120000 /* liveness waits: generous for ASan on a loaded 2-core machine */
#define DUP_EVERY 25   /* one referral in this many repeats an accepted case id */
#define KILL_MIN_MS 20
#define KILL_MAX_MS 400
#define DEFAULT_MESSAGES 2000 /* both tests in about 60 s here (95 s under ASan) */

static char out[1 << 23], err[1 << 16]; /* `childfirst inbox --json` of 10,000 referrals fits */

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int env_count(const char *name, int def)
{
    const char *v = getenv(name);
    int n = v && *v ? atoi(v) : def;
    return n < 1 ? 1 : n; /* never zero kills, never zero messages */
}

/* ---- The seeded schedule (splitmix64: tiny, and the same on every host) ---- */

static uint64_t rng;

static void rng_seed(const char *test)
{
    const char *v = getenv("CF_FAULT_SEED");
    uint64_t seed = v && *v ? strtoull(v, NULL, 10)
                            : ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ mono_ms();
    rng = seed;
    printf("# %s: seed %llu (CF_FAULT_SEED=%llu repeats this schedule)\n", test,
           (unsigned long long)seed, (unsigned long long)seed);
    fflush(stdout);
}

static uint64_t rng_next(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A kill's delay after a batch is spooled, KILL_MIN_MS to KILL_MAX_MS, drawn
 * as the square of a uniform fraction: a batch is mostly accepted within
 * about 150 ms, so half the kills land in that first stretch, while
 * submissions are open, and the rest among the deliveries and hooks. */
static int kill_delay(void)
{
    double u = (double)(rng_next() >> 11) / (double)(1ull << 53);
    return KILL_MIN_MS + (int)(u * u * (KILL_MAX_MS - KILL_MIN_MS));
}

/* ---- Files ---- */

static void write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        fail_msg("cannot write %s", path);
    chmod(path, mode);
}

/* The whole file, NUL-terminated (caller frees); NULL if it is not there. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    struct stat st;
    if (!f)
        return NULL;
    if (fstat(fileno(f), &st) != 0)
        fail_msg("cannot stat %s: %s", path, strerror(errno));
    char *buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    size_t len = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    buf[len] = 0;
    return buf;
}

/* ---- The network ---- */

static const char *const senders[] = {"police-a", "police-b", "police-c", "police-d"};
static const char *const recipients[] = {"guardian-x", "la-csc", "la-duty"};
#define N_SENDERS (sizeof senders / sizeof senders[0])
#define N_RECIPIENTS (sizeof recipients / sizeof recipients[0])
#define N_AGENTS (N_SENDERS + N_RECIPIENTS)
#define ALL_ARRIVED ((1u << N_RECIPIENTS) - 1)
#define DUTY "la-duty" /* the area's duty team: policy.ini sends it each new_referral notice */

struct fixture {
    struct net n;
    bool net_up; /* what teardown must take down after a failure */
    const char *agents[N_AGENTS];
    size_t n_agents;
};

/* The broker and an agent for each sender and recipient. Each recipient has
 * an on_message hook that appends "TYPE CASE LEAF" to hooks.log beside its
 * agent.ini; the senders have none (their delivery reports need no hook). */
static struct fixture *start(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    *state = f;
    char ini[256];
    snprintf(ini, sizeof ini, "heartbeat_ms = %d\n", HEARTBEAT_MS);
    net_create(&f->n, ini);
    f->net_up = true;
    for (size_t i = 1; i < N_SENDERS; i++)
        net_add_agency(&f->n, senders[i], "first_responder", "E09000033", NULL);
    net_sign_directory(&f->n, 1);
    net_broker_start(&f->n);
    for (size_t i = 0; i < N_AGENTS; i++) {
        const char *id = i < N_SENDERS ? senders[i] : recipients[i - N_SENDERS];
        char dir[600], hook[700], script[1024], extra[1024];
        snprintf(dir, sizeof dir, "%s/%s", f->n.dir, id);
        mkdir(dir, 0700);
        snprintf(extra, sizeof extra, "heartbeat_ms = %d\n", HEARTBEAT_MS);
        if (i >= N_SENDERS) {
            snprintf(hook, sizeof hook, "%s/hook.sh", dir);
            snprintf(script, sizeof script,
                     "#!/bin/sh\necho \"$CHILDFIRST_TYPE $CHILDFIRST_CASE $CHILDFIRST_LEAF\" "
                     ">> '%s/hooks.log'\n",
                     dir);
            write_text(hook, script, 0755);
            snprintf(extra, sizeof extra, "heartbeat_ms = %d\non_message = %s\n", HEARTBEAT_MS,
                     hook);
        }
        net_agent_setup(&f->n, id, extra);
        f->agents[f->n_agents++] = id;
    }
    for (size_t i = 0; i < f->n_agents; i++) {
        net_agent_start(&f->n, f->agents[i], NULL);
        if (!net_file_contains(net_agent_of(&f->n, f->agents[i])->log, "DIRECTORY-LOADED"))
            fail_msg("the agent %s did not load the directory", f->agents[i]);
    }
    return f;
}

/* Stops everything cleanly (a crash or a sanitizer report fails the test). */
static void finish(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < f->n_agents; i++)
        net_agent_stop(&f->n, f->agents[i]);
    net_broker_stop(&f->n);
    net_destroy(&f->n);
    free(f);
    *state = NULL;
}

/* After a failure: kills what is left. */
static int teardown(void **state)
{
    struct fixture *f = *state;
    if (!f)
        return 0;
    if (f->net_up)
        net_destroy(&f->n);
    free(f);
    *state = NULL;
    return 0;
}

/* ---- The stream of referrals ---- */

enum state { PENDING, ACCEPTED, REJECTED };

struct msg {
    char name[48];
    const char *sender;
    bool repeat; /* names an accepted case: the broker must refuse it */
    enum state state;
    char case_id[CF_CASE_ID_LEN + 1]; /* the receipt's, or the case it repeats */
    char message_id[2 * CF_MESSAGE_ID_LEN + 1];
    long long leaf;   /* the receipt's; -1 until then */
    unsigned arrived; /* a bit per recipient whose spool inbox has it */
};

struct stream {
    struct msg *m;
    size_t n, cap;
    size_t accepted, rejected;
    char *text; /* deploy/examples/referral.json */
};

static void stream_init(struct stream *s, size_t cap)
{
    memset(s, 0, sizeof *s);
    s->cap = cap;
    s->m = calloc(cap, sizeof *s->m);
    assert_non_null(s->m);
    s->text = slurp(EXAMPLE);
    if (!s->text || strncmp(s->text, "{\n", 2) != 0)
        fail_msg("%s must exist and start with \"{\\n\"", EXAMPLE);
}

static void stream_fini(struct stream *s)
{
    free(s->m);
    free(s->text);
}

/* Drops a referral into the sender's spool outbox (written, then renamed).
 * With `repeat`, it names the case of an accepted referral picked by the
 * schedule, so it must be refused. */
static void spool(struct fixture *f, struct stream *s, const char *sender, bool repeat)
{
    if (s->n == s->cap)
        fail_msg("more than %zu referrals", s->cap);
    struct msg *m = &s->m[s->n];
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "ref-%05zu.json", s->n);
    m->sender = sender;
    m->leaf = -1;
    static char text[1 << 16];
    if (repeat && s->accepted > 0) {
        size_t pick = (size_t)rng_next() % s->accepted, k = 0;
        const struct msg *of = NULL;
        for (size_t i = 0; i < s->n && !of; i++)
            if (s->m[i].state == ACCEPTED && k++ == pick)
                of = &s->m[i];
        m->repeat = true;
        memcpy(m->case_id, of->case_id, sizeof m->case_id);
        snprintf(text, sizeof text, "{\n  \"case_id\": \"%s\",\n%s", of->case_id, s->text + 2);
    } else {
        snprintf(text, sizeof text, "%s", s->text);
    }
    char tmp[1024], final[1024];
    const char *dir = net_agent_of(&f->n, sender)->spool;
    snprintf(tmp, sizeof tmp, "%s/outbox/.%s.tmp", dir, m->name);
    snprintf(final, sizeof final, "%s/outbox/%s", dir, m->name);
    write_text(tmp, text, 0644);
    if (rename(tmp, final) != 0)
        fail_msg("cannot rename %s: %s", tmp, strerror(errno));
    s->n++;
}

/* Spools `count` referrals, the senders in turn; every DUP_EVERY-th repeats a case. */
static void spool_batch(struct fixture *f, struct stream *s, size_t count)
{
    for (size_t i = 0; i < count && s->n < s->cap; i++)
        spool(f, s, senders[s->n % N_SENDERS], s->n % DUP_EVERY == DUP_EVERY - 1);
}

static const char *json_text(const json_t *doc, const char *key)
{
    const char *v = json_string_value(json_object_get(doc, key));
    return v ? v : "";
}

/* Reads the answers the senders have written since the last look. A fresh
 * referral must be accepted and a repeated case refused with CF_ECASEEXISTS. */
static void read_answers(struct fixture *f, struct stream *s)
{
    for (size_t i = 0; i < s->n; i++) {
        struct msg *m = &s->m[i];
        if (m->state != PENDING)
            continue;
        const char *dir = net_agent_of(&f->n, m->sender)->spool;
        char path[1024];
        snprintf(path, sizeof path, "%s/rejected/%s.error.json", dir, m->name);
        json_t *doc = access(path, F_OK) == 0 ? json_load_file(path, 0, NULL) : NULL;
        if (doc) {
            if (!m->repeat || strcmp(json_text(doc, "status"), "rejected") != 0 ||
                strcmp(json_text(doc, "code"), cf_error_name(CF_ECASEEXISTS)) != 0) {
                char *text = slurp(path);
                fail_msg("%s from %s (%s) was refused:\n%s", m->name, m->sender,
                         m->repeat ? "a repeated case" : "a new case", text ? text : "");
            }
            snprintf(m->message_id, sizeof m->message_id, "%s", json_text(doc, "message_id"));
            assert_int_equal(strlen(m->message_id), 2 * CF_MESSAGE_ID_LEN);
            m->state = REJECTED;
            s->rejected++;
            json_decref(doc);
            continue;
        }
        snprintf(path, sizeof path, "%s/sent/%s.receipt.json", dir, m->name);
        doc = access(path, F_OK) == 0 ? json_load_file(path, 0, NULL) : NULL;
        if (!doc)
            continue;
        if (m->repeat)
            fail_msg("%s repeats case %s, yet it was accepted at leaf %lld", m->name, m->case_id,
                     (long long)json_integer_value(json_object_get(doc, "leaf_index")));
        assert_string_equal(json_text(doc, "status"), "accepted");
        snprintf(m->case_id, sizeof m->case_id, "%s", json_text(doc, "case_id"));
        snprintf(m->message_id, sizeof m->message_id, "%s", json_text(doc, "message_id"));
        assert_true(cf_header_case_id_valid(m->case_id, strlen(m->case_id)));
        assert_int_equal(strlen(m->message_id), 2 * CF_MESSAGE_ID_LEN);
        m->leaf = json_integer_value(json_object_get(doc, "leaf_index"));
        m->state = ACCEPTED;
        s->accepted++;
        json_decref(doc);
    }
}

/* Looks at the recipients' spool inboxes for what has not arrived yet. */
static void read_arrivals(struct fixture *f, struct stream *s)
{
    for (size_t i = 0; i < s->n; i++) {
        struct msg *m = &s->m[i];
        for (size_t k = 0; m->state == ACCEPTED && k < N_RECIPIENTS; k++) {
            if (m->arrived & (1u << k))
                continue;
            char path[1024];
            snprintf(path, sizeof path, "%s/inbox/%s/%lld-referral.json",
                     net_agent_of(&f->n, recipients[k])->spool, m->case_id, m->leaf);
            if (access(path, F_OK) == 0)
                m->arrived |= 1u << k;
        }
    }
}

static size_t unanswered(const struct stream *s)
{
    return s->n - s->accepted - s->rejected;
}

/* Accepted referrals not yet in the spool inbox of each recipient whose bit is in `who`. */
static size_t undelivered(const struct stream *s, unsigned who)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->m[i].state == ACCEPTED && (s->m[i].arrived & who) != who;
    return n;
}

/* ---- The broker's log ---- */

struct log_view {
    uint64_t size, config, accepted, notices, delivered, rejected;
    uint64_t owed; /* delivered leaves due: a recipient of each accepted referral and notice */
    size_t rejected_distinct; /* refused envelopes, each counted once however often refused */
    size_t accepted_unseen;   /* accepted leaves no sender has a receipt for (yet) */
    size_t behind;            /* receipts for leaves past the LMDB snapshot of a live broker */
};

/* Reads the whole log (the broker may be running: LMDB gives a reader one
 * snapshot) and checks what must hold at any moment, crash or not:
 *  - every receipt a sender holds is an accepted leaf of that message, at
 *    its leaf, and no referral reported rejected was accepted; only `live`
 *    (a running broker, whose newest batches are durable in its redo log and
 *    reach LMDB within commit_ms) may hold receipts past the snapshot, which
 *    are counted in v->behind (as are rejections past it); the log of a
 *    stopped or killed broker, which the read-only open brings up to date
 *    from the redo log, must hold them all;
 *  - each accepted referral has its new_referral notice (the same commit);
 *  - every delivered leaf is one recipient's answer to an accepted referral
 *    or notice for it, at most once per recipient;
 *  - every rejection is a sender's repeated case;
 *  - the only other leaf is the directory's config leaf; so the tree size is
 *    exactly the accepted leaves plus those audited events. */
static void read_log(struct fixture *f, const struct stream *s, struct log_view *v, bool live)
{
    memset(v, 0, sizeof *v);
    struct cf_store store;
    struct cf_error e = {0};
    MDB_txn *txn;
    if (cf_store_open(&store, f->n.state_dir, 0, true, &e) != 0)
        fail_msg("%s", e.text);
    assert_int_equal(mdb_txn_begin(store.env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(cf_store_size(&store, txn, &v->size), 0);
    /* Per leaf: the message whose receipt names it (index + 1), and the
     * recipients that answered it. */
    size_t *owner = calloc(v->size + 1, sizeof *owner);
    unsigned *answered = calloc(v->size + 1, sizeof *answered);
    /* Per leaf: who must answer it (a bit per recipient; 0: nobody, not a
     * referral or notice), and for a referral, how many notices name it. */
    unsigned *due = calloc(v->size + 1, sizeof *due),
             *noticed = calloc(v->size + 1, sizeof *noticed);
    uint8_t(*refused)[32] = malloc((v->size + 1) * 32);
    assert_true(owner && answered && due && noticed && refused);
    for (size_t j = 0; j < s->n; j++) {
        const struct msg *m = &s->m[j];
        if (m->state != ACCEPTED)
            continue;
        if ((uint64_t)m->leaf >= v->size && live) {
            v->behind++;
            continue;
        }
        if ((uint64_t)m->leaf >= v->size)
            fail_msg("%s's receipt names leaf %lld, but the log has %llu leaves: an Accepted "
                     "went out before its commit",
                     m->name, m->leaf, (unsigned long long)v->size);
        owner[m->leaf] = j + 1;
    }
    for (uint64_t i = 0; i < v->size; i++) {
        MDB_val val;
        struct cf_record rec;
        struct cf_header h;
        char id[2 * CF_MESSAGE_ID_LEN + 1];
        assert_int_equal(cf_store_record(&store, txn, i, &val), 0);
        assert_int_equal(cf_wire_record_decode(val.mv_data, val.mv_size, &rec, NULL), 0);
        assert_int_equal(rec.index, i);
        switch (rec.event) {
        case CF_EVENT_CONFIG:
            v->config++;
            break;
        case CF_EVENT_ACCEPTED:
            v->accepted++;
            assert_int_equal(cf_wire_header_decode(rec.header, rec.header_len, &h, NULL), 0);
            assert_int_equal(h.type, CF_TYPE_REFERRAL);
            for (size_t r = 0; r < h.n_recipients; r++)
                for (size_t k = 0; k < N_RECIPIENTS; k++)
                    due[i] |= strcmp(h.recipients[r], recipients[k]) == 0 ? 1u << k : 0;
            if (due[i] != ALL_ARRIVED || h.n_recipients != N_RECIPIENTS)
                fail_msg("accepted leaf %llu is not addressed to exactly the three recipients",
                         (unsigned long long)i);
            sodium_bin2hex(id, sizeof id, h.message_id, CF_MESSAGE_ID_LEN);
            if (owner[i]) {
                const struct msg *m = &s->m[owner[i] - 1];
                if (strcmp(m->message_id, id) != 0 || strcmp(m->case_id, h.case_id) != 0)
                    fail_msg("%s's receipt names leaf %llu, which holds message %s of case %s",
                             m->name, (unsigned long long)i, id, h.case_id);
            } else {
                v->accepted_unseen++;
                for (size_t j = 0; j < s->n; j++)
                    if (s->m[j].state == REJECTED && strcmp(s->m[j].message_id, id) == 0)
                        fail_msg("%s was reported rejected, yet leaf %llu accepted it",
                                 s->m[j].name, (unsigned long long)i);
            }
            break;
        case CF_EVENT_NOTICE: {
            struct cf_notice nt;
            v->notices++;
            assert_int_equal(cf_wire_notice_decode(rec.notice, rec.notice_len, &nt, NULL), 0);
            if (strcmp(nt.kind, "new_referral") != 0 || !nt.has_about_leaf || nt.about_leaf >= i ||
                due[nt.about_leaf] != ALL_ARRIVED)
                fail_msg("notice leaf %llu (%s) is not the new_referral of an accepted referral",
                         (unsigned long long)i, nt.kind);
            noticed[nt.about_leaf]++;
            for (size_t r = 0; r < nt.n_recipients; r++)
                for (size_t k = 0; k < N_RECIPIENTS; k++)
                    due[i] |= strcmp(nt.recipients[r], recipients[k]) == 0 ? 1u << k : 0;
            if (due[i] == 0 || nt.n_recipients != (size_t)__builtin_popcount(due[i]))
                fail_msg("notice leaf %llu goes to agencies outside the recipients",
                         (unsigned long long)i);
            break;
        }
        case CF_EVENT_DELIVERED: {
            v->delivered++;
            size_t k = 0;
            while (k < N_RECIPIENTS && strcmp(rec.actor, recipients[k]) != 0)
                k++;
            if (!rec.has_about || rec.about >= i || k == N_RECIPIENTS ||
                !(due[rec.about] & (1u << k)))
                fail_msg("delivered leaf %llu (from %s) answers nothing sent to it",
                         (unsigned long long)i, rec.actor);
            if (answered[rec.about] & (1u << k))
                fail_msg("the log has two delivered leaves from %s for leaf %llu (the second at "
                         "%llu)",
                         rec.actor, (unsigned long long)rec.about, (unsigned long long)i);
            answered[rec.about] |= 1u << k;
            break;
        }
        case CF_EVENT_REJECTED: {
            bool from_sender = false;
            for (size_t k = 0; k < N_SENDERS; k++)
                from_sender |= strcmp(rec.actor, senders[k]) == 0;
            if (!from_sender || strcmp(rec.code, cf_error_name(CF_ECASEEXISTS)) != 0)
                fail_msg("rejected leaf %llu: %s from %s; only repeated cases are refused here",
                         (unsigned long long)i, rec.code, rec.actor);
            bool seen = false;
            for (size_t r = 0; r < v->rejected_distinct && !seen; r++)
                seen = memcmp(refused[r], rec.frame_hash, 32) == 0;
            if (!seen)
                memcpy(refused[v->rejected_distinct++], rec.frame_hash, 32);
            v->rejected++;
            break;
        }
        default:
            fail_msg("leaf %llu is a %s leaf; this stream makes none", (unsigned long long)i,
                     cf_record_event_name(rec.event) ? cf_record_event_name(rec.event) : "?");
        }
        cf_wire_record_fini(&rec);
    }
    mdb_txn_abort(txn);
    cf_store_close(&store);
    for (uint64_t i = 0; i < v->size; i++) {
        v->owed += (uint64_t)__builtin_popcount(due[i]);
        if (due[i] == ALL_ARRIVED && noticed[i] != 1)
            fail_msg("accepted leaf %llu has %u new_referral notices; its commit makes one",
                     (unsigned long long)i, noticed[i]);
    }
    free(owner), free(answered), free(due), free(noticed), free(refused);
    if (v->config != 1)
        fail_msg("the log holds %llu config leaves; one directory was ever loaded",
                 (unsigned long long)v->config);
    assert_int_equal(v->size, v->config + v->accepted + v->notices + v->delivered + v->rejected);
    /* Every Rejected a sender saw was committed first. */
    if (v->rejected_distinct < s->rejected && live)
        v->behind += s->rejected - v->rejected_distinct;
    else if (v->rejected_distinct < s->rejected)
        fail_msg("senders were told of %zu rejections, the log holds %zu", s->rejected,
                 v->rejected_distinct);
}

/* Once everything has settled, the log is exact: each receipt's leaf and
 * nothing else accepted, each with its notice to the duty team, one
 * delivered leaf per recipient of each, one refused envelope per rejection
 * reported. So the tree size is 1 + A (accepted) + A (notices) + 3A + A
 * (delivered) + the rejected leaves. */
static void check_log_settled(const struct stream *s, const struct log_view *v)
{
    if (v->accepted != s->accepted || v->accepted_unseen != 0)
        fail_msg("the log accepted %llu referrals; the senders hold %zu receipts",
                 (unsigned long long)v->accepted, s->accepted);
    if (v->notices != s->accepted || v->owed != (N_RECIPIENTS + 1) * s->accepted ||
        v->delivered != v->owed)
        fail_msg("the log holds %llu delivered leaves for %zu referrals to %zu recipients and "
                 "%llu notices (%llu answers due)",
                 (unsigned long long)v->delivered, s->accepted, N_RECIPIENTS,
                 (unsigned long long)v->notices, (unsigned long long)v->owed);
    if (v->rejected_distinct != s->rejected)
        fail_msg("the log refused %zu envelopes; senders were told of %zu rejections",
                 v->rejected_distinct, s->rejected);
    assert_int_equal(v->size, 1 + (2 + N_RECIPIENTS + 1) * s->accepted + v->rejected);
}

/* Waits until every referral so far is answered, every accepted one is in
 * each recipient's spool inbox, and the log holds every recipient's answer;
 * then checks the settled log. Fails naming the first referral that is late. */
static uint64_t await_settled(struct fixture *f, struct stream *s, const char *after)
{
    uint64_t from = mono_ms();
    struct log_view v;
    for (;;) {
        read_answers(f, s);
        read_arrivals(f, s);
        if (unanswered(s) == 0 && undelivered(s, ALL_ARRIVED) == 0) {
            read_log(f, s, &v, true);
            if (v.behind == 0 && v.delivered == v.owed)
                break;
        }
        if (mono_ms() - from > WAIT_MS) {
            for (size_t i = 0; i < s->n; i++)
                if (s->m[i].state == PENDING ||
                    (s->m[i].state == ACCEPTED && s->m[i].arrived != ALL_ARRIVED))
                    fail_msg("after %s, %s from %s is %s (recipients reached: mask %u) after "
                             "%d ms",
                             after, s->m[i].name, s->m[i].sender,
                             s->m[i].state == PENDING ? "unanswered" : "accepted", s->m[i].arrived,
                             WAIT_MS);
            fail_msg("after %s, the log holds %llu of %llu delivered leaves after %d ms", after,
                     (unsigned long long)v.delivered, (unsigned long long)v.owed, WAIT_MS);
        }
        sleep_ms(50);
    }
    check_log_settled(s, &v);
    return mono_ms() - from;
}

/* ---- Inboxes and hooks ---- */

/* Each recipient's spool inbox holds each accepted referral once (its case
 * folder holds one referral: a refused repeat of the case never arrived), and
 * nothing else; the duty team's holds each case's new_referral notice once. */
static void check_spool_inboxes(struct fixture *f, const struct stream *s)
{
    for (size_t k = 0; k < N_RECIPIENTS; k++) {
        const char *dir = net_agent_of(&f->n, recipients[k])->spool;
        char pattern[1024];
        for (size_t i = 0; i < s->n; i++) {
            if (s->m[i].state != ACCEPTED)
                continue;
            snprintf(pattern, sizeof pattern, "%s/inbox/%s/*-referral.json", dir, s->m[i].case_id);
            size_t n = net_count_glob(pattern);
            if (n != 1) {
                char folder[1024];
                snprintf(folder, sizeof folder, "%s/inbox/%s", dir, s->m[i].case_id);
                const char *ls[] = {"/bin/ls", "-la", folder, NULL};
                net_run(ls, out, sizeof out);
                sleep_ms(500);
                fail_msg("%s's spool inbox holds %zu referrals for case %s (%s); %zu half a "
                         "second later:\n%s",
                         recipients[k], n, s->m[i].case_id, s->m[i].name, net_count_glob(pattern),
                         out);
            }
            snprintf(pattern, sizeof pattern, "%s/inbox/%s/*-notice.json", dir, s->m[i].case_id);
            n = net_count_glob(pattern);
            if (n != (strcmp(recipients[k], DUTY) == 0 ? 1u : 0u))
                fail_msg("%s's spool inbox holds %zu notices for case %s (%s)", recipients[k], n,
                         s->m[i].case_id, s->m[i].name);
        }
        snprintf(pattern, sizeof pattern, "%s/inbox/*/*-referral.json", dir);
        size_t all = net_count_glob(pattern);
        if (all != s->accepted)
            fail_msg("%s's spool inbox holds %zu referrals; %zu were accepted", recipients[k], all,
                     s->accepted);
        snprintf(pattern, sizeof pattern, "%s/inbox/*/*-notice.json", dir);
        all = net_count_glob(pattern);
        if (all != (strcmp(recipients[k], DUTY) == 0 ? s->accepted : 0))
            fail_msg("%s's spool inbox holds %zu notices for %zu accepted referrals", recipients[k],
                     all, s->accepted);
    }
}

static int by_text(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* `childfirst inbox --json` of one recipient: each accepted referral once, at
 * its receipt's leaf, no rejected one, and no other referral; for the duty
 * team, one notice per accepted referral, each once. */
static void check_cli_inbox(struct fixture *f, const struct stream *s, const char *id)
{
    const char *args[] = {"inbox", "--json", NULL};
    if (net_cli(&f->n, id, args, out, sizeof out, err, sizeof err) != 0)
        fail_msg("childfirst inbox for %s failed:\n%s", id, err);
    json_error_t e;
    json_t *doc = json_loads(out, 0, &e);
    if (!doc)
        fail_msg("childfirst inbox --json for %s is not JSON (%s)", id, e.text);
    json_t *list = json_is_array(doc) ? doc : json_object_get(doc, "messages");
    assert_true(json_is_array(list));
    unsigned char *seen = calloc(s->n + 1, 1);
    assert_non_null(seen);
    size_t referrals = 0, notices = 0;
    const char **notice_ids = calloc(json_array_size(list) + 1, sizeof *notice_ids);
    assert_non_null(notice_ids);
    for (size_t j = 0; j < json_array_size(list); j++) {
        const json_t *entry = json_array_get(list, j);
        if (strcmp(json_text(entry, "type"), "notice") == 0) {
            if (strcmp(json_text(entry, "kind"), "new_referral") != 0)
                fail_msg("%s's inbox lists a %s notice", id, json_text(entry, "kind"));
            notice_ids[notices++] = json_text(entry, "message_id");
            continue;
        }
        if (strcmp(json_text(entry, "type"), "referral") != 0)
            fail_msg("%s's inbox lists a %s", id, json_text(entry, "type"));
        referrals++;
        const char *mid = json_text(entry, "message_id");
        size_t i = 0;
        while (i < s->n && strcmp(s->m[i].message_id, mid) != 0)
            i++;
        if (i == s->n)
            fail_msg("%s's inbox lists referral %s, which no sender has an answer for", id, mid);
        if (s->m[i].state != ACCEPTED)
            fail_msg("%s's inbox lists %s, which was reported rejected", id, s->m[i].name);
        if (seen[i]++)
            fail_msg("%s's inbox lists %s twice", id, s->m[i].name);
        assert_int_equal(json_integer_value(json_object_get(entry, "leaf_index")), s->m[i].leaf);
        assert_string_equal(json_text(entry, "case_id"), s->m[i].case_id);
    }
    qsort(notice_ids, notices, sizeof *notice_ids, by_text);
    for (size_t j = 1; j < notices; j++)
        if (strcmp(notice_ids[j - 1], notice_ids[j]) == 0)
            fail_msg("%s's inbox lists notice %s twice", id, notice_ids[j]);
    free(notice_ids);
    free(seen);
    json_decref(doc);
    if (referrals != s->accepted)
        fail_msg("%s's inbox lists %zu referrals; %zu were accepted", id, referrals, s->accepted);
    if (notices != (strcmp(id, DUTY) == 0 ? s->accepted : 0))
        fail_msg("%s's inbox lists %zu notices for %zu accepted referrals", id, notices,
                 s->accepted);
}

/* How many times the recipient's hook ran for each leaf, from hooks.log. */
static void hook_runs(struct fixture *f, const char *id, unsigned *runs, size_t cap, size_t *lines)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s/hooks.log", f->n.dir, id);
    memset(runs, 0, cap * sizeof *runs);
    *lines = 0;
    char *text = slurp(path);
    for (char *save = NULL, *line = text ? strtok_r(text, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        char type[32], case_id[64];
        long long leaf;
        if (sscanf(line, "%31s %63s %lld", type, case_id, &leaf) != 3 ||
            strcmp(type, "referral") != 0 || leaf < 0 || (size_t)leaf >= cap)
            fail_msg("%s's hook logged \"%s\"", id, line);
        runs[leaf]++;
        (*lines)++;
    }
    free(text);
}

/* The leaves whose hook a kill may have caught between its start and the
 * commit that settles it: the last HOOK-STARTED of each life of the agent
 * that ended in a kill (one hook runs at a time). Such a hook may run again
 * after the restart; every other must run once. */
static void hook_reruns_allowed(struct fixture *f, const char *id, unsigned *extra, size_t cap)
{
    memset(extra, 0, cap * sizeof *extra);
    char *log = slurp(net_agent_of(&f->n, id)->log);
    if (!log)
        fail_msg("no log for %s", id);
    for (char *at = strstr(log, "AGENT-STARTED"); at;) {
        /* One life: from its start to the next. The last life was not killed. */
        char *next = strstr(at + 1, "AGENT-STARTED");
        if (!next)
            break;
        long long last = -1;
        for (char *h = at; (h = strstr(h, "HOOK-STARTED leaf=")) != NULL && h < next; h++)
            last = atoll(h + strlen("HOOK-STARTED leaf="));
        if (last >= 0 && (size_t)last < cap)
            extra[last]++;
        at = next;
    }
    free(log);
}

/* Each recipient ran its hook once for each accepted referral (plus at most
 * one rerun per kill, for the hook that kill caught), and no more come
 * within a second. */
static void check_hooks(struct fixture *f, const struct stream *s, bool killed)
{
    uint64_t size = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->m[i].state == ACCEPTED && (uint64_t)s->m[i].leaf + 1 > size)
            size = (uint64_t)s->m[i].leaf + 1;
    unsigned *runs = calloc(size + 1, sizeof *runs), *extra = calloc(size + 1, sizeof *extra);
    assert_true(runs && extra);
    uint64_t from = mono_ms();
    for (size_t k = 0; k < N_RECIPIENTS; k++) {
        size_t lines;
        for (;;) {
            hook_runs(f, recipients[k], runs, size + 1, &lines);
            size_t ran = 0;
            for (size_t i = 0; i < s->n; i++)
                ran += s->m[i].state == ACCEPTED && runs[s->m[i].leaf] > 0;
            if (ran == s->accepted)
                break;
            if (mono_ms() - from > WAIT_MS)
                fail_msg("%s ran its hook for %zu of %zu referrals", recipients[k], ran,
                         s->accepted);
            sleep_ms(100);
        }
    }
    sleep_ms(1000); /* a duplicate run would be under way by now */
    for (size_t k = 0; k < N_RECIPIENTS; k++) {
        size_t lines, reruns = 0;
        hook_runs(f, recipients[k], runs, size + 1, &lines);
        if (killed)
            hook_reruns_allowed(f, recipients[k], extra, size + 1);
        else
            memset(extra, 0, (size + 1) * sizeof *extra);
        for (size_t i = 0; i < s->n; i++) {
            const struct msg *m = &s->m[i];
            if (m->state != ACCEPTED)
                continue;
            if (runs[m->leaf] < 1 || runs[m->leaf] > 1 + extra[m->leaf])
                fail_msg("%s ran its hook %u times for %s (leaf %lld); a kill caught it %u times",
                         recipients[k], runs[m->leaf], m->name, m->leaf, extra[m->leaf]);
            reruns += runs[m->leaf] - 1;
        }
        if (lines != s->accepted + reruns)
            fail_msg("%s's hook ran %zu times: %zu referrals and %zu reruns", recipients[k], lines,
                     s->accepted, reruns);
        if (reruns)
            printf("# %s: %zu hooks ran twice, each caught by a kill before it settled\n",
                   recipients[k], reruns);
    }
    free(runs);
    free(extra);
}

static void check_verify(struct fixture *f, const char *when)
{
    if (net_audit_verify(&f->n, f->n.state_dir, out, sizeof out, err, sizeof err) != 0)
        fail_msg("audit verify failed %s:\n%s\n%s", when, out, err);
}

/* ---- The tests ---- */

/* Referrals per kill: the messages spread over the kills, the first batches
 * taking the remainder. */
static size_t batch_of(int round, int kills, int messages)
{
    return (size_t)(messages / kills + (round < messages % kills ? 1 : 0));
}

static void test_broker_crash(void **state)
{
    rng_seed("broker crash");
    int kills = env_count("CF_FAULT_KILLS", 20),
        messages = env_count("CF_FAULT_MESSAGES", DEFAULT_MESSAGES);
    struct fixture *f = start(state);
    static struct stream s;
    stream_init(&s, (size_t)messages);
    struct log_view v;
    size_t struck_submitting = 0, struck_delivering = 0;
    uint64_t began = mono_ms(), down_ms = 0;
    for (int round = 0; round < kills; round++) {
        spool_batch(f, &s, batch_of(round, kills, messages));
        int delay = kill_delay();
        sleep_ms(delay);
        net_broker_kill(&f->n);
        uint64_t killed_at = mono_ms();
        /* What the kill caught in flight. Agents may still write receipts for
         * Accepted frames already sent: each of those was committed. */
        read_answers(f, &s);
        read_arrivals(f, &s);
        size_t open = unanswered(&s), owed = undelivered(&s, ALL_ARRIVED);
        struck_submitting += open > 0;
        struck_delivering += owed > 0;
        /* The crashed log: every receipt is in it, and it verifies as it lies. */
        read_log(f, &s, &v, false);
        check_verify(f, "on the log a kill left");
        printf("# kill %d after %d ms: %zu unanswered, %zu not yet everywhere; the log has "
               "%llu leaves, %zu accepted that no sender has heard of yet\n",
               round + 1, delay, open, owed, (unsigned long long)v.size, v.accepted_unseen);
        net_broker_start(&f->n);
        down_ms += mono_ms() - killed_at;
        char after[64];
        snprintf(after, sizeof after, "kill %d", round + 1);
        uint64_t took = await_settled(f, &s, after);
        check_spool_inboxes(f, &s);
        for (size_t k = 0; k < N_RECIPIENTS; k++)
            check_cli_inbox(f, &s, recipients[k]);
        printf("#   restarted; %zu accepted, %zu rejected, all settled %llu ms later\n", s.accepted,
               s.rejected, (unsigned long long)took);
        fflush(stdout);
    }
    check_hooks(f, &s, false);
    /* Each kill was a kill: the broker came back once per kill, the agents never restarted. */
    char *log = slurp(f->n.broker_log);
    size_t listening = 0;
    for (const char *at = log; (at = strstr(at, "BROKER-LISTENING")) != NULL; at++)
        listening++;
    assert_int_equal(listening, (size_t)kills + 1);
    assert_null(strstr(log, NET_PAYLOAD));
    assert_null(strstr(log, "Amanuel")); /* the example child's name */
    free(log);
    for (size_t a = 0; a < f->n_agents; a++) {
        char *alog = slurp(net_agent_of(&f->n, f->agents[a])->log);
        assert_non_null(strstr(alog, "AGENT-STARTED"));
        assert_null(strstr(strstr(alog, "AGENT-STARTED") + 1, "AGENT-STARTED"));
        assert_null(strstr(alog, "Amanuel"));
        free(alog);
    }
    printf("# %d broker kills, %zu referrals (%zu accepted, %zu refused); kills struck with "
           "submissions open %zu times and deliveries owed %zu times; %llu ms in all, %llu ms "
           "of it down and restarting\n",
           kills, s.n, s.accepted, s.rejected, struck_submitting, struck_delivering,
           (unsigned long long)(mono_ms() - began), (unsigned long long)down_ms);
    /* The schedule must have caught work in flight, or it proved nothing. */
    assert_true(struck_submitting > 0);
    assert_true(struck_delivering > 0);
    assert_true(s.rejected > 0 || messages < DUP_EVERY);
    for (size_t a = 0; a < f->n_agents; a++)
        net_agent_stop(&f->n, f->agents[a]);
    f->n_agents = 0;
    net_broker_stop(&f->n);
    read_log(f, &s, &v, false);
    check_log_settled(&s, &v);
    check_verify(f, "at the end");
    stream_fini(&s);
    finish(state);
}

static void test_agent_crash(void **state)
{
    rng_seed("agent crash");
    int kills = env_count("CF_FAULT_KILLS", 20),
        messages = env_count("CF_FAULT_MESSAGES", DEFAULT_MESSAGES);
    struct fixture *f = start(state);
    static struct stream s;
    stream_init(&s, (size_t)messages);
    size_t struck_delivering = 0, kills_of[N_RECIPIENTS] = {0};
    uint64_t began = mono_ms();
    pid_t broker_pid = f->n.broker_pid;
    for (int round = 0; round < kills; round++) {
        spool_batch(f, &s, batch_of(round, kills, messages));
        int delay = kill_delay();
        size_t k = (size_t)rng_next() % N_RECIPIENTS;
        sleep_ms(delay);
        net_agent_kill(&f->n, recipients[k]);
        kills_of[k]++;
        read_answers(f, &s);
        read_arrivals(f, &s);
        /* Referrals accepted so far that the victim had not kept when it died. */
        size_t owed = undelivered(&s, 1u << k);
        struck_delivering += owed > 0;
        printf("# kill %d after %d ms: %s, owed %zu of %zu accepted so far (%zu unanswered)\n",
               round + 1, delay, recipients[k], owed, s.accepted, unanswered(&s));
        net_agent_start(&f->n, recipients[k], NULL);
        char after[64];
        snprintf(after, sizeof after, "kill %d (%s)", round + 1, recipients[k]);
        uint64_t took = await_settled(f, &s, after);
        check_spool_inboxes(f, &s);
        check_cli_inbox(f, &s, recipients[k]);
        printf("#   restarted; %zu accepted, %zu rejected, all settled %llu ms later\n", s.accepted,
               s.rejected, (unsigned long long)took);
        fflush(stdout);
    }
    for (size_t k = 0; k < N_RECIPIENTS; k++)
        check_cli_inbox(f, &s, recipients[k]);
    check_hooks(f, &s, true);
    /* Only recipients died: the broker and the senders ran throughout. */
    assert_int_equal(f->n.broker_pid, broker_pid);
    assert_int_equal(kill(broker_pid, 0), 0);
    for (size_t a = 0; a < f->n_agents; a++) {
        char *alog = slurp(net_agent_of(&f->n, f->agents[a])->log);
        size_t starts = 0;
        for (const char *at = alog; (at = strstr(at, "AGENT-STARTED")) != NULL; at++)
            starts++;
        size_t expect = 1;
        for (size_t k = 0; k < N_RECIPIENTS; k++)
            if (strcmp(f->agents[a], recipients[k]) == 0)
                expect += kills_of[k];
        assert_int_equal(starts, expect);
        assert_null(strstr(alog, "Amanuel"));
        free(alog);
    }
    printf("# %d agent kills (%zu %s, %zu %s, %zu %s), %zu referrals (%zu accepted, %zu "
           "refused); %zu kills struck with deliveries owed to the victim; %llu ms in all\n",
           kills, kills_of[0], recipients[0], kills_of[1], recipients[1], kills_of[2],
           recipients[2], s.n, s.accepted, s.rejected, struck_delivering,
           (unsigned long long)(mono_ms() - began));
    assert_true(struck_delivering > 0);
    for (size_t a = 0; a < f->n_agents; a++)
        net_agent_stop(&f->n, f->agents[a]);
    f->n_agents = 0;
    net_broker_stop(&f->n);
    struct log_view v;
    read_log(f, &s, &v, false);
    check_log_settled(&s, &v);
    check_verify(f, "at the end");
    char *log = slurp(f->n.broker_log);
    assert_null(strstr(log, NET_PAYLOAD));
    assert_null(strstr(log, "Amanuel"));
    free(log);
    stream_fini(&s);
    finish(state);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_broker_crash, teardown),
        cmocka_unit_test_teardown(test_agent_crash, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
