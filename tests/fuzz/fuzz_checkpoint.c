/* Fuzz target: the checkpoint note parser and the receipt check built on it.
 * A fuzzer holds no broker key, so the first byte picks what the rest is:
 *   0  a whole note, checked as it stands;
 *   1  a note body the harness signs itself, so the parser's success path is
 *      reached with the fuzzer choosing every byte the signature covers;
 *   2  a receipt (size, index, proof, record) against a checkpoint the harness
 *      signs over a tree it builds with that record in it.
 * Properties: a refusal is CF_EDECODE or CF_ESIG and says so in a "checkpoint:"
 * sentence; a note that opens is the one spelling cf_checkpoint_sign gives its
 * fields (one tree state, one note); and a receipt proves only the record at
 * its own index by the one proof the tree gives it. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "childfirst/checkpoint.h"
#include "childfirst/merkle.h"
#include "childfirst/record.h"

#define ORIGIN "fuzz.childfirst/log"
#define MAX_LEAVES 64

static struct cf_keys broker, other;

static void setup(void)
{
    uint8_t seed[crypto_sign_SEEDBYTES];
    if (sodium_init() < 0)
        abort();
    /* Fixed keys: the committed corpus keeps its meaning from run to run. */
    memset(seed, 0x42, sizeof seed);
    crypto_sign_seed_keypair(broker.sign_pk, broker.sign_sk, seed);
    memset(seed, 0x24, sizeof seed);
    crypto_sign_seed_keypair(other.sign_pk, other.sign_sk, seed);
    broker.kind = other.kind = CF_KEYS_BROKER;
}

static void refused_well(int rc, const struct cf_error *err)
{
    if ((rc != CF_EDECODE && rc != CF_ESIG) || strncmp(err->text, "checkpoint: ", 12) != 0)
        abort();
}

/* An opened note starts with the body cf_checkpoint_sign writes for its fields,
 * and holds that note's signature line. */
static void one_spelling(const char *note, size_t len, const struct cf_checkpoint *cp)
{
    char *again;
    size_t again_len;
    if (cf_checkpoint_sign(cp->origin, cp->size, cp->root, &broker, &again, &again_len) != 0)
        abort();
    const char *sig = strstr(again, "\n\n");
    if (!sig)
        abort();
    size_t body = (size_t)(sig - again) + 2, line = again_len - body;
    bool found = false;
    for (size_t at = body; !found && at + line <= len; at++)
        found = (note[at - 1] == '\n') && memcmp(note + at, again + body, line) == 0;
    if (len < body || memcmp(note, again, body) != 0 || !found)
        abort();
    free(again);
}

static void whole_note(const uint8_t *data, size_t size)
{
    struct cf_checkpoint cp;
    struct cf_error err = {0};
    int rc = cf_checkpoint_open((const char *)data, size, broker.sign_pk, &cp, &err);
    if (rc != 0)
        refused_well(rc, &err);
    else
        one_spelling((const char *)data, size, &cp);
}

/* "<body>\n— <first line> <base64(key id || signature over body)>\n" */
static void signed_body(const uint8_t *data, size_t size)
{
    static char note[2 * CF_CHECKPOINT_MAX];
    if (size > CF_CHECKPOINT_MAX)
        return;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t name_len = nl ? (size_t)(nl - data) : size;
    if (name_len > CF_ORIGIN_MAX)
        name_len = CF_ORIGIN_MAX;
    uint8_t blob[4 + 64], h[32];
    crypto_hash_sha256_state st;
    const uint8_t sep[2] = {'\n', 0x01};
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, data, name_len);
    crypto_hash_sha256_update(&st, sep, 2);
    crypto_hash_sha256_update(&st, broker.sign_pk, 32);
    crypto_hash_sha256_final(&st, h);
    memcpy(blob, h, 4);
    crypto_sign_detached(blob + 4, NULL, data, size, broker.sign_sk);
    char b64[sodium_base64_ENCODED_LEN(sizeof blob, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, blob, sizeof blob, sodium_base64_VARIANT_ORIGINAL);
    size_t len = 0;
    memcpy(note, data, size);
    len += size;
    memcpy(note + len, "\n\xe2\x80\x94 ", 5);
    len += 5;
    memcpy(note + len, data, name_len);
    len += name_len;
    note[len++] = ' ';
    memcpy(note + len, b64, strlen(b64));
    len += strlen(b64);
    note[len++] = '\n';

    struct cf_checkpoint cp;
    struct cf_error err = {0};
    int rc = cf_checkpoint_open(note, len, broker.sign_pk, &cp, &err);
    if (rc != 0) {
        refused_well(rc, &err);
        return;
    }
    /* Exactly what the broker would have signed, byte for byte. */
    char *again;
    size_t again_len;
    if (cf_checkpoint_sign(cp.origin, cp.size, cp.root, &broker, &again, &again_len) != 0 ||
        again_len != len || memcmp(again, note, len) != 0)
        abort();
    free(again);
    /* And no other key's signature stands in for the broker's. */
    if (cf_checkpoint_open(note, len, other.sign_pk, &cp, &err) != CF_ESIG)
        abort();
}

