/* Names of the header's enums and the syntax of its ids. Validators take a
 * byte range, not a C string, because they guard bytes that arrived off the
 * wire and may hold a NUL. */
#include <string.h>

#include <sodium.h>

#include "childfirst/header.h"

static const char *const type_names[CF_TYPE_COUNT] = {
    [CF_TYPE_REFERRAL] = "referral",
    [CF_TYPE_ACKNOWLEDGEMENT] = "acknowledgement",
    [CF_TYPE_STRATEGY_RECORD] = "strategy_record",
    [CF_TYPE_IRD_RECORD] = "ird_record",
    [CF_TYPE_CONFERENCE_CONVENED] = "conference_convened",
    [CF_TYPE_CONTRIBUTION] = "contribution",
    [CF_TYPE_DETERMINATION_PROPOSED] = "determination_proposed",
    [CF_TYPE_VOTE] = "vote",
    [CF_TYPE_DETERMINATION] = "determination",
    [CF_TYPE_RECONSIDERATION_REQUEST] = "reconsideration_request",
    [CF_TYPE_TRANSFER] = "transfer",
    [CF_TYPE_CLOSURE] = "closure",
};
static const char *const urgency_names[] = {NULL, "immediate", "urgent", "routine"};
static const char *const decision_names[] = {NULL, "rg", "cg"};

const char *cf_header_type_name(enum cf_type type)
{
    return (unsigned)type < CF_TYPE_COUNT ? type_names[type] : NULL;
}

const char *cf_header_urgency_name(enum cf_urgency urgency)
{
    return (unsigned)urgency <= CF_URGENCY_ROUTINE ? urgency_names[urgency] : NULL;
}

const char *cf_header_decision_name(enum cf_decision decision)
{
    return (unsigned)decision <= CF_DECISION_CG ? decision_names[decision] : NULL;
}

static int parse(const char *const *names, int count, const char *name)
{
    for (int i = 1; i < count; i++)
        if (names[i] && strcmp(names[i], name) == 0)
            return i;
    return 0;
}

enum cf_type cf_header_type_parse(const char *name)
{
    return (enum cf_type)parse(type_names, CF_TYPE_COUNT, name);
}

enum cf_urgency cf_header_urgency_parse(const char *name)
{
    return (enum cf_urgency)parse(urgency_names, 4, name);
}

enum cf_decision cf_header_decision_parse(const char *name)
{
    return (enum cf_decision)parse(decision_names, 3, name);
}

