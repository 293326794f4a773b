/* Wire tests: every header field survives encoding, the decoder's guards
 * (limits, unknown fields, NUL, canonical form) hold, and a referral payload
 * and each case message payload come back as the document that went in; the
 * stored and signed layouts (records, notices, determinations, case records,
 * outbox entries) and frames round-trip, and a table of bytes our encoders
 * never write, made by editing what they do, is refused field by field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "childfirst/wire.h"

static void full_header(struct cf_header *h)
{
    memset(h, 0, sizeof *h);
    h->version = CF_PROTOCOL_VERSION;
    randombytes_buf(h->message_id, sizeof h->message_id);
    cf_header_case_id_new(h->case_id);
    h->type = CF_TYPE_VOTE;
    strcpy(h->sender, "police-met");
    h->n_recipients = 2;
    strcpy(h->recipients[0], "la-e09000033-csc");
    strcpy(h->recipients[1], "chair-team");
    h->created_at = 1795000000123ull;
    strcpy(h->jurisdiction, "england-wales");
    strcpy(h->la_code, "E09000033");
    h->urgency = CF_URGENCY_URGENT;
    h->immediate_risk = true;
    h->has_in_reply_to = true;
    randombytes_buf(h->in_reply_to, sizeof h->in_reply_to);
    h->decision = CF_DECISION_CG;
    strcpy(h->lead_staff_ref, "SW-1042");
    h->n_members = 2;
    strcpy(h->members[0].agency, "police-met");
    h->members[0].standing = CF_STANDING_VOTING;
    strcpy(h->members[1].agency, "guardian-org");
    h->members[1].standing = CF_STANDING_REQUIRED;
    strcpy(h->chair_staff_ref, "CHAIR/7");
    h->n_attendees = 1;
    strcpy(h->attendees[0], "police-met");
    h->has_vote = true;
    randombytes_buf(h->vote.proposal_id, sizeof h->vote.proposal_id);
    h->vote.approve = true;
    randombytes_buf(h->vote.signature, sizeof h->vote.signature);
}

static void test_header_round_trip(void **state)
{
    (void)state;
    struct cf_header h, back;
    full_header(&h);
    uint8_t *buf, *again;
    size_t len, len2;
    assert_int_equal(cf_wire_header_encode(&h, &buf, &len), 0);
    struct cf_error err = {0};
    if (cf_wire_header_decode(buf, len, &back, &err) != 0)
        fail_msg("decode: %s", err.text);
    assert_memory_equal(&h, &back, sizeof h);
    assert_int_equal(cf_wire_header_encode(&back, &again, &len2), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, again, len);
    free(buf);
    free(again);
    /* A minimal header: absent optional fields stay absent. */
    memset(&h.lead_staff_ref, 0, sizeof h.lead_staff_ref);
    h.has_vote = false, h.has_in_reply_to = false, h.decision = CF_DECISION_NONE;
    memset(&h.vote, 0, sizeof h.vote);
    memset(h.in_reply_to, 0, sizeof h.in_reply_to);
    assert_int_equal(cf_wire_header_encode(&h, &buf, &len), 0);
    assert_int_equal(cf_wire_header_decode(buf, len, &back, NULL), 0);
    assert_memory_equal(&h, &back, sizeof h);
    free(buf);
}

/* Hand-built protobuf bytes, to reach what our encoder never produces. */
struct pb {
    uint8_t b[1024];
    size_t n;
};

