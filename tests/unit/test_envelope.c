/* Envelope tests: a round trip, then every way a sender, a stranger or the
 * network could tamper with one. Tampering that a malicious *sender* could do
 * is re-signed here with the DESIGN.md section 4 layout written out again
 * independently, so the test also pins that layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "childfirst/envelope.h"
#include "childfirst/keys.h"
#include "childfirst/wire.h"

struct fixture {
    struct cf_keys *police, *csc, *duty, *stranger;
    struct cf_header h;
    uint8_t box_pks[2][CF_BOX_PK];
};

static const char payload_text[] = "a child's details that only the recipients may read";

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(cf_keys_generate(CF_KEYS_AGENCY, "police-test", &f->police, NULL), 0);
    assert_int_equal(cf_keys_generate(CF_KEYS_AGENCY, "la-e09000033-csc", &f->csc, NULL), 0);
    assert_int_equal(cf_keys_generate(CF_KEYS_AGENCY, "la-e09000033-duty", &f->duty, NULL), 0);
    assert_int_equal(cf_keys_generate(CF_KEYS_AGENCY, "stranger", &f->stranger, NULL), 0);
    struct cf_header *h = &f->h;
    h->version = CF_PROTOCOL_VERSION;
    randombytes_buf(h->message_id, sizeof h->message_id);
    cf_header_case_id_new(h->case_id);
    h->type = CF_TYPE_REFERRAL;
    strcpy(h->sender, "police-test");
    h->n_recipients = 2;
    strcpy(h->recipients[0], "la-e09000033-csc");
    strcpy(h->recipients[1], "la-e09000033-duty");
    h->created_at = 1795000000000ull;
    strcpy(h->jurisdiction, "england-wales");
    strcpy(h->la_code, "E09000033");
    h->urgency = CF_URGENCY_IMMEDIATE;
    h->immediate_risk = true;
    memcpy(f->box_pks[0], f->csc->box_pk, CF_BOX_PK);
    memcpy(f->box_pks[1], f->duty->box_pk, CF_BOX_PK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    cf_keys_destroy(&f->police);
    cf_keys_destroy(&f->csc);
    cf_keys_destroy(&f->duty);
    cf_keys_destroy(&f->stranger);
    free(f);
    return 0;
}

static void seal(struct fixture *f, uint8_t **out, size_t *len)
{
    struct cf_error err = {0};
    int rc = cf_envelope_seal(&f->h, (const uint8_t *)payload_text, sizeof payload_text,
                              (const uint8_t(*)[CF_BOX_PK])f->box_pks, f->police, out, len, &err);
    if (rc != 0)
        fail_msg("seal: %s", err.text);
}

/* decode, verify with the sender's key, open as `self`: the first failure. */
static int receive(const uint8_t *buf, size_t len, const struct cf_keys *sender,
                   const struct cf_keys *self, uint8_t **payload, size_t *plen)
{
    struct cf_envelope env;
    struct cf_header h;
    int rc = cf_envelope_decode(buf, len, &env, &h, NULL);
    if (rc == 0)
        rc = cf_envelope_verify(&env, sender->sign_pk);
    if (rc == 0)
        rc = cf_envelope_open(&env, self, payload, plen);
    cf_envelope_fini(&env);
    return rc;
}

/* The envelope signature written out from DESIGN.md section 4, independently of envelope.c. */
static void resign(struct cf_envelope *env, const struct cf_keys *sender)
{
    uint8_t msg[23 + 4 * 32], *p = msg;
    memcpy(p, "childfirst/v1/envelope\0", 23);
    p += 23;
    crypto_generichash(p, 32, env->header, env->header_len, NULL, 0);
    p += 32;
    crypto_generichash(p, 32, env->ciphertext, env->ciphertext_len, NULL, 0);
    p += 32;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    for (size_t i = 0; i < env->n_keys; i++) {
        size_t n = strlen(env->keys[i].recipient);
        uint8_t len_id[2] = {(uint8_t)(n >> 8), (uint8_t)n}, len_key[2] = {0, CF_SEALED_KEY_LEN};
        crypto_generichash_update(&st, len_id, 2);
        crypto_generichash_update(&st, (const uint8_t *)env->keys[i].recipient, n);
        crypto_generichash_update(&st, len_key, 2);
        crypto_generichash_update(&st, env->keys[i].sealed, CF_SEALED_KEY_LEN);
    }
    crypto_generichash_final(&st, p, 32);
    p += 32;
    memcpy(p, env->commit, 32);
    crypto_sign_detached(env->signature, NULL, msg, sizeof msg, sender->sign_sk);
}

