/* Raw limits of the machine, measured the way the broker uses each library
 * (see raw.h). Everything a measurement needs (keys, signed messages, random
 * records, the connection and its CURVE handshake) is made before the clock
 * starts, so the timed loop holds only the operation the broker repeats.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>
#include <zmq.h>

#include "raw.h"

#define MAP_SIZE ((size_t)1 << 30)
/* Records are cut from this much random data, made once, so the timed loop
 * does not also measure the random generator. */
#define POOL_LEN ((size_t)1 << 20)
#define POOL_RECORDS (POOL_LEN / RAW_RECORD_LEN)
#define SIGNED_COUNT 256
#define SIGNER_COUNT 16
#define SEALED_COUNT 256
#define HASH_INPUT_LEN 1024
/* Round trips made before timing, so connecting and the CURVE handshake are
 * not counted. */
#define WARMUP_ROUND_TRIPS 100
#define NS_PER_S 1000000000LL

/* An LMDB environment in a fresh folder of its own. */
struct store {
    char path[PATH_MAX];
    bool made_dir;
    MDB_env *env;
    MDB_dbi dbi;
};

/* The echo server's side of a round-trip measurement. */
struct server {
    void *ctx;           /* shut down on failure, to wake the client */
    void *sock;          /* bound ROUTER, used only by the server thread */
    struct store *store; /* NULL, or commit one record before each reply */
    const uint8_t *pool;
    bool failed;
};

/* Latencies in nanoseconds, grown as the measurement runs. */
struct samples {
    int64_t *ns;
    size_t len;
    size_t cap;
};

static int64_t now_ns(void)
{
    struct timespec ts;

    /* Fails only for a clock id the system lacks: a programming error. */
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        perror("raw limits: clock_gettime");
        abort();
    }
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static int64_t seconds_to_ns(double seconds)
{
    return (int64_t)(seconds * (double)NS_PER_S);
}

static double per_second(long count, int64_t elapsed_ns)
{
    return elapsed_ns > 0 ? (double)count * (double)NS_PER_S / (double)elapsed_ns : 0.0;
}

static int fail(const char *what)
{
    fprintf(stderr, "raw limits: %s\n", what);
    return -1;
}

static int lmdb_fail(const char *what, int rc)
{
    fprintf(stderr, "raw limits: %s: %s\n", what, mdb_strerror(rc));
    return -1;
}

static int zmq_fail(const char *what)
{
    fprintf(stderr, "raw limits: %s: %s\n", what, zmq_strerror(zmq_errno()));
    return -1;
}

static int sodium_ready(void)
{
    if (sodium_init() < 0)
        return fail("sodium_init failed");
    return 0;
}

/* Caller owns the result; free with free(). */
static uint8_t *random_pool_new(void)
{
    uint8_t *pool = malloc(POOL_LEN);

    if (pool == NULL) {
        fail("out of memory for the random pool");
        return NULL;
    }
    randombytes_buf(pool, POOL_LEN);
    return pool;
}

static void put_be64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

