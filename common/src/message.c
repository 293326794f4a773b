/* Case message JSON (message.h): a schema table per type for the referral's walker, and a tag
 * on each row saying where its key goes (signed header, encrypted payload or NRM return), so
 * checking, splitting and rebuilding all follow one table and cannot drift apart. */
#include <assert.h>
#include <string.h>

#include <sodium.h>

#include "childfirst/limits.h"
#include "childfirst/message.h"
#include "childfirst/referral.h"
#include "childfirst/wire.h"
#include "schema.h"

/* Where a key goes (a row's tag). */
enum place {
    PAYLOAD = 0,     /* the payload, under the same name */
    LEAD_STAFF_REF,  /* header.lead_staff_ref */
    CHAIR_STAFF_REF, /* header.chair_staff_ref */
    MEMBERS,         /* header.members */
    ATTENDEES,       /* header.attendees */
    DECISION,        /* header.decision and the payload's too: voters' agents compare them */
    PROPOSAL_ID,     /* header.vote.proposal_id */
    APPROVE,         /* header.vote.approve */
    LA_CODE,         /* header.la_code: a transfer's receiving authority */
    NRM_PART,        /* the proposal's nrm_return object, which goes into the NRM return */
    /* Rows of the NRM return itself: where each of its keys comes from. */
    FROM_PROPOSAL, /* the proposal's key of the same name */
    FROM_PART,     /* the proposal's nrm_return object */
    FROM_CALLER,   /* the nation the caller names */
};

