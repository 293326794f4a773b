/* The in-memory node store: one growing array of hashes per level, since a
 * log's tree only ever grows at its right edge. */
#include <stdlib.h>
#include <string.h>

#include "childfirst/memtree.h"

void cf_memtree_init(struct cf_memtree *t)
{
    memset(t, 0, sizeof *t);
}

void cf_memtree_fini(struct cf_memtree *t)
{
    for (unsigned level = 0; level < CF_MEMTREE_LEVELS; level++)
        free(t->nodes[level]);
    memset(t, 0, sizeof *t);
}

static int grow(struct cf_memtree *t, unsigned level, uint64_t want)
{
    if (want <= t->cap[level])
        return 0;
    uint64_t cap = t->cap[level] ? t->cap[level] : 64;
    while (cap < want)
        cap *= 2;
    if (cap > SIZE_MAX / CF_MERKLE_HASH)
        return CF_ENOMEM;
    void *grown = realloc(t->nodes[level], (size_t)cap * CF_MERKLE_HASH);
    if (!grown)
        return CF_ENOMEM;
    t->nodes[level] = grown;
    t->cap[level] = cap;
    return 0;
}

void cf_memtree_reserve(struct cf_memtree *t, uint64_t leaves)
{
    if (leaves > ((uint64_t)1 << 32))
        return;
    for (unsigned level = 0; level < CF_MEMTREE_LEVELS && (leaves >> level) > 0; level++)
        if (grow(t, level, (leaves >> level) + 1) != 0)
            return;
}

static int mem_get(void *ctx, unsigned level, uint64_t index, uint8_t out[CF_MERKLE_HASH])
{
    const struct cf_memtree *t = ctx;
    if (level >= CF_MEMTREE_LEVELS || index >= t->len[level])
        return CF_ENOTFOUND;
    memcpy(out, t->nodes[level][index], CF_MERKLE_HASH);
    return 0;
}

static int mem_put(void *ctx, unsigned level, uint64_t index, const uint8_t hash[CF_MERKLE_HASH])
{
    struct cf_memtree *t = ctx;
    if (level >= CF_MEMTREE_LEVELS || index == UINT64_MAX)
        return CF_ERANGE;
    int rc = t->check ? t->check(t->check_ctx, level, index, hash) : 0;
    if (rc == 0)
        rc = grow(t, level, index + 1);
    if (rc != 0)
        return rc;
    memcpy(t->nodes[level][index], hash, CF_MERKLE_HASH);
    if (index >= t->len[level])
        t->len[level] = index + 1;
    return 0;
}

void cf_memtree_store(struct cf_memtree *t, struct cf_merkle_store *ms)
{
    ms->ctx = t;
    ms->get = mem_get;
    ms->put = mem_put;
}
