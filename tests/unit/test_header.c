/* Header tests: the id syntaxes, enum names, case id generation, and the
 * semantic checks a decoder cannot make. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "childfirst/header.h"

static void test_id_syntaxes(void **state)
{
    (void)state;
    static const struct {
        bool (*valid)(const char *, size_t);
        const char *text;
        bool ok;
    } cases[] = {
        {cf_header_id_valid, "police-met", true},
        {cf_header_id_valid, "la-e09000033-csc", true},
        {cf_header_id_valid, "abc", true},
        {cf_header_id_valid, "ab", false},
        {cf_header_id_valid, "Police-met", false},
        {cf_header_id_valid, "police_met", false},
        {cf_header_id_valid, "police.met", false},
        {cf_header_id_valid, "0123456789012345678901234567890123456789012345678901234567890123",
         true},
        {cf_header_id_valid, "01234567890123456789012345678901234567890123456789012345678901234",
         false},
        {cf_header_la_code_valid, "E09000033", true},
        {cf_header_la_code_valid, "S12000049", true},
        {cf_header_la_code_valid, "e09000033", false},
        {cf_header_la_code_valid, "E0900003", false},
        {cf_header_la_code_valid, "E090000333", false},
        {cf_header_la_code_valid, "EE9000033", false},
        {cf_header_case_id_valid, "cf-abcdefghijklmnopqrstuvwxya", true},
        {cf_header_case_id_valid, "cf-abcdefghijklmnopqrstuvwxyb", false}, /* padding bits set */
        {cf_header_case_id_valid, "cf-abcdefghijklmnopqrstuvwxy", false},
        {cf_header_case_id_valid, "cf-ABCDEFGHIJKLMNOPQRSTUVWXYA", false},
        {cf_header_case_id_valid, "cf-abcdefghijklmnopqrstuvwx1a", false}, /* 1 is not base32 */
        {cf_header_case_id_valid, "cx-abcdefghijklmnopqrstuvwxya", false},
        {cf_header_staff_ref_valid, "SW/1042", true},
        {cf_header_staff_ref_valid, "", false},
        {cf_header_staff_ref_valid, "a b", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (cases[i].valid(cases[i].text, strlen(cases[i].text)) != cases[i].ok)
            fail_msg("'%s' should be %s", cases[i].text, cases[i].ok ? "valid" : "invalid");
    /* A NUL inside the range is never valid. */
    assert_false(cf_header_id_valid("abc\0def", 7));
    assert_false(cf_header_la_code_valid("E0900\0033", 9));
}

static void test_case_id_new(void **state)
{
    (void)state;
    char a[CF_CASE_ID_LEN + 1], b[CF_CASE_ID_LEN + 1];
    for (int i = 0; i < 1000; i++) {
        cf_header_case_id_new(a);
        assert_int_equal(strlen(a), CF_CASE_ID_LEN);
        assert_true(cf_header_case_id_valid(a, strlen(a)));
    }
    cf_header_case_id_new(b);
    assert_string_not_equal(a, b);
}

static void test_names(void **state)
{
    (void)state;
    for (int t = CF_TYPE_REFERRAL; t < CF_TYPE_COUNT; t++)
        assert_int_equal(cf_header_type_parse(cf_header_type_name((enum cf_type)t)), t);
    assert_string_equal(cf_header_type_name(CF_TYPE_IRD_RECORD), "ird_record");
    assert_int_equal(cf_header_type_parse("nonsense"), CF_TYPE_NONE);
    assert_null(cf_header_type_name((enum cf_type)99));
    assert_int_equal(cf_header_urgency_parse("urgent"), CF_URGENCY_URGENT);
    assert_int_equal(cf_header_urgency_parse("URGENT"), CF_URGENCY_NONE);
    assert_int_equal(cf_header_decision_parse("cg"), CF_DECISION_CG);
}

static void valid_header(struct cf_header *h)
{
    memset(h, 0, sizeof *h);
    h->version = CF_PROTOCOL_VERSION;
    cf_header_case_id_new(h->case_id);
    h->type = CF_TYPE_REFERRAL;
    strcpy(h->sender, "police-met");
    h->n_recipients = 1;
    strcpy(h->recipients[0], "la-csc");
    strcpy(h->jurisdiction, "england-wales");
    strcpy(h->la_code, "E09000033");
    h->urgency = CF_URGENCY_ROUTINE;
}

static void test_check(void **state)
{
    (void)state;
    struct cf_header h;
    struct cf_error err = {0};
    valid_header(&h);
    if (cf_header_check(&h, &err) != 0)
        fail_msg("a valid header was refused: %s", err.text);
    static const struct {
        const char *field;
        int code;
    } cases[] = {
        {"version", CF_EVERSION},         {"case_id", CF_EFIELD},     {"type", CF_ETYPE},
        {"sender", CF_EID},               {"recipients", CF_ETOOBIG}, {"recipients[0]", CF_EID},
        {"recipients[1]", CF_EFIELD},     {"la_code", CF_EFIELD},     {"urgency", CF_EFIELD},
        {"jurisdiction", CF_EFIELD},      {"members[0].standing", CF_EFIELD},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        valid_header(&h);
        const char *f = cases[i].field;
        if (!strcmp(f, "version"))
            h.version = 0;
        else if (!strcmp(f, "case_id"))
            h.case_id[5] = 'A';
        else if (!strcmp(f, "type"))
            h.type = CF_TYPE_COUNT;
        else if (!strcmp(f, "sender"))
            strcpy(h.sender, "x");
        else if (!strcmp(f, "recipients"))
            h.n_recipients = 0;
        else if (!strcmp(f, "recipients[0]"))
            strcpy(h.recipients[0], "LA");
        else if (!strcmp(f, "recipients[1]"))
            h.n_recipients = 2, strcpy(h.recipients[1], "la-csc");
        else if (!strcmp(f, "la_code"))
            strcpy(h.la_code, "X1");
        else if (!strcmp(f, "urgency"))
            h.urgency = CF_URGENCY_NONE;
        else if (!strcmp(f, "jurisdiction"))
            strcpy(h.jurisdiction, "England");
        else if (!strcmp(f, "members[0].standing"))
            h.n_members = 1, strcpy(h.members[0].agency, "la-csc");
        assert_int_equal(cf_header_check(&h, &err), cases[i].code);
        char want[64];
        snprintf(want, sizeof want, "header.%s", f);
        if (!strstr(err.text, want))
            fail_msg("%s: message '%s' does not name the field", f, err.text);
    }
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_syntaxes),
        cmocka_unit_test(test_case_id_new),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
