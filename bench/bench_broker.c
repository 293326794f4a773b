/* bench_broker: the real childfirst-broker, in its durable default
 * configuration, under load from CURVE clients on 127.0.0.1, with the
 * machine's raw limits (raw.h) measured in the same run, so each broker figure
 * prints as a ratio of what the disk, libsodium and ZeroMQ allow here.
 *
 * It reuses the integration-test harness (keys, the signed directory,
 * broker.ini, starting and stopping the process), so the broker measured is
 * the one the tests start. Referrals are sealed before each timed phase; the
 * clock covers only submit to Accepted. A harness failure ends the program
 * (cmocka's fail_msg exits outside a test); an exit handler then kills the
 * broker and removes the network folder, so nothing is left running.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "childfirst/wire.h"
#include "harness.h"
#include "raw.h"

#define MAX_SECONDS 3600.0
#define NS_PER_S 1000000000LL
/* Outstanding submits per connection in the loaded phases. */
#define MANY_IN_FLIGHT 100
/* Connections in the last phase, all authenticated as police-a. */
#define CONNECTIONS 4
/* Untimed submits at 1 in flight before the first phase: the CURVE handshake,
 * the first pages of the map and the caches are not counted. */
#define WARMUP_SUBMITS 100
/* Untimed submits at full load before each loaded phase: a warm-up whose rate
 * also sizes the phase's pool of sealed referrals. */
#define PROBE_SUBMITS 2000
/* A pool holds this many times the referrals the expected rate needs for the
 * phase; if it still runs out, the phase ends early and says so. */
#define POOL_MARGIN 1.5
#define POOL_MIN 200
#define POOL_MAX 600000
#define ANSWER_TIMEOUT_MS 20000
/* Appended to the harness's broker.ini, replacing its test defaults: a 1 GiB
 * map so the run does not grow it (and replay batches), and warn so a log line
 * per message stays out of the figures. Durability settings are untouched. */
#define BROKER_INI "map_size_mb = 1024\nlog_level = warn\n"

struct options {
    double seconds;
    bool json;
    bool million;       /* the scaling part goes on to 1,000,000 records */
    bool scale;         /* run the scaling part at all */
    double steady_rate; /* msg/s of the latency phase */
    long commit_ms;     /* the broker's commit_ms, or -1 for its default */
};

/* The log sizes the scaling part measures at; the last only with --million. */
static const uint64_t SCALE_RECORDS[] = {1000, 100000, 1000000};
/* Referrals per grow step of the scaling part (each makes two leaves: the
 * referral's and its new_referral notice's). */
#define GROW_CHUNK 100000

/* The raw limits this run compares against. */
struct limits {
    double lmdb_b1_per_s;   /* synced commits of one record */
    double lmdb_b100_per_s; /* synced commits of 100 records */
    double ed25519_per_s;   /* verifies on one core */
    struct raw_rtt curve;   /* CURVE round trip */
    struct raw_rtt floor;   /* CURVE round trip with a synced commit before the reply */
    long cores;             /* online cores: the broker's verify pool uses them all */
};

/* One referral, sealed and already encoded as a Submit frame. */
struct submission {
    uint8_t message_id[CF_MESSAGE_ID_LEN];
    uint8_t *frame;
    size_t frame_len;
};

struct pool {
    struct submission *items;
    size_t n;    /* sealed */
    size_t next; /* the next to send */
};

/* Latencies in nanoseconds; cap is fixed before timing, so nothing grows then. */
struct samples {
    int64_t *ns;
    size_t len;
    size_t cap;
};

/* One submit on its way: which referral, and when it left. */
struct slot {
    size_t idx;
    int64_t sent_ns;
};

struct conn {
    void *sock; /* a DEALER owned by the net (closed by net_destroy) */
    struct slot slot[MANY_IN_FLIGHT];
    int outstanding;
};

/* What one replay of a pool measured. */
struct load {
    long accepts;
    double seconds; /* first submit to last Accepted */
    double per_s;
    double p50_us;
    double p99_us;
    double p999_us;
    bool ran_out; /* the pool was used up before the deadline */
    /* The broker's CPU over the load, in cores: its loop thread (the one that
     * verifies, applies and commits), and the whole process (with ZeroMQ's I/O
     * thread, which does CURVE). A loop thread well below 1 is waiting: for
     * fdatasync, or for frames. */
    double loop_cpu;
    double process_cpu;
    /* Bytes the broker handed to write calls (`wchar` of /proc/<pid>/io: its
     * store's page writes; ZeroMQ's sends are not counted) per Accepted. */
    double written_per_accept;
};

/* One timed phase, with the broker's own counters over it. */
struct phase {
    const char *key;   /* JSON key part */
    const char *label; /* table label */
    int connections;
    int in_flight;
    struct load load;
    uint64_t commits; /* Status.commits over the phase */
    uint64_t frames;  /* Status.frames over the phase */
};

enum answer { ANSWER_NONE, ANSWER_OTHER, ANSWER_ACCEPTED, ANSWER_FAILED };

/* The network an exit handler must tear down, or NULL. */
static struct net *live_net;

static void usage(FILE *out)
{
    fprintf(out, "usage: bench_broker [--seconds S] [--json] [--steady-rate R] [--no-scale] "
                 "[--million]\n"
                 "\n"
                 "Starts the real childfirst-broker (durable defaults, log_level warn) on\n"
                 "127.0.0.1 and measures, for about S seconds each:\n"
                 "  referrals accepted with 1 in flight, 100 in flight, and 4 connections\n"
                 "  with 100 in flight each: accepts/s, p50 and p99 submit-to-Accepted\n"
                 "  the raw limits in the same run (bench_raw): synced LMDB commits at\n"
                 "  batch 1 and 100 under the build folder, Ed25519 verify, a CURVE round\n"
                 "  trip, and a CURVE round trip with a synced commit (the floor)\n"
                 "and prints the broker's figures as ratios of the raw limits.\n"
                 "\n"
                 "  latency at a steady R referrals/s (default 1000) with the recipients\n"
                 "  online: p50/p99/p99.9 submit-to-Accepted and submit-to-DeliveryAck\n"
                 "  scaling, on a second broker: 4 x 100 at 1,000 and 100,000 records in\n"
                 "  the log (and 1,000,000 with --million), its memory with all of that\n"
                 "  queued for offline recipients, and restart to the first Accepted\n"
                 "\n"
                 "  --seconds S  time per measurement (default 5)\n"
                 "  --json       print one JSON object instead of a table\n"
                 "  --no-scale   leave out the scaling part\n"
                 "  --million    take the scaling part on to 1,000,000 records\n"
                 "  --commit-ms N  the broker's commit_ms (default: its own, 200; 0 commits\n"
                 "               every batch to LMDB, without the redo log)\n"
                 "\n"
                 "Progress goes to stderr. CF_KEEP_TEST_DIRS=1 keeps the broker's folder.\n");
}