bool cf_header_id_valid(const char *s, size_t len)
{
    if (len < CF_ID_MIN || len > CF_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

static const char base32[] = "abcdefghijklmnopqrstuvwxyz234567";

bool cf_header_case_id_valid(const char *s, size_t len)
{
    if (len != CF_CASE_ID_LEN || memcmp(s, "cf-", 3) != 0)
        return false;
    for (size_t i = 3; i < len; i++) {
        const char *p = s[i] ? strchr(base32, s[i]) : NULL;
        if (!p)
            return false;
        /* 26 characters carry 130 bits for 128: the last one's low 2 bits are zero,
         * so each case has exactly one spelling. */
        if (i == len - 1 && ((p - base32) & 3) != 0)
            return false;
    }
    return true;
}

bool cf_header_la_code_valid(const char *s, size_t len)
{
    if (len != CF_LA_CODE_LEN || s[0] < 'A' || s[0] > 'Z')
        return false;
    for (size_t i = 1; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

bool cf_header_staff_ref_valid(const char *s, size_t len)
{
    if (len < 1 || len > CF_STAFF_REF_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '/'))
            return false;
    }
    return true;
}

void cf_header_case_id_new(char out[CF_CASE_ID_LEN + 1])
{
    uint8_t r[16];
    randombytes_buf(r, sizeof r);
    memcpy(out, "cf-", 3);
    /* Big-endian bit stream, 5 bits per character; the last character holds
     * the final 3 bits followed by two zero bits. */
    unsigned acc = 0, bits = 0;
    size_t o = 3;
    for (size_t i = 0; i < sizeof r; i++) {
        acc = (acc << 8) | r[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = base32[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    out[o++] = base32[(acc << (5 - bits)) & 31];
    out[o] = 0;
}

static bool str_ok(const char *s, bool (*valid)(const char *, size_t))
{
    return valid(s, strlen(s));
}

int cf_header_check(const struct cf_header *h, struct cf_error *err)
{
    if (h->version != CF_PROTOCOL_VERSION)
        return cf_error_set(err, CF_EVERSION, "header.version: %u is not supported (this is %u)",
                            h->version, CF_PROTOCOL_VERSION);
    if (!str_ok(h->case_id, cf_header_case_id_valid))
        return cf_error_set(err, CF_EFIELD, "header.case_id: not a cf- case id");
    if (!cf_header_type_name(h->type) || h->type == CF_TYPE_NONE)
        return cf_error_set(err, CF_ETYPE, "header.type: unknown message type");
    if (!str_ok(h->sender, cf_header_id_valid))
        return cf_error_set(err, CF_EID, "header.sender: not an agency id");
    if (h->n_recipients == 0 || h->n_recipients > CF_MAX_RECIPIENTS)
        return cf_error_set(err, CF_ETOOBIG, "header.recipients: %zu recipients (1 to %d allowed)",
                            h->n_recipients, CF_MAX_RECIPIENTS);
    for (size_t i = 0; i < h->n_recipients; i++) {
        if (!str_ok(h->recipients[i], cf_header_id_valid))
            return cf_error_set(err, CF_EID, "header.recipients[%zu]: not an agency id", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(h->recipients[i], h->recipients[j]) == 0)
                return cf_error_set(err, CF_EFIELD, "header.recipients[%zu]: repeats %s", i,
                                    h->recipients[j]);
    }
    if (!str_ok(h->jurisdiction, cf_header_id_valid))
        return cf_error_set(err, CF_EFIELD, "header.jurisdiction: not a jurisdiction name");
    if (!str_ok(h->la_code, cf_header_la_code_valid))
        return cf_error_set(err, CF_EFIELD, "header.la_code: not a GSS code such as E09000033");
    if (!cf_header_urgency_name(h->urgency) || h->urgency == CF_URGENCY_NONE)
        return cf_error_set(err, CF_EFIELD, "header.urgency: not immediate, urgent or routine");
    if ((unsigned)h->decision > CF_DECISION_CG)
        return cf_error_set(err, CF_EFIELD, "header.decision: not rg or cg");
    if (h->lead_staff_ref[0] && !str_ok(h->lead_staff_ref, cf_header_staff_ref_valid))
        return cf_error_set(err, CF_EFIELD, "header.lead_staff_ref: not a staff reference");
    if (h->chair_staff_ref[0] && !str_ok(h->chair_staff_ref, cf_header_staff_ref_valid))
        return cf_error_set(err, CF_EFIELD, "header.chair_staff_ref: not a staff reference");
    if (h->n_members > CF_MAX_MEMBERS || h->n_attendees > CF_MAX_MEMBERS)
        return cf_error_set(err, CF_ETOOBIG, "header: more than %d members or attendees",
                            CF_MAX_MEMBERS);
    for (size_t i = 0; i < h->n_members; i++) {
        if (!str_ok(h->members[i].agency, cf_header_id_valid))
            return cf_error_set(err, CF_EID, "header.members[%zu]: not an agency id", i);
        if (h->members[i].standing < CF_STANDING_VOTING ||
            h->members[i].standing > CF_STANDING_ADVISORY)
            return cf_error_set(err, CF_EFIELD, "header.members[%zu].standing: unknown", i);
    }
    for (size_t i = 0; i < h->n_attendees; i++)
        if (!str_ok(h->attendees[i], cf_header_id_valid))
            return cf_error_set(err, CF_EID, "header.attendees[%zu]: not an agency id", i);
    return 0;
}
