/* Tests for the audit Merkle tree: the shared RFC 6962 / RFC 9162 vectors, every
 * proof of every tree up to 70 leaves against a naive transcription of the RFC,
 * and the sizes, store failures and 64-bit extremes a careless verifier gets wrong. */
#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "childfirst/merkle.h"

#ifndef CF_MERKLE_VECTORS_DEFAULT
#error "tests/CMakeLists.txt defines CF_MERKLE_VECTORS_DEFAULT, the shared vector folder"
#endif

#define H CF_MERKLE_HASH
#define MAX_LEAVES 70

/* A failed check names what was being checked before cmocka names the codes. */
static void expect_rc(int got, int want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void expect_rc(int got, int want, const char *fmt, ...)
{
    if (got != want) {
        char what[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        print_error("%s: got %s, want %s\n", what, cf_error_name(got), cf_error_name(want));
    }
    assert_int_equal(got, want);
}

/* True when node (level, index) covers only leaves below limit. Written so
 * that no shift or sum can overflow, whatever a buggy caller asks for. */
static bool node_within(unsigned level, uint64_t index, uint64_t limit)
{
    if (level >= 64)
        return false;
    uint64_t fit = limit >> level;
    return index < fit;
}

/* ---- An in-memory store with fault injection ------------------------------ */

#define MEM_LEVELS 8
#define MEM_WIDTH 128

struct mem_store {
    uint8_t node[MEM_LEVELS][MEM_WIDTH][H];
    bool have[MEM_LEVELS][MEM_WIDTH];
    /* Reading a node past `limit` leaves is a bug in the tree code: a proof for
     * an old size must not depend on leaves appended later. */
    uint64_t limit;
    long beyond, rewrites;
    long gets, puts;
    long fail_get_at, fail_put_at; /* 1-based call number, 0 for never */
    int fail_code;
};

static int mem_get(void *ctx, unsigned level, uint64_t index, uint8_t out[H])
{
    struct mem_store *m = ctx;

    m->gets++;
    if (m->fail_get_at == m->gets)
        return m->fail_code;
    if (!node_within(level, index, m->limit)) {
        m->beyond++;
        return CF_ENOTFOUND;
    }
    if (level >= MEM_LEVELS || index >= MEM_WIDTH || !m->have[level][index])
        return CF_ENOTFOUND;
    memcpy(out, m->node[level][index], H);
    return 0;
}

static int mem_put(void *ctx, unsigned level, uint64_t index, const uint8_t hash[H])
{
    struct mem_store *m = ctx;

    m->puts++;
    if (m->fail_put_at == m->puts)
        return m->fail_code;
    if (level >= MEM_LEVELS || index >= MEM_WIDTH)
        return CF_ENOSPACE;
    if (m->have[level][index])
        m->rewrites++;
    memcpy(m->node[level][index], hash, H);
    m->have[level][index] = true;
    return 0;
}

static struct mem_store *mem_new(struct cf_merkle_store *s)
{
    struct mem_store *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->limit = UINT64_MAX;
    s->ctx = m;
    s->get = mem_get;
    s->put = mem_put;
    return m;
}

/* ---- Leaves ---------------------------------------------------------------- */

static const struct {
    const char *data;
    size_t len;
} rfc_leaves[8] = {
    {"", 0},
    {"\x00", 1},
    {"\x10", 1},
    {"\x20\x21", 2},
    {"\x30\x31", 2},
    {"\x40\x41\x42\x43", 4},
    {"\x50\x51\x52\x53\x54\x55\x56\x57", 8},
    {"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f", 16},
};

/* The roots of the first 1..8 RFC 6962 test leaves, from the CT test suites. */
static const char *rfc_roots[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static void hex_hash(const char *hex, uint8_t out[H])
{
    size_t len = 0;
    assert_int_equal(sodium_hex2bin(out, H, hex, strlen(hex), NULL, &len, NULL), 0);
    assert_int_equal(len, H);
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Deterministic leaves of varying length, so a failure reproduces exactly. */
static void pseudo_leaves(uint8_t leaves[][H], size_t n)
{
    uint64_t state = 0x43686c6446697273ULL;

    for (size_t i = 0; i < n; i++) {
        uint8_t data[40];
        size_t len = (size_t)(splitmix64(&state) % sizeof data);
        for (size_t j = 0; j < len; j++)
            data[j] = (uint8_t)splitmix64(&state);
        cf_merkle_leaf_hash(data, len, leaves[i]);
    }
}

/* ---- The RFC 6962 section 2.1 definitions, transcribed naively ---------------- */

struct ref_proof {
    uint8_t h[2 * CF_MERKLE_MAX_PROOF][H];
    size_t n;
};

static uint64_t ref_split(uint64_t n)
{
    uint64_t k = 1;
    while (k * 2 < n)
        k *= 2;
    return k;
}

static void ref_mth(const uint8_t d[][H], uint64_t n, uint8_t out[H])
{
    if (n == 0) {
        crypto_hash_sha256(out, (const unsigned char *)"", 0);
        return;
    }
    if (n == 1) {
        memcpy(out, d[0], H);
        return;
    }
    uint64_t k = ref_split(n);
    uint8_t l[H], r[H];
    ref_mth(d, k, l);
    ref_mth(d + k, n - k, r);
    cf_merkle_node_hash(l, r, out);
}

static void ref_path(uint64_t m, const uint8_t d[][H], uint64_t n, struct ref_proof *p)
{
    if (n <= 1)
        return;
    uint64_t k = ref_split(n);
    if (m < k) {
        ref_path(m, d, k, p);
        ref_mth(d + k, n - k, p->h[p->n++]);
    } else {
        ref_path(m - k, d + k, n - k, p);
        ref_mth(d, k, p->h[p->n++]);
    }
}

static void ref_subproof(uint64_t m, const uint8_t d[][H], uint64_t n, bool b, struct ref_proof *p)
{
    if (m == n) {
        if (!b)
            ref_mth(d, n, p->h[p->n++]);
        return;
    }
    uint64_t k = ref_split(n);
    if (m <= k) {
        ref_subproof(m, d, k, b, p);
        ref_mth(d + k, n - k, p->h[p->n++]);
    } else {
        ref_subproof(m - k, d + k, n - k, false, p);
        ref_mth(d, k, p->h[p->n++]);
    }
}

/* ---- RFC 6962 test leaves ---------------------------------------------------- */

static void test_rfc6962_roots(void **state)
{
    (void)state;
    struct cf_merkle_store s;
    struct mem_store *m = mem_new(&s);
    uint8_t leaves[8][H], got[H], ref[H], want[H];

    assert_int_equal(cf_merkle_root(&s, 0, got), 0);
    hex_hash("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want);
    assert_memory_equal(got, want, H);

    for (size_t i = 0; i < 8; i++) {
        cf_merkle_leaf_hash((const uint8_t *)rfc_leaves[i].data, rfc_leaves[i].len, leaves[i]);
        expect_rc(cf_merkle_append(&s, i, leaves[i]), 0, "append RFC leaf %zu", i);
        expect_rc(cf_merkle_root(&s, i + 1, got), 0, "root of %zu RFC leaves", i + 1);
        ref_mth(leaves, i + 1, ref);
        hex_hash(rfc_roots[i], want);
        if (memcmp(got, ref, H) != 0 || memcmp(got, want, H) != 0)
            print_error("root of the first %zu RFC 6962 leaves\n", i + 1);
        assert_memory_equal(got, ref, H);
        assert_memory_equal(got, want, H);
    }
    assert_int_equal(m->beyond, 0);
    assert_int_equal(m->rewrites, 0);
    free(m);
}

/* ---- Every proof of every small tree ------------------------------------------ */

static void flip_bit(uint8_t hash[H], unsigned bit)
{
    hash[(bit / 8) % H] ^= (uint8_t)(1u << (bit % 8));
}

/* A valid inclusion proof must stop verifying after any one-bit change, a
 * dropped hash or an extra hash at either end. */
static void tamper_inclusion(uint64_t index, uint64_t size, const uint8_t leaf[H],
                             const uint8_t proof[][H], size_t n, const uint8_t root[H])
{
    uint8_t t[CF_MERKLE_MAX_PROOF + 1][H];

    for (size_t i = 0; i < n; i++) {
        memcpy(t, proof, n * H);
        flip_bit(t[i], (unsigned)(i * 67 + index * 13 + size));
        expect_rc(cf_merkle_verify_inclusion(index, size, leaf, t, n, root), CF_EPROOF,
                  "inclusion %" PRIu64 "/%" PRIu64 " with bit flipped in hash %zu", index, size, i);
    }
    if (n > 0) {
        expect_rc(cf_merkle_verify_inclusion(index, size, leaf, proof, n - 1, root), CF_EPROOF,
                  "inclusion %" PRIu64 "/%" PRIu64 " without its last hash", index, size);
        expect_rc(cf_merkle_verify_inclusion(index, size, leaf, proof + 1, n - 1, root), CF_EPROOF,
                  "inclusion %" PRIu64 "/%" PRIu64 " without its first hash", index, size);
    }
    memcpy(t, proof, n * H);
    memcpy(t[n], root, H);
    expect_rc(cf_merkle_verify_inclusion(index, size, leaf, t, n + 1, root), CF_EPROOF,
              "inclusion %" PRIu64 "/%" PRIu64 " with the root appended", index, size);
    memcpy(t[0], leaf, H);
    memcpy(t + 1, proof, n * H);
    expect_rc(cf_merkle_verify_inclusion(index, size, leaf, t, n + 1, root), CF_EPROOF,
              "inclusion %" PRIu64 "/%" PRIu64 " with the leaf prepended", index, size);
    memcpy(t, root, H);
    flip_bit(t[0], (unsigned)(index + size));
    expect_rc(cf_merkle_verify_inclusion(index, size, leaf, proof, n, t[0]), CF_EPROOF,
              "inclusion %" PRIu64 "/%" PRIu64 " against a flipped root", index, size);
}

static void tamper_consistency(uint64_t size1, uint64_t size2, const uint8_t root1[H],
                               const uint8_t root2[H], const uint8_t proof[][H], size_t n)
{
    uint8_t t[2 * CF_MERKLE_MAX_PROOF + 1][H];

    for (size_t i = 0; i < n; i++) {
        memcpy(t, proof, n * H);
        flip_bit(t[i], (unsigned)(i * 67 + size1 * 13 + size2));
        expect_rc(cf_merkle_verify_consistency(size1, size2, root1, root2, t, n), CF_EPROOF,
                  "consistency %" PRIu64 "->%" PRIu64 " with bit flipped in hash %zu", size1, size2,
                  i);
    }
    if (n > 0) {
        expect_rc(cf_merkle_verify_consistency(size1, size2, root1, root2, proof, n - 1), CF_EPROOF,
                  "consistency %" PRIu64 "->%" PRIu64 " without its last hash", size1, size2);
        expect_rc(cf_merkle_verify_consistency(size1, size2, root1, root2, proof + 1, n - 1),
                  CF_EPROOF, "consistency %" PRIu64 "->%" PRIu64 " without its first hash", size1,
                  size2);
    }
    memcpy(t, proof, n * H);
    memcpy(t[n], root2, H);
    expect_rc(cf_merkle_verify_consistency(size1, size2, root1, root2, t, n + 1), CF_EPROOF,
              "consistency %" PRIu64 "->%" PRIu64 " with root2 appended", size1, size2);
    memcpy(t[0], root1, H);
    memcpy(t + 1, proof, n * H);
    expect_rc(cf_merkle_verify_consistency(size1, size2, root1, root2, t, n + 1), CF_EPROOF,
              "consistency %" PRIu64 "->%" PRIu64 " with root1 prepended", size1, size2);
    memcpy(t[0], root1, H);
    flip_bit(t[0], (unsigned)(size1 + size2));
    expect_rc(cf_merkle_verify_consistency(size1, size2, t[0], root2, proof, n), CF_EPROOF,
              "consistency %" PRIu64 "->%" PRIu64 " against a flipped root1", size1, size2);
    memcpy(t[0], root2, H);
    flip_bit(t[0], (unsigned)(size1 * size2));
    expect_rc(cf_merkle_verify_consistency(size1, size2, root1, t[0], proof, n), CF_EPROOF,
              "consistency %" PRIu64 "->%" PRIu64 " against a flipped root2", size1, size2);
}

static void expect_same_proof(const uint8_t got[][H], size_t n, const struct ref_proof *want,
                              const char *what, uint64_t a, uint64_t b)
{
    if (n != want->n || memcmp(got, want->h, n * H) != 0)
        print_error("%s %" PRIu64 "/%" PRIu64 " differs from RFC 6962 (%zu hashes, want %zu)\n",
                    what, a, b, n, want->n);
    assert_int_equal(n, want->n);
    assert_memory_equal(got, want->h, n * H);
}

static void test_all_small_trees(void **state)
{
    (void)state;
    struct cf_merkle_store s;
    struct mem_store *m = mem_new(&s);
    static uint8_t leaves[MAX_LEAVES][H];
    uint8_t roots[MAX_LEAVES + 1][H], ref[H];
    uint8_t proof[2 * CF_MERKLE_MAX_PROOF][H];
    long inclusions = 0, consistencies = 0;
    size_t n;

    pseudo_leaves(leaves, MAX_LEAVES);
    for (uint64_t size = 0; size < MAX_LEAVES; size++) {
        long puts = m->puts;
        expect_rc(cf_merkle_append(&s, size, leaves[size]), 0, "append leaf %" PRIu64, size);
        /* The leaf, plus one node for each subtree it completes. */
        assert_int_equal(m->puts - puts, 1 + __builtin_ctzll(~size));
    }
    assert_int_equal(m->rewrites, 0);

    for (uint64_t size = 0; size <= MAX_LEAVES; size++) {
        m->limit = size;
        expect_rc(cf_merkle_root(&s, size, roots[size]), 0, "root of %" PRIu64, size);
        ref_mth(leaves, size, ref);
        assert_memory_equal(roots[size], ref, H);
    }

    for (uint64_t size = 1; size <= MAX_LEAVES; size++) {
        m->limit = size;
        for (uint64_t index = 0; index < size; index++) {
            struct ref_proof want = {.n = 0};
            ref_path(index, leaves, size, &want);
            expect_rc(cf_merkle_inclusion_proof(&s, index, size, proof, &n), 0,
                      "inclusion proof %" PRIu64 "/%" PRIu64, index, size);
            expect_same_proof(proof, n, &want, "inclusion proof", index, size);
            expect_rc(cf_merkle_verify_inclusion(index, size, leaves[index], proof, n, roots[size]),
                      0, "verify inclusion %" PRIu64 "/%" PRIu64, index, size);
            tamper_inclusion(index, size, leaves[index], proof, n, roots[size]);
            inclusions++;
        }
        for (uint64_t size1 = 1; size1 <= size; size1++) {
            struct ref_proof want = {.n = 0};
            ref_subproof(size1, leaves, size, true, &want);
            expect_rc(cf_merkle_consistency_proof(&s, size1, size, proof, &n), 0,
                      "consistency proof %" PRIu64 "->%" PRIu64, size1, size);
            expect_same_proof(proof, n, &want, "consistency proof", size1, size);
            expect_rc(
                cf_merkle_verify_consistency(size1, size, roots[size1], roots[size], proof, n), 0,
                "verify consistency %" PRIu64 "->%" PRIu64, size1, size);
            tamper_consistency(size1, size, roots[size1], roots[size], proof, n);
            consistencies++;
        }
        expect_rc(cf_merkle_verify_consistency(0, size, roots[0], roots[size], NULL, 0), 0,
                  "verify consistency 0->%" PRIu64, size);
    }
    if (m->beyond != 0)
        print_error("%ld node reads reached past the requested tree size\n", m->beyond);
    assert_int_equal(m->beyond, 0);
    print_message("small trees: %ld inclusion and %ld consistency proofs checked\n", inclusions,
                  consistencies);
    free(m);
}

/* A tree of P + N leaves (P a power of two, N <= P) has the root H(A, R), with A
 * the first P leaves and R the root of the last N. So the proof for leaf P + i
 * of the big tree is a proof for leaf i of N leaves followed by A, and hashes to
 * the big root. Only the size checks of RFC 9162 stop it passing as a proof for
 * (i, N) against the big root; the same holds for consistency proofs. */
static void test_relabelled_proofs(void **state)
{
    (void)state;
    struct cf_merkle_store s;
    struct mem_store *m = mem_new(&s);
    static uint8_t leaves[64][H];
    uint8_t proof[2 * CF_MERKLE_MAX_PROOF][H], big_root[H], sub_root[H], root1[H];
    long cases = 0;
    size_t n;

    pseudo_leaves(leaves, 64);
    for (uint64_t i = 0; i < 64; i++)
        expect_rc(cf_merkle_append(&s, i, leaves[i]), 0, "append %" PRIu64, i);

    for (uint64_t p = 1; p <= 32; p *= 2) {
        for (uint64_t size = 1; size <= p; size++) {
            expect_rc(cf_merkle_root(&s, p + size, big_root), 0, "root %" PRIu64, p + size);
            ref_mth(leaves + p, size, sub_root);
            for (uint64_t i = 0; i < size; i++) {
                expect_rc(cf_merkle_inclusion_proof(&s, p + i, p + size, proof, &n), 0,
                          "inclusion proof %" PRIu64 "/%" PRIu64, p + i, p + size);
                /* The construction is real: all but the last hash prove (i, size). */
                expect_rc(
                    cf_merkle_verify_inclusion(i, size, leaves[p + i], proof, n - 1, sub_root), 0,
                    "inclusion %" PRIu64 "/%" PRIu64 " within the right subtree", i, size);
                expect_rc(cf_merkle_verify_inclusion(i, size, leaves[p + i], proof, n, big_root),
                          CF_EPROOF,
                          "inclusion proof %" PRIu64 "/%" PRIu64 " relabelled as %" PRIu64
                          "/%" PRIu64,
                          p + i, p + size, i, size);
                cases++;
            }
            for (uint64_t size1 = 1; size1 < size; size1++) {
                expect_rc(cf_merkle_root(&s, p + size1, root1), 0, "root %" PRIu64, p + size1);
                expect_rc(cf_merkle_consistency_proof(&s, p + size1, p + size, proof, &n), 0,
                          "consistency proof %" PRIu64 "->%" PRIu64, p + size1, p + size);
                expect_rc(cf_merkle_verify_consistency(size1, size, root1, big_root, proof, n),
                          CF_EPROOF,
                          "consistency proof %" PRIu64 "->%" PRIu64 " relabelled as %" PRIu64
                          "->%" PRIu64,
                          p + size1, p + size, size1, size);
                cases++;
            }
        }
    }
    print_message("relabelled proofs: %ld rejected\n", cases);
    free(m);
}

/* ---- Edge cases ---------------------------------------------------------------- */

enum root_kind { ROOT_LEAF, ROOT_OTHER };

static const struct inclusion_case {
    const char *name;
    uint64_t index, size;
    size_t nproof; /* junk hashes */
    enum root_kind root;
    int want;
} inclusion_cases[] = {
    {"index == size", 1, 1, 0, ROOT_LEAF, CF_ERANGE},
    {"index > size", 5, 3, 2, ROOT_LEAF, CF_ERANGE},
    {"size 0", 0, 0, 0, ROOT_LEAF, CF_ERANGE},
    {"index == size == UINT64_MAX", UINT64_MAX, UINT64_MAX, 64, ROOT_OTHER, CF_ERANGE},
    {"index UINT64_MAX, size 1", UINT64_MAX, 1, 0, ROOT_LEAF, CF_ERANGE},
    {"size 1, empty proof, root is the leaf", 0, 1, 0, ROOT_LEAF, 0},
    {"size 1, empty proof, root is not the leaf", 0, 1, 0, ROOT_OTHER, CF_EPROOF},
    {"size 1, one extra hash", 0, 1, 1, ROOT_LEAF, CF_EPROOF},
    {"size 2, empty proof", 0, 2, 0, ROOT_LEAF, CF_EPROOF},
    {"size 2, two hashes", 1, 2, 2, ROOT_OTHER, CF_EPROOF},
    {"size 5, last leaf, four hashes", 4, 5, 4, ROOT_OTHER, CF_EPROOF},
    {"last of UINT64_MAX, 64 junk hashes", UINT64_MAX - 1, UINT64_MAX, 64, ROOT_OTHER, CF_EPROOF},
    {"first of UINT64_MAX, 64 junk hashes", 0, UINT64_MAX, 64, ROOT_OTHER, CF_EPROOF},
    {"first of UINT64_MAX, 200 junk hashes", 0, UINT64_MAX, 200, ROOT_OTHER, CF_EPROOF},
    {"2^63 of UINT64_MAX, empty proof", 1ULL << 63, UINT64_MAX, 0, ROOT_LEAF, CF_EPROOF},
};

static const struct consistency_case {
    const char *name;
    uint64_t size1, size2;
    size_t nproof;
    bool same_roots;
    int want;
} consistency_cases[] = {
    {"size1 > size2", 5, 3, 0, false, CF_ERANGE},
    {"size1 > size2 == 0", 1, 0, 0, true, CF_ERANGE},
    {"size1 UINT64_MAX > size2", UINT64_MAX, UINT64_MAX - 1, 3, false, CF_ERANGE},
    {"0 -> 0, same roots", 0, 0, 0, true, 0},
    {"0 -> 0, different roots", 0, 0, 0, false, CF_EPROOF},
    {"0 -> 0, one hash", 0, 0, 1, true, CF_EPROOF},
    {"0 -> 5, empty proof", 0, 5, 0, false, 0},
    {"0 -> 5, one hash", 0, 5, 1, false, CF_EPROOF},
    {"3 -> 3, same roots", 3, 3, 0, true, 0},
    {"3 -> 3, different roots", 3, 3, 0, false, CF_EPROOF},
    {"3 -> 3, one hash", 3, 3, 1, true, CF_EPROOF},
    {"3 -> 5, empty proof", 3, 5, 0, false, CF_EPROOF},
    {"4 -> 8, empty proof, same roots", 4, 8, 0, true, CF_EPROOF},
    {"UINT64_MAX -> UINT64_MAX, same roots", UINT64_MAX, UINT64_MAX, 0, true, 0},
    {"UINT64_MAX - 1 -> UINT64_MAX, 64 junk", UINT64_MAX - 1, UINT64_MAX, 64, false, CF_EPROOF},
    {"1 -> UINT64_MAX, 128 junk", 1, UINT64_MAX, 128, false, CF_EPROOF},
    {"2^63 -> UINT64_MAX, 1 junk", 1ULL << 63, UINT64_MAX, 1, false, CF_EPROOF},
    {"2^63 -> 2^63 + 1, 300 junk", 1ULL << 63, (1ULL << 63) + 1, 300, false, CF_EPROOF},
};

static void test_verify_edges(void **state)
{
    (void)state;
    static uint8_t junk[300][H];
    uint8_t leaf[H], other[H];

    for (size_t i = 0; i < 300; i++)
        memset(junk[i], (int)i, H);
    cf_merkle_leaf_hash((const uint8_t *)"x", 1, leaf);
    cf_merkle_leaf_hash((const uint8_t *)"y", 1, other);

    for (size_t i = 0; i < sizeof inclusion_cases / sizeof inclusion_cases[0]; i++) {
        const struct inclusion_case *c = &inclusion_cases[i];
        const uint8_t *root = c->root == ROOT_LEAF ? leaf : other;
        /* NULL for an empty proof: a verifier that reads past n crashes here. */
        const uint8_t(*proof)[H] = c->nproof ? (const uint8_t(*)[H])junk : NULL;
        expect_rc(cf_merkle_verify_inclusion(c->index, c->size, leaf, proof, c->nproof, root),
                  c->want, "verify inclusion: %s", c->name);
    }
    for (size_t i = 0; i < sizeof consistency_cases / sizeof consistency_cases[0]; i++) {
        const struct consistency_case *c = &consistency_cases[i];
        const uint8_t(*proof)[H] = c->nproof ? (const uint8_t(*)[H])junk : NULL;
        expect_rc(cf_merkle_verify_consistency(c->size1, c->size2, leaf,
                                               c->same_roots ? leaf : other, proof, c->nproof),
                  c->want, "verify consistency: %s", c->name);
    }
}

/* Builders refuse what the header calls out of range, and a node the store does
 * not have is reported as missing rather than hashed around. */
static void test_build_edges(void **state)
{
    (void)state;
    struct cf_merkle_store s;
    struct mem_store *m = mem_new(&s);
    uint8_t leaves[8][H], hash[H], proof[2 * CF_MERKLE_MAX_PROOF][H];
    size_t n;

    pseudo_leaves(leaves, 8);
    for (uint64_t i = 0; i < 8; i++)
        expect_rc(cf_merkle_append(&s, i, leaves[i]), 0, "append %" PRIu64, i);

    static const struct {
        const char *name;
        uint64_t a, b;
        bool consistency;
        int want;
    } cases[] = {
        {"inclusion index == size", 8, 8, false, CF_ERANGE},
        {"inclusion index > size", 9, 8, false, CF_ERANGE},
        {"inclusion size 0", 0, 0, false, CF_ERANGE},
        {"inclusion UINT64_MAX", UINT64_MAX, UINT64_MAX, false, CF_ERANGE},
        {"inclusion past the stored leaves", 0, 9, false, CF_ENOTFOUND},
        {"consistency size1 == 0", 0, 8, true, CF_ERANGE},
        {"consistency size1 == size2 == 0", 0, 0, true, CF_ERANGE},
        {"consistency size1 > size2", 9, 8, true, CF_ERANGE},
        {"consistency size2 == 0", 1, 0, true, CF_ERANGE},
        {"consistency size1 == size2", 8, 8, true, 0},
        {"consistency past the stored leaves", 3, 9, true, CF_ENOTFOUND},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        n = 99;
        int rc = cases[i].consistency
                     ? cf_merkle_consistency_proof(&s, cases[i].a, cases[i].b, proof, &n)
                     : cf_merkle_inclusion_proof(&s, cases[i].a, cases[i].b, proof, &n);
        expect_rc(rc, cases[i].want, "%s", cases[i].name);
        if (rc != 0 || cases[i].a == cases[i].b)
            assert_int_equal(n, 0);
    }
    expect_rc(cf_merkle_root(&s, 9, hash), CF_ENOTFOUND, "root past the stored leaves");
    expect_rc(cf_merkle_append(&s, UINT64_MAX, leaves[0]), CF_ERANGE, "append at UINT64_MAX");
    free(m);
}

/* A real tree of 2^64 - 1 leaves, cheap to hash because it is made of a few runs
 * of identical leaves: a node inside one run is a precomputed hash of its level,
 * and only the few nodes straddling a cut are hashed from their children. Proofs
 * at the 64-bit limit must then verify for real, and append must write true nodes. */
static const uint64_t synth_cuts[] = {0x5555555555555555ULL, 1ULL << 63, 0xaaaaaaaaaaaaaaabULL,
                                      UINT64_MAX - 3};
#define SYNTH_RUNS (sizeof synth_cuts / sizeof synth_cuts[0] + 1)

struct synth_store {
    uint8_t run_hash[SYNTH_RUNS][64][H]; /* a complete subtree of one run, per level */
    uint64_t limit;
    long beyond, puts, wrong_puts;
};

static size_t synth_run(uint64_t leaf)
{
    size_t run = 0;
    while (run < SYNTH_RUNS - 1 && leaf >= synth_cuts[run])
        run++;
    return run;
}

static void synth_init(struct synth_store *y)
{
    memset(y, 0, sizeof *y);
    y->limit = UINT64_MAX;
    for (size_t r = 0; r < SYNTH_RUNS; r++) {
        uint8_t data = (uint8_t)r;
        cf_merkle_leaf_hash(&data, 1, y->run_hash[r][0]);
        for (unsigned l = 1; l < 64; l++)
            cf_merkle_node_hash(y->run_hash[r][l - 1], y->run_hash[r][l - 1], y->run_hash[r][l]);
    }
}

/* Node (level, index), level < 64, inside a tree of at most 2^64 - 1 leaves. */
static void synth_node(const struct synth_store *y, unsigned level, uint64_t index, uint8_t out[H])
{
    uint64_t first = index << level, last = first + (((uint64_t)1 << level) - 1);
    size_t run = synth_run(first);

    if (run == synth_run(last)) {
        memcpy(out, y->run_hash[run][level], H);
        return;
    }
    uint8_t l[H], r[H];
    synth_node(y, level - 1, 2 * index, l);
    synth_node(y, level - 1, 2 * index + 1, r);
    cf_merkle_node_hash(l, r, out);
}

static int synth_get(void *ctx, unsigned level, uint64_t index, uint8_t out[H])
{
    struct synth_store *y = ctx;

    if (!node_within(level, index, y->limit)) {
        y->beyond++;
        return CF_ENOTFOUND;
    }
    synth_node(y, level, index, out);
    return 0;
}

static int synth_put(void *ctx, unsigned level, uint64_t index, const uint8_t hash[H])
{
    struct synth_store *y = ctx;
    uint8_t want[H];

    y->puts++;
    if (!node_within(level, index, UINT64_MAX))
        return CF_ERANGE;
    synth_node(y, level, index, want);
    if (memcmp(hash, want, H) != 0)
        y->wrong_puts++;
    return 0;
}

static void test_huge_trees(void **state)
{
    (void)state;
    static struct synth_store y;
    struct cf_merkle_store s = {.ctx = &y, .get = synth_get, .put = synth_put};
    uint8_t proof[2 * CF_MERKLE_MAX_PROOF][H], leaf[H], root1[H], root2[H];
    size_t n;

    synth_init(&y);
    static const struct {
        uint64_t index, size;
        size_t want_n;
    } inclusions[] = {
        {UINT64_MAX - 1, UINT64_MAX, 63}, /* the lone last leaf: one sibling per split */
        {0, UINT64_MAX, 64},
        {1ULL << 63, (1ULL << 63) + 1, 1},
        {(1ULL << 63) - 1, 1ULL << 63, 63},
        {12345, UINT64_MAX - 2, 64},
    };
    for (size_t i = 0; i < sizeof inclusions / sizeof inclusions[0]; i++) {
        uint64_t index = inclusions[i].index, size = inclusions[i].size;
        y.limit = size;
        expect_rc(cf_merkle_inclusion_proof(&s, index, size, proof, &n), 0,
                  "huge inclusion proof %" PRIu64 "/%" PRIu64, index, size);
        if (n != inclusions[i].want_n)
            print_error("huge inclusion proof %" PRIu64 "/%" PRIu64 " has %zu hashes\n", index,
                        size, n);
        assert_int_equal(n, inclusions[i].want_n);
        expect_rc(cf_merkle_root(&s, size, root2), 0, "huge root %" PRIu64, size);
        synth_node(&y, 0, index, leaf);
        expect_rc(cf_merkle_verify_inclusion(index, size, leaf, proof, n, root2), 0,
                  "verify huge inclusion %" PRIu64 "/%" PRIu64, index, size);
        tamper_inclusion(index, size, leaf, proof, n, root2);
    }

    static const struct {
        uint64_t size1, size2;
    } consistencies[] = {
        {UINT64_MAX - 1, UINT64_MAX},   {1, UINT64_MAX},
        {(1ULL << 63) + 1, UINT64_MAX}, {1ULL << 63, UINT64_MAX},
        {3, (1ULL << 63) + 5},          {(1ULL << 62) + 7, 1ULL << 63},
        {UINT64_MAX, UINT64_MAX},       {0x5555555555555555ULL, 0xaaaaaaaaaaaaaaaaULL},
    };
    for (size_t i = 0; i < sizeof consistencies / sizeof consistencies[0]; i++) {
        uint64_t size1 = consistencies[i].size1, size2 = consistencies[i].size2;
        y.limit = size1;
        expect_rc(cf_merkle_root(&s, size1, root1), 0, "huge root %" PRIu64, size1);
        y.limit = size2;
        expect_rc(cf_merkle_root(&s, size2, root2), 0, "huge root %" PRIu64, size2);
        expect_rc(cf_merkle_consistency_proof(&s, size1, size2, proof, &n), 0,
                  "huge consistency proof %" PRIu64 "->%" PRIu64, size1, size2);
        assert_true(n <= 2 * CF_MERKLE_MAX_PROOF);
        expect_rc(cf_merkle_verify_consistency(size1, size2, root1, root2, proof, n), 0,
                  "verify huge consistency %" PRIu64 "->%" PRIu64, size1, size2);
        tamper_consistency(size1, size2, root1, root2, proof, n);
    }
    assert_int_equal(y.beyond, 0);

    /* Leaf 2^63 - 1 closes 63 subtrees; leaf 2^64 - 2 closes none. */
    y.limit = UINT64_MAX;
    y.puts = 0;
    synth_node(&y, 0, (1ULL << 63) - 1, leaf);
    expect_rc(cf_merkle_append(&s, (1ULL << 63) - 1, leaf), 0, "append leaf 2^63 - 1");
    assert_int_equal(y.puts, 64);
    y.puts = 0;
    synth_node(&y, 0, UINT64_MAX - 1, leaf);
    expect_rc(cf_merkle_append(&s, UINT64_MAX - 1, leaf), 0, "append leaf 2^64 - 2");
    assert_int_equal(y.puts, 1);
    assert_int_equal(y.wrong_puts, 0);
}

/* ---- Store failures ------------------------------------------------------------- */

enum store_op { OP_ROOT, OP_INCLUSION, OP_CONSISTENCY, OP_APPEND };

static const char *op_names[] = {"root", "inclusion proof", "consistency proof", "append"};

static int run_op(enum store_op op, const struct cf_merkle_store *s, const uint8_t leaf[H])
{
    uint8_t out[2 * CF_MERKLE_MAX_PROOF][H];
    size_t n;

    switch (op) {
    case OP_ROOT:
        return cf_merkle_root(s, 7, out[0]);
    case OP_INCLUSION:
        return cf_merkle_inclusion_proof(s, 2, 7, out, &n);
    case OP_CONSISTENCY:
        return cf_merkle_consistency_proof(s, 3, 7, out, &n);
    case OP_APPEND:
        return cf_merkle_append(s, 7, leaf);
    }
    return CF_EINVAL;
}

static struct mem_store *seven_leaves(struct cf_merkle_store *s, uint8_t leaves[8][H])
{
    struct mem_store *m = mem_new(s);
    for (uint64_t i = 0; i < 7; i++)
        assert_int_equal(cf_merkle_append(s, i, leaves[i]), 0);
    m->gets = m->puts = 0;
    return m;
}

/* Every get and every put the tree code makes is failed in turn; each failure
 * must come back as the store's own code, never as a hash built around it. */
static void test_store_errors(void **state)
{
    (void)state;
    static const int codes[] = {CF_EIO, CF_ESTORE, CF_ENOTFOUND, 1};
    uint8_t leaves[8][H];
    struct cf_merkle_store s;

    pseudo_leaves(leaves, 8);
    for (int op = OP_ROOT; op <= OP_APPEND; op++) {
        struct mem_store *m = seven_leaves(&s, leaves);
        expect_rc(run_op(op, &s, leaves[7]), 0, "%s without faults", op_names[op]);
        long gets = m->gets, puts = m->puts;
        free(m);
        assert_true(gets > 0);

        for (size_t c = 0; c < sizeof codes / sizeof codes[0]; c++) {
            /* A positive code breaks the callback contract; it still must fail. */
            int want = codes[c] > 0 ? CF_ESTORE : codes[c];
            for (long at = 1; at <= gets + puts; at++) {
                m = seven_leaves(&s, leaves);
                m->fail_code = codes[c];
                if (at <= gets)
                    m->fail_get_at = at;
                else
                    m->fail_put_at = at - gets;
                expect_rc(run_op(op, &s, leaves[7]), want, "%s with %s %ld failing as %d",
                          op_names[op], at <= gets ? "get" : "put", at <= gets ? at : at - gets,
                          codes[c]);
                free(m);
            }
        }
    }
}

/* ---- The shared vectors ----------------------------------------------------------- */

/* The verifiers for hashes of unchecked length: a genuine proof passes, and a
 * hash of any other length in any position is CF_EFIELD before anything else
 * is looked at. Each hash sits at the end of its own buffer, so a verifier
 * that read 32 bytes of a short one would read past it (and ASan would say). */
static void test_unchecked_lengths(void **state)
{
    (void)state;
    struct cf_merkle_store s;
    uint8_t leaves[8][H], root3[H], root7[H];
    uint8_t incl[2 * CF_MERKLE_MAX_PROOF][H], cons[2 * CF_MERKLE_MAX_PROOF][H];
    size_t n_incl, n_cons;
    pseudo_leaves(leaves, 8);
    struct mem_store *m = seven_leaves(&s, leaves);
    assert_int_equal(cf_merkle_root(&s, 3, root3), 0);
    assert_int_equal(cf_merkle_root(&s, 7, root7), 0);
    assert_int_equal(cf_merkle_inclusion_proof(&s, 3, 7, incl, &n_incl), 0);
    assert_int_equal(cf_merkle_consistency_proof(&s, 3, 7, cons, &n_cons), 0);
    assert_int_equal(n_incl, 3);
    assert_int_equal(n_cons, 4);
    free(m);

    /* hashes[0..1] the leaf (or root1) and the root (or root2), then the proof */
    struct cf_merkle_bytes in[2 + 3], co[2 + 4];
    in[0] = (struct cf_merkle_bytes){leaves[3], H};
    in[1] = (struct cf_merkle_bytes){root7, H};
    co[0] = (struct cf_merkle_bytes){root3, H};
    co[1] = (struct cf_merkle_bytes){root7, H};
    for (size_t i = 0; i < 3; i++)
        in[2 + i] = (struct cf_merkle_bytes){incl[i], H};
    for (size_t i = 0; i < 4; i++)
        co[2 + i] = (struct cf_merkle_bytes){cons[i], H};
    expect_rc(cf_merkle_verify_inclusion_bytes(3, 7, in[0], in + 2, 3, in[1]), 0, "inclusion");
    expect_rc(cf_merkle_verify_consistency_bytes(3, 7, co[0], co[1], co + 2, 4), 0, "consistency");
    /* Still a real verifier behind it: the wrong index fails. */
    expect_rc(cf_merkle_verify_inclusion_bytes(2, 7, in[0], in + 2, 3, in[1]), CF_EPROOF,
              "inclusion at the wrong index");

    static const size_t lengths[] = {0, 1, H - 1, H + 1, 2 * H};
    for (size_t pos = 0; pos < 6; pos++) {
        for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
            size_t len = lengths[l];
            uint8_t *buf = malloc(len ? len : 1), *at = buf + (len ? 0 : 1);
            assert_non_null(buf);
            memset(buf, 0xa5, len);
            struct cf_merkle_bytes a[5], b[6];
            memcpy(a, in, sizeof a);
            memcpy(b, co, sizeof b);
            /* the genuine hash, cut or grown */
            memcpy(buf, co[pos].data, len < H ? len : H);
            b[pos] = (struct cf_merkle_bytes){at, len};
            expect_rc(cf_merkle_verify_consistency_bytes(3, 7, b[0], b[1], b + 2, 4), CF_EFIELD,
                      "consistency, hash %zu of %zu bytes", pos, len);
            /* Lengths come first, as in a decoder: before the range check. */
            expect_rc(cf_merkle_verify_consistency_bytes(8, 7, b[0], b[1], b + 2, 4), CF_EFIELD,
                      "consistency backwards, hash %zu of %zu bytes", pos, len);
            if (pos < 5) {
                memcpy(buf, in[pos].data, len < H ? len : H);
                a[pos] = (struct cf_merkle_bytes){at, len};
                expect_rc(cf_merkle_verify_inclusion_bytes(3, 7, a[0], a + 2, 3, a[1]), CF_EFIELD,
                          "inclusion, hash %zu of %zu bytes", pos, len);
                expect_rc(cf_merkle_verify_inclusion_bytes(7, 7, a[0], a + 2, 3, a[1]), CF_EFIELD,
                          "inclusion past the end, hash %zu of %zu bytes", pos, len);
            }
            free(buf);
        }
    }

    /* More hashes than any tree needs, every one of the right length. */
    static struct cf_merkle_bytes many[2 * CF_MERKLE_MAX_PROOF + 1];
    for (size_t i = 0; i < sizeof many / sizeof many[0]; i++)
        many[i] = (struct cf_merkle_bytes){root7, H};
    expect_rc(
        cf_merkle_verify_inclusion_bytes(3, 7, in[0], many, sizeof many / sizeof many[0], in[1]),
        CF_EPROOF, "inclusion with %zu hashes", sizeof many / sizeof many[0]);
    expect_rc(
        cf_merkle_verify_consistency_bytes(3, 7, co[0], co[1], many, sizeof many / sizeof many[0]),
        CF_EPROOF, "consistency with %zu hashes", sizeof many / sizeof many[0]);
    /* An empty proof may be NULL. */
    expect_rc(cf_merkle_verify_consistency_bytes(7, 7, co[1], co[1], NULL, 0), 0, "same size");
}

struct tally {
    long inclusion, consistency, want_err, wrong_length, unrepresentable, failures;
};

/* jansson cannot hold integers past INT64_MAX, so a file holding one is read
 * again with every number as a double. 2^64 - 1 (the vectors' 0 - 1) rounds to
 * 2^64 and saturates back to itself; other values past 2^53 would come out
 * approximate, and the shared vectors have none. */
static bool vector_u64(const json_t *obj, const char *key, uint64_t *out)
{
    const json_t *v = json_object_get(obj, key);

    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0)
            return false;
        *out = (uint64_t)i;
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= 0.0))
            return false;
        if (d >= 18446744073709551616.0) {
            *out = UINT64_MAX;
            return true;
        }
        *out = (uint64_t)d;
        return (double)*out == d;
    }
    return false;
}

