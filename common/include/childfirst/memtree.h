/* An in-memory Merkle node store for those who rebuild a log's tree from its
 * records alone: `childfirst audit verify`, `export` checks, replay. It plugs
 * into merkle.h's callbacks like the LMDB store does, so roots and proofs come
 * from the same code; an optional hook sees every node as it is written, so a
 * caller can hold it against a stored copy.
 */
#ifndef CHILDFIRST_MEMTREE_H
#define CHILDFIRST_MEMTREE_H

#include <stdint.h>

#include "childfirst/error.h"
#include "childfirst/merkle.h"

#define CF_MEMTREE_LEVELS 65 /* node levels of a tree of fewer than 2^64 leaves */

struct cf_memtree {
    uint8_t (*nodes[CF_MEMTREE_LEVELS])[CF_MERKLE_HASH];
    uint64_t len[CF_MEMTREE_LEVELS], cap[CF_MEMTREE_LEVELS];
    /* Called for each node before it is kept; a non-zero return fails the
     * put with that code. NULL: nodes are kept unchecked. */
    int (*check)(void *ctx, unsigned level, uint64_t index, const uint8_t hash[CF_MERKLE_HASH]);
    void *check_ctx;
};

/* An empty tree without a check hook. Release with cf_memtree_fini. */
void cf_memtree_init(struct cf_memtree *t);

/* Frees every level and zeroes *t; safe on a zeroed tree. */
void cf_memtree_fini(struct cf_memtree *t);

/* Sizes each level for `leaves` leaves up front (a hint: a million leaves
 * take their ~64 MB once rather than through doubling). */
void cf_memtree_reserve(struct cf_memtree *t, uint64_t leaves);

/* The merkle.h store over t; t must outlive ms's use. get gives CF_ENOTFOUND
 * for a node not written; put gives CF_ENOMEM, CF_ERANGE or the hook's code. */
void cf_memtree_store(struct cf_memtree *t, struct cf_merkle_store *ms);

#endif