static int parse_options(int argc, char **argv, struct options *opt)
{
    opt->seconds = 5.0;
    opt->json = false;
    opt->scale = true;
    opt->million = false;
    opt->steady_rate = 1000.0;
    opt->commit_ms = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            char *end;

            errno = 0;
            opt->seconds = strtod(argv[++i], &end);
            if (errno != 0 || end == argv[i] || *end != '\0' || !(opt->seconds > 0.0) ||
                opt->seconds > MAX_SECONDS) {
                fprintf(stderr, "bench_broker: --seconds wants a number in (0, %.0f]\n",
                        MAX_SECONDS);
                return -1;
            }
        } else if (strcmp(argv[i], "--json") == 0) {
            opt->json = true;
        } else if (strcmp(argv[i], "--million") == 0) {
            opt->million = true;
        } else if (strcmp(argv[i], "--no-scale") == 0) {
            opt->scale = false;
        } else if (strcmp(argv[i], "--steady-rate") == 0 && i + 1 < argc) {
            opt->steady_rate = strtod(argv[++i], NULL);
            if (!(opt->steady_rate >= 1.0 && opt->steady_rate <= 100000.0)) {
                fprintf(stderr, "bench_broker: --steady-rate wants a number in [1, 100000]\n");
                return -1;
            }
        } else if (strcmp(argv[i], "--commit-ms") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            opt->commit_ms = strtol(argv[++i], &end, 10);
            if (errno != 0 || end == argv[i] || *end != '\0' || opt->commit_ms < 0 ||
                opt->commit_ms > 60000) {
                fprintf(stderr, "bench_broker: --commit-ms wants a whole number in [0, 60000]\n");
                return -1;
            }
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "bench_broker: unknown or incomplete option: %s\n", argv[i]);
            usage(stderr);
            return -1;
        }
    }
    return 0;
}

static void teardown_at_exit(void)
{
    if (live_net != NULL) {
        net_destroy(live_net); /* kills the broker if it still runs */
        live_net = NULL;
    }
}

static int64_t now_ns(void)
{
    struct timespec ts;

    /* Fails only for a clock id the system lacks: a programming error. */
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        perror("bench_broker: clock_gettime");
        abort();
    }
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static double ratio(double x, double limit)
{
    return limit > 0.0 ? x / limit : 0.0;
}

/* ---- Samples (nearest-rank percentiles, as raw.c computes them) ---- */

static int compare_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static double percentile_us(const struct samples *s, int pct)
{
    size_t rank = (s->len * (size_t)pct + 99) / 100;

    return s->len > 0 ? (double)s->ns[rank > 0 ? rank - 1 : 0] / 1000.0 : 0.0;
}

/* The same at a rank in thousandths (999: p99.9). */
static double permille_us(const struct samples *s, int pm)
{
    size_t rank = (s->len * (size_t)pm + 999) / 1000;

    return s->len > 0 ? (double)s->ns[rank > 0 ? rank - 1 : 0] / 1000.0 : 0.0;
}

/* ---- The broker's CPU time ---- */

/* CPU seconds (user + system) so far of a /proc/.../stat file. */
static int cpu_seconds(const char *path, double *out)
{
    char line[1024];
    unsigned long long utime, stime;
    const char *paren;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        fprintf(stderr, "bench_broker: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fgets(line, sizeof line, f) == NULL) {
        fprintf(stderr, "bench_broker: %s: cannot read\n", path);
        fclose(f);
        return -1;
    }
    fclose(f);
    /* Fields 14 and 15, counted after the command name, which may hold spaces. */
    paren = strrchr(line, ')');
    if (paren == NULL || sscanf(paren + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                                &utime, &stime) != 2) {
        fprintf(stderr, "bench_broker: %s: unexpected format\n", path);
        return -1;
    }
    *out = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
    return 0;
}

/* The broker's loop thread (its main thread) and whole process, in CPU seconds. */
static int broker_cpu(pid_t pid, double *loop, double *process)
{
    char path[64];

    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)pid);
    if (cpu_seconds(path, loop) != 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    return cpu_seconds(path, process);
}

/* Bytes the broker has passed to write(2) and its kin so far: `wchar`. */
static int broker_written(pid_t pid, double *out)
{
    char path[64], line[128];
    unsigned long long v;
    int found = 0;

    snprintf(path, sizeof path, "/proc/%d/io", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "bench_broker: %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (!found && fgets(line, sizeof line, f) != NULL)
        found = sscanf(line, "wchar: %llu", &v) == 1;
    fclose(f);
    if (!found) {
        fprintf(stderr, "bench_broker: %s: no wchar line\n", path);
        return -1;
    }
    *out = (double)v;
    return 0;
}

/* ---- The raw limits ---- */

static int measure_limits(const char *dir, double seconds, struct limits *lim)
{
    fprintf(stderr, "bench_broker: raw limits, %g s each, LMDB under %s\n", seconds, dir);
    if ((lim->lmdb_b1_per_s = raw_lmdb_commits_per_s(dir, 1, seconds)) < 0)
        return -1;
    if ((lim->lmdb_b100_per_s = raw_lmdb_commits_per_s(dir, 100, seconds)) < 0)
        return -1;
    if ((lim->ed25519_per_s = raw_ed25519_verifies_per_s(seconds)) < 0)
        return -1;
    if ((lim->curve = raw_zmq_rtt(true, seconds)).per_s < 0)
        return -1;
    if ((lim->floor = raw_floor_rtt(dir, seconds)).per_s < 0)
        return -1;
    return 0;
}

/* ---- The broker's set-up ---- */

/* Whether the LMDB measurements ran on the file system that holds the
 * broker's state; a ratio across two disks would compare nothing. */
static int same_disk(const char *a, const char *b, bool *same)
{
    struct stat sa, sb;

    if (stat(a, &sa) != 0 || stat(b, &sb) != 0) {
        fprintf(stderr, "bench_broker: stat %s or %s: %s\n", a, b, strerror(errno));
        return -1;
    }
    *same = sa.st_dev == sb.st_dev;
    return 0;
}

/* Connects a CURVE DEALER as police-a and says Hello, as an agent does. */
static void conn_open(struct net *n, struct conn *c)
{
    struct cf_frame welcome;

    memset(c, 0, sizeof *c);
    c->sock = net_connect(n, net_agency(n, "police-a")->keys);
    net_hello(c->sock, 0, &welcome);
    cf_wire_frame_fini(&welcome);
}

/* ---- The pool of sealed referrals ---- */

static void pool_free(struct pool *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i].frame);
    free(p->items);
    memset(p, 0, sizeof *p);
}

/* The bytes a sender signs (DESIGN.md section 4, common/src/envelope.c):
 * "childfirst/v1/envelope\0" || B(header) || B(ciphertext) || B(keys) || commit.
 * If this ever drifts from the library's, the broker rejects every referral
 * (CF_ESIG) and the benchmark stops: it cannot measure a wrong signature. */
static void sign_envelope(struct cf_envelope *env, const struct cf_keys *k)
{
    static const char tag[] = "childfirst/v1/envelope";
    uint8_t msg[sizeof tag + 4 * CF_HASH_LEN], *p = msg;
    struct cf_envelope_digests d;

    cf_envelope_digests(env, &d);
    memcpy(p, tag, sizeof tag), p += sizeof tag;
    memcpy(p, d.header, CF_HASH_LEN), p += CF_HASH_LEN;
    memcpy(p, d.ciphertext, CF_HASH_LEN), p += CF_HASH_LEN;
    memcpy(p, d.keys, CF_HASH_LEN), p += CF_HASH_LEN;
    memcpy(p, d.commit, CF_HASH_LEN), p += CF_HASH_LEN;
    crypto_sign_detached(env->signature, NULL, msg, (unsigned long long)(p - msg), k->sign_sk);
}

