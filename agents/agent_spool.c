/* The spool folder, the simplest way in and out for an agency's systems
 * (DESIGN.md section 9):
 *   outbox/   they drop referral JSON here (write, then rename);
 *   sent/     accepted ones move here, with FILE.receipt.json beside them;
 *   rejected/ refused ones move here, with FILE.error.json saying what to fix;
 *   inbox/CASE_ID/LEAF-TYPE.json  every received message, decrypted; a notice
 *             is LEAF-notice.json, its kind inside.
 * Every move is finished from the store's record of it, so a crash between
 * "answered" and "moved" is completed at the next scan. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "agent_store.h"
#include "childfirst/file.h"
#include "childfirst/log.h"
#include "childfirst/store.h"

#define NAME_MAX_LEN 200

static void spool_path(const struct agent *a, char *out, size_t cap, const char *sub,
                       const char *name)
{
    snprintf(out, cap, "%s/%s%s%s", a->cfg.spool_dir, sub, name ? "/" : "", name ? name : "");
}

static bool spool_name_ok(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && n <= NAME_MAX_LEN && name[0] != '.' && !strchr(name, '/') &&
           strcmp(name + n - 5, ".json") == 0;
}

/* An answered spool file's move: FILE.receipt.json or FILE.error.json is
 * written beside its destination, then FILE is moved there. */
struct move {
    char name[NAME_MAX_LEN + 1];
    uint8_t id[CF_MESSAGE_ID_LEN];
    const char *sub;
    char from[2 * AGENT_PATH_MAX], to[2 * AGENT_PATH_MAX], side[2 * AGENT_PATH_MAX + 16];
    char *text; /* the side file's */
};

static int move_prepare(struct agent *a, struct move *m, enum agent_outcome outcome,
                        const json_t *detail)
{
    m->sub = outcome == AGENT_ACCEPTED ? "sent" : "rejected";
    spool_path(a, m->from, sizeof m->from, "outbox", m->name);
    spool_path(a, m->to, sizeof m->to, m->sub, m->name);
    snprintf(m->side, sizeof m->side, "%s%s", m->to,
             outcome == AGENT_ACCEPTED ? ".receipt.json" : ".error.json");
    m->text = json_dumps(detail, JSON_INDENT(2) | JSON_SORT_KEYS);
    return m->text ? 0 : CF_ENOMEM;
}

/* Moves FILE, once its side file is durable (ENOENT: a crash moved it), and
 * logs how it went. */
static int move_file(struct move *m, int rc, struct cf_error *err)
{
    if (rc == 0 && rename(m->from, m->to) != 0 && errno != ENOENT)
        rc = cf_error_set(err, CF_EIO, "%s: cannot move to %s: %s", m->from, m->sub,
                          strerror(errno));
    if (rc != 0)
        cf_log_error("SPOOL-MOVE-FAILED", "file=%s reason=\"%s\"", m->name,
                     err->text[0] ? err->text : cf_strerror(rc));
    else
        cf_log_info("SPOOL-MOVED", "file=%s to=%s", m->name, m->sub);
    return rc;
}

static int finish_move(struct agent *a, const char *name, enum agent_outcome outcome,
                       const json_t *detail)
{
    struct move m = {0};
    struct cf_error err = {0};
    snprintf(m.name, sizeof m.name, "%s", name);
    int rc = move_prepare(a, &m, outcome, detail);
    if (rc == 0)
        rc = cf_file_write_atomic(m.side, m.text, strlen(m.text), 0640, &err);
    rc = move_file(&m, rc, &err);
    if (rc == 0 && (rc = cf_file_sync_parent(m.to, &err)) != 0)
        cf_log_error("SPOOL-MOVE-FAILED", "file=%s reason=\"%s\"", name, err.text);
    free(m.text);
    return rc;
}

/* Forgets the bindings of the first `n` of `moves`, in one commit. */
static void unbind(struct agent *a, const struct move *moves, size_t n)
{
    MDB_txn *txn;
    if (n == 0 || mdb_txn_begin(a->store.env, NULL, 0, &txn) != 0)
        return;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = agent_store_del(txn, a->store.spool, moves[i].name, strlen(moves[i].name));
    if (rc == 0)
        mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
}

