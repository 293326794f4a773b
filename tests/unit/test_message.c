/* Case message JSON tests. Each type has a document with every key; one table changes one
 * thing in it per row, and shows either that the result still goes from JSON to the header
 * and payload and back unchanged, or the exact code and sentence its sender would see. Then
 * the checks a reader's agent makes: the payload's type and the proposal's decision against
 * the signed header, and the NRM return against the proposal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "childfirst/message.h"
#include "childfirst/wire.h"

static const char today[] = "2026-11-25";
static const char nation[] = "england-wales";

/* Documents use ' for " so they read as JSON; swapped() turns them back. None needs a real
 * apostrophe (\u2019 serves). */
static char *swapped(const char *text)
{
    char *s = strdup(text);
    assert_non_null(s);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    return s;
}

/* Every key present. */
static const char *base_text(enum cf_type type)
{
    switch (type) {
    case CF_TYPE_ACKNOWLEDGEMENT:
        return "{'lead_staff_ref': 'WCC-SW-0417',"
               " 'next_steps': 'Strategy discussion today.\\nPlacement continues.',"
               " 'allocated_team': 'Assessment Team 2', 'notes': 'Interpreter booked.'}";
    case CF_TYPE_STRATEGY_RECORD:
    case CF_TYPE_IRD_RECORD:
        return "{'held_at': '2026-11-18T16:30', 'participants': ['Social worker', 'DS Example'],"
               " 'summary': 'Threshold met.', 'decisions': 'Section 47 enquiries.\\tJoint visit.',"
               " 'actions': ['Police: check the phones']}";
    case CF_TYPE_CONFERENCE_CONVENED:
        return "{'members': [{'agency': 'la-e09000033-csc', 'standing': 'voting'},"
               " {'agency': 'police-met', 'standing': 'voting'},"
               " {'agency': 'guardian-ictg', 'standing': 'required'}],"
               " 'chair_staff_ref': 'WCC-CP-CHAIR-09', 'meeting_at': '2026-12-09T10:00',"
               " 'location': 'City Hall, Room 4.2',"
               " 'agenda': '1. The child\\u2019s views\\n2. Reports'}";
    case CF_TYPE_CONTRIBUTION:
        return "{'report': 'Call records show daily contact.',"
               " 'recommendation': 'Positive reasonable grounds.'}";
    case CF_TYPE_DETERMINATION_PROPOSED:
        return "{'decision': 'rg', 'attendees': ['la-e09000033-csc', 'police-met', "
               "'guardian-ictg'],"
               " 'outcome': 'positive', 'exploitation': ['criminal', 'labour'],"
               " 'reasons': 'Travel arranged by others; a debt.',"
               " 'child_views': 'He wants to stay in his placement.', 'child_participated': true,"
               " 'protection_plan': 'Address restricted.',"
               " 'nrm_return': {'age_band': '14-15', 'sex': 'male', 'nationality': 'ER'}}";
    case CF_TYPE_VOTE:
        return "{'proposal_id': '5f0c2a9e8d7b6a5f4e3d2c1b0a998877', 'approve': true,"
               " 'comment': 'Agreed.'}";
    case CF_TYPE_RECONSIDERATION_REQUEST:
        return "{'grounds': 'Domestic servitude not recorded.',"
               " 'new_information': 'Cooked and cleaned unpaid.'}";
    case CF_TYPE_TRANSFER:
        return "{'la_code': 'E08000025', 'reason': 'Moved to Birmingham.',"
               " 'handover_notes': 'Plan attached.'}";
    case CF_TYPE_CLOSURE:
        return "{'reason': 'Conclusive grounds made.', 'summary': 'Settled at college.'}";
    default:
        fail_msg("no document for type %d", type);
    }
    return NULL;
}

/* A header whose routing fields are set, as the agent fills them before the type's own. */
static void routing(struct cf_header *h, enum cf_type type)
{
    memset(h, 0, sizeof *h);
    h->version = CF_PROTOCOL_VERSION;
    memset(h->message_id, 0x42, sizeof h->message_id);
    strcpy(h->case_id, "cf-abcdefghijklmnopqrstuvwxya");
    h->type = type;
    strcpy(h->sender, "la-e09000033-csc");
    h->n_recipients = 1;
    strcpy(h->recipients[0], "police-met");
    h->created_at = 1795000000000ull;
    strcpy(h->jurisdiction, "england-wales");
    strcpy(h->la_code, "E09000033");
    h->urgency = CF_URGENCY_URGENT;
    h->immediate_risk = true;
    h->has_in_reply_to = true;
    memset(h->in_reply_to, 0x17, sizeof h->in_reply_to);
}

/* What from_json made, for the reader's side. */
struct sent {
    struct cf_header h;
    uint8_t *payload, *nrm;
    size_t payload_len, nrm_len;
};

static int send_text(enum cf_type type, const char *text, size_t len, struct sent *s,
                     struct cf_error *err)
{
    routing(&s->h, type);
    s->payload = s->nrm = NULL;
    return cf_message_from_json(type, text, len, today, nation, &s->h, &s->payload, &s->payload_len,
                                &s->nrm, &s->nrm_len, err);
}

static void sent_free(struct sent *s)
{
    free(s->payload);
    free(s->nrm);
    s->payload = s->nrm = NULL;
}

/* from_json accepts text, leaves the routing fields alone, and to_json gives back an equal
 * document; without the NRM return it gives the same less "nrm_return". */
static void assert_round_trip(enum cf_type type, const char *text)
{
    struct sent s;
    struct cf_error err = {0};
    int rc = send_text(type, text, strlen(text), &s, &err);
    if (rc)
        fail_msg("%s (%s)\n%s", err.text, cf_error_name(rc), text);
    struct cf_header before;
    routing(&before, type);
    struct cf_header expect = s.h; /* the type's fields as made, the rest as before */
    memcpy(expect.message_id, before.message_id, sizeof expect.message_id);
    strcpy(expect.case_id, before.case_id);
    expect.type = before.type;
    strcpy(expect.sender, before.sender);
    expect.n_recipients = before.n_recipients;
    memcpy(expect.recipients, before.recipients, sizeof expect.recipients);
    expect.created_at = before.created_at;
    strcpy(expect.jurisdiction, before.jurisdiction);
    if (type != CF_TYPE_TRANSFER)
        strcpy(expect.la_code, before.la_code);
    expect.urgency = before.urgency;
    expect.immediate_risk = before.immediate_risk;
    expect.has_in_reply_to = before.has_in_reply_to;
    memcpy(expect.in_reply_to, before.in_reply_to, sizeof expect.in_reply_to);
    assert_memory_equal(&expect, &s.h, sizeof expect);
    assert_int_equal(s.nrm != NULL, type == CF_TYPE_DETERMINATION_PROPOSED);

    json_t *back;
    rc = cf_message_to_json(&s.h, s.payload, s.payload_len, s.nrm, s.nrm_len, &back, &err);
    if (rc)
        fail_msg("to_json: %s (%s)\n%s", err.text, cf_error_name(rc), text);
    json_t *doc = json_loads(text, 0, NULL);
    assert_non_null(doc);
    if (!json_equal(doc, back))
        fail_msg("to_json differs:\n%s", json_dumps(back, JSON_SORT_KEYS));
    json_decref(back);
    if (s.nrm) {
        assert_int_equal(cf_message_to_json(&s.h, s.payload, s.payload_len, NULL, 0, &back, &err),
                         0);
        json_object_del(doc, "nrm_return");
        assert_true(json_equal(doc, back));
        json_decref(back);
    }
    json_decref(doc);
    sent_free(&s);
}

