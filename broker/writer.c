/* The write transaction and its redo log (writer.h). */
#include <inttypes.h>
#include <time.h>

#include "childfirst/log.h"
#include "childfirst/redo.h"
#include "writer.h"

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int cf_writer_open(struct broker *b, struct cf_error *err)
{
    MDB_txn *txn;
    uint64_t gen = 0;
    int rc = cf_store_error(mdb_txn_begin(b->store.env, NULL, MDB_RDONLY, &txn));
    if (rc == 0) {
        rc = cf_store_redo_gen(&b->store, txn, &gen);
        mdb_txn_abort(txn);
    }
    if (rc != 0)
        return cf_error_set(err, rc, "%s: cannot read the redo generation", b->cfg.state_dir);
    if ((rc = cf_redo_open(&b->redo, b->store.redo_fd, gen, b->cfg.redo_max_mb << 20, err)) != 0)
        return rc;
    b->store.redo = &b->redo;
    b->committed_at = mono_ms();
    if (b->store.recovered)
        cf_log_info("STORE-RECOVERED", "redo_records=%" PRIu64, b->store.recovered);
    return 0;
}

/* Commits the transaction, naming the next generation; the redo log then
 * starts again. On failure the transaction is gone and the log unchanged. */
static int commit(struct broker *b)
{
    uint64_t gen = b->redo.gen + 1;
    b->store.redo = NULL; /* the mark of a commit is never redone */
    int rc = cf_store_redo_gen_put(&b->store, b->txn, gen);
    b->store.redo = &b->redo;
    if (rc == 0)
        rc = cf_store_error(mdb_txn_commit(b->txn));
    else
        mdb_txn_abort(b->txn);
    b->txn = NULL;
    if (rc != 0) {
        cf_redo_clear(&b->redo);
        return rc;
    }
    cf_redo_restart(&b->redo, gen);
    b->committed_at = mono_ms();
    return 0;
}

void cf_writer_close(struct broker *b)
{
    if (b->redo.end > 0) {
        MDB_txn *txn;
        int rc = cf_writer_txn(b, &txn);
        if (rc == 0)
            rc = commit(b);
        if (rc != 0)
            cf_log_error("STORE-COMMIT-FAILED", "at=stop error=%s (the redo log keeps it)",
                         cf_error_name(rc));
    }
    if (b->txn)
        mdb_txn_abort(b->txn);
    b->txn = NULL;
    b->store.redo = NULL;
    cf_redo_close(&b->redo);
}

int cf_writer_txn(struct broker *b, MDB_txn **txn)
{
    if (b->txn) {
        *txn = b->txn;
        return 0;
    }
    int rc = cf_store_error(mdb_txn_begin(b->store.env, NULL, 0, &b->txn));
    uint64_t end = 0, records = 0;
    if (rc == 0 && b->redo.end > 0) {
        b->store.redo = NULL;
        rc = cf_store_redo_replay(&b->store, b->txn, b->redo.fd, b->redo.gen, b->redo.end, &end,
                                  &records);
        b->store.redo = &b->redo;
        if (rc == 0 && (end != b->redo.end || records != b->redo.seq))
            rc = CF_ECORRUPT; /* the log no longer holds what this process synced */
    }
    if (rc != 0) {
        if (b->txn)
            mdb_txn_abort(b->txn);
        b->txn = NULL;
        cf_log_error("STORE-BEGIN-FAILED", "error=%s", cf_error_name(rc));
        return rc;
    }
    cf_redo_clear(&b->redo);
    *txn = b->txn;
    return 0;
}

static bool due(const struct broker *b)
{
    if (b->cfg.commit_ms == 0)
        return true;
    return b->redo.end > 0 && mono_ms() - b->committed_at >= b->cfg.commit_ms;
}

int cf_writer_durable(struct broker *b)
{
    int rc = due(b) ? CF_ENOSPACE : cf_redo_write(&b->redo);
    if (rc != 0) /* due, or the redo log cannot take it (full, say): LMDB's own commit */
        rc = commit(b);
    if (rc != 0)
        cf_writer_abandon(b);
    return rc;
}

void cf_writer_abandon(struct broker *b)
{
    if (b->txn)
        mdb_txn_abort(b->txn);
    b->txn = NULL;
    cf_redo_clear(&b->redo);
}

long cf_writer_flush(struct broker *b)
{
    if (b->redo.end == 0)
        return -1;
    if (due(b)) {
        MDB_txn *txn;
        int rc = cf_writer_txn(b, &txn);
        if (rc == 0)
            rc = commit(b);
        if (rc != 0) {
            cf_log_error("STORE-COMMIT-FAILED", "error=%s (the redo log keeps it)",
                         cf_error_name(rc));
            return 1000; /* try again in a second */
        }
        return -1;
    }
    uint64_t since = mono_ms() - b->committed_at;
    return (long)(b->cfg.commit_ms - since);
}