/* A fresh referral header whose message id starts with `index` (big-endian),
 * so an answer names its slot in the pool; the rest is random. */
static void indexed_header(struct net *n, const char *sender, size_t index, struct cf_header *h)
{
    net_referral_header(n, sender, h);
    for (int i = 0; i < 8; i++)
        h->message_id[i] = (uint8_t)(index >> (56 - 8 * i));
}

static size_t index_of(const uint8_t message_id[CF_MESSAGE_ID_LEN])
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | message_id[i];
    return (size_t)v;
}

static int add_submit(struct pool *p, const struct cf_header *h, const uint8_t *env, size_t len)
{
    struct submission *s = &p->items[p->n];
    struct cf_frame f = {.kind = CF_FRAME_SUBMIT, .envelope = env, .envelope_len = len};
    int rc = cf_wire_frame_encode(&f, &s->frame, &s->frame_len);

    if (rc != 0) {
        fprintf(stderr, "bench_broker: encoding a Submit: %s\n", cf_error_name(rc));
        return -1;
    }
    memcpy(s->message_id, h->message_id, sizeof s->message_id);
    p->n++;
    return 0;
}

/* `count` referrals from police-a, each with a fresh message id and case id,
 * each encoded as a Submit. With `seal_each`, each is sealed for its
 * recipients as an agent seals it (the recipients can open it). Without, one
 * referral is sealed and its ciphertext and sealed keys are signed again under
 * each fresh header: every check the broker makes passes or fails exactly as
 * for a sealed one (it never opens a payload), at 1/15 of the sealing cost;
 * only a recipient could tell, and in those phases recipients are offline.
 * Caller frees with pool_free (also after a failure). */
static int pool_fill(struct net *n, struct pool *p, size_t count, bool seal_each)
{
    const struct cf_keys *k = net_agency(n, "police-a")->keys;
    int64_t start = now_ns();
    struct cf_envelope env;
    struct cf_header h, th;
    struct cf_error err = {0};
    uint8_t *tpl = NULL, *kept_header;
    size_t tpl_len, kept_len;
    int rc = -1;

    memset(p, 0, sizeof *p);
    memset(&env, 0, sizeof env);
    if ((p->items = calloc(count, sizeof *p->items)) == NULL) {
        fprintf(stderr, "bench_broker: out of memory for %zu referrals\n", count);
        return -1;
    }
    net_referral(n, "police-a", &h, &tpl, &tpl_len);
    if (cf_envelope_decode(tpl, tpl_len, &env, &th, &err) != 0) {
        fprintf(stderr, "bench_broker: the template referral does not decode: %s\n", err.text);
        goto out;
    }
    kept_header = env.header, kept_len = env.header_len;
    for (size_t i = 0; i < count; i++) {
        uint8_t *bytes;
        size_t len;

        indexed_header(n, "police-a", i, &h);
        if (seal_each) {
            static const char payload[] = NET_PAYLOAD;
            net_seal(n, &h, (const uint8_t *)payload, sizeof payload, &bytes, &len);
        } else {
            if (cf_wire_header_encode(&h, &env.header, &env.header_len) != 0) {
                fprintf(stderr, "bench_broker: encoding a header failed\n");
                env.header = kept_header;
                goto out;
            }
            sign_envelope(&env, k);
            int erc = cf_wire_envelope_encode(&env, &bytes, &len);
            free(env.header);
            env.header = kept_header, env.header_len = kept_len;
            if (erc != 0) {
                fprintf(stderr, "bench_broker: encoding an envelope failed\n");
                goto out;
            }
        }
        int arc = add_submit(p, &h, bytes, len);
        free(bytes);
        if (arc != 0)
            goto out;
    }
    fprintf(stderr, "bench_broker: %s %zu referrals (%.0f /s)\n", seal_each ? "sealed" : "signed",
            count, (double)count * NS_PER_S / (double)(now_ns() - start));
    rc = 0;
out:
    cf_envelope_fini(&env);
    free(tpl);
    return rc;
}

/* ---- The load generator ---- */

/* Sends the pool's next referral on c, which has room for one more. Returns
 * 1 when sent, 0 when the pool is used up, -1 on failure. */
static int send_next(struct conn *c, struct pool *p)
{
    const struct submission *s;
    struct slot *sl;

    if (p->next == p->n)
        return 0;
    s = &p->items[p->next];
    sl = &c->slot[c->outstanding];
    sl->idx = p->next++;
    sl->sent_ns = now_ns();
    if (zmq_send(c->sock, s->frame, s->frame_len, 0) < 0) {
        fprintf(stderr, "bench_broker: zmq_send: %s\n", zmq_strerror(zmq_errno()));
        return -1;
    }
    c->outstanding++;
    return 1;
}

/* Takes one waiting frame from c without blocking. For an Accepted, *at_ns is
 * when it arrived and *latency_ns the time since its Submit left. A Rejected
 * is a failure: the benchmark must not go on measuring something else. */
static enum answer take_answer(struct conn *c, const struct pool *p, int64_t *at_ns,
                               int64_t *latency_ns)
{
    struct cf_error err = {0};
    struct cf_frame f;
    enum answer a = ANSWER_FAILED;
    zmq_msg_t m;
    int rc;

    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, c->sock, ZMQ_DONTWAIT) < 0) {
        int e = zmq_errno();

        zmq_msg_close(&m);
        if (e == EAGAIN)
            return ANSWER_NONE;
        fprintf(stderr, "bench_broker: zmq_msg_recv: %s\n", zmq_strerror(e));
        return ANSWER_FAILED;
    }
    *at_ns = now_ns();
    rc = cf_wire_frame_decode(zmq_msg_data(&m), zmq_msg_size(&m), &f, &err);
    zmq_msg_close(&m);
    if (rc != 0) {
        fprintf(stderr, "bench_broker: a frame from the broker does not decode: %s\n", err.text);
        goto out;
    }
    if (f.kind == CF_FRAME_REJECTED) {
        fprintf(stderr, "bench_broker: the broker rejected a referral: %s: %s\n", f.code, f.reason);
        goto out;
    }
    if (f.kind != CF_FRAME_ACCEPTED) {
        a = ANSWER_OTHER;
        goto out;
    }
    for (int i = 0; i < c->outstanding; i++) {
        if (memcmp(p->items[c->slot[i].idx].message_id, f.message_id, CF_MESSAGE_ID_LEN) == 0) {
            *latency_ns = *at_ns - c->slot[i].sent_ns;
            c->slot[i] = c->slot[--c->outstanding];
            a = ANSWER_ACCEPTED;
            goto out;
        }
    }
    fprintf(stderr, "bench_broker: an Accepted names no message in flight on its connection\n");
out:
    cf_wire_frame_fini(&f);
    return a;
}

/* Replays the pool over nconn connections with in_flight outstanding on each:
 * one more leaves as each Accepted comes back, until `seconds` have passed
 * (0: until the pool is used up); then every answer is awaited. */
static int run_load(struct conn *conns, int nconn, int in_flight, struct pool *p, double seconds,
                    struct samples *lat, struct load *r)
{
    zmq_pollitem_t items[CONNECTIONS];
    int64_t t0 = now_ns(), last = t0;
    int64_t deadline = seconds > 0 ? t0 + (int64_t)(seconds * NS_PER_S) : INT64_MAX;
    long outstanding = 0;