/* One change to a type's every-key document. */
struct row {
    enum cf_type type;
    const char *what;
    const char *path;  /* "key", "members[1].agency", "nrm_return.sex"; NULL: `value` is the
                          whole document text */
    const char *value; /* JSON with ' for "; NULL: remove the key */
    size_t times;      /* > 0: `value` written `times` times is the string set, or (items) the
                          JSON value set `times` times as an array's items */
    bool items;
    int code; /* 0: accepted, and it round-trips */
    const char *message;
};

#define SET(t, what, path, value, code, message)                                                   \
    {                                                                                              \
        t, what, path, value, 0, false, code, message                                              \
    }
#define DROP(t, what, path, code, message)                                                         \
    {                                                                                              \
        t, what, path, NULL, 0, false, code, message                                               \
    }
#define TIMES(t, what, path, unit, n, code, message)                                               \
    {                                                                                              \
        t, what, path, unit, n, false, code, message                                               \
    }
#define ITEMS(t, what, path, item, n, code, message)                                               \
    {                                                                                              \
        t, what, path, item, n, true, code, message                                                \
    }
#define WHOLE(t, what, text, code, message)                                                        \
    {                                                                                              \
        t, what, NULL, text, 0, false, code, message                                               \
    }
#define OK(t, what, path, value) SET(t, what, path, value, 0, NULL)

static json_t *row_value(const struct row *r)
{
    if (!r->value)
        return NULL;
    if (r->times && !r->items) {
        size_t unit = strlen(r->value);
        char *s = malloc(unit * r->times);
        assert_non_null(s);
        for (size_t i = 0; i < r->times; i++)
            memcpy(s + i * unit, r->value, unit);
        json_t *v = json_stringn(s, unit * r->times);
        free(s);
        assert_non_null(v);
        return v;
    }
    char *text = swapped(r->value);
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    free(text);
    assert_non_null(v);
    if (!r->items)
        return v;
    json_t *a = json_array();
    for (size_t i = 0; i < r->times; i++)
        json_array_append_new(a, json_deep_copy(v));
    json_decref(v);
    return a;
}

/* The document text a row describes. Caller frees. */
static char *row_text(const struct row *r)
{
    if (!r->path)
        return swapped(r->value);
    char *base = swapped(base_text(r->type));
    json_t *doc = json_loads(base, 0, NULL);
    free(base);
    assert_non_null(doc);
    char path[128];
    snprintf(path, sizeof path, "%s", r->path);
    json_t *at = doc, *v = row_value(r);
    for (char *seg = path;;) {
        char *dot = strchr(seg, '.'), *bracket = strchr(seg, '[');
        if (dot)
            *dot = 0;
        if (bracket && (!dot || bracket < dot)) {
            *bracket = 0;
            size_t i = strtoul(bracket + 1, NULL, 10);
            json_t *a = json_object_get(at, seg);
            assert_true(json_is_array(a));
            if (!dot) {
                if (!v)
                    assert_int_equal(json_array_remove(a, i), 0);
                else if (i == json_array_size(a))
                    assert_int_equal(json_array_append_new(a, v), 0);
                else
                    assert_int_equal(json_array_set_new(a, i, v), 0);
                break;
            }
            at = json_array_get(a, i);
        } else if (!dot) {
            if (!v)
                assert_int_equal(json_object_del(at, seg), 0);
            else
                assert_int_equal(json_object_set_new(at, seg, v), 0);
            break;
        } else {
            at = json_object_get(at, seg);
        }
        assert_non_null(at);
        seg = dot + 1;
    }
    char *text = json_dumps(doc, JSON_COMPACT);
    assert_non_null(text);
    json_decref(doc);
    return text;
}

#define ACK CF_TYPE_ACKNOWLEDGEMENT
#define STRAT CF_TYPE_STRATEGY_RECORD
#define IRD CF_TYPE_IRD_RECORD
#define CONF CF_TYPE_CONFERENCE_CONVENED
#define CONTRIB CF_TYPE_CONTRIBUTION
#define PROP CF_TYPE_DETERMINATION_PROPOSED
#define VOTE CF_TYPE_VOTE
#define RECON CF_TYPE_RECONSIDERATION_REQUEST
#define XFER CF_TYPE_TRANSFER
#define CLOSE CF_TYPE_CLOSURE

#define EF CF_EFIELD
#define STAFF_RULE "must be a staff reference: 1 to 64 of A-Z, a-z, 0-9, -, _, . and /"
#define AGENCY_RULE "must be an agency id: 3 to 64 of a-z, 0-9 and -"
#define EXPLOITATION_CHOICES                                                                       \
    "must be one of criminal, sexual, labour, domestic_servitude, organ_removal, unknown"

