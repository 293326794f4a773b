/* Envelopes: a payload encrypted once for many recipients and signed by its
 * sender, with a cleartext header the broker can route on (DESIGN.md section 4).
 *
 *   ciphertext = nonce || XChaCha20-Poly1305(content key, nonce,
 *                AD = "childfirst/v1/payload\0" || B(header), padded payload)
 *   keys       = (recipient id, crypto_box_seal(content key)) per header recipient, in order
 *   commit     = BLAKE2b-256(key = content key, "childfirst/v1/commit")
 *   signature  = Ed25519("childfirst/v1/envelope\0" || B(header) || B(ciphertext)
 *                        || B(keys bytes) || commit)
 *
 * where B() is BLAKE2b-256 and "keys bytes" is, per entry, the id and the sealed
 * key each with a 2-byte big-endian length. A recipient checks the commitment
 * before decrypting: XChaCha20-Poly1305 does not commit to its key, so without it
 * a sender could show different recipients different plaintexts.
 */
#ifndef CHILDFIRST_ENVELOPE_H
#define CHILDFIRST_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "childfirst/error.h"
#include "childfirst/header.h"
#include "childfirst/keys.h"

#define CF_NONCE_LEN 24
#define CF_CONTENT_KEY_LEN 32
#define CF_SEALED_KEY_LEN 80 /* crypto_box_SEALBYTES + CF_CONTENT_KEY_LEN */
#define CF_AEAD_TAG_LEN 16

struct cf_key_entry {
    cf_id recipient;
    uint8_t sealed[CF_SEALED_KEY_LEN];
};

/* A decoded envelope. Owns its header and ciphertext copies; release with
 * cf_envelope_fini. */
struct cf_envelope {
    uint8_t *header; /* the exact header bytes that were signed */
    size_t header_len;
    uint8_t *ciphertext; /* nonce || AEAD output */
    size_t ciphertext_len;
    size_t n_keys;
    struct cf_key_entry keys[CF_MAX_RECIPIENTS];
    uint8_t commit[CF_HASH_LEN];
    uint8_t signature[CF_SIG_LEN];
    /* determination_proposed only: the return sealed to the Home Office liaison */
    bool has_nrm;
    uint8_t *nrm_ciphertext;
    size_t nrm_ciphertext_len;
    struct cf_key_entry nrm_key;
    uint8_t nrm_commit[CF_HASH_LEN];
};

/* What the sender's signature covers, as digests: the BLAKE2b-256 of the
 * header, ciphertext and key list, the key commitment, and for a proposal
 * the same three of its NRM return. An audit record keeps exactly these, so
 * the signature can be checked after the envelope is gone. `nrm` is all
 * zeros for an envelope without a return. */
struct cf_envelope_digests {
    uint8_t header[CF_HASH_LEN];
    uint8_t ciphertext[CF_HASH_LEN];
    uint8_t keys[CF_HASH_LEN];
    uint8_t commit[CF_HASH_LEN];
    bool has_nrm;
    uint8_t nrm[CF_HASH_LEN];
    uint8_t nrm_keys[CF_HASH_LEN];
    uint8_t nrm_commit[CF_HASH_LEN];
};

/* A return to seal beside the payload, for one recipient alone. */
struct cf_envelope_return {
    const uint8_t *payload;
    size_t len;
    const char *recipient; /* the liaison's agency id */
    const uint8_t *box_pk; /* its X25519 key */
};

/* Seals `payload` (at most CF_MAX_PLAINTEXT - 1 bytes) for h's recipients.
 * box_pks[i] is the X25519 key of h->recipients[i]. The sender must be h->sender.
 * Writes the encoded Envelope; caller owns *out, free with free(). */
CF_WUR int cf_envelope_seal(const struct cf_header *h, const uint8_t *payload, size_t len,
                            const uint8_t (*box_pks)[CF_BOX_PK], const struct cf_keys *sender,
                            uint8_t **out, size_t *out_len, struct cf_error *err);

