/* Sealing and opening envelopes (layout in envelope.h), and the small signed
 * layouts around them (acks, votes, determinations). The checks run in a
 * fixed order so each failure has one code: structure, signature, then, for a
 * recipient, seal, key commitment, decryption and padding. The commitment is
 * checked before decrypting, so a key that was never meant for everyone is
 * refused before any of its plaintext exists. A determination proposal seals
 * a second part, its NRM return, the same way for one recipient.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "childfirst/buf.h"
#include "childfirst/envelope.h"
#include "childfirst/wire.h"

/* The signed tags end with their NUL; the commitment message has none. */
static const char payload_tag[] = "childfirst/v1/payload";
static const char return_tag[] = "childfirst/v1/nrm_return";
static const char envelope_tag[] = "childfirst/v1/envelope";
static const char commit_msg[] = "childfirst/v1/commit";
static const char ack_tag[] = "childfirst/v1/ack";
static const char vote_tag[] = "childfirst/v1/vote";
static const char determination_tag[] = "childfirst/v1/determination";

static void b2b(const void *data, size_t len, uint8_t out[CF_HASH_LEN])
{
    crypto_generichash(out, CF_HASH_LEN, data, len, NULL, 0);
}

void cf_envelope_hash(const uint8_t *data, size_t len, uint8_t out[CF_HASH_LEN])
{
    b2b(data, len, out);
}

/* BLAKE2b-256 of a key list in its length-prefixed form. */
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
    memset(d, 0, sizeof *d);
    b2b(env->header, env->header_len, d->header);
    b2b(env->ciphertext, env->ciphertext_len, d->ciphertext);
    /* A decoded envelope's key lists are bounded, so these cannot fail. */
    if (keys_digest(env->keys, env->n_keys, d->keys) != 0)
        memset(d->keys, 0, sizeof d->keys);
    memcpy(d->commit, env->commit, CF_HASH_LEN);
    if (env->has_nrm) {
        d->has_nrm = true;
        b2b(env->nrm_ciphertext, env->nrm_ciphertext_len, d->nrm);
        if (keys_digest(&env->nrm_key, 1, d->nrm_keys) != 0)
            memset(d->nrm_keys, 0, sizeof d->nrm_keys);
        memcpy(d->nrm_commit, env->nrm_commit, CF_HASH_LEN);
    }
}

#define SIGNED_MAX (sizeof envelope_tag + 7 * CF_HASH_LEN)

/* The bytes the sender signs; returns their length. */
static size_t signed_bytes(const struct cf_envelope_digests *d, uint8_t out[SIGNED_MAX])
{
    uint8_t *p = out;
    memcpy(p, envelope_tag, sizeof envelope_tag);
    p += sizeof envelope_tag;
    memcpy(p, d->header, CF_HASH_LEN), p += CF_HASH_LEN;
    memcpy(p, d->ciphertext, CF_HASH_LEN), p += CF_HASH_LEN;
    memcpy(p, d->keys, CF_HASH_LEN), p += CF_HASH_LEN;
    memcpy(p, d->commit, CF_HASH_LEN), p += CF_HASH_LEN;
    if (d->has_nrm) {
        memcpy(p, d->nrm, CF_HASH_LEN), p += CF_HASH_LEN;
        memcpy(p, d->nrm_keys, CF_HASH_LEN), p += CF_HASH_LEN;
        memcpy(p, d->nrm_commit, CF_HASH_LEN), p += CF_HASH_LEN;
    }
    return (size_t)(p - out);
}