static const struct row rows[] = {
    /* The document as a whole (the same code path for every type). */
    WHOLE(ACK, "malformed", "{'lead_staff_ref': 'A',, 'notes': ''}", CF_EJSON,
          "document: line 1, column 24: string or '}' expected near ','"),
    WHOLE(ACK, "empty", "", CF_EJSON,
          "document: line 1, column 0: '[' or '{' expected near end of file"),
    WHOLE(CLOSE, "an array", "[{'reason': 'x'}]", CF_EJSON, "document: must be a JSON object"),
    WHOLE(CLOSE, "a repeated key, its values unquoted",
          "{'reason': 'Secret one', 'reason': 'Secret two'}", CF_EJSON,
          "document: line 1, column 33: duplicate key 'reason'"),
    WHOLE(CONF, "a repeated key inside members",
          "{'members': [{'agency': 'police-met', 'agency': 'police-met'}]}", CF_EJSON,
          "document: line 1, column 46: duplicate key 'agency'"),
    WHOLE(PROP, "a repeated key inside nrm_return",
          "{'nrm_return': {'sex': 'male',\n 'sex': 'female'}}", CF_EJSON,
          "document: line 2, column 6: duplicate key 'sex'"),
    WHOLE(CLOSE, "a NUL in a value, which is not quoted", "{'reason': 'Secret\\u0000name'}",
          CF_EJSON, "document: line 1, column 29: contains a NUL character (\\u0000)"),
    WHOLE(CLOSE, "a NUL in a key", "{'rea\\u0000son': 'Secret'}", CF_EJSON,
          "document: line 1, column 15: contains a NUL character (\\u0000)"),
    SET(ACK, "the case id, which comes from the command line", "case_id",
        "'cf-abcdefghijklmnopqrstuvwxya'", EF, "case_id: unknown key"),
    SET(CLOSE, "an unknown key", "colour", "'blue'", EF, "colour: unknown key"),
    SET(CONF, "an unknown key inside members", "members[1].colour", "'blue'", EF,
        "members[1].colour: unknown key"),
    SET(PROP, "an unknown key inside nrm_return", "nrm_return.colour", "'blue'", EF,
        "nrm_return.colour: unknown key"),
    SET(CLOSE, "an unknown key cut short, control characters shown as ?",
        "sum\nmaryxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "''", EF,
        "sum?maryxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...: unknown key"),

    /* acknowledgement */
    OK(ACK, "lead_staff_ref of 64 with every punctuation allowed", "lead_staff_ref",
       "'A-b_c.d/0123456789012345678901234567890123456789012345678901234'"),
    DROP(ACK, "without next_steps", "next_steps", 0, NULL),
    TIMES(ACK, "next_steps of 2000 bytes", "next_steps", "n", 2000, 0, NULL),
    OK(ACK, "allocated_team empty", "allocated_team", "''"),
    DROP(ACK, "lead_staff_ref missing", "lead_staff_ref", EF, "lead_staff_ref: is required"),
    SET(ACK, "lead_staff_ref a number", "lead_staff_ref", "417", EF,
        "lead_staff_ref: must be a string"),
    SET(ACK, "lead_staff_ref empty", "lead_staff_ref", "''", EF, "lead_staff_ref: " STAFF_RULE),
    SET(ACK, "lead_staff_ref with a space", "lead_staff_ref", "'WCC SW 0417'", EF,
        "lead_staff_ref: " STAFF_RULE),
    TIMES(ACK, "lead_staff_ref of 65", "lead_staff_ref", "a", 65, EF,
          "lead_staff_ref: " STAFF_RULE),
    SET(ACK, "lead_staff_ref with a control character", "lead_staff_ref", "'WCC\\u0007'", EF,
        "lead_staff_ref: contains a control character"),
    TIMES(ACK, "next_steps of 2001 bytes", "next_steps", "n", 2001, EF,
          "next_steps: must be at most 2000 bytes"),
    SET(ACK, "next_steps with a carriage return", "next_steps", "'a\\r\\nb'", EF,
        "next_steps: contains a control character"),
    SET(ACK, "next_steps an array", "next_steps", "['a']", EF, "next_steps: must be a string"),
    TIMES(ACK, "allocated_team of 201 bytes", "allocated_team", "t", 201, EF,
          "allocated_team: must be at most 200 bytes"),
    SET(ACK, "allocated_team with a newline", "allocated_team", "'Team\\n2'", EF,
        "allocated_team: contains a control character"),
    TIMES(ACK, "notes of 10001 bytes", "notes", "n", 10001, EF,
          "notes: must be at most 10000 bytes"),
    SET(ACK, "notes null", "notes", "null", EF, "notes: must be a string"),

    /* strategy_record and ird_record */
    OK(STRAT, "held_at today, late", "held_at", "'2026-11-25T23:59'"),
    OK(STRAT, "held_at on 29 February of a leap year", "held_at", "'2024-02-29T00:00'"),
    OK(STRAT, "participants empty", "participants", "[]"),
    ITEMS(STRAT, "participants at 50", "participants", "'Someone'", 50, 0, NULL),
    TIMES(STRAT, "summary of 65536 bytes", "summary", "s", 65536, 0, NULL),
    DROP(STRAT, "without actions", "actions", 0, NULL),
    DROP(STRAT, "held_at missing", "held_at", EF, "held_at: is required"),
    SET(STRAT, "held_at a date only", "held_at", "'2026-11-18'", EF,
        "held_at: must be a local time written YYYY-MM-DDTHH:MM"),
    SET(STRAT, "held_at with seconds", "held_at", "'2026-11-18T16:30:00'", EF,
        "held_at: must be a local time written YYYY-MM-DDTHH:MM"),
    SET(STRAT, "held_at with a space", "held_at", "'2026-11-18 16:30'", EF,
        "held_at: must be a local time written YYYY-MM-DDTHH:MM"),
    SET(STRAT, "held_at with a zone", "held_at", "'2026-11-18T16:30Z'", EF,
        "held_at: must be a local time written YYYY-MM-DDTHH:MM"),
    SET(STRAT, "held_at at 24:00", "held_at", "'2026-11-18T24:00'", EF,
        "held_at: must be a real date and time"),
    SET(STRAT, "held_at at minute 60", "held_at", "'2026-11-18T16:60'", EF,
        "held_at: must be a real date and time"),
    SET(STRAT, "held_at on 29 February of a common year", "held_at", "'2026-02-29T10:00'", EF,
        "held_at: must be a real date and time"),
    SET(STRAT, "held_at in month 13", "held_at", "'2026-13-01T10:00'", EF,
        "held_at: must be a real date and time"),
    SET(STRAT, "held_at tomorrow", "held_at", "'2026-11-26T00:00'", EF,
        "held_at: must not be after today (2026-11-25)"),
    SET(STRAT, "held_at a number", "held_at", "202611181630", EF, "held_at: must be a string"),
    ITEMS(STRAT, "participants of 51", "participants", "'Someone'", 51, EF,
          "participants: must have at most 50 items"),
    SET(STRAT, "participants a string", "participants", "'Social worker'", EF,
        "participants: must be an array of strings"),
    SET(STRAT, "participants item empty", "participants[0]", "''", EF,
        "participants[0]: must not be empty"),
    TIMES(STRAT, "participants item of 201 bytes", "participants[1]", "p", 201, EF,
          "participants[1]: must be at most 200 bytes"),
    SET(STRAT, "participants item with a newline", "participants[0]", "'Social\\nworker'", EF,
        "participants[0]: contains a control character"),
    SET(STRAT, "participants item a number", "participants[1]", "7", EF,
        "participants[1]: must be a string"),
    TIMES(STRAT, "summary of 65537 bytes", "summary", "s", 65537, EF,
          "summary: must be at most 65536 bytes"),
    SET(STRAT, "summary with a form feed", "summary", "'a\\fb'", EF,
        "summary: contains a control character"),
    TIMES(STRAT, "decisions of 65537 bytes", "decisions", "d", 65537, EF,
          "decisions: must be at most 65536 bytes"),
    ITEMS(STRAT, "actions of 51", "actions", "'Act'", 51, EF,
          "actions: must have at most 50 items"),
    SET(STRAT, "actions item empty", "actions[0]", "''", EF, "actions[0]: must not be empty"),
    TIMES(STRAT, "actions item of 501 bytes", "actions[0]", "a", 501, EF,
          "actions[0]: must be at most 500 bytes"),
    OK(IRD, "an ird_record holds the same keys", "held_at", "'2026-11-25T09:00'"),
    SET(IRD, "ird_record held_at tomorrow", "held_at", "'2026-11-26T09:00'", EF,
        "held_at: must not be after today (2026-11-25)"),
    SET(IRD, "ird_record unknown key", "ird", "true", EF, "ird: unknown key"),

    /* conference_convened */
    OK(CONF, "meeting_at in the future", "meeting_at", "'2027-06-01T09:00'"),
    OK(CONF, "one member", "members", "[{'agency': 'la-e09000033-csc', 'standing': 'voting'}]"),
    OK(CONF, "an advisory member", "members[3]",
       "{'agency': 'home-office-x', 'standing': "
       "'advisory'}"),
    DROP(CONF, "without location and agenda", "location", 0, NULL),
    DROP(CONF, "members missing", "members", EF, "members: is required"),
    SET(CONF, "members empty", "members", "[]", EF, "members: must not be empty"),
    SET(CONF, "members an object", "members", "{'agency': 'police-met'}", EF,
        "members: must be an array of objects"),
    ITEMS(CONF, "members of 33", "members", "{'agency': 'police-met', 'standing': 'voting'}", 33,
          EF, "members: must have at most 32 items"),
    SET(CONF, "members item a string", "members[1]", "'police-met'", EF,
        "members[1]: must be an object"),
    DROP(CONF, "members item without agency", "members[0].agency", EF,
         "members[0].agency: is required"),
    DROP(CONF, "members item without standing", "members[2].standing", EF,
         "members[2].standing: is required"),
    SET(CONF, "members agency in capitals", "members[0].agency", "'LA-CSC'", EF,
        "members[0].agency: " AGENCY_RULE),
    SET(CONF, "members agency of two letters", "members[0].agency", "'la'", EF,
        "members[0].agency: " AGENCY_RULE),
    SET(CONF, "members agency a number", "members[0].agency", "1", EF,
        "members[0].agency: must be a string"),
    SET(CONF, "members standing not a choice", "members[1].standing", "'chair'", EF,
        "members[1].standing: must be one of voting, required, advisory"),
    SET(CONF, "members agency repeated", "members[2].agency", "'police-met'", EF,
        "members[2].agency: 'police-met' is repeated"),
    DROP(CONF, "chair_staff_ref missing", "chair_staff_ref", EF, "chair_staff_ref: is required"),
    SET(CONF, "chair_staff_ref with a comma", "chair_staff_ref", "'CHAIR,9'", EF,
        "chair_staff_ref: " STAFF_RULE),
    DROP(CONF, "meeting_at missing", "meeting_at", EF, "meeting_at: is required"),
    SET(CONF, "meeting_at a date only", "meeting_at", "'2026-12-09'", EF,
        "meeting_at: must be a local time written YYYY-MM-DDTHH:MM"),
    SET(CONF, "meeting_at on 32 December", "meeting_at", "'2026-12-32T10:00'", EF,
        "meeting_at: must be a real date and time"),
    TIMES(CONF, "location of 501 bytes", "location", "l", 501, EF,
          "location: must be at most 500 bytes"),
    SET(CONF, "location with a tab", "location", "'Room\\t4'", EF,
        "location: contains a control character"),
    TIMES(CONF, "agenda of 10001 bytes", "agenda", "a", 10001, EF,
          "agenda: must be at most 10000 bytes"),

    /* contribution */
    DROP(CONTRIB, "without recommendation", "recommendation", 0, NULL),
    TIMES(CONTRIB, "report of 65536 bytes", "report", "r", 65536, 0, NULL),
    DROP(CONTRIB, "report missing", "report", EF, "report: is required"),
    SET(CONTRIB, "report empty", "report", "''", EF, "report: must not be empty"),
    TIMES(CONTRIB, "report of 65537 bytes", "report", "r", 65537, EF,
          "report: must be at most 65536 bytes"),
    SET(CONTRIB, "report with an escape", "report", "'a\\u001bb'", EF,
        "report: contains a control character"),
    SET(CONTRIB, "report an object", "report", "{}", EF, "report: must be a string"),
    TIMES(CONTRIB, "recommendation of 10001 bytes", "recommendation", "r", 10001, EF,
          "recommendation: must be at most 10000 bytes"),

    /* determination_proposed */
    OK(PROP, "a conclusive grounds decision", "decision", "'cg'"),
    OK(PROP, "a negative outcome", "outcome", "'negative'"),
    OK(PROP, "the child did not take part", "child_participated", "false"),
    OK(PROP, "every exploitation type", "exploitation",
       "['criminal', 'sexual', 'labour', 'domestic_servitude', 'organ_removal', 'unknown']"),
    DROP(PROP, "nationality not known", "nrm_return.nationality", 0, NULL),
    DROP(PROP, "without a protection plan", "protection_plan", 0, NULL),
    OK(PROP, "every age band", "nrm_return.age_band", "'0-9'"),
    OK(PROP, "one attendee", "attendees", "['police-met']"),
    DROP(PROP, "decision missing", "decision", EF, "decision: is required"),
    SET(PROP, "decision in capitals", "decision", "'RG'", EF, "decision: must be one of rg, cg"),
    SET(PROP, "decision a boolean", "decision", "true", EF, "decision: must be a string"),
    DROP(PROP, "attendees missing", "attendees", EF, "attendees: is required"),
    SET(PROP, "attendees empty", "attendees", "[]", EF, "attendees: must not be empty"),
    ITEMS(PROP, "attendees of 33", "attendees", "'police-met'", 33, EF,
          "attendees: must have at most 32 items"),
    SET(PROP, "attendees a string", "attendees", "'police-met'", EF,
        "attendees: must be an array of strings"),
    SET(PROP, "attendees item not an id", "attendees[1]", "'Police Met'", EF,
        "attendees[1]: " AGENCY_RULE),
    SET(PROP, "attendees item repeated", "attendees[2]", "'police-met'", EF,
        "attendees[2]: 'police-met' is repeated"),
    DROP(PROP, "outcome missing", "outcome", EF, "outcome: is required"),
    SET(PROP, "outcome not a choice", "outcome", "'maybe'", EF,
        "outcome: must be one of positive, negative"),
    DROP(PROP, "exploitation missing", "exploitation", EF, "exploitation: is required"),
    SET(PROP, "exploitation empty", "exploitation", "[]", EF, "exploitation: must not be empty"),
    SET(PROP, "exploitation not a choice", "exploitation[1]", "'trafficking'", EF,
        "exploitation[1]: " EXPLOITATION_CHOICES),
    SET(PROP, "exploitation repeated", "exploitation[1]", "'criminal'", EF,
        "exploitation[1]: 'criminal' is repeated"),
    ITEMS(PROP, "exploitation of 7", "exploitation", "'unknown'", 7, EF,
          "exploitation: must have at most 6 items"),
    DROP(PROP, "reasons missing", "reasons", EF, "reasons: is required"),
    SET(PROP, "reasons empty", "reasons", "''", EF, "reasons: must not be empty"),
    TIMES(PROP, "reasons of 65537 bytes", "reasons", "r", 65537, EF,
          "reasons: must be at most 65536 bytes"),
    DROP(PROP, "child_views missing", "child_views", EF, "child_views: is required"),
    SET(PROP, "child_views empty", "child_views", "''", EF, "child_views: must not be empty"),
    TIMES(PROP, "child_views of 65537 bytes", "child_views", "v", 65537, EF,
          "child_views: must be at most 65536 bytes"),
    DROP(PROP, "child_participated missing", "child_participated", EF,
         "child_participated: is required"),
    SET(PROP, "child_participated a string", "child_participated", "'yes'", EF,
        "child_participated: must be a boolean"),
    TIMES(PROP, "protection_plan of 65537 bytes", "protection_plan", "p", 65537, EF,
          "protection_plan: must be at most 65536 bytes"),
    DROP(PROP, "nrm_return missing", "nrm_return", EF, "nrm_return: is required"),
    SET(PROP, "nrm_return an array", "nrm_return", "[]", EF, "nrm_return: must be an object"),
    DROP(PROP, "nrm_return.age_band missing", "nrm_return.age_band", EF,
         "nrm_return.age_band: is required"),
    SET(PROP, "nrm_return.age_band an age", "nrm_return.age_band", "'15'", EF,
        "nrm_return.age_band: must be one of 0-9, 10-13, 14-15, 16-17, unknown"),
    DROP(PROP, "nrm_return.sex missing", "nrm_return.sex", EF, "nrm_return.sex: is required"),
    SET(PROP, "nrm_return.sex not a choice", "nrm_return.sex", "'M'", EF,
        "nrm_return.sex: must be one of female, male, other, unknown"),
    SET(PROP, "nrm_return.nationality a name", "nrm_return.nationality", "'Eritrea'", EF,
        "nrm_return.nationality: must be two capital letters, an ISO 3166-1 alpha-2 code like "
        "ER"),

    /* vote */
    SET(VOTE, "a rejection", "approve", "false", 0, NULL),
    DROP(VOTE, "without a comment", "comment", 0, NULL),
    DROP(VOTE, "proposal_id missing", "proposal_id", EF, "proposal_id: is required"),
    SET(VOTE, "proposal_id in capitals", "proposal_id", "'5F0C2A9E8D7B6A5F4E3D2C1B0A998877'", EF,
        "proposal_id: must be the proposal's message id: 32 lowercase hexadecimal characters"),
    SET(VOTE, "proposal_id of 31", "proposal_id", "'5f0c2a9e8d7b6a5f4e3d2c1b0a99887'", EF,
        "proposal_id: must be the proposal's message id: 32 lowercase hexadecimal characters"),
    SET(VOTE, "proposal_id not hexadecimal", "proposal_id", "'5f0c2a9e8d7b6a5f4e3d2c1b0a99887g'",
        EF, "proposal_id: must be the proposal's message id: 32 lowercase hexadecimal characters"),
    DROP(VOTE, "approve missing", "approve", EF, "approve: is required"),
    SET(VOTE, "approve a string", "approve", "'yes'", EF, "approve: must be a boolean"),
    SET(VOTE, "approve null", "approve", "null", EF, "approve: must be a boolean"),
    TIMES(VOTE, "comment of 10001 bytes", "comment", "c", 10001, EF,
          "comment: must be at most 10000 bytes"),

    /* reconsideration_request */
    DROP(RECON, "without new information", "new_information", 0, NULL),
    DROP(RECON, "grounds missing", "grounds", EF, "grounds: is required"),
    SET(RECON, "grounds empty", "grounds", "''", EF, "grounds: must not be empty"),
    TIMES(RECON, "new_information of 65537 bytes", "new_information", "n", 65537, EF,
          "new_information: must be at most 65536 bytes"),

    /* transfer */
    DROP(XFER, "without handover notes", "handover_notes", 0, NULL),
    DROP(XFER, "la_code missing", "la_code", EF, "la_code: is required"),
    SET(XFER, "la_code in lowercase", "la_code", "'e08000025'", EF,
        "la_code: must be a local authority GSS code: a capital letter and eight digits, like "
        "E09000033"),
    DROP(XFER, "reason missing", "reason", EF, "reason: is required"),
    SET(XFER, "reason empty", "reason", "''", EF, "reason: must not be empty"),
    TIMES(XFER, "reason of 10001 bytes", "reason", "r", 10001, EF,
          "reason: must be at most 10000 bytes"),
    TIMES(XFER, "handover_notes of 65537 bytes", "handover_notes", "h", 65537, EF,
          "handover_notes: must be at most 65536 bytes"),

    /* closure */
    DROP(CLOSE, "without a summary", "summary", 0, NULL),
    TIMES(CLOSE, "reason of 10000 bytes", "reason", "r", 10000, 0, NULL),
    DROP(CLOSE, "reason missing", "reason", EF, "reason: is required"),
    SET(CLOSE, "reason empty", "reason", "''", EF, "reason: must not be empty"),
    TIMES(CLOSE, "reason of 10001 bytes", "reason", "r", 10001, EF,
          "reason: must be at most 10000 bytes"),
    TIMES(CLOSE, "summary of 65537 bytes", "summary", "s", 65537, EF,
          "summary: must be at most 65536 bytes"),
};

