/* The agent's LMDB store (layout in agent.h). */
#ifndef CF_AGENT_STORE_H
#define CF_AGENT_STORE_H

#include "agent.h"

int agent_store_open(struct agent_store *s, const char *dir, size_t map_size, struct cf_error *err);
void agent_store_close(struct agent_store *s);

/* Key/value helpers inside a transaction. get: borrowed until the txn ends;
 * CF_ENOTFOUND when absent. */
int agent_store_get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, MDB_val *out);
int agent_store_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val,
                    size_t vlen);
int agent_store_del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen);

/* Number of entries in a database. */
size_t agent_store_count(MDB_txn *txn, MDB_dbi dbi);

#endif
