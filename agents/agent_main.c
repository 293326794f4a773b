/* childfirst-agent: an agency's daemon. One thread polls the broker link,
 * its monitor and the control socket; between polls it scans the spool, runs
 * due hooks and resends what the broker has not answered. Everything it has
 * promised is in LMDB before it says so, so a restart picks up where it was. */
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>
#include <zmq.h>

#include "agent_http.h"
#include "agent_link.h"
#include "agent_store.h"
#include "childfirst/log.h"
#include "childfirst/store.h"

static const char help[] =
    "usage: childfirst-agent -c agent.ini [--check-config]\n"
    "\n"
    "Runs an agency's end of ChildFirst: holds its keys, keeps a durable outbox\n"
    "and inbox, talks to the broker over CURVE, picks up referrals from\n"
    "SPOOL/outbox, writes what arrives to SPOOL/inbox, runs the on_message and\n"
    "on_notice hooks, and answers the childfirst command on its control socket.\n"
    "With dashboard_listen set it also serves the duty team's web dashboard and\n"
    "a JSON API for agency systems (loopback only unless allowed; see README).\n"
    "\n"
    "  -c, --config FILE   agent.ini (see README.md, Configuration)\n"
    "      --check-config  load the config and key, report, exit\n"
    "  -h, --help          this text\n"
    "\n"
    "Stops cleanly on SIGTERM or SIGINT. Logs go to stderr, one event per line.\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int load(struct agent *a, const char *config, struct cf_error *err)
{
    int rc = agent_config_load(config, &a->cfg, err);
    if (rc != 0)
        return rc;
    int level = cf_log_level_parse(a->cfg.log_level);
    if (level < 0)
        return cf_error_set(err, CF_ECONFIG, "%s: log_level must be error, warn, info or debug",
                            config);
    cf_log_init("childfirst-agent", (enum cf_log_level)level);
    if ((rc = cf_keys_load(a->cfg.key_file, &a->keys, err)) != 0)
        return rc;
    if (a->keys->kind != CF_KEYS_AGENCY || strcmp(a->keys->id, a->cfg.id) != 0)
        return cf_error_set(err, CF_EKEYFILE, "%s: not the key of agency %s", a->cfg.key_file,
                            a->cfg.id);
    if (cf_keys_b64_decode(a->cfg.broker_sign_key, a->broker_sign_pk) != 0 ||
        cf_keys_z85_decode(a->cfg.broker_curve_key, a->broker_curve_pk) != 0 ||
        cf_keys_b64_decode(a->cfg.authority_key, a->authority_pk) != 0)
        return cf_error_set(err, CF_ECONFIG,
                            "%s: broker_sign_key and authority_key must be base64 and "
                            "broker_curve_key Z85, as keygen prints them",
                            config);
    return 0;
}

