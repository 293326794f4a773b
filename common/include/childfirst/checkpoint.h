/* Checkpoints in the C2SP tlog-checkpoint signed-note form:
 *
 *   <origin>\n<tree size>\n<base64 root>\n\n— <origin> <base64(key id || Ed25519 signature)>\n
 *
 * where the key id is the first 4 bytes of SHA-256(origin || "\n" || 0x01 ||
 * public key) and the signature covers the text before the blank line. Any
 * transparency-log tool that reads signed notes can check ours.
 */
#ifndef CHILDFIRST_CHECKPOINT_H
#define CHILDFIRST_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "childfirst/error.h"
#include "childfirst/keys.h"

#define CF_ORIGIN_MAX 128
#define CF_CHECKPOINT_MAX 1024 /* a note with one signature is well under this */

struct cf_checkpoint {
    char origin[CF_ORIGIN_MAX + 1];
    uint64_t size;
    uint8_t root[32];
};

/* Signs a checkpoint. The origin is 1..CF_ORIGIN_MAX printable ASCII
 * characters without spaces. Caller owns *note (NUL-terminated); free with free(). */
CF_WUR int cf_checkpoint_sign(const char *origin, uint64_t size, const uint8_t root[32],
                              const struct cf_keys *broker, char **note, size_t *len);

/* Parses a note of at most CF_CHECKPOINT_MAX bytes and checks the signature of
 * the key named by its origin against `broker_pk`. Signature lines by other
 * keys (witnesses, later) are ignored. CF_EDECODE for a malformed note with
 * err saying what is wrong, CF_ESIG when no signature of that key verifies. */
CF_WUR int cf_checkpoint_open(const char *note, size_t len, const uint8_t broker_pk[CF_SIGN_PK],
                              struct cf_checkpoint *out, struct cf_error *err);

#endif
