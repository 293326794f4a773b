/* `childfirst audit prove` on a real receipt: `childfirst refer` through a
 * real agent and broker, the receipt checked with the broker's public key
 * alone; then each way a receipt can be forged, each refused with its own
 * code; then a "later" proof (a later checkpoint, the leaf's inclusion in it
 * and the consistency proof to it), built from the stopped broker's store as
 * the agent's fetch will get it from the broker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "childfirst/checkpoint.h"
#include "childfirst/merkle.h"
#include "childfirst/store.h"
#include "harness.h"

#define EXAMPLE CF_SOURCE_DIR "/deploy/examples/referral.json"

static char out[1 << 16], err[1 << 16];

struct fx {
    struct net n;
    char key[CF_B64_KEY_LEN + 1];
    json_t *receipt; /* the first referral's, as refer printed it */
    char path[700];  /* where each variant is written */
};

static const char *const cast[] = {"police-a", "la-csc", "la-duty", "guardian-x"};

static json_t *refer(struct fx *f)
{
    const char *args[] = {"refer", EXAMPLE, NULL};
    int status = net_cli(&f->n, "police-a", args, out, sizeof out, err, sizeof err);
    if (status != 0)
        fail_msg("childfirst refer exited %d:\n%s\n%s", status, out, err);
    json_error_t e;
    json_t *r = json_loads(out, 0, &e);
    if (!r)
        fail_msg("the receipt is not JSON: %s", e.text);
    return r;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    net_create(&f->n, NULL);
    net_broker_start(&f->n);
    for (size_t i = 0; i < sizeof cast / sizeof cast[0]; i++) {
        net_agent_setup(&f->n, cast[i], NULL);
        net_agent_start(&f->n, cast[i], NULL);
    }
    cf_keys_b64_encode(f->n.broker->sign_pk, f->key);
    snprintf(f->path, sizeof f->path, "%s/receipt.json", f->n.dir);
    f->receipt = refer(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    for (size_t i = 0; i < sizeof cast / sizeof cast[0]; i++)
        net_agent_stop(&f->n, cast[i]);
    net_broker_stop(&f->n);
    json_decref(f->receipt);
    net_destroy(&f->n);
    free(f);
    return 0;
}

/* Writes the receipt and runs `childfirst audit prove` on it. */
static int prove(struct fx *f, const json_t *receipt, const char *key)
{
    assert_int_equal(json_dump_file(receipt, f->path, JSON_INDENT(2)), 0);
    const char *argv[] = {CF_BIN_DIR "/childfirst", "audit", "prove", f->path, "--broker-key",
                          key ? key : f->key,       NULL};
    int status = net_run_split(argv, out, sizeof out, err, sizeof err);
    if (strstr(err, "Sanitizer") || strstr(err, "runtime error:"))
        fail_msg("childfirst reported a sanitizer error:\n%s", err);
    return status;
}

/* The variant is refused with `code`. */
static void refused(struct fx *f, json_t *variant, const char *code, const char *what)
{
    int status = prove(f, variant, NULL);
    char want[80];
    snprintf(want, sizeof want, "NOT PROVEN: %s: ", code);
    if (status != 1 || !strstr(err, want))
        fail_msg("%s: expected exit 1 and %s; got %d\nstdout:\n%s\nstderr:\n%s", what, code, status,
                 out, err);
    json_decref(variant);
}

static json_t *copy(const struct fx *f)
{
    return json_deep_copy(f->receipt);
}

/* The tree size the note signs. */
static uint64_t note_size(const char *note)
{
    const char *nl = strchr(note, '\n');
    return nl ? strtoull(nl + 1, NULL, 10) : 0;
}

static void test_a_real_receipt_proves(void **state)
{
    struct fx *f = *state;
    if (prove(f, f->receipt, NULL) != 0)
        fail_msg("prove exited non-zero:\n%s\n%s", out, err);
    long long leaf = json_integer_value(json_object_get(f->receipt, "leaf_index"));
    uint64_t size = note_size(json_string_value(json_object_get(f->receipt, "checkpoint")));
    char want[256];
    snprintf(want, sizeof want,
             "proven: leaf %lld is in the broker's signed tree of size %llu\nroot: ", leaf,
             (unsigned long long)size);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "(size "));
    assert_non_null(strstr(out, "origin test.childfirst/log)\n"));
    assert_non_null(strstr(out, "\nevent: accepted\nsender: police-a\ntype: referral\n"));
    snprintf(want, sizeof want, "case: %s\nmessage: %s\ntime: ",
             json_string_value(json_object_get(f->receipt, "case_id")),
             json_string_value(json_object_get(f->receipt, "message_id")));
    assert_non_null(strstr(out, want));
    assert_null(strstr(out, "later"));
}

