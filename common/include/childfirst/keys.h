/* Keys: generation, secret key files, and the text forms of public keys.
 *
 * An agency has three independently generated pairs: Ed25519 (sign), X25519
 * (receive payloads) and CURVE (transport). The broker has sign and CURVE; the
 * directory authority has sign only. A struct cf_keys lives in sodium_malloc
 * memory (guarded, locked, wiped on free) and is compared with sodium_memcmp.
 */
#ifndef CHILDFIRST_KEYS_H
#define CHILDFIRST_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "childfirst/error.h"
#include "childfirst/header.h"

enum cf_key_kind { CF_KEYS_AGENCY = 1, CF_KEYS_BROKER, CF_KEYS_AUTHORITY };

#define CF_SIGN_PK 32
#define CF_SIGN_SK 64
#define CF_BOX_PK 32
#define CF_BOX_SK 32
#define CF_CURVE_KEY 32
#define CF_SIG_LEN 64
#define CF_HASH_LEN 32
#define CF_B64_KEY_LEN 44 /* standard base64 of 32 bytes, padded */
#define CF_Z85_KEY_LEN 40

struct cf_keys {
    enum cf_key_kind kind;
    cf_id id; /* the agency id, or "broker" / "authority" */
    bool has_box, has_curve;
    uint8_t sign_pk[CF_SIGN_PK], sign_sk[CF_SIGN_SK];
    uint8_t box_pk[CF_BOX_PK], box_sk[CF_BOX_SK];
    uint8_t curve_pk[CF_CURVE_KEY], curve_sk[CF_CURVE_KEY];
};

/* Generates the pairs `kind` needs, each from its own randomness. `id` is the
 * agency id for CF_KEYS_AGENCY and ignored otherwise. Caller owns *out; free
 * with cf_keys_destroy. */
CF_WUR int cf_keys_generate(enum cf_key_kind kind, const char *id, struct cf_keys **out,
                            struct cf_error *err);

/* Writes the secret key file with mode 0600. Refuses to overwrite an existing
 * file (CF_EIO): a lost secret key cannot be recovered. */
CF_WUR int cf_keys_save(const struct cf_keys *keys, const char *path, struct cf_error *err);

/* Reads a secret key file. Refuses one that group or others may read
 * (CF_EKEYMODE), and one whose pairs do not match or repeat (CF_EKEYFILE,
 * CF_EKEYREUSE). The file's bytes pass only through sodium_malloc memory.
 * Caller owns *out; free with cf_keys_destroy. */
CF_WUR int cf_keys_load(const char *path, struct cf_keys **out, struct cf_error *err);

/* Wipes and frees; accepts NULL and clears the pointer. */
void cf_keys_destroy(struct cf_keys **keys);

/* Writes the public part as the lines keygen prints: for an agency the
 * agencies.ini section, for the broker the agent.ini lines, for the authority
 * the authority_key line. Returns CF_ETOOBIG if `cap` is too small. */
CF_WUR int cf_keys_public_text(const struct cf_keys *keys, char *buf, size_t cap);

/* Text forms of a 32-byte public key: standard padded base64 (sign, box) and
 * Z85 (CURVE). Decoders reject any other length or alphabet. */
void cf_keys_b64_encode(const uint8_t key[32], char out[CF_B64_KEY_LEN + 1]);
CF_WUR int cf_keys_b64_decode(const char *text, uint8_t key[32]);

#define CF_B64_EXACT_MAX 96 /* the longest value cf_keys_b64_exact decodes */

/* Whether `len` bytes of `text` are exactly the standard padded base64 of
 * `n` bytes (at most CF_B64_EXACT_MAX), written into `out`: nothing before,
 * after or missing, and the one spelling encoding gives (no stray bits, no
 * byte outside the alphabet). */
bool cf_keys_b64_exact(const char *text, size_t len, uint8_t *out, size_t n);
void cf_keys_z85_encode(const uint8_t key[32], char out[CF_Z85_KEY_LEN + 1]);
CF_WUR int cf_keys_z85_decode(const char *text, uint8_t key[32]);

#endif
