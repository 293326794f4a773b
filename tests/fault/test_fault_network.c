/* Network faults (issue 8): every agent reaches the broker through a TCP
 * proxy in this process, which the test tells to pass traffic, to drop every
 * connection (FIN or RST) and take new ones, or to stall: stop reading and
 * forwarding in one or both directions while every connection stays open,
 * so only ZeroMQ's heartbeats can tell (for new connections too, or not: a
 * black hole for the old ones only).
 *
 * test_referrals_survive_drops_and_stalls streams referrals from two police
 * agencies to three recipients through each kind of fault, and checks that
 * every referral a sender saw Accepted reaches every recipient exactly once
 * (spool, inbox, hook runs and the log's delivered leaves), that delivery
 * carries on after each fault with nothing restarted, and that `audit verify`
 * passes. test_heartbeats_find_a_stalled_peer measures how long each side
 * takes to notice a stalled link and checks it against heartbeat_ms.
 *
 * Knobs: CF_NET_ROUNDS (how many times the fault cycle runs, default 1) and
 * CF_NET_BATCH (referrals per sender before each fault, default 2). */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "childfirst/header.h"
#include "childfirst/record.h"
#include "childfirst/store.h"
#include "childfirst/wire.h"
#include "harness.h"

#define EXAMPLE CF_SOURCE_DIR "/deploy/examples/referral.json"
#define HEARTBEAT_MS 300
/* A stall is noticed at most one interval (until the first unanswered
 * ping) plus the timeout (3 intervals, curve_client.c and loop.c) after it
 * starts; the margin is for a loaded 2-core machine and sanitizers. */
#define DETECT_BOUND_MS (HEARTBEAT_MS + 3 * HEARTBEAT_MS + 2000)
#define STALL_HOLD_MS (DETECT_BOUND_MS - 1000) /* long enough for heartbeats to fire */
#define WAIT_MS 60000                          /* liveness waits: generous for ASan */

static char out[1 << 23], err[1 << 16]; /* `childfirst inbox --json` of a long soak fits */

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
    return n < 1 ? 1 : n;
}

/* ---- The proxy ---- */

#define PROXY_LINKS 64
#define PROXY_BUF (64 * 1024)
#define STALL_UP 1u   /* agent to broker */
#define STALL_DOWN 2u /* broker to agent */
#define STALL_BOTH (STALL_UP | STALL_DOWN)

enum drop { DROP_NONE, DROP_FIN, DROP_RST };

/* One agent connection and ours to the broker behind it. */
struct link {
    int fd[2];       /* [0] the agent's, [1] ours to the broker */
    bool connecting; /* fd[1]'s connect has not finished */
    unsigned stall;  /* STALL_* bits in force on it */
    size_t len[2];   /* bytes waiting to be written to fd[i] */
    uint8_t buf[2][PROXY_BUF];
};

struct proxy {
    int listen_fd, wake[2];
    struct sockaddr_in broker;
    char endpoint[64]; /* tcp://127.0.0.1:PORT, for agent.ini */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t done;
    /* Under mu: the command in force (stalls for the links there are, and
     * for those accepted later), and what the thread has done. */
    unsigned stall, stall_new;
    enum drop drop;
    bool quit;
    uint64_t asked, applied, applied_ms;
    size_t accepted, closed; /* links, by any cause */
    /* The thread's own. */
    size_t n;
    struct link *links[PROXY_LINKS];
};

static void proxy_count(struct proxy *p, size_t *field)
{
    pthread_mutex_lock(&p->mu);
    (*field)++;
    pthread_mutex_unlock(&p->mu);
}

/* Closes both sides of link i; with rst, SO_LINGER 0 makes each an RST. */
static void link_close(struct proxy *p, size_t i, bool rst)
{
    struct link *l = p->links[i];
    for (int k = 0; k < 2; k++) {
        struct linger lg = {1, 0};
        if (rst)
            setsockopt(l->fd[k], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(l->fd[k]);
    }
    free(l);
    p->links[i] = p->links[--p->n];
    proxy_count(p, &p->closed);
}

static void proxy_accept(struct proxy *p, unsigned stall_new)
{
    for (;;) {
        int c = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0)
            return;
        int u = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct link *l = p->n < PROXY_LINKS && u >= 0 ? calloc(1, sizeof *l) : NULL;
        int rc = l ? connect(u, (const struct sockaddr *)&p->broker, sizeof p->broker) : -1;
        if (!l || (rc != 0 && errno != EINPROGRESS)) {
            free(l);
            close(c);
            if (u >= 0)
                close(u);
            continue;
        }
        l->fd[0] = c, l->fd[1] = u, l->connecting = rc != 0, l->stall = stall_new;
        p->links[p->n++] = l;
        proxy_count(p, &p->accepted);
    }
}

/* What to poll fd[side] for, given the stalls: a stalled direction is
 * neither read nor written, so its far end sees a silent, open connection. */