static void test_round_trip(void **state)
{
    struct fixture *f = *state;
    uint8_t *buf, *out;
    size_t len, out_len;
    seal(f, &buf, &len);
    const struct cf_keys *readers[] = {f->csc, f->duty};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(receive(buf, len, f->police, readers[i], &out, &out_len), 0);
        assert_int_equal(out_len, sizeof payload_text);
        assert_memory_equal(out, payload_text, out_len);
        free(out);
    }
    /* A freshly signed layout written independently verifies the same way. */
    struct cf_envelope env;
    assert_int_equal(cf_wire_envelope_decode(buf, len, &env, NULL), 0);
    uint8_t sig[CF_SIG_LEN];
    memcpy(sig, env.signature, sizeof sig);
    resign(&env, f->police);
    assert_memory_equal(sig, env.signature, sizeof sig); /* Ed25519 is deterministic */
    cf_envelope_fini(&env);
    free(buf);
}

static void test_padding_buckets(void **state)
{
    struct fixture *f = *state;
    static const struct {
        size_t payload, bucket;
    } cases[] = {{0, 1024},    {1, 1024},    {1023, 1024},
                 {1024, 2048}, {5000, 8192}, {CF_MAX_PLAINTEXT - 1, CF_MAX_PLAINTEXT}};
    uint8_t *payload = calloc(1, CF_MAX_PLAINTEXT);
    assert_non_null(payload);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *buf, *out;
        size_t len, out_len;
        assert_int_equal(cf_envelope_seal(&f->h, payload, cases[i].payload,
                                          (const uint8_t(*)[CF_BOX_PK])f->box_pks, f->police, &buf,
                                          &len, NULL),
                         0);
        struct cf_envelope env;
        assert_int_equal(cf_wire_envelope_decode(buf, len, &env, NULL), 0);
        assert_int_equal(env.ciphertext_len, CF_NONCE_LEN + cases[i].bucket + CF_AEAD_TAG_LEN);
        cf_envelope_fini(&env);
        assert_int_equal(receive(buf, len, f->police, f->csc, &out, &out_len), 0);
        assert_int_equal(out_len, cases[i].payload);
        free(out);
        free(buf);
    }
    uint8_t *buf = NULL;
    size_t len;
    struct cf_error err = {0};
    assert_int_equal(cf_envelope_seal(&f->h, payload, CF_MAX_PLAINTEXT,
                                      (const uint8_t(*)[CF_BOX_PK])f->box_pks, f->police, &buf,
                                      &len, &err),
                     CF_ETOOBIG);
    assert_null(buf);
    free(payload);
}

static void test_non_recipient(void **state)
{
    struct fixture *f = *state;
    uint8_t *buf, *out = NULL;
    size_t len, out_len;
    seal(f, &buf, &len);
    assert_int_equal(receive(buf, len, f->police, f->stranger, &out, &out_len), CF_ENOTRECIPIENT);
    assert_int_equal(receive(buf, len, f->police, f->police, &out, &out_len), CF_ENOTRECIPIENT);
    /* Someone holding the recipient's id but not its box key cannot unseal. */
    memcpy(f->stranger->id, f->csc->id, sizeof f->stranger->id);
    assert_int_equal(receive(buf, len, f->police, f->stranger, &out, &out_len), CF_ESEAL);
    strcpy(f->stranger->id, "stranger");
    /* Verified against another agency's key, the signature fails. */
    assert_int_equal(receive(buf, len, f->stranger, f->csc, &out, &out_len), CF_ESIG);
    assert_null(out);
    free(buf);
}

