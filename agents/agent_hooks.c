/* Hooks: on_message and on_notice run after a delivery is kept and
 * acknowledged, from a queue in LMDB, so a slow or failing hook never delays
 * an acknowledgement and never loses a message. One hook runs at a time; each
 * is started with posix_spawn (never fork: LMDB handles must not cross into a
 * child), gets the delivery's JSON on stdin and its facts in environment
 * variables, is killed after hook_timeout_s, and is retried with a backoff
 * that doubles from 1 s up to 10 minutes until it succeeds. The JSON is
 * rendered from the agent's own LMDB copy, never read from the spool file:
 * the agency's system may have taken that file already. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "agent_hook_plan.h"
#include "agent_link.h"
#include "agent_store.h"
#include "childfirst/log.h"
#include "childfirst/store.h"

extern char **environ;

#define HOOK_ARGS_MAX 16
#define HOOK_ENV_MAX 256
#define STDIN_PREFIX ".hook-stdin-"

struct entry {
    uint64_t seq, leaf, next_at;
    uint32_t attempts;
};

static void entry_put(const struct entry *e, uint8_t key[8], uint8_t val[20])
{
    cf_store_put_u64(key, e->seq);
    cf_store_put_u64(val, e->leaf);
    for (int i = 0; i < 4; i++)
        val[8 + i] = (uint8_t)(e->attempts >> (24 - 8 * i));
    cf_store_put_u64(val + 12, e->next_at);
}

static bool entry_get(const MDB_val *k, const MDB_val *v, struct entry *e)
{
    if (k->mv_size != 8 || v->mv_size != 20)
        return false;
    const uint8_t *p = v->mv_data;
    e->seq = cf_store_get_u64(k->mv_data);
    e->leaf = cf_store_get_u64(p);
    e->attempts = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
    e->next_at = cf_store_get_u64(p + 12);
    return true;
}

/* The first entry due at `now`, if any. */
static bool next_due(struct agent *a, uint64_t now, struct entry *out)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    bool found = false;
    if (mdb_txn_begin(a->store.env, NULL, MDB_RDONLY, &txn) != 0)
        return false;
    if (mdb_cursor_open(txn, a->store.hooks, &c) == 0) {
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && !found;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
            found = entry_get(&k, &v, out) && out->next_at <= now;
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    return found;
}

/* Records the outcome of a run: success removes the entry, failure reschedules it. */
static void settle(struct agent *a, const struct entry *e, bool ok, uint64_t now)
{
    MDB_txn *txn;
    uint8_t key[8], val[20];
    if (mdb_txn_begin(a->store.env, NULL, 0, &txn) != 0)
        return;
    struct entry next = *e;
    int rc;
    if (ok) {
        cf_store_put_u64(key, e->seq);
        rc = agent_store_del(txn, a->store.hooks, key, 8);
    } else {
        next.attempts++;
        next.next_at = now + agent_hook_plan_backoff_ms(next.attempts);
        entry_put(&next, key, val);
        rc = agent_store_put(txn, a->store.hooks, key, 8, val, sizeof val);
    }
    if (rc == 0)
        mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (!ok)
        cf_log_warn("HOOK-RETRY", "leaf=%" PRIu64 " attempts=%u next_in_ms=%" PRIu64, e->leaf,
                    next.attempts, next.next_at - now);
}

static void load_running(struct agent *a, struct entry *e)
{
    MDB_txn *txn;
    MDB_val v;
    uint8_t key[8];
    memset(e, 0, sizeof *e);
    e->seq = a->hook_running;
    cf_store_put_u64(key, a->hook_running);
    if (mdb_txn_begin(a->store.env, NULL, MDB_RDONLY, &txn) != 0)
        return;
    MDB_val k = {8, key};
    if (agent_store_get(txn, a->store.hooks, key, 8, &v) == 0)
        entry_get(&k, &v, e);
    mdb_txn_abort(txn);
}