static void serve(struct agent *a)
{
    while (!stop) {
        int fds[40];
        short events[40];
        size_t n_fds = agent_control_fds(a, fds, events, 38);
        zmq_pollitem_t items[44] = {{a->dealer, 0, ZMQ_POLLIN, 0}, {a->monitor, 0, ZMQ_POLLIN, 0}};
        for (size_t i = 0; i < n_fds; i++)
            items[2 + i] = (zmq_pollitem_t){NULL, fds[i],
                                            (short)((events[i] & POLLIN ? ZMQ_POLLIN : 0) |
                                                    (events[i] & POLLOUT ? ZMQ_POLLOUT : 0)),
                                            0};
        size_t n_items = 2 + n_fds;
        if (agent_http_fd(a) >= 0) /* the dashboard: libmicrohttpd's epoll descriptor */
            items[n_items++] = (zmq_pollitem_t){NULL, agent_http_fd(a), ZMQ_POLLIN, 0};
        long wait = (long)a->cfg.spool_scan_ms;
        int hook_fd = agent_hooks_fd(a, &wait);
        if (hook_fd >= 0) /* a hook's exit starts the next one at once */
            items[n_items++] = (zmq_pollitem_t){NULL, hook_fd, ZMQ_POLLIN, 0};
        wait = agent_http_wait(a, wait);
        if (zmq_poll(items, (int)n_items, wait) < 0)
            continue; /* EINTR: the loop condition sees the signal */
        if (items[1].revents & ZMQ_POLLIN)
            agent_link_events(a);
        if (items[0].revents & ZMQ_POLLIN)
            agent_link_ready(a);
        for (size_t i = 0; i < n_fds; i++)
            if (items[2 + i].revents)
                agent_control_ready(a, fds[i]);
        uint64_t now = agent_now();
        if (now - a->last_scan >= a->cfg.spool_scan_ms)
            agent_spool_scan(a);
        agent_hooks_tick(a, now);
        agent_link_tick(a, now);
        agent_control_tick(a, now);
        agent_http_run(a); /* never blocks; wakes parked requests and live feeds */
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"check-config", no_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *config = NULL;
    bool check_only = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'k')
            check_only = true;
        else if (c == 'h')
            return fputs(help, stdout), 0;
        else
            return fputs(help, stderr), 2;
    }
    if (!config || optind != argc)
        return fputs(help, stderr), 2;
    if (sodium_init() < 0) {
        fputs("childfirst-agent: libsodium failed to initialise\n", stderr);
        return 1;
    }
    cf_log_init("childfirst-agent", CF_LOG_INFO);
    struct agent *a = calloc(1, sizeof *a);
    struct cf_error err = {0};
    if (!a)
        return 1;
    a->control_fd = -1;
    a->hook_fd = -1;
    int rc = load(a, config, &err);
    if (rc == 0 && check_only) {
        printf("%s: configuration ok: agency %s, broker %s\n", config, a->cfg.id, a->cfg.broker);
        goto out;
    }
    if (rc == 0) {
        mkdir(a->cfg.state_dir, 0700);
        rc = agent_store_open(&a->store, a->cfg.state_dir, (size_t)a->cfg.map_size_mb << 20, &err);
    }
    if (rc == 0)
        rc = agent_link_restore(a, &err);
    if (rc == 0)
        agent_hooks_sweep(a);
    if (rc == 0) {
        MDB_txn *txn;
        MDB_val v;
        if (mdb_txn_begin(a->store.env, NULL, MDB_RDONLY, &txn) == 0) {
            if (agent_store_get(txn, a->store.meta, "hook_seq", 8, &v) == 0 && v.mv_size == 8)
                a->hook_seq = cf_store_get_u64(v.mv_data) + 1;
            mdb_txn_abort(txn);
        }
        a->zmq = zmq_ctx_new();
        rc = agent_link_open(a, &err);
    }
    /* The control socket opens last: callers (and tests) take it as "ready",
     * so the signal handlers, the spool folders and the dashboard come first. */
    if (rc == 0) {
        struct sigaction sa = {.sa_handler = on_signal};
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        agent_spool_scan(a);
        rc = agent_http_open(a, &err);
    }
    if (rc == 0)
        rc = agent_control_open(a, &err);
    if (rc == 0) {
        cf_log_info("AGENT-STARTED", "agency=%s broker=%s kept_size=%llu", a->cfg.id, a->cfg.broker,
                    (unsigned long long)a->checkpoint.size);
        serve(a);
        cf_log_info("AGENT-STOPPING", "agency=%s", a->cfg.id);
    }
out:
    if (rc != 0) {
        cf_log_error("AGENT-REFUSED", "code=%s", cf_error_name(rc));
        fprintf(stderr, "childfirst-agent: %s\n", err.text);
    }
    agent_http_close(a);
    agent_control_close(a);
    agent_events_close(a);
    agent_link_close(a);
    if (a->zmq)
        zmq_ctx_term(a->zmq);
    agent_store_close(&a->store);
    cf_directory_destroy(&a->dir);
    cf_keys_destroy(&a->keys);
    free(a);
    return rc == 0 ? 0 : 1;
}