static void test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        print_message("%s %s: %s\n", r->code ? "rejected" : "accepted",
                      cf_header_type_name(r->type), r->what);
        char *text = row_text(r);
        if (r->code == 0) {
            assert_round_trip(r->type, text);
            free(text);
            continue;
        }
        struct sent s;
        struct cf_header before;
        routing(&before, r->type);
        struct cf_error err = {0};
        int rc = send_text(r->type, text, strlen(text), &s, &err);
        if (rc != r->code || strcmp(err.text, r->message) != 0)
            print_error("row \"%s\": got %s \"%s\"\n", r->what, cf_error_name(rc), err.text);
        assert_int_equal(rc, r->code);
        assert_int_equal(err.code, r->code);
        assert_string_equal(err.text, r->message);
        assert_null(s.payload);
        assert_null(s.nrm);
        assert_int_equal(s.payload_len, 0);
        assert_memory_equal(&before, &s.h, sizeof before); /* untouched */
        /* Neither the repeated values nor a NUL'd string is ever quoted. */
        assert_null(strstr(err.text, "Secret"));
        free(text);
    }
}

/* The every-key document of each type, and the header fields it sets. */
static void test_every_key(void **state)
{
    (void)state;
    for (enum cf_type t = ACK; t <= CLOSE; t++) {
        if (t == CF_TYPE_DETERMINATION)
            continue;
        char *text = swapped(base_text(t));
        assert_round_trip(t, text);
        free(text);
    }
}

