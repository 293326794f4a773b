/* The audit log's Merkle tree: RFC 6962 hashing over an abstract node store,
 * with proof construction, and proof verification by the RFC 9162 algorithms.
 *
 * The store holds the hash of every complete subtree: node (level, index)
 * covers leaves [index << level, (index + 1) << level). Appending a leaf writes
 * at most log2(n) + 1 nodes; roots and proofs of any earlier size are computed
 * from stored nodes alone, so the broker (LMDB) and the tests (memory) share
 * this code through the callbacks below.
 */
#ifndef CHILDFIRST_MERKLE_H
#define CHILDFIRST_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "childfirst/error.h"

#define CF_MERKLE_HASH 32 /* SHA-256 */
#define CF_MERKLE_MAX_PROOF                                                                        \
    64 /* a tree of size < 2^64 needs at most 64 hashes; consistency up to 2*64 */

struct cf_merkle_store {
    void *ctx;
    /* Reads node (level, index) into out; CF_ENOTFOUND if absent, or a storage code. */
    int (*get)(void *ctx, unsigned level, uint64_t index, uint8_t out[CF_MERKLE_HASH]);
    /* Writes node (level, index). */
    int (*put)(void *ctx, unsigned level, uint64_t index, const uint8_t hash[CF_MERKLE_HASH]);
};

/* RFC 6962 hashes: leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || l || r).
 * `out` may be the same memory as an input. */
void cf_merkle_leaf_hash(const uint8_t *data, size_t len, uint8_t out[CF_MERKLE_HASH]);
void cf_merkle_node_hash(const uint8_t left[CF_MERKLE_HASH], const uint8_t right[CF_MERKLE_HASH],
                         uint8_t out[CF_MERKLE_HASH]);

/* Appends the leaf with hash `leaf_hash` as leaf number `size`, writing it and
 * every subtree it completes (1 + the trailing one bits of size). The caller
 * vouches that `size` is the current size, and runs this inside a transaction
 * it aborts on failure: puts made before a failing one are not undone.
 * CF_ERANGE at size UINT64_MAX. */
CF_WUR int cf_merkle_append(const struct cf_merkle_store *s, uint64_t size,
                            const uint8_t leaf_hash[CF_MERKLE_HASH]);

/* The root of the first `size` leaves. The empty tree's root is SHA-256(""). */
CF_WUR int cf_merkle_root(const struct cf_merkle_store *s, uint64_t size,
                          uint8_t out[CF_MERKLE_HASH]);

/* The audit path for leaf `index` in the tree of `size` leaves (RFC 6962 PATH).
 * Writes *n hashes into the caller's `proof`, which must hold
 * CF_MERKLE_MAX_PROOF. CF_ERANGE if index >= size; a store error as returned. */
CF_WUR int cf_merkle_inclusion_proof(const struct cf_merkle_store *s, uint64_t index, uint64_t size,
                                     uint8_t proof[][CF_MERKLE_HASH], size_t *n);

/* The consistency proof from size1 to size2 (RFC 6962 PROOF) into the
 * caller's `proof`, which must hold 2 * CF_MERKLE_MAX_PROOF. CF_ERANGE unless
 * 0 < size1 <= size2; an empty proof when size1 == size2. */
CF_WUR int cf_merkle_consistency_proof(const struct cf_merkle_store *s, uint64_t size1,
                                       uint64_t size2, uint8_t proof[][CF_MERKLE_HASH], size_t *n);

/* Both verifiers take borrowed proofs (NULL allowed when n is 0) and consume
 * every hash: a proof with a hash too many or too few fails. */

/* RFC 9162 section 2.1.3.2. 0 if the proof shows `leaf_hash` at `index` in the
 * tree of `size` with `root`; CF_ERANGE if index >= size; CF_EPROOF otherwise,
 * including a proof with too few or too many hashes. */
CF_WUR int cf_merkle_verify_inclusion(uint64_t index, uint64_t size,
                                      const uint8_t leaf_hash[CF_MERKLE_HASH],
                                      const uint8_t proof[][CF_MERKLE_HASH], size_t n,
                                      const uint8_t root[CF_MERKLE_HASH]);

/* RFC 9162 section 2.1.4.2. 0 if the proof shows the tree (size1, root1) is a
 * prefix of (size2, root2); CF_ERANGE if size1 > size2; CF_EPROOF otherwise.
 * size1 == size2 needs an empty proof and equal roots; size1 == 0 needs an
 * empty proof. */
CF_WUR int cf_merkle_verify_consistency(uint64_t size1, uint64_t size2,
                                        const uint8_t root1[CF_MERKLE_HASH],
                                        const uint8_t root2[CF_MERKLE_HASH],
                                        const uint8_t proof[][CF_MERKLE_HASH], size_t n);

/* A hash whose length nobody has checked yet: as a decoder or a file hands it
 * over. Borrowed. */
struct cf_merkle_bytes {
    const uint8_t *data;
    size_t len;
};

/* The two verifiers for hashes of unchecked length, so a caller cannot forget
 * the check: CF_EFIELD unless the leaf hash, the roots and every proof element
 * are exactly CF_MERKLE_HASH bytes (checked first, as a decoder would, and
 * the same code wire.c gives a frame's proof); then CF_EPROOF for a proof
 * longer than 2 * CF_MERKLE_MAX_PROOF, which no tree needs; then exactly as
 * the fixed-size verifier. `proof` is borrowed; NULL allowed when n is 0. */
CF_WUR int cf_merkle_verify_inclusion_bytes(uint64_t index, uint64_t size,
                                            struct cf_merkle_bytes leaf_hash,
                                            const struct cf_merkle_bytes *proof, size_t n,
                                            struct cf_merkle_bytes root);
CF_WUR int cf_merkle_verify_consistency_bytes(uint64_t size1, uint64_t size2,
                                              struct cf_merkle_bytes root1,
                                              struct cf_merkle_bytes root2,
                                              const struct cf_merkle_bytes *proof, size_t n);

#endif