/* A vector's hashes as they come, whatever their length: checking the length
 * is the production verifier's job (cf_merkle_verify_*_bytes), not this
 * reader's. `bytes` owns every decoded hash. */
struct vector_hashes {
    struct cf_merkle_bytes *item;
    size_t n, cap;
    bool any_not_32; /* what the test expects the verifier to refuse */
};

/* Decodes base64 `v` into a new hash of any length; false only if `v` is not
 * a base64 string at all. */
static bool vector_hash(const json_t *v, struct vector_hashes *vh, struct cf_merkle_bytes *out)
{
    const char *b64 = json_string_value(v);
    if (!b64)
        return false;
    size_t cap = strlen(b64) / 4 * 3 + 3, len = 0;
    uint8_t *bin = malloc(cap);
    assert_non_null(bin);
    if (sodium_base642bin(bin, cap, b64, strlen(b64), NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(bin);
        return false;
    }
    if (vh->n == vh->cap) {
        vh->cap = vh->cap ? 2 * vh->cap : 8;
        vh->item = realloc(vh->item, vh->cap * sizeof *vh->item);
        assert_non_null(vh->item);
    }
    vh->item[vh->n++] = (struct cf_merkle_bytes){bin, len};
    vh->any_not_32 |= len != H;
    *out = (struct cf_merkle_bytes){bin, len};
    return true;
}

static void vector_hashes_fini(struct vector_hashes *vh)
{
    for (size_t i = 0; i < vh->n; i++)
        free((void *)vh->item[i].data);
    free(vh->item);
}

/* "proof": null is an empty proof. The proof's hashes are the last *n of vh. */
static bool vector_proof(const json_t *obj, struct vector_hashes *vh,
                         const struct cf_merkle_bytes **proof, size_t *n)
{
    const json_t *v = json_object_get(obj, "proof");

    *n = 0;
    *proof = NULL;
    if (json_is_null(v))
        return true;
    if (!json_is_array(v))
        return false;
    size_t first = vh->n;
    for (size_t i = 0; i < json_array_size(v); i++) {
        struct cf_merkle_bytes b;
        if (!vector_hash(json_array_get(v, i), vh, &b))
            return false;
    }
    *n = json_array_size(v);
    *proof = *n ? vh->item + first : NULL;
    return true;
}

/* What the production verifier must answer for a vector that wants an error:
 * CF_EFIELD for a hash of the wrong length (checked first), else `otherwise`. */
static int expected_error(const struct vector_hashes *vh, int otherwise)
{
    return vh->any_not_32 ? CF_EFIELD : otherwise;
}

/* Every vector goes to the production verifier unless its fields cannot be
 * expressed in the API's types at all (a negative or fractional size, a hash
 * that is not base64 text): those the test counts as `unrepresentable`. */
static int run_inclusion(const json_t *v, int *want_err, long *unrepresentable)
{
    uint64_t index, size;
    struct cf_merkle_bytes root, leaf;
    const struct cf_merkle_bytes *proof;
    struct vector_hashes vh = {0};
    size_t n;
    int rc;

    bool ok = vector_u64(v, "leafIdx", &index) && vector_u64(v, "treeSize", &size) &&
              vector_hash(json_object_get(v, "root"), &vh, &root) &&
              vector_hash(json_object_get(v, "leafHash"), &vh, &leaf) &&
              vector_proof(v, &vh, &proof, &n);
    if (!ok) {
        (*unrepresentable)++;
        *want_err = CF_EFIELD;
        rc = CF_EFIELD;
    } else {
        *want_err = expected_error(&vh, index >= size ? CF_ERANGE : CF_EPROOF);
        rc = cf_merkle_verify_inclusion_bytes(index, size, leaf, proof, n, root);
    }
    vector_hashes_fini(&vh);
    return rc;
}

static int run_consistency(const json_t *v, int *want_err, long *unrepresentable)
{
    uint64_t size1, size2;
    struct cf_merkle_bytes root1, root2;
    const struct cf_merkle_bytes *proof;
    struct vector_hashes vh = {0};
    size_t n;
    int rc;

    bool ok = vector_u64(v, "size1", &size1) && vector_u64(v, "size2", &size2) &&
              vector_hash(json_object_get(v, "root1"), &vh, &root1) &&
              vector_hash(json_object_get(v, "root2"), &vh, &root2) &&
              vector_proof(v, &vh, &proof, &n);
    if (!ok) {
        (*unrepresentable)++;
        *want_err = CF_EFIELD;
        rc = CF_EFIELD;
    } else {
        *want_err = expected_error(&vh, size1 > size2 ? CF_ERANGE : CF_EPROOF);
        rc = cf_merkle_verify_consistency_bytes(size1, size2, root1, root2, proof, n);
    }
    vector_hashes_fini(&vh);
    return rc;
}

static void run_vector(const char *path, struct tally *t)
{
    json_error_t jerr;
    json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);

    if (!v && strncmp(jerr.text, "too big", 7) == 0)
        v = json_load_file(path, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
    if (!v) {
        print_error("%s:%d: %s\n", path, jerr.line, jerr.text);
        t->failures++;
        return;
    }

    const json_t *want_err = json_object_get(v, "wantErr");
    bool inclusion = json_object_get(v, "leafIdx") != NULL;
    bool consistency = json_object_get(v, "size1") != NULL;
    if (!json_is_object(v) || !json_is_boolean(want_err) || inclusion == consistency) {
        print_error("%s: not an inclusion or consistency vector with a boolean wantErr\n", path);
        t->failures++;
        json_decref(v);
        return;
    }

    int err_code, got;
    if (inclusion) {
        got = run_inclusion(v, &err_code, &t->unrepresentable);
        t->inclusion++;
    } else {
        got = run_consistency(v, &err_code, &t->unrepresentable);
        t->consistency++;
    }
    int want = json_is_true(want_err) ? err_code : 0;
    t->want_err += want != 0;
    t->wrong_length += want == CF_EFIELD;
    if (got != want) {
        const char *desc = json_string_value(json_object_get(v, "desc"));
        print_error("%s (%s): got %s, want %s\n", path, desc ? desc : "no desc", cf_error_name(got),
                    cf_error_name(want));
        t->failures++;
    }
    json_decref(v);
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Returns false only when `dir` cannot be read at all. */
static bool walk_vectors(const char *dir, struct tally *t)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d)
        return false;
    while ((e = readdir(d)) != NULL) {
        char path[PATH_MAX];
        struct stat st;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
            stat(path, &st) != 0) {
            print_error("%s/%s: cannot stat\n", dir, e->d_name);
            t->failures++;
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (!walk_vectors(path, t)) {
                print_error("%s: cannot open\n", path);
                t->failures++;
            }
        } else if (S_ISREG(st.st_mode) && has_suffix(e->d_name, ".json")) {
            run_vector(path, t);
        }
    }
    closedir(d);
    return true;
}