/* Only the required keys of each type. */
static void test_required_only(void **state)
{
    (void)state;
    static const struct {
        enum cf_type type;
        const char *text;
    } docs[] = {
        {ACK, "{'lead_staff_ref': 'SW-1'}"},
        {STRAT, "{'held_at': '2026-11-18T16:30'}"},
        {IRD, "{'held_at': '2026-11-18T16:30'}"},
        {CONF, "{'members': [{'agency': 'police-met', 'standing': 'voting'}],"
               " 'chair_staff_ref': 'CH-1', 'meeting_at': '2026-12-09T10:00'}"},
        {CONTRIB, "{'report': 'R'}"},
        {PROP, "{'decision': 'cg', 'attendees': ['police-met'], 'outcome': 'negative',"
               " 'exploitation': ['unknown'], 'reasons': 'R', 'child_views': 'V',"
               " 'child_participated': false,"
               " 'nrm_return': {'age_band': 'unknown', 'sex': 'unknown'}}"},
        {VOTE, "{'proposal_id': '00000000000000000000000000000000', 'approve': false}"},
        {RECON, "{'grounds': 'G'}"},
        {XFER, "{'la_code': 'W06000015', 'reason': 'R'}"},
        {CLOSE, "{'reason': 'R'}"},
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        char *text = swapped(docs[i].text);
        assert_round_trip(docs[i].type, text);
        free(text);
    }
}