static short link_events(const struct link *l, int side)
{
    unsigned stall = l->stall;
    if (side == 1 && l->connecting)
        return POLLOUT;
    if (l->connecting)
        return 0;
    unsigned from_here = side == 0 ? STALL_UP : STALL_DOWN, to_here = STALL_BOTH & ~from_here;
    short ev = 0;
    if (!(stall & from_here) && l->len[1 - side] < PROXY_BUF)
        ev |= POLLIN;
    if (!(stall & to_here) && l->len[side] > 0)
        ev |= POLLOUT;
    return ev;
}

/* Moves bytes for one side that poll found ready; false when the link ends. */
static bool link_ready(struct link *l, int side, short revents)
{
    if (side == 1 && l->connecting) {
        int e = 0;
        socklen_t len = sizeof e;
        if (getsockopt(l->fd[1], SOL_SOCKET, SO_ERROR, &e, &len) != 0 || e != 0)
            return false;
        l->connecting = false;
        return true;
    }
    if (revents & POLLIN) {
        size_t *len = &l->len[1 - side];
        ssize_t got = recv(l->fd[side], l->buf[1 - side] + *len, PROXY_BUF - *len, 0);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
            return false;
        if (got > 0)
            *len += (size_t)got;
    }
    if (revents & POLLOUT) {
        ssize_t put = send(l->fd[side], l->buf[side], l->len[side], MSG_NOSIGNAL);
        if (put < 0 && errno != EAGAIN && errno != EINTR)
            return false;
        if (put > 0) {
            memmove(l->buf[side], l->buf[side] + put, l->len[side] - (size_t)put);
            l->len[side] -= (size_t)put;
        }
    }
    return !(revents & (POLLERR | POLLNVAL)) && !((revents & POLLHUP) && !(revents & POLLIN));
}

static void *proxy_main(void *arg)
{
    struct proxy *p = arg;
    unsigned stall_new = 0;
    for (;;) {
        /* A command takes effect before any more bytes move. */
        pthread_mutex_lock(&p->mu);
        bool quit = p->quit, fresh = p->applied != p->asked;
        enum drop drop = fresh ? p->drop : DROP_NONE;
        unsigned stall = p->stall;
        if (fresh)
            stall_new = p->stall_new, p->drop = DROP_NONE;
        pthread_mutex_unlock(&p->mu);
        while (drop != DROP_NONE && p->n > 0)
            link_close(p, p->n - 1, drop == DROP_RST);
        for (size_t i = 0; fresh && i < p->n; i++)
            p->links[i]->stall = stall;
        pthread_mutex_lock(&p->mu);
        if (p->applied != p->asked) {
            p->applied = p->asked;
            p->applied_ms = mono_ms();
            pthread_cond_broadcast(&p->done);
        }
        pthread_mutex_unlock(&p->mu);
        if (quit)
            break;

        struct pollfd fds[2 + 2 * PROXY_LINKS];
        size_t n_links = p->n;
        fds[0] = (struct pollfd){p->wake[0], POLLIN, 0};
        fds[1] = (struct pollfd){p->listen_fd, POLLIN, 0};
        for (size_t i = 0; i < n_links; i++)
            for (int side = 0; side < 2; side++) {
                short ev = link_events(p->links[i], side);
                /* A negative fd is skipped: a fully stalled socket reports nothing, not even a
                 * hang-up. */
                fds[2 + 2 * i + (size_t)side] =
                    (struct pollfd){ev ? p->links[i]->fd[side] : -1, ev, 0};
            }
        if (poll(fds, 2 + 2 * n_links, 200) < 0)
            continue;
        if (fds[0].revents) {
            char drain[64];
            while (read(p->wake[0], drain, sizeof drain) > 0) {
            }
            continue; /* the command first, then this I/O under it */
        }
        /* Backwards, so that closing link i (the last moves into its place) skips none. */
        for (size_t i = n_links; i-- > 0;) {
            bool alive = true;
            for (int side = 0; side < 2 && alive; side++)
                if (fds[2 + 2 * i + (size_t)side].revents)
                    alive = link_ready(p->links[i], side, fds[2 + 2 * i + (size_t)side].revents);
            if (!alive)
                link_close(p, i, false);
        }
        if (fds[1].revents & POLLIN)
            proxy_accept(p, stall_new);
    }
    while (p->n > 0)
        link_close(p, p->n - 1, false);
    return NULL;
}

/* Starts a proxy on 127.0.0.1 (a port the kernel picks) in front of `broker`
 * (tcp://127.0.0.1:PORT). */
