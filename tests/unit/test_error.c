/* Error table tests: every code in error.h's X-macro table is distinct, negative
 * (CF_OK apart), named and described, and names and codes map back and forth.
 * Codes appear in logs, audit records and Rejected frames, so a repeated value
 * or a name that does not come back to its code would corrupt evidence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "childfirst/error.h"

/* The table read straight from the X-macro, independently of error.c. */
static const struct {
    int code;
    const char *name, *text;
} table[] = {
#define ROW(name, value, text) {value, #name, text},
    CF_ERRORS(ROW)
#undef ROW
};
#define N_CODES (sizeof table / sizeof table[0])

static void test_codes_unique_and_negative(void **state)
{
    (void)state;
    assert_true(N_CODES > 1);
    assert_int_equal(table[0].code, CF_OK);
    assert_string_equal(table[0].name, "CF_OK");
    for (size_t i = 0; i < N_CODES; i++) {
        if (i > 0 && table[i].code >= 0)
            fail_msg("%s = %d: every failure code must be negative", table[i].name, table[i].code);
        if (strncmp(table[i].name, "CF_", 3) != 0)
            fail_msg("%s: not a CF_ name", table[i].name);
        if (table[i].text[0] == 0)
            fail_msg("%s: has no sentence", table[i].name);
        for (size_t j = 0; j < i; j++) {
            if (table[i].code == table[j].code)
                fail_msg("%s and %s share the value %d", table[j].name, table[i].name,
                         table[i].code);
            if (strcmp(table[i].name, table[j].name) == 0)
                fail_msg("%s appears twice", table[i].name);
        }
    }
}

static void test_names_and_texts_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CODES; i++) {
        int code = table[i].code;
        if (strcmp(cf_error_name(code), table[i].name) != 0)
            fail_msg("cf_error_name(%d) is %s, not %s", code, cf_error_name(code), table[i].name);
        if (strcmp(cf_strerror(code), table[i].text) != 0)
            fail_msg("cf_strerror(%s) is \"%s\", not \"%s\"", table[i].name, cf_strerror(code),
                     table[i].text);
        if (cf_error_from_name(table[i].name) != code)
            fail_msg("cf_error_from_name(\"%s\") is %d, not %d", table[i].name,
                     cf_error_from_name(table[i].name), code);
        if (cf_error_from_name(cf_error_name(code)) != code)
            fail_msg("%s does not round-trip through its name", table[i].name);
    }
}

static bool is_code(int code)
{
    for (size_t i = 0; i < N_CODES; i++)
        if (table[i].code == code)
            return true;
    return false;
}

static void test_unknown_code(void **state)
{
    (void)state;
    /* Just past each end of the table, and far away. */
    int lowest = 0;
    for (size_t i = 0; i < N_CODES; i++)
        if (table[i].code < lowest)
            lowest = table[i].code;
    const int unknown[] = {lowest - 1, 1, -1000, 12345, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_false(is_code(unknown[i]));
        assert_string_equal(cf_strerror(unknown[i]), "unknown error");
        assert_string_equal(cf_error_name(unknown[i]), "CF_EUNKNOWN");
    }
}

static void test_unknown_name(void **state)
{
    (void)state;
    /* Not found is 0, which no failure shares: CF_EINVAL stays CF_EINVAL's. */
    static const char *const unknown[] = {"",         "CF_E",     "CF_EUNKNOWN", "cf_esig",
                                          "CF_ESIG ", " CF_ESIG", "ESIG",        "ok"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        if (cf_error_from_name(unknown[i]) != 0)
            fail_msg("cf_error_from_name(\"%s\") is %d, not 0", unknown[i],
                     cf_error_from_name(unknown[i]));
    assert_int_equal(cf_error_from_name("CF_EINVAL"), CF_EINVAL);
    assert_int_equal(cf_error_from_name("CF_OK"), 0); /* a name, but no failure */
}

static void test_error_set_and_prefix(void **state)
{
    (void)state;
    struct cf_error err = {0};
    assert_int_equal(cf_error_set(&err, CF_EFIELD, "child.sex: %s", "unknown"), CF_EFIELD);
    assert_int_equal(err.code, CF_EFIELD);
    assert_string_equal(err.text, "child.sex: unknown");
    cf_error_prefix(&err, "referral.json");
    assert_string_equal(err.text, "referral.json: child.sex: unknown");
    assert_int_equal(cf_error_set(NULL, CF_EIO, "no error to fill"), CF_EIO);
    cf_error_prefix(NULL, "ignored");

    /* A text too long for the buffer is cut, always terminated. */
    char long_prefix[2 * sizeof err.text];
    memset(long_prefix, 'p', sizeof long_prefix - 1);
    long_prefix[sizeof long_prefix - 1] = 0;
    cf_error_prefix(&err, long_prefix);
    assert_true(strlen(err.text) < sizeof err.text);
    assert_non_null(strstr(err.text, ": child.sex"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_unique_and_negative),
        cmocka_unit_test(test_names_and_texts_round_trip),
        cmocka_unit_test(test_unknown_code),
        cmocka_unit_test(test_unknown_name),
        cmocka_unit_test(test_error_set_and_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
