/* bench_e2e: end-to-end durable throughput through real processes. N sending
 * agents (childfirst-agent, first responders) each take referral files from
 * their spool, seal and sign them, commit them to their outbox and submit
 * them; the broker verifies, logs and commits them; the three recipients'
 * agents (la-csc, la-duty, guardian-x) check, open, commit to their inbox,
 * write the spool file and acknowledge each; the senders take the delivery
 * reports. A referral counts once all three recipients hold it in their spool.
 *
 * All of it shares this machine's cores, so the figure is printed beside the
 * crypto cost of one referral's journey, measured here on one core with the
 * library's own calls: what the cores could do if they did nothing else.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "childfirst/envelope.h"
#include "harness.h"

#define NS_PER_S 1000000000LL
#define MAX_SENDERS 16
#define WAIT_S 600
/* The three recipients of every harness referral. */
static const char *const RECIPIENTS[] = {"la-csc", "la-duty", "guardian-x"};
#define N_RECIPIENTS 3

/* Ed25519 operations on short messages per referral besides the envelope's
 * own (see crypto_cost). Counted from the protocol: */
/* signs: the new_referral notice, 4 DeliveryAcks (3 recipients, and la-duty's
 * for the notice), 3 acks of delivery reports by the sender */
#define SHORT_SIGNS 8
/* verifies: 4 acks and 3 report acks at the broker; the notice at la-duty; the
 * recipient's signature in each of 3 reports at the sender; a checkpoint on
 * each Accepted and each of 7 Delivers */
#define SHORT_VERIFIES 19

static struct net *live_net;