static void proxy_start(struct proxy *p, const char *broker)
{
    memset(p, 0, sizeof *p);
    unsigned port = 0;
    if (sscanf(broker, "tcp://127.0.0.1:%u", &port) != 1 || port == 0 || port > 65535)
        fail_msg("the broker's endpoint %s is not tcp://127.0.0.1:PORT", broker);
    p->broker.sin_family = AF_INET;
    p->broker.sin_port = htons((uint16_t)port);
    p->broker.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof me;
    /* CLOEXEC everywhere: an agent or CLI that inherited a link would keep it open after a drop. */
    p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&me, sizeof me) != 0 ||
        listen(p->listen_fd, 64) != 0 ||
        getsockname(p->listen_fd, (struct sockaddr *)&me, &len) != 0 ||
        pipe2(p->wake, O_NONBLOCK | O_CLOEXEC) != 0)
        fail_msg("cannot start the proxy: %s", strerror(errno));
    snprintf(p->endpoint, sizeof p->endpoint, "tcp://127.0.0.1:%u", ntohs(me.sin_port));
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->done, NULL);
    if (pthread_create(&p->thread, NULL, proxy_main, p) != 0)
        fail_msg("cannot start the proxy's thread");
}

/* Makes `drop`, then puts `stall` in force on the connections there are and
 * `stall_new` on those accepted from now on; returns (monotonic ms) when the
 * proxy applied it, before it moved another byte. */
static uint64_t proxy_command(struct proxy *p, unsigned stall, unsigned stall_new, enum drop drop)
{
    pthread_mutex_lock(&p->mu);
    p->stall = stall;
    p->stall_new = stall_new;
    p->drop = drop;
    uint64_t want = ++p->asked;
    pthread_mutex_unlock(&p->mu);
    char one = 1;
    if (write(p->wake[1], &one, 1) != 1)
        fail_msg("cannot wake the proxy: %s", strerror(errno));
    pthread_mutex_lock(&p->mu);
    while (p->applied < want)
        pthread_cond_wait(&p->done, &p->mu);
    uint64_t at = p->applied_ms;
    pthread_mutex_unlock(&p->mu);
    return at;
}

static size_t proxy_closed(struct proxy *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->closed;
    pthread_mutex_unlock(&p->mu);
    return n;
}

static void proxy_stop(struct proxy *p)
{
    pthread_mutex_lock(&p->mu);
    p->quit = true;
    p->asked++;
    pthread_mutex_unlock(&p->mu);
    char one = 1;
    if (write(p->wake[1], &one, 1) != 1)
        fail_msg("cannot wake the proxy: %s", strerror(errno));
    pthread_join(p->thread, NULL);
    close(p->listen_fd);
    close(p->wake[0]);
    close(p->wake[1]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->done);
}

/* ---- Files ---- */

/* How many times `needle` occurs in the file; 0 if there is none yet, or
 * with `must`, a failure. */
static size_t count_in(const char *path, const char *needle, bool must)
{
    FILE *f = fopen(path, "r");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        if (must)
            fail_msg("cannot read %s: %s", path, strerror(errno));
        if (f)
            fclose(f);
        return 0;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    size_t len = fread(buf, 1, (size_t)st.st_size, f), n = 0;
    fclose(f);
    buf[len] = 0;
    for (const char *at = buf; (at = strstr(at, needle)) != NULL; at += strlen(needle))
        n++;
    free(buf);
    return n;
}

static size_t count_in_file(const char *path, const char *needle)
{
    return count_in(path, needle, false);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        fail_msg("cannot write %s", path);
    chmod(path, mode);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot read %s", path);
    static char buf[1 << 18];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    buf[len] = 0;
    fclose(f);
    return buf;
}

/* ---- The network ---- */

static const char *const senders[] = {"police-a", "police-b"};
static const char *const recipients[] = {"guardian-x", "la-csc", "la-duty"};
#define N_SENDERS (sizeof senders / sizeof senders[0])
#define N_RECIPIENTS (sizeof recipients / sizeof recipients[0])

struct fixture {
    struct net n;
    struct proxy p;
    bool net_up, proxy_up; /* what teardown must take down after a failure */
    const char *agents[N_SENDERS + N_RECIPIENTS];
    size_t n_agents;
};

static size_t agent_log_count(struct fixture *f, const char *id, const char *needle)
{
    return count_in_file(net_agent_of(&f->n, id)->log, needle);
}

static size_t peer_gone(struct fixture *f, const char *id)
{
    char line[128];
    snprintf(line, sizeof line, "PEER-GONE agency=%s\n", id);
    return count_in_file(f->n.broker_log, line);
}

/* The broker, the proxy in front of it, and an agent for each id, whose
 * agent.ini names the proxy as its broker. Each has an on_message hook that
 * appends "TYPE CASE LEAF" to hooks.log beside its agent.ini. */