/* The same, with a second part sealed to `ret->recipient` alone: a
 * determination proposal's NRM return (associated data
 * "childfirst/v1/nrm_return\0" || B(header)). The signature then also covers
 * B(return ciphertext) || B(return key bytes) || return commit. */
CF_WUR int cf_envelope_seal_with_return(const struct cf_header *h, const uint8_t *payload,
                                        size_t len, const uint8_t (*box_pks)[CF_BOX_PK],
                                        const struct cf_envelope_return *ret,
                                        const struct cf_keys *sender, uint8_t **out,
                                        size_t *out_len, struct cf_error *err);

/* Opens the return of a decoded and verified envelope as `self`, who must be
 * its one recipient: CF_ENOTRECIPIENT otherwise (also when there is no
 * return), then as cf_envelope_open.
 * Caller owns *payload; free with free(). */
CF_WUR int cf_envelope_open_return(const struct cf_envelope *env, const struct cf_keys *self,
                                   uint8_t **payload, size_t *len);

/* Decodes an encoded Envelope of at most CF_MAX_ENVELOPE bytes and checks its
 * structure: both encodings canonical, the header valid (into *hdr), field
 * sizes exact, and the key list naming h's recipients in order. Does not check
 * the signature. Caller owns *env; release with cf_envelope_fini (also after a
 * failure). Structural failures map to these codes, for the envelope and then
 * for its header bytes:
 *   CF_ETOOBIG        over CF_MAX_ENVELOPE; a header of 0 or over CF_MAX_HEADER
 *                     bytes; no key entry, or more entries, recipients or
 *                     members than the limits; a text field too long for its type
 *   CF_EDECODE        not a protobuf Envelope (or Header), or a required field missing
 *   CF_EUNKNOWNFIELD  a field this version does not know, at any depth
 *   CF_ECANON         bytes other than what re-encoding the result gives
 *   CF_EFIELD         a ciphertext that is not a nonce, one padding bucket and a
 *                     tag; a sealed key, commit, signature or message id of the
 *                     wrong size; a text field holding a NUL; a header field
 *                     out of range or repeated; a return on anything but a
 *                     determination_proposed, or none on one
 *   CF_EVERSION, CF_ETYPE, CF_EID   the header's version, type or an agency id
 *   CF_EKEYLIST       the key list does not name the header's recipients in order
 * CF_ENOMEM if memory runs out. */
CF_WUR int cf_envelope_decode(const uint8_t *buf, size_t len, struct cf_envelope *env,
                              struct cf_header *hdr, struct cf_error *err);

/* cf_envelope_decode in its two steps, for the broker, whose checks put the
 * key list with the recipients (check 9) after the signature (check 4). */
CF_WUR int cf_envelope_decode_structure(const uint8_t *buf, size_t len, struct cf_envelope *env,
                                        struct cf_header *hdr, struct cf_error *err);
CF_WUR int cf_envelope_keys_check(const struct cf_envelope *env, const struct cf_header *hdr,
                                  struct cf_error *err);

/* Checks the sender's signature (CF_ESIG). */
CF_WUR int cf_envelope_verify(const struct cf_envelope *env, const uint8_t sender_pk[CF_SIGN_PK]);

/* The same check from digests alone (an audit record's). 0, or CF_ESIG. */
CF_WUR int cf_envelope_verify_digests(const struct cf_envelope_digests *d,
                                      const uint8_t sig[CF_SIG_LEN],
                                      const uint8_t sender_pk[CF_SIGN_PK]);

/* Opens a decoded and verified envelope as recipient `self`. The verdicts on
 * the envelope, in order: CF_ENOTRECIPIENT (self is not in the key list),
 * CF_ESEAL (its sealed key does not open with self's box key), CF_ECOMMIT,
 * CF_EDECRYPT (the ciphertext or the header it is bound to was changed),
 * CF_EPAD. CF_EINVAL for a caller's mistake, never the sender's: a key set
 * without a box key (a broker or authority key), or an envelope that did not
 * come from cf_envelope_decode (a ciphertext shorter than any bucket).
 * CF_ENOMEM if memory runs out. Caller owns *payload; free with free(). */
