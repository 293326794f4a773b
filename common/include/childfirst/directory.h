/* The signed directory: agencies.ini and policy.ini, bound together by the
 * offline authority's signature in agencies.ini.sig.
 *
 * The authority, not the broker, signs the directory, so the broker's host
 * cannot substitute a key and read referrals. Agents fetch the bundle from the
 * broker and verify it against their pinned authority key with this code.
 */
#ifndef CHILDFIRST_DIRECTORY_H
#define CHILDFIRST_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "childfirst/error.h"
#include "childfirst/header.h"
#include "childfirst/keys.h"
#include "childfirst/policy.h"

#define CF_AGENCY_NAME_MAX 128

struct cf_agency {
    cf_id id;
    char name[CF_AGENCY_NAME_MAX + 1];
    uint32_t roles; /* bit set of enum cf_role */
    char jurisdiction[CF_JURISDICTION_MAX + 1];
    size_t n_areas;
    char areas[CF_MAX_AREAS][CF_LA_CODE_LEN + 1];
    uint8_t sign_pk[CF_SIGN_PK];
    uint8_t box_pk[CF_BOX_PK];
    uint8_t curve_pk[CF_CURVE_KEY];
};

/* The three files exactly as signed. Owned by the directory that holds them. */
struct cf_bundle {
    uint8_t *agencies, *policy, *sig;
    size_t agencies_len, policy_len, sig_len;
};

struct cf_directory {
    uint64_t serial;
    uint8_t digest[CF_HASH_LEN]; /* BLAKE2b-256 of the signed tuple: names this version */
    struct cf_bundle bundle;
    struct cf_policy *policy;
    size_t n_agencies;
    struct cf_agency *agencies; /* sorted by id */
};

/* Verifies and parses a bundle held in memory. Checks, in order: the .sig
 * file's form, the authority signature (CF_ESIG), the serial against
 * `min_serial` (CF_ESERIAL; pass 0 when none has been seen), then policy.ini and
 * agencies.ini. Parse errors name the file and line. The buffers are copied.
 * Caller owns *out; free with cf_directory_destroy. */
CF_WUR int cf_directory_load_mem(const struct cf_bundle *in, const uint8_t authority_pk[CF_SIGN_PK],
                                 uint64_t min_serial, struct cf_directory **out,
                                 struct cf_error *err);

/* The same for a bundle a verified log holds (a config leaf, which the
 * broker's signed checkpoints cover), when the caller has no authority key to
 * check it against: everything but the authority signature and the serial
 * floor is checked. Only auditors replaying a log use this; whoever accepts a
 * directory to act on uses cf_directory_load_mem. */
CF_WUR int cf_directory_load_logged(const struct cf_bundle *in, struct cf_directory **out,
                                    struct cf_error *err);

/* Reads agencies.ini, AGENCIES_PATH.sig and policy.ini, then as above. */
CF_WUR int cf_directory_load(const char *agencies_path, const char *policy_path,
                             const uint8_t authority_pk[CF_SIGN_PK], uint64_t min_serial,
                             struct cf_directory **out, struct cf_error *err);

/* Frees; accepts NULL and clears the pointer. */
void cf_directory_destroy(struct cf_directory **dir);

/* Writes AGENCIES_PATH.sig: the serial and the authority's signature over
 * ("childfirst/v1/directory\0" || serial as 8 bytes big-endian ||
 *  B(agencies.ini bytes) || B(policy.ini bytes)). Both files are parsed first,
 * so a broken directory is never signed. */
CF_WUR int cf_directory_sign(const char *agencies_path, const char *policy_path,
                             const struct cf_keys *authority, uint64_t serial,
                             struct cf_error *err);

/* Lookups; borrowed from the directory, NULL when absent. */
const struct cf_agency *cf_directory_find(const struct cf_directory *dir, const char *id);
const struct cf_agency *cf_directory_find_curve(const struct cf_directory *dir,
                                                const uint8_t curve_pk[CF_CURVE_KEY]);

/* Whether the agency serves the LA code. */
bool cf_directory_serves(const struct cf_agency *agency, const char *la_code);

#endif