static void test_vectors(void **state)
{
    (void)state;
    const char *dir = getenv("CF_MERKLE_VECTORS");
    struct tally t = {0};

    if (!dir || !*dir)
        dir = CF_MERKLE_VECTORS_DEFAULT;
    if (!walk_vectors(dir, &t))
        fail_msg("cannot open the Merkle vector folder %s (set CF_MERKLE_VECTORS)", dir);
    print_message("vectors in %s: %ld inclusion, %ld consistency, %ld expecting an error "
                  "(%ld for a hash of the wrong length)\n",
                  dir, t.inclusion, t.consistency, t.want_err, t.wrong_length);
    if (t.inclusion + t.consistency == 0)
        fail_msg("no Merkle vectors found under %s", dir);
    /* Every answer must come from the production verifier, none from this file. */
    if (t.unrepresentable != 0)
        fail_msg("%ld vectors could not be handed to the verifier at all", t.unrepresentable);
    assert_int_equal(t.failures, 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc6962_roots),     cmocka_unit_test(test_all_small_trees),
        cmocka_unit_test(test_relabelled_proofs), cmocka_unit_test(test_verify_edges),
        cmocka_unit_test(test_build_edges),       cmocka_unit_test(test_huge_trees),
        cmocka_unit_test(test_store_errors),      cmocka_unit_test(test_unchecked_lengths),
        cmocka_unit_test(test_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