static bool is_hex_lower(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool message_id_valid(const char *s, size_t len)
{
    if (len != 2 * CF_MESSAGE_ID_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_hex_lower(s[i]))
            return false;
    return true;
}

static bool nation_valid(const char *s, size_t len)
{
    return len <= CF_JURISDICTION_MAX && cf_header_id_valid(s, len);
}

static const char staff_ref_rule[] =
    "must be a staff reference: 1 to 64 of A-Z, a-z, 0-9, -, _, . and /";
static const char agency_rule[] = "must be an agency id: 3 to 64 of a-z, 0-9 and -";

/* Names as the header's enums: standing_names[i] is enum cf_standing i + 1. */
static const char *const decision_names[] = {"rg", "cg", NULL};
static const char *const standing_names[] = {"voting", "required", "advisory", NULL};
static const char *const outcome_names[] = {"positive", "negative", NULL};
static const char *const age_band_names[] = {"0-9", "10-13", "14-15", "16-17", "unknown", NULL};

/* Row shorthands: text from `lo` to `hi` bytes, on one line or (NOTES) with \n and \t. */
#define LINE(k, lo, hi) .key = (k), .kind = CF_SCHEMA_TEXT, .min = (lo), .max = (hi)
#define NOTES(k, lo, hi) LINE(k, lo, hi), .multiline = true
#define STAFF_REF(k)                                                                               \
    .key = (k), .kind = CF_SCHEMA_CODE, .required = true, .max = CF_STAFF_REF_MAX,                 \
    .valid = cf_header_staff_ref_valid, .rule = staff_ref_rule
#define LIST(k, lo, hi, items)                                                                     \
    .key = (k), .kind = CF_SCHEMA_LIST, .min = (lo), .max = (hi), .max_items = (items)
#define CHOICE(k, names) .key = (k), .kind = CF_SCHEMA_TEXT, .required = true, .choices = (names)

/* Rows the proposal and its NRM return share, so both say the same thing. */
#define DECISION_ROW CHOICE("decision", decision_names)
#define OUTCOME_ROW CHOICE("outcome", outcome_names)
#define EXPLOITATION_ROW                                                                           \
    .key = "exploitation", .kind = CF_SCHEMA_LIST, .required = true,                               \
    .choices = cf_schema_exploitation_names, .max_items = CF_SCHEMA_EXPLOITATION_COUNT,            \
    .non_empty = true, .unique = true
#define AGE_BAND_ROW CHOICE("age_band", age_band_names)
#define SEX_ROW CHOICE("sex", cf_schema_sex_names)
#define NATIONALITY_ROW                                                                            \
    .key = "nationality", .kind = CF_SCHEMA_TEXT, .valid = cf_schema_nationality_valid,            \
    .rule = cf_schema_nationality_rule

/* An object's fields and their count, for a struct cf_schema_object. */
#define FIELDS(a) .fields = (a), .n_fields = CF_SCHEMA_COUNT_OF(a)

static const struct cf_schema_field acknowledgement[] = {
    {STAFF_REF("lead_staff_ref"), .tag = LEAD_STAFF_REF},
    {NOTES("next_steps", 0, 2000)},
    {LINE("allocated_team", 0, 200)},
    {NOTES("notes", 0, 10000)},
};

static const struct cf_schema_field strategy_record[] = {
    {.key = "held_at", .kind = CF_SCHEMA_DATETIME, .required = true},
    {LIST("participants", 1, 200, 50)},
    {NOTES("summary", 0, 65536)},
    {NOTES("decisions", 0, 65536)},
    {LIST("actions", 1, 500, 50)},
};

static const struct cf_schema_field member[] = {
    {.key = "agency",
     .kind = CF_SCHEMA_CODE,
     .required = true,
     .max = CF_ID_MAX,
     .valid = cf_header_id_valid,
     .rule = agency_rule},
    {CHOICE("standing", standing_names)},
};
static const struct cf_schema_object member_object = {FIELDS(member)};

static const struct cf_schema_field conference_convened[] = {
    {.key = "members",
     .kind = CF_SCHEMA_OBJECTS,
     .required = true,
     .object = &member_object,
     .max_items = CF_MAX_MEMBERS,
     .non_empty = true,
     .unique_key = "agency",
     .tag = MEMBERS},
    {STAFF_REF("chair_staff_ref"), .tag = CHAIR_STAFF_REF},
    {.key = "meeting_at", .kind = CF_SCHEMA_DATETIME, .required = true, .future = true},
    {LINE("location", 0, 500)},
    {NOTES("agenda", 0, 10000)},
};

static const struct cf_schema_field contribution[] = {
    {NOTES("report", 1, 65536), .required = true},
    {NOTES("recommendation", 0, 10000)},
};

/* What the proposal's nrm_return object holds: the return's facts about the child. */
static const struct cf_schema_field nrm_part[] = {
    {AGE_BAND_ROW, .tag = FROM_PART},
    {SEX_ROW, .tag = FROM_PART},
    {NATIONALITY_ROW, .tag = FROM_PART},
};
static const struct cf_schema_object nrm_part_object = {FIELDS(nrm_part)};

static const struct cf_schema_field determination_proposed[] = {
    {DECISION_ROW, .tag = DECISION},
    {.key = "attendees",
     .kind = CF_SCHEMA_LIST,
     .required = true,
     .valid = cf_header_id_valid,
     .rule = agency_rule,
     .max_items = CF_MAX_MEMBERS,
     .non_empty = true,
     .unique = true,
     .tag = ATTENDEES},
    {OUTCOME_ROW, .tag = PAYLOAD},
    {EXPLOITATION_ROW, .tag = PAYLOAD},
    {NOTES("reasons", 1, 65536), .required = true},
    {NOTES("child_views", 1, 65536), .required = true},
    {.key = "child_participated", .kind = CF_SCHEMA_BOOL, .required = true},
    {NOTES("protection_plan", 0, 65536)},
    {.key = "nrm_return",
     .kind = CF_SCHEMA_OBJECT,
     .required = true,
     .object = &nrm_part_object,
     .apart = true,
     .tag = NRM_PART},
};

/* The NRM return as the liaison receives it. */
static const struct cf_schema_field nrm_return[] = {
    {DECISION_ROW, .tag = FROM_PROPOSAL},
    {OUTCOME_ROW, .tag = FROM_PROPOSAL},
    {.key = "nation",
     .kind = CF_SCHEMA_CODE,
     .required = true,
     .max = CF_JURISDICTION_MAX,
     .valid = nation_valid,
     .rule = "must be a jurisdiction name: 3 to 32 of a-z, 0-9 and -",
     .tag = FROM_CALLER},
    {EXPLOITATION_ROW, .tag = FROM_PROPOSAL},
    {AGE_BAND_ROW, .tag = FROM_PART},
    {SEX_ROW, .tag = FROM_PART},
    {NATIONALITY_ROW, .tag = FROM_PART},
};
static const struct cf_schema_object nrm_return_object = {FIELDS(nrm_return)};

static const struct cf_schema_field vote[] = {
    {.key = "proposal_id",
     .kind = CF_SCHEMA_CODE,
     .required = true,
     .max = 2 * CF_MESSAGE_ID_LEN,
     .valid = message_id_valid,
     .rule = "must be the proposal's message id: 32 lowercase hexadecimal characters",
     .tag = PROPOSAL_ID},
    {.key = "approve", .kind = CF_SCHEMA_BOOL, .required = true, .tag = APPROVE},
    {NOTES("comment", 0, 10000)},
};

static const struct cf_schema_field reconsideration_request[] = {
    {NOTES("grounds", 1, 65536), .required = true},
    {NOTES("new_information", 0, 65536)},
};

static const struct cf_schema_field transfer[] = {
    {.key = "la_code",
     .kind = CF_SCHEMA_CODE,
     .required = true,
     .max = CF_LA_CODE_LEN,
     .valid = cf_header_la_code_valid,
     .rule = cf_schema_la_code_rule,
     .tag = LA_CODE},
    {NOTES("reason", 1, 10000), .required = true},
    {NOTES("handover_notes", 0, 65536)},
};

static const struct cf_schema_field closure[] = {
    {NOTES("reason", 1, 10000), .required = true},
    {NOTES("summary", 0, 65536)},
};

struct message {
    enum cf_type type;
    const char *body; /* the Payload oneof member */
    struct cf_schema_object schema;
};

static const struct message messages[] = {
    {CF_TYPE_ACKNOWLEDGEMENT, "acknowledgement", {FIELDS(acknowledgement)}},
    {CF_TYPE_STRATEGY_RECORD, "strategy_record", {FIELDS(strategy_record)}},
    {CF_TYPE_IRD_RECORD, "strategy_record", {FIELDS(strategy_record)}},
    {CF_TYPE_CONFERENCE_CONVENED, "conference_convened", {FIELDS(conference_convened)}},
    {CF_TYPE_CONTRIBUTION, "contribution", {FIELDS(contribution)}},
    {CF_TYPE_DETERMINATION_PROPOSED, "determination_proposed", {FIELDS(determination_proposed)}},
    {CF_TYPE_VOTE, "vote", {FIELDS(vote)}},
    {CF_TYPE_RECONSIDERATION_REQUEST, "reconsideration_request", {FIELDS(reconsideration_request)}},
    {CF_TYPE_TRANSFER, "transfer", {FIELDS(transfer)}},
    {CF_TYPE_CLOSURE, "closure", {FIELDS(closure)}},
};

static const struct message *message_for(enum cf_type type)
{
    for (size_t i = 0; i < CF_SCHEMA_COUNT_OF(messages); i++)
        if (messages[i].type == type)
            return &messages[i];
    return NULL;
}

bool cf_message_type_valid(enum cf_type type)
{
    return message_for(type) != NULL;
}

static const char *type_name(enum cf_type type)
{
    const char *name = cf_header_type_name(type);
    return name ? name : "(unknown)";
}

/* ---- From JSON ---- */

/* A checked string into a fixed header field; the row's rule bounds its length. */
static void copy_text(char *dst, size_t cap, const json_t *v)
{
    size_t len = json_string_length(v);
    assert(len < cap);
    if (len >= cap) /* only if a rule and the header disagree */
        len = cap - 1;
    memcpy(dst, json_string_value(v), len);
    dst[len] = 0;
}

static void clear_type_fields(struct cf_header *h)
{
    h->decision = CF_DECISION_NONE;
    memset(h->lead_staff_ref, 0, sizeof h->lead_staff_ref);
    h->n_members = 0;
    memset(h->members, 0, sizeof h->members);
    memset(h->chair_staff_ref, 0, sizeof h->chair_staff_ref);
    h->n_attendees = 0;
    memset(h->attendees, 0, sizeof h->attendees);
    h->has_vote = false;
    memset(&h->vote, 0, sizeof h->vote);
}

/* Writes a checked header-bound value into *h. */
static void to_header(enum place place, const json_t *v, struct cf_header *h)
{
    size_t n = json_array_size(v); /* 0 for what is not an array */
    assert(n <= CF_MAX_MEMBERS);   /* the rows say so */
    if (n > CF_MAX_MEMBERS)
        n = CF_MAX_MEMBERS;
    switch (place) {
    case LEAD_STAFF_REF:
        copy_text(h->lead_staff_ref, sizeof h->lead_staff_ref, v);
        break;
    case CHAIR_STAFF_REF:
        copy_text(h->chair_staff_ref, sizeof h->chair_staff_ref, v);
        break;
    case LA_CODE:
        copy_text(h->la_code, sizeof h->la_code, v);
        break;
    case DECISION:
        h->decision = cf_header_decision_parse(json_string_value(v));
        break;
    case MEMBERS:
        for (size_t i = 0; i < n; i++) {
            const json_t *m = json_array_get(v, i);
            const char *standing = json_string_value(json_object_get(m, "standing"));
            copy_text(h->members[i].agency, sizeof h->members[i].agency,
                      json_object_get(m, "agency"));
            for (size_t s = 0; standing_names[s]; s++)
                if (strcmp(standing_names[s], standing) == 0)
                    h->members[i].standing = (enum cf_standing)(s + 1);
        }
        h->n_members = n;
        break;
    case ATTENDEES:
        for (size_t i = 0; i < n; i++)
            copy_text(h->attendees[i], sizeof h->attendees[i], json_array_get(v, i));
        h->n_attendees = n;
        break;
    case PROPOSAL_ID: {
        size_t got = 0;
        int rc = sodium_hex2bin(h->vote.proposal_id, sizeof h->vote.proposal_id,
                                json_string_value(v), json_string_length(v), NULL, &got, NULL);
        assert(rc == 0 && got == CF_MESSAGE_ID_LEN); /* the row's rule checked the digits */
        (void)rc;
        h->has_vote = true;
        break;
    }
    case APPROVE:
        h->vote.approve = json_is_true(v);
        h->has_vote = true;
        break;
    default:
        break;
    }
}

/* The NRM return's fields, gathered from the checked proposal and the caller's nation. */
static int nrm_build(const json_t *doc, const char *nation, json_t **out, struct cf_error *err)
{
    const json_t *part = json_object_get(doc, "nrm_return");
    json_t *r = json_object();
    for (size_t i = 0; r && i < CF_SCHEMA_COUNT_OF(nrm_return); i++) {
        const struct cf_schema_field *f = &nrm_return[i];
        json_t *v = f->tag == FROM_CALLER     ? json_string(nation)
                    : f->tag == FROM_PROPOSAL ? json_incref(json_object_get(doc, f->key))
                                              : json_incref(json_object_get(part, f->key));
        if ((f->tag == FROM_CALLER && !v) || (v && json_object_set_new(r, f->key, v) != 0)) {
            json_decref(r);
            r = NULL;
        }
    }
    if (!(*out = r))
        return cf_error_set(err, CF_ENOMEM, "nrm_return: out of memory");
    /* What the liaison will check it against. */
    const struct cf_schema_run run = {0};
    return cf_schema_parse(&nrm_return_object, r, NULL, &run, err);
}

int cf_message_from_json(enum cf_type type, const char *text, size_t len, const char *today,
                         const char *nation, struct cf_header *h, uint8_t **payload,
                         size_t *payload_len, uint8_t **nrm, size_t *nrm_len, struct cf_error *err)
{
    *payload = NULL;
    *payload_len = 0;
    if (nrm && nrm_len) {
        *nrm = NULL;
        *nrm_len = 0;
    }
    const struct message *m = message_for(type);
    if (!m)
        return cf_error_set(err, CF_ETYPE, "type: %s is not a case message sent as JSON",
                            type_name(type));
    if (!today || !cf_schema_date_valid(today, strlen(today)))
        return cf_error_set(err, CF_EINVAL, "today: must be a date written YYYY-MM-DD");
    bool proposal = type == CF_TYPE_DETERMINATION_PROPOSED;
    if (proposal && (!nrm || !nrm_len))
        return cf_error_set(err, CF_EINVAL, "nrm: a determination_proposed makes an NRM return");
    if (proposal && (!nation || !nation_valid(nation, strlen(nation))))
        return cf_error_set(err, CF_EINVAL, "nation: must be a jurisdiction name");

    json_t *doc, *body = NULL, *ret = NULL;
    struct cf_header fields = *h; /* written back only on success */
    int rc = cf_schema_load(text, len, &doc, err);
    if (rc)
        return rc;
    const struct cf_schema_run run = {.today = today};
    if ((rc = cf_schema_parse(&m->schema, doc, NULL, &run, err)) != 0)
        goto out;

    clear_type_fields(&fields);
    if (!(body = json_object())) {
        rc = cf_error_set(err, CF_ENOMEM, "document: out of memory");
        goto out;
    }
    for (size_t i = 0; i < m->schema.n_fields; i++) {
        const struct cf_schema_field *f = &m->schema.fields[i];
        json_t *v = json_object_get(doc, f->key);
        if (!v)
            continue;
        to_header((enum place)f->tag, v, &fields);
        if ((f->tag == PAYLOAD || f->tag == DECISION) && json_object_set(body, f->key, v) != 0) {
            rc = cf_error_set(err, CF_ENOMEM, "document: out of memory");
            goto out;
        }
    }
    if ((rc = cf_wire_payload_encode(m->body, body, payload, payload_len, err)) != 0)
        goto out;
    if (proposal && ((rc = nrm_build(doc, nation, &ret, err)) != 0 ||
                     (rc = cf_wire_payload_encode("nrm_return", ret, nrm, nrm_len, err)) != 0)) {
        free(*payload);
        *payload = NULL;
        *payload_len = 0;
        goto out;
    }
    *h = fields;
out:
    json_decref(doc);
    json_decref(body);
    json_decref(ret);
    return rc;
}

/* ---- To JSON ---- */

/* Header text without jansson's UTF-8 check: the rows' rules (ASCII only) judge it next, with
 * the sentences from_json would give. "" is absent. */
static int header_text(const char *s, json_t **v)
{
    return s[0] && !(*v = json_string_nocheck(s)) ? CF_ENOMEM : 0;
}

/* Sets *v to the value of a header-bound key from *h, or to NULL when the header lacks it. */
static int from_header(enum place place, const struct cf_header *h, json_t **v)
{
    *v = NULL;
    switch (place) {
    case LEAD_STAFF_REF:
        return header_text(h->lead_staff_ref, v);
    case CHAIR_STAFF_REF:
        return header_text(h->chair_staff_ref, v);
    case LA_CODE:
        return header_text(h->la_code, v);
    case MEMBERS:
        if (h->n_members > CF_MAX_MEMBERS)
            return CF_EINVAL;
        for (size_t i = 0; i < h->n_members; i++) {
            unsigned s = (unsigned)h->members[i].standing;
            /* An out-of-range standing becomes "", which the row's rule then refuses. */
            const char *name = s >= 1 && s <= 3 ? standing_names[s - 1] : "";
            json_t *m;
            /* The _new setters release what they are given, also when they fail. */
            if ((!*v && !(*v = json_array())) || json_array_append_new(*v, m = json_object()) ||
                json_object_set_new(m, "agency", json_string_nocheck(h->members[i].agency)) ||
                json_object_set_new(m, "standing", json_string(name)))
                return CF_ENOMEM;
        }
        return 0;
    case ATTENDEES:
        if (h->n_attendees > CF_MAX_MEMBERS)
            return CF_EINVAL;
        for (size_t i = 0; i < h->n_attendees; i++)
            if ((!*v && !(*v = json_array())) ||
                json_array_append_new(*v, json_string_nocheck(h->attendees[i])))
                return CF_ENOMEM;
        return 0;
    case PROPOSAL_ID: {
        char hex[2 * CF_MESSAGE_ID_LEN + 1];
        if (h->has_vote && !(*v = json_string(sodium_bin2hex(hex, sizeof hex, h->vote.proposal_id,
                                                             sizeof h->vote.proposal_id))))
            return CF_ENOMEM;
        return 0;
    }
    case APPROVE:
        if (h->has_vote && !(*v = json_boolean(h->vote.approve)))
            return CF_ENOMEM;
        return 0;
    default:
        return 0;
    }
}

/* Decodes an NRM return and checks it against the liaison's rules. */
static int nrm_decode(const uint8_t *nrm, size_t len, json_t **out, struct cf_error *err)
{
    int rc = cf_wire_payload_decode(nrm, len, "nrm_return", out, err);
    const struct cf_schema_run run = {.received = true};
    if (rc == 0 && (rc = cf_schema_parse(&nrm_return_object, *out, NULL, &run, err)) != 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* Checks the NRM return against the proposal in `doc` and adds its nrm_return object. */
static int nrm_attach(json_t *doc, const uint8_t *nrm, size_t len, struct cf_error *err)
{
    json_t *r, *part = NULL;
    int rc = nrm_decode(nrm, len, &r, err);
    if (rc)
        return rc;
    if (!(part = json_object()))
        rc = cf_error_set(err, CF_ENOMEM, "nrm_return: out of memory");
    for (size_t i = 0; rc == 0 && i < CF_SCHEMA_COUNT_OF(nrm_return); i++) {
        const struct cf_schema_field *f = &nrm_return[i];
        json_t *v = json_object_get(r, f->key);
        if (f->tag == FROM_PROPOSAL && !json_equal(v, json_object_get(doc, f->key)))
            rc = cf_error_set(err, CF_EMISMATCH, "nrm_return: its %s differs from the proposal's",
                              f->key);
        else if (f->tag == FROM_PART && v && json_object_set(part, f->key, v) != 0)
            rc = cf_error_set(err, CF_ENOMEM, "nrm_return: out of memory");
    }
    if (rc == 0 && json_object_set(doc, "nrm_return", part) != 0)
        rc = cf_error_set(err, CF_ENOMEM, "nrm_return: out of memory");
    json_decref(part);
    json_decref(r);
    return rc;
}

int cf_message_to_json(const struct cf_header *h, const uint8_t *payload, size_t len,
                       const uint8_t *nrm, size_t nrm_len, json_t **out, struct cf_error *err)
{
    *out = NULL;
    const struct message *m = message_for(h->type);
    if (!m)
        return cf_error_set(err, CF_ETYPE, "header.type: %s is not a case message",
                            type_name(h->type));
    if (nrm && h->type != CF_TYPE_DETERMINATION_PROPOSED)
        return cf_error_set(err, CF_EINVAL, "nrm: only a determination_proposed has an NRM return");
    json_t *doc;
    int rc = cf_wire_payload_decode(payload, len, m->body, &doc, err);
    if (rc)
        return rc;
    for (size_t i = 0; rc == 0 && i < m->schema.n_fields; i++) {
        const struct cf_schema_field *f = &m->schema.fields[i];
        if (f->tag == DECISION) {
            /* The payload carries it too (a required field, so it decoded). */
            const char *sent = json_string_value(json_object_get(doc, f->key));
            const char *in_header = cf_header_decision_name(h->decision);
            if (!in_header || !sent || strcmp(sent, in_header) != 0)
                rc = cf_error_set(err, CF_EMISMATCH,
                                  "decision: the payload says %s but the signed header says %s",
                                  sent ? sent : "nothing", in_header ? in_header : "nothing");
            continue;
        }
        json_t *v;
        if ((rc = from_header((enum place)f->tag, h, &v)) != 0) {
            json_decref(v);
            cf_error_set(err, rc, "%s: %s", f->key,
                         rc == CF_ENOMEM ? "out of memory" : "more than the header can hold");
        } else if (v && json_object_set_new(doc, f->key, v) != 0) { /* releases v */
            rc = cf_error_set(err, CF_ENOMEM, "%s: out of memory", f->key);
        }
    }
    /* The NRM return, if given, is checked by its own rules as it is attached. */
    const struct cf_schema_run run = {.received = true};
    if (rc == 0)
        rc = cf_schema_parse(&m->schema, doc, NULL, &run, err);
    if (rc == 0 && nrm)
        rc = nrm_attach(doc, nrm, nrm_len, err);
    if (rc)
        json_decref(doc);
    else
        *out = doc;
    return rc;
}

int cf_message_nrm_to_json(const uint8_t *nrm, size_t len, json_t **out, struct cf_error *err)
{
    *out = NULL;
    return nrm_decode(nrm, len, out, err);
}

int cf_message_document(const struct cf_header *h, const uint8_t *payload, size_t len, json_t **out,
                        struct cf_error *err)
{
    *out = NULL;
    if (h->type != CF_TYPE_REFERRAL)
        return cf_message_to_json(h, payload, len, NULL, 0, out, err);
    struct cf_referral r;
    memset(&r, 0, sizeof r);
    int rc = cf_wire_referral_decode(payload, len, &r, err);
    if (rc == 0) {
        /* The routing facts travel in the header; the case id stays there. */
        memcpy(r.la_code, h->la_code, sizeof r.la_code);
        r.urgency = h->urgency;
        r.immediate_risk = h->immediate_risk;
        *out = cf_referral_to_json(&r);
        if (!*out)
            rc = cf_error_set(err, CF_ENOMEM, "out of memory");
    }
    cf_referral_fini(&r);
    return rc;
}