CF_WUR int cf_envelope_open(const struct cf_envelope *env, const struct cf_keys *self,
                            uint8_t **payload, size_t *len);

/* The digests of a decoded envelope. */
void cf_envelope_digests(const struct cf_envelope *env, struct cf_envelope_digests *d);

/* The recipient's answer to a delivery, signed as Ed25519("childfirst/v1/ack\0"
 * || message_id || B(delivered bytes) || code with its 2-byte length), where the
 * delivered bytes are the envelope or notice and the code is "ok" for an ack or
 * the CF_E* name of the failure for a nack. CF_EINVAL for a code over 255 bytes. */
#define CF_ACK_OK "ok"
CF_WUR int cf_envelope_ack_sign(const uint8_t message_id[CF_MESSAGE_ID_LEN],
                                const uint8_t delivered_hash[CF_HASH_LEN], const char *code,
                                const struct cf_keys *recipient, uint8_t sig[CF_SIG_LEN]);
CF_WUR int cf_envelope_ack_verify(const uint8_t message_id[CF_MESSAGE_ID_LEN],
                                  const uint8_t delivered_hash[CF_HASH_LEN], const char *code,
                                  const uint8_t sig[CF_SIG_LEN],
                                  const uint8_t recipient_pk[CF_SIGN_PK]);

/* A vote is signed by its voter over ("childfirst/v1/vote\0" || case_id ||
 * proposal message_id || B(proposal header) || B(proposal ciphertext) ||
 * B(proposal keys) || B(nrm_return ciphertext) || decision || "approve" or
 * "reject" || voter id), so it binds exactly one proposal of one case. */
struct cf_vote_subject {
    const char *case_id;
    uint8_t proposal_id[CF_MESSAGE_ID_LEN];
    struct cf_envelope_digests proposal;
    enum cf_decision decision;
};
CF_WUR int cf_envelope_vote_sign(const struct cf_vote_subject *s, bool approve,
                                 const struct cf_keys *voter, uint8_t sig[CF_SIG_LEN]);
CF_WUR int cf_envelope_vote_verify(const struct cf_vote_subject *s, bool approve, const char *voter,
                                   const uint8_t sig[CF_SIG_LEN],
                                   const uint8_t voter_pk[CF_SIGN_PK]);

/* The broker's countersignature on a determination: ("childfirst/v1/
 * determination\0" || proposal message_id || B(proposal envelope) || each vote
 * in voter-id order as voter id || "approve" or "reject" || its signature ||
 * B(signed directory bundle in force)). `votes` must be sorted by voter. */
CF_WUR int cf_envelope_determination_sign(const uint8_t proposal_id[CF_MESSAGE_ID_LEN],
                                          const uint8_t proposal_hash[CF_HASH_LEN],
                                          const struct cf_vote_record *votes, size_t n,
                                          const uint8_t directory_digest[CF_HASH_LEN],
                                          const struct cf_keys *broker, uint8_t sig[CF_SIG_LEN]);
CF_WUR int cf_envelope_determination_verify(const uint8_t proposal_id[CF_MESSAGE_ID_LEN],
                                            const uint8_t proposal_hash[CF_HASH_LEN],
                                            const struct cf_vote_record *votes, size_t n,
                                            const uint8_t directory_digest[CF_HASH_LEN],
                                            const uint8_t sig[CF_SIG_LEN],
                                            const uint8_t broker_pk[CF_SIGN_PK]);

/* BLAKE2b-256 of any bytes: the B() of every signed layout. */
void cf_envelope_hash(const uint8_t *data, size_t len, uint8_t out[CF_HASH_LEN]);

/* Frees what decode allocated and zeroes *env. Accepts a zeroed struct. */
void cf_envelope_fini(struct cf_envelope *env);

#endif