    memset(r, 0, sizeof *r);
    for (int i = 0; i < nconn; i++) {
        items[i] = (zmq_pollitem_t){conns[i].sock, 0, ZMQ_POLLIN, 0};
        conns[i].outstanding = 0;
        for (int k = 0; k < in_flight; k++) {
            int sent = send_next(&conns[i], p);

            if (sent < 0)
                return -1;
            outstanding += sent;
        }
    }
    while (outstanding > 0) {
        int ready = zmq_poll(items, nconn, ANSWER_TIMEOUT_MS);

        if (ready < 0 && zmq_errno() == EINTR)
            continue;
        if (ready < 0) {
            fprintf(stderr, "bench_broker: zmq_poll: %s\n", zmq_strerror(zmq_errno()));
            return -1;
        }
        if (ready == 0) {
            fprintf(stderr, "bench_broker: no answer from the broker within %d ms\n",
                    ANSWER_TIMEOUT_MS);
            return -1;
        }
        for (int i = 0; i < nconn; i++) {
            if (!(items[i].revents & ZMQ_POLLIN))
                continue;
            for (;;) {
                int64_t at, latency;
                enum answer a = take_answer(&conns[i], p, &at, &latency);

                if (a == ANSWER_NONE)
                    break;
                if (a == ANSWER_FAILED)
                    return -1;
                if (a == ANSWER_OTHER)
                    continue;
                outstanding--;
                r->accepts++;
                last = at;
                if (lat->len == lat->cap) {
                    fprintf(stderr, "bench_broker: more answers than submits\n");
                    return -1;
                }
                lat->ns[lat->len++] = latency;
                if (at < deadline) {
                    int sent = send_next(&conns[i], p);

                    if (sent < 0)
                        return -1;
                    if (sent == 0 && seconds > 0)
                        r->ran_out = true;
                    outstanding += sent;
                }
            }
        }
    }
    r->seconds = (double)(last - t0) / NS_PER_S;
    return 0;
}

/* Seals `count` referrals, then replays them (see run_load) and sums up. */
static int replay(struct net *n, struct conn *conns, int nconn, int in_flight, size_t count,
                  double seconds, struct load *r)
{
    struct pool p;
    struct samples lat = {0};
    double loop0, proc0, loop1, proc1, wrote0, wrote1;
    int64_t t0, t1;
    int rc = -1;

    if (pool_fill(n, &p, count, false) != 0)
        goto out;
    if ((lat.ns = malloc(count * sizeof *lat.ns)) == NULL) {
        fprintf(stderr, "bench_broker: out of memory for %zu latencies\n", count);
        goto out;
    }
    lat.cap = count;
    if (broker_cpu(n->broker_pid, &loop0, &proc0) != 0 ||
        broker_written(n->broker_pid, &wrote0) != 0)
        goto out;
    t0 = now_ns();
    if (run_load(conns, nconn, in_flight, &p, seconds, &lat, r) != 0)
        goto out;
    t1 = now_ns();
    if (broker_cpu(n->broker_pid, &loop1, &proc1) != 0 ||
        broker_written(n->broker_pid, &wrote1) != 0)
        goto out;
    r->written_per_accept = r->accepts > 0 ? (wrote1 - wrote0) / (double)r->accepts : 0.0;
    r->loop_cpu = (loop1 - loop0) * NS_PER_S / (double)(t1 - t0);
    r->process_cpu = (proc1 - proc0) * NS_PER_S / (double)(t1 - t0);
    qsort(lat.ns, lat.len, sizeof *lat.ns, compare_i64);
    r->per_s = r->seconds > 0 ? (double)r->accepts / r->seconds : 0.0;
    r->p50_us = percentile_us(&lat, 50);
    r->p99_us = percentile_us(&lat, 99);
    r->p999_us = permille_us(&lat, 999);
    rc = 0;
out:
    pool_free(&p);
    free(lat.ns);
    return rc;
}

/* How many referrals a phase at `per_s` for `seconds` needs, with margin. */
static size_t pool_size(double per_s, double seconds)
{
    double want = per_s * seconds * POOL_MARGIN;

    if (!(want >= POOL_MIN))
        return POOL_MIN;
    return want > POOL_MAX ? POOL_MAX : (size_t)want;
}

/* One timed phase: warm up (which also estimates the rate), seal a pool big
 * enough, replay it for `seconds`, and read the broker's counters around it. */
static int run_phase(struct net *n, struct conn *conns, struct phase *ph, double seconds,
                     double expect_per_s)
{
    struct cf_status before, after;
    struct load warm;

    fprintf(stderr, "bench_broker: %s: warming up\n", ph->label);
    if (ph->in_flight == 1) {
        if (replay(n, conns, ph->connections, 1, WARMUP_SUBMITS, 0, &warm) != 0)
            return -1;
    } else {
        if (replay(n, conns, ph->connections, ph->in_flight, PROBE_SUBMITS, 0, &warm) != 0)
            return -1;
        expect_per_s = warm.per_s;
    }
    net_status(conns[0].sock, &before);
    fprintf(stderr, "bench_broker: %s: %g s\n", ph->label, seconds);
    if (replay(n, conns, ph->connections, ph->in_flight, pool_size(expect_per_s, seconds), seconds,
               &ph->load) != 0)
        return -1;
    net_status(conns[0].sock, &after);
    ph->commits = after.commits - before.commits;
    ph->frames = after.frames - before.frames;
    return 0;
}

/* ---- Latency at a steady rate, with the recipients online ---- */

/* Recipients of every harness referral, online for this phase. */
static const char *const RECIPIENTS[] = {"guardian-x", "la-csc", "la-duty"};
#define N_RECIPIENTS 3

struct steady {
    double rate;       /* asked for, msg/s */
    double sent_per_s; /* achieved */
    long messages;
    struct samples accepted; /* submit -> Accepted */
    struct samples acked;    /* submit -> each recipient's DeliveryAck leaves it */
    double acc_p50, acc_p99, acc_p999, ack_p50, ack_p99, ack_p999;
};

/* Acknowledges a delivery report as the sender does (agent_outbox.c). */
static void ack_report(void *sock, const struct cf_keys *who, const struct cf_frame *f)
{
    struct cf_frame ack = {
        .kind = CF_FRAME_ACK, .leaf_index = f->report_leaf, .has_message_id = true};
    uint8_t hash[CF_HASH_LEN];

    memcpy(ack.message_id, f->message_id, CF_MESSAGE_ID_LEN);
    cf_envelope_hash(f->record, f->record_len, hash);
    if (cf_envelope_ack_sign(f->message_id, hash, CF_ACK_OK, who, ack.signature) == 0)
        net_send(sock, &ack);
}

/* A recipient's turn: a referral is decoded, its signature checked, its
 * payload opened, and then acknowledged, as an agent does before its own
 * store commit (which this client does not make). Returns 1 when it took a
 * frame, 0 when none was waiting, -1 on failure. */
