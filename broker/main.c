/* childfirst-broker: loads its key, the signed directory and its log, checks
 * that the log's newest leaves match its newest checkpoint, then serves. It
 * refuses to start, with a sentence saying why, rather than serve wrong data. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sodium.h>

#include "childfirst/file.h"
#include "childfirst/log.h"
#include "childfirst/redo.h"
#include "audit.h"
#include "broker.h"
#include "cases.h"
#include "loop.h"
#include "writer.h"

static const char help[] =
    "usage: childfirst-broker -c broker.ini [--check-config]\n"
    "\n"
    "Routes and stores ChildFirst messages: checks each one against the signed\n"
    "directory and policy, writes it to the Merkle audit log durably, and only\n"
    "then answers Accepted and delivers it.\n"
    "\n"
    "  -c, --config FILE   broker.ini (see README.md, Configuration)\n"
    "      --check-config  load the config, key and signed directory, report, exit\n"
    "      --backup DIR    a consistent, compacted hot copy of the log into DIR\n"
    "                      (empty or new), safe while the broker runs\n"
    "      --restored      the log is a restored backup: go on under the new origin\n"
    "                      set in broker.ini, linked to the old one (README)\n"
    "  -h, --help          this text\n"
    "\n"
    "Stops cleanly on SIGTERM or SIGINT. Logs go to stderr, one event per line.\n";

/* While the store is opened and checked at start, a damaged page can point
 * LMDB past the end of the file or into nonsense: SIGBUS or SIGSEGV. That is
 * a damaged store, and it is said so instead of dying of the signal. */