/* The associated data of a part: its tag, then B(header). */
static void associated_data(const char *tag, size_t tag_size, const uint8_t *header, size_t len,
                            uint8_t *out)
{
    memcpy(out, tag, tag_size);
    b2b(header, len, out + tag_size);
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

/* One sealed part: `payload` padded and encrypted under a fresh content key
 * bound to the header by `tag`, the key sealed to each of `n` recipients, and
 * the key's commitment. On success *ciphertext is the caller's to free. */
static int seal_part(const char *tag, size_t tag_size, const uint8_t *header, size_t header_len,
                     const uint8_t *payload, size_t len, const cf_id *ids,
                     const uint8_t (*box_pks)[CF_BOX_PK], size_t n, uint8_t **ciphertext,
                     size_t *ciphertext_len, struct cf_key_entry *keys, uint8_t commit[CF_HASH_LEN],
                     struct cf_error *err)
{
    size_t bucket = bucket_for(len);
    if (bucket == 0)
        return cf_error_set(err, CF_ETOOBIG, "payload: %zu bytes, at most %u allowed", len,
                            CF_MAX_PLAINTEXT - 1);
    int rc = 0;
    uint8_t *key = sodium_malloc(CF_CONTENT_KEY_LEN), *padded = malloc(bucket);
    uint8_t *ct = malloc(CF_NONCE_LEN + bucket + CF_AEAD_TAG_LEN), ad[64];
    size_t padded_len;
    if (!key || !padded || !ct) {
        rc = cf_error_set(err, CF_ENOMEM, "payload: out of memory");
        goto out;
    }
    memcpy(padded, payload, len);
    /* bucket_for left room for the marker, so this failing is a bug here. */
    if (sodium_pad(&padded_len, padded, len, bucket, bucket) != 0 || padded_len != bucket) {
        rc = cf_error_set(err, CF_EINVAL, "payload: cannot pad %zu bytes to %zu", len, bucket);
        goto out;
    }
    crypto_aead_xchacha20poly1305_ietf_keygen(key);
    randombytes_buf(ct, CF_NONCE_LEN);
    associated_data(tag, tag_size, header, header_len, ad);
    crypto_aead_xchacha20poly1305_ietf_encrypt(ct + CF_NONCE_LEN, NULL, padded, bucket, ad,
                                               tag_size + CF_HASH_LEN, NULL, ct, key);
    for (size_t i = 0; i < n; i++) {
        memcpy(keys[i].recipient, ids[i], sizeof keys[i].recipient);
        if (crypto_box_seal(keys[i].sealed, key, CF_CONTENT_KEY_LEN, box_pks[i]) != 0) {
            rc = cf_error_set(err, CF_ESEAL, "cannot seal the content key for %s", ids[i]);
            goto out;
        }
    }
    commitment(key, commit);
    *ciphertext = ct;
    *ciphertext_len = CF_NONCE_LEN + bucket + CF_AEAD_TAG_LEN;
    ct = NULL;
out:
    if (padded) {
        sodium_memzero(padded, bucket);
        free(padded);
    }
    if (key)
        sodium_free(key);
    free(ct);
    return rc;
}

int cf_envelope_seal_with_return(const struct cf_header *h, const uint8_t *payload, size_t len,
                                 const uint8_t (*box_pks)[CF_BOX_PK],
                                 const struct cf_envelope_return *ret, const struct cf_keys *sender,
                                 uint8_t **out, size_t *out_len, struct cf_error *err)
{
    int rc = cf_header_check(h, err);
    if (rc != 0)
        return rc;
    if (strcmp(h->sender, sender->id) != 0)
        return cf_error_set(err, CF_ESENDER, "header.sender %s is not the signing agency %s",
                            h->sender, sender->id);
    if (ret && (!ret->recipient || !cf_header_id_valid(ret->recipient, strlen(ret->recipient))))
        return cf_error_set(err, CF_EID, "the return's recipient is not an agency id");
    struct cf_envelope env;
    memset(&env, 0, sizeof env);
    if ((rc = cf_wire_header_encode(h, &env.header, &env.header_len)) != 0) {
        rc = cf_error_set(err, rc, "header: cannot encode");
        goto out;
    }
    env.n_keys = h->n_recipients;
    if ((rc = seal_part(payload_tag, sizeof payload_tag, env.header, env.header_len, payload, len,
                        h->recipients, box_pks, h->n_recipients, &env.ciphertext,
                        &env.ciphertext_len, env.keys, env.commit, err)) != 0)
        goto out;
    if (ret) {
        cf_id liaison;
        snprintf(liaison, sizeof liaison, "%s", ret->recipient);
        env.has_nrm = true;
        if ((rc = seal_part(return_tag, sizeof return_tag, env.header, env.header_len, ret->payload,
                            ret->len, &liaison, (const uint8_t(*)[CF_BOX_PK])ret->box_pk, 1,
                            &env.nrm_ciphertext, &env.nrm_ciphertext_len, &env.nrm_key,
                            env.nrm_commit, err)) != 0)
            goto out;
    }
    struct cf_envelope_digests d;
    cf_envelope_digests(&env, &d);
    uint8_t msg[SIGNED_MAX];
    crypto_sign_detached(env.signature, NULL, msg, signed_bytes(&d, msg), sender->sign_sk);
    if ((rc = cf_wire_envelope_encode(&env, out, out_len)) != 0)
        rc = cf_error_set(err, rc, "envelope: cannot encode");
out:
    cf_envelope_fini(&env);
    return rc;
}

int cf_envelope_seal(const struct cf_header *h, const uint8_t *payload, size_t len,
                     const uint8_t (*box_pks)[CF_BOX_PK], const struct cf_keys *sender,
                     uint8_t **out, size_t *out_len, struct cf_error *err)
{
    return cf_envelope_seal_with_return(h, payload, len, box_pks, NULL, sender, out, out_len, err);
}

int cf_envelope_decode_structure(const uint8_t *buf, size_t len, struct cf_envelope *env,
                                 struct cf_header *hdr, struct cf_error *err)
{
    int rc = cf_wire_envelope_decode(buf, len, env, err);
    if (rc != 0)
        return rc;
    if ((rc = cf_wire_header_decode(env->header, env->header_len, hdr, err)) != 0)
        return rc;
    if (env->has_nrm != (hdr->type == CF_TYPE_DETERMINATION_PROPOSED))
        return cf_error_set(err, CF_EFIELD,
                            env->has_nrm ? "envelope.nrm_return: only a determination_proposed "
                                           "carries one"
                                         : "envelope.nrm_return: a determination_proposed needs "
                                           "its NRM return");
    return 0;
}

int cf_envelope_keys_check(const struct cf_envelope *env, const struct cf_header *hdr,
                           struct cf_error *err)
{
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

int cf_envelope_decode(const uint8_t *buf, size_t len, struct cf_envelope *env,
                       struct cf_header *hdr, struct cf_error *err)
{
    int rc = cf_envelope_decode_structure(buf, len, env, hdr, err);
    return rc != 0 ? rc : cf_envelope_keys_check(env, hdr, err);
}

int cf_envelope_verify_digests(const struct cf_envelope_digests *d, const uint8_t sig[CF_SIG_LEN],
                               const uint8_t sender_pk[CF_SIGN_PK])
{
    uint8_t msg[SIGNED_MAX];
    size_t n = signed_bytes(d, msg);
    return crypto_sign_verify_detached(sig, msg, n, sender_pk) == 0 ? 0 : CF_ESIG;
}

int cf_envelope_verify(const struct cf_envelope *env, const uint8_t sender_pk[CF_SIGN_PK])
{
    struct cf_envelope_digests d;
    cf_envelope_digests(env, &d);
    return cf_envelope_verify_digests(&d, env->signature, sender_pk);
}

/* Opens one part with `self`'s key: seal, commitment, decryption, padding.
 * A key set with no box key (the broker's, the authority's) and a ciphertext
 * shorter than any bucket (cf_wire_envelope_decode refuses one) come only from
 * a caller's mistake, so they are CF_EINVAL, not a verdict on the envelope:
 * an agent must not nack a message it was simply asked to open wrongly. */
static int open_part(const char *tag, size_t tag_size, const struct cf_envelope *env,
                     const struct cf_key_entry *mine, const uint8_t *ciphertext, size_t ct_len,
                     const uint8_t commit_want[CF_HASH_LEN], const struct cf_keys *self,
                     uint8_t **payload, size_t *len)
{
    if (!self->has_box)
        return CF_EINVAL;
    if (!mine)
        return CF_ENOTRECIPIENT;
    if (ct_len < CF_NONCE_LEN + CF_AEAD_TAG_LEN + CF_MIN_BUCKET)
        return CF_EINVAL;
    int rc = 0;
    size_t body = ct_len - CF_NONCE_LEN - CF_AEAD_TAG_LEN;
    uint8_t *key = sodium_malloc(CF_CONTENT_KEY_LEN), *plain = malloc(body);
    uint8_t commit[CF_HASH_LEN], ad[64];
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
    if (sodium_memcmp(commit, commit_want, CF_HASH_LEN) != 0) {
        rc = CF_ECOMMIT;
        goto out;
    }
    associated_data(tag, tag_size, env->header, env->header_len, ad);
    unsigned long long plain_len;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            plain, &plain_len, NULL, ciphertext + CF_NONCE_LEN, ct_len - CF_NONCE_LEN, ad,
            tag_size + CF_HASH_LEN, ciphertext, key) != 0) {
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

int cf_envelope_open(const struct cf_envelope *env, const struct cf_keys *self, uint8_t **payload,
                     size_t *len)
{
    const struct cf_key_entry *mine = NULL;
    for (size_t i = 0; i < env->n_keys && !mine; i++)
        if (strcmp(env->keys[i].recipient, self->id) == 0)
            mine = &env->keys[i];
    return open_part(payload_tag, sizeof payload_tag, env, mine, env->ciphertext,
                     env->ciphertext_len, env->commit, self, payload, len);
}

int cf_envelope_open_return(const struct cf_envelope *env, const struct cf_keys *self,
                            uint8_t **payload, size_t *len)
{
    const struct cf_key_entry *mine =
        env->has_nrm && strcmp(env->nrm_key.recipient, self->id) == 0 ? &env->nrm_key : NULL;
    return open_part(return_tag, sizeof return_tag, env, mine, env->nrm_ciphertext,
                     env->nrm_ciphertext_len, env->nrm_commit, self, payload, len);
}

/* ---- Signed layouts ---- */

/* Signs or verifies the finished layout in `b`. */
static int sign_or_verify(struct cf_buf *b, const struct cf_keys *signer, uint8_t sig[CF_SIG_LEN],
                          const uint8_t *pk)
{
    int rc = cf_buf_status(b);
    if (rc == 0) {
        if (signer)
            crypto_sign_detached(sig, NULL, b->data, b->len, signer->sign_sk);
        else if (crypto_sign_verify_detached(sig, b->data, b->len, pk) != 0)
            rc = CF_ESIG;
    }
    cf_buf_fini(b);
    return rc;
}

static void ack_layout(struct cf_buf *b, const uint8_t message_id[CF_MESSAGE_ID_LEN],
                       const uint8_t hash[CF_HASH_LEN], const char *code)
{
    cf_buf_init(b, 1024);
    cf_buf_put(b, ack_tag, sizeof ack_tag);
    cf_buf_put(b, message_id, CF_MESSAGE_ID_LEN);
    cf_buf_put(b, hash, CF_HASH_LEN);
    if (strlen(code) > 255 && !b->failed)
        b->failed = CF_EINVAL;
    cf_buf_put_str(b, code);
}

int cf_envelope_ack_sign(const uint8_t message_id[CF_MESSAGE_ID_LEN],
                         const uint8_t delivered_hash[CF_HASH_LEN], const char *code,
                         const struct cf_keys *recipient, uint8_t sig[CF_SIG_LEN])
{
    struct cf_buf b;
    ack_layout(&b, message_id, delivered_hash, code);
    return sign_or_verify(&b, recipient, sig, NULL);
}

int cf_envelope_ack_verify(const uint8_t message_id[CF_MESSAGE_ID_LEN],
                           const uint8_t delivered_hash[CF_HASH_LEN], const char *code,
                           const uint8_t sig[CF_SIG_LEN], const uint8_t recipient_pk[CF_SIGN_PK])
{
    struct cf_buf b;
    ack_layout(&b, message_id, delivered_hash, code);
    return sign_or_verify(&b, NULL, (uint8_t *)sig, recipient_pk);
}

static void vote_layout(struct cf_buf *b, const struct cf_vote_subject *s, bool approve,
                        const char *voter)
{
    cf_buf_init(b, 1024);
    cf_buf_put(b, vote_tag, sizeof vote_tag);
    cf_buf_put_str(b, s->case_id);
    cf_buf_put(b, s->proposal_id, CF_MESSAGE_ID_LEN);
    cf_buf_put(b, s->proposal.header, CF_HASH_LEN);
    cf_buf_put(b, s->proposal.ciphertext, CF_HASH_LEN);
    cf_buf_put(b, s->proposal.keys, CF_HASH_LEN);
    cf_buf_put(b, s->proposal.nrm, CF_HASH_LEN);
    const char *decision = cf_header_decision_name(s->decision);
    cf_buf_put_str(b, decision ? decision : "");
    cf_buf_put_str(b, approve ? "approve" : "reject");
    cf_buf_put_str(b, voter);
}

int cf_envelope_vote_sign(const struct cf_vote_subject *s, bool approve,
                          const struct cf_keys *voter, uint8_t sig[CF_SIG_LEN])
{
    struct cf_buf b;
    vote_layout(&b, s, approve, voter->id);
    return sign_or_verify(&b, voter, sig, NULL);
}

int cf_envelope_vote_verify(const struct cf_vote_subject *s, bool approve, const char *voter,
                            const uint8_t sig[CF_SIG_LEN], const uint8_t voter_pk[CF_SIGN_PK])
{
    struct cf_buf b;
    vote_layout(&b, s, approve, voter);
    return sign_or_verify(&b, NULL, (uint8_t *)sig, voter_pk);
}

static void determination_layout(struct cf_buf *b, const uint8_t proposal_id[CF_MESSAGE_ID_LEN],
                                 const uint8_t proposal_hash[CF_HASH_LEN],
                                 const struct cf_vote_record *votes, size_t n,
                                 const uint8_t directory_digest[CF_HASH_LEN])
{
    cf_buf_init(b, 1u << 16);
    cf_buf_put(b, determination_tag, sizeof determination_tag);
    cf_buf_put(b, proposal_id, CF_MESSAGE_ID_LEN);
    cf_buf_put(b, proposal_hash, CF_HASH_LEN);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(votes[i - 1].voter, votes[i].voter) >= 0 && !b->failed)
            b->failed = CF_EINVAL; /* one order, so one layout, for the same votes */
        cf_buf_put_str(b, votes[i].voter);
        cf_buf_put_str(b, votes[i].approve ? "approve" : "reject");
        cf_buf_put(b, votes[i].signature, CF_SIG_LEN);
    }
    cf_buf_put(b, directory_digest, CF_HASH_LEN);
}