static int recipient_take(struct net *n, void *sock, const struct cf_keys *self,
                          const struct pool *p, int64_t *sent_ns, struct samples *acked)
{
    const struct cf_keys *sender = net_agency(n, "police-a")->keys;
    struct cf_frame f;

    if (net_recv(sock, &f, 0) != 0)
        return 0;
    if (f.kind == CF_FRAME_DELIVER && f.envelope) {
        struct cf_envelope env;
        struct cf_header h;
        uint8_t *plain = NULL;
        size_t plen;
        int rc = cf_envelope_decode(f.envelope, f.envelope_len, &env, &h, NULL);

        if (rc == 0)
            rc = cf_envelope_verify(&env, sender->sign_pk);
        if (rc == 0)
            rc = cf_envelope_open(&env, self, &plain, &plen);
        free(plain);
        cf_envelope_fini(&env);
        if (rc != 0) {
            fprintf(stderr, "bench_broker: a recipient cannot open a delivery: %s\n",
                    cf_error_name(rc));
            cf_wire_frame_fini(&f);
            return -1;
        }
        net_ack(sock, self, &f);
        size_t i = index_of(h.message_id);
        if (i < p->n && acked->len < acked->cap)
            acked->ns[acked->len++] = now_ns() - sent_ns[i];
    } else if (f.kind == CF_FRAME_DELIVER) {
        net_ack(sock, self, &f); /* a notice */
    }
    cf_wire_frame_fini(&f);
    return 1;
}

/* Submits sealed referrals at `rate` per second for `seconds` on a fresh
 * police-a connection, each on its own schedule whatever the answers, while
 * the three recipients are online and answer every delivery. */
static int run_steady(struct net *n, double rate, double seconds, struct steady *r)
{
    struct pool p;
    void *socks[1 + N_RECIPIENTS];
    const struct cf_keys *keys[1 + N_RECIPIENTS];
    zmq_pollitem_t items[1 + N_RECIPIENTS];
    size_t count = (size_t)(rate * seconds);
    int64_t *sent_ns = NULL;
    int rc = -1;

    memset(r, 0, sizeof *r);
    memset(socks, 0, sizeof socks);
    memset(&p, 0, sizeof p);
    r->rate = rate;
    if (count < 10)
        count = 10;
    if (pool_fill(n, &p, count, true) != 0)
        goto out;
    sent_ns = calloc(count, sizeof *sent_ns);
    r->accepted.ns = malloc(count * sizeof(int64_t));
    r->acked.ns = malloc(N_RECIPIENTS * count * sizeof(int64_t));
    if (!sent_ns || !r->accepted.ns || !r->acked.ns) {
        fprintf(stderr, "bench_broker: out of memory for the steady phase\n");
        goto out;
    }
    r->accepted.cap = count;
    r->acked.cap = N_RECIPIENTS * count;
    keys[0] = net_agency(n, "police-a")->keys;
    for (int i = 0; i < N_RECIPIENTS; i++)
        keys[1 + i] = net_agency(n, RECIPIENTS[i])->keys;
    for (int i = 0; i < 1 + N_RECIPIENTS; i++) {
        struct cf_frame w;

        socks[i] = net_connect(n, keys[i]);
        net_hello(socks[i], 0, &w);
        cf_wire_frame_fini(&w);
        items[i] = (zmq_pollitem_t){socks[i], 0, ZMQ_POLLIN, 0};
    }
    /* Whatever earlier phases left in the recipients' mailboxes drains first,
     * untimed: it is not this phase's traffic. */
    for (int64_t quiet = now_ns();;) {
        if (now_ns() - quiet > NS_PER_S / 2)
            break;
        if (zmq_poll(items, 1 + N_RECIPIENTS, 100) > 0) {
            for (int i = 0; i < 1 + N_RECIPIENTS; i++) {
                struct cf_frame f;

                while (net_recv(socks[i], &f, 0) == 0) {
                    if (f.kind == CF_FRAME_DELIVER && i > 0)
                        net_ack(socks[i], keys[i], &f);
                    else if (f.kind == CF_FRAME_REPORT)
                        ack_report(socks[i], keys[i], &f);
                    cf_wire_frame_fini(&f);
                    quiet = now_ns();
                }
            }
        }
    }
    fprintf(stderr, "bench_broker: steady %.0f msg/s: %zu referrals\n", rate, count);
    int64_t t0 = now_ns(), last_progress = t0, interval = (int64_t)(NS_PER_S / rate);
    size_t next = 0;
    while (r->accepted.len < count || r->acked.len < N_RECIPIENTS * count) {
        int64_t now = now_ns();
        while (next < count && now >= t0 + (int64_t)next * interval) {
            sent_ns[next] = now_ns();
            if (zmq_send(socks[0], p.items[next].frame, p.items[next].frame_len, 0) < 0) {
                fprintf(stderr, "bench_broker: zmq_send: %s\n", zmq_strerror(zmq_errno()));
                goto out;
            }
            next++;
        }
        long wait_ms = 0;
        if (next < count) {
            int64_t due = t0 + (int64_t)next * interval - now_ns();
            wait_ms = due > 1000000 ? (long)(due / 1000000) : 0;
        } else {
            wait_ms = 100;
        }
        if (zmq_poll(items, 1 + N_RECIPIENTS, wait_ms) < 0 && zmq_errno() != EINTR) {
            fprintf(stderr, "bench_broker: zmq_poll: %s\n", zmq_strerror(zmq_errno()));
            goto out;
        }
        for (;;) { /* the sender: Accepted, and delivery reports to acknowledge */
            struct cf_frame f;

            if (net_recv(socks[0], &f, 0) != 0)
                break;
            if (f.kind == CF_FRAME_ACCEPTED) {
                size_t i = index_of(f.message_id);
                if (i < count && r->accepted.len < r->accepted.cap)
                    r->accepted.ns[r->accepted.len++] = now_ns() - sent_ns[i];
                last_progress = now_ns();
            } else if (f.kind == CF_FRAME_REPORT) {
                ack_report(socks[0], keys[0], &f);
            } else if (f.kind == CF_FRAME_REJECTED) {
                fprintf(stderr, "bench_broker: rejected: %s: %s\n", f.code, f.reason);
                cf_wire_frame_fini(&f);
                goto out;
            }
            cf_wire_frame_fini(&f);
        }
        for (int i = 1; i < 1 + N_RECIPIENTS; i++) {
            int got;

            while ((got = recipient_take(n, socks[i], keys[i], &p, sent_ns, &r->acked)) > 0)
                last_progress = now_ns();
            if (got < 0)
                goto out;
        }
        if (now_ns() - last_progress > (int64_t)ANSWER_TIMEOUT_MS * 1000000) {
            fprintf(stderr,
                    "bench_broker: steady phase: no progress for %d ms (%zu accepted, %zu "
                    "acknowledged of %zu)\n",
                    ANSWER_TIMEOUT_MS, r->accepted.len, r->acked.len, count);
            goto out;
        }
    }
    r->messages = (long)count;
    r->sent_per_s = (double)count * NS_PER_S / (double)(sent_ns[count - 1] - t0 + interval);
    qsort(r->accepted.ns, r->accepted.len, sizeof(int64_t), compare_i64);
    qsort(r->acked.ns, r->acked.len, sizeof(int64_t), compare_i64);
    r->acc_p50 = percentile_us(&r->accepted, 50);
    r->acc_p99 = percentile_us(&r->accepted, 99);
    r->acc_p999 = permille_us(&r->accepted, 999);
    r->ack_p50 = percentile_us(&r->acked, 50);
    r->ack_p99 = percentile_us(&r->acked, 99);
    r->ack_p999 = permille_us(&r->acked, 999);
    rc = 0;
out:
    /* The recipients go offline again: their sockets close here. */
    for (int i = 0; i < 1 + N_RECIPIENTS; i++)
        if (socks[i])
            net_close(n, socks[i]);
    pool_free(&p);
    free(sent_ns);
    free(r->accepted.ns);
    free(r->acked.ns);
    r->accepted.ns = r->acked.ns = NULL;
    return rc;
}