static struct fixture *start(void **state, const char *const *ids, size_t n_ids)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    *state = f;
    char ini[256];
    snprintf(ini, sizeof ini, "heartbeat_ms = %d\n", HEARTBEAT_MS);
    net_create(&f->n, ini);
    f->net_up = true;
    net_add_agency(&f->n, "police-b", "first_responder police", "E09000033", NULL);
    net_sign_directory(&f->n, 1);
    net_broker_start(&f->n);
    proxy_start(&f->p, f->n.endpoint);
    f->proxy_up = true;
    char broker[sizeof f->n.endpoint];
    snprintf(broker, sizeof broker, "%s", f->n.endpoint);
    for (size_t i = 0; i < n_ids; i++) {
        char dir[600], hook[700], script[1024], extra[1024];
        snprintf(dir, sizeof dir, "%s/%s", f->n.dir, ids[i]);
        mkdir(dir, 0700);
        snprintf(hook, sizeof hook, "%s/hook.sh", dir);
        snprintf(script, sizeof script,
                 "#!/bin/sh\necho \"$CHILDFIRST_TYPE $CHILDFIRST_CASE $CHILDFIRST_LEAF\" "
                 ">> '%s/hooks.log'\n",
                 dir);
        write_text(hook, script, 0755);
        snprintf(extra, sizeof extra, "heartbeat_ms = %d\non_message = %s\n", HEARTBEAT_MS, hook);
        /* agent.ini's broker is the endpoint the harness knows: the proxy's, for now. */
        snprintf(f->n.endpoint, sizeof f->n.endpoint, "%s", f->p.endpoint);
        net_agent_setup(&f->n, ids[i], extra);
        snprintf(f->n.endpoint, sizeof f->n.endpoint, "%s", broker);
        f->agents[f->n_agents++] = ids[i];
    }
    for (size_t i = 0; i < n_ids; i++) {
        net_agent_start(&f->n, ids[i], NULL);
        if (agent_log_count(f, ids[i], "DIRECTORY-LOADED") == 0)
            fail_msg("the agent %s did not load the directory through the proxy", ids[i]);
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
    proxy_stop(&f->p);
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
    if (f->proxy_up)
        proxy_stop(&f->p);
    if (f->net_up)
        net_destroy(&f->n);
    free(f);
    *state = NULL;
    return 0;
}

/* Whether the agent's `childfirst status` says it is connected to the broker. */
static bool agent_connected(struct fixture *f, const char *id)
{
    const char *args[] = {"status", "--json", NULL};
    if (net_cli(&f->n, id, args, out, sizeof out, err, sizeof err) != 0)
        fail_msg("childfirst status for %s failed:\n%s", id, err);
    json_t *st = json_loads(out, 0, NULL);
    if (!st)
        fail_msg("childfirst status for %s is not JSON:\n%s", id, out);
    bool up = json_is_true(json_object_get(st, "connected"));
    json_decref(st);
    return up;
}

/* Waits until every agent of the fixture is connected (its Welcome is in);
 * how long that took. */
static uint64_t await_connected(struct fixture *f, const char *before)
{
    uint64_t from = mono_ms();
    for (size_t a = 0; a < f->n_agents; a++)
        while (!agent_connected(f, f->agents[a])) {
            if (mono_ms() - from > WAIT_MS)
                fail_msg("%s was not connected within %d ms, before %s", f->agents[a], WAIT_MS,
                         before);
            sleep_ms(50);
        }
    return mono_ms() - from;
}

/* ---- Referrals ---- */

struct referral {
    char name[64];
    const char *sender;
    char case_id[CF_CASE_ID_LEN + 1];
    long long leaf;
    bool accepted;
    unsigned arrived; /* a bit per recipient whose spool inbox has it */
};

#define MAX_REFERRALS 4096

struct stream {
    struct referral r[MAX_REFERRALS];
    size_t n;
    const char *text; /* deploy/examples/referral.json */
};

/* Drops a referral into the sender's spool outbox: written, then renamed. */
static void refer(struct fixture *f, struct stream *s, const char *sender)
{
    if (s->n == MAX_REFERRALS)
        fail_msg("more than %d referrals: lower CF_NET_ROUNDS or CF_NET_BATCH", MAX_REFERRALS);
    struct referral *r = &s->r[s->n];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "ref-%04zu.json", s->n);
    r->sender = sender;
    r->leaf = -1;
    char tmp[1024], final[1024];
    const char *spool = net_agent_of(&f->n, sender)->spool;
    snprintf(tmp, sizeof tmp, "%s/outbox/.%s.tmp", spool, r->name);
    snprintf(final, sizeof final, "%s/outbox/%s", spool, r->name);
    write_text(tmp, s->text, 0644);
    if (rename(tmp, final) != 0)
        fail_msg("cannot rename %s: %s", tmp, strerror(errno));
    s->n++;
}

/* Looks again at what has not arrived yet; true when every referral is
 * accepted and in every recipient's spool inbox. */
