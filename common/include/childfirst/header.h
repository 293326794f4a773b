/* The cleartext message header as a plain C struct, with the names of its enums
 * and the syntax checks of its ids. Encoding lives in wire.h; signing in envelope.h.
 * Fixed-size arrays throughout: a decoded header owns nothing and needs no free.
 */
#ifndef CHILDFIRST_HEADER_H
#define CHILDFIRST_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "childfirst/error.h"
#include "childfirst/limits.h"

enum cf_type {
    CF_TYPE_NONE = 0,
    CF_TYPE_REFERRAL = 1,
    CF_TYPE_ACKNOWLEDGEMENT,
    CF_TYPE_STRATEGY_RECORD,
    CF_TYPE_IRD_RECORD,
    CF_TYPE_CONFERENCE_CONVENED,
    CF_TYPE_CONTRIBUTION,
    CF_TYPE_DETERMINATION_PROPOSED,
    CF_TYPE_VOTE,
    CF_TYPE_DETERMINATION,
    CF_TYPE_RECONSIDERATION_REQUEST,
    CF_TYPE_TRANSFER,
    CF_TYPE_CLOSURE,
    CF_TYPE_COUNT
};

enum cf_urgency { CF_URGENCY_NONE = 0, CF_URGENCY_IMMEDIATE, CF_URGENCY_URGENT, CF_URGENCY_ROUTINE };

enum cf_decision { CF_DECISION_NONE = 0, CF_DECISION_RG, CF_DECISION_CG };

enum cf_standing { CF_STANDING_NONE = 0, CF_STANDING_VOTING, CF_STANDING_REQUIRED, CF_STANDING_ADVISORY };

typedef char cf_id[CF_ID_MAX + 1];

/* A vote as gathered for a determination: who, which way, their signature
 * over the vote layout, and the vote's leaf. */
struct cf_vote_record {
    cf_id voter;
    bool approve;
    uint8_t signature[64];
    uint64_t leaf;
};

/* A vote's fields, signed by the voter over the vote layout of DESIGN.md section 4. */
struct cf_vote {
    uint8_t proposal_id[CF_MESSAGE_ID_LEN];
    bool approve;
    uint8_t signature[64];
};

struct cf_member {
    cf_id agency;
    enum cf_standing standing;
};

struct cf_header {
    uint32_t version;
    uint8_t message_id[CF_MESSAGE_ID_LEN];
    char case_id[CF_CASE_ID_LEN + 1];
    enum cf_type type;
    cf_id sender;
    size_t n_recipients;
    cf_id recipients[CF_MAX_RECIPIENTS];
    uint64_t created_at; /* milliseconds since the Unix epoch, UTC */
    char jurisdiction[CF_JURISDICTION_MAX + 1];
    char la_code[CF_LA_CODE_LEN + 1];
    enum cf_urgency urgency;
    bool immediate_risk;
    bool has_in_reply_to;
    uint8_t in_reply_to[CF_MESSAGE_ID_LEN];
    /* Type-specific fields; NONE / empty when absent. */
    enum cf_decision decision;
    char lead_staff_ref[CF_STAFF_REF_MAX + 1];
    size_t n_members;
    struct cf_member members[CF_MAX_MEMBERS];
    char chair_staff_ref[CF_STAFF_REF_MAX + 1];
    size_t n_attendees;
    cf_id attendees[CF_MAX_MEMBERS];
    bool has_vote;
    struct cf_vote vote;
};

/* Names as they appear in JSON, INI and logs ("referral", "immediate", "rg").
 * Return a static string, or NULL for an out-of-range value. */
const char *cf_header_type_name(enum cf_type type);
const char *cf_header_urgency_name(enum cf_urgency urgency);
const char *cf_header_decision_name(enum cf_decision decision);

/* Parse a name; return the value, or CF_TYPE_NONE / CF_URGENCY_NONE / CF_DECISION_NONE. */
enum cf_type cf_header_type_parse(const char *name);
enum cf_urgency cf_header_urgency_parse(const char *name);
enum cf_decision cf_header_decision_parse(const char *name);

/* Syntax checks over a byte range (not NUL-terminated; embedded NUL fails).
 * Agency id: [a-z0-9-]{3,64}. Case id: "cf-" + 26 of [a-z2-7], the last one
 * carrying two zero padding bits. LA code: [A-Z][0-9]{8}. Staff ref: 1..64 of
 * [A-Za-z0-9-_./]. */
bool cf_header_id_valid(const char *s, size_t len);
bool cf_header_case_id_valid(const char *s, size_t len);
bool cf_header_la_code_valid(const char *s, size_t len);
bool cf_header_staff_ref_valid(const char *s, size_t len);

/* A fresh case id from 128 random bits. */
void cf_header_case_id_new(char out[CF_CASE_ID_LEN + 1]);

/* Semantic checks a decoder cannot make: version, ids, recipients unique and
 * at most CF_MAX_RECIPIENTS, enums in range. Fills err naming the field. */
CF_WUR int cf_header_check(const struct cf_header *h, struct cf_error *err);

#endif