/* CF_MAX_MEMBERS distinct members and attendees are allowed, one more is not. */
static void test_member_limits(void **state)
{
    (void)state;
    for (size_t n = CF_MAX_MEMBERS; n <= CF_MAX_MEMBERS + 1; n++) {
        json_t *members = json_array(), *attendees = json_array();
        for (size_t i = 0; i < n; i++) {
            char id[16];
            snprintf(id, sizeof id, "agency-%02zu", i);
            json_array_append_new(members, json_pack("{ssss}", "agency", id, "standing", "voting"));
            json_array_append_new(attendees, json_string(id));
        }
        struct row conf = SET(CONF, "", "members", "[]", 0, NULL);
        struct row prop = SET(PROP, "", "attendees", "[]", 0, NULL);
        const struct {
            struct row *row;
            json_t *list;
            const char *key;
        } cases[] = {{&conf, members, "members"}, {&prop, attendees, "attendees"}};
        for (size_t c = 0; c < 2; c++) {
            char *text = row_text(cases[c].row);
            json_t *doc = json_loads(text, 0, NULL);
            free(text);
            json_object_set(doc, cases[c].key, cases[c].list);
            text = json_dumps(doc, JSON_COMPACT);
            json_decref(doc);
            if (n == CF_MAX_MEMBERS) {
                assert_round_trip(cases[c].row->type, text);
            } else {
                struct sent s;
                struct cf_error err = {0};
                assert_int_equal(send_text(cases[c].row->type, text, strlen(text), &s, &err),
                                 CF_EFIELD);
                char want[64];
                snprintf(want, sizeof want, "%s: must have at most 32 items", cases[c].key);
                assert_string_equal(err.text, want);
            }
            free(text);
        }
        json_decref(members);
        json_decref(attendees);
    }
}

static void test_header_fields(void **state)
{
    (void)state;
    struct sent s;
    char *text = swapped(base_text(CONF));
    assert_int_equal(send_text(CONF, text, strlen(text), &s, NULL), 0);
    free(text);
    assert_int_equal(s.h.n_members, 3);
    assert_string_equal(s.h.members[1].agency, "police-met");
    assert_int_equal(s.h.members[1].standing, CF_STANDING_VOTING);
    assert_int_equal(s.h.members[2].standing, CF_STANDING_REQUIRED);
    assert_string_equal(s.h.chair_staff_ref, "WCC-CP-CHAIR-09");
    assert_int_equal(cf_header_check(&s.h, NULL), 0);
    sent_free(&s);

    text = swapped(base_text(PROP));
    assert_int_equal(send_text(PROP, text, strlen(text), &s, NULL), 0);
    free(text);
    assert_int_equal(s.h.decision, CF_DECISION_RG);
    assert_int_equal(s.h.n_attendees, 3);
    assert_string_equal(s.h.attendees[2], "guardian-ictg");
    json_t *ret;
    struct cf_error err = {0};
    if (cf_message_nrm_to_json(s.nrm, s.nrm_len, &ret, &err) != 0)
        fail_msg("%s", err.text);
    char *want = swapped("{'decision': 'rg', 'outcome': 'positive', 'nation': 'england-wales',"
                         " 'exploitation': ['criminal', 'labour'], 'age_band': '14-15',"
                         " 'sex': 'male', 'nationality': 'ER'}");
    json_t *expect = json_loads(want, 0, NULL);
    assert_true(json_equal(ret, expect));
    json_decref(expect);
    json_decref(ret);
    free(want);
    sent_free(&s);

    text = swapped(base_text(VOTE));
    assert_int_equal(send_text(VOTE, text, strlen(text), &s, NULL), 0);
    free(text);
    static const uint8_t id[16] = {0x5f, 0x0c, 0x2a, 0x9e, 0x8d, 0x7b, 0x6a, 0x5f,
                                   0x4e, 0x3d, 0x2c, 0x1b, 0x0a, 0x99, 0x88, 0x77};
    static const uint8_t unsigned_[64];
    assert_true(s.h.has_vote);
    assert_true(s.h.vote.approve);
    assert_memory_equal(s.h.vote.proposal_id, id, sizeof id);
    assert_memory_equal(s.h.vote.signature, unsigned_, sizeof unsigned_); /* the caller signs */
    sent_free(&s);

    text = swapped(base_text(XFER));
    assert_int_equal(send_text(XFER, text, strlen(text), &s, NULL), 0);
    free(text);
    assert_string_equal(s.h.la_code, "E08000025"); /* the receiving authority */
    sent_free(&s);

    /* Another type's fields left in the header are cleared, not carried. */
    text = swapped(base_text(ACK));
    routing(&s.h, ACK);
    s.h.decision = CF_DECISION_CG;
    s.h.n_attendees = 1;
    strcpy(s.h.attendees[0], "police-met");
    s.h.has_vote = true;
    assert_int_equal(cf_message_from_json(ACK, text, strlen(text), today, NULL, &s.h, &s.payload,
                                          &s.payload_len, NULL, NULL, NULL),
                     0);
    free(text);
    assert_string_equal(s.h.lead_staff_ref, "WCC-SW-0417");
    assert_int_equal(s.h.decision, CF_DECISION_NONE);
    assert_int_equal(s.h.n_attendees, 0);
    assert_false(s.h.has_vote);
    free(s.payload);
}

