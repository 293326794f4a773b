/* bench_rabbit: the peer. The same durable publish-and-consume workload as
 * bench_broker's, through a RabbitMQ node on 127.0.0.1 (bench/run.sh starts
 * one in a scratch folder): a durable classic queue, persistent messages of
 * an envelope's size, publisher confirms, and a consumer that acknowledges
 * every message, consuming while the publishers publish.
 *
 * Phases: 1 publisher with 1 unconfirmed message (the confirm latency), and N
 * publishers with M unconfirmed each (the confirmed durable throughput). Each
 * publisher and the consumer has its own connection and thread, as separate
 * clients would. RabbitMQ does this without transport encryption and without
 * signatures: it is the bar a user would compare against, not a like for like.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>

#define NS_PER_S 1000000000LL
#define MAX_PUBLISHERS 16
#define MAX_IN_FLIGHT 1000
#define QUEUE "childfirst-bench"
#define PREFETCH 400

struct options {
    const char *host;
    int port;
    double seconds;
    int publishers;
    int in_flight;
    size_t size;
    bool json;
};

struct publisher {
    const struct options *opt;
    int in_flight;
    double seconds;
    int64_t *lat_ns; /* confirm latencies, cap entries */
    size_t n_lat, cap;
    long confirmed;
    int64_t first_ns, last_ns;
    int failed;
};

struct consumer {
    const struct options *opt;
    volatile long consumed;
    volatile bool stop;
    int failed;
};

struct result {
    long confirmed;
    double per_s, p50_us, p99_us;
    long consumed;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static int check_reply(amqp_rpc_reply_t r, const char *what)
{
    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return 0;
    fprintf(stderr, "bench_rabbit: %s failed (reply type %d)\n", what, (int)r.reply_type);
    return -1;
}

/* A connection with channel 1 open, or NULL. */
static amqp_connection_state_t open_conn(const struct options *opt)
{
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(c);
    if (!s || amqp_socket_open(s, opt->host, opt->port) != AMQP_STATUS_OK) {
        fprintf(stderr, "bench_rabbit: cannot connect to %s:%d\n", opt->host, opt->port);
        amqp_destroy_connection(c);
        return NULL;
    }
    if (check_reply(amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"),
                    "login") != 0 ||
        (amqp_channel_open(c, 1), check_reply(amqp_get_rpc_reply(c), "channel.open")) != 0) {
        amqp_destroy_connection(c);
        return NULL;
    }
    return c;
}

static void close_conn(amqp_connection_state_t c)
{
    amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
}

static int declare_queue(const struct options *opt)
{
    amqp_connection_state_t c = open_conn(opt);
    if (!c)
        return -1;
    /* durable, not exclusive, not auto-delete: a classic durable queue */
    amqp_queue_declare(c, 1, amqp_cstring_bytes(QUEUE), 0, 1, 0, 0, amqp_empty_table);
    int rc = check_reply(amqp_get_rpc_reply(c), "queue.declare");
    if (rc == 0) {
        amqp_queue_purge(c, 1, amqp_cstring_bytes(QUEUE));
        rc = check_reply(amqp_get_rpc_reply(c), "queue.purge");
    }
    close_conn(c);
    return rc;
}

static void *publish(void *arg)
{
    struct publisher *p = arg;
    const struct options *opt = p->opt;
    amqp_connection_state_t c = open_conn(opt);
    int64_t *sent = calloc(MAX_IN_FLIGHT * 4, sizeof *sent); /* by seq % ring */
    const size_t ring = MAX_IN_FLIGHT * 4;
    char *body = malloc(opt->size);
    p->failed = 1;
    if (!c || !sent || !body)
        goto out;
    memset(body, 'x', opt->size);
    amqp_confirm_select(c, 1);
    if (check_reply(amqp_get_rpc_reply(c), "confirm.select") != 0)
        goto out;
    amqp_basic_properties_t props = {
        ._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG,
        .delivery_mode = 2, /* persistent */
        .content_type = amqp_cstring_bytes("application/octet-stream")};
    amqp_bytes_t msg = {opt->size, body};
    uint64_t next_seq = 1, confirmed_upto = 0;
    int64_t t0 = now_ns(), deadline = t0 + (int64_t)(p->seconds * NS_PER_S);
    p->first_ns = t0;
    for (;;) {
        int64_t now = now_ns();
        while (now < deadline && next_seq - 1 - confirmed_upto < (uint64_t)p->in_flight) {
            sent[next_seq % ring] = now_ns();
            if (amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(QUEUE), 0, 0, &props,
                                   msg) != AMQP_STATUS_OK) {
                fprintf(stderr, "bench_rabbit: basic.publish failed\n");
                goto out;
            }
            next_seq++;
        }
        if (confirmed_upto == next_seq - 1 && now >= deadline)
            break;
        amqp_frame_t f;
        struct timeval tv = {20, 0};
        int rc = amqp_simple_wait_frame_noblock(c, &f, &tv);
        if (rc != AMQP_STATUS_OK) {
            fprintf(stderr, "bench_rabbit: waiting for a confirm: %s\n", amqp_error_string2(rc));
            goto out;
        }
        if (f.frame_type != AMQP_FRAME_METHOD)
            continue;
        if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            fprintf(stderr, "bench_rabbit: a publish was nacked\n");
            goto out;
        }
        if (f.payload.method.id != AMQP_BASIC_ACK_METHOD)
            continue;
        amqp_basic_ack_t *ack = f.payload.method.decoded;
        uint64_t upto = ack->delivery_tag;
        int64_t at = now_ns();
        /* RabbitMQ confirms in order: `multiple` covers every tag up to this
         * one, a single ack only this tag (those below it came before). */
        uint64_t from = ack->multiple ? confirmed_upto + 1 : ack->delivery_tag;
        for (uint64_t s = from; s <= upto; s++) {
            if (p->n_lat < p->cap)
                p->lat_ns[p->n_lat++] = at - sent[s % ring];
            p->confirmed++;
        }
        if (upto > confirmed_upto)
            confirmed_upto = upto;
        p->last_ns = at;
    }
    p->failed = 0;