static bool stream_done(struct fixture *f, struct stream *s)
{
    bool done = true;
    for (size_t i = 0; i < s->n; i++) {
        struct referral *r = &s->r[i];
        const char *spool = net_agent_of(&f->n, r->sender)->spool;
        char path[1024];
        if (!r->accepted) {
            snprintf(path, sizeof path, "%s/rejected/%s.error.json", spool, r->name);
            if (access(path, F_OK) == 0)
                fail_msg("%s was rejected:\n%s", r->name, read_all(path));
            snprintf(path, sizeof path, "%s/sent/%s.receipt.json", spool, r->name);
            json_t *receipt = access(path, F_OK) == 0 ? json_load_file(path, 0, NULL) : NULL;
            if (!receipt) {
                done = false;
                continue;
            }
            assert_string_equal(json_string_value(json_object_get(receipt, "status")), "accepted");
            snprintf(r->case_id, sizeof r->case_id, "%s",
                     json_string_value(json_object_get(receipt, "case_id")));
            r->leaf = json_integer_value(json_object_get(receipt, "leaf_index"));
            r->accepted = true;
            json_decref(receipt);
        }
        for (size_t k = 0; k < N_RECIPIENTS; k++) {
            if (r->arrived & (1u << k))
                continue;
            snprintf(path, sizeof path, "%s/inbox/%s/%lld-referral.json",
                     net_agent_of(&f->n, recipients[k])->spool, r->case_id, r->leaf);
            if (access(path, F_OK) == 0)
                r->arrived |= 1u << k;
            else
                done = false;
        }
    }
    return done;
}

/* Waits until every referral so far has arrived; fails naming the first that has not. */
static uint64_t await_stream(struct fixture *f, struct stream *s, const char *after)
{
    uint64_t from = mono_ms();
    while (!stream_done(f, s)) {
        if (mono_ms() - from > WAIT_MS) {
            for (size_t i = 0; i < s->n; i++)
                if (!s->r[i].accepted || s->r[i].arrived != (1u << N_RECIPIENTS) - 1)
                    fail_msg("after %s, %s from %s is %s (recipients reached: mask %u) "
                             "after %d ms",
                             after, s->r[i].name, s->r[i].sender,
                             s->r[i].accepted ? "accepted" : "not accepted", s->r[i].arrived,
                             WAIT_MS);
        }
        sleep_ms(50);
    }
    return mono_ms() - from;
}

/* ---- The faults ---- */

struct fault {
    const char *name;
    unsigned stall; /* on the connections there are, */
    bool stall_new; /* and on new ones too (held for STALL_HOLD_MS), or not (held until all is
                       delivered) */
    int drops;      /* how many drops, 150 ms apart, FIN and RST in turn from `first` */
    enum drop first;
};

static const struct fault faults[] = {
    {"a drop (FIN)", 0, false, 1, DROP_FIN},
    {"a drop (RST)", 0, false, 1, DROP_RST},
    {"a stall both ways", STALL_BOTH, true, 0, DROP_NONE},
    {"a stall from agents to the broker", STALL_UP, true, 0, DROP_NONE},
    {"a stall from the broker to agents", STALL_DOWN, true, 0, DROP_NONE},
    {"8 drops in 1.2 s", 0, false, 8, DROP_RST},
    {"a black hole for the connections there are", STALL_BOTH, false, 0, DROP_NONE},
};

static uint64_t await_stream(struct fixture *f, struct stream *s, const char *after);

static void apply_fault(struct fixture *f, struct stream *s, const struct fault *ft)
{
    if (ft->stall) {
        proxy_command(&f->p, ft->stall, ft->stall_new ? ft->stall : 0, DROP_NONE);
        for (size_t i = 0; i < N_SENDERS; i++)
            refer(f, s, senders[i]); /* queued while the link is silent */
        if (ft->stall_new)
            sleep_ms(STALL_HOLD_MS);
        else /* heartbeats alone must find the silent connections and get new ones */
            printf("# during %s: all delivered after %llu ms\n", ft->name,
                   (unsigned long long)await_stream(f, s, ft->name));
        proxy_command(&f->p, 0, 0, DROP_NONE);
        return;
    }
    for (int k = 0; k < ft->drops; k++) {
        enum drop d = (k % 2 == 0) == (ft->first == DROP_FIN) ? DROP_FIN : DROP_RST;
        proxy_command(&f->p, 0, 0, d);
        /* Queued while the agents reconnect, after the first drop and the last. */
        if (k == 0 || k + 1 == ft->drops)
            for (size_t i = 0; i < N_SENDERS; i++)
                refer(f, s, senders[i]);
        if (k + 1 < ft->drops)
            sleep_ms(150);
    }
}

/* The hook lines for one case in a recipient's hooks.log. */
static size_t hook_runs(struct fixture *f, const char *id, const struct referral *r)
{
    char path[700], line[128];
    snprintf(path, sizeof path, "%s/%s/hooks.log", f->n.dir, id);
    snprintf(line, sizeof line, "referral %s %lld\n", r->case_id, r->leaf);
    return count_in(path, line, true);
}

static size_t hook_lines(struct fixture *f, const char *id, bool must)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s/hooks.log", f->n.dir, id);
    return count_in(path, "\n", must);
}