/* What a voter's agent relies on: the decrypted decision is the signed one. */
static void test_mismatch(void **state)
{
    (void)state;
    struct sent s, other;
    struct cf_error err = {0};
    json_t *doc = NULL;
    char *text = swapped(base_text(PROP));
    assert_int_equal(send_text(PROP, text, strlen(text), &s, NULL), 0);
    free(text);

    s.h.decision = CF_DECISION_CG;
    assert_int_equal(cf_message_to_json(&s.h, s.payload, s.payload_len, NULL, 0, &doc, &err),
                     CF_EMISMATCH);
    assert_string_equal(err.text, "decision: the payload says rg but the signed header says cg");
    assert_null(doc);
    s.h.decision = CF_DECISION_NONE;
    assert_int_equal(cf_message_to_json(&s.h, s.payload, s.payload_len, NULL, 0, &doc, &err),
                     CF_EMISMATCH);
    assert_string_equal(err.text,
                        "decision: the payload says rg but the signed header says nothing");
    s.h.decision = CF_DECISION_RG;

    /* An NRM return made for another proposal. */
    struct row neg = SET(PROP, "", "outcome", "'negative'", 0, NULL);
    text = row_text(&neg);
    assert_int_equal(send_text(PROP, text, strlen(text), &other, NULL), 0);
    free(text);
    assert_int_equal(
        cf_message_to_json(&s.h, s.payload, s.payload_len, other.nrm, other.nrm_len, &doc, &err),
        CF_EMISMATCH);
    assert_string_equal(err.text, "nrm_return: its outcome differs from the proposal's");
    assert_null(doc);
    sent_free(&other);

    struct row labour = SET(PROP, "", "exploitation", "['labour']", 0, NULL);
    text = row_text(&labour);
    assert_int_equal(send_text(PROP, text, strlen(text), &other, NULL), 0);
    free(text);
    assert_int_equal(
        cf_message_to_json(&s.h, s.payload, s.payload_len, other.nrm, other.nrm_len, &doc, &err),
        CF_EMISMATCH);
    assert_string_equal(err.text, "nrm_return: its exploitation differs from the proposal's");
    sent_free(&other);
    sent_free(&s);
}

/* The payload must be the header's type; strategy_record and ird_record share one. */
static void test_type(void **state)
{
    (void)state;
    struct sent s;
    struct cf_error err = {0};
    json_t *doc = NULL;
    char *text = swapped(base_text(ACK));
    assert_int_equal(send_text(ACK, text, strlen(text), &s, NULL), 0);
    s.h.type = CLOSE;
    assert_int_equal(cf_message_to_json(&s.h, s.payload, s.payload_len, NULL, 0, &doc, &err),
                     CF_ETYPE);
    assert_string_equal(err.text, "payload: holds acknowledgement where closure was expected");
    s.h.type = CF_TYPE_REFERRAL;
    assert_int_equal(cf_message_to_json(&s.h, s.payload, s.payload_len, NULL, 0, &doc, &err),
                     CF_ETYPE);
    assert_string_equal(err.text, "header.type: referral is not a case message");
    s.h.type = CF_TYPE_DETERMINATION;
    assert_int_equal(cf_message_to_json(&s.h, s.payload, s.payload_len, NULL, 0, &doc, &err),
                     CF_ETYPE);
    assert_null(doc);
    s.h.type = ACK;
    assert_int_equal(cf_message_to_json(&s.h, s.payload, 0, NULL, 0, &doc, &err), CF_ETYPE);
    assert_string_equal(err.text, "payload: holds nothing where acknowledgement was expected");
    sent_free(&s);

    static const enum cf_type not_messages[] = {CF_TYPE_NONE, CF_TYPE_REFERRAL,
                                                CF_TYPE_DETERMINATION, CF_TYPE_COUNT};
    for (size_t i = 0; i < sizeof not_messages / sizeof not_messages[0]; i++) {
        assert_false(cf_message_type_valid(not_messages[i]));
        assert_int_equal(send_text(not_messages[i], text, strlen(text), &s, &err), CF_ETYPE);
    }
    assert_string_equal(err.text, "type: (unknown) is not a case message sent as JSON");
    assert_int_equal(send_text(CF_TYPE_REFERRAL, text, strlen(text), &s, &err), CF_ETYPE);
    assert_string_equal(err.text, "type: referral is not a case message sent as JSON");
    free(text);

    text = swapped(base_text(STRAT));
    assert_int_equal(send_text(STRAT, text, strlen(text), &s, NULL), 0);
    s.h.type = IRD;
    assert_int_equal(cf_message_to_json(&s.h, s.payload, s.payload_len, NULL, 0, &doc, &err), 0);
    json_decref(doc);
    sent_free(&s);
    free(text);

    /* The NRM return is not the proposal, nor the proposal an NRM return. */
    text = swapped(base_text(PROP));
    assert_int_equal(send_text(PROP, text, strlen(text), &s, NULL), 0);
    free(text);
    assert_int_equal(cf_message_to_json(&s.h, s.nrm, s.nrm_len, NULL, 0, &doc, &err), CF_ETYPE);
    assert_string_equal(err.text,
                        "payload: holds nrm_return where determination_proposed was expected");
    assert_int_equal(cf_message_nrm_to_json(s.payload, s.payload_len, &doc, &err), CF_ETYPE);
    assert_string_equal(err.text,
                        "payload: holds determination_proposed where nrm_return was expected");
    assert_int_equal(
        cf_message_to_json(&s.h, s.payload, s.payload_len, s.payload, s.payload_len, &doc, &err),
        CF_ETYPE);
    s.h.type = CLOSE;
    assert_int_equal(
        cf_message_to_json(&s.h, s.payload, s.payload_len, s.nrm, s.nrm_len, &doc, &err),
        CF_EINVAL);
    assert_null(doc);
    sent_free(&s);
}

/* The caller's mistakes are CF_EINVAL, not the sender's. */
static void test_caller_errors(void **state)
{
    (void)state;
    struct cf_header h;
    uint8_t *payload = (uint8_t *)"x", *nrm = (uint8_t *)"x";
    size_t len = 1, nrm_len = 1;
    struct cf_error err = {0};
    char *text = swapped(base_text(PROP));
    routing(&h, PROP);
    assert_int_equal(cf_message_from_json(PROP, text, strlen(text), "25/11/2026", nation, &h,
                                          &payload, &len, &nrm, &nrm_len, &err),
                     CF_EINVAL);
    assert_string_equal(err.text, "today: must be a date written YYYY-MM-DD");
    assert_null(payload);
    assert_int_equal(len, 0);
    assert_null(nrm);
    assert_int_equal(cf_message_from_json(PROP, text, strlen(text), today, NULL, &h, &payload, &len,
                                          &nrm, &nrm_len, &err),
                     CF_EINVAL);
    assert_string_equal(err.text, "nation: must be a jurisdiction name");
    assert_int_equal(cf_message_from_json(PROP, text, strlen(text), today, "England & Wales", &h,
                                          &payload, &len, &nrm, &nrm_len, &err),
                     CF_EINVAL);
    assert_int_equal(cf_message_from_json(PROP, text, strlen(text), today, nation, &h, &payload,
                                          &len, NULL, NULL, &err),
                     CF_EINVAL);
    assert_string_equal(err.text, "nrm: a determination_proposed makes an NRM return");
    assert_int_equal(cf_message_from_json(PROP, NULL, 0, today, nation, &h, &payload, &len, &nrm,
                                          &nrm_len, &err),
                     CF_EINVAL);
    free(text);
}

