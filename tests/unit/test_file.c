/* Durable file writes (childfirst/file.h) on a real folder: one file, and many
 * at once with two syncs of the file system, where one bad path must not
 * cost the others. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>

#include "childfirst/file.h"

static int setup(void **state)
{
    char *dir = malloc(64);
    snprintf(dir, 64, "/tmp/cf-file-XXXXXX");
    assert_non_null(mkdtemp(dir));
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", (char *)*state);
    assert_int_equal(system(cmd), 0);
    free(*state);
    return 0;
}

static void assert_file(const char *path, const char *want, unsigned mode)
{
    uint8_t *got = NULL;
    size_t len = 0;
    struct cf_error err = {0};
    assert_int_equal(cf_file_read(path, 1 << 20, &got, &len, &err), 0);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(got, want, len);
    free(got);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, mode);
}

/* Names in `dir` that hold ".tmp.": what a write left behind. */
static size_t temps_left(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static void atomic_replaces(void **state)
{
    const char *dir = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/one.json", dir);
    struct cf_error err = {0};
    assert_int_equal(cf_file_write_atomic(path, "old", 3, 0640, &err), 0);
    assert_int_equal(cf_file_write_atomic(path, "newer", 5, 0600, &err), 0);
    assert_file(path, "newer", 0600);
    assert_int_equal(temps_left(dir), 0);
}

static void atomic_refuses_a_missing_folder(void **state)
{
    char path[128];
    snprintf(path, sizeof path, "%s/no/such/one.json", (char *)*state);
    struct cf_error err = {0};
    assert_int_equal(cf_file_write_atomic(path, "x", 1, 0640, &err), CF_EIO);
    assert_non_null(strstr(err.text, "cannot create"));
}

static void many_writes_each(void **state)
{
    const char *dir = *state;
    char paths[5][128], text[5][32];
    struct cf_file_out files[5];
    for (int i = 0; i < 5; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%d.json", dir, i);
        snprintf(text[i], sizeof text[i], "{\"n\": %d}", i * 1000);
        files[i] = (struct cf_file_out){.path = paths[i], .buf = text[i], .len = strlen(text[i])};
    }
    struct cf_error err = {0};
    assert_int_equal(cf_file_write_atomic(paths[2], "stale", 5, 0640, &err), 0);
    assert_int_equal(cf_file_write_many(files, 5, 0640), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(files[i].rc, 0);
        assert_file(paths[i], text[i], 0640); /* 2 replaced, the rest made */
    }
    assert_int_equal(temps_left(dir), 0);
}

static void many_fails_only_the_bad_one(void **state)
{
    const char *dir = *state;
    char good[2][128], bad[128], long_path[5000];
    snprintf(good[0], sizeof good[0], "%s/a.json", dir);
    snprintf(good[1], sizeof good[1], "%s/b.json", dir);
    snprintf(bad, sizeof bad, "%s/missing/c.json", dir);
    memset(long_path, 'x', sizeof long_path - 1);
    long_path[0] = '/';
    long_path[sizeof long_path - 1] = 0;
    struct cf_file_out files[4] = {
        {.path = good[0], .buf = "A", .len = 1},
        {.path = bad, .buf = "C", .len = 1},
        {.path = long_path, .buf = "L", .len = 1},
        {.path = good[1], .buf = "B", .len = 1},
    };
    assert_int_equal(cf_file_write_many(files, 4, 0640), 2);
    assert_int_equal(files[0].rc, 0);
    assert_int_equal(files[1].rc, CF_EIO);
    assert_non_null(strstr(files[1].err.text, "missing/c.json"));
    assert_int_equal(files[2].rc, CF_EINVAL);
    assert_non_null(strstr(files[2].err.text, "too long"));
    assert_int_equal(files[3].rc, 0);
    assert_file(good[0], "A", 0640);
    assert_file(good[1], "B", 0640);
    assert_int_equal(temps_left(dir), 0);
}

static void many_of_none(void **state)
{
    (void)state;
    assert_int_equal(cf_file_write_many(NULL, 0, 0640), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(atomic_replaces, setup, teardown),
        cmocka_unit_test_setup_teardown(atomic_refuses_a_missing_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(many_writes_each, setup, teardown),
        cmocka_unit_test_setup_teardown(many_fails_only_the_bad_one, setup, teardown),
        cmocka_unit_test(many_of_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
