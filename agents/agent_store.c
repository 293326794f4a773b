/* The agent's LMDB store: like the broker's, one environment with named
 * databases, default durability, and nothing held only in memory. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "agent_store.h"
#include "childfirst/store.h"

static const struct {
    const char *name;
    size_t offset;
} dbs[] = {
    {"outbox", offsetof(struct agent_store, outbox)},
    {"spool", offsetof(struct agent_store, spool)},
    {"sent", offsetof(struct agent_store, sent)},
    {"rejected", offsetof(struct agent_store, rejected)},
    {"inbox", offsetof(struct agent_store, inbox)},
    {"notices", offsetof(struct agent_store, notices)},
    {"byid", offsetof(struct agent_store, byid)},
    {"hooks", offsetof(struct agent_store, hooks)},
    {"cases", offsetof(struct agent_store, cases)},
    {"reports", offsetof(struct agent_store, reports)},
    {"meta", offsetof(struct agent_store, meta)},
};

int agent_store_open(struct agent_store *s, const char *dir, size_t map_size, struct cf_error *err)
{
    memset(s, 0, sizeof *s);
    mkdir(dir, 0700);
    int rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, sizeof dbs / sizeof dbs[0]);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, map_size);
    if (rc == 0)
        rc = mdb_env_open(s->env, dir, 0, 0600);
    MDB_txn *txn = NULL;
    if (rc == 0)
        rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    for (size_t i = 0; rc == 0 && i < sizeof dbs / sizeof dbs[0]; i++)
        rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE, (MDB_dbi *)((char *)s + dbs[i].offset));
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else if (txn)
        mdb_txn_abort(txn);
    if (rc != 0) {
        int code = cf_store_error(rc);
        cf_error_set(err, code, "%s: cannot open the agent store: %s", dir, mdb_strerror(rc));
        agent_store_close(s);
        return code;
    }
    return 0;
}

void agent_store_close(struct agent_store *s)
{
    if (s->env)
        mdb_env_close(s->env);
    s->env = NULL;
}

int agent_store_get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, MDB_val *out)
{
    MDB_val k = {klen, (void *)key};
    return cf_store_error(mdb_get(txn, dbi, &k, out));
}

int agent_store_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val,
                    size_t vlen)
{
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    return cf_store_error(mdb_put(txn, dbi, &k, &v, 0));
}

int agent_store_del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen)
{
    MDB_val k = {klen, (void *)key};
    int rc = mdb_del(txn, dbi, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : cf_store_error(rc);
}

size_t agent_store_count(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_stat st;
    return mdb_stat(txn, dbi, &st) == 0 ? st.ms_entries : 0;
}