static void test_forged_receipts_are_refused(void **state)
{
    struct fx *f = *state;
    json_t *proof = json_object_get(f->receipt, "inclusion_proof");
    assert_true(json_array_size(proof) >= 1);

    /* A flipped byte of the record: it is not the leaf any more. */
    json_t *v = copy(f);
    const char *b64 = json_string_value(json_object_get(v, "record"));
    uint8_t rec[4096];
    size_t len;
    assert_int_equal(sodium_base642bin(rec, sizeof rec, b64, strlen(b64), NULL, &len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    rec[len / 2] ^= 0x01;
    char again[8192];
    sodium_bin2base64(again, sizeof again, rec, len, sodium_base64_VARIANT_ORIGINAL);
    json_object_set_new(v, "record", json_string(again));
    refused(f, v, "CF_EPROOF", "a flipped record byte");

    /* A wrong proof element. */
    v = copy(f);
    char hex[65];
    snprintf(hex, sizeof hex, "%s", json_string_value(json_array_get(proof, 0)));
    hex[10] = hex[10] == '0' ? '1' : '0';
    json_array_set_new(json_object_get(v, "inclusion_proof"), 0, json_string(hex));
    refused(f, v, "CF_EPROOF", "a wrong proof element");

    /* An extra proof element, a right one repeated. */
    v = copy(f);
    json_array_append(json_object_get(v, "inclusion_proof"), json_array_get(proof, 0));
    refused(f, v, "CF_EPROOF", "an extra proof element");

    /* A missing proof element. */
    v = copy(f);
    json_array_remove(json_object_get(v, "inclusion_proof"), 0);
    refused(f, v, "CF_EPROOF", "a missing proof element");

    /* An element that is no hash: 31 bytes. */
    v = copy(f);
    hex[62] = 0;
    json_array_set_new(json_object_get(v, "inclusion_proof"), 0, json_string(hex));
    refused(f, v, "CF_EFIELD", "a short proof element");

    /* The index at, and after, the tree's size. */
    uint64_t size = note_size(json_string_value(json_object_get(f->receipt, "checkpoint")));
    v = copy(f);
    json_object_set_new(v, "leaf_index", json_integer((json_int_t)size));
    refused(f, v, "CF_ERANGE", "an index at the tree size");
    v = copy(f);
    json_object_set_new(v, "leaf_index", json_integer((json_int_t)size + 5));
    refused(f, v, "CF_ERANGE", "an index after the tree size");

    /* The same tree signed by another key. */
    struct cf_keys *other;
    struct cf_error e = {0};
    assert_int_equal(cf_keys_generate(CF_KEYS_BROKER, NULL, &other, &e), 0);
    const char *note = json_string_value(json_object_get(f->receipt, "checkpoint"));
    struct cf_checkpoint cp;
    assert_int_equal(cf_checkpoint_open(note, strlen(note), f->n.broker->sign_pk, &cp, &e), 0);
    char *forged;
    size_t forged_len;
    assert_int_equal(cf_checkpoint_sign(cp.origin, cp.size, cp.root, other, &forged, &forged_len),
                     0);
    v = copy(f);
    json_object_set_new(v, "checkpoint", json_string(forged));
    refused(f, v, "CF_ESIG", "a checkpoint signed by another key");
    /* ... which that key would prove: only the key pinned here counts. */
    char other_key[CF_B64_KEY_LEN + 1];
    cf_keys_b64_encode(other->sign_pk, other_key);
    v = copy(f);
    json_object_set_new(v, "checkpoint", json_string(forged));
    assert_int_equal(prove(f, v, other_key), 0);
    json_decref(v);
    free(forged);
    cf_keys_destroy(&other);

    /* Another message's id. */
    v = copy(f);
    json_object_set_new(v, "message_id", json_string("00112233445566778899aabbccddeeff"));
    refused(f, v, "CF_EMISMATCH", "another message id");

    /* Not a receipt at all. */
    v = json_pack("{s:s}", "status", "accepted");
    refused(f, v, "CF_EFIELD", "a document without the receipt's fields");
}

/* The consistency proof and the leaf's inclusion against the store's newest
 * checkpoint: what a ProofRequest for the receipt gets. */
static json_t *later_of(struct fx *f, uint64_t leaf, uint64_t from, bool newest)
{
    struct cf_store s;
    struct cf_error e = {0};
    MDB_txn *txn;
    MDB_val note;
    uint64_t size;
    assert_int_equal(cf_store_open(&s, f->n.state_dir, 0, true, &e), 0);
    assert_int_equal(mdb_txn_begin(s.env, NULL, MDB_RDONLY, &txn), 0);
    if (newest) {
        assert_int_equal(cf_store_checkpoint_latest(&s, txn, &size, &note), 0);
    } else {
        size = 1; /* the first checkpoint: the config leaf alone */
        assert_int_equal(cf_store_checkpoint(&s, txn, size, &note), 0);
    }
    struct cf_merkle_store ms;
    struct cf_store_tree tree;
    cf_store_tree_init(&ms, &tree, &s, txn);
    uint8_t inc[CF_MERKLE_MAX_PROOF][CF_MERKLE_HASH], con[2 * CF_MERKLE_MAX_PROOF][CF_MERKLE_HASH];
    size_t n_inc = 0, n_con = 0;
    if (leaf < size)
        assert_int_equal(cf_merkle_inclusion_proof(&ms, leaf, size, inc, &n_inc), 0);
    if (from <= size)
        assert_int_equal(cf_merkle_consistency_proof(&ms, from, size, con, &n_con), 0);
    json_t *a = json_array(), *b = json_array();
    char hex[65];
    for (size_t i = 0; i < n_inc; i++) {
        sodium_bin2hex(hex, sizeof hex, inc[i], CF_MERKLE_HASH);
        json_array_append_new(a, json_string(hex));
    }
    for (size_t i = 0; i < n_con; i++) {
        sodium_bin2hex(hex, sizeof hex, con[i], CF_MERKLE_HASH);
        json_array_append_new(b, json_string(hex));
    }
    json_t *later = json_pack("{s:s%, s:o, s:o}", "checkpoint", (const char *)note.mv_data,
                              note.mv_size, "inclusion_proof", a, "consistency_proof", b);
    mdb_txn_abort(txn);
    cf_store_close(&s);
    return later;
}

static void test_a_later_proof(void **state)
{
    struct fx *f = *state;
    /* The log grows: two more referrals. */
    json_decref(refer(f));
    json_decref(refer(f));
    for (size_t i = 0; i < sizeof cast / sizeof cast[0]; i++)
        net_agent_stop(&f->n, cast[i]);
    net_broker_stop(&f->n);
    uint64_t leaf = (uint64_t)json_integer_value(json_object_get(f->receipt, "leaf_index"));
    uint64_t size = note_size(json_string_value(json_object_get(f->receipt, "checkpoint")));

    json_t *v = copy(f);
    json_object_set_new(v, "later", later_of(f, leaf, size, true));
    if (prove(f, v, NULL) != 0)
        fail_msg("prove with a later proof exited non-zero:\n%s\n%s", out, err);
    char want[160];
    snprintf(want, sizeof want, "\nlater: leaf %llu is still in the tree of size ",
             (unsigned long long)leaf);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "(consistency proof verified)\nlater root: "));

    /* A consistency proof element flipped. */
    json_t *later = json_object_get(v, "later");
    json_t *con = json_object_get(later, "consistency_proof");
    assert_true(json_array_size(con) >= 1);
    char hex[65];
    snprintf(hex, sizeof hex, "%s", json_string_value(json_array_get(con, 0)));
    hex[0] = hex[0] == 'a' ? 'b' : 'a';
    json_t *w = json_deep_copy(v);
    json_array_set_new(json_object_get(json_object_get(w, "later"), "consistency_proof"), 0,
                       json_string(hex));
    refused(f, w, "CF_EPROOF", "a flipped consistency proof element");
    /* An extra one. */
    w = json_deep_copy(v);
    json_array_append(json_object_get(json_object_get(w, "later"), "consistency_proof"),
                      json_array_get(con, 0));
    refused(f, w, "CF_EPROOF", "an extra consistency proof element");
    /* The inclusion proof in the later tree, flipped. */
    w = json_deep_copy(v);
    json_t *inc = json_object_get(json_object_get(w, "later"), "inclusion_proof");
    snprintf(hex, sizeof hex, "%s", json_string_value(json_array_get(inc, 0)));
    hex[0] = hex[0] == 'a' ? 'b' : 'a';
    json_array_set_new(inc, 0, json_string(hex));
    refused(f, w, "CF_EPROOF", "a flipped later inclusion proof");
    json_decref(v);

    /* A "later" checkpoint of a smaller tree: the log cannot shrink. */
    v = copy(f);
    json_object_set_new(v, "later", later_of(f, leaf, size, false));
    refused(f, v, "CF_ERANGE", "a later checkpoint of a smaller tree");
    net_broker_start(&f->n); /* teardown stops it */
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_real_receipt_proves),
        cmocka_unit_test(test_forged_receipts_are_refused),
        cmocka_unit_test(test_a_later_proof),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
