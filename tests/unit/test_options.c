/* The daemons' option reader: defaults, limits, required keys, and every
 * refusal naming the file and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "childfirst/options.h"

struct conf {
    char name[16];
    char path[64];
    unsigned long long port;
};

static const struct cf_option table[] = {
    CF_OPTION_TEXT_FIELD(struct conf, name, "", true),
    CF_OPTION_TEXT_FIELD(struct conf, path, "/var/lib/x", false),
    CF_OPTION_NUMBER_FIELD(struct conf, port, "7750", 1024, 65535),
};

static int load(const char *text, struct conf *c, struct cf_error *err)
{
    char path[] = "/tmp/cf-options-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    memset(c, 0, sizeof *c);
    int rc = cf_options_load(path, "demo", table, 3, c, err);
    /* Messages name the file: swap the random path for a fixed one. */
    char *at = strstr(err->text, path);
    if (at) {
        char rest[sizeof err->text];
        snprintf(rest, sizeof rest, "%s", at + strlen(path));
        snprintf(at, sizeof err->text - (size_t)(at - err->text), "demo.ini%s", rest);
    }
    unlink(path);
    return rc;
}

static void test_defaults_and_values(void **state)
{
    (void)state;
    struct conf c;
    struct cf_error err = {0};
    assert_int_equal(load("[demo]\nname = alpha\n", &c, &err), 0);
    assert_string_equal(c.name, "alpha");
    assert_string_equal(c.path, "/var/lib/x");
    assert_int_equal(c.port, 7750);
    assert_int_equal(load("; comment\n[demo]\nname = b\nport = 2000\npath = /p\n", &c, &err), 0);
    assert_int_equal(c.port, 2000);
    assert_string_equal(c.path, "/p");
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int code;
        const char *message;
    } cases[] = {
        {"[demo]\nname = a\ncolour = red\n", CF_EUNKNOWNKEY,
         "demo.ini:3: unknown key 'colour' in [demo]"},
        {"[demo]\nname = a\nname = b\n", CF_EDUPKEY, "demo.ini:3: 'name' repeats line 2"},
        {"[other]\nname = a\n", CF_EUNKNOWNKEY,
         "demo.ini:1: unknown section [other]; this file has [demo]"},
        {"name = a\n", CF_EUNKNOWNKEY, "demo.ini:1: 'name' outside the [demo] section"},
        {"[demo]\nname = a\nport = 80\n", CF_EVALUE,
         "demo.ini:3: port: 80 is below the minimum of 1024"},
        {"[demo]\nname = a\nport = 70000\n", CF_EVALUE,
         "demo.ini:3: port: 70000 is above the limit of 65535"},
        {"[demo]\nname = a\nport = seven\n", CF_EVALUE,
         "demo.ini:3: port: 'seven' is not a whole number"},
        {"[demo]\nname = abcdefghijklmnopq\n", CF_EVALUE,
         "demo.ini:2: name: longer than 15 characters"},
        {"[demo]\nport = 2000\n", CF_ECONFIG, "demo.ini: 'name' is required in [demo]"},
        {"[demo]\n[demo]\nname = a\n", CF_EDUPKEY, "demo.ini:2: [demo] repeats line 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct conf c;
        struct cf_error err = {0};
        int rc = load(cases[i].text, &c, &err);
        if (rc != cases[i].code || strcmp(err.text, cases[i].message) != 0)
            fail_msg("case %zu: got %s '%s'", i, cf_error_name(rc), err.text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_values),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