/* Every hook has run once per referral, and no more come within a second. */
static void await_hooks(struct fixture *f, const struct stream *s)
{
    uint64_t from = mono_ms();
    for (size_t k = 0; k < N_RECIPIENTS; k++)
        while (hook_lines(f, recipients[k], false) < s->n) {
            if (mono_ms() - from > WAIT_MS)
                fail_msg("%s ran its hook %zu times for %zu referrals", recipients[k],
                         hook_lines(f, recipients[k], false), s->n);
            sleep_ms(50);
        }
    sleep_ms(1000); /* a duplicate hook run would be queued by now */
    for (size_t k = 0; k < N_RECIPIENTS; k++) {
        size_t lines = hook_lines(f, recipients[k], true);
        if (lines != s->n)
            fail_msg("%s ran its hook %zu times for %zu referrals", recipients[k], lines, s->n);
        for (size_t i = 0; i < s->n; i++)
            if (hook_runs(f, recipients[k], &s->r[i]) != 1)
                fail_msg("%s ran its hook %zu times for %s", recipients[k],
                         hook_runs(f, recipients[k], &s->r[i]), s->r[i].name);
    }
}

/* Each recipient's inbox (its own list and the spool) holds each referral once, and nothing else.
 */
static void check_inboxes(struct fixture *f, const struct stream *s)
{
    for (size_t k = 0; k < N_RECIPIENTS; k++) {
        const char *args[] = {"inbox", "--json", NULL};
        if (net_cli(&f->n, recipients[k], args, out, sizeof out, err, sizeof err) != 0)
            fail_msg("childfirst inbox for %s failed:\n%s", recipients[k], err);
        json_error_t e;
        json_t *doc = json_loads(out, 0, &e);
        if (!doc)
            fail_msg("childfirst inbox --json for %s is not JSON (%s)", recipients[k], e.text);
        json_t *list = json_is_array(doc) ? doc : json_object_get(doc, "messages");
        assert_true(json_is_array(list));
        size_t referrals = 0;
        for (size_t j = 0; j < json_array_size(list); j++) {
            const json_t *m = json_array_get(list, j);
            const char *type = json_string_value(json_object_get(m, "type"));
            referrals += type && strcmp(type, "referral") == 0;
        }
        for (size_t i = 0; i < s->n; i++) {
            size_t seen = 0;
            for (size_t j = 0; j < json_array_size(list); j++) {
                const json_t *m = json_array_get(list, j);
                const char *c = json_string_value(json_object_get(m, "case_id"));
                const char *type = json_string_value(json_object_get(m, "type"));
                seen +=
                    c && type && strcmp(type, "referral") == 0 && strcmp(c, s->r[i].case_id) == 0;
            }
            if (seen != 1)
                fail_msg("%s's inbox lists %s (case %s) %zu times", recipients[k], s->r[i].name,
                         s->r[i].case_id, seen);
            char pattern[1024];
            snprintf(pattern, sizeof pattern, "%s/inbox/%s/*-referral.json",
                     net_agent_of(&f->n, recipients[k])->spool, s->r[i].case_id);
            assert_int_equal(net_count_glob(pattern), 1);
        }
        assert_int_equal(referrals, s->n);
        char pattern[1024];
        snprintf(pattern, sizeof pattern, "%s/inbox/*/*-referral.json",
                 net_agent_of(&f->n, recipients[k])->spool);
        assert_int_equal(net_count_glob(pattern), s->n);
        json_decref(doc);
    }
}

/* With the broker stopped: the log accepted each referral once, at the leaf
 * its receipt names, and holds exactly one delivered leaf for it from each
 * recipient. */
static void check_log(struct fixture *f, const struct stream *s)
{
    struct cf_store store;
    struct cf_error e = {0};
    MDB_txn *txn;
    if (cf_store_open(&store, f->n.state_dir, 0, true, &e) != 0)
        fail_msg("%s", e.text);
    assert_int_equal(mdb_txn_begin(store.env, NULL, MDB_RDONLY, &txn), 0);
    uint64_t size;
    assert_int_equal(cf_store_size(&store, txn, &size), 0);
    static unsigned delivered[MAX_REFERRALS][N_RECIPIENTS];
    static size_t accepted[MAX_REFERRALS];
    memset(delivered, 0, sizeof delivered);
    memset(accepted, 0, sizeof accepted);
    size_t referral_leaves = 0;
    for (uint64_t i = 0; i < size; i++) {
        MDB_val v;
        struct cf_record rec;
        assert_int_equal(cf_store_record(&store, txn, i, &v), 0);
        assert_int_equal(cf_wire_record_decode(v.mv_data, v.mv_size, &rec, NULL), 0);
        struct cf_header h;
        if (rec.event == CF_EVENT_ACCEPTED &&
            cf_wire_header_decode(rec.header, rec.header_len, &h, NULL) == 0 &&
            h.type == CF_TYPE_REFERRAL) {
            referral_leaves++;
            for (size_t j = 0; j < s->n; j++)
                if (strcmp(s->r[j].case_id, h.case_id) == 0) {
                    accepted[j]++;
                    assert_int_equal(s->r[j].leaf, (long long)i);
                }
        }
        for (size_t j = 0; rec.event == CF_EVENT_DELIVERED && j < s->n; j++)
            if (rec.has_about && rec.about == (uint64_t)s->r[j].leaf)
                for (size_t k = 0; k < N_RECIPIENTS; k++)
                    delivered[j][k] += strcmp(rec.actor, recipients[k]) == 0;
        cf_wire_record_fini(&rec);
    }
    mdb_txn_abort(txn);
    cf_store_close(&store);
    assert_int_equal(referral_leaves, s->n);
    for (size_t j = 0; j < s->n; j++) {
        if (accepted[j] != 1)
            fail_msg("the log accepted %s %zu times", s->r[j].name, accepted[j]);
        for (size_t k = 0; k < N_RECIPIENTS; k++)
            if (delivered[j][k] != 1)
                fail_msg("the log has %u delivered leaves for %s from %s", delivered[j][k],
                         s->r[j].name, recipients[k]);
    }
}

