/* Wire tests: every header field survives encoding, the decoder's guards
 * (limits, unknown fields, NUL, canonical form) hold, and a referral payload
 * and each case message payload come back as the document that went in. */
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