out:
    if (c)
        close_conn(c);
    free(sent);
    free(body);
    return NULL;
}

static void *consume(void *arg)
{
    struct consumer *k = arg;
    amqp_connection_state_t c = open_conn(k->opt);
    k->failed = 1;
    if (!c)
        return NULL;
    amqp_basic_qos(c, 1, 0, PREFETCH, 0);
    amqp_basic_consume(c, 1, amqp_cstring_bytes(QUEUE), amqp_empty_bytes, 0, 0 /* acks */, 0,
                       amqp_empty_table);
    if (check_reply(amqp_get_rpc_reply(c), "basic.consume") != 0)
        goto out;
    while (!k->stop) {
        amqp_envelope_t e;
        struct timeval tv = {0, 200000};
        amqp_maybe_release_buffers(c);
        amqp_rpc_reply_t r = amqp_consume_message(c, &e, &tv, 0);
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            r.library_error == AMQP_STATUS_TIMEOUT)
            continue;
        if (r.reply_type != AMQP_RESPONSE_NORMAL) {
            fprintf(stderr, "bench_rabbit: consume failed\n");
            goto out;
        }
        amqp_basic_ack(c, 1, e.delivery_tag, 0);
        amqp_destroy_envelope(&e);
        k->consumed++;
    }
    k->failed = 0;
out:
    close_conn(c);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct_us(const int64_t *v, size_t n, int pct)
{
    size_t rank = (n * (size_t)pct + 99) / 100;
    return n ? (double)v[rank ? rank - 1 : 0] / 1000.0 : 0.0;
}

/* One phase: `pubs` publishers with `in_flight` each for `seconds`, a consumer
 * beside them; waits until the consumer has taken every confirmed message. */
static int phase(const struct options *opt, int pubs, int in_flight, double seconds,
                 struct result *r)
{
    struct publisher p[MAX_PUBLISHERS];
    pthread_t pt[MAX_PUBLISHERS], ct;
    struct consumer k = {.opt = opt};
    size_t cap = (size_t)(seconds * 200000) + 1000;
    memset(r, 0, sizeof *r);
    if (declare_queue(opt) != 0)
        return -1;
    pthread_create(&ct, NULL, consume, &k);
    for (int i = 0; i < pubs; i++) {
        p[i] = (struct publisher){.opt = opt, .in_flight = in_flight, .seconds = seconds};
        p[i].lat_ns = malloc(cap * sizeof *p[i].lat_ns);
        p[i].cap = p[i].lat_ns ? cap : 0;
        pthread_create(&pt[i], NULL, publish, &p[i]);
    }
    int64_t first = INT64_MAX, last = 0;
    size_t total = 0;
    int failed = 0;
    for (int i = 0; i < pubs; i++) {
        pthread_join(pt[i], NULL);
        failed |= p[i].failed;
        r->confirmed += p[i].confirmed;
        total += p[i].n_lat;
        first = p[i].first_ns < first ? p[i].first_ns : first;
        last = p[i].last_ns > last ? p[i].last_ns : last;
    }
    int64_t wait_until = now_ns() + 30 * NS_PER_S;
    while (!failed && k.consumed < r->confirmed && now_ns() < wait_until) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    k.stop = true;
    pthread_join(ct, NULL);
    r->consumed = k.consumed;
    int64_t *all = malloc((total ? total : 1) * sizeof *all);
    size_t n = 0;
    for (int i = 0; i < pubs; i++) {
        if (all)
            memcpy(all + n, p[i].lat_ns, p[i].n_lat * sizeof *all), n += p[i].n_lat;
        free(p[i].lat_ns);
    }
    if (all) {
        qsort(all, n, sizeof *all, cmp_i64);
        r->p50_us = pct_us(all, n, 50);
        r->p99_us = pct_us(all, n, 99);
    }
    free(all);
    r->per_s = last > first ? (double)r->confirmed * NS_PER_S / (double)(last - first) : 0;
    if (failed || k.failed) {
        fprintf(stderr, "bench_rabbit: a client failed; see above\n");
        return -1;
    }
    if (r->consumed < r->confirmed)
        fprintf(stderr, "bench_rabbit: only %ld of %ld confirmed messages were consumed\n",
                r->consumed, r->confirmed);
    return 0;
}

