/* Sealing and opening envelopes (layout in envelope.h). The checks run in a
 * fixed order so each failure has one code: structure, signature, then, for a
 * recipient, seal, key commitment, decryption and padding. The commitment is
 * checked before decrypting, so a key that was never meant for everyone is
 * refused before any of its plaintext exists.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "childfirst/buf.h"
#include "childfirst/envelope.h"
#include "childfirst/wire.h"

static const char payload_tag[] = "childfirst/v1/payload"; /* the tags end with their NUL */
static const char envelope_tag[] = "childfirst/v1/envelope";
static const char commit_msg[] = "childfirst/v1/commit";   /* hashed without a NUL */
static const char ack_tag[] = "childfirst/v1/ack";

static void b2b(const void *data, size_t len, uint8_t out[CF_HASH_LEN])
{
    crypto_generichash(out, CF_HASH_LEN, data, len, NULL, 0);
}

void cf_envelope_hash(const uint8_t *data, size_t len, uint8_t out[CF_HASH_LEN])
{
    b2b(data, len, out);
}

/* BLAKE2b-256 of the key list in its length-prefixed form. */
static int keys_digest(const struct cf_key_entry *keys, size_t n, uint8_t out[CF_HASH_LEN])
{
    struct cf_buf b;
    cf_buf_init(&b, 0);
    for (size_t i = 0; i < n; i++) {
        cf_buf_put_str(&b, keys[i].recipient);
        cf_buf_put_field(&b, keys[i].sealed, sizeof keys[i].sealed);
    }
    int rc = cf_buf_status(&b);
    if (rc == 0)
        b2b(b.data, b.len, out);
    cf_buf_fini(&b);
    return rc;
}

void cf_envelope_digests(const struct cf_envelope *env, struct cf_envelope_digests *d)
{
    b2b(env->header, env->header_len, d->header);
    b2b(env->ciphertext, env->ciphertext_len, d->ciphertext);
    /* A decoded envelope's key list is bounded, so this cannot fail. */
    if (keys_digest(env->keys, env->n_keys, d->keys) != 0)
        memset(d->keys, 0, sizeof d->keys);
}

/* The bytes the sender signs. */
static void signed_bytes(const struct cf_envelope *env,
                         uint8_t out[sizeof envelope_tag + 3 * CF_HASH_LEN + CF_HASH_LEN])
{
    struct cf_envelope_digests d;
    cf_envelope_digests(env, &d);
    uint8_t *p = out;
    memcpy(p, envelope_tag, sizeof envelope_tag);
    p += sizeof envelope_tag;
    memcpy(p, d.header, CF_HASH_LEN);
    memcpy(p + CF_HASH_LEN, d.ciphertext, CF_HASH_LEN);
    memcpy(p + 2 * CF_HASH_LEN, d.keys, CF_HASH_LEN);
    memcpy(p + 3 * CF_HASH_LEN, env->commit, CF_HASH_LEN);
}

static void associated_data(const uint8_t *header, size_t len,
                            uint8_t out[sizeof payload_tag + CF_HASH_LEN])
{
    memcpy(out, payload_tag, sizeof payload_tag);
    b2b(header, len, out + sizeof payload_tag);
}

static void commitment(const uint8_t key[CF_CONTENT_KEY_LEN], uint8_t out[CF_HASH_LEN])
{
    crypto_generichash(out, CF_HASH_LEN, (const uint8_t *)commit_msg, sizeof commit_msg - 1, key,
                       CF_CONTENT_KEY_LEN);
}

/* The smallest bucket (a power of two, at least CF_MIN_BUCKET) that holds
 * `len` bytes and the padding marker; 0 if none does. */
static size_t bucket_for(size_t len)
{
    size_t b = CF_MIN_BUCKET;
    while (b <= len && b < CF_MAX_PLAINTEXT)
        b *= 2;
    return len < b ? b : 0;
}