int cf_envelope_determination_sign(const uint8_t proposal_id[CF_MESSAGE_ID_LEN],
                                   const uint8_t proposal_hash[CF_HASH_LEN],
                                   const struct cf_vote_record *votes, size_t n,
                                   const uint8_t directory_digest[CF_HASH_LEN],
                                   const struct cf_keys *broker, uint8_t sig[CF_SIG_LEN])
{
    struct cf_buf b;
    determination_layout(&b, proposal_id, proposal_hash, votes, n, directory_digest);
    return sign_or_verify(&b, broker, sig, NULL);
}

int cf_envelope_determination_verify(const uint8_t proposal_id[CF_MESSAGE_ID_LEN],
                                     const uint8_t proposal_hash[CF_HASH_LEN],
                                     const struct cf_vote_record *votes, size_t n,
                                     const uint8_t directory_digest[CF_HASH_LEN],
                                     const uint8_t sig[CF_SIG_LEN],
                                     const uint8_t broker_pk[CF_SIGN_PK])
{
    struct cf_buf b;
    determination_layout(&b, proposal_id, proposal_hash, votes, n, directory_digest);
    return sign_or_verify(&b, NULL, (uint8_t *)sig, broker_pk);
}

void cf_envelope_fini(struct cf_envelope *env)
{
    free(env->header);
    free(env->ciphertext);
    free(env->nrm_ciphertext);
    memset(env, 0, sizeof *env);
}