int main(int argc, char **argv)
{
    struct options opt = {"127.0.0.1", 5672, 5.0, 4, 100, 1600, false};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            opt.port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            opt.seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--publishers") == 0 && i + 1 < argc)
            opt.publishers = atoi(argv[++i]);
        else if (strcmp(argv[i], "--in-flight") == 0 && i + 1 < argc)
            opt.in_flight = atoi(argv[++i]);
        else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
            opt.size = (size_t)atol(argv[++i]);
        else if (strcmp(argv[i], "--json") == 0)
            opt.json = true;
        else {
            fprintf(stderr,
                    "usage: bench_rabbit [--port P] [--seconds S] [--publishers N] "
                    "[--in-flight M] [--size BYTES] [--json]\n"
                    "  durable queue, persistent messages, publisher confirms, consumer acks;\n"
                    "  a RabbitMQ node must listen on 127.0.0.1:P (bench/run.sh starts one)\n");
            return 2;
        }
    }
    if (opt.publishers < 1 || opt.publishers > MAX_PUBLISHERS || opt.in_flight < 1 ||
        opt.in_flight > MAX_IN_FLIGHT || !(opt.seconds > 0) || opt.size < 1) {
        fprintf(stderr, "bench_rabbit: an option is out of range\n");
        return 2;
    }
    struct result one, many, warm;
    fprintf(stderr, "bench_rabbit: warming up\n");
    if (phase(&opt, 1, opt.in_flight, 1.0, &warm) != 0)
        return 1;
    fprintf(stderr, "bench_rabbit: 1 publisher, 1 in flight, %g s\n", opt.seconds);
    if (phase(&opt, 1, 1, opt.seconds, &one) != 0)
        return 1;
    fprintf(stderr, "bench_rabbit: %d publishers x %d in flight, %g s\n", opt.publishers,
            opt.in_flight, opt.seconds);
    if (phase(&opt, opt.publishers, opt.in_flight, opt.seconds, &many) != 0)
        return 1;
    if (opt.json) {
        printf("{\"size\":%zu,\"seconds\":%g,\"publishers\":%d,\"in_flight\":%d"
               ",\"rabbit_1x1_per_s\":%.1f,\"rabbit_1x1_p50_us\":%.1f,\"rabbit_1x1_p99_us\":%.1f"
               ",\"rabbit_many_per_s\":%.1f,\"rabbit_many_p50_us\":%.1f,\"rabbit_many_p99_us\":%.1f"
               ",\"rabbit_many_confirmed\":%ld,\"rabbit_many_consumed\":%ld}\n",
               opt.size, opt.seconds, opt.publishers, opt.in_flight, one.per_s, one.p50_us,
               one.p99_us, many.per_s, many.p50_us, many.p99_us, many.confirmed, many.consumed);
    } else {
        printf("rabbitmq, durable queue, persistent %zu-byte messages, confirms, consumer acks\n",
               opt.size);
        printf("%-34s %8.0f /s   confirm p50 %7.0f us   p99 %7.0f us\n", "1 publisher, 1 in flight",
               one.per_s, one.p50_us, one.p99_us);
        printf("%-34s %8.0f /s   confirm p50 %7.0f us   p99 %7.0f us   consumed %ld of %ld\n",
               "publishers x in flight", many.per_s, many.p50_us, many.p99_us, many.consumed,
               many.confirmed);
    }
    return 0;
}