static void varint(struct pb *p, uint64_t v)
{
    do {
        p->b[p->n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
}

static void field_bytes(struct pb *p, unsigned num, const void *data, size_t len)
{
    varint(p, (uint64_t)num << 3 | 2);
    varint(p, len);
    memcpy(p->b + p->n, data, len);
    p->n += len;
}

static void field_varint(struct pb *p, unsigned num, uint64_t v)
{
    varint(p, (uint64_t)num << 3);
    varint(p, v);
}

/* A header with `case_id` and `sender` given as raw bytes. */
static void raw_header(struct pb *p, const void *case_id, size_t case_len, const void *sender,
                       size_t sender_len)
{
    static const uint8_t id[16] = {1};
    memset(p, 0, sizeof *p);
    field_varint(p, 1, 1);
    field_bytes(p, 2, id, 16);
    field_bytes(p, 3, case_id, case_len);
    field_varint(p, 4, 1);
    field_bytes(p, 5, sender, sender_len);
    field_bytes(p, 6, "la-csc", 6);
    field_varint(p, 7, 1795000000000ull);
    field_bytes(p, 8, "england-wales", 13);
    field_bytes(p, 9, "E09000033", 9);
    field_varint(p, 10, 1);
    field_varint(p, 11, 0);
}

static void test_header_guards(void **state)
{
    (void)state;
    char case_id[CF_CASE_ID_LEN + 1];
    cf_header_case_id_new(case_id);
    struct pb p;
    struct cf_header h;
    struct cf_error err = {0};

    raw_header(&p, case_id, CF_CASE_ID_LEN, "police-met", 10);
    if (cf_wire_header_decode(p.b, p.n, &h, &err) != 0)
        fail_msg("hand-built header refused: %s", err.text);

    static const struct {
        const char *what, *sender;
        size_t sender_len;
        int code;
        const char *message;
    } cases[] = {
        {"NUL inside a text field", "police\0met", 10, CF_EFIELD,
         "header.sender: contains a NUL byte"},
        {"invalid UTF-8 and charset", "police\xffmet", 10, CF_EID,
         "header.sender: not an agency id"},
        {"over-long id", "0123456789012345678901234567890123456789012345678901234567890123456789",
         70, CF_ETOOBIG, "header.sender: 70 bytes, at most 64 allowed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        raw_header(&p, case_id, CF_CASE_ID_LEN, cases[i].sender, cases[i].sender_len);
        assert_int_equal(cf_wire_header_decode(p.b, p.n, &h, &err), cases[i].code);
        if (strcmp(err.text, cases[i].message) != 0)
            fail_msg("%s: '%s'", cases[i].what, err.text);
    }

    /* A wrong enum value. */
    raw_header(&p, case_id, CF_CASE_ID_LEN, "police-met", 10);
    p.b[p.n - 3] = 9; /* urgency 9 */
    assert_int_equal(cf_wire_header_decode(p.b, p.n, &h, &err), CF_EFIELD);
    assert_string_equal(err.text, "header.urgency: not immediate, urgent or routine");

    /* A staff reference present but empty: the struct could not say so, nor re-encode it. */
    raw_header(&p, case_id, CF_CASE_ID_LEN, "police-met", 10);
    field_bytes(&p, 14, "", 0);
    assert_int_equal(cf_wire_header_decode(p.b, p.n, &h, &err), CF_EFIELD);
    assert_string_equal(err.text, "header: a staff reference is present but empty");
    raw_header(&p, case_id, CF_CASE_ID_LEN, "police-met", 10);
    field_bytes(&p, 16, "", 0);
    assert_int_equal(cf_wire_header_decode(p.b, p.n, &h, &err), CF_EFIELD);

    /* Required field missing: drop the trailing immediate_risk. */
    raw_header(&p, case_id, CF_CASE_ID_LEN, "police-met", 10);
    assert_int_equal(cf_wire_header_decode(p.b, p.n - 2, &h, &err), CF_EDECODE);

    /* 10,000 recipients: bounded before anything is trusted. */
    raw_header(&p, case_id, CF_CASE_ID_LEN, "police-met", 10);
    uint8_t *many = malloc(200000);
    size_t n = 0;
    memcpy(many, p.b, p.n);
    n = p.n;
    for (int i = 0; i < 10000; i++) {
        many[n++] = 0x32, many[n++] = 3;
        memcpy(many + n, "abc", 3);
        n += 3;
    }
    assert_int_equal(cf_wire_header_decode(many, n, &h, &err), CF_ETOOBIG);
    free(many);
}

static void test_envelope_guards(void **state)
{
    (void)state;
    struct cf_envelope env;
    struct cf_error err = {0};
    memset(&env, 0, sizeof env);
    uint8_t header[8] = {1}, ct[CF_NONCE_LEN + 1024 + CF_AEAD_TAG_LEN] = {0};
    env.header = header, env.header_len = sizeof header;
    env.ciphertext = ct, env.ciphertext_len = sizeof ct;
    env.n_keys = 1;
    strcpy(env.keys[0].recipient, "la-csc");
    uint8_t *buf;
    size_t len;
    assert_int_equal(cf_wire_envelope_encode(&env, &buf, &len), 0);
    struct cf_envelope back;
    assert_int_equal(cf_wire_envelope_decode(buf, len, &back, &err), 0);
    assert_int_equal(back.n_keys, 1);
    cf_envelope_fini(&back);
    free(buf);

    /* A ciphertext that is not nonce + bucket + tag. */
    env.ciphertext_len = sizeof ct - 1;
    assert_int_equal(cf_wire_envelope_encode(&env, &buf, &len), 0);
    assert_int_equal(cf_wire_envelope_decode(buf, len, &back, &err), CF_EFIELD);
    assert_non_null(strstr(err.text, "envelope.ciphertext"));
    cf_envelope_fini(&back);
    free(buf);
    env.ciphertext_len = sizeof ct;

    /* No keys at all. */
    env.n_keys = 0;
    assert_int_equal(cf_wire_envelope_encode(&env, &buf, &len), 0);
    assert_int_equal(cf_wire_envelope_decode(buf, len, &back, &err), CF_ETOOBIG);
    cf_envelope_fini(&back);
    free(buf);

    /* Garbage, and a truncated encoding. */
    uint8_t junk[64];
    randombytes_buf(junk, sizeof junk);
    junk[0] = 0xff;
    assert_int_not_equal(cf_wire_envelope_decode(junk, sizeof junk, &back, &err), 0);
    cf_envelope_fini(&back);
}

static void test_referral_payload_round_trip(void **state)
{
    (void)state;
    static const char *docs[] = {
        "{\"la_code\":\"E09000033\",\"urgency\":\"routine\",\"immediate_risk\":false,"
        "\"child\":{\"estimated_age\":15},\"exploitation\":[\"labour\"],"
        "\"narrative\":\"n\",\"first_concern_date\":\"2026-11-20\","
        "\"referrer\":{\"name\":\"A Referrer\",\"email\":\"a@example.org\"}}",
        "{\"la_code\":\"E09000033\",\"urgency\":\"immediate\",\"immediate_risk\":true,"
        "\"child\":{\"given_name\":\"Amanuel\",\"family_name\":\"Testchild\",\"aliases\":[],"
        "\"date_of_birth\":\"2010-04-01\",\"estimated_age\":15,\"age_disputed\":true,"
        "\"sex\":\"male\",\"nationality\":\"ER\",\"languages\":[\"ti\",\"ar\"],"
        "\"interpreter_required\":true,\"unaccompanied\":true,\"location\":\"x\","
        "\"accommodation\":\"y\"},\"exploitation\":[\"criminal\",\"labour\"],"
        "\"county_lines\":false,\"indicators\":[],\"narrative\":\"line one\\nline two \\u00e9\","
        "\"first_concern_date\":\"2026-11-20\",\"referrer\":{\"name\":\"B\",\"role\":\"PC\","
        "\"phone\":\"+44 20 7946 0000\",\"email\":\"b@example.org\"},\"other_agencies\":[]}",
    };
    for (size_t i = 0; i < 2; i++) {
        struct cf_referral r, back;
        struct cf_error err = {0};
        if (cf_referral_from_json(docs[i], strlen(docs[i]), "2026-11-25", &r, &err) != 0)
            fail_msg("doc %zu: %s", i, err.text);
        uint8_t *buf;
        size_t len;
        assert_int_equal(cf_wire_referral_encode(&r, &buf, &len), 0);
        memset(&back, 0, sizeof back);
        memcpy(back.la_code, r.la_code, sizeof back.la_code);
        back.urgency = r.urgency;
        back.immediate_risk = r.immediate_risk;
        if (cf_wire_referral_decode(buf, len, &back, &err) != 0)
            fail_msg("doc %zu decode: %s", i, err.text);
        json_t *want = json_loads(docs[i], 0, NULL), *got = cf_referral_to_json(&back);
        assert_non_null(got);
        if (!json_equal(want, got)) {
            char *text = json_dumps(got, JSON_SORT_KEYS);
            fail_msg("doc %zu came back as %s", i, text);
        }
        json_decref(want);
        json_decref(got);
        free(buf);
        cf_referral_fini(&r);
        cf_referral_fini(&back);
    }
}

static void test_payload_guards(void **state)
{
    (void)state;
    struct cf_referral r;
    struct cf_error err = {0};
    memset(&r, 0, sizeof r);
    /* Payload{referral{child{given_name: "\xff"}}} */
    const uint8_t bad_utf8[] = {0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0xff};
    assert_int_equal(cf_wire_referral_decode(bad_utf8, sizeof bad_utf8, &r, &err), CF_EFIELD);
    assert_string_equal(err.text, "child.given_name: not NUL-free UTF-8 text");
    const uint8_t nul[] = {0x0a, 0x06, 0x0a, 0x04, 0x0a, 0x02, 'a', 0x00};
    assert_int_equal(cf_wire_referral_decode(nul, sizeof nul, &r, &err), CF_EFIELD);
    /* An empty text field: protobuf-c gives it no data pointer. */
    const uint8_t blank[] = {0x0a, 0x04, 0x0a, 0x02, 0x0a, 0x00};
    assert_int_equal(cf_wire_referral_decode(blank, sizeof blank, &r, &err), 0);
    assert_string_equal(r.child.given_name, "");
    cf_referral_fini(&r);
    const uint8_t empty[] = {0};
    assert_int_equal(cf_wire_referral_decode(empty, 0, &r, &err), CF_ETYPE);
    assert_int_equal(cf_wire_referral_decode(empty, 1, &r, &err), CF_EDECODE);
    /* Unknown field 15 inside Child. */
    const uint8_t unknown[] = {0x0a, 0x04, 0x0a, 0x02, 0x78, 0x01};
    assert_int_equal(cf_wire_referral_decode(unknown, sizeof unknown, &r, &err), CF_EUNKNOWNFIELD);
}

/* The case message payloads: a descriptor-driven mapping between JSON objects and bodies. */
static void test_case_payload_round_trip(void **state)
{
    (void)state;
    json_t *sent = json_pack("{sss[]sss[s]}", "held_at", "2026-11-18T16:30", "participants",
                             "summary", "", "actions", "Call back");
    json_t *back = NULL;
    uint8_t *buf;
    size_t len;
    struct cf_error err = {0};
    assert_int_equal(cf_wire_payload_encode("strategy_record", sent, &buf, &len, &err), 0);
    assert_int_equal(cf_wire_payload_decode(buf, len, "strategy_record", &back, &err), 0);
    assert_true(json_equal(sent, back)); /* [] and "" stay present */
    json_decref(back);
    free(buf);
    json_decref(sent);

    sent = json_pack("{sssssssbss}", "decision", "cg", "outcome", "negative", "reasons", "R",
                     "child_participated", 0, "child_views", "V");
    assert_int_equal(cf_wire_payload_encode("determination_proposed", sent, &buf, &len, &err), 0);
    assert_int_equal(cf_wire_payload_decode(buf, len, "determination_proposed", &back, &err), 0);
    assert_true(json_equal(sent, back));
    json_decref(back);
    json_decref(sent);
    assert_int_equal(cf_wire_payload_decode(buf, len, "closure", &back, &err), CF_ETYPE);
    assert_string_equal(err.text,
                        "payload: holds determination_proposed where closure was expected");
    free(buf);
}

static void test_case_payload_guards(void **state)
{
    (void)state;
    json_t *fields = NULL;
    struct cf_error err = {0};
    static const struct {
        const char *what, *body;
        uint8_t bytes[16];
        size_t len;
        int code;
        const char *message;
    } cases[] = {
        /* Payload{closure(10){reason(1)}} and friends, by hand. */
        {"invalid UTF-8",
         "closure",
         {0x52, 0x03, 0x0a, 0x01, 0xff},
         5,
         CF_EFIELD,
         "reason: not NUL-free UTF-8 text"},
        {"a NUL",
         "closure",
         {0x52, 0x04, 0x0a, 0x02, 'a', 0x00},
         6,
         CF_EFIELD,
         "reason: not NUL-free UTF-8 text"},
        {"a list item cut inside a UTF-8 sequence",
         "strategy_record",
         {0x1a, 0x08, 0x0a, 0x01, 'x', 0x12, 0x03, 0x0a, 0x01, 0xc3},
         10,
         CF_EFIELD,
         "participants[0]: not NUL-free UTF-8 text"},
        {"an unknown field in the body",
         "closure",
         {0x52, 0x05, 0x0a, 0x01, 'r', 0x48, 0x01},
         7,
         CF_EUNKNOWNFIELD,
         "Payload: carries unknown fields"},
        {"an unknown field in a list",
         "strategy_record",
         {0x1a, 0x0a, 0x0a, 0x01, 'x', 0x12, 0x05, 0x0a, 0x01, 'a', 0x10, 0x01},
         12,
         CF_EUNKNOWNFIELD,
         "Payload: carries unknown fields"},
        {"an unknown field beside the body",
         "closure",
         {0x52, 0x03, 0x0a, 0x01, 'r', 0x78, 0x01},
         7,
         CF_EUNKNOWNFIELD,
         "Payload: carries unknown fields"},
        {"a required field missing",
         "closure",
         {0x52, 0x00},
         2,
         CF_EDECODE,
         "not a ChildFirst Payload (protocol version 1): a required field is missing or the "
         "bytes are malformed"},
        {"no body",
         "closure",
         {0},
         0,
         CF_ETYPE,
         "payload: holds nothing where closure was expected"},
        {"a referral",
         "closure",
         {0x0a, 0x00},
         2,
         CF_EDECODE,
         "not a ChildFirst Payload (protocol version 1): a required field is missing or the "
         "bytes are malformed"},
        {"a referral body with its child",
         "closure",
         {0x0a, 0x02, 0x0a, 0x00},
         4,
         CF_ETYPE,
         "payload: holds referral where closure was expected"},
        {"a decision out of range",
         "determination_proposed",
         {0x32, 0x0d, 0x0a, 0x01, 'p', 0x1a, 0x01, 'r', 0x22, 0x01, 'v', 0x28, 0x01, 0x38, 0x03},
         15,
         CF_EFIELD,
         "decision: not rg or cg"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("payload: %s\n", cases[i].what);
        int rc = cf_wire_payload_decode(cases[i].bytes, cases[i].len, cases[i].body, &fields, &err);
        if (rc != cases[i].code || strcmp(err.text, cases[i].message) != 0)
            print_error("\"%s\": got %s \"%s\"\n", cases[i].what, cf_error_name(rc), err.text);
        assert_int_equal(rc, cases[i].code);
        assert_string_equal(err.text, cases[i].message);
        assert_null(fields);
    }
    static uint8_t big[CF_MAX_PLAINTEXT + 1];
    assert_int_equal(cf_wire_payload_decode(big, sizeof big, "closure", &fields, &err), CF_ETOOBIG);
    assert_int_equal(cf_wire_payload_decode(big, 1, "referral", &fields, &err), CF_EINVAL);
    assert_int_equal(cf_wire_payload_decode(big, 1, "nope", &fields, &err), CF_EINVAL);

    /* Encoding checks the JSON types and the proto's required fields, nothing more. */
    uint8_t *buf = NULL;
    size_t len;
    static const struct {
        const char *json, *message;
    } bad[] = {
        {"{\"reason\": 7}", "reason: must be a string without NUL"},
        {"{\"reason\": \"a\\u0000b\"}", "reason: must be a string without NUL"},
        {"{\"reason\": \"r\", \"colour\": \"x\"}", "colour: Closure has no such field"},
        {"{\"summary\": \"s\"}", "reason: is required"},
        {"{\"reason\": \"r\", \"summary\": [\"s\"]}", "summary: must be a string without NUL"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fields = json_loads(bad[i].json, JSON_ALLOW_NUL, NULL);
        assert_non_null(fields);
        assert_int_equal(cf_wire_payload_encode("closure", fields, &buf, &len, &err), CF_EFIELD);
        assert_string_equal(err.text, bad[i].message);
        assert_null(buf);
        json_decref(fields);
    }
    fields = json_pack("{s[i]ss}", "participants", 1, "held_at", "x");
    assert_int_equal(cf_wire_payload_encode("strategy_record", fields, &buf, &len, &err),
                     CF_EFIELD);
    assert_string_equal(err.text, "participants[0]: must be a string without NUL");
    json_decref(fields);
    fields = json_pack("{sssssssbss}", "decision", "ab", "outcome", "negative", "reasons", "R",
                       "child_participated", 0, "child_views", "V");
    assert_int_equal(cf_wire_payload_encode("determination_proposed", fields, &buf, &len, &err),
                     CF_EFIELD);
    assert_string_equal(err.text, "decision: must be rg or cg");
    json_decref(fields);
    fields = json_object();
    assert_int_equal(cf_wire_payload_encode("referral", fields, &buf, &len, &err), CF_EINVAL);
    json_decref(fields);
}

/* ---- The stored and signed layouts, and frames: round trips ---- */

static void fill_id(char *dst, const char *prefix, size_t i)
{
    sprintf(dst, "%s-%02zu", prefix, i);
}

static struct cf_determination *sample_determination(bool with_return)
{
    static struct cf_determination d;
    static uint8_t record[300], nrm[CF_NONCE_LEN + 2048 + CF_AEAD_TAG_LEN];
    memset(&d, 0, sizeof d);
    d.version = CF_PROTOCOL_VERSION;
    randombytes_buf(d.id, sizeof d.id);
    cf_header_case_id_new(d.case_id);
    randombytes_buf(d.proposal_id, sizeof d.proposal_id);
    d.proposal_leaf = 40;
    randombytes_buf(d.proposal_hash, sizeof d.proposal_hash);
    d.decision = CF_DECISION_CG;
    d.n_votes = 3;
    for (size_t i = 0; i < d.n_votes; i++) {
        fill_id(d.votes[i].voter, "voter", i);
        d.votes[i].approve = i != 1;
        randombytes_buf(d.votes[i].signature, CF_SIG_LEN);
        d.votes[i].leaf = 41 + i;
    }
    randombytes_buf(d.directory_digest, sizeof d.directory_digest);
    d.created_at = 1795000000100ull;
    d.n_recipients = 2;
    strcpy(d.recipients[0], "la-csc");
    strcpy(d.recipients[1], "ho-liaison");
    randombytes_buf(record, sizeof record);
    d.proposal_record = record;
    d.proposal_record_len = sizeof record;
    if (with_return) {
        d.has_nrm = true;
        randombytes_buf(nrm, sizeof nrm);
        d.nrm_ciphertext = nrm;
        d.nrm_ciphertext_len = sizeof nrm;
        strcpy(d.nrm_key.recipient, "ho-liaison");
        randombytes_buf(d.nrm_key.sealed, sizeof d.nrm_key.sealed);
        randombytes_buf(d.nrm_commit, sizeof d.nrm_commit);
    }
    return &d;
}

static void test_determination_round_trip(void **state)
{
    (void)state;
    for (int with_return = 0; with_return < 2; with_return++) {
        const struct cf_determination *d = sample_determination(with_return);
        uint8_t *buf, *again;
        size_t len, len2;
        struct cf_determination back;
        struct cf_error err = {0};
        assert_int_equal(cf_wire_determination_encode(d, &buf, &len), 0);
        if (cf_wire_determination_decode(buf, len, &back, &err) != 0)
            fail_msg("decode: %s", err.text);
        assert_int_equal(back.version, d->version);
        assert_memory_equal(back.id, d->id, sizeof d->id);
        assert_string_equal(back.case_id, d->case_id);
        assert_memory_equal(back.proposal_id, d->proposal_id, sizeof d->proposal_id);
        assert_int_equal(back.proposal_leaf, d->proposal_leaf);
        assert_memory_equal(back.proposal_hash, d->proposal_hash, CF_HASH_LEN);
        assert_int_equal(back.decision, d->decision);
        assert_int_equal(back.n_votes, d->n_votes);
        for (size_t i = 0; i < d->n_votes; i++) {
            assert_string_equal(back.votes[i].voter, d->votes[i].voter);
            assert_int_equal(back.votes[i].approve, d->votes[i].approve);
            assert_memory_equal(back.votes[i].signature, d->votes[i].signature, CF_SIG_LEN);
            assert_int_equal(back.votes[i].leaf, d->votes[i].leaf);
        }
        assert_memory_equal(back.directory_digest, d->directory_digest, CF_HASH_LEN);
        assert_int_equal(back.created_at, d->created_at);
        assert_int_equal(back.n_recipients, 2);
        assert_string_equal(back.recipients[1], "ho-liaison");
        assert_int_equal(back.proposal_record_len, d->proposal_record_len);
        assert_memory_equal(back.proposal_record, d->proposal_record, d->proposal_record_len);
        assert_int_equal(back.has_nrm, with_return);
        if (with_return) {
            assert_int_equal(back.nrm_ciphertext_len, d->nrm_ciphertext_len);
            assert_memory_equal(back.nrm_ciphertext, d->nrm_ciphertext, d->nrm_ciphertext_len);
            assert_string_equal(back.nrm_key.recipient, "ho-liaison");
            assert_memory_equal(back.nrm_key.sealed, d->nrm_key.sealed, CF_SEALED_KEY_LEN);
            assert_memory_equal(back.nrm_commit, d->nrm_commit, CF_HASH_LEN);
        }
        assert_int_equal(cf_wire_determination_encode(&back, &again, &len2), 0);
        assert_int_equal(len2, len);
        assert_memory_equal(again, buf, len);
        free(again);
        free(buf);
        cf_wire_determination_fini(&back);
        assert_null(back.owner);
    }
}

/* A case record with every field set, every list at its limit. */
static struct cf_case *sample_case(void)
{
    static struct cf_case c;
    memset(&c, 0, sizeof c);
    cf_header_case_id_new(c.case_id);
    c.state = CF_CASE_PROPOSED;
    strcpy(c.la_code, "W06000015");
    strcpy(c.jurisdiction, "england-wales");
    strcpy(c.referrer, "police-south-wales");
    strcpy(c.owner, "la-w06000015-csc");
    c.n_guardians = CF_MAX_GUARDIANS;
    for (size_t i = 0; i < c.n_guardians; i++)
        fill_id(c.guardians[i], "guardian", i);
    strcpy(c.lead_staff_ref, "SW-1042");
    strcpy(c.chair_staff_ref, "CHAIR/7");
    c.n_members = CF_MAX_MEMBERS;
    for (size_t i = 0; i < c.n_members; i++) {
        fill_id(c.members[i].agency, "member", i);
        c.members[i].standing = (enum cf_standing)(CF_STANDING_VOTING + i % 3);
    }
    c.proposal_leaf = 77;
    randombytes_buf(c.proposal_id, sizeof c.proposal_id);
    c.proposal_decision = CF_DECISION_CG;
    c.before_proposal = CF_CASE_RECONSIDERATION;
    c.n_voters = CF_MAX_MEMBERS;
    c.n_votes = CF_MAX_MEMBERS;
    for (size_t i = 0; i < CF_MAX_MEMBERS; i++) {
        fill_id(c.voters[i], "member", i);
        fill_id(c.votes[i].voter, "member", i);
        c.votes[i].approve = i % 2;
        randombytes_buf(c.votes[i].signature, CF_SIG_LEN);
        c.votes[i].leaf = 100 + i;
    }
    for (size_t t = 0; t < CF_TYPE_COUNT; t++)
        c.first_at[t] = 1795000000000ull + t, c.last_at[t] = 1795100000000ull + t;
    c.inquorate_at = 1795000000101ull;
    c.transfer_at = 1795000000102ull;
    c.rg_at = 1795000000103ull;
    c.cg_at = 1795000000104ull;
    c.n_deadlines = CF_DEADLINE_COUNT;
    for (size_t i = 0; i < c.n_deadlines; i++) {
        c.deadlines[i].kind = (enum cf_deadline)(CF_DEADLINE_COUNT - 1 - i);
        c.deadlines[i].due = 1796000000000ull + i;
        c.deadlines[i].near = 1795900000000ull + i;
        c.deadlines[i].near_sent = i % 2;
        c.deadlines[i].breach_sent = i == 3;
    }
    c.opened_leaf = 1;
    c.updated_leaf = 140;
    c.urgency = CF_URGENCY_ROUTINE;
    c.immediate_risk = true;
    return &c;
}

static void assert_case_equal(const struct cf_case *a, const struct cf_case *b)
{
    assert_string_equal(a->case_id, b->case_id);
    assert_int_equal(a->state, b->state);
    assert_string_equal(a->la_code, b->la_code);
    assert_string_equal(a->jurisdiction, b->jurisdiction);
    assert_string_equal(a->referrer, b->referrer);
    assert_string_equal(a->owner, b->owner);
    assert_int_equal(a->n_guardians, b->n_guardians);
    for (size_t i = 0; i < a->n_guardians; i++)
        assert_string_equal(a->guardians[i], b->guardians[i]);
    assert_string_equal(a->lead_staff_ref, b->lead_staff_ref);
    assert_string_equal(a->chair_staff_ref, b->chair_staff_ref);
    assert_int_equal(a->n_members, b->n_members);
    for (size_t i = 0; i < a->n_members; i++) {
        assert_string_equal(a->members[i].agency, b->members[i].agency);
        assert_int_equal(a->members[i].standing, b->members[i].standing);
    }
    assert_int_equal(a->proposal_leaf, b->proposal_leaf);
    assert_memory_equal(a->proposal_id, b->proposal_id, CF_MESSAGE_ID_LEN);
    assert_int_equal(a->proposal_decision, b->proposal_decision);
    assert_int_equal(a->before_proposal, b->before_proposal);
    assert_int_equal(a->n_voters, b->n_voters);
    for (size_t i = 0; i < a->n_voters; i++)
        assert_string_equal(a->voters[i], b->voters[i]);
    assert_int_equal(a->n_votes, b->n_votes);
    for (size_t i = 0; i < a->n_votes; i++) {
        assert_string_equal(a->votes[i].voter, b->votes[i].voter);
        assert_int_equal(a->votes[i].approve, b->votes[i].approve);
        assert_memory_equal(a->votes[i].signature, b->votes[i].signature, CF_SIG_LEN);
        assert_int_equal(a->votes[i].leaf, b->votes[i].leaf);
    }
    assert_memory_equal(a->first_at, b->first_at, sizeof a->first_at);
    assert_memory_equal(a->last_at, b->last_at, sizeof a->last_at);
    assert_int_equal(a->inquorate_at, b->inquorate_at);
    assert_int_equal(a->transfer_at, b->transfer_at);
    assert_int_equal(a->rg_at, b->rg_at);
    assert_int_equal(a->cg_at, b->cg_at);
    assert_int_equal(a->n_deadlines, b->n_deadlines);
    for (size_t i = 0; i < a->n_deadlines; i++) {
        assert_int_equal(a->deadlines[i].kind, b->deadlines[i].kind);
        assert_int_equal(a->deadlines[i].due, b->deadlines[i].due);
        assert_int_equal(a->deadlines[i].near, b->deadlines[i].near);
        assert_int_equal(a->deadlines[i].near_sent, b->deadlines[i].near_sent);
        assert_int_equal(a->deadlines[i].breach_sent, b->deadlines[i].breach_sent);
    }
    assert_int_equal(a->opened_leaf, b->opened_leaf);
    assert_int_equal(a->updated_leaf, b->updated_leaf);
    assert_int_equal(a->urgency, b->urgency);
    assert_int_equal(a->immediate_risk, b->immediate_risk);
}

static void test_case_round_trip(void **state)
{
    (void)state;
    static struct cf_case back;
    struct cf_case *c = sample_case();
    uint8_t *buf;
    size_t len;
    struct cf_error err = {0};
    assert_int_equal(cf_wire_case_encode(c, &buf, &len), 0);
    if (cf_wire_case_decode(buf, len, &back, &err) != 0)
        fail_msg("decode: %s", err.text);
    assert_case_equal(c, &back);
    free(buf);
    /* As an agency that joined late keeps it: no referrer, owner or proposal yet. */
    c->referrer[0] = c->owner[0] = 0;
    c->proposal_decision = CF_DECISION_NONE;
    c->proposal_leaf = 0;
    memset(c->proposal_id, 0, sizeof c->proposal_id);
    c->before_proposal = CF_CASE_NONE;
    assert_int_equal(cf_wire_case_encode(c, &buf, &len), 0);
    assert_int_equal(cf_wire_case_decode(buf, len, &back, &err), 0);
    assert_case_equal(c, &back);
    free(buf);
    /* One over a limit does not encode. */
    c->n_guardians = CF_MAX_GUARDIANS + 1;
    assert_int_equal(cf_wire_case_encode(c, &buf, &len), CF_ETOOBIG);
}

static struct cf_notice *sample_notice(void)
{
    static struct cf_notice n;
    memset(&n, 0, sizeof n);
    n.version = CF_PROTOCOL_VERSION;
    randombytes_buf(n.notice_id, sizeof n.notice_id);
    strcpy(n.kind, "undelivered");
    cf_header_case_id_new(n.case_id);
    n.n_recipients = 2;
    strcpy(n.recipients[0], "la-duty");
    strcpy(n.recipients[1], "police-met");
    n.created_at = 1795000000500ull;
    n.urgency = CF_URGENCY_URGENT;
    n.has_immediate_risk = true;
    n.immediate_risk = false; /* present and false */
    strcpy(n.referring_agency, "police-met");
    n.has_about_leaf = true;
    n.about_leaf = 0; /* present and zero */
    strcpy(n.deadline, "rg_determination");
    n.has_due = true;
    n.due = 1796000000000ull;
    n.n_outstanding = 3;
    strcpy(n.outstanding[0], "health-trust");
    strcpy(n.outstanding[1], "la-csc");
    strcpy(n.outstanding[2], "guardian-ictg");
    strcpy(n.code, "CF_EDECRYPT");
    strcpy(n.state, "proposed");
    return &n;
}

static void test_notice_round_trip(void **state)
{
    (void)state;
    struct cf_notice *n = sample_notice(), back;
    uint8_t *buf, *again;
    size_t len, len2;
    struct cf_error err = {0};
    assert_int_equal(cf_wire_notice_encode(n, &buf, &len), 0);
    if (cf_wire_notice_decode(buf, len, &back, &err) != 0)
        fail_msg("decode: %s", err.text);
    assert_memory_equal(&back, n, sizeof back);
    assert_int_equal(cf_wire_notice_encode(&back, &again, &len2), 0);
    assert_int_equal(len2, len);
    assert_memory_equal(again, buf, len);
    free(again);
    free(buf);
    /* And with only the required fields. */
    struct cf_notice bare;
    memset(&bare, 0, sizeof bare);
    bare.version = CF_PROTOCOL_VERSION;
    bare.created_at = 5;
    strcpy(bare.kind, "convened");
    strcpy(bare.case_id, n->case_id);
    assert_int_equal(cf_wire_notice_encode(&bare, &buf, &len), 0);
    assert_int_equal(cf_wire_notice_decode(buf, len, &back, &err), 0);
    assert_memory_equal(&back, &bare, sizeof back);
    free(buf);
}

static void record_equal(const struct cf_record *a, const struct cf_record *b)
{
    assert_int_equal(a->index, b->index);
    assert_int_equal(a->time, b->time);
    assert_int_equal(a->event, b->event);
    assert_string_equal(a->actor, b->actor);
    assert_int_equal(a->header_len, b->header_len);
    assert_int_equal(a->header != NULL, b->header != NULL);
    if (a->header_len)
        assert_memory_equal(a->header, b->header, a->header_len);
    assert_int_equal(a->has_digests, b->has_digests);
    assert_memory_equal(a->ciphertext_hash, b->ciphertext_hash, 32);
    assert_memory_equal(a->keys_hash, b->keys_hash, 32);
    assert_memory_equal(a->commit, b->commit, 32);
    assert_memory_equal(a->signature, b->signature, 64);
    assert_int_equal(a->has_nrm, b->has_nrm);
    assert_memory_equal(a->nrm_ciphertext_hash, b->nrm_ciphertext_hash, 32);
    assert_memory_equal(a->nrm_keys_hash, b->nrm_keys_hash, 32);
    assert_memory_equal(a->nrm_commit, b->nrm_commit, 32);
    assert_int_equal(a->has_determination, b->has_determination);
    assert_memory_equal(a->determination_hash, b->determination_hash, 32);
    assert_memory_equal(a->determination_signature, b->determination_signature, 64);
    assert_int_equal(a->determination_of, b->determination_of);
}

static void test_record_round_trip(void **state)
{
    (void)state;
    static const uint8_t header[] = {0x08, 0x01, 0x12, 0x02, 'h', 'i'};
    struct cf_record proposal = {.index = 40,
                                 .time = 1795000000040ull,
                                 .event = CF_EVENT_ACCEPTED,
                                 .header = header,
                                 .header_len = sizeof header,
                                 .has_digests = true,
                                 .has_nrm = true};
    strcpy(proposal.actor, "police-met");
    randombytes_buf(proposal.ciphertext_hash, 32);
    randombytes_buf(proposal.keys_hash, 32);
    randombytes_buf(proposal.commit, 32);
    randombytes_buf(proposal.signature, 64);
    randombytes_buf(proposal.nrm_ciphertext_hash, 32);
    randombytes_buf(proposal.nrm_keys_hash, 32);
    randombytes_buf(proposal.nrm_commit, 32);
    struct cf_record sealed = {.index = 45,
                               .time = 1795000000045ull,
                               .event = CF_EVENT_DETERMINATION,
                               .has_determination = true,
                               .determination_of = 40};
    randombytes_buf(sealed.determination_hash, 32);
    randombytes_buf(sealed.determination_signature, 64);
    /* A present but empty header stays present, so it encodes back to the same bytes. */
    struct cf_record blank = {.index = 46, .event = CF_EVENT_ACCEPTED, .header = header};
    const struct cf_record *all[] = {&proposal, &sealed, &blank};
    for (size_t i = 0; i < 3; i++) {
        uint8_t *buf, *again;
        size_t len, len2;
        struct cf_record back;
        struct cf_error err = {0};
        assert_int_equal(cf_wire_record_encode(all[i], &buf, &len), 0);
        if (cf_wire_record_decode(buf, len, &back, &err) != 0)
            fail_msg("record %zu: %s", i, err.text);
        record_equal(all[i], &back);
        assert_int_equal(cf_wire_record_encode(&back, &again, &len2), 0);
        assert_int_equal(len2, len);
        assert_memory_equal(again, buf, len);
        free(again);
        free(buf);
        cf_wire_record_fini(&back);
    }
}

static void frame_round_trip(const struct cf_frame *f, struct cf_frame *back)
{
    uint8_t *buf;
    size_t len;
    struct cf_error err = {0};
    assert_int_equal(cf_wire_frame_encode(f, &buf, &len), 0);
    if (cf_wire_frame_decode(buf, len, back, &err) != 0)
        fail_msg("frame kind %d: %s", f->kind, err.text);
    free(buf); /* the frame's bytes are its own copy */
    assert_int_equal(back->kind, f->kind);
}

static void test_case_frames(void **state)
{
    (void)state;
    static struct cf_frame f, back;
    memset(&f, 0, sizeof f);
    f.kind = CF_FRAME_CASE_REQUEST;
    cf_header_case_id_new(f.case_id);
    frame_round_trip(&f, &back);
    assert_string_equal(back.case_id, f.case_id);
    cf_wire_frame_fini(&back);

    f.kind = CF_FRAME_CASE_INFO;
    struct cf_case_info *ci = &f.case_info;
    strcpy(ci->state, "reconsideration");
    strcpy(ci->jurisdiction, "northern-ireland");
    strcpy(ci->la_code, "N09000003");
    strcpy(ci->owner, "la-n09000003-csc");
    ci->n_deadlines = CF_DEADLINE_COUNT;
    for (size_t i = 0; i < CF_DEADLINE_COUNT; i++) {
        strcpy(ci->deadlines[i].name, cf_policy_deadline_name((enum cf_deadline)i));
        ci->deadlines[i].due = 1796000000000ull + i;
    }
    ci->updated_leaf = 9001;
    frame_round_trip(&f, &back);
    assert_string_equal(back.case_id, f.case_id);
    assert_memory_equal(&back.case_info, ci, sizeof *ci);
    cf_wire_frame_fini(&back);
    /* The answer for a case the asker may not see: no state, no owner, no deadlines. */
    memset(ci, 0, sizeof *ci);
    frame_round_trip(&f, &back);
    assert_memory_equal(&back.case_info, ci, sizeof *ci);
    cf_wire_frame_fini(&back);
    ci->n_deadlines = CF_DEADLINE_COUNT + 1;
    uint8_t *buf;
    size_t len;
    assert_int_equal(cf_wire_frame_encode(&f, &buf, &len), CF_ETOOBIG);
}

static void test_deliver_determination(void **state)
{
    (void)state;
    static struct cf_frame f, back;
    static const uint8_t det[] = "determination bytes", env[] = "envelope bytes",
                         rec[] = "record bytes";
    memset(&f, 0, sizeof f);
    f.kind = CF_FRAME_DELIVER;
    f.leaf_index = 45;
    f.determination = det, f.determination_len = sizeof det;
    randombytes_buf(f.determination_signature, CF_SIG_LEN);
    f.checkpoint = "origin\n46\nroot\n", f.checkpoint_len = 15;
    f.record = rec, f.record_len = sizeof rec;
    f.n_proof = 3;
    randombytes_buf(f.proof, 3 * CF_MERKLE_HASH);
    f.consistency_from = 44;
    f.n_consistency = 2;
    randombytes_buf(f.consistency, 2 * CF_MERKLE_HASH);
    for (int with_envelope = 0; with_envelope < 2; with_envelope++) {
        /* The liaison's comes without the proposal's envelope; its final readers' with. */
        f.envelope = with_envelope ? env : NULL;
        f.envelope_len = with_envelope ? sizeof env : 0;
        frame_round_trip(&f, &back);
        assert_int_equal(back.leaf_index, 45);
        assert_int_equal(back.determination_len, sizeof det);
        assert_memory_equal(back.determination, det, sizeof det);
        assert_memory_equal(back.determination_signature, f.determination_signature, CF_SIG_LEN);
        assert_null(back.notice);
        if (with_envelope) {
            assert_int_equal(back.envelope_len, sizeof env);
            assert_memory_equal(back.envelope, env, sizeof env);
        } else {
            assert_null(back.envelope);
        }
        assert_int_equal(back.checkpoint_len, 15);
        assert_memory_equal(back.checkpoint, f.checkpoint, 15);
        assert_int_equal(back.record_len, sizeof rec);
        assert_int_equal(back.n_proof, 3);
        assert_memory_equal(back.proof, f.proof, 3 * CF_MERKLE_HASH);
        assert_int_equal(back.consistency_from, 44);
        assert_int_equal(back.n_consistency, 2);
        assert_memory_equal(back.consistency, f.consistency, 2 * CF_MERKLE_HASH);
        cf_wire_frame_fini(&back);
    }
    /* A present but empty notice is a notice, for the notice checks to refuse. */
    f.determination = NULL, f.determination_len = 0, f.envelope = NULL;
    f.notice = env, f.notice_len = 0;
    frame_round_trip(&f, &back);
    assert_non_null(back.notice);
    assert_int_equal(back.notice_len, 0);
    assert_null(back.envelope);
    assert_null(back.determination);
    cf_wire_frame_fini(&back);
}

/* ---- Malformed input: bytes our encoders never write, made by editing what they do ---- */

/* A message as its list of fields (every field here is a varint or length-delimited). */
struct pbf {
    uint32_t num;
    uint8_t wt;    /* 0 varint, 2 bytes */
    bool overlong; /* a varint written one byte longer than it needs */
    uint64_t v;
    const uint8_t *p;
    size_t len;
};
struct pbm {
    size_t n;
    struct pbf f[256];
};

static uint8_t arena[4u << 20];
static size_t arena_used;

static uint8_t *scratch(size_t n)
{
    assert_true(n <= sizeof arena - arena_used);
    uint8_t *p = arena + arena_used;
    arena_used += n;
    return p;
}

static uint64_t get_varint(const uint8_t *b, size_t len, size_t *i)
{
    uint64_t v = 0;
    for (unsigned shift = 0; *i < len && shift < 64; shift += 7) {
        uint8_t c = b[(*i)++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return v;
    }
    fail_msg("a base message does not parse");
    return 0;
}

static void pb_parse(const uint8_t *b, size_t len, struct pbm *m)
{
    size_t i = 0;
    m->n = 0;
    while (i < len) {
        assert_true(m->n < sizeof m->f / sizeof m->f[0]);
        struct pbf *f = &m->f[m->n++];
        memset(f, 0, sizeof *f);
        uint64_t key = get_varint(b, len, &i);
        f->num = (uint32_t)(key >> 3), f->wt = key & 7;
        if (f->wt == 0) {
            f->v = get_varint(b, len, &i);
        } else {
            assert_int_equal(f->wt, 2);
            f->len = get_varint(b, len, &i);
            assert_true(f->len <= len - i);
            f->p = b + i;
            i += f->len;
        }
    }
}

static size_t put_varint(uint8_t *out, uint64_t v, bool overlong)
{
    size_t n = 0;
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        out[n++] = c | (v || overlong ? 0x80 : 0);
    } while (v);
    if (overlong)
        out[n++] = 0;
    return n;
}

static size_t pb_emit(const struct pbm *m, uint8_t *out)
{
    uint8_t tmp[12];
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        const struct pbf *f = &m->f[i];
        size_t k = put_varint(tmp, (uint64_t)f->num << 3 | f->wt, false);
        if (out)
            memcpy(out + n, tmp, k);
        n += k;
        k = put_varint(tmp, f->wt == 0 ? f->v : f->len, f->overlong);
        if (out)
            memcpy(out + n, tmp, k);
        n += k;
        if (f->wt == 2) {
            if (out && f->len)
                memcpy(out + n, f->p, f->len);
            n += f->len;
        }
    }
    return n;
}

enum op { NOP, SET, DROP, ADD, DUP, LONG, LAST };

/* One edit at `path` (the nested message fields to descend into, first of
 * each, 0-terminated): SET field `num` to `bytes`/`len` (or to the varint `v`
 * when bytes is NULL), or add it if absent; DROP every `num`; ADD one more;
 * DUP the first `num` `v` more times; LONG writes its varint a byte too long;
 * LAST moves it after every other field. */
struct edit {
    enum op op;
    uint32_t path[3];
    uint32_t num;
    uint64_t v;
    const char *bytes;
    size_t len;
};

static struct pbf *find(struct pbm *m, uint32_t num)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->f[i].num == num)
            return &m->f[i];
    return NULL;
}

/* Inserts a zeroed field where canonical order puts it: after every field numbered num or less. */
static struct pbf *insert(struct pbm *m, uint32_t num, size_t copies)
{
    size_t at = 0;
    while (at < m->n && m->f[at].num <= num)
        at++;
    assert_true(m->n + copies <= sizeof m->f / sizeof m->f[0]);
    memmove(&m->f[at + copies], &m->f[at], (m->n - at) * sizeof m->f[0]);
    memset(&m->f[at], 0, copies * sizeof m->f[0]);
    m->n += copies;
    return &m->f[at];
}

static void set_value(struct pbf *f, uint32_t num, const struct edit *e)
{
    f->num = num;
    f->wt = e->bytes ? 2 : 0;
    f->v = e->v;
    f->p = (const uint8_t *)e->bytes;
    f->len = e->len;
}

static void edit_fields(struct pbm *m, const struct edit *e)
{
    struct pbf *f = find(m, e->num);
    switch (e->op) {
    case NOP:
        break;
    case SET:
        set_value(f ? f : insert(m, e->num, 1), e->num, e);
        break;
    case DROP:
        for (size_t i = 0; i < m->n;)
            if (m->f[i].num == e->num)
                memmove(&m->f[i], &m->f[i + 1], (--m->n - i) * sizeof m->f[0]);
            else
                i++;
        break;
    case ADD:
        set_value(insert(m, e->num, 1), e->num, e);
        break;
    case DUP: {
        assert_non_null(f);
        struct pbf copy = *f;
        size_t at = (size_t)(f - m->f) + 1;
        assert_true(m->n + e->v <= sizeof m->f / sizeof m->f[0]);
        memmove(&m->f[at + e->v], &m->f[at], (m->n - at) * sizeof m->f[0]);
        for (size_t i = 0; i < e->v; i++)
            m->f[at + i] = copy;
        m->n += e->v;
        break;
    }
    case LONG:
        assert_non_null(f);
        f->overlong = true;
        break;
    case LAST: {
        assert_non_null(f);
        struct pbf copy = *f;
        memmove(f, f + 1, (size_t)(&m->f[--m->n] - f) * sizeof *f);
        m->f[m->n++] = copy;
        break;
    }
    }
}

static size_t apply(const uint8_t *in, size_t len, const uint32_t *path, const struct edit *e,
                    uint8_t **out)
{
    struct pbm *m = malloc(sizeof *m);
    assert_non_null(m);
    pb_parse(in, len, m);
    if (*path) {
        struct pbf *f = find(m, *path);
        assert_non_null(f);
        uint8_t *sub;
        f->len = apply(f->p, f->len, path + 1, e, &sub);
        f->p = sub;
    } else {
        edit_fields(m, e);
    }
    size_t n = pb_emit(m, NULL);
    *out = scratch(n ? n : 1);
    pb_emit(m, *out);
    free(m);
    return n;
}

/* The valid messages each case edits, and the decoder that reads each. */
enum base {
    B_ACCEPTED,
    B_DELIVERED,
    B_NOTICE_RECORD,
    B_CONFIG,
    B_SEALED,
    B_NOTICE,
    B_DETERMINATION,
    B_CASE,
    B_OUTBOX,
    B_DELIVER_DETERMINATION,
    B_DELIVER_NOTICE,
    B_ACCEPTED_FRAME,
    B_ACK,
    B_REPORT,
    B_CASE_REQUEST,
    B_CASE_INFO,
    B_COUNT
};

enum decoder { D_RECORD, D_NOTICE, D_DETERMINATION, D_CASE, D_OUTBOX, D_FRAME };

static const char *const decoder_names[] = {"AuditRecord", "Notice",      "Determination",
                                            "CaseRecord",  "OutboxEntry", "Frame"};

static enum decoder decoder_of(enum base b)
{
    switch (b) {
    case B_ACCEPTED:
    case B_DELIVERED:
    case B_NOTICE_RECORD:
    case B_CONFIG:
    case B_SEALED:
        return D_RECORD;
    case B_NOTICE:
        return D_NOTICE;
    case B_DETERMINATION:
        return D_DETERMINATION;
    case B_CASE:
        return D_CASE;
    case B_OUTBOX:
        return D_OUTBOX;
    default:
        return D_FRAME;
    }
}

static struct {
    uint8_t *bytes;
    size_t len;
} bases[B_COUNT];

/* Where encoding base b keeps its bytes. */
#define AT(b) &bases[b].bytes, &bases[b].len

static void make_bases(void)
{
    static const uint8_t header[] = {0x08, 0x01};
    static const char files[] = "[x]\n";
    struct cf_record r = {.index = 40,
                          .time = 1795000000040ull,
                          .event = CF_EVENT_ACCEPTED,
                          .header = header,
                          .header_len = sizeof header,
                          .has_digests = true,
                          .has_nrm = true};
    strcpy(r.actor, "police-met");
    assert_int_equal(cf_wire_record_encode(&r, AT(B_ACCEPTED)), 0);
    r = (struct cf_record){.index = 41, .event = CF_EVENT_NACKED, .has_about = true, .about = 40};
    strcpy(r.actor, "la-csc");
    strcpy(r.code, "CF_EDECRYPT");
    assert_int_equal(cf_wire_record_encode(&r, AT(B_DELIVERED)), 0);
    r = (struct cf_record){
        .index = 42, .event = CF_EVENT_NOTICE, .notice = header, .notice_len = sizeof header};
    assert_int_equal(cf_wire_record_encode(&r, AT(B_NOTICE_RECORD)), 0);
    r = (struct cf_record){.index = 0, .event = CF_EVENT_CONFIG};
    r.agencies = r.policy = r.sig = (const uint8_t *)files;
    r.agencies_len = r.policy_len = r.sig_len = sizeof files - 1;
    assert_int_equal(cf_wire_record_encode(&r, AT(B_CONFIG)), 0);
    r = (struct cf_record){.index = 45,
                           .event = CF_EVENT_DETERMINATION,
                           .has_determination = true,
                           .determination_of = 40};
    assert_int_equal(cf_wire_record_encode(&r, AT(B_SEALED)), 0);
    assert_int_equal(cf_wire_notice_encode(sample_notice(), AT(B_NOTICE)), 0);
    struct cf_determination *d = sample_determination(true);
    d->n_votes = 2;
    assert_int_equal(cf_wire_determination_encode(d, AT(B_DETERMINATION)), 0);
    struct cf_case *c = sample_case();
    c->n_members = c->n_voters = c->n_votes = 2;
    c->n_guardians = 1;
    c->n_deadlines = 2;
    assert_int_equal(cf_wire_case_encode(c, AT(B_CASE)), 0);
    struct cf_outbox_entry e = {header, sizeof header, "spool-1.json", 1795000000000ull};
    assert_int_equal(cf_wire_outbox_encode(&e, AT(B_OUTBOX)), 0);

    static struct cf_frame f;
    static const uint8_t bytes[] = "bytes";
    memset(&f, 0, sizeof f);
    f.kind = CF_FRAME_DELIVER;
    f.envelope = f.determination = f.record = bytes;
    f.envelope_len = f.determination_len = f.record_len = sizeof bytes;
    f.checkpoint = "note", f.checkpoint_len = 4;
    f.n_proof = 2;
    assert_int_equal(cf_wire_frame_encode(&f, AT(B_DELIVER_DETERMINATION)), 0);
    f.envelope = f.determination = NULL;
    f.notice = bytes, f.notice_len = sizeof bytes;
    assert_int_equal(cf_wire_frame_encode(&f, AT(B_DELIVER_NOTICE)), 0);
    f.kind = CF_FRAME_ACCEPTED;
    assert_int_equal(cf_wire_frame_encode(&f, AT(B_ACCEPTED_FRAME)), 0);
    f.kind = CF_FRAME_ACK;
    assert_int_equal(cf_wire_frame_encode(&f, AT(B_ACK)), 0);
    f.kind = CF_FRAME_REPORT;
    strcpy(f.recipient, "la-csc");
    strcpy(f.outcome, "delivered");
    assert_int_equal(cf_wire_frame_encode(&f, AT(B_REPORT)), 0);
    f.kind = CF_FRAME_CASE_REQUEST;
    cf_header_case_id_new(f.case_id);
    assert_int_equal(cf_wire_frame_encode(&f, AT(B_CASE_REQUEST)), 0);
    f.kind = CF_FRAME_CASE_INFO;
    strcpy(f.case_info.state, "referred");
    strcpy(f.case_info.owner, "la-csc");
    f.case_info.n_deadlines = 2;
    strcpy(f.case_info.deadlines[0].name, "acknowledgement");
    strcpy(f.case_info.deadlines[1].name, "strategy");
    assert_int_equal(cf_wire_frame_encode(&f, AT(B_CASE_INFO)), 0);
}

static void free_bases(void)
{
    for (size_t i = 0; i < B_COUNT; i++)
        free(bases[i].bytes);
}

static int decode_as(enum decoder d, const uint8_t *buf, size_t len, struct cf_error *err)
{
    int rc;
    switch (d) {
    case D_RECORD: {
        struct cf_record r;
        rc = cf_wire_record_decode(buf, len, &r, err);
        cf_wire_record_fini(&r);
        return rc;
    }
    case D_NOTICE: {
        struct cf_notice n;
        return cf_wire_notice_decode(buf, len, &n, err);
    }
    case D_DETERMINATION: {
        static struct cf_determination det;
        rc = cf_wire_determination_decode(buf, len, &det, err);
        cf_wire_determination_fini(&det);
        return rc;
    }
    case D_CASE: {
        static struct cf_case c;
        return cf_wire_case_decode(buf, len, &c, err);
    }
    case D_OUTBOX: {
        struct cf_outbox_entry e;
        uint8_t *copy;
        rc = cf_wire_outbox_decode(buf, len, &e, &copy, err);
        free(copy);
        return rc;
    }
    case D_FRAME: {
        static struct cf_frame f;
        rc = cf_wire_frame_decode(buf, len, &f, err);
        cf_wire_frame_fini(&f);
        return rc;
    }
    }
    return CF_EINVAL;
}

static void test_wire_bases(void **state)
{
    (void)state;
    make_bases();
    for (size_t b = 0; b < B_COUNT; b++) {
        struct cf_error err = {0};
        int rc = decode_as(decoder_of(b), bases[b].bytes, bases[b].len, &err);
        if (rc != 0)
            fail_msg("base %zu does not decode: %s", b, err.text);
        /* Editing with no edit gives the same bytes back: the editor itself is faithful. */
        uint8_t *same;
        static const uint32_t top[1] = {0};
        arena_used = 0;
        size_t n = apply(bases[b].bytes, bases[b].len, top, &(struct edit){NOP, {0}, 0, 0, NULL, 0},
                         &same);
        assert_int_equal(n, bases[b].len);
        assert_memory_equal(same, bases[b].bytes, n);
    }
    free_bases();
}

static void test_oversize(void **state)
{
    (void)state;
    static const struct {
        enum decoder d;
        size_t limit;
        const char *text;
    } cases[] = {
        {D_FRAME, CF_MAX_FRAME, "frame: "},
        {D_RECORD, CF_MAX_TRANSPORT, "record: "},
        {D_NOTICE, CF_MAX_HEADER, "notice: "},
        {D_DETERMINATION, CF_MAX_ENVELOPE, "determination: "},
        {D_CASE, 4 * CF_MAX_HEADER, "case: "},
        {D_OUTBOX, CF_MAX_ENVELOPE + 1024, "outbox: "},
    };
    uint8_t *big = calloc(1, CF_MAX_TRANSPORT + 1);
    assert_non_null(big);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cf_error err = {0};
        int rc = decode_as(cases[i].d, big, cases[i].limit + 1, &err);
        if (rc != CF_ETOOBIG || strncmp(err.text, cases[i].text, strlen(cases[i].text)) != 0)
            fail_msg("%s one byte over: %s %s", decoder_names[cases[i].d], cf_error_name(rc),
                     err.text);
        /* At the limit itself it is the bytes that are wrong, not their number. */
        rc = decode_as(cases[i].d, big, cases[i].limit, &err);
        if (rc == CF_ETOOBIG)
            fail_msg("%s at its limit: %s", decoder_names[cases[i].d], err.text);
    }
    free(big);
}

/* Every base cut short, and with an unknown field on top. */
static void test_truncated_and_unknown(void **state)
{
    (void)state;
    make_bases();
    for (size_t b = 0; b < B_COUNT; b++) {
        enum decoder d = decoder_of(b);
        struct cf_error err = {0};
        char want[96];
        snprintf(want, sizeof want, "not a ChildFirst %s", decoder_names[d]);
        /* One byte short, and cut inside the first field that holds bytes. */
        static struct pbm m;
        pb_parse(bases[b].bytes, bases[b].len, &m);
        size_t inside = 0;
        for (size_t k = 0; k < m.n && !inside; k++)
            if (m.f[k].wt == 2 && m.f[k].len >= 2)
                inside = (size_t)(m.f[k].p - bases[b].bytes) + m.f[k].len / 2;
        assert_true(inside > 0);
        size_t cuts[] = {bases[b].len - 1, inside};
        for (size_t i = 0; i < 2; i++) {
            int rc = decode_as(d, bases[b].bytes, cuts[i], &err);
            if (rc != CF_EDECODE || !strstr(err.text, want))
                fail_msg("base %zu cut to %zu of %zu bytes: %s %s", b, cuts[i], bases[b].len,
                         cf_error_name(rc), err.text);
        }
        static const uint32_t top[1] = {0};
        uint8_t *more;
        arena_used = 0;
        size_t n = apply(bases[b].bytes, bases[b].len, top,
                         &(struct edit){ADD, {0}, 99, 1, NULL, 0}, &more);
        snprintf(want, sizeof want, "%s: carries unknown fields", decoder_names[d]);
        int rc = decode_as(d, more, n, &err);
        if (rc != CF_EUNKNOWNFIELD || strcmp(err.text, want) != 0)
            fail_msg("base %zu with field 99: %s %s", b, cf_error_name(rc), err.text);
    }
    free_bases();
}

#define SIG63 "012345678901234567890123456789012345678901234567890123456789012"
#define HASH31 "0123456789012345678901234567890"
#define ID15 "012345678901234"
static const char zeros[CF_NONCE_LEN + 2048 + CF_AEAD_TAG_LEN];

/* Each case: a base, up to two edits, and the exact code with a sentence that names the field. */
struct bad {
    const char *what;
    enum base base;
    struct edit e[2];
    int code;
    const char *text;
};

/* An edit's value: a varint, bytes without their NUL, or n zero bytes. */
#define V(x) x, NULL, 0
#define B(s) 0, s, sizeof s - 1
#define Z(n) 0, zeros, n

static const struct bad bad_cases[] = {
    /* Wrong lengths. */
    {"record: a 31-byte ciphertext hash",
     B_ACCEPTED,
     {{SET, {0}, 6, B(HASH31)}},
     CF_EFIELD,
     "record.ciphertext_hash: 31 bytes, expected 32"},
    {"record: a 33-byte keys hash",
     B_ACCEPTED,
     {{SET, {0}, 7, B(HASH31 "ab")}},
     CF_EFIELD,
     "record.keys_hash: 33 bytes, expected 32"},
    {"record: an empty commit",
     B_ACCEPTED,
     {{SET, {0}, 8, B("")}},
     CF_EFIELD,
     "record.commit: 0 bytes, expected 32"},
    {"record: a 63-byte signature",
     B_ACCEPTED,
     {{SET, {0}, 9, B(SIG63)}},
     CF_EFIELD,
     "record.signature: 63 bytes, expected 64"},
    {"record: digests without the signature",
     B_ACCEPTED,
     {{DROP, {0}, 9, V(0)}},
     CF_EFIELD,
     "record.signature: 0 bytes, expected 64"},
    {"record: a 31-byte frame hash",
     B_ACCEPTED,
     {{SET, {0}, 10, B(HASH31)}},
     CF_EFIELD,
     "record.frame_hash: 31 bytes, expected 32"},
    {"record: a 31-byte envelope hash",
     B_DELIVERED,
     {{SET, {0}, 13, B(HASH31)}},
     CF_EFIELD,
     "record.envelope_hash: 31 bytes, expected 32"},
    {"record: a 15-byte ack message id",
     B_DELIVERED,
     {{SET, {0}, 14, B(ID15)}},
     CF_EFIELD,
     "record.ack_message_id: 15 bytes, expected 16"},
    {"record: a 63-byte ack signature",
     B_DELIVERED,
     {{SET, {0}, 15, B(SIG63)}},
     CF_EFIELD,
     "record.ack_signature: 63 bytes, expected 64"},
    {"record: a 63-byte notice signature",
     B_NOTICE_RECORD,
     {{SET, {0}, 17, B(SIG63)}},
     CF_EFIELD,
     "record.notice_signature: 63 bytes, expected 64"},
    {"record: a notice without its signature",
     B_NOTICE_RECORD,
     {{DROP, {0}, 17, V(0)}},
     CF_EFIELD,
     "record.notice_signature: 0 bytes, expected 64"},
    {"record: a 31-byte determination hash",
     B_SEALED,
     {{SET, {0}, 21, B(HASH31)}},
     CF_EFIELD,
     "record.determination_hash: 31 bytes, expected 32"},
    {"record: a 63-byte countersignature",
     B_SEALED,
     {{SET, {0}, 22, B(SIG63)}},
     CF_EFIELD,
     "record.determination_signature: 63 bytes, expected 64"},
    {"record: a 31-byte NRM ciphertext hash",
     B_ACCEPTED,
     {{SET, {0}, 23, B(HASH31)}},
     CF_EFIELD,
     "record.nrm_ciphertext_hash: 31 bytes, expected 32"},
    {"record: a 31-byte NRM keys hash",
     B_ACCEPTED,
     {{SET, {0}, 24, B(HASH31)}},
     CF_EFIELD,
     "record.nrm_keys_hash: 31 bytes, expected 32"},
    {"record: NRM digests without the commit",
     B_ACCEPTED,
     {{DROP, {0}, 25, V(0)}},
     CF_EFIELD,
     "record.nrm_commit: 0 bytes, expected 32"},
    {"notice: a 15-byte notice id",
     B_NOTICE,
     {{SET, {0}, 2, B(ID15)}},
     CF_EFIELD,
     "notice.notice_id: 15 bytes, expected 16"},
    {"determination: a 15-byte id",
     B_DETERMINATION,
     {{SET, {0}, 13, B(ID15)}},
     CF_EFIELD,
     "determination.determination_id: 15 bytes, expected 16"},
    {"determination: a 17-byte proposal id",
     B_DETERMINATION,
     {{SET, {0}, 3, B(ID15 "ab")}},
     CF_EFIELD,
     "determination.proposal_id: 17 bytes, expected 16"},
    {"determination: a 31-byte proposal hash",
     B_DETERMINATION,
     {{SET, {0}, 5, B(HASH31)}},
     CF_EFIELD,
     "determination.proposal_hash: 31 bytes, expected 32"},
    {"determination: a 31-byte directory digest",
     B_DETERMINATION,
     {{SET, {0}, 8, B(HASH31)}},
     CF_EFIELD,
     "determination.directory_digest: 31 bytes, expected 32"},
    {"determination: a vote's 63-byte signature",
     B_DETERMINATION,
     {{SET, {7}, 3, B(SIG63)}},
     CF_EFIELD,
     "determination.votes: 63 bytes, expected 64"},
    {"determination: a 79-byte sealed NRM key",
     B_DETERMINATION,
     {{SET, {12, 2}, 2, Z(CF_SEALED_KEY_LEN - 1)}},
     CF_EFIELD,
     "determination.nrm_return.key.sealed_key: 79 bytes, expected 80"},
    {"determination: a 31-byte NRM commit",
     B_DETERMINATION,
     {{SET, {12}, 3, B(HASH31)}},
     CF_EFIELD,
     "determination.nrm_return.commit: 31 bytes, expected 32"},
    {"case: a 15-byte proposal id",
     B_CASE,
     {{SET, {0}, 15, B(ID15)}},
     CF_EFIELD,
     "case.proposal_id: 15 bytes, expected 16"},
    {"case: a vote's 63-byte signature",
     B_CASE,
     {{SET, {19}, 3, B(SIG63)}},
     CF_EFIELD,
     "case.votes: 63 bytes, expected 64"},
    {"deliver: a 63-byte countersignature",
     B_DELIVER_DETERMINATION,
     {{SET, {6}, 11, B(SIG63)}},
     CF_EFIELD,
     "deliver.determination_signature: 63 bytes, expected 64"},
    {"deliver: a 63-byte notice signature",
     B_DELIVER_NOTICE,
     {{SET, {6}, 3, B(SIG63)}},
     CF_EFIELD,
     "deliver.notice_signature: 63 bytes, expected 64"},
    {"deliver: a 31-byte proof hash",
     B_DELIVER_DETERMINATION,
     {{SET, {6}, 6, B(HASH31)}},
     CF_EFIELD,
     "frame.proof[]: 31 bytes, expected 32"},
    {"accepted: a 15-byte message id",
     B_ACCEPTED_FRAME,
     {{SET, {4}, 1, B(ID15)}},
     CF_EFIELD,
     "accepted.message_id: 15 bytes, expected 16"},
    {"ack: a 63-byte signature",
     B_ACK,
     {{SET, {7}, 3, B(SIG63)}},
     CF_EFIELD,
     "ack.signature: 63 bytes, expected 64"},

    /* Enums and counts out of range. */
    {"record: event 0", B_ACCEPTED, {{SET, {0}, 3, V(0)}}, CF_EFIELD, "record.event: unknown"},
    {"record: event 12", B_ACCEPTED, {{SET, {0}, 3, V(12)}}, CF_EFIELD, "record.event: unknown"},
    {"notice: version 2", B_NOTICE, {{SET, {0}, 1, V(2)}}, CF_EVERSION, "notice.version: 2"},
    {"notice: an unknown kind",
     B_NOTICE,
     {{SET, {0}, 3, B("new_referal")}},
     CF_EFIELD,
     "notice.kind: unknown"},
    {"notice: urgency 4", B_NOTICE, {{SET, {0}, 7, V(4)}}, CF_EFIELD, "notice.urgency: unknown"},
    {"notice: 65 recipients",
     B_NOTICE,
     {{DUP, {0}, 5, V(CF_MAX_RECIPIENTS - 1)}},
     CF_ETOOBIG,
     "notice.recipients: 65"},
    {"notice: 65 outstanding",
     B_NOTICE,
     {{DUP, {0}, 13, V(CF_MAX_RECIPIENTS - 2)}},
     CF_ETOOBIG,
     "notice.outstanding: 65"},
    {"determination: version 2",
     B_DETERMINATION,
     {{SET, {0}, 1, V(2)}},
     CF_EVERSION,
     "determination.version: 2"},
    {"determination: decision 3",
     B_DETERMINATION,
     {{SET, {0}, 6, V(3)}},
     CF_EFIELD,
     "determination.decision: not rg or cg"},
    {"determination: 33 votes",
     B_DETERMINATION,
     {{DUP, {0}, 7, V(CF_MAX_MEMBERS - 1)}},
     CF_ETOOBIG,
     "determination.votes: 33 votes"},
    {"determination: 65 recipients",
     B_DETERMINATION,
     {{DUP, {0}, 10, V(CF_MAX_RECIPIENTS - 1)}},
     CF_ETOOBIG,
     "determination.recipients: 65"},
    {"case: state 9",
     B_CASE,
     {{SET, {0}, 2, V(CF_CASE_STATE_COUNT)}},
     CF_EFIELD,
     "case.state: unknown"},
    {"case: urgency 0",
     B_CASE,
     {{SET, {0}, 8, V(0)}},
     CF_EFIELD,
     "case.urgency: not immediate, urgent or routine"},
    {"case: urgency 4",
     B_CASE,
     {{SET, {0}, 8, V(4)}},
     CF_EFIELD,
     "case.urgency: not immediate, urgent or routine"},
    {"case: a member of standing 4",
     B_CASE,
     {{SET, {13}, 2, V(4)}},
     CF_EFIELD,
     "case.members[0].standing: unknown"},
    {"case: a proposal of decision 0",
     B_CASE,
     {{SET, {0}, 16, V(0)}},
     CF_EFIELD,
     "case.proposal_decision: not rg or cg"},
    {"case: a proposal returning to state 0",
     B_CASE,
     {{SET, {0}, 17, V(0)}},
     CF_EFIELD,
     "case.before_proposal: unknown"},
    {"case: a deadline of kind 5",
     B_CASE,
     {{SET, {26}, 1, V(CF_DEADLINE_COUNT)}},
     CF_EFIELD,
     "case.deadlines[0].kind: unknown"},
    {"case: 33 members",
     B_CASE,
     {{DUP, {0}, 13, V(CF_MAX_MEMBERS - 1)}},
     CF_ETOOBIG,
     "case: a list is over its limit"},
    {"case: 33 voters",
     B_CASE,
     {{DUP, {0}, 18, V(CF_MAX_MEMBERS - 1)}},
     CF_ETOOBIG,
     "case: a list is over its limit"},
    {"case: 33 votes",
     B_CASE,
     {{DUP, {0}, 19, V(CF_MAX_MEMBERS - 1)}},
     CF_ETOOBIG,
     "case.votes: 33 votes"},
    {"case: 9 guardians",
     B_CASE,
     {{DUP, {0}, 27, V(CF_MAX_GUARDIANS)}},
     CF_ETOOBIG,
     "case: a list is over its limit"},
    {"case: 6 deadlines",
     B_CASE,
     {{DUP, {0}, 26, V(CF_DEADLINE_COUNT - 1)}},
     CF_ETOOBIG,
     "case: a list is over its limit"},
    {"case: a first_at entry too many",
     B_CASE,
     {{DUP, {0}, 20, V(1)}},
     CF_ETOOBIG,
     "case: a list is over its limit"},
    {"case: a last_at entry too many",
     B_CASE,
     {{DUP, {0}, 21, V(1)}},
     CF_ETOOBIG,
     "case: a list is over its limit"},
    {"case info: 6 deadlines",
     B_CASE_INFO,
     {{DUP, {17}, 6, V(CF_DEADLINE_COUNT - 1)}},
     CF_ETOOBIG,
     "case_info.deadlines: 6"},
    {"accepted: an inclusion proof of 129 hashes",
     B_ACCEPTED_FRAME,
     {{DUP, {4}, 4, V(2 * CF_MERKLE_MAX_PROOF - 1)}},
     CF_ETOOBIG,
     "frame: a proof of 129 hashes"},

    /* A Deliver holds exactly one thing, each with its signature. */
    {"deliver: a notice and a determination",
     B_DELIVER_DETERMINATION,
     {{ADD, {6}, 2, B("notice")}, {ADD, {6}, 3, Z(CF_SIG_LEN)}},
     CF_EDECODE,
     "deliver: needs an envelope, a notice or a determination"},
    {"deliver: a notice and an envelope",
     B_DELIVER_NOTICE,
     {{ADD, {6}, 1, B("envelope")}},
     CF_EDECODE,
     "deliver: needs an envelope, a notice or a determination"},
    {"deliver: nothing",
     B_DELIVER_NOTICE,
     {{DROP, {6}, 2, V(0)}, {DROP, {6}, 3, V(0)}},
     CF_EDECODE,
     "deliver: needs an envelope, a notice or a determination"},
    {"deliver: a countersignature without a determination",
     B_DELIVER_DETERMINATION,
     {{DROP, {6}, 10, V(0)}},
     CF_EDECODE,
     "deliver: a countersignature without a determination"},
    {"deliver: a determination without its countersignature",
     B_DELIVER_DETERMINATION,
     {{DROP, {6}, 11, V(0)}},
     CF_EDECODE,
     "deliver: a determination without its countersignature"},
    {"deliver: a notice signature without a notice",
     B_DELIVER_DETERMINATION,
     {{ADD, {6}, 3, Z(CF_SIG_LEN)}},
     CF_EDECODE,
     "deliver: a notice signature without a notice"},
    {"deliver: a notice without its signature",
     B_DELIVER_NOTICE,
     {{DROP, {6}, 3, V(0)}},
     CF_EDECODE,
     "deliver: a notice without its signature"},
    {"deliver: no checkpoint",
     B_DELIVER_NOTICE,
     {{SET, {6}, 5, B("")}},
     CF_ETOOBIG,
     "frame.checkpoint: 0 bytes"},

    /* An NRM return whose ciphertext is not a nonce, a padding bucket and a tag. */
    {"determination: an NRM ciphertext of 1040 bytes",
     B_DETERMINATION,
     {{SET, {12}, 1, Z(CF_NONCE_LEN + 1000 + CF_AEAD_TAG_LEN)}},
     CF_EFIELD,
     "determination.nrm_return.ciphertext: 1040 bytes is not a nonce, a padding bucket and a "
     "tag"},
    {"determination: an NRM ciphertext of a bucket without its tag",
     B_DETERMINATION,
     {{SET, {12}, 1, Z(CF_NONCE_LEN + 1024)}},
     CF_EFIELD,
     "determination.nrm_return.ciphertext: 1048 bytes"},
    {"determination: an empty NRM ciphertext",
     B_DETERMINATION,
     {{SET, {12}, 1, B("")}},
     CF_EFIELD,
     "determination.nrm_return.ciphertext: 0 bytes"},

    /* Case ids and agency ids inside each. */
    {"record: an actor that is no agency id",
     B_ACCEPTED,
     {{SET, {0}, 4, B("Police Met")}},
     CF_EID,
     "record.actor: not an agency id"},
    {"record: an empty actor",
     B_ACCEPTED,
     {{SET, {0}, 4, B("")}},
     CF_EID,
     "record.actor: not an agency id"},
    {"notice: a case id that is not one",
     B_NOTICE,
     {{SET, {0}, 4, B("cf-123")}},
     CF_EFIELD,
     "notice.case_id: not a case id"},
    {"notice: a recipient that is no agency id",
     B_NOTICE,
     {{SET, {0}, 5, B("la_duty")}},
     CF_EID,
     "notice.recipients[0]: not an agency id"},
    {"notice: an outstanding one that is no agency id",
     B_NOTICE,
     {{SET, {0}, 13, B("Health")}},
     CF_EID,
     "notice.outstanding[0]: not an agency id"},
    {"notice: a referring agency that is no agency id",
     B_NOTICE,
     {{SET, {0}, 9, B("police met")}},
     CF_EID,
     "notice.referring_agency: not an agency id"},
    {"notice: an empty referring agency",
     B_NOTICE,
     {{SET, {0}, 9, B("")}},
     CF_EID,
     "notice.referring_agency: not an agency id"},
    {"determination: a case id that is not one",
     B_DETERMINATION,
     {{SET, {0}, 2, B("CF-NOPE")}},
     CF_EFIELD,
     "determination.case_id: not a case id"},
    {"determination: a recipient that is no agency id",
     B_DETERMINATION,
     {{SET, {0}, 10, B("ho")}},
     CF_EID,
     "determination.recipients[0]: not an agency id"},
    {"determination: a voter that is no agency id",
     B_DETERMINATION,
     {{SET, {7}, 1, B("Voter 0")}},
     CF_EID,
     "determination.votes[0].voter: not an agency id"},
    {"determination: an NRM recipient that is no agency id",
     B_DETERMINATION,
     {{SET, {12, 2}, 1, B("home office")}},
     CF_EID,
     "determination.nrm_return.key.recipient: not an agency id"},
    {"case: a case id that is not one",
     B_CASE,
     {{SET, {0}, 1, B("case-1")}},
     CF_EFIELD,
     "case.case_id: not a case id"},
    {"case: a referrer that is no agency id",
     B_CASE,
     {{SET, {0}, 5, B("P")}},
     CF_EID,
     "case: the referrer or owner is not an agency id"},
    {"case: an empty owner",
     B_CASE,
     {{SET, {0}, 10, B("")}},
     CF_EID,
     "case: the referrer or owner is not an agency id"},
    {"case: a member that is no agency id",
     B_CASE,
     {{SET, {13}, 1, B("member 0")}},
     CF_EID,
     "case.members[0].agency: not an agency id"},
    {"case: a voter that is no agency id",
     B_CASE,
     {{SET, {0}, 18, B("m")}},
     CF_EID,
     "case.voters[0]: not an agency id"},
    {"case: a vote by no agency id",
     B_CASE,
     {{SET, {19}, 1, B("m!")}},
     CF_EID,
     "case.votes[0].voter: not an agency id"},
    {"case: a guardian that is no agency id",
     B_CASE,
     {{SET, {0}, 27, B("Guardian")}},
     CF_EID,
     "case.guardians[0]: not an agency id"},
    {"case request: a case id that is not one",
     B_CASE_REQUEST,
     {{SET, {16}, 1, B("cf-1")}},
     CF_EFIELD,
     "case_request.case_id: not a case id"},
    {"case info: a case id that is not one",
     B_CASE_INFO,
     {{SET, {17}, 1, B("cf-1")}},
     CF_EFIELD,
     "case_info.case_id: not a case id"},
    {"case info: an owner that is no agency id",
     B_CASE_INFO,
     {{SET, {17}, 5, B("LA")}},
     CF_EID,
     "case_info.owner: not an agency id"},
    {"report: a recipient that is no agency id",
     B_REPORT,
     {{SET, {9}, 3, B("la csc")}},
     CF_EID,
     "report.recipient: not an agency id"},

    /* A record's parts come whole, and each field once as encoding gives it. */
    {"record: a determination hash without determination_of",
     B_SEALED,
     {{DROP, {0}, 26, V(0)}},
     CF_EFIELD,
     "record: a determination names its proposal"},
    {"record: determination_of alone",
     B_SEALED,
     {{DROP, {0}, 21, V(0)}, {DROP, {0}, 22, V(0)}},
     CF_EFIELD,
     "record.determination_hash: 0 bytes, expected 32"},
    {"record: an answer without the leaf it answers",
     B_DELIVERED,
     {{DROP, {0}, 12, V(0)}},
     CF_EFIELD,
     "record: an answer names the leaf it answers"},
    {"record: a notice signature without its notice",
     B_NOTICE_RECORD,
     {{DROP, {0}, 16, V(0)}},
     CF_EFIELD,
     "record: a notice signature without its notice"},
    {"record: a config of two files",
     B_CONFIG,
     {{DROP, {0}, 20, V(0)}},
     CF_EFIELD,
     "record: a config needs all three files"},
    {"record: a present but empty code",
     B_DELIVERED,
     {{SET, {0}, 11, B("")}},
     CF_EFIELD,
     "record.code: present but empty"},
    {"notice: a present but empty state",
     B_NOTICE,
     {{SET, {0}, 15, B("")}},
     CF_EFIELD,
     "notice: a deadline, code or state is present but empty"},
    {"notice: a present but empty deadline",
     B_NOTICE,
     {{SET, {0}, 11, B("")}},
     CF_EFIELD,
     "notice: a deadline, code or state is present but empty"},
    {"notice: a present but empty code",
     B_NOTICE,
     {{SET, {0}, 14, B("")}},
     CF_EFIELD,
     "notice: a deadline, code or state is present but empty"},

    /* Not canonical: the decoders whose bytes are hashed or signed refuse any other encoding. */
    {"record: an index one byte too long",
     B_ACCEPTED,
     {{LONG, {0}, 1, V(0)}},
     CF_ECANON,
     "AuditRecord: not in canonical encoding"},
    {"record: the index last",
     B_ACCEPTED,
     {{LAST, {0}, 1, V(0)}},
     CF_ECANON,
     "AuditRecord: not in canonical encoding"},
    {"record: the time twice",
     B_ACCEPTED,
     {{DUP, {0}, 2, V(1)}},
     CF_ECANON,
     "AuditRecord: not in canonical encoding"},
    {"notice: a version one byte too long",
     B_NOTICE,
     {{LONG, {0}, 1, V(0)}},
     CF_ECANON,
     "Notice: not in canonical encoding"},
    {"notice: the version last",
     B_NOTICE,
     {{LAST, {0}, 1, V(0)}},
     CF_ECANON,
     "Notice: not in canonical encoding"},
    {"notice: the kind twice",
     B_NOTICE,
     {{DUP, {0}, 3, V(1)}},
     CF_ECANON,
     "Notice: not in canonical encoding"},
    {"determination: a version one byte too long",
     B_DETERMINATION,
     {{LONG, {0}, 1, V(0)}},
     CF_ECANON,
     "Determination: not in canonical encoding"},
    {"determination: the case id last",
     B_DETERMINATION,
     {{LAST, {0}, 2, V(0)}},
     CF_ECANON,
     "Determination: not in canonical encoding"},
    {"determination: a vote's leaf one byte too long",
     B_DETERMINATION,
     {{LONG, {7}, 4, V(0)}},
     CF_ECANON,
     "Determination: not in canonical encoding"},

    /* Unknown fields deep inside. */
    {"determination: an unknown field in a vote",
     B_DETERMINATION,
     {{ADD, {7}, 9, V(1)}},
     CF_EUNKNOWNFIELD,
     "Determination: carries unknown fields"},
    {"determination: an unknown field in the NRM key",
     B_DETERMINATION,
     {{ADD, {12, 2}, 9, V(1)}},
     CF_EUNKNOWNFIELD,
     "Determination: carries unknown fields"},
    {"case: an unknown field in a member",
     B_CASE,
     {{ADD, {13}, 9, V(1)}},
     CF_EUNKNOWNFIELD,
     "CaseRecord: carries unknown fields"},
    {"case: an unknown field in a deadline",
     B_CASE,
     {{ADD, {26}, 9, V(1)}},
     CF_EUNKNOWNFIELD,
     "CaseRecord: carries unknown fields"},
    {"deliver: an unknown field",
     B_DELIVER_NOTICE,
     {{ADD, {6}, 99, V(1)}},
     CF_EUNKNOWNFIELD,
     "Frame: carries unknown fields"},
    {"case info: an unknown field in a deadline",
     B_CASE_INFO,
     {{ADD, {17, 6}, 9, V(1)}},
     CF_EUNKNOWNFIELD,
     "Frame: carries unknown fields"},
};

static void test_malformed(void **state)
{
    (void)state;
    make_bases();
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad *c = &bad_cases[i];
        arena_used = 0;
        const uint8_t *buf = bases[c->base].bytes;
        size_t len = bases[c->base].len;
        for (size_t k = 0; k < 2 && c->e[k].op != NOP; k++) {
            uint8_t *out;
            len = apply(buf, len, c->e[k].path, &c->e[k], &out);
            buf = out;
        }
        struct cf_error err = {0};
        int rc = decode_as(decoder_of(c->base), buf, len, &err);
        if (rc != c->code || !strstr(err.text, c->text))
            fail_msg("%s: wanted %s \"%s\", got %s \"%s\"", c->what, cf_error_name(c->code),
                     c->text, cf_error_name(rc), err.text);
    }
    free_bases();
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_round_trip),
        cmocka_unit_test(test_header_guards),
        cmocka_unit_test(test_envelope_guards),
        cmocka_unit_test(test_referral_payload_round_trip),
        cmocka_unit_test(test_payload_guards),
        cmocka_unit_test(test_case_payload_round_trip),
        cmocka_unit_test(test_case_payload_guards),
        cmocka_unit_test(test_determination_round_trip),
        cmocka_unit_test(test_case_round_trip),
        cmocka_unit_test(test_notice_round_trip),
        cmocka_unit_test(test_record_round_trip),
        cmocka_unit_test(test_case_frames),
        cmocka_unit_test(test_deliver_determination),
        cmocka_unit_test(test_wire_bases),
        cmocka_unit_test(test_oversize),
        cmocka_unit_test(test_truncated_and_unknown),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