/* The message a spool file is bound to, if any. */
static bool bound(struct agent *a, const char *name, uint8_t id[CF_MESSAGE_ID_LEN])
{
    MDB_txn *txn;
    MDB_val v;
    bool found = false;
    if (mdb_txn_begin(a->store.env, NULL, MDB_RDONLY, &txn) != 0)
        return false;
    if (agent_store_get(txn, a->store.spool, name, strlen(name), &v) == 0 &&
        v.mv_size == CF_MESSAGE_ID_LEN) {
        memcpy(id, v.mv_data, CF_MESSAGE_ID_LEN);
        found = true;
    }
    mdb_txn_abort(txn);
    return found;
}

/* Finishes the moves of answered files (name and id set), with two syncs of
 * the file system for all the side files and one of each destination folder
 * for all the moves; those not yet answered wait, and a failed one is
 * finished at a later scan. Reorders `moves`. */
static void complete(struct agent *a, struct move *moves, size_t n)
{
    struct cf_file_out *files = calloc(n, sizeof *files);
    if (!files)
        return; /* each is finished at a later scan */
    size_t ready = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *detail;
        enum agent_outcome o = agent_outcome(a, moves[i].id, &detail);
        if ((o == AGENT_ACCEPTED || o == AGENT_REJECTED) && detail &&
            move_prepare(a, &moves[i], o, detail) == 0) {
            struct move t = moves[ready]; /* the answered ones first */
            moves[ready] = moves[i];
            moves[i] = t;
            ready++;
        }
        json_decref(detail);
    }
    for (size_t i = 0; i < ready; i++)
        files[i] = (struct cf_file_out){
            .path = moves[i].side, .buf = moves[i].text, .len = strlen(moves[i].text)};
    size_t failed = cf_file_write_many(files, ready, 0640); /* move_file logs each */
    (void)failed;
    size_t moved = 0;
    for (size_t i = 0; i < ready; i++)
        if (move_file(&moves[i], files[i].rc, &files[i].err) == 0) {
            struct move t = moves[moved]; /* the moved ones first */
            moves[moved++] = moves[i];
            moves[i] = t;
        }
    /* One sync of each destination folder, after all its moves; only the
     * files it made durable are unbound. */
    bool durable[2] = {true, true}; /* rejected/, sent/ */
    for (int into_sent = 0; into_sent < 2; into_sent++)
        for (size_t i = 0; i < moved; i++) {
            struct cf_error err = {0};
            if ((strcmp(moves[i].sub, "sent") == 0) != into_sent)
                continue;
            if (cf_file_sync_parent(moves[i].to, &err) != 0) {
                cf_log_error("SPOOL-MOVE-FAILED", "file=%s reason=\"%s\"", moves[i].name, err.text);
                durable[into_sent] = false;
            }
            break;
        }
    size_t kept = 0;
    for (size_t i = 0; i < moved; i++)
        if (durable[strcmp(moves[i].sub, "sent") == 0]) {
            struct move t = moves[kept];
            moves[kept++] = moves[i];
            moves[i] = t;
        }
    unbind(a, moves, kept);
    for (size_t i = 0; i < n; i++)
        free(moves[i].text);
    free(files);
}