int cf_envelope_seal(const struct cf_header *h, const uint8_t *payload, size_t len,
                     const uint8_t (*box_pks)[CF_BOX_PK], const struct cf_keys *sender,
                     uint8_t **out, size_t *out_len, struct cf_error *err)
{
    int rc = cf_header_check(h, err);
    if (rc != 0)
        return rc;
    if (strcmp(h->sender, sender->id) != 0)
        return cf_error_set(err, CF_ESENDER, "header.sender %s is not the signing agency %s",
                            h->sender, sender->id);
    size_t bucket = bucket_for(len);
    if (bucket == 0)
        return cf_error_set(err, CF_ETOOBIG, "payload: %zu bytes, at most %u allowed", len,
                            CF_MAX_PLAINTEXT - 1);

    struct cf_envelope env;
    memset(&env, 0, sizeof env);
    uint8_t *padded = NULL, *key = sodium_malloc(CF_CONTENT_KEY_LEN);
    if (!key) {
        rc = cf_error_set(err, CF_ENOMEM, "cannot allocate secure memory");
        goto out;
    }
    if ((rc = cf_wire_header_encode(h, &env.header, &env.header_len)) != 0) {
        rc = cf_error_set(err, rc, "header: cannot encode");
        goto out;
    }
    padded = malloc(bucket);
    env.ciphertext_len = CF_NONCE_LEN + bucket + CF_AEAD_TAG_LEN;
    env.ciphertext = malloc(env.ciphertext_len);
    if (!padded || !env.ciphertext) {
        rc = cf_error_set(err, CF_ENOMEM, "payload: out of memory");
        goto out;
    }
    memcpy(padded, payload, len);
    size_t padded_len;
    if (sodium_pad(&padded_len, padded, len, bucket, bucket) != 0 || padded_len != bucket) {
        rc = cf_error_set(err, CF_EPAD, "payload: cannot pad");
        goto out;
    }

    crypto_aead_xchacha20poly1305_ietf_keygen(key);
    randombytes_buf(env.ciphertext, CF_NONCE_LEN);
    uint8_t ad[sizeof payload_tag + CF_HASH_LEN];
    associated_data(env.header, env.header_len, ad);
    crypto_aead_xchacha20poly1305_ietf_encrypt(env.ciphertext + CF_NONCE_LEN, NULL, padded, bucket,
                                               ad, sizeof ad, NULL, env.ciphertext, key);
    env.n_keys = h->n_recipients;
    for (size_t i = 0; i < h->n_recipients; i++) {
        memcpy(env.keys[i].recipient, h->recipients[i], sizeof env.keys[i].recipient);
        if (crypto_box_seal(env.keys[i].sealed, key, CF_CONTENT_KEY_LEN, box_pks[i]) != 0) {
            rc = cf_error_set(err, CF_ESEAL, "cannot seal the content key for %s",
                              h->recipients[i]);
            goto out;
        }
    }
    commitment(key, env.commit);
    uint8_t msg[sizeof envelope_tag + 4 * CF_HASH_LEN];
    signed_bytes(&env, msg);
    crypto_sign_detached(env.signature, NULL, msg, sizeof msg, sender->sign_sk);
    if ((rc = cf_wire_envelope_encode(&env, out, out_len)) != 0)
        rc = cf_error_set(err, rc, "envelope: cannot encode");
out:
    if (padded) {
        sodium_memzero(padded, bucket);
        free(padded);
    }
    if (key)
        sodium_free(key);
    cf_envelope_fini(&env);
    return rc;
}

int cf_envelope_decode(const uint8_t *buf, size_t len, struct cf_envelope *env,
                       struct cf_header *hdr, struct cf_error *err)
{
    int rc = cf_wire_envelope_decode(buf, len, env, err);
    if (rc != 0)
        return rc;
    if ((rc = cf_wire_header_decode(env->header, env->header_len, hdr, err)) != 0)
        return rc;
    if (env->n_keys != hdr->n_recipients)
        return cf_error_set(err, CF_EKEYLIST, "envelope.keys: %zu entries for %zu recipients",
                            env->n_keys, hdr->n_recipients);
    for (size_t i = 0; i < env->n_keys; i++)
        if (strcmp(env->keys[i].recipient, hdr->recipients[i]) != 0)
            return cf_error_set(err, CF_EKEYLIST,
                                "envelope.keys[%zu]: names %s where the header has %s", i,
                                env->keys[i].recipient, hdr->recipients[i]);
    return 0;
}

int cf_envelope_verify(const struct cf_envelope *env, const uint8_t sender_pk[CF_SIGN_PK])
{
    uint8_t msg[sizeof envelope_tag + 4 * CF_HASH_LEN];
    signed_bytes(env, msg);
    return crypto_sign_verify_detached(env->signature, msg, sizeof msg, sender_pk) == 0 ? 0
                                                                                        : CF_ESIG;
}