/* Reaps or times out the running hook. */
static void watch(struct agent *a, uint64_t now)
{
    int status;
    pid_t r = waitpid(a->hook_pid, &status, WNOHANG);
    if (r == 0) {
        if (now - a->hook_started > a->cfg.hook_timeout_s * 1000u) {
            cf_log_warn("HOOK-TIMEOUT", "pid=%d after_s=%llu", (int)a->hook_pid,
                        a->cfg.hook_timeout_s);
            kill(a->hook_pid, SIGKILL); /* reaped on a later tick, as a failure */
        }
        return;
    }
    struct entry e;
    load_running(a, &e);
    bool ok = r == a->hook_pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (ok)
        cf_log_info("HOOK-DONE", "leaf=%" PRIu64 " attempts=%u", e.leaf, e.attempts + 1);
    else
        cf_log_warn("HOOK-FAILED", "leaf=%" PRIu64 " status=%d", e.leaf,
                    r == a->hook_pid && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    settle(a, &e, ok, now);
    a->hook_pid = 0;
    if (a->hook_fd >= 0)
        close(a->hook_fd);
    a->hook_fd = -1;
}

/* argv from a command line split on spaces; the config is trusted, no shell. */
static size_t split(char *line, char **argv, size_t cap)
{
    size_t n = 0;
    for (char *save = NULL, *w = strtok_r(line, " \t", &save); w && n + 1 < cap;
         w = strtok_r(NULL, " \t", &save))
        argv[n++] = w;
    argv[n] = NULL;
    return n;
}

/* The hook's stdin: its JSON in a private file under state_dir (mkstemp:
 * mode 0600), unlinked as soon as it is written, so the decrypted text has no
 * name on disk while the hook runs and nothing is left once the descriptor
 * closes. Returns a descriptor at offset 0 (close-on-exec), or -1. */
static int stdin_file(struct agent *a, const json_t *doc)
{
    char path[2 * AGENT_PATH_MAX];
    snprintf(path, sizeof path, "%s/" STDIN_PREFIX "XXXXXX", a->cfg.state_dir);
    char *json = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!json)
        return -1;
    size_t len = strlen(json), off = 0;
    int fd = mkstemp(path);
    if (fd >= 0) {
        unlink(path);
        while (off < len) {
            ssize_t w = write(fd, json + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        if (off < len || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
            close(fd);
            fd = -1;
        }
    }
    sodium_memzero(json, len);
    free(json);
    return fd;
}

void agent_hooks_sweep(struct agent *a)
{
    DIR *d = opendir(a->cfg.state_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, STDIN_PREFIX, strlen(STDIN_PREFIX)) != 0)
            continue;
        char path[2 * AGENT_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", a->cfg.state_dir, e->d_name);
        if (unlink(path) == 0)
            cf_log_info("HOOK-INPUT-REMOVED", "file=%s", e->d_name);
    }
    closedir(d);
}

/* A string field of the hook's JSON, or "" when it has none. */
static const char *text(const json_t *doc, const char *key)
{
    const char *s = json_string_value(json_object_get(doc, key));
    return s ? s : "";
}

static int start(struct agent *a, const struct entry *e, uint64_t now)
{
    MDB_txn *txn;
    struct cf_error err = {0};
    if (mdb_txn_begin(a->store.env, NULL, MDB_RDONLY, &txn) != 0)
        return CF_ESTORE;
    json_t *doc = agent_inbox_doc(a, txn, e->leaf, &err);
    mdb_txn_abort(txn);
    if (!doc)
        return cf_error_set(&err, CF_ENOTFOUND, "leaf %" PRIu64 " cannot be read", e->leaf);
    const char *type = text(doc, "type");
    bool notice = strcmp(type, "notice") == 0;
    char cmd[AGENT_PATH_MAX];
    snprintf(cmd, sizeof cmd, "%s", notice ? a->cfg.on_notice : a->cfg.on_message);
    char *argv[HOOK_ARGS_MAX + 1];
    int rc = 0;
    if (split(cmd, argv, HOOK_ARGS_MAX + 1) == 0) {
        json_decref(doc);
        return CF_ENOTFOUND; /* no hook for this kind any more: nothing to run */
    }
    int in = stdin_file(a, doc);
    if (in < 0) {
        json_decref(doc);
        cf_log_warn("HOOK-NOT-STARTED", "command=%s error=\"cannot write its input under %s\"",
                    argv[0], a->cfg.state_dir);
        settle(a, e, false, now);
        return 0;
    }
    /* The delivery's facts for the hook, in place of any inherited values of
     * the same names. The agent's own notices have no case and no leaf. */
    static struct agent_hook_env vars;
    agent_hook_plan_env(doc, e->leaf, e->leaf >= AGENT_LOCAL_NOTICE, &vars);
    json_decref(doc);
    char *env[HOOK_ENV_MAX + AGENT_HOOK_VARS + 1];
    size_t n = 0;
    for (char **v = environ; *v && n < HOOK_ENV_MAX; v++)
        if (!agent_hook_plan_owns(*v))
            env[n++] = *v;
    for (int i = 0; i < AGENT_HOOK_VARS; i++)
        env[n++] = vars.vars[i];
    env[n] = NULL;

    char log[2 * AGENT_PATH_MAX];
    snprintf(log, sizeof log, "%s/hooks.log", a->cfg.state_dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    /* Logged before the hook can run, so a kill that catches it running has
     * always left this line: a rerun after the restart is accounted for. */
    cf_log_info("HOOK-STARTED", "leaf=%" PRIu64 " attempt=%u", e->leaf, e->attempts + 1);
    pid_t pid;
    rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    close(in); /* the hook holds its own copy of the descriptor */
    if (rc != 0) {
        cf_log_warn("HOOK-NOT-STARTED", "command=%s error=%s", argv[0], strerror(rc));
        settle(a, e, false, now);
        return 0;
    }
    a->hook_pid = pid;
    a->hook_fd = pidfd_open(pid, 0); /* close-on-exec; -1 before Linux 5.3: polled instead */
    a->hook_running = e->seq;
    a->hook_started = now;
    return 0;
}

int agent_hooks_fd(const struct agent *a, long *wait_ms)
{
    if (a->hook_pid > 0 && a->hook_fd < 0 && *wait_ms > 50)
        *wait_ms = 50;
    return a->hook_pid > 0 ? a->hook_fd : -1;
}

void agent_hooks_tick(struct agent *a, uint64_t now)
{
    if (a->hook_pid > 0)
        watch(a, now); /* once it is reaped, the next due hook starts in this tick */
    if (a->hook_pid > 0)
        return;
    struct entry e;
    if (next_due(a, now, &e) && start(a, &e, now) == CF_ENOTFOUND)
        settle(a, &e, true, now); /* nothing to run for it: drop the entry */
}