/* Every document is bounded by CF_MAX_JSON, whatever it holds. */
static void test_size_limit(void **state)
{
    (void)state;
    char *text = malloc(CF_MAX_JSON + 2);
    assert_non_null(text);
    const char *doc = "{\"reason\": \"Closed.\"}";
    memset(text, ' ', CF_MAX_JSON + 1);
    memcpy(text, doc, strlen(doc));
    text[CF_MAX_JSON + 1] = 0;
    struct sent s;
    struct cf_error err = {0};
    assert_int_equal(send_text(CLOSE, text, CF_MAX_JSON, &s, &err), 0); /* spaces after it */
    sent_free(&s);
    assert_int_equal(send_text(CLOSE, text, CF_MAX_JSON + 1, &s, &err), CF_ETOOBIG);
    assert_string_equal(err.text, "document: must be at most 262144 bytes");
    free(text);
}

/* A reader holds a received message to the same rules, except today: a meeting recorded
 * yesterday is not refused because the reader's clock is a day behind. */
static void test_received_rules(void **state)
{
    (void)state;
    struct cf_header h;
    struct cf_error err = {0};
    json_t *doc = NULL, *fields;
    uint8_t *payload;
    size_t len;

    routing(&h, CLOSE);
    fields = json_pack("{ss}", "reason", "Closed.\x01");
    assert_int_equal(cf_wire_payload_encode("closure", fields, &payload, &len, &err), 0);
    json_decref(fields);
    assert_int_equal(cf_message_to_json(&h, payload, len, NULL, 0, &doc, &err), CF_EFIELD);
    assert_string_equal(err.text, "reason: contains a control character");
    assert_null(doc);
    free(payload);

    routing(&h, STRAT);
    fields = json_pack("{ss}", "held_at", "2030-01-01T09:00");
    assert_int_equal(cf_wire_payload_encode("strategy_record", fields, &payload, &len, &err), 0);
    json_decref(fields);
    assert_int_equal(cf_message_to_json(&h, payload, len, NULL, 0, &doc, &err), 0);
    json_decref(doc);
    free(payload);

    /* A proposal whose payload lacks what the rules require. */
    routing(&h, PROP);
    h.decision = CF_DECISION_RG;
    h.n_attendees = 1;
    strcpy(h.attendees[0], "police-met");
    fields = json_pack("{sssssssssb}", "decision", "rg", "outcome", "positive", "reasons", "R",
                       "child_views", "V", "child_participated", 1);
    assert_int_equal(cf_wire_payload_encode("determination_proposed", fields, &payload, &len, &err),
                     0);
    json_decref(fields);
    assert_int_equal(cf_message_to_json(&h, payload, len, NULL, 0, &doc, &err), CF_EFIELD);
    assert_string_equal(err.text, "exploitation: is required");
    free(payload);

    /* Header fields the type needs, missing or malformed. */
    struct sent s;
    char *text = swapped(base_text(VOTE));
    assert_int_equal(send_text(VOTE, text, strlen(text), &s, NULL), 0);
    free(text);
    s.h.has_vote = false;
    assert_int_equal(cf_message_to_json(&s.h, s.payload, s.payload_len, NULL, 0, &doc, &err),
                     CF_EFIELD);
    assert_string_equal(err.text, "proposal_id: is required");
    sent_free(&s);

    text = swapped(base_text(ACK));
    assert_int_equal(send_text(ACK, text, strlen(text), &s, NULL), 0);
    free(text);
    strcpy(s.h.lead_staff_ref, "");
    assert_int_equal(cf_message_to_json(&s.h, s.payload, s.payload_len, NULL, 0, &doc, &err),
                     CF_EFIELD);
    assert_string_equal(err.text, "lead_staff_ref: is required");
    strcpy(s.h.lead_staff_ref, "SW \xff");
    assert_int_equal(cf_message_to_json(&s.h, s.payload, s.payload_len, NULL, 0, &doc, &err),
                     CF_EFIELD);
    assert_string_equal(err.text, "lead_staff_ref: " STAFF_RULE);
    sent_free(&s);

    text = swapped(base_text(CONF));
    assert_int_equal(send_text(CONF, text, strlen(text), &s, NULL), 0);
    free(text);
    s.h.members[1].standing = CF_STANDING_NONE;
    assert_int_equal(cf_message_to_json(&s.h, s.payload, s.payload_len, NULL, 0, &doc, &err),
                     CF_EFIELD);
    assert_string_equal(err.text, "members[1].standing: must be one of voting, required, advisory");
    s.h.members[1].standing = CF_STANDING_VOTING;
    strcpy(s.h.members[2].agency, "police-met");
    assert_int_equal(cf_message_to_json(&s.h, s.payload, s.payload_len, NULL, 0, &doc, &err),
                     CF_EFIELD);
    assert_string_equal(err.text, "members[2].agency: 'police-met' is repeated");
    sent_free(&s);
}

/* The examples in deploy/ are what people copy, so each must stay valid. The repository root is
 * two folders above this file. */
static void test_example_files(void **state)
{
    (void)state;
    const char *suffix = "tests/unit/test_message.c";
    size_t root_len = strlen(__FILE__) - strlen(suffix);
    assert_string_equal(&__FILE__[root_len], suffix);
    static char text[CF_MAX_JSON + 1];
    for (enum cf_type t = ACK; t <= CLOSE; t++) {
        if (!cf_message_type_valid(t))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%.*sdeploy/examples/%s.json", (int)root_len, __FILE__,
                 cf_header_type_name(t));
        FILE *f = fopen(path, "rb");
        if (!f)
            fail_msg("cannot open %s", path);
        size_t len = fread(text, 1, sizeof text - 1, f);
        assert_int_equal(ferror(f), 0);
        fclose(f);
        text[len] = 0;
        assert_non_null(strstr(text, "FICTIONAL"));
        print_message("example: %s\n", path);
        assert_round_trip(t, text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key),     cmocka_unit_test(test_required_only),
        cmocka_unit_test(test_member_limits), cmocka_unit_test(test_rows),
        cmocka_unit_test(test_header_fields), cmocka_unit_test(test_mismatch),
        cmocka_unit_test(test_type),          cmocka_unit_test(test_caller_errors),
        cmocka_unit_test(test_size_limit),    cmocka_unit_test(test_received_rules),
        cmocka_unit_test(test_example_files),
    };
    return cmocka_run_group_tests_name("message", tests, NULL, NULL);
}