int cf_envelope_open(const struct cf_envelope *env, const struct cf_keys *self, uint8_t **payload,
                     size_t *len)
{
    const struct cf_key_entry *mine = NULL;
    for (size_t i = 0; i < env->n_keys && !mine; i++)
        if (strcmp(env->keys[i].recipient, self->id) == 0)
            mine = &env->keys[i];
    if (!mine || !self->has_box)
        return CF_ENOTRECIPIENT;
    if (env->ciphertext_len < CF_NONCE_LEN + CF_AEAD_TAG_LEN + CF_MIN_BUCKET)
        return CF_EDECRYPT;

    int rc = 0;
    size_t body = env->ciphertext_len - CF_NONCE_LEN - CF_AEAD_TAG_LEN;
    uint8_t *key = sodium_malloc(CF_CONTENT_KEY_LEN), *plain = malloc(body);
    uint8_t commit[CF_HASH_LEN], ad[sizeof payload_tag + CF_HASH_LEN];
    if (!key || !plain) {
        rc = CF_ENOMEM;
        goto out;
    }
    if (crypto_box_seal_open(key, mine->sealed, sizeof mine->sealed, self->box_pk, self->box_sk) !=
        0) {
        rc = CF_ESEAL;
        goto out;
    }
    commitment(key, commit);
    if (sodium_memcmp(commit, env->commit, CF_HASH_LEN) != 0) {
        rc = CF_ECOMMIT;
        goto out;
    }
    associated_data(env->header, env->header_len, ad);
    unsigned long long plain_len;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plain_len, NULL,
                                                   env->ciphertext + CF_NONCE_LEN,
                                                   env->ciphertext_len - CF_NONCE_LEN, ad,
                                                   sizeof ad, env->ciphertext, key) != 0) {
        rc = CF_EDECRYPT;
        goto out;
    }
    size_t unpadded;
    if (sodium_unpad(&unpadded, plain, (size_t)plain_len, (size_t)plain_len) != 0) {
        rc = CF_EPAD;
        goto out;
    }
    *payload = plain;
    *len = unpadded;
    plain = NULL;
out:
    if (plain) {
        sodium_memzero(plain, body);
        free(plain);
    }
    if (key)
        sodium_free(key);
    return rc;
}

/* The ack layout into `out`; returns its length, or 0 for an over-long code. */
static size_t ack_bytes(const uint8_t message_id[CF_MESSAGE_ID_LEN],
                        const uint8_t hash[CF_HASH_LEN], const char *code,
                        uint8_t out[sizeof ack_tag + CF_MESSAGE_ID_LEN + CF_HASH_LEN + 2 + 255])
{
    size_t n = strlen(code);
    if (n > 255)
        return 0;
    uint8_t *p = out;
    memcpy(p, ack_tag, sizeof ack_tag);
    p += sizeof ack_tag;
    memcpy(p, message_id, CF_MESSAGE_ID_LEN);
    p += CF_MESSAGE_ID_LEN;
    memcpy(p, hash, CF_HASH_LEN);
    p += CF_HASH_LEN;
    *p++ = (uint8_t)(n >> 8);
    *p++ = (uint8_t)n;
    memcpy(p, code, n);
    return (size_t)(p + n - out);
}

int cf_envelope_ack_sign(const uint8_t message_id[CF_MESSAGE_ID_LEN],
                         const uint8_t delivered_hash[CF_HASH_LEN], const char *code,
                         const struct cf_keys *recipient, uint8_t sig[CF_SIG_LEN])
{
    uint8_t msg[sizeof ack_tag + CF_MESSAGE_ID_LEN + CF_HASH_LEN + 2 + 255];
    size_t n = ack_bytes(message_id, delivered_hash, code, msg);
    if (n == 0)
        return CF_EINVAL;
    crypto_sign_detached(sig, NULL, msg, n, recipient->sign_sk);
    return 0;
}

int cf_envelope_ack_verify(const uint8_t message_id[CF_MESSAGE_ID_LEN],
                           const uint8_t delivered_hash[CF_HASH_LEN], const char *code,
                           const uint8_t sig[CF_SIG_LEN], const uint8_t recipient_pk[CF_SIGN_PK])
{
    uint8_t msg[sizeof ack_tag + CF_MESSAGE_ID_LEN + CF_HASH_LEN + 2 + 255];
    size_t n = ack_bytes(message_id, delivered_hash, code, msg);
    if (n == 0)
        return CF_EINVAL;
    return crypto_sign_verify_detached(sig, msg, n, recipient_pk) == 0 ? 0 : CF_ESIG;
}

void cf_envelope_fini(struct cf_envelope *env)
{
    free(env->header);
    free(env->ciphertext);
    memset(env, 0, sizeof *env);
}