/* ---- Scaling: a growing log, its memory, and a restart ---- */

struct scale_point {
    uint64_t records; /* tree size when measured */
    struct load load; /* 4 x 100, `seconds` */
};

struct scale {
    size_t n_points;
    struct scale_point point[3];
    double grow_per_s;             /* referrals/s while growing (4 x 100, untimed) */
    uint64_t queued;               /* la-duty's mailbox depth, from its Welcome */
    long rss_kb, anon_kb, file_kb; /* the broker's VmRSS, RssAnon, RssFile */
    long hwm_kb;                   /* VmHWM: the most it ever held */
    uint64_t restart_records;
    double restart_ms; /* spawn to the first Accepted */
};

static long status_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    long kb = -1;
    size_t len = strlen(field);
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, len) == 0 && line[len] == ':')
            kb = strtol(line + len + 1, NULL, 10);
    fclose(f);
    return kb;
}

/* Replays `count` referrals over the connections at 4 x 100 (untimed). */
static int grow(struct net *n, struct conn *conns, size_t count, double *per_s)
{
    struct load r;

    while (count > 0) {
        size_t step = count < GROW_CHUNK ? count : GROW_CHUNK;

        if (replay(n, conns, CONNECTIONS, MANY_IN_FLIGHT, step, 0, &r) != 0)
            return -1;
        *per_s = r.per_s;
        count -= step;
    }
    return 0;
}

/* On a fresh broker: 4 x 100 throughput and p99 at each log size, then the
 * broker's memory with everything queued for the offline recipients, then
 * the time from a restart to the first Accepted. */
static int run_scale(const struct options *opt, struct scale *sc)
{
    static struct net net;
    struct conn conns[CONNECTIONS];
    struct cf_status st;
    size_t points = opt->million ? 3 : 2;

    memset(sc, 0, sizeof *sc);
    memset(conns, 0, sizeof conns);
    net_create(&net, "map_size_mb = 4096\nlog_level = warn\n");
    live_net = &net;
    net_broker_start(&net);
    fprintf(stderr, "bench_broker: scaling: broker pid %d\n", (int)net.broker_pid);
    for (int c = 0; c < CONNECTIONS; c++)
        conn_open(&net, &conns[c]);
    for (size_t i = 0; i < points; i++) {
        struct scale_point *pt = &sc->point[i];
        struct load warm;

        net_status(conns[0].sock, &st);
        if (st.tree_size + 2 < SCALE_RECORDS[i]) {
            size_t need = (size_t)(SCALE_RECORDS[i] - st.tree_size) / 2;
            fprintf(stderr,
                    "bench_broker: scaling: growing the log from %" PRIu64 " by %zu "
                    "referrals\n",
                    st.tree_size, need);
            if (grow(&net, conns, need, &sc->grow_per_s) != 0)
                return -1;
        }
        net_status(conns[0].sock, &st);
        pt->records = st.tree_size;
        fprintf(stderr, "bench_broker: scaling: %" PRIu64 " records: 4 x 100, %g s\n", pt->records,
                opt->seconds);
        if (replay(&net, conns, CONNECTIONS, MANY_IN_FLIGHT, 2000, 0, &warm) != 0 ||
            replay(&net, conns, CONNECTIONS, MANY_IN_FLIGHT, pool_size(warm.per_s, opt->seconds),
                   opt->seconds, &pt->load) != 0)
            return -1;
        sc->n_points++;
    }
    sc->rss_kb = status_kb(net.broker_pid, "VmRSS");
    sc->anon_kb = status_kb(net.broker_pid, "RssAnon");
    sc->file_kb = status_kb(net.broker_pid, "RssFile");
    sc->hwm_kb = status_kb(net.broker_pid, "VmHWM");
    net_status(conns[0].sock, &st);
    sc->restart_records = st.tree_size;
    for (int c = 0; c < CONNECTIONS; c++)
        net_close(&net, conns[c].sock);
    net_broker_stop(&net);
    /* The restart: spawn, open and check the log, listen, then one referral. */
    struct pool p;
    struct cf_frame answer, w;
    if (pool_fill(&net, &p, 1, false) != 0)
        return -1;
    int64_t t0 = now_ns();
    net_broker_start(&net);
    void *sock = net_connect(&net, net_agency(&net, "police-a")->keys);
    zmq_send(sock, p.items[0].frame, p.items[0].frame_len, 0);
    net_expect(sock, CF_FRAME_ACCEPTED, &answer, ANSWER_TIMEOUT_MS);
    sc->restart_ms = (double)(now_ns() - t0) / 1e6;
    cf_wire_frame_fini(&answer);
    pool_free(&p);
    /* la-duty's queue, as its Welcome counts it; it says no more than Hello. */
    void *duty = net_connect(&net, net_agency(&net, "la-duty")->keys);
    net_hello(duty, 0, &w);
    sc->queued = w.mailbox_depth;
    cf_wire_frame_fini(&w);
    net_close(&net, duty);
    net_close(&net, sock);
    net_broker_stop(&net);
    net_destroy(&net);
    live_net = NULL;
    return 0;
}

/* ---- Output ---- */

static double frames_per_commit(uint64_t frames, uint64_t commits)
{
    return commits > 0 ? (double)frames / (double)commits : 0.0;
}

static void print_phase_line(const struct phase *ph)
{
    printf("%-34s %8.0f /s   p50 %7.0f us   p99 %7.0f us   p99.9 %7.0f us   frames/commit %5.1f",
           ph->label, ph->load.per_s, ph->load.p50_us, ph->load.p99_us, ph->load.p999_us,
           frames_per_commit(ph->frames, ph->commits));
    if (ph->load.ran_out)
        printf("   (pool used up after %.1f s)", ph->load.seconds);
    printf("\n    broker CPU in cores: loop thread %.2f, whole process %.2f; "
           "written %.1f KB per Accepted\n",
           ph->load.loop_cpu, ph->load.process_cpu, ph->load.written_per_accept / 1024.0);
}

/* The ratios of a loaded phase: against Ed25519 verification (one check per
 * message in the broker's one thread) and against synced commits (what one
 * fsync per message would allow). */
static void print_loaded_ratios(const struct phase *ph, const struct limits *lim)
{
    double commits_per_s = ph->load.seconds > 0 ? (double)ph->commits / ph->load.seconds : 0.0;

    printf("    = %.2f x Ed25519 verify limit on 1 core (%.0f /s); %.2f x on %ld cores\n",
           ratio(ph->load.per_s, lim->ed25519_per_s), lim->ed25519_per_s,
           ratio(ph->load.per_s, lim->ed25519_per_s * (double)lim->cores), lim->cores);
    printf("    = %.1f x LMDB synced commits/s at batch 1 (%.0f /s); the broker synced %.0f "
           "batches/s\n",
           ratio(ph->load.per_s, lim->lmdb_b1_per_s), lim->lmdb_b1_per_s, commits_per_s);
    printf("    = %.2f x LMDB records/s at batch 100 (%.0f /s)\n",
           ratio(ph->load.per_s, 100.0 * lim->lmdb_b100_per_s), 100.0 * lim->lmdb_b100_per_s);
}