static void test_referrals_survive_drops_and_stalls(void **state)
{
    static const char *const ids[] = {"police-a", "police-b", "guardian-x", "la-csc", "la-duty"};
    struct fixture *f = start(state, ids, sizeof ids / sizeof ids[0]);
    static struct stream s;
    memset(&s, 0, sizeof s);
    static char text[1 << 16];
    snprintf(text, sizeof text, "%s", read_all(EXAMPLE));
    s.text = text;
    int rounds = env_count("CF_NET_ROUNDS", 1), batch = env_count("CF_NET_BATCH", 2);
    pid_t pids[sizeof ids / sizeof ids[0]];
    for (size_t a = 0; a < f->n_agents; a++)
        pids[a] = net_agent_of(&f->n, ids[a])->pid;
    pid_t broker_pid = f->n.broker_pid;

    for (size_t i = 0; i < N_SENDERS; i++)
        refer(f, &s, senders[i]);
    printf("# before any fault: delivered in %llu ms\n",
           (unsigned long long)await_stream(f, &s, "the start"));

    for (int round = 0; round < rounds; round++)
        for (size_t k = 0; k < sizeof faults / sizeof faults[0]; k++) {
            const struct fault *ft = &faults[k];
            /* After a flapping link ZeroMQ may wait up to 10 s to reconnect:
             * each fault must find every agent's connection up to strike it. */
            uint64_t waited = await_connected(f, ft->name);
            if (waited > 100)
                printf("# before %s: every agent connected after %llu ms\n", ft->name,
                       (unsigned long long)waited);
            size_t down[sizeof ids / sizeof ids[0]], up[sizeof ids / sizeof ids[0]];
            for (size_t a = 0; a < f->n_agents; a++) {
                down[a] = agent_log_count(f, ids[a], "BROKER-DISCONNECTED");
                up[a] = agent_log_count(f, ids[a], "BROKER-CONNECTED");
            }
            size_t closed = proxy_closed(&f->p);
            for (int b = 0; b < batch; b++)
                for (size_t i = 0; i < N_SENDERS; i++)
                    refer(f, &s, senders[i]);
            sleep_ms(60); /* about one spool scan: some are in flight when it strikes */
            apply_fault(f, &s, ft);
            uint64_t took = await_stream(f, &s, ft->name);
            printf("# after %s: %zu referrals so far all delivered %llu ms after it ended\n",
                   ft->name, s.n, (unsigned long long)took);
            /* It struck every agent's connection, and each came back by itself. */
            /* (A stalled link's ends are closed once it moves bytes again.) */
            for (uint64_t from = mono_ms(); proxy_closed(&f->p) == closed; sleep_ms(20))
                if (mono_ms() - from > WAIT_MS)
                    fail_msg("the proxy closed no connection during or after %s", ft->name);
            for (size_t a = 0; a < f->n_agents; a++) {
                if (agent_log_count(f, ids[a], "BROKER-DISCONNECTED") <= down[a])
                    fail_msg("%s never lost the broker in %s", ids[a], ft->name);
                if (agent_log_count(f, ids[a], "BROKER-CONNECTED") <= up[a])
                    fail_msg("%s did not reconnect after %s", ids[a], ft->name);
            }
        }

    await_hooks(f, &s);
    check_inboxes(f, &s);
    /* Nothing was restarted: the same processes throughout, each started once. */
    for (size_t a = 0; a < f->n_agents; a++) {
        assert_int_equal(net_agent_of(&f->n, ids[a])->pid, pids[a]);
        assert_int_equal(kill(pids[a], 0), 0);
        assert_int_equal(agent_log_count(f, ids[a], "AGENT-STARTED"), 1);
    }
    assert_int_equal(f->n.broker_pid, broker_pid);
    assert_int_equal(count_in_file(f->n.broker_log, "BROKER-LISTENING"), 1);
    printf("# %zu referrals, %zu repeated submissions answered from the log, %zu PEER-GONE\n", s.n,
           count_in_file(f->n.broker_log, "MESSAGE-REPEATED"),
           count_in_file(f->n.broker_log, "PEER-GONE"));
    for (size_t a = 0; a < f->n_agents; a++)
        net_agent_stop(&f->n, ids[a]);
    f->n_agents = 0;
    net_broker_stop(&f->n);
    check_log(f, &s);
    if (net_audit_verify(&f->n, f->n.state_dir, out, sizeof out, err, sizeof err) != 0)
        fail_msg("audit verify failed:\n%s\n%s", out, err);
    assert_false(net_file_contains(f->n.broker_log, NET_PAYLOAD));
    finish(state);
}

