/* The envelope table is keyed by leaf index and leaves are logged in time
 * order, so the oldest envelope is its first key: one cursor read tells
 * whether anything is due, and a purge walks forward from there. */
#include <inttypes.h>
#include <string.h>

#include "childfirst/log.h"
#include "audit.h"
#include "retention.h"
#include "writer.h"

#define DAY_MS 86400000ull

static uint64_t cutoff(const struct broker *b, uint64_t now)
{
    uint64_t keep = b->cfg.retention_days * DAY_MS;
    return now > keep ? now - keep : 0;
}

/* The time of the leaf whose envelope is the oldest kept, in *time and its
 * index in *index; CF_ENOTFOUND with none kept. */
static int oldest(struct broker *b, MDB_txn *txn, MDB_cursor *c, MDB_cursor_op op, uint64_t *index,
                  uint64_t *time)
{
    MDB_val k, v;
    int rc = mdb_cursor_get(c, &k, &v, op);
    if (rc != 0)
        return cf_store_error(rc);
    if (k.mv_size != 8)
        return CF_ECORRUPT;
    *index = cf_store_get_u64(k.mv_data);
    MDB_val rv;
    struct cf_record rec;
    if ((rc = cf_store_record(&b->store, txn, *index, &rv)) != 0)
        return rc;
    rc = cf_wire_record_decode(rv.mv_data, rv.mv_size, &rec, NULL) == 0 ? 0 : CF_ECORRUPT;
    *time = rec.time;
    cf_wire_record_fini(&rec);
    return rc;
}

bool cf_retention_due(struct broker *b, uint64_t now)
{
    MDB_txn *txn;
    MDB_cursor *c;
    bool due = false;
    if (cf_writer_txn(b, &txn) != 0)
        return false;
    if (mdb_cursor_open(txn, b->store.envelope, &c) == 0) {
        uint64_t index, time;
        due = oldest(b, txn, c, MDB_FIRST, &index, &time) == 0 && time < cutoff(b, now);
        mdb_cursor_close(c);
    }
    return due;
}

int cf_retention_purge(struct broker *b, MDB_txn *txn, uint64_t *size, uint64_t now, size_t *purged)
{
    *purged = 0;
    struct cf_record rec = {.time = now, .event = CF_EVENT_PURGED};
    MDB_cursor *c;
    int rc = cf_store_error(mdb_cursor_open(txn, b->store.envelope, &c));
    if (rc != 0)
        return rc;
    uint64_t limit = cutoff(b, now), index, time;
    for (rc = oldest(b, txn, c, MDB_FIRST, &index, &time);
         rc == 0 && time < limit && rec.n_purged < CF_MAX_PURGED;
         rc = oldest(b, txn, c, MDB_NEXT, &index, &time)) {
        if ((rc = cf_store_cursor_del(&b->store, c, b->store.envelope)) != 0)
            break;
        rec.purged[rec.n_purged++] = index;
    }
    mdb_cursor_close(c);
    if (rc != 0 && rc != CF_ENOTFOUND)
        return rc;
    if (rec.n_purged == 0)
        return 0;
    uint64_t leaf = *size;
    if ((rc = cf_audit_append(b, txn, size, &rec)) != 0)
        return rc;
    *purged = rec.n_purged;
    cf_log_info("ENVELOPES-PURGED", "leaf=%" PRIu64 " count=%zu first=%" PRIu64 " last=%" PRIu64,
                leaf, rec.n_purged, rec.purged[0], rec.purged[rec.n_purged - 1]);
    return 0;
}