void agent_spool_answered(struct agent *a, const uint8_t (*ids)[CF_MESSAGE_ID_LEN], size_t n)
{
    /* Pending spool files are few: find the ones bound to these messages. */
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    struct move *moves = n ? calloc(n, sizeof *moves) : NULL;
    size_t found = 0;
    if (!moves || mdb_txn_begin(a->store.env, NULL, MDB_RDONLY, &txn) != 0) {
        free(moves);
        return;
    }
    if (mdb_cursor_open(txn, a->store.spool, &c) == 0) {
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && found < n;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
            for (size_t i = 0; i < n; i++)
                if (v.mv_size == CF_MESSAGE_ID_LEN && k.mv_size <= NAME_MAX_LEN &&
                    memcmp(v.mv_data, ids[i], CF_MESSAGE_ID_LEN) == 0) {
                    memcpy(moves[found].name, k.mv_data, k.mv_size);
                    memcpy(moves[found++].id, ids[i], CF_MESSAGE_ID_LEN);
                    break;
                }
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    complete(a, moves, found);
    free(moves);
}

/* A file the agent cannot accept goes straight to rejected/ with the reason. */
static void refuse(struct agent *a, const char *name, const struct cf_error *err)
{
    json_t *detail = json_pack("{s:s, s:s, s:s}", "status", "invalid", "code",
                               cf_error_name(err->code), "reason", err->text);
    if (detail)
        finish_move(a, name, AGENT_REJECTED, detail);
    json_decref(detail);
    cf_log_warn("SPOOL-REFUSED", "file=%s code=%s", name, cf_error_name(err->code));
}

/* Refusals that may pass with time (memory, storage): the file waits. Every
 * other failure of a referral is permanent (invalid JSON or fields, a policy
 * that routes it nowhere or to an agency the directory lacks, ...): waiting
 * would only repeat it, so the file is refused with the reason. */
static bool spool_transient(int rc)
{
    return rc == CF_ENOMEM || rc == CF_ESTORE || rc == CF_ENOSPACE || rc == CF_EMAPFULL ||
           rc == CF_EIO;
}

/* What was said about a file still waiting in outbox/, so each scan does not
 * say it again: a warning at most once a minute, an unreadable file once. */
#define NOTED_MAX 64
#define WARN_EVERY_MS 60000u
static struct noted {
    char name[NAME_MAX_LEN + 1];
    uint64_t warned_at; /* 0: free */
    bool unreadable;
} noted[NOTED_MAX];

static struct noted *noted_find(const char *name)
{
    for (size_t i = 0; i < NOTED_MAX; i++)
        if (noted[i].warned_at && strcmp(noted[i].name, name) == 0)
            return &noted[i];
    return NULL;
}

static void noted_forget(const char *name)
{
    struct noted *n = noted_find(name);
    if (n)
        memset(n, 0, sizeof *n);
}

/* True if `name` should be warned about now (and records that it was). */
static bool noted_due(const char *name, bool unreadable)
{
    uint64_t now = agent_now();
    struct noted *n = noted_find(name);
    if (n && n->unreadable != unreadable) {
        memset(n, 0, sizeof *n); /* something else now: say so */
        n = NULL;
    }
    if (n) {
        if (unreadable || now - n->warned_at < WARN_EVERY_MS)
            return false;
        n->warned_at = now;
        return true;
    }
    struct noted *slot = &noted[0]; /* a free entry, else the one warned longest ago */
    for (size_t i = 0; i < NOTED_MAX && slot->warned_at; i++)
        if (!noted[i].warned_at || noted[i].warned_at < slot->warned_at)
            slot = &noted[i];
    snprintf(slot->name, sizeof slot->name, "%s", name);
    slot->warned_at = now ? now : 1;
    slot->unreadable = unreadable;
    return true;
}

static void pick_up(struct agent *a, const char *name)
{
    char path[2 * AGENT_PATH_MAX];
    uint8_t id[CF_MESSAGE_ID_LEN];
    if (bound(a, name, id)) {
        struct move m = {0};
        snprintf(m.name, sizeof m.name, "%s", name);
        memcpy(m.id, id, CF_MESSAGE_ID_LEN);
        complete(a, &m, 1); /* answered before a crash, or still waiting: both fine */
        return;
    }
    spool_path(a, path, sizeof path, "outbox", name);
    uint8_t *text;
    size_t len;
    struct cf_error err = {0};
    int rc = cf_file_read(path, CF_MAX_JSON, &text, &len, &err);
    if (rc == CF_ETOOBIG) {
        refuse(a, name, &err);
        noted_forget(name);
        return;
    }
    if (rc != 0) {
        struct stat st;
        if (lstat(path, &st) != 0)
            noted_forget(name); /* gone: taken back by its owner */
        else if (noted_due(name, true))
            cf_log_warn("SPOOL-UNREADABLE", "file=%s reason=\"%s\"", name, err.text);
        return; /* the next scan tries again, quietly */
    }
    if (!a->dir) { /* not the file's fault: it goes once the agent has a directory */
        free(text);
        if (noted_due(name, false))
            cf_log_warn("SPOOL-WAITING", "file=%s code=%s reason=\"no signed directory yet\"", name,
                        cf_error_name(CF_EUNKNOWNAGENCY));
        return;
    }
    char case_id[CF_CASE_ID_LEN + 1];
    rc = agent_refer(a, (const char *)text, len, name, id, case_id, &err);
    free(text);
    if (rc == 0) {
        noted_forget(name);
    } else if (!spool_transient(rc)) {
        err.code = rc;
        refuse(a, name, &err);
        noted_forget(name);
    } else if (noted_due(name, false)) {
        cf_log_warn("SPOOL-WAITING", "file=%s code=%s reason=\"%s\"", name, cf_error_name(rc),
                    err.text);
    }
}

/* Bindings whose file is gone were moved just before a crash: forget them. */
static void sweep(struct agent *a)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    if (mdb_txn_begin(a->store.env, NULL, 0, &txn) != 0)
        return;
    if (mdb_cursor_open(txn, a->store.spool, &c) == 0) {
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            char name[NAME_MAX_LEN + 1], path[2 * AGENT_PATH_MAX];
            if (k.mv_size > NAME_MAX_LEN)
                continue;
            memcpy(name, k.mv_data, k.mv_size);
            name[k.mv_size] = 0;
            spool_path(a, path, sizeof path, "outbox", name);
            json_t *detail = NULL;
            if (v.mv_size == CF_MESSAGE_ID_LEN && access(path, F_OK) != 0 &&
                agent_outcome(a, v.mv_data, &detail) != AGENT_QUEUED)
                mdb_cursor_del(c, 0);
            json_decref(detail);
        }
        mdb_cursor_close(c);
    }
    mdb_txn_commit(txn);
}