static void teardown_at_exit(void)
{
    if (live_net) {
        net_destroy(live_net); /* kills the broker and agents still running */
        live_net = NULL;
    }
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = 0;
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static int write_all(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "bench_e2e: writing %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The harness writes agent.ini for tests (debug logs, 2 s resends); an agency
 * runs with warnings only and the default resend interval. */
static int tune_agent(struct net *n, const char *id)
{
    struct net_agent *g = net_agent_of(n, id);
    size_t len;
    char *ini = read_all(g->ini, &len), *p;
    if (!ini)
        return -1;
    if ((p = strstr(ini, "log_level = debug")))
        memcpy(p, "log_level = warn ", 17);
    if ((p = strstr(ini, "resend_s = 2\n")))
        memcpy(p, "resend_s = 9\n", 13);
    int rc = write_all(g->ini, ini);
    free(ini);
    return rc;
}

/* Drops referral files into a sender's spool, each written then renamed. */
static int drop(struct net *n, const char *id, const char *tpl, size_t first, size_t count)
{
    const char *at = strstr(tpl, "\"narrative\": \"");
    struct net_agent *g = net_agent_of(n, id);
    if (!at) {
        fprintf(stderr, "bench_e2e: the example referral has no narrative\n");
        return -1;
    }
    at += strlen("\"narrative\": \"");
    for (size_t i = first; i < first + count; i++) {
        char tmp[800], final[800];
        size_t cap = strlen(tpl) + 64;
        char *text = malloc(cap);
        if (!text)
            return -1;
        snprintf(text, cap, "%.*sbench %s %zu. %s", (int)(at - tpl), tpl, id, i, at);
        snprintf(tmp, sizeof tmp, "%s/outbox/.ref-%zu.tmp", g->spool, i);
        snprintf(final, sizeof final, "%s/outbox/ref-%zu.json", g->spool, i);
        int rc = write_all(tmp, text);
        free(text);
        if (rc != 0 || rename(tmp, final) != 0)
            return -1;
    }
    return 0;
}

static size_t delivered(struct net *n, size_t *least)
{
    size_t total = 0;
    *least = SIZE_MAX;
    for (int r = 0; r < N_RECIPIENTS; r++) {
        char pattern[800];
        snprintf(pattern, sizeof pattern, "%s/inbox/*/*-referral.json",
                 net_agent_of(n, RECIPIENTS[r])->spool);
        size_t c = net_count_glob(pattern);
        total += c;
        if (c < *least)
            *least = c;
    }
    return total;
}

static size_t receipts(struct net *n, const char *const *senders, int n_senders)
{
    size_t total = 0;
    for (int s = 0; s < n_senders; s++) {
        char pattern[800];
        snprintf(pattern, sizeof pattern, "%s/sent/*.receipt.json",
                 net_agent_of(n, senders[s])->spool);
        total += net_count_glob(pattern);
    }
    return total;
}

/* Waits until every recipient holds `want` referrals; false on a timeout. */
static bool wait_delivered(struct net *n, size_t want, int64_t *accepted_ns,
                           const char *const *senders, int n_senders, size_t want_receipts)
{
    int64_t give_up = now_ns() + (int64_t)WAIT_S * NS_PER_S;
    size_t least;
    *accepted_ns = 0;
    for (;;) {
        delivered(n, &least);
        if (!*accepted_ns && receipts(n, senders, n_senders) >= want_receipts)
            *accepted_ns = now_ns();
        if (least >= want && *accepted_ns)
            return true;
        if (now_ns() > give_up) {
            fprintf(stderr, "bench_e2e: after %d s only %zu of %zu delivered to each\n", WAIT_S,
                    least, want);
            return false;
        }
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
}

struct round {
    int senders;
    size_t messages;
    double seconds;        /* first file dropped to the last recipient's copy */
    double per_s;          /* referrals delivered to all three per second */
    double accepted_per_s; /* referrals with a receipt in the sender's spool per second */
};

/* One round: a fresh broker, `n_senders` sending agents and the recipients. */
static int run_round(const char *tpl, int n_senders, size_t messages, struct round *r)
{
    static struct net net;
    static const char *const extra[MAX_SENDERS] = {
        "police-a",   "police-e02", "police-e03", "police-e04", "police-e05", "police-e06",
        "police-e07", "police-e08", "police-e09", "police-e10", "police-e11", "police-e12",
        "police-e13", "police-e14", "police-e15", "police-e16"};
    size_t per = messages / (size_t)n_senders, acc_want;
    int64_t t0, accepted;

    memset(r, 0, sizeof *r);
    r->senders = n_senders;
    r->messages = per * (size_t)n_senders;
    net_create(&net, "map_size_mb = 1024\nlog_level = warn\n");
    live_net = &net;
    for (int s = 1; s < n_senders; s++)
        net_add_agency(&net, extra[s], "first_responder police", "E09000033", NULL);
    net_sign_directory(&net, 2);
    net_broker_start(&net);
    for (int s = 0; s < n_senders; s++) {
        net_agent_setup(&net, extra[s], NULL);
        if (tune_agent(&net, extra[s]) != 0)
            return -1;
    }
    for (int i = 0; i < N_RECIPIENTS; i++) {
        net_agent_setup(&net, RECIPIENTS[i], NULL);
        if (tune_agent(&net, RECIPIENTS[i]) != 0)
            return -1;
        net_agent_start(&net, RECIPIENTS[i], NULL);
    }
    for (int s = 0; s < n_senders; s++)
        net_agent_start(&net, extra[s], NULL);
    /* Warm-up, untimed: one referral from each sender, so every agent has the
     * directory, its connection and its store open. */
    for (int s = 0; s < n_senders; s++)
        if (drop(&net, extra[s], tpl, 0, 1) != 0)
            return -1;
    if (!wait_delivered(&net, (size_t)n_senders, &accepted, extra, n_senders, (size_t)n_senders))
        return -1;
    fprintf(stderr, "bench_e2e: %d sender(s): %zu referrals\n", n_senders, r->messages);
    t0 = now_ns();
    for (int s = 0; s < n_senders; s++)
        if (drop(&net, extra[s], tpl, 1, per) != 0)
            return -1;
    acc_want = (size_t)n_senders + r->messages;
    if (!wait_delivered(&net, acc_want, &accepted, extra, n_senders, acc_want))
        return -1;
    r->seconds = (double)(now_ns() - t0) / NS_PER_S;
    r->per_s = (double)r->messages / r->seconds;
    r->accepted_per_s = (double)r->messages * NS_PER_S / (double)(accepted - t0);
    for (int i = 0; i < N_RECIPIENTS; i++)
        net_agent_stop(&net, RECIPIENTS[i]);
    for (int s = 0; s < n_senders; s++)
        net_agent_stop(&net, extra[s]);
    net_broker_stop(&net);
    net_destroy(&net);
    live_net = NULL;
    return 0;
}

/* Seconds of one core for one referral's crypto, end to end: sealing for 3
 * recipients (with its signature), checking the envelope's signature 4 times
 * (the broker and each recipient), opening it 3 times, and the short-message
 * signatures and checks counted above. Real library calls, one thread. */
static double crypto_cost(struct net *n, double seconds)
{
    const struct cf_keys *sender = net_agency(n, "police-a")->keys;
    const struct cf_keys *rk[N_RECIPIENTS];
    struct cf_header h;
    uint8_t pks[N_RECIPIENTS][CF_BOX_PK], msg[100], sig[64];
    long iters = 0;
    int64_t t0 = now_ns(), until = t0 + (int64_t)(seconds * NS_PER_S);

    randombytes_buf(msg, sizeof msg);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, sender->sign_sk);
    net_referral_header(n, "police-a", &h);
    for (size_t i = 0; i < h.n_recipients; i++) {
        rk[i] = net_agency(n, h.recipients[i])->keys;
        memcpy(pks[i], rk[i]->box_pk, CF_BOX_PK);
    }
    while (now_ns() < until) {
        static const char payload[] = NET_PAYLOAD;
        uint8_t *env, *plain;
        size_t len, plen;
        struct cf_error err = {0};
        struct cf_envelope e;
        struct cf_header dh;
        if (cf_envelope_seal(&h, (const uint8_t *)payload, sizeof payload,
                             (const uint8_t(*)[CF_BOX_PK])pks, sender, &env, &len, &err) != 0 ||
            cf_envelope_decode(env, len, &e, &dh, &err) != 0) {
            fprintf(stderr, "bench_e2e: crypto cost: %s\n", err.text);
            return -1;
        }
        int bad = 0;
        for (int v = 0; v < 1 + N_RECIPIENTS; v++)
            bad |= cf_envelope_verify(&e, sender->sign_pk);
        for (int i = 0; i < N_RECIPIENTS; i++) {
            bad |= cf_envelope_open(&e, rk[i], &plain, &plen);
            free(plain);
        }
        for (int i = 0; i < SHORT_SIGNS; i++)
            crypto_sign_detached(sig, NULL, msg, sizeof msg, sender->sign_sk);
        for (int i = 0; i < SHORT_VERIFIES; i++)
            bad |= crypto_sign_verify_detached(sig, msg, sizeof msg, sender->sign_pk);
        cf_envelope_fini(&e);
        free(env);
        if (bad) {
            fprintf(stderr, "bench_e2e: crypto cost: a check failed\n");
            return -1;
        }
        iters++;
    }
    return (double)(now_ns() - t0) / NS_PER_S / (double)iters;
}

int main(int argc, char **argv)
{
    static struct net keys_net;
    int counts[] = {1, 4, 16};
    struct round rounds[3];
    size_t messages = 480, len;
    bool json = false;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--messages") == 0 && i + 1 < argc)
            messages = (size_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else {
            fprintf(stderr,
                    "usage: bench_e2e [--messages N] [--json]\n"
                    "  N referrals (default 480) through real agents with 1, 4 and 16 senders;\n"
                    "  delivered per second, beside the crypto cost of one referral here\n");
            return argc > 1 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
        }
    }
    if (messages < 16 || messages > 1000000) {
        fprintf(stderr, "bench_e2e: --messages wants 16 to 1000000\n");
        return 2;
    }
    if (sodium_init() < 0 || atexit(teardown_at_exit) != 0)
        return 1;
    char *tpl = read_all(CF_SOURCE_DIR "/deploy/examples/referral.json", &len);
    if (!tpl) {
        fprintf(stderr, "bench_e2e: cannot read deploy/examples/referral.json\n");
        return 1;
    }
    net_create(&keys_net, NULL); /* keys for the crypto measurement; no processes */
    fprintf(stderr, "bench_e2e: crypto cost of one referral, 3 s\n");
    double cost = crypto_cost(&keys_net, 3.0);
    net_destroy(&keys_net);
    if (cost < 0)
        return 1;
    for (int i = 0; i < 3; i++)
        if (run_round(tpl, counts[i], messages, &rounds[i]) != 0) {
            fprintf(stderr, "bench_e2e: the round with %d senders failed\n", counts[i]);
            return 1;
        }
    free(tpl);
    double limit = (double)cores / cost;
    if (json) {
        printf("{\"cores\":%ld,\"crypto_us_per_referral\":%.1f,\"crypto_limit_per_s\":%.1f", cores,
               cost * 1e6, limit);
        for (int i = 0; i < 3; i++)
            printf(",\"e2e_%d_messages\":%zu,\"e2e_%d_per_s\":%.1f,\"e2e_%d_accepted_per_s\":%.1f"
                   ",\"e2e_%d_ratio_to_crypto\":%.3f",
                   rounds[i].senders, rounds[i].messages, rounds[i].senders, rounds[i].per_s,
                   rounds[i].senders, rounds[i].accepted_per_s, rounds[i].senders,
                   rounds[i].per_s / limit);
        printf("}\n");
    } else {
        printf("end to end through real agents (3 recipients each; all on %ld cores)\n", cores);
        printf("crypto of one referral's journey: %.0f us of one core (seal; 4 envelope checks; "
               "3 opens; %d short signs, %d short checks) = %.0f referrals/s on %ld cores\n",
               cost * 1e6, SHORT_SIGNS, SHORT_VERIFIES, limit, cores);
        for (int i = 0; i < 3; i++)
            printf("%2d sending agent(s): %5zu referrals   delivered to all 3: %7.0f /s   "
                   "accepted: %7.0f /s   = %.2f x the crypto limit\n",
                   rounds[i].senders, rounds[i].messages, rounds[i].per_s, rounds[i].accepted_per_s,
                   rounds[i].per_s / limit);
    }
    return 0;
}