static void print_steady_scale(const struct limits *lim, const struct steady *st,
                               const struct scale *sc)
{
    printf("steady %.0f referrals/s (sent %.0f /s), recipients online, %ld referrals\n", st->rate,
           st->sent_per_s, st->messages);
    printf("    submit -> Accepted         p50 %7.0f us   p99 %7.0f us   p99.9 %7.0f us   "
           "(p50 = %.2f x floor p50)\n",
           st->acc_p50, st->acc_p99, st->acc_p999, ratio(st->acc_p50, lim->floor.p50_us));
    printf("    submit -> DeliveryAck      p50 %7.0f us   p99 %7.0f us   p99.9 %7.0f us   "
           "(each of 3 recipients)\n",
           st->ack_p50, st->ack_p99, st->ack_p999);
    if (!sc || sc->n_points == 0)
        return;
    printf("scaling (a second broker; 4 conns x 100; the log grown at %.0f referrals/s)\n",
           sc->grow_per_s);
    for (size_t i = 0; i < sc->n_points; i++)
        printf("    %8" PRIu64 " records   %8.0f /s   p50 %7.0f us   p99 %7.0f us   (x %.2f of "
               "the first)\n",
               sc->point[i].records, sc->point[i].load.per_s, sc->point[i].load.p50_us,
               sc->point[i].load.p99_us, ratio(sc->point[i].load.per_s, sc->point[0].load.per_s));
    printf("    broker memory at %" PRIu64 " records, %" PRIu64 " queued for offline la-duty: "
           "VmRSS %ld kB (RssAnon %ld kB, RssFile %ld kB: LMDB pages mapped), VmHWM %ld kB\n",
           sc->restart_records, sc->queued, sc->rss_kb, sc->anon_kb, sc->file_kb, sc->hwm_kb);
    printf("    restart to the first Accepted at %" PRIu64 " records: %.0f ms (start polled every "
           "20 ms)\n",
           sc->restart_records, sc->restart_ms);
}

static void print_table(const struct limits *lim, const struct phase *ph, size_t nph,
                        const struct cf_status *end, long cores, double seconds,
                        const char *lmdb_dir, bool disk_same)
{
    printf("raw limits (%ld cores, %g s each; LMDB under %s, %s)\n", cores, seconds, lmdb_dir,
           disk_same ? "the file system of the broker's state"
                     : "NOT the file system of the broker's state");
    printf("%-34s %8.0f commits/s\n", "lmdb synced commit, batch 1", lim->lmdb_b1_per_s);
    printf("%-34s %8.0f commits/s   %.0f records/s\n", "lmdb synced commit, batch 100",
           lim->lmdb_b100_per_s, 100.0 * lim->lmdb_b100_per_s);
    printf("%-34s %8.0f /s\n", "ed25519 verify (1 core)", lim->ed25519_per_s);
    printf("%-34s %8.0f /s   p50 %7.0f us   p99 %7.0f us\n", "zmq round trip, CURVE",
           lim->curve.per_s, lim->curve.p50_us, lim->curve.p99_us);
    printf("%-34s %8.0f /s   p50 %7.0f us   p99 %7.0f us\n", "floor: CURVE rtt + synced commit",
           lim->floor.per_s, lim->floor.p50_us, lim->floor.p99_us);
    printf("\nchildfirst-broker (durable defaults, log_level warn), referrals from police-a\n");
    for (size_t i = 0; i < nph; i++) {
        print_phase_line(&ph[i]);
        if (ph[i].in_flight == 1) {
            printf("    = %.2f x floor (CURVE rtt + synced commit: %.0f /s, p50 %.0f us); "
                   "p50 = %.2f x floor p50\n",
                   ratio(ph[i].load.per_s, lim->floor.per_s), lim->floor.per_s, lim->floor.p50_us,
                   ratio(ph[i].load.p50_us, lim->floor.p50_us));
        } else {
            print_loaded_ratios(&ph[i], lim);
        }
    }
    printf("status at the end: %" PRIu64 " frames in %" PRIu64
           " commits = %.1f frames per commit (whole run, warm-ups included)\n",
           end->frames, end->commits, frames_per_commit(end->frames, end->commits));
}

static void print_json(const struct limits *lim, const struct phase *ph, size_t nph,
                       const struct cf_status *end, long cores, double seconds, bool disk_same)
{
    printf("{\"cores\":%ld,\"seconds\":%g,\"same_disk\":%s", cores, seconds,
           disk_same ? "true" : "false");
    printf(",\"raw_lmdb_commit_b1_per_s\":%.1f,\"raw_lmdb_commit_b100_per_s\":%.1f",
           lim->lmdb_b1_per_s, lim->lmdb_b100_per_s);
    printf(",\"raw_ed25519_verify_per_s\":%.1f", lim->ed25519_per_s);
    printf(",\"raw_zmq_rtt_curve_per_s\":%.1f,\"raw_zmq_rtt_curve_p50_us\":%.1f"
           ",\"raw_zmq_rtt_curve_p99_us\":%.1f",
           lim->curve.per_s, lim->curve.p50_us, lim->curve.p99_us);
    printf(",\"raw_floor_per_s\":%.1f,\"raw_floor_p50_us\":%.1f,\"raw_floor_p99_us\":%.1f",
           lim->floor.per_s, lim->floor.p50_us, lim->floor.p99_us);
    for (size_t i = 0; i < nph; i++) {
        const struct phase *p = &ph[i];
        const char *k = p->key;

        printf(",\"broker_%s_accepts\":%ld,\"broker_%s_seconds\":%.3f", k, p->load.accepts, k,
               p->load.seconds);
        printf(",\"broker_%s_accepts_per_s\":%.1f,\"broker_%s_p50_us\":%.1f"
               ",\"broker_%s_p99_us\":%.1f",
               k, p->load.per_s, k, p->load.p50_us, k, p->load.p99_us);
        printf(",\"broker_%s_commits\":%" PRIu64 ",\"broker_%s_frames\":%" PRIu64
               ",\"broker_%s_frames_per_commit\":%.2f,\"broker_%s_pool_used_up\":%s",
               k, p->commits, k, p->frames, k, frames_per_commit(p->frames, p->commits), k,
               p->load.ran_out ? "true" : "false");
        printf(",\"broker_%s_p999_us\":%.1f", k, p->load.p999_us);
        printf(",\"broker_%s_loop_cpu\":%.3f,\"broker_%s_process_cpu\":%.3f", k, p->load.loop_cpu,
               k, p->load.process_cpu);
        printf(",\"broker_%s_written_per_accept\":%.0f", k, p->load.written_per_accept);
        if (p->in_flight == 1) {
            printf(",\"ratio_%s_to_floor\":%.3f,\"ratio_%s_p50_to_floor_p50\":%.3f", k,
                   ratio(p->load.per_s, lim->floor.per_s), k,
                   ratio(p->load.p50_us, lim->floor.p50_us));
        } else {
            printf(",\"ratio_%s_to_ed25519\":%.3f,\"ratio_%s_to_lmdb_b1\":%.3f"
                   ",\"ratio_%s_to_lmdb_b100_records\":%.3f",
                   k, ratio(p->load.per_s, lim->ed25519_per_s), k,
                   ratio(p->load.per_s, lim->lmdb_b1_per_s), k,
                   ratio(p->load.per_s, 100.0 * lim->lmdb_b100_per_s));
        }
    }
    printf(",\"status_frames\":%" PRIu64 ",\"status_commits\":%" PRIu64
           ",\"status_frames_per_commit\":%.2f",
           end->frames, end->commits, frames_per_commit(end->frames, end->commits));
}

