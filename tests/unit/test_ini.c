/* INI reader tests: line numbers on every callback and error, and refusal of
 * what inih would otherwise cut or glue silently. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "childfirst/ini.h"

struct seen {
    char log[2048];
    const char *fail_key; /* the handler refuses this key */
};

static int record(void *user, const char *section, const char *key, const char *value,
                  unsigned line, struct cf_error *err)
{
    struct seen *s = user;
    size_t n = strlen(s->log);
    snprintf(s->log + n, sizeof s->log - n, "%u:[%s]%s=%s;", line, section, key ? key : "-",
             value ? value : "-");
    if (key && s->fail_key && strcmp(key, s->fail_key) == 0)
        return cf_error_set(err, CF_EUNKNOWNKEY, "unknown key '%s'", key);
    return 0;
}

static int parse(const char *text, struct seen *s, struct cf_error *err)
{
    return cf_ini_parse("test.ini", text, strlen(text), record, s, err);
}

static void test_lines_and_sections(void **state)
{
    (void)state;
    struct seen s = {0};
    struct cf_error err = {0};
    const char *text = "; comment\n"
                       "\n"
                       "[one]\r\n"
                       "a = 1 ; inline comment\n"
                       "areas = E1 E2\n"
                       "areas = E3\n"
                       "# another comment\n"
                       "[two]\n"
                       "b=x y\n";
    assert_int_equal(parse(text, &s, &err), 0);
    assert_string_equal(s.log, "3:[one]-=-;4:[one]a=1;5:[one]areas=E1 E2;6:[one]areas=E3;"
                               "8:[two]-=-;9:[two]b=x y;");
}

static void test_byte_order_mark(void **state)
{
    (void)state;
    struct seen s = {0};
    assert_int_equal(parse("\xEF\xBB\xBF[s]\nk = v\n", &s, NULL), 0);
    assert_string_equal(s.log, "1:[s]-=-;2:[s]k=v;");
}

static void test_long_lines(void **state)
{
    (void)state;
    char text[600];
    struct seen s = {0};
    struct cf_error err = {0};
    /* 198 characters fit inih's 200-byte buffer with the newline and NUL. */
    memset(text, 0, sizeof text);
    strcpy(text, "[s]\nk = ");
    memset(text + strlen(text), 'x', 198 - 4);
    strcat(text, "\n");
    assert_int_equal(parse(text, &s, &err), 0);

    memset(text, 0, sizeof text);
    strcpy(text, "[s]\nok = 1\nk = ");
    memset(text + strlen(text), 'x', 199 - 4);
    strcat(text, "\nafter = 2\n");
    assert_int_equal(parse(text, &s, &err), CF_ELINE);
    assert_string_equal(err.text, "test.ini:3: line is 199 characters long; the limit is 198");

    memset(text, 0, sizeof text);
    strcpy(text, "[s]\n\n\n\n");
    memset(text + strlen(text), 'y', 250);
    assert_int_equal(parse(text, &s, &err), CF_ELINE);
    assert_string_equal(err.text, "test.ini:5: line is 250 characters long; the limit is 198");
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int code;
        const char *message;
    } cases[] = {
        {"[s]\nk = 1\n  j = 2\n", CF_ESYNTAX,
         "test.ini:3: indented line; start every key and [section] at the first column"},
        {"[s]\n\tk = 1\n", CF_ESYNTAX,
         "test.ini:2: indented line; start every key and [section] at the first column"},
        {"[s]\njust words\n", CF_ESYNTAX,
         "test.ini:2: not a [section], a key = value line or a comment"},
        {"[s\nk = 1\n", CF_ESYNTAX, "test.ini:1: not a [section], a key = value line or a comment"},
        {"[s]\nk = 1\nbad = 2\n", CF_EUNKNOWNKEY, "test.ini:3: unknown key 'bad'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct seen s = {.fail_key = "bad"};
        struct cf_error err = {0};
        assert_int_equal(parse(cases[i].text, &s, &err), cases[i].code);
        assert_string_equal(err.text, cases[i].message);
    }
    struct seen s = {0};
    struct cf_error err = {0};
    const char nul[] = "[s]\nk = a\0b\n";
    assert_int_equal(cf_ini_parse("test.ini", nul, sizeof nul - 1, record, &s, &err), CF_ESYNTAX);
    assert_string_equal(err.text, "test.ini:2: line holds a NUL byte");
    /* Indented comments are harmless. */
    assert_int_equal(parse("[s]\n   ; note\nk = 1\n", &s, &err), 0);
}

static void test_values(void **state)
{
    (void)state;
    struct cf_error err = {0};
    int b = -1;
    assert_int_equal(cf_ini_bool("x", "yes", &b, &err), 0);
    assert_int_equal(b, 1);
    assert_int_equal(cf_ini_bool("x", "off", &b, &err), 0);
    assert_int_equal(b, 0);
    assert_int_equal(cf_ini_bool("x", "maybe", &b, &err), CF_EVALUE);
    assert_string_equal(err.text, "x: 'maybe' is not yes or no");
    unsigned long long v;
    assert_int_equal(cf_ini_uint("n", "42", 100, &v, &err), 0);
    assert_int_equal(v, 42);
    assert_int_equal(cf_ini_uint("n", "101", 100, &v, &err), CF_EVALUE);
    assert_string_equal(err.text, "n: 101 is above the limit of 100");
    assert_int_equal(cf_ini_uint("n", "-1", 100, &v, &err), CF_EVALUE);
    assert_int_equal(cf_ini_uint("n", "", 100, &v, &err), CF_EVALUE);
    assert_int_equal(cf_ini_uint("n", "99999999999999999999", ~0ull, &v, &err), CF_EVALUE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_and_sections), cmocka_unit_test(test_byte_order_mark),
        cmocka_unit_test(test_long_lines),         cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