/* ---- Receipts ---- */

struct tree {
    uint8_t node[8][MAX_LEAVES][CF_MERKLE_HASH]; /* level 0..6 covers 64 leaves */
};

static int tree_get(void *ctx, unsigned level, uint64_t index, uint8_t out[CF_MERKLE_HASH])
{
    struct tree *t = ctx;
    if (level >= 8 || index >= MAX_LEAVES)
        return CF_ENOTFOUND;
    memcpy(out, t->node[level][index], CF_MERKLE_HASH);
    return 0;
}

static int tree_put(void *ctx, unsigned level, uint64_t index, const uint8_t hash[CF_MERKLE_HASH])
{
    struct tree *t = ctx;
    if (level >= 8 || index >= MAX_LEAVES)
        abort();
    memcpy(t->node[level][index], hash, CF_MERKLE_HASH);
    return 0;
}

/* [size - 1][index][n][n proof hashes][the record] */
static void receipt(const uint8_t *data, size_t size)
{
    static struct tree t;
    static uint8_t proof[CF_MERKLE_MAX_PROOF][CF_MERKLE_HASH];
    static uint8_t want[CF_MERKLE_MAX_PROOF][CF_MERKLE_HASH];
    if (size < 3)
        return;
    uint64_t leaves = data[0] % MAX_LEAVES + 1, index = data[1] % (2 * MAX_LEAVES);
    size_t n = data[2] % (CF_MERKLE_MAX_PROOF + 1);
    data += 3, size -= 3;
    if (size < n * CF_MERKLE_HASH)
        n = size / CF_MERKLE_HASH;
    memcpy(proof, data, n * CF_MERKLE_HASH);
    const uint8_t *record = data + n * CF_MERKLE_HASH;
    size_t record_len = size - n * CF_MERKLE_HASH;

    /* The record sits at `index` (folded into the tree); every other leaf is
     * the one-byte record of its own index. */
    uint64_t at = index % leaves;
    struct cf_merkle_store s = {&t, tree_get, tree_put};
    for (uint64_t i = 0; i < leaves; i++) {
        uint8_t leaf[CF_MERKLE_HASH], mine = (uint8_t)i;
        if (i == at)
            cf_record_leaf_hash(record, record_len, leaf);
        else
            cf_record_leaf_hash(&mine, 1, leaf);
        if (cf_merkle_append(&s, i, leaf) != 0)
            abort();
    }
    uint8_t root[CF_MERKLE_HASH];
    char *note;
    size_t note_len, want_n;
    if (cf_merkle_root(&s, leaves, root) != 0 ||
        cf_checkpoint_sign(ORIGIN, leaves, root, &broker, &note, &note_len) != 0 ||
        cf_merkle_inclusion_proof(&s, at, leaves, want, &want_n) != 0)
        abort();

    struct cf_checkpoint cp;
    struct cf_error err = {0};
    /* The tree's own proof proves the record, and nothing but it. */
    if (cf_record_prove(record, record_len, at, (const uint8_t(*)[CF_MERKLE_HASH])want, want_n,
                        note, note_len, broker.sign_pk, &cp, &err) != 0 ||
        cp.size != leaves || memcmp(cp.root, root, sizeof root) != 0)
        abort();
    if (cf_record_prove(record, record_len, at, (const uint8_t(*)[CF_MERKLE_HASH])want, want_n,
                        note, note_len, other.sign_pk, &cp, &err) != CF_ESIG)
        abort();
    if (record_len > 0) {
        uint8_t *changed = malloc(record_len);
        if (!changed)
            abort();
        memcpy(changed, record, record_len);
        changed[record_len / 2] ^= 0x01;
        if (cf_record_prove(changed, record_len, at, (const uint8_t(*)[CF_MERKLE_HASH])want, want_n,
                            note, note_len, broker.sign_pk, &cp, &err) != CF_EPROOF)
            abort();
        free(changed);
    }

    /* The fuzzer's own proof, at its own index. */
    int rc = cf_record_prove(record, record_len, index, (const uint8_t(*)[CF_MERKLE_HASH])proof, n,
                             note, note_len, broker.sign_pk, &cp, &err);
    if (index >= leaves && rc != CF_ERANGE)
        abort();
    if (rc != 0 && rc != CF_ERANGE && rc != CF_EPROOF)
        abort();
    if (rc == 0) {
        /* Only the record of that leaf, by the one proof the tree gives it. */
        uint8_t leaf[CF_MERKLE_HASH], stored[CF_MERKLE_HASH];
        cf_record_leaf_hash(record, record_len, leaf);
        if (tree_get(&t, 0, index, stored) != 0 || memcmp(leaf, stored, sizeof leaf) != 0 ||
            cf_merkle_inclusion_proof(&s, index, leaves, want, &want_n) != 0 || want_n != n ||
            memcmp(want, proof, n * CF_MERKLE_HASH) != 0)
            abort();
    }
    free(note);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!broker.kind)
        setup();
    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0:
        whole_note(data + 1, size - 1);
        break;
    case 1:
        signed_body(data + 1, size - 1);
        break;
    default:
        receipt(data + 1, size - 1);
    }
    return 0;
}