/* Stalls both directions with every connection open, and measures how long
 * each agent (BROKER-DISCONNECTED, then `childfirst status`) and the broker
 * (PEER-GONE for that agency) take to notice. Both must within
 * DETECT_BOUND_MS, and before the proxy closed anything: only heartbeats
 * could tell. After the stall each agent reconnects and a referral flows. */
static void test_heartbeats_find_a_stalled_peer(void **state)
{
    static const char *const ids[] = {"police-a", "guardian-x", "la-csc", "la-duty"};
    enum { N = sizeof ids / sizeof ids[0] };
    struct fixture *f = start(state, ids, N);
    static struct stream s;
    memset(&s, 0, sizeof s);
    static char text[1 << 16];
    snprintf(text, sizeof text, "%s", read_all(EXAMPLE));
    s.text = text;
    int64_t worst_agent = 0, worst_broker = 0;
    for (int stall = 0; stall < 3; stall++) {
        refer(f, &s, "police-a");
        await_stream(f, &s, "a stall"); /* every link works, and every session has said Hello */
        size_t down[N], gone[N], up[N];
        int64_t agent_ms[N], broker_ms[N]; /* -1 until seen */
        for (size_t a = 0; a < N; a++) {
            down[a] = agent_log_count(f, ids[a], "BROKER-DISCONNECTED");
            up[a] = agent_log_count(f, ids[a], "BROKER-CONNECTED");
            gone[a] = peer_gone(f, ids[a]);
            agent_ms[a] = broker_ms[a] = -1;
        }
        size_t closed = proxy_closed(&f->p);
        uint64_t t0 = proxy_command(&f->p, STALL_BOTH, STALL_BOTH, DROP_NONE);
        for (size_t seen = 0; seen < 2 * N;) {
            uint64_t now = mono_ms();
            if (now - t0 > WAIT_MS)
                fail_msg("after %d ms of a stall, %zu of %d detections", WAIT_MS, seen, 2 * N);
            for (size_t a = 0; a < N; a++) {
                if (agent_ms[a] < 0 && agent_log_count(f, ids[a], "BROKER-DISCONNECTED") > down[a])
                    agent_ms[a] = (int64_t)(now - t0), seen++;
                if (broker_ms[a] < 0 && peer_gone(f, ids[a]) > gone[a])
                    broker_ms[a] = (int64_t)(now - t0), seen++;
            }
            sleep_ms(5);
        }
        /* Nobody heard of it from the proxy: it kept every connection open. */
        assert_int_equal(proxy_closed(&f->p), closed);
        for (size_t a = 0; a < N; a++)
            assert_false(agent_connected(f, ids[a])); /* a new handshake cannot pass the stall */
        proxy_command(&f->p, 0, 0, DROP_NONE);
        for (size_t a = 0; a < N; a++) {
            printf("# stall %d: %s noticed in %lld ms, the broker in %lld ms (bound %d ms)\n",
                   stall + 1, ids[a], (long long)agent_ms[a], (long long)broker_ms[a],
                   DETECT_BOUND_MS);
            if (agent_ms[a] > worst_agent)
                worst_agent = agent_ms[a];
            if (broker_ms[a] > worst_broker)
                worst_broker = broker_ms[a];
            if (agent_ms[a] > DETECT_BOUND_MS || broker_ms[a] > DETECT_BOUND_MS)
                fail_msg("stall %d: %s noticed after %lld ms and the broker after %lld ms; "
                         "heartbeat_ms = %d allows %d ms",
                         stall + 1, ids[a], (long long)agent_ms[a], (long long)broker_ms[a],
                         HEARTBEAT_MS, DETECT_BOUND_MS);
        }
        /* Each reconnects by itself once the link carries bytes again. */
        uint64_t from = mono_ms();
        for (size_t a = 0; a < N; a++)
            while (agent_log_count(f, ids[a], "BROKER-CONNECTED") <= up[a] ||
                   !agent_connected(f, ids[a])) {
                if (mono_ms() - from > WAIT_MS)
                    fail_msg("%s did not reconnect within %d ms of the stall's end", ids[a],
                             WAIT_MS);
                sleep_ms(50);
            }
        printf("# stall %d: every agent connected again %llu ms after it ended\n", stall + 1,
               (unsigned long long)(mono_ms() - from));
    }
    refer(f, &s, "police-a");
    await_stream(f, &s, "the last stall");
    printf("# worst detection: agents %lld ms, broker %lld ms; bound %d ms\n",
           (long long)worst_agent, (long long)worst_broker, DETECT_BOUND_MS);
    finish(state);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_referrals_survive_drops_and_stalls, teardown),
        cmocka_unit_test_teardown(test_heartbeats_find_a_stalled_peer, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
