/* The audit log's Merkle tree: RFC 6962 hashes, proofs built from a store of
 * complete subtrees, and the RFC 9162 verifiers. Proofs for any past size are
 * read from immutable complete-subtree nodes, never from a cached root, so a
 * checkpoint signed long ago can still be proven against today's store. */
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "childfirst/merkle.h"

void cf_merkle_leaf_hash(const uint8_t *data, size_t len, uint8_t out[CF_MERKLE_HASH])
{
    static const uint8_t prefix = 0x00;
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, out);
}

/* out may alias left or right: both are absorbed into the state before out is
 * written, which lets the verifiers fold a running hash in place. */
void cf_merkle_node_hash(const uint8_t left[CF_MERKLE_HASH], const uint8_t right[CF_MERKLE_HASH],
                         uint8_t out[CF_MERKLE_HASH])
{
    static const uint8_t prefix = 0x01;
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    crypto_hash_sha256_update(&st, left, CF_MERKLE_HASH);
    crypto_hash_sha256_update(&st, right, CF_MERKLE_HASH);
    crypto_hash_sha256_final(&st, out);
}

static bool is_pow2(uint64_t n)
{
    return n != 0 && (n & (n - 1)) == 0;
}

/* RFC 6962's k: the largest power of two strictly below n, for n >= 2. */
static uint64_t split_point(uint64_t n)
{
    return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

/* A callback returning a positive value breaks its contract; hand our callers a
 * code from the table instead, so it can still be named in a log line. */
static int load_node(const struct cf_merkle_store *s, unsigned level, uint64_t index,
                     uint8_t out[CF_MERKLE_HASH])
{
    int rc = s->get(s->ctx, level, index, out);
    return rc > 0 ? CF_ESTORE : rc;
}

static int store_node(const struct cf_merkle_store *s, unsigned level, uint64_t index,
                      const uint8_t hash[CF_MERKLE_HASH])
{
    int rc = s->put(s->ctx, level, index, hash);
    return rc > 0 ? CF_ESTORE : rc;
}

/* MTH of leaves [start, start + n), n >= 1. Every range our callers pass lies on
 * the RFC 6962 split structure, so a power-of-two range is an aligned stored
 * node and the recursion only descends the right edge: at most 64 levels. */
static int subtree_hash(const struct cf_merkle_store *s, uint64_t start, uint64_t n,
                        uint8_t out[CF_MERKLE_HASH])
{
    if (is_pow2(n) && (start & (n - 1)) == 0) {
        unsigned level = (unsigned)__builtin_ctzll(n);
        return load_node(s, level, start >> level, out);
    }

    uint64_t k = split_point(n);
    uint8_t left[CF_MERKLE_HASH], right[CF_MERKLE_HASH];
    int rc = subtree_hash(s, start, k, left);
    if (rc)
        return rc;
    rc = subtree_hash(s, start + k, n - k, right);
    if (rc)
        return rc;
    cf_merkle_node_hash(left, right, out);
    return 0;
}

/* The proof builders walk from the root down, but RFC 6962 lists hashes from
 * the leaf up. */
static void reverse_hashes(uint8_t hashes[][CF_MERKLE_HASH], size_t n)
{
    uint8_t tmp[CF_MERKLE_HASH];

    for (size_t i = 0; i < n / 2; i++) {
        memcpy(tmp, hashes[i], CF_MERKLE_HASH);
        memcpy(hashes[i], hashes[n - 1 - i], CF_MERKLE_HASH);
        memcpy(hashes[n - 1 - i], tmp, CF_MERKLE_HASH);
    }
}

/* Leaf number `size` closes one subtree per trailing one bit of `size`. The
 * writes are not atomic here: the broker makes them so with its transaction. */
int cf_merkle_append(const struct cf_merkle_store *s, uint64_t size,
                     const uint8_t leaf_hash[CF_MERKLE_HASH])
{
    if (size == UINT64_MAX)
        return CF_ERANGE; /* the new size would not fit in 64 bits */

    uint8_t hash[CF_MERKLE_HASH], left[CF_MERKLE_HASH];
    unsigned level = 0;
    uint64_t index = size;
    int rc = store_node(s, 0, index, leaf_hash);
    if (rc)
        return rc;

    memcpy(hash, leaf_hash, CF_MERKLE_HASH);
    while (index & 1) {
        rc = load_node(s, level, index - 1, left);
        if (rc)
            return rc;
        cf_merkle_node_hash(left, hash, hash);
        level++;
        index >>= 1;
        rc = store_node(s, level, index, hash);
        if (rc)
            return rc;
    }
    return 0;
}

int cf_merkle_root(const struct cf_merkle_store *s, uint64_t size, uint8_t out[CF_MERKLE_HASH])
{
    if (size == 0) {
        crypto_hash_sha256(out, NULL, 0);
        return 0;
    }
    return subtree_hash(s, 0, size, out);
}

int cf_merkle_inclusion_proof(const struct cf_merkle_store *s, uint64_t index, uint64_t size,
                              uint8_t proof[][CF_MERKLE_HASH], size_t *n)
{
    *n = 0;
    if (index >= size)
        return CF_ERANGE;

    /* Each step keeps the half holding the leaf and records the other half;
     * the range at least halves, so there are at most 64 steps. */
    uint64_t start = 0, len = size, m = index;
    size_t count = 0;
    while (len > 1) {
        uint64_t k = split_point(len);
        int rc;
        if (m < k) {
            rc = subtree_hash(s, start + k, len - k, proof[count]);
            len = k;
        } else {
            rc = subtree_hash(s, start, k, proof[count]);
            start += k;
            m -= k;
            len -= k;
        }
        if (rc)
            return rc;
        count++;
    }
    reverse_hashes(proof, count);
    *n = count;
    return 0;
}

int cf_merkle_consistency_proof(const struct cf_merkle_store *s, uint64_t size1, uint64_t size2,
                                uint8_t proof[][CF_MERKLE_HASH], size_t *n)
{
    *n = 0;
    if (size1 == 0 || size1 > size2)
        return CF_ERANGE;

    /* SUBPROOF's flag b: while the old tree is still a left edge of the new
     * one, the verifier already holds its root and we must not send it. */
    uint64_t start = 0, len = size2, m = size1;
    bool old_root_known = true;
    size_t count = 0;
    while (m != len) {
        uint64_t k = split_point(len);
        int rc;
        if (m <= k) {
            rc = subtree_hash(s, start + k, len - k, proof[count]);
            len = k;
        } else {
            rc = subtree_hash(s, start, k, proof[count]);
            start += k;
            m -= k;
            len -= k;
            old_root_known = false;
        }
        if (rc)
            return rc;
        count++;
    }
    if (!old_root_known) {
        int rc = subtree_hash(s, start, len, proof[count]);
        if (rc)
            return rc;
        count++;
    }
    reverse_hashes(proof, count);
    *n = count;
    return 0;
}

/* RFC 9162 2.1.3.2, step for step. The proof length is never trusted: a hash
 * left over when sn reaches 0 fails, and too few leave sn non-zero. */
int cf_merkle_verify_inclusion(uint64_t index, uint64_t size,
                               const uint8_t leaf_hash[CF_MERKLE_HASH],
                               const uint8_t proof[][CF_MERKLE_HASH], size_t n,
                               const uint8_t root[CF_MERKLE_HASH])
{
    if (index >= size)
        return CF_ERANGE;

    uint64_t fn = index, sn = size - 1;
    uint8_t r[CF_MERKLE_HASH];
    memcpy(r, leaf_hash, CF_MERKLE_HASH);
    for (size_t i = 0; i < n; i++) {
        if (sn == 0)
            return CF_EPROOF;
        if ((fn & 1) || fn == sn) {
            cf_merkle_node_hash(proof[i], r, r);
            while (fn != 0 && !(fn & 1)) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            cf_merkle_node_hash(r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || memcmp(r, root, CF_MERKLE_HASH) != 0)
        return CF_EPROOF;
    return 0;
}

/* RFC 9162 2.1.4.2, with the size checks it leaves to the caller made here so
 * no caller can forget them. */
int cf_merkle_verify_consistency(uint64_t size1, uint64_t size2,
                                 const uint8_t root1[CF_MERKLE_HASH],
                                 const uint8_t root2[CF_MERKLE_HASH],
                                 const uint8_t proof[][CF_MERKLE_HASH], size_t n)
{
    if (size1 > size2)
        return CF_ERANGE;
    if (size1 == size2)
        return n == 0 && memcmp(root1, root2, CF_MERKLE_HASH) == 0 ? 0 : CF_EPROOF;
    if (size1 == 0)
        return n == 0 ? 0 : CF_EPROOF;
    if (n == 0)
        return CF_EPROOF;

    /* A power-of-two old tree is a stored node the proof leaves out; the RFC
     * prepends root1, which we do by starting the walk on it. */
    const uint8_t *first = proof[0];
    size_t next = 1;
    if (is_pow2(size1)) {
        first = root1;
        next = 0;
    }

    uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }

    uint8_t fr[CF_MERKLE_HASH], sr[CF_MERKLE_HASH];
    memcpy(fr, first, CF_MERKLE_HASH);
    memcpy(sr, first, CF_MERKLE_HASH);
    for (size_t i = next; i < n; i++) {
        if (sn == 0)
            return CF_EPROOF;
        if ((fn & 1) || fn == sn) {
            cf_merkle_node_hash(proof[i], fr, fr);
            cf_merkle_node_hash(proof[i], sr, sr);
            while (fn != 0 && !(fn & 1)) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            cf_merkle_node_hash(sr, proof[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || memcmp(fr, root1, CF_MERKLE_HASH) != 0 || memcmp(sr, root2, CF_MERKLE_HASH) != 0)
        return CF_EPROOF;
    return 0;
}

/* Copies a proof of unchecked hashes into fixed ones, checking every length
 * first: a short hash must be refused, never read past. */
static int proof_bytes_in(const struct cf_merkle_bytes *in, size_t n, uint8_t out[][CF_MERKLE_HASH])
{
    for (size_t i = 0; i < n; i++)
        if (in[i].len != CF_MERKLE_HASH)
            return CF_EFIELD;
    if (n > 2 * CF_MERKLE_MAX_PROOF)
        return CF_EPROOF;
    for (size_t i = 0; i < n; i++)
        memcpy(out[i], in[i].data, CF_MERKLE_HASH);
    return 0;
}

int cf_merkle_verify_inclusion_bytes(uint64_t index, uint64_t size,
                                     struct cf_merkle_bytes leaf_hash,
                                     const struct cf_merkle_bytes *proof, size_t n,
                                     struct cf_merkle_bytes root)
{
    uint8_t p[2 * CF_MERKLE_MAX_PROOF][CF_MERKLE_HASH];
    if (leaf_hash.len != CF_MERKLE_HASH || root.len != CF_MERKLE_HASH)
        return CF_EFIELD;
    int rc = proof_bytes_in(proof, n, p);
    if (rc != 0)
        return rc;
    return cf_merkle_verify_inclusion(index, size, leaf_hash.data,
                                      (const uint8_t(*)[CF_MERKLE_HASH])p, n, root.data);
}

int cf_merkle_verify_consistency_bytes(uint64_t size1, uint64_t size2, struct cf_merkle_bytes root1,
                                       struct cf_merkle_bytes root2,
                                       const struct cf_merkle_bytes *proof, size_t n)
{
    uint8_t p[2 * CF_MERKLE_MAX_PROOF][CF_MERKLE_HASH];
    if (root1.len != CF_MERKLE_HASH || root2.len != CF_MERKLE_HASH)
        return CF_EFIELD;
    int rc = proof_bytes_in(proof, n, p);
    if (rc != 0)
        return rc;
    return cf_merkle_verify_consistency(size1, size2, root1.data, root2.data,
                                        (const uint8_t(*)[CF_MERKLE_HASH])p, n);
}