static int remove_file(const char *dir, const char *name)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);

    if (n < 0 || (size_t)n >= sizeof path)
        return fail("path too long");
    if (unlink(path) != 0 && errno != ENOENT) {
        fprintf(stderr, "raw limits: unlink %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Closes the environment and removes its folder. Accepts a store that was
 * only partly opened. */
static int store_close(struct store *s)
{
    int rc = 0;

    if (s->env != NULL) {
        mdb_env_close(s->env);
        s->env = NULL;
    }
    if (s->made_dir) {
        if (remove_file(s->path, "data.mdb") != 0)
            rc = -1;
        if (remove_file(s->path, "lock.mdb") != 0)
            rc = -1;
        if (rmdir(s->path) != 0) {
            fprintf(stderr, "raw limits: rmdir %s: %s\n", s->path, strerror(errno));
            rc = -1;
        }
        s->made_dir = false;
    }
    return rc;
}

/* Opens a fresh environment with LMDB's default durability: every commit
 * syncs the data and the meta page before it returns. On failure the store
 * is left for store_close. */
static int store_open(struct store *s, const char *dir)
{
    MDB_txn *txn;
    int rc;
    int n = snprintf(s->path, sizeof s->path, "%s/lmdb.XXXXXX", dir);

    if (n < 0 || (size_t)n >= sizeof s->path)
        return fail("path too long");
    if (mkdtemp(s->path) == NULL) {
        fprintf(stderr, "raw limits: mkdtemp %s: %s\n", s->path, strerror(errno));
        return -1;
    }
    s->made_dir = true;
    if ((rc = mdb_env_create(&s->env)) != 0)
        return lmdb_fail("mdb_env_create", rc);
    if ((rc = mdb_env_set_mapsize(s->env, MAP_SIZE)) != 0)
        return lmdb_fail("mdb_env_set_mapsize", rc);
    if ((rc = mdb_env_open(s->env, s->path, 0, 0600)) != 0)
        return lmdb_fail("mdb_env_open", rc);
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        return lmdb_fail("mdb_txn_begin", rc);
    if ((rc = mdb_dbi_open(txn, NULL, 0, &s->dbi)) != 0) {
        mdb_txn_abort(txn);
        return lmdb_fail("mdb_dbi_open", rc);
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return lmdb_fail("mdb_txn_commit", rc);
    return 0;
}

/* Puts `batch` records under the keys *next, *next + 1, ... and commits.
 * Returns 0, MDB_MAP_FULL (not reported, the caller decides), or another
 * LMDB code after reporting it. */
static int store_commit(struct store *s, const uint8_t *pool, uint64_t *next, int batch)
{
    MDB_txn *txn;
    int rc;

    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0) {
        lmdb_fail("mdb_txn_begin", rc);
        return rc;
    }
    for (int i = 0; i < batch; i++) {
        uint8_t key[8];
        MDB_val k = {sizeof key, key};
        MDB_val v = {RAW_RECORD_LEN, (void *)(pool + (*next % POOL_RECORDS) * RAW_RECORD_LEN)};

        put_be64(key, *next);
        if ((rc = mdb_put(txn, s->dbi, &k, &v, 0)) != 0) {
            mdb_txn_abort(txn);
            if (rc != MDB_MAP_FULL)
                lmdb_fail("mdb_put", rc);
            return rc;
        }
        (*next)++;
    }
    if ((rc = mdb_txn_commit(txn)) != 0 && rc != MDB_MAP_FULL)
        lmdb_fail("mdb_txn_commit", rc);
    return rc;
}

double raw_lmdb_commits_per_s(const char *dir, int batch, double seconds)
{
    struct store s;
    uint8_t *pool = NULL;
    uint64_t next = 0;
    long commits = 0;
    double rate = -1.0;
    int64_t start, end;

    memset(&s, 0, sizeof s);
    if (batch < 1) {
        fail("batch must be at least 1");
        goto out;
    }
    if ((pool = random_pool_new()) == NULL)
        goto out;
    if (store_open(&s, dir) != 0)
        goto out;

    start = now_ns();
    end = start;
    while (end - start < seconds_to_ns(seconds)) {
        int rc = store_commit(&s, pool, &next, batch);

        if (rc == MDB_MAP_FULL) {
            fprintf(stderr,
                    "raw limits: note: the %zu MiB map filled after %.2f s at batch %d; "
                    "the rate covers that time\n",
                    MAP_SIZE >> 20, (double)(end - start) / NS_PER_S, batch);
            break;
        }
        if (rc != 0)
            goto out;
        commits++;
        end = now_ns();
    }
    if (commits == 0) {
        fail("no LMDB commit completed");
        goto out;
    }
    rate = per_second(commits, end - start);
out:
    if (store_close(&s) != 0)
        rate = -1.0;
    free(pool);
    return rate;
}

double raw_ed25519_verifies_per_s(double seconds)
{
    struct signed_msg {
        uint8_t pk[crypto_sign_PUBLICKEYBYTES];
        uint8_t msg[RAW_MESSAGE_LEN];
        uint8_t sig[crypto_sign_BYTES];
    } *set = NULL;
    uint8_t *sk = NULL;
    long done = 0;
    double rate = -1.0;
    int64_t start, end;

    if (sodium_ready() != 0)
        goto out;
    set = malloc(SIGNED_COUNT * sizeof *set);
    sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (set == NULL || sk == NULL) {
        fail("out of memory for signed messages");
        goto out;
    }
    /* Several signers, so the verifier cannot lean on one cached public key. */
    for (int i = 0; i < SIGNED_COUNT; i++) {
        if (i % (SIGNED_COUNT / SIGNER_COUNT) == 0) {
            if (crypto_sign_keypair(set[i].pk, sk) != 0) {
                fail("crypto_sign_keypair failed");
                goto out;
            }
        } else {
            memcpy(set[i].pk, set[i - 1].pk, sizeof set[i].pk);
        }
        randombytes_buf(set[i].msg, sizeof set[i].msg);
        if (crypto_sign_detached(set[i].sig, NULL, set[i].msg, sizeof set[i].msg, sk) != 0) {
            fail("crypto_sign_detached failed");
            goto out;
        }
    }

    start = now_ns();
    do {
        for (int i = 0; i < 16; i++, done++) {
            const struct signed_msg *m = &set[done % SIGNED_COUNT];

            if (crypto_sign_verify_detached(m->sig, m->msg, sizeof m->msg, m->pk) != 0) {
                fail("crypto_sign_verify_detached refused a good signature");
                goto out;
            }
        }
        end = now_ns();
    } while (end - start < seconds_to_ns(seconds));
    rate = per_second(done, end - start);
out:
    sodium_free(sk);
    free(set);
    return rate;
}

double raw_blake2b_per_s(double seconds)
{
    uint8_t input[HASH_INPUT_LEN];
    uint8_t digest[32];
    long done = 0;
    int64_t start, end;

    if (sodium_ready() != 0)
        return -1.0;
    randombytes_buf(input, sizeof input);

    start = now_ns();
    do {
        for (int i = 0; i < 256; i++, done++) {
            if (crypto_generichash(digest, sizeof digest, input, sizeof input, NULL, 0) != 0)
                return fail("crypto_generichash failed");
            /* Chain the digest in, so every hash has a different input. */
            memcpy(input, digest, sizeof digest);
        }
        end = now_ns();
    } while (end - start < seconds_to_ns(seconds));
    return per_second(done, end - start);
}

double raw_box_seal_open_per_s(double seconds)
{
    uint8_t pk[crypto_box_PUBLICKEYBYTES];
    uint8_t *sk = NULL;
    struct sealed_key {
        uint8_t box[crypto_box_SEALBYTES + 32];
    } *sealed = NULL;
    uint8_t key[32];
    long done = 0;
    double rate = -1.0;
    int64_t start, end;

    if (sodium_ready() != 0)
        goto out;
    sealed = malloc(SEALED_COUNT * sizeof *sealed);
    sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
    if (sealed == NULL || sk == NULL) {
        fail("out of memory for sealed keys");
        goto out;
    }
    if (crypto_box_keypair(pk, sk) != 0) {
        fail("crypto_box_keypair failed");
        goto out;
    }
    for (int i = 0; i < SEALED_COUNT; i++) {
        randombytes_buf(key, sizeof key);
        if (crypto_box_seal(sealed[i].box, key, sizeof key, pk) != 0) {
            fail("crypto_box_seal failed");
            goto out;
        }
    }

    start = now_ns();
    do {
        for (int i = 0; i < 16; i++, done++) {
            const struct sealed_key *b = &sealed[done % SEALED_COUNT];

            if (crypto_box_seal_open(key, b->box, sizeof b->box, pk, sk) != 0) {
                fail("crypto_box_seal_open refused a good box");
                goto out;
            }
        }
        end = now_ns();
    } while (end - start < seconds_to_ns(seconds));
    rate = per_second(done, end - start);
out:
    sodium_memzero(key, sizeof key);
    sodium_free(sk);
    free(sealed);
    return rate;
}

static int samples_add(struct samples *s, int64_t ns)
{
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        int64_t *grown = realloc(s->ns, cap * sizeof *grown);

        if (grown == NULL)
            return fail("out of memory for latency samples");
        s->ns = grown;
        s->cap = cap;
    }
    s->ns[s->len++] = ns;
    return 0;
}

static int compare_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile, in microseconds, of samples already sorted. */
static double percentile_us(const struct samples *s, int pct)
{
    size_t rank = (s->len * (size_t)pct + 99) / 100;

    return (double)s->ns[rank > 0 ? rank - 1 : 0] / 1000.0;
}

static int set_int(void *sock, int option, int value, const char *name)
{
    if (zmq_setsockopt(sock, option, &value, sizeof value) != 0)
        return zmq_fail(name);
    return 0;
}

static int set_key(void *sock, int option, const char *z85, const char *name)
{
    if (zmq_setsockopt(sock, option, z85, strlen(z85)) != 0)
        return zmq_fail(name);
    return 0;
}

static void server_fail(struct server *sv, const char *what)
{
    if (what != NULL)
        zmq_fail(what);
    sv->failed = true;
    if (zmq_ctx_shutdown(sv->ctx) != 0)
        zmq_fail("server zmq_ctx_shutdown");
}

/* Echoes each message back to its sender, committing a record first when
 * there is a store, until it receives an empty message. */
static void *server_run(void *arg)
{
    struct server *sv = arg;
    uint8_t id[256];
    uint8_t msg[RAW_MESSAGE_LEN];
    uint64_t next = 0;

    for (;;) {
        int more = 0;
        size_t more_len = sizeof more;
        int idn = zmq_recv(sv->sock, id, sizeof id, 0);
        int n, rc;

        if (idn < 0) {
            /* ETERM: the client failed, said why, and shut the context down. */
            server_fail(sv, zmq_errno() == ETERM ? NULL : "server zmq_recv");
            break;
        }
        if (zmq_getsockopt(sv->sock, ZMQ_RCVMORE, &more, &more_len) != 0) {
            server_fail(sv, "server zmq_getsockopt ZMQ_RCVMORE");
            break;
        }
        if ((size_t)idn > sizeof id || !more) {
            fail("server: unexpected message shape");
            server_fail(sv, NULL);
            break;
        }
        if ((n = zmq_recv(sv->sock, msg, sizeof msg, 0)) < 0) {
            server_fail(sv, zmq_errno() == ETERM ? NULL : "server zmq_recv");
            break;
        }
        if (n == 0)
            break;
        if ((size_t)n > sizeof msg) {
            fail("server: message too long");
            server_fail(sv, NULL);
            break;
        }
        if (sv->store != NULL && (rc = store_commit(sv->store, sv->pool, &next, 1)) != 0) {
            if (rc == MDB_MAP_FULL)
                lmdb_fail("server LMDB commit", rc);
            server_fail(sv, NULL);
            break;
        }
        if (zmq_send(sv->sock, id, (size_t)idn, ZMQ_SNDMORE) != idn ||
            zmq_send(sv->sock, msg, (size_t)n, 0) != n) {
            server_fail(sv, "server zmq_send");
            break;
        }
    }
    return NULL;
}

static int round_trip(void *client, const uint8_t *msg, uint8_t *reply)
{
    int n;

    if (zmq_send(client, msg, RAW_MESSAGE_LEN, 0) != RAW_MESSAGE_LEN)
        return zmq_fail("client zmq_send");
    if ((n = zmq_recv(client, reply, RAW_MESSAGE_LEN, 0)) < 0)
        return zmq_fail("client zmq_recv");
    if (n != RAW_MESSAGE_LEN || memcmp(msg, reply, RAW_MESSAGE_LEN) != 0)
        return fail("client: the echo differs from the message sent");
    return 0;
}

/* Sets CURVE on both ends. With no ZAP handler the server accepts any client
 * key: fine here, as this measures the cost of encryption, and the broker's
 * ZAP check happens once per connection, not once per message. */
static int setup_curve(void *server, void *client)
{
    char server_pk[41], server_sk[41], client_pk[41], client_sk[41];
    int rc = -1;

    if (!zmq_has("curve")) {
        fail("this libzmq was built without CURVE");
        goto out;
    }
    if (zmq_curve_keypair(server_pk, server_sk) != 0 ||
        zmq_curve_keypair(client_pk, client_sk) != 0) {
        zmq_fail("zmq_curve_keypair");
        goto out;
    }
    if (set_int(server, ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER") != 0 ||
        set_key(server, ZMQ_CURVE_SECRETKEY, server_sk, "ZMQ_CURVE_SECRETKEY") != 0 ||
        set_key(client, ZMQ_CURVE_SERVERKEY, server_pk, "ZMQ_CURVE_SERVERKEY") != 0 ||
        set_key(client, ZMQ_CURVE_PUBLICKEY, client_pk, "ZMQ_CURVE_PUBLICKEY") != 0 ||
        set_key(client, ZMQ_CURVE_SECRETKEY, client_sk, "ZMQ_CURVE_SECRETKEY") != 0)
        goto out;
    rc = 0;
out:
    sodium_memzero(server_sk, sizeof server_sk);
    sodium_memzero(client_sk, sizeof client_sk);
    return rc;
}

/* One message in flight between a DEALER here and a ROUTER echoing it from a
 * second thread, over loopback TCP. */
static struct raw_rtt run_rtt(bool curve, struct store *store, const uint8_t *pool, double seconds)
{
    struct raw_rtt r = {-1.0, 0.0, 0.0, 0};
    struct server sv = {NULL, NULL, store, pool, false};
    struct samples lat = {NULL, 0, 0};
    void *client = NULL;
    pthread_t thread;
    bool started = false;
    bool ok = false;
    char endpoint[256];
    size_t endpoint_len = sizeof endpoint;
    uint8_t msg[RAW_MESSAGE_LEN], reply[RAW_MESSAGE_LEN];
    int64_t start, end;
    int rc;

    randombytes_buf(msg, sizeof msg);
    if ((sv.ctx = zmq_ctx_new()) == NULL) {
        zmq_fail("zmq_ctx_new");
        goto out;
    }
    if ((sv.sock = zmq_socket(sv.ctx, ZMQ_ROUTER)) == NULL ||
        (client = zmq_socket(sv.ctx, ZMQ_DEALER)) == NULL) {
        zmq_fail("zmq_socket");
        goto out;
    }
    if (set_int(sv.sock, ZMQ_LINGER, 0, "ZMQ_LINGER") != 0 ||
        set_int(client, ZMQ_LINGER, 0, "ZMQ_LINGER") != 0)
        goto out;
    if (curve && setup_curve(sv.sock, client) != 0)
        goto out;
    if (zmq_bind(sv.sock, "tcp://127.0.0.1:*") != 0) {
        zmq_fail("zmq_bind tcp://127.0.0.1:*");
        goto out;
    }
    if (zmq_getsockopt(sv.sock, ZMQ_LAST_ENDPOINT, endpoint, &endpoint_len) != 0) {
        zmq_fail("zmq_getsockopt ZMQ_LAST_ENDPOINT");
        goto out;
    }
    if (zmq_connect(client, endpoint) != 0) {
        zmq_fail("zmq_connect");
        goto out;
    }
    /* pthread_create is a full memory barrier, which is what ZeroMQ asks for
     * before a socket moves to another thread. */
    if ((rc = pthread_create(&thread, NULL, server_run, &sv)) != 0) {
        fprintf(stderr, "raw limits: pthread_create: %s\n", strerror(rc));
        goto out;
    }
    started = true;

    for (int i = 0; i < WARMUP_ROUND_TRIPS; i++)
        if (round_trip(client, msg, reply) != 0)
            goto out;
    start = now_ns();
    end = start;
    while (end - start < seconds_to_ns(seconds)) {
        int64_t t0 = now_ns();

        if (round_trip(client, msg, reply) != 0)
            goto out;
        end = now_ns();
        if (samples_add(&lat, end - t0) != 0)
            goto out;
    }
    /* An empty message tells the server to stop. */
    if (zmq_send(client, "", 0, 0) != 0) {
        zmq_fail("client zmq_send");
        goto out;
    }
    if (lat.len == 0) {
        fail("no round trip completed");
        goto out;
    }
    ok = true;

    qsort(lat.ns, lat.len, sizeof *lat.ns, compare_i64);
    r.count = (long)lat.len;
    r.per_s = per_second(r.count, end - start);
    r.p50_us = percentile_us(&lat, 50);
    r.p99_us = percentile_us(&lat, 99);
out:
    if (started) {
        /* Wakes a server still waiting for a message that will not come. */
        if (!ok && zmq_ctx_shutdown(sv.ctx) != 0)
            zmq_fail("zmq_ctx_shutdown");
        if ((rc = pthread_join(thread, NULL)) != 0) {
            fprintf(stderr, "raw limits: pthread_join: %s\n", strerror(rc));
            ok = false;
        }
        if (sv.failed)
            ok = false;
    }
    if (client != NULL && zmq_close(client) != 0) {
        zmq_fail("zmq_close");
        ok = false;
    }
    if (sv.sock != NULL && zmq_close(sv.sock) != 0) {
        zmq_fail("zmq_close");
        ok = false;
    }
    if (sv.ctx != NULL && zmq_ctx_term(sv.ctx) != 0) {
        zmq_fail("zmq_ctx_term");
        ok = false;
    }
    free(lat.ns);
    if (!ok)
        r.per_s = -1.0;
    return r;
}

struct raw_rtt raw_zmq_rtt(bool curve, double seconds)
{
    struct raw_rtt r = {-1.0, 0.0, 0.0, 0};

    if (sodium_ready() != 0)
        return r;
    return run_rtt(curve, NULL, NULL, seconds);
}

struct raw_rtt raw_floor_rtt(const char *dir, double seconds)
{
    struct raw_rtt r = {-1.0, 0.0, 0.0, 0};
    struct store s;
    uint8_t *pool = NULL;

    memset(&s, 0, sizeof s);
    if (sodium_ready() != 0)
        goto out;
    if ((pool = random_pool_new()) == NULL)
        goto out;
    if (store_open(&s, dir) != 0)
        goto out;
    r = run_rtt(true, &s, pool, seconds);
out:
    if (store_close(&s) != 0)
        r.per_s = -1.0;
    free(pool);
    return r;
}