static void on_store_fault(int sig)
{
    static const char msg[] =
        "childfirst-broker ERROR BROKER-REFUSED code=CF_ECORRUPT fault=1\n"
        "childfirst-broker: the store is damaged: reading it at start faulted (a page past "
        "the end of data.mdb, or a damaged page); run `childfirst audit verify` on it and "
        "restore a backup\n";
    (void)sig;
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

static void guard_store(bool on)
{
    struct sigaction sa = {.sa_handler = on ? on_store_fault : SIG_DFL};
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
}

static void on_signal(int sig)
{
    (void)sig;
    cf_broker_stop = 1;
}

/* Key, directory and config: everything --check-config checks. */
static int load(struct broker *b, const char *config, struct cf_error *err)
{
    int rc = cf_config_load(config, &b->cfg, err);
    if (rc != 0)
        return rc;
    int level = cf_log_level_parse(b->cfg.log_level);
    if (level < 0)
        return cf_error_set(err, CF_ECONFIG, "%s: log_level must be error, warn, info or debug",
                            config);
    cf_log_init("childfirst-broker", (enum cf_log_level)level);
    if ((rc = cf_keys_load(b->cfg.key_file, &b->keys, err)) != 0)
        return rc;
    if (b->keys->kind != CF_KEYS_BROKER)
        return cf_error_set(err, CF_EKEYFILE, "%s: not a broker key (childfirst keygen broker)",
                            b->cfg.key_file);
    if (cf_keys_b64_decode(b->cfg.authority_key, b->authority_pk) != 0)
        return cf_error_set(err, CF_ECONFIG, "%s: authority_key is not a base64 Ed25519 key",
                            config);
    if ((rc = cf_directory_load(b->cfg.directory, b->cfg.policy, b->authority_pk, 0, &b->dir,
                                err)) != 0)
        return rc;
    return cf_cases_open(b, err);
}

/* The live redo log, copied before the data file: whichever commit the
 * data file's copy then catches, the batches answered before the backup
 * began are in one or the other, and opening the copy applies the records
 * of its own generation (childfirst/redo.h). */
static int copy_redo(const char *from, const char *to, struct cf_error *err)
{
    char src[CF_PATH_MAX + 16], dst[4096];
    snprintf(src, sizeof src, "%s/" CF_REDO_FILE, from);
    snprintf(dst, sizeof dst, "%s/" CF_REDO_FILE, to);
    uint8_t *buf = NULL;
    size_t len = 0;
    struct stat st;
    if (stat(src, &st) != 0 && errno == ENOENT)
        return 0; /* a log no broker has written yet */
    int rc = cf_file_read(src, (size_t)1 << 33, &buf, &len, err);
    if (rc == 0)
        rc = cf_file_write_atomic(dst, buf, len, 0600, err);
    free(buf);
    return rc;
}

/* A hot copy: LMDB's compacting copy runs in a read transaction, so it is
 * one consistent snapshot while the broker goes on writing, and the redo
 * log beside it holds what that snapshot lacks. The copy is checked like a
 * start-up before it is reported good. */
static int backup(struct broker *b, const char *dir, struct cf_error *err)
{
    struct cf_store live;
    int rc = cf_store_open(&live, b->cfg.state_dir, 0, true, err);
    if (rc != 0)
        return rc;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        rc = cf_error_set(err, CF_EIO, "%s: cannot make the folder: %s", dir, strerror(errno));
    else if ((rc = copy_redo(b->cfg.state_dir, dir, err)) != 0)
        ;
    else if ((rc = mdb_env_copy2(live.env, dir, MDB_CP_COMPACT)) != 0)
        rc =
            cf_error_set(err, cf_store_error(rc), "%s: the copy failed: %s", dir, mdb_strerror(rc));
    cf_store_close(&live);
    if (rc != 0)
        return rc;
    struct cf_store copy;
    MDB_txn *txn = NULL;
    uint64_t size = 0, at = 0;
    MDB_val note;
    if ((rc = cf_store_open(&copy, dir, 0, true, err)) != 0)
        return rc;
    if ((rc = cf_store_error(mdb_txn_begin(copy.env, NULL, MDB_RDONLY, &txn))) == 0 &&
        (rc = cf_store_size(&copy, txn, &size)) == 0) {
        int found = cf_store_checkpoint_latest(&copy, txn, &at, &note);
        rc = found == CF_ENOTFOUND ? 0 : found;
    }
    if (txn)
        mdb_txn_abort(txn);
    cf_store_close(&copy);
    if (rc != 0)
        return cf_error_set(err, rc, "%s: the copy cannot be read back", dir);
    printf("backup %s: %llu records, newest checkpoint size %llu; check it with\n"
           "  childfirst audit verify %s --broker-key KEY\n",
           dir, (unsigned long long)size, (unsigned long long)at, dir);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 'k'},
        {"backup", required_argument, NULL, 'b'}, {"restored", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},         {0}};
    const char *config = NULL, *backup_dir = NULL;
    bool check_only = false, restored = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'b')
            backup_dir = optarg;
        else if (c == 'r')
            restored = true;
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
        fputs("childfirst-broker: libsodium failed to initialise\n", stderr);
        return 1;
    }
    cf_log_init("childfirst-broker", CF_LOG_INFO);

    struct broker b;
    struct cf_error err = {0};
    memset(&b, 0, sizeof b);
    b.restored = restored;
    int rc = load(&b, config, &err);
    if (rc == 0 && backup_dir) {
        rc = backup(&b, backup_dir, &err);
        goto out;
    }
    if (rc == 0 && check_only) {
        printf("%s: configuration ok: broker key, directory serial %llu with %zu agencies, "
               "%zu calendars, state_dir %s\n",
               config, (unsigned long long)b.dir->serial, b.dir->n_agencies,
               b.dir->policy->n_jurisdictions, b.cfg.state_dir);
        goto out;
    }
    if (rc == 0) {
        mkdir(b.cfg.state_dir, 0700);
        guard_store(true);
        rc = cf_store_open(&b.store, b.cfg.state_dir, (size_t)b.cfg.map_size_mb << 20, false, &err);
    }
    if (rc == 0)
        rc = cf_audit_start(&b, &err);
    if (rc == 0)
        rc = cf_writer_open(&b, &err);
    guard_store(false);
    if (rc == 0) {
        struct sigaction sa = {.sa_handler = on_signal};
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        /* Past a file-size limit (ulimit -f, prlimit --fsize) a write fails
         * with EFBIG and is refused as storage full; the default action of
         * SIGXFSZ would kill the broker instead. */
        signal(SIGXFSZ, SIG_IGN);
        rc = cf_loop_run(&b, &err);
    }
    cf_writer_close(&b);
out:
    if (rc != 0) {
        cf_log_error("BROKER-REFUSED", "code=%s", cf_error_name(rc));
        fprintf(stderr, "childfirst-broker: %s\n", err.text);
    }
    cf_store_close(&b.store);
    cf_cases_close(&b);
    cf_directory_destroy(&b.dir);
    cf_keys_destroy(&b.keys);
    free(b.checkpoint);
    free(b.served_note);
    free(b.sessions);
    return rc == 0 ? 0 : 1;
}