/* The rest of the JSON object: the steady phase and the scaling part. */
static void print_json_tail(const struct steady *st, const struct scale *sc)
{
    printf(",\"steady_rate\":%.0f,\"steady_sent_per_s\":%.1f,\"steady_messages\":%ld", st->rate,
           st->sent_per_s, st->messages);
    printf(",\"steady_accepted_p50_us\":%.1f,\"steady_accepted_p99_us\":%.1f"
           ",\"steady_accepted_p999_us\":%.1f",
           st->acc_p50, st->acc_p99, st->acc_p999);
    printf(",\"steady_ack_p50_us\":%.1f,\"steady_ack_p99_us\":%.1f,\"steady_ack_p999_us\":%.1f",
           st->ack_p50, st->ack_p99, st->ack_p999);
    if (sc && sc->n_points > 0) {
        printf(",\"scale\":[");
        for (size_t i = 0; i < sc->n_points; i++)
            printf("%s{\"records\":%" PRIu64 ",\"per_s\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f}",
                   i ? "," : "", sc->point[i].records, sc->point[i].load.per_s,
                   sc->point[i].load.p50_us, sc->point[i].load.p99_us);
        printf("],\"scale_grow_per_s\":%.1f,\"scale_records\":%" PRIu64
               ",\"scale_queued_offline\":%" PRIu64,
               sc->grow_per_s, sc->restart_records, sc->queued);
        printf(",\"scale_rss_kb\":%ld,\"scale_rss_anon_kb\":%ld,\"scale_rss_file_kb\":%ld"
               ",\"scale_hwm_kb\":%ld,\"restart_ms\":%.1f",
               sc->rss_kb, sc->anon_kb, sc->file_kb, sc->hwm_kb, sc->restart_ms);
    }
    printf("}\n");
}

/* ---- Main ---- */

/* Starts the broker, runs the phases, asks for the final Status and stops the
 * broker cleanly. The caller destroys the net. */
static int run_broker(struct net *n, const struct limits *lim, const struct options *opt,
                      struct phase *ph, size_t nph, struct steady *steady, struct cf_status *end)
{
    struct conn conns[CONNECTIONS];
    double seconds = opt->seconds;

    memset(conns, 0, sizeof conns);
    net_broker_start(n);
    fprintf(stderr, "bench_broker: broker pid %d, state in %s\n", (int)n->broker_pid, n->state_dir);
    /* First, while the recipients' mailboxes are empty: they come online. */
    if (run_steady(n, opt->steady_rate, seconds, steady) != 0)
        return -1;
    conn_open(n, &conns[0]);
    for (size_t i = 0; i < nph; i++) {
        for (int c = 1; c < ph[i].connections; c++)
            if (conns[c].sock == NULL)
                conn_open(n, &conns[c]);
        if (run_phase(n, conns, &ph[i], seconds, lim->floor.per_s) != 0)
            return -1;
    }
    net_status(conns[0].sock, end);
    net_broker_stop(n);
    return 0;
}

int main(int argc, char **argv)
{
    static struct net net;
    struct phase phases[] = {
        {.key = "1x1", .label = "broker accepts, 1 in flight", .connections = 1, .in_flight = 1},
        {.key = "1x100",
         .label = "broker accepts, 100 in flight",
         .connections = 1,
         .in_flight = MANY_IN_FLIGHT},
        {.key = "4x100",
         .label = "broker accepts, 4 conns x 100",
         .connections = CONNECTIONS,
         .in_flight = MANY_IN_FLIGHT},
    };
    const size_t nph = sizeof phases / sizeof phases[0];
    struct options opt;
    struct limits lim;
    struct cf_status end;
    struct steady steady;
    struct scale scale;
    char work[PATH_MAX];
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    bool made_work = false, disk_same = false;
    int status = EXIT_FAILURE;

    if (parse_options(argc, argv, &opt) != 0)
        return EXIT_FAILURE;
    if (sodium_init() < 0) {
        fprintf(stderr, "bench_broker: sodium_init failed\n");
        return EXIT_FAILURE;
    }
    if (atexit(teardown_at_exit) != 0) {
        fprintf(stderr, "bench_broker: atexit failed\n");
        return EXIT_FAILURE;
    }
    snprintf(work, sizeof work, "%s/bench_broker.XXXXXX", CF_BENCH_WORK_DIR);
    if (mkdtemp(work) == NULL) {
        fprintf(stderr, "bench_broker: mkdtemp %s: %s\n", work, strerror(errno));
        return EXIT_FAILURE;
    }
    made_work = true;
    lim.cores = cores;
    if (measure_limits(work, opt.seconds, &lim) != 0) {
        fprintf(stderr, "bench_broker: a raw measurement failed; see above\n");
        goto out;
    }
    /* Each raw measurement removed its own subfolder; only ours is left. */
    made_work = false;
    if (rmdir(work) != 0) {
        fprintf(stderr, "bench_broker: rmdir %s: %s\n", work, strerror(errno));
        goto out;
    }

    char ini[128];
    snprintf(ini, sizeof ini, "%s", BROKER_INI);
    if (opt.commit_ms >= 0)
        snprintf(ini, sizeof ini, "%scommit_ms = %ld\n", BROKER_INI, opt.commit_ms);
    net_create(&net, ini);
    live_net = &net;
    if (same_disk(CF_BENCH_WORK_DIR, net.dir, &disk_same) != 0)
        goto out;
    if (run_broker(&net, &lim, &opt, phases, nph, &steady, &end) != 0) {
        fprintf(stderr, "bench_broker: the broker run failed; see above\n");
        goto out;
    }
    net_destroy(&net);
    live_net = NULL;
    if (opt.scale && run_scale(&opt, &scale) != 0) {
        fprintf(stderr, "bench_broker: the scaling part failed; see above\n");
        goto out;
    }
    if (opt.json) {
        print_json(&lim, phases, nph, &end, cores, opt.seconds, disk_same);
        print_json_tail(&steady, opt.scale ? &scale : NULL);
    } else {
        print_table(&lim, phases, nph, &end, cores, opt.seconds, CF_BENCH_WORK_DIR, disk_same);
        print_steady_scale(&lim, &steady, opt.scale ? &scale : NULL);
    }
    if (fflush(stdout) != 0) {
        perror("bench_broker: writing stdout");
        goto out;
    }
    status = EXIT_SUCCESS;
out:
    teardown_at_exit();
    if (made_work && rmdir(work) != 0) {
        fprintf(stderr, "bench_broker: rmdir %s: %s\n", work, strerror(errno));
        status = EXIT_FAILURE;
    }
    return status;
}