/* The parts of an encoded Envelope, found by walking its top-level protobuf
 * fields (1 header, 2 ciphertext, 3 keys, 4 commit, 5 signature; all
 * length-delimited) independently of wire.c. Tags and lengths are framing. */
enum part { P_FRAMING, P_HEADER, P_CIPHERTEXT, P_KEYS, P_COMMIT, P_SIGNATURE, P_COUNT };
static const char *const part_names[P_COUNT] = {"framing", "header", "ciphertext",
                                                "keys",    "commit", "signature"};

static size_t varint(const uint8_t *buf, size_t len, size_t *pos)
{
    size_t v = 0;
    for (unsigned shift = 0; *pos < len && shift < 35; shift += 7) {
        uint8_t b = buf[(*pos)++];
        v |= (size_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    fail_msg("a varint runs past byte %zu", *pos);
    return 0;
}

/* part[i] is the part byte i of buf belongs to; checked against the decode. */
static void map_parts(const uint8_t *buf, size_t len, uint8_t *part)
{
    struct cf_envelope env;
    assert_int_equal(cf_wire_envelope_decode(buf, len, &env, NULL), 0);
    size_t pos = 0, keys = 0;
    int last = 0;
    while (pos < len) {
        size_t tag_at = pos, tag = varint(buf, len, &pos);
        int field = (int)(tag >> 3);
        assert_int_equal(tag & 7, 2);
        assert_true(field >= last && field >= 1 && field <= 5); /* in field order */
        last = field;
        size_t n = varint(buf, len, &pos);
        assert_true(n <= len - pos);
        memset(part + tag_at, P_FRAMING, pos - tag_at);
        memset(part + pos, field, n); /* enum part follows the field numbers */
        const uint8_t *v = buf + pos;
        switch (field) {
        case 1:
            assert_int_equal(n, env.header_len);
            assert_memory_equal(v, env.header, n);
            break;
        case 2:
            assert_int_equal(n, env.ciphertext_len);
            assert_memory_equal(v, env.ciphertext, n);
            break;
        case 3:
            /* recipient (field 1), then the sealed key (field 2) last */
            assert_true(keys < env.n_keys && n > CF_SEALED_KEY_LEN);
            assert_memory_equal(v + n - CF_SEALED_KEY_LEN, env.keys[keys].sealed,
                                CF_SEALED_KEY_LEN);
            keys++;
            break;
        case 4:
            assert_int_equal(n, CF_HASH_LEN);
            assert_memory_equal(v, env.commit, n);
            break;
        case 5:
            assert_int_equal(n, CF_SIG_LEN);
            assert_memory_equal(v, env.signature, n);
            break;
        }
        pos += n;
    }
    assert_int_equal(keys, env.n_keys);
    assert_int_equal(last, 5);
    cf_envelope_fini(&env);
}

#define CODE_SLOTS 64 /* more than -(the lowest code in error.h) */

static bool structural(const size_t *codes)
{
    return codes[-CF_EDECODE] + codes[-CF_EUNKNOWNFIELD] + codes[-CF_ECANON] > 0;
}

static void test_every_bit_flip_detected(void **state)
{
    struct fixture *f = *state;
    uint8_t *buf;
    size_t len;
    seal(f, &buf, &len);
    uint8_t *part = malloc(len);
    assert_non_null(part);
    map_parts(buf, len, part);
    size_t caught[P_COUNT][CODE_SLOTS] = {{0}}, flips[P_COUNT] = {0};
    for (size_t bit = 0; bit < len * 8; bit++) {
        uint8_t *out = NULL;
        size_t out_len;
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        int rc = receive(buf, len, f->police, f->csc, &out, &out_len);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (rc == 0)
            fail_msg("flipping bit %zu of %zu (%s) went undetected", bit, len * 8,
                     part_names[part[bit / 8]]);
        if (rc > 0 || -rc >= CODE_SLOTS)
            fail_msg("flipping bit %zu gave %d, not a CF_E* code", bit, rc);
        free(out);
        flips[part[bit / 8]]++;
        caught[part[bit / 8]][-rc]++;
    }
    for (int p = 0; p < P_COUNT; p++) {
        print_message("%-10s %5zu flips:", part_names[p], flips[p]);
        for (int c = 1; c < CODE_SLOTS; c++)
            if (caught[p][c])
                print_message(" %s %zu", cf_error_name(-c), caught[p][c]);
        print_message("\n");
        if (flips[p] == 0)
            fail_msg("no flip landed in the %s", part_names[p]);
    }
    /* Every bit of a digest-covered value reaches the signature check and fails it. */
    assert_int_equal(caught[P_CIPHERTEXT][-CF_ESIG], flips[P_CIPHERTEXT]);
    assert_int_equal(caught[P_COMMIT][-CF_ESIG], flips[P_COMMIT]);
    assert_int_equal(caught[P_SIGNATURE][-CF_ESIG], flips[P_SIGNATURE]);
    /* The header's random message id is caught by the signature, its tags by decoding. */
    assert_true(caught[P_HEADER][-CF_ESIG] > 0);
    assert_true(structural(caught[P_HEADER]));
    /* A sealed key is caught by the signature, a renamed recipient by the key list. */
    assert_true(caught[P_KEYS][-CF_ESIG] > 0);
    assert_true(caught[P_KEYS][-CF_EKEYLIST] > 0);
    /* A broken tag or length never gets as far as the signature. */
    assert_true(structural(caught[P_FRAMING]));
    assert_int_equal(caught[P_FRAMING][-CF_ESIG], 0);
    uint8_t *out;
    size_t out_len;
    assert_int_equal(receive(buf, len, f->police, f->csc, &out, &out_len), 0);
    free(out);
    free(part);
    free(buf);
}

static void test_different_key_caught_by_commitment(void **state)
{
    struct fixture *f = *state;
    uint8_t *buf, *out = NULL;
    size_t len, out_len;
    seal(f, &buf, &len);
    struct cf_envelope env;
    assert_int_equal(cf_wire_envelope_decode(buf, len, &env, NULL), 0);
    free(buf);
    /* A dishonest sender gives the duty team another content key and signs it all. */
    uint8_t other[CF_CONTENT_KEY_LEN];
    randombytes_buf(other, sizeof other);
    assert_int_equal(crypto_box_seal(env.keys[1].sealed, other, sizeof other, f->duty->box_pk), 0);
    resign(&env, f->police);
    assert_int_equal(cf_wire_envelope_encode(&env, &buf, &len), 0);
    cf_envelope_fini(&env);
    assert_int_equal(receive(buf, len, f->police, f->duty, &out, &out_len), CF_ECOMMIT);
    assert_null(out);
    assert_int_equal(receive(buf, len, f->police, f->csc, &out, &out_len), 0);
    free(out);
    free(buf);
}

static void test_reordered_keys_rejected(void **state)
{
    struct fixture *f = *state;
    uint8_t *buf, *out = NULL;
    size_t len, out_len;
    seal(f, &buf, &len);
    struct cf_envelope env;
    assert_int_equal(cf_wire_envelope_decode(buf, len, &env, NULL), 0);
    free(buf);
    struct cf_key_entry t = env.keys[0];
    env.keys[0] = env.keys[1];
    env.keys[1] = t;
    resign(&env, f->police);
    assert_int_equal(cf_wire_envelope_encode(&env, &buf, &len), 0);
    struct cf_envelope env2;
    struct cf_header h;
    struct cf_error err = {0};
    assert_int_equal(cf_envelope_decode(buf, len, &env2, &h, &err), CF_EKEYLIST);
    assert_non_null(strstr(err.text, "envelope.keys[0]"));
    cf_envelope_fini(&env2);
    assert_int_equal(receive(buf, len, f->police, f->csc, &out, &out_len), CF_EKEYLIST);
    free(buf);
    /* A key list missing a recipient is refused the same way. */
    env.n_keys = 1;
    resign(&env, f->police);
    assert_int_equal(cf_wire_envelope_encode(&env, &buf, &len), 0);
    assert_int_equal(receive(buf, len, f->police, f->csc, &out, &out_len), CF_EKEYLIST);
    free(buf);
    cf_envelope_fini(&env);
}

/* Replaces the envelope's header bytes, re-signed by the sender. */
static int with_header(struct fixture *f, const uint8_t *hdr, size_t hlen)
{
    uint8_t *buf, *out = NULL;
    size_t len, out_len;
    seal(f, &buf, &len);
    struct cf_envelope env;
    assert_int_equal(cf_wire_envelope_decode(buf, len, &env, NULL), 0);
    free(buf);
    free(env.header);
    env.header = malloc(hlen);
    memcpy(env.header, hdr, hlen);
    env.header_len = hlen;
    resign(&env, f->police);
    assert_int_equal(cf_wire_envelope_encode(&env, &buf, &len), 0);
    cf_envelope_fini(&env);
    int rc = receive(buf, len, f->police, f->csc, &out, &out_len);
    free(out);
    free(buf);
    return rc;
}

static void test_non_canonical_header_rejected(void **state)
{
    struct fixture *f = *state;
    uint8_t *hdr;
    size_t hlen;
    assert_int_equal(cf_wire_header_encode(&f->h, &hdr, &hlen), 0);
    uint8_t *x = malloc(hlen + 16);
    assert_non_null(x);

    /* The canonical bytes themselves are accepted. */
    assert_int_equal(with_header(f, hdr, hlen), 0);

    /* version = 1 again at the end: same meaning, different bytes. */
    memcpy(x, hdr, hlen);
    x[hlen] = 0x08, x[hlen + 1] = 0x01;
    assert_int_equal(with_header(f, x, hlen + 2), CF_ECANON);

    /* version as a non-minimal varint (0x81 0x00 means 1). */
    assert_int_equal(hdr[0], 0x08);
    assert_int_equal(hdr[1], 0x01);
    x[0] = 0x08, x[1] = 0x81, x[2] = 0x00;
    memcpy(x + 3, hdr + 2, hlen - 2);
    assert_int_equal(with_header(f, x, hlen + 1), CF_ECANON);

    /* An unknown field 99 (varint) appended. */
    memcpy(x, hdr, hlen);
    x[hlen] = 0x98, x[hlen + 1] = 0x06, x[hlen + 2] = 0x01;
    assert_int_equal(with_header(f, x, hlen + 3), CF_EUNKNOWNFIELD);

    /* Truncated: a required field is cut off. */
    assert_int_equal(with_header(f, hdr, hlen - 1), CF_EDECODE);
    free(x);
    free(hdr);
}

/* A sender who seals for one header and then signs another, equally valid,
 * passes every check a broker can make; only the associated data, B(header)
 * inside the AEAD, tells the recipient the payload was not sealed for it. */
static void test_swapped_header_fails_decryption(void **state)
{
    struct fixture *f = *state;
    struct cf_header other = f->h;
    randombytes_buf(other.message_id, sizeof other.message_id);
    other.created_at += 1000;
    other.urgency = CF_URGENCY_ROUTINE;
    other.immediate_risk = false;
    uint8_t *hdr, *buf, *out = NULL;
    size_t hlen, len, out_len;
    assert_int_equal(cf_wire_header_encode(&other, &hdr, &hlen), 0);

    seal(f, &buf, &len);
    struct cf_envelope env;
    assert_int_equal(cf_wire_envelope_decode(buf, len, &env, NULL), 0);
    free(buf);
    free(env.header);
    env.header = hdr;
    env.header_len = hlen;
    resign(&env, f->police);
    assert_int_equal(cf_wire_envelope_encode(&env, &buf, &len), 0);
    cf_envelope_fini(&env);

    struct cf_header h;
    assert_int_equal(cf_envelope_decode(buf, len, &env, &h, NULL), 0);
    assert_int_equal(h.urgency, CF_URGENCY_ROUTINE);
    assert_int_equal(cf_envelope_verify(&env, f->police->sign_pk), 0);
    assert_int_equal(cf_envelope_open(&env, f->csc, &out, &out_len), CF_EDECRYPT);
    assert_int_equal(cf_envelope_open(&env, f->duty, &out, &out_len), CF_EDECRYPT);
    assert_null(out);
    cf_envelope_fini(&env);
    free(buf);
}

/* Replaces env's payload with `plain` (one bucket, already padded or not)
 * encrypted by hand exactly as DESIGN.md section 4 says: a fresh content key,
 * AD = "childfirst/v1/payload\0" || B(header), the key sealed to each recipient
 * and committed to; then re-signs. Only the padding is left for open to judge. */
static void encrypt_by_hand(struct fixture *f, struct cf_envelope *env, const uint8_t *plain,
                            size_t bucket)
{
    uint8_t key[CF_CONTENT_KEY_LEN], ad[22 + 32];
    crypto_aead_xchacha20poly1305_ietf_keygen(key);
    memcpy(ad, "childfirst/v1/payload\0", 22);
    crypto_generichash(ad + 22, 32, env->header, env->header_len, NULL, 0);
    free(env->ciphertext);
    env->ciphertext_len = CF_NONCE_LEN + bucket + CF_AEAD_TAG_LEN;
    env->ciphertext = malloc(env->ciphertext_len);
    assert_non_null(env->ciphertext);
    randombytes_buf(env->ciphertext, CF_NONCE_LEN);
    crypto_aead_xchacha20poly1305_ietf_encrypt(env->ciphertext + CF_NONCE_LEN, NULL, plain, bucket,
                                               ad, sizeof ad, NULL, env->ciphertext, key);
    assert_int_equal(env->n_keys, 2);
    for (size_t i = 0; i < env->n_keys; i++)
        assert_int_equal(crypto_box_seal(env->keys[i].sealed, key, sizeof key, f->box_pks[i]), 0);
    static const char msg[] = "childfirst/v1/commit";
    crypto_generichash(env->commit, CF_HASH_LEN, (const uint8_t *)msg, sizeof msg - 1, key,
                       sizeof key);
    sodium_memzero(key, sizeof key);
    resign(env, f->police);
}

static void test_malformed_padding(void **state)
{
    struct fixture *f = *state;
    enum { BUCKET = CF_MIN_BUCKET, TEXT = 5 };
    /* ISO/IEC 7816-4 padding: the payload, 0x80, then zeros to the bucket. */
    static const struct {
        const char *what;
        size_t at; /* where `byte` is written over the well-padded bucket */
        uint8_t byte;
        int code;
    } cases[] = {
        {"well padded (the control)", 0, 'h', 0},
        {"no 0x80 marker", TEXT, 0x00, CF_EPAD},
        {"0x81 for the marker", TEXT, 0x81, CF_EPAD},
        {"a byte after the marker", BUCKET - 1, 0x01, CF_EPAD},
        {"a second marker at the end", BUCKET - 1, 0x80, 0}, /* a payload ending in 0x80 */
        {"0xff for the last byte", BUCKET - 1, 0xff, CF_EPAD},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t plain[BUCKET] = {0}, *buf, *out = NULL;
        size_t len, out_len;
        memcpy(plain, "hello", TEXT);
        plain[TEXT] = 0x80;
        plain[cases[i].at] = cases[i].byte;

        seal(f, &buf, &len);
        struct cf_envelope env;
        assert_int_equal(cf_wire_envelope_decode(buf, len, &env, NULL), 0);
        free(buf);
        encrypt_by_hand(f, &env, plain, sizeof plain);
        assert_int_equal(cf_wire_envelope_encode(&env, &buf, &len), 0);
        cf_envelope_fini(&env);

        int rc = receive(buf, len, f->police, f->csc, &out, &out_len);
        if (rc != cases[i].code)
            fail_msg("%s: got %s, want %s", cases[i].what, cf_error_name(rc),
                     cf_error_name(cases[i].code));
        if (rc == 0) {
            size_t want = cases[i].at == BUCKET - 1 ? BUCKET - 1 : TEXT;
            assert_int_equal(out_len, want);
            assert_memory_equal(out, plain, want);
            free(out);
        } else {
            assert_null(out);
        }
        free(buf);
    }
}

/* Mistakes of the caller, not of the sender: they must not read as a verdict
 * on the envelope (which an agent would answer with a nack). */
static void test_open_misuse_is_einval(void **state)
{
    struct fixture *f = *state;
    uint8_t *buf, *out = NULL;
    size_t len, out_len;
    seal(f, &buf, &len);
    struct cf_envelope env;
    struct cf_header h;
    assert_int_equal(cf_envelope_decode(buf, len, &env, &h, NULL), 0);

    /* A broker key set has no box key, even under a recipient's name. */
    struct cf_keys *broker;
    assert_int_equal(cf_keys_generate(CF_KEYS_BROKER, NULL, &broker, NULL), 0);
    assert_false(broker->has_box);
    assert_int_equal(cf_envelope_open(&env, broker, &out, &out_len), CF_EINVAL);
    memcpy(broker->id, f->csc->id, sizeof broker->id);
    assert_int_equal(cf_envelope_open(&env, broker, &out, &out_len), CF_EINVAL);
    cf_keys_destroy(&broker);

    /* A ciphertext shorter than any bucket cannot come from cf_envelope_decode. */
    size_t full = env.ciphertext_len;
    env.ciphertext_len = CF_NONCE_LEN + CF_AEAD_TAG_LEN + CF_MIN_BUCKET - 1;
    assert_int_equal(cf_envelope_open(&env, f->csc, &out, &out_len), CF_EINVAL);
    env.ciphertext_len = full;
    assert_null(out);
    assert_int_equal(cf_envelope_open(&env, f->csc, &out, &out_len), 0);
    free(out);
    cf_envelope_fini(&env);
    free(buf);
}

static void test_seal_refusals(void **state)
{
    struct fixture *f = *state;
    uint8_t *buf = NULL;
    size_t len;
    struct cf_error err = {0};
    const uint8_t(*pks)[CF_BOX_PK] = (const uint8_t(*)[CF_BOX_PK])f->box_pks;
    assert_int_equal(
        cf_envelope_seal(&f->h, (const uint8_t *)"x", 1, pks, f->csc, &buf, &len, &err),
        CF_ESENDER);
    struct cf_header h = f->h;
    h.version = 2;
    assert_int_equal(
        cf_envelope_seal(&h, (const uint8_t *)"x", 1, pks, f->police, &buf, &len, &err),
        CF_EVERSION);
    h = f->h;
    strcpy(h.recipients[1], h.recipients[0]);
    assert_int_equal(
        cf_envelope_seal(&h, (const uint8_t *)"x", 1, pks, f->police, &buf, &len, &err), CF_EFIELD);
    assert_non_null(strstr(err.text, "header.recipients[1]"));
    h = f->h;
    strcpy(h.sender, "Police");
    assert_int_equal(
        cf_envelope_seal(&h, (const uint8_t *)"x", 1, pks, f->police, &buf, &len, &err), CF_EID);
    assert_null(buf);
}

static void test_oversize_input_refused(void **state)
{
    (void)state;
    size_t big = CF_MAX_ENVELOPE + 1;
    uint8_t *buf = calloc(1, big);
    struct cf_envelope env;
    struct cf_header h;
    assert_int_equal(cf_envelope_decode(buf, big, &env, &h, NULL), CF_ETOOBIG);
    cf_envelope_fini(&env);
    assert_int_equal(cf_wire_header_decode(buf, CF_MAX_HEADER + 1, &h, NULL), CF_ETOOBIG);
    assert_int_equal(cf_envelope_decode(buf, 0, &env, &h, NULL), CF_EDECODE);
    cf_envelope_fini(&env);
    free(buf);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_padding_buckets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_recipient, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_bit_flip_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_different_key_caught_by_commitment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reordered_keys_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_canonical_header_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swapped_header_fails_decryption, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_padding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_misuse_is_einval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversize_input_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
