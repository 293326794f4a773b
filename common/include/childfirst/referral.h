/* The referral: the JSON an agency system submits (DESIGN.md section 9), its
 * validation, and the C struct the wire module turns into the encrypted payload.
 *
 * Every rule has its own sentence naming the field ("child.date_of_birth: ..."),
 * because the person reading it is fixing a form in another system. Absent and
 * present-but-empty stay distinct, so a referral that goes to JSON, to the
 * payload and back is the document that was sent.
 */
#ifndef CHILDFIRST_REFERRAL_H
#define CHILDFIRST_REFERRAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "childfirst/error.h"
#include "childfirst/header.h"

/* An optional boolean: absent, false or true. */
enum cf_tribool { CF_ABSENT = 0, CF_FALSE, CF_TRUE };

/* A list of strings; `present` distinguishes [] from an absent key. */
struct cf_strlist {
    bool present;
    size_t n;
    char **items;
};

struct cf_child {
    char *given_name, *family_name; /* NULL when absent */
    struct cf_strlist aliases;
    char *date_of_birth; /* YYYY-MM-DD */
    bool has_estimated_age;
    unsigned estimated_age;
    enum cf_tribool age_disputed;
    char *sex, *nationality;
    struct cf_strlist languages;
    enum cf_tribool interpreter_required, unaccompanied;
    char *location, *accommodation;
};

struct cf_referrer {
    char *name, *role, *phone, *email;
};

struct cf_referral {
    /* Routing facts: these go to the cleartext header, not the payload. */
    char case_id[CF_CASE_ID_LEN + 1]; /* "" when the agent is to make one */
    char la_code[CF_LA_CODE_LEN + 1];
    enum cf_urgency urgency;
    bool immediate_risk;
    /* The payload. */
    struct cf_child child;
    struct cf_strlist exploitation;
    enum cf_tribool county_lines;
    struct cf_strlist indicators;
    char *narrative;
    char *first_concern_date;
    bool has_referrer;
    struct cf_referrer referrer;
    struct cf_strlist other_agencies;
};

/* Parses and validates a referral JSON document of at most CF_MAX_JSON bytes.
 * jansson loads it with JSON_REJECT_DUPLICATES; unknown keys, wrong types and
 * every rule in the README's referral table fail with CF_EJSON or CF_EFIELD and
 * a sentence naming the field. `today` is the date ("YYYY-MM-DD", Europe/London)
 * that dates may not be after. On success the caller owns *out's strings; free
 * with cf_referral_fini. On failure *out is left empty.
 * A repeated key or a NUL gets our own sentence, naming the key or the line and
 * column but never a value. Other CF_EJSON sentences may quote the document near
 * the error (jansson's do): show them to the sender, but log only the code. */
CF_WUR int cf_referral_from_json(const char *text, size_t len, const char *today,
                                 struct cf_referral *out, struct cf_error *err);

/* The referral as a JSON object with the keys of DESIGN.md section 9, absent
 * fields omitted ("case_id" too when empty). Caller owns the result; release
 * with json_decref. NULL when out of memory, or when a hand-built struct holds
 * text that is not UTF-8 (what cf_referral_from_json made never does). */
json_t *cf_referral_to_json(const struct cf_referral *r);

/* Frees the strings and lists; leaves *r zeroed. Accepts a zeroed struct. */
void cf_referral_fini(struct cf_referral *r);

#endif
