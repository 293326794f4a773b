/* C2SP signed-note checkpoints. The parser is strict (exactly three body
 * lines, canonical numbers, exact base64) because a checkpoint is evidence:
 * one tree state must have one spelling. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "childfirst/checkpoint.h"

static const char dash[] = "\xe2\x80\x94 "; /* U+2014 and a space open a signature line */

static bool origin_ok(const char *s, size_t len)
{
    if (len == 0 || len > CF_ORIGIN_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '!' || s[i] > '~' || s[i] == '+')
            return false;
    return true;
}

/* The signed-note key id: SHA-256(name || "\n" || 0x01 || key)[:4]. */
static void key_id(const char *name, size_t len, const uint8_t pk[32], uint8_t out[4])
{
    crypto_hash_sha256_state st;
    uint8_t h[32];
    const uint8_t sep[2] = {'\n', 0x01};
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)name, len);
    crypto_hash_sha256_update(&st, sep, 2);
    crypto_hash_sha256_update(&st, pk, 32);
    crypto_hash_sha256_final(&st, h);
    memcpy(out, h, 4);
}

int cf_checkpoint_sign(const char *origin, uint64_t size, const uint8_t root[32],
                       const struct cf_keys *broker, char **note, size_t *len)
{
    size_t olen = strlen(origin);
    if (!origin_ok(origin, olen))
        return CF_EINVAL;
    char root64[64], body[CF_ORIGIN_MAX + 128];
    sodium_bin2base64(root64, sizeof root64, root, 32, sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(body, sizeof body, "%s\n%llu\n%s\n", origin, (unsigned long long)size, root64);
    if (n < 0 || (size_t)n >= sizeof body)
        return CF_ETOOBIG;
    uint8_t blob[4 + 64];
    key_id(origin, olen, broker->sign_pk, blob);
    crypto_sign_detached(blob + 4, NULL, (const uint8_t *)body, (size_t)n, broker->sign_sk);
    char sig64[sodium_base64_ENCODED_LEN(sizeof blob, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(sig64, sizeof sig64, blob, sizeof blob, sodium_base64_VARIANT_ORIGINAL);
    size_t cap = (size_t)n + 1 + sizeof dash + olen + 1 + strlen(sig64) + 2;
    char *out = malloc(cap);
    if (!out)
        return CF_ENOMEM;
    int m = snprintf(out, cap, "%s\n%s%s %s\n", body, dash, origin, sig64);
    if (m < 0 || (size_t)m >= cap) {
        free(out);
        return CF_ETOOBIG;
    }
    *note = out;
    *len = (size_t)m;
    return 0;
}

/* The next line of [*p, end) without its newline; false if there is no
 * newline-terminated line left. */
static bool next_line(const char **p, const char *end, const char **line, size_t *len)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl)
        return false;
    *line = *p;
    *len = (size_t)(nl - *p);
    *p = nl + 1;
    return true;
}

static bool parse_size(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

int cf_checkpoint_open(const char *note, size_t len, const uint8_t broker_pk[CF_SIGN_PK],
                       struct cf_checkpoint *out, struct cf_error *err)
{
    if (len > CF_CHECKPOINT_MAX || memchr(note, 0, len))
        return cf_error_set(err, CF_EDECODE, "checkpoint: longer than %d bytes or holds a NUL",
                            CF_CHECKPOINT_MAX);
    const char *p = note, *end = note + len, *line;
    size_t n;
    memset(out, 0, sizeof *out);
    if (!next_line(&p, end, &line, &n) || !origin_ok(line, n))
        return cf_error_set(err, CF_EDECODE, "checkpoint: the first line is not an origin");
    memcpy(out->origin, line, n);
    if (!next_line(&p, end, &line, &n) || !parse_size(line, n, &out->size))
        return cf_error_set(err, CF_EDECODE, "checkpoint: the second line is not a tree size");
    if (!next_line(&p, end, &line, &n) || !cf_keys_b64_exact(line, n, out->root, 32))
        return cf_error_set(err, CF_EDECODE, "checkpoint: the third line is not a base64 root");
    const char *body_end = p;
    if (!next_line(&p, end, &line, &n) || n != 0)
        return cf_error_set(err, CF_EDECODE,
                            "checkpoint: a blank line must follow the root (no extension lines)");
    uint8_t want[4];
    size_t olen = strlen(out->origin);
    key_id(out->origin, olen, broker_pk, want);
    int lines = 0;
    bool verified = false;
    while (p < end) {
        if (!next_line(&p, end, &line, &n) || ++lines > 16 || n < sizeof dash - 1 ||
            memcmp(line, dash, sizeof dash - 1) != 0)
            return cf_error_set(err, CF_EDECODE, "checkpoint: signature line %d is malformed",
                                lines);
        const char *name = line + sizeof dash - 1, *sp = memchr(name, ' ', n - (sizeof dash - 1));
        if (!sp)
            return cf_error_set(err, CF_EDECODE, "checkpoint: signature line %d has no key name",
                                lines);
        size_t name_len = (size_t)(sp - name), b64_len = n - (sizeof dash - 1) - name_len - 1;
        uint8_t blob[4 + 64];
        if (name_len != olen || memcmp(name, out->origin, olen) != 0 ||
            !cf_keys_b64_exact(sp + 1, b64_len, blob, sizeof blob) || memcmp(blob, want, 4) != 0)
            continue; /* another key's signature, e.g. a witness */
        if (crypto_sign_verify_detached(blob + 4, (const uint8_t *)note, (size_t)(body_end - note),
                                        broker_pk) == 0)
            verified = true;
    }
    if (lines == 0)
        return cf_error_set(err, CF_EDECODE, "checkpoint: no signature line");
    if (!verified)
        return cf_error_set(err, CF_ESIG,
                            "checkpoint: no signature by the broker key for origin %s verifies",
                            out->origin);
    return 0;
}