void agent_spool_scan(struct agent *a)
{
    static const char *const subs[] = {"outbox", "sent", "rejected", "inbox"};
    char path[2 * AGENT_PATH_MAX];
    mkdir(a->cfg.spool_dir, 0750);
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        spool_path(a, path, sizeof path, subs[i], NULL);
        mkdir(path, 0750);
    }
    if (a->last_scan == 0) {
        sweep(a);
        agent_inbox_spool_local(a); /* notices whose spool file a crash cut short */
    }
    a->last_scan = agent_now();
    spool_path(a, path, sizeof path, "outbox", NULL);
    DIR *d = opendir(path);
    if (!d)
        return;
    /* Names first, then work: picking up a file moves it under readdir's feet. */
    char(*names)[NAME_MAX_LEN + 1] = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!spool_name_ok(e->d_name))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char(*more)[NAME_MAX_LEN + 1] = realloc(names, cap * sizeof *names);
            if (!more)
                break;
            names = more;
        }
        memcpy(names[n++], e->d_name, strlen(e->d_name) + 1); /* spool_name_ok bounds it */
    }
    closedir(d);
    for (size_t i = 0; i < n; i++)
        pick_up(a, names[i]);
    free(names);
}

int agent_spool_inbox_path(struct agent *a, uint64_t leaf, const json_t *doc, char *dir, char *path,
                           size_t cap, struct cf_error *err)
{
    const char *case_id = json_string_value(json_object_get(doc, "case_id"));
    const char *type = json_string_value(json_object_get(doc, "type"));
    /* The case id is checked before it names a folder: it came off the wire. */
    if (leaf >= AGENT_LOCAL_NOTICE) { /* the agent's own notices */
        spool_path(a, dir, cap, "inbox", "_agent");
        snprintf(path, cap, "%s/%" PRIu64 "-notice.json", dir, leaf - AGENT_LOCAL_NOTICE);
    } else if (case_id && cf_header_case_id_valid(case_id, strlen(case_id)) && type) {
        char sub[64];
        snprintf(sub, sizeof sub, "inbox/%s", case_id);
        spool_path(a, dir, cap, sub, NULL);
        snprintf(path, cap, "%s/%" PRIu64 "-%s.json", dir, leaf, type); /* notices: "notice" */
    } else {
        return cf_error_set(err, CF_EFIELD, "leaf %" PRIu64 ": no valid case id for a path", leaf);
    }
    return 0;
}

int agent_spool_inbox_text(struct agent *a, uint64_t leaf, const json_t *doc, char *path,
                           size_t cap, char **text, struct cf_error *err)
{
    char dir[2 * AGENT_PATH_MAX];
    *text = NULL;
    int rc =
        agent_spool_inbox_path(a, leaf, doc, dir, path, cap < sizeof dir ? cap : sizeof dir, err);
    if (rc != 0)
        return rc;
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        return cf_error_set(err, CF_EIO, "%s: cannot create: %s", dir, strerror(errno));
    *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    return *text ? 0 : cf_error_set(err, CF_ENOMEM, "out of memory");
}

int agent_spool_inbox(struct agent *a, uint64_t leaf, const json_t *doc, struct cf_error *err)
{
    char path[2 * AGENT_PATH_MAX], *text;
    int rc = agent_spool_inbox_text(a, leaf, doc, path, sizeof path, &text, err);
    if (rc != 0)
        return rc;
    size_t len = strlen(text);
    rc = cf_file_write_atomic(path, text, len, 0640, err);
    sodium_memzero(text, len);
    free(text);
    return rc;
}
