/* The offline commands, `childfirst keygen` and `childfirst directory sign`,
 * run as the real binary the way an operator runs them (deploy/demo.sh does
 * the same): what they print is what gets pasted into agencies.ini and agent
 * configs, so the printed keys are checked against the key files, and the
 * signed directory against the printed authority key. Also: every binary's
 * --help fits one screen. */
#define _GNU_SOURCE /* nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "childfirst/directory.h"
#include "childfirst/keys.h"

extern char **environ;

#define CHILDFIRST CF_BIN_DIR "/childfirst"
#define SCREEN_LINES 24
#define SCREEN_COLUMNS 80

struct fixture {
    char base[PATH_MAX]; /* every file of the test lives under here */
};

struct result {
    int status; /* the exit code */
    char *out, *err;
};

/* ---- Files ---- */

static void path_in(char out[PATH_MAX], const char *dir, const char *name)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    assert_true(n > 0 && n < PATH_MAX);
}

static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("%s: %s", path, strerror(errno));
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    assert_true(n >= 0);
    rewind(fp);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = 0;
    fclose(fp);
    return buf;
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        fail_msg("%s: %s", path, strerror(errno));
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* ---- Running the real binaries ---- */

/* Runs `bin ARGS...` (NULL-terminated) with stdout and stderr in files. A
 * signal or a sanitizer report fails the test whatever the status. */
static struct result run(struct fixture *f, const char *bin, ...)
{
    char *argv[16] = {(char *)bin};
    int argc = 1;
    va_list ap;
    va_start(ap, bin);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 15;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;

    char out_path[PATH_MAX], err_path[PATH_MAX];
    path_in(out_path, f->base, "stdout");
    path_in(err_path, f->base, "stderr");
    posix_spawn_file_actions_t fa;
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    assert_int_equal(
        posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
    assert_int_equal(
        posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        fail_msg("spawn %s: %s", argv[0], strerror(rc));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            fail_msg("waitpid: %s", strerror(errno));

    struct result r = {.out = read_text(out_path), .err = read_text(err_path)};
    if (WIFSIGNALED(status))
        fail_msg("%s died of signal %d; stderr:\n%s", bin, WTERMSIG(status), r.err);
    if (strstr(r.err, "Sanitizer") || strstr(r.err, "runtime error:"))
        fail_msg("%s reported a sanitizer error:\n%s", bin, r.err);
    r.status = WEXITSTATUS(status);
    return r;
}

static void result_free(struct result *r)
{
    free(r->out);
    free(r->err);
}

/* The run exited with `status` and stderr holds `says` (if not NULL). */
static void expect_exit(struct result *r, int status, const char *says, const char *what)
{
    if (r->status != status || (says && !strstr(r->err, says)))
        fail_msg("%s: expected exit %d and '%s' on stderr; got %d\nstdout:\n%s\nstderr:\n%s", what,
                 status, says ? says : "", r->status, r->out, r->err);
}

/* `childfirst keygen WHO --out DIR/FILE`, which must succeed; caller owns the
 * printed text. */
static char *keygen(struct fixture *f, const char *who, const char *file, char path[PATH_MAX])
{
    path_in(path, f->base, file);
    struct result r = run(f, CHILDFIRST, "keygen", who, "--out", path, NULL);
    expect_exit(&r, 0, NULL, who);
    if (r.err[0])
        fail_msg("keygen %s wrote to stderr:\n%s", who, r.err);
    free(r.err);
    return r.out;
}

/* The value of the one "name = value" line in text; fails unless exactly one. */
static void value_of(const char *text, const char *name, char *out, size_t cap)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s = ", name);
    const char *at = NULL;
    for (const char *line = text; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : "") {
        if (strncmp(line, prefix, strlen(prefix)) == 0) {
            if (at)
                fail_msg("'%s' is printed twice:\n%s", name, text);
            at = line + strlen(prefix);
        }
    }
    if (!at)
        fail_msg("no '%s' line in:\n%s", name, text);
    size_t n = strcspn(at, "\n");
    assert_true(n < cap);
    memcpy(out, at, n);
    out[n] = 0;
}

/* The lines of text that are not comments, joined with ';', to compare the
 * shape of the output (names, order) at a glance. */
static void shape_of(const char *text, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = 0;
    for (const char *line = text; *line;) {
        size_t n = strcspn(line, "\n");
        if (line[0] != '#') {
            size_t name = strcspn(line, " ");
            if (name > n)
                name = n;
            assert_true(len + name + 2 < cap);
            memcpy(out + len, line, name);
            len += name;
            out[len++] = ';';
            out[len] = 0;
        }
        line += n + (line[n] == '\n');
    }
}

static void expect_mode_0600(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    if ((st.st_mode & 07777) != 0600)
        fail_msg("%s has mode %04o, not 0600", path, (unsigned)(st.st_mode & 07777));
}

/* ---- Setup ---- */

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->base, sizeof f->base, "%s/cf-cli-keys-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->base));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (nftw(f->base, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "cannot remove %s: %s\n", f->base, strerror(errno));
    free(f);
    return 0;
}

/* ---- keygen ---- */

/* Each kind prints its public part, and the key file holds the same keys,
 * with mode 0600 even when the umask would allow everyone everything. */
static void test_keygen_prints_what_the_file_holds(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX], shape[256], sign[64], box[64], curve[64], authority[64];
    uint8_t key[32];
    struct cf_keys *k = NULL;
    struct cf_error err = {0};
    mode_t old_umask = umask(0);

    /* An agency: its [ID] section for agencies.ini. */
    char *out = keygen(f, "police-test", "police-test.key", path);
    shape_of(out, shape, sizeof shape);
    assert_string_equal(shape, "[police-test];sign_key;box_key;curve_key;");
    expect_mode_0600(path);
    if (cf_keys_load(path, &k, &err) != 0)
        fail_msg("%s", err.text);
    assert_int_equal(k->kind, CF_KEYS_AGENCY);
    assert_string_equal(k->id, "police-test");
    value_of(out, "sign_key", sign, sizeof sign);
    value_of(out, "box_key", box, sizeof box);
    value_of(out, "curve_key", curve, sizeof curve);
    assert_int_equal(cf_keys_b64_decode(sign, key), 0);
    assert_memory_equal(key, k->sign_pk, 32);
    assert_int_equal(cf_keys_b64_decode(box, key), 0);
    assert_memory_equal(key, k->box_pk, 32);
    assert_int_equal(cf_keys_z85_decode(curve, key), 0);
    assert_memory_equal(key, k->curve_pk, 32);
    cf_keys_destroy(&k);
    free(out);

    /* The broker: sign_key and curve_key for agent configs, no box key. */
    out = keygen(f, "broker", "broker.key", path);
    shape_of(out, shape, sizeof shape);
    assert_string_equal(shape, "sign_key;curve_key;");
    expect_mode_0600(path);
    if (cf_keys_load(path, &k, &err) != 0)
        fail_msg("%s", err.text);
    assert_int_equal(k->kind, CF_KEYS_BROKER);
    value_of(out, "sign_key", sign, sizeof sign);
    value_of(out, "curve_key", curve, sizeof curve);
    assert_int_equal(cf_keys_b64_decode(sign, key), 0);
    assert_memory_equal(key, k->sign_pk, 32);
    assert_int_equal(cf_keys_z85_decode(curve, key), 0);
    assert_memory_equal(key, k->curve_pk, 32);
    cf_keys_destroy(&k);
    free(out);

    /* The authority: one line, authority_key = <base64>. */
    out = keygen(f, "authority", "authority.key", path);
    shape_of(out, shape, sizeof shape);
    assert_string_equal(shape, "authority_key;");
    expect_mode_0600(path);
    if (cf_keys_load(path, &k, &err) != 0)
        fail_msg("%s", err.text);
    assert_int_equal(k->kind, CF_KEYS_AUTHORITY);
    value_of(out, "authority_key", authority, sizeof authority);
    assert_int_equal(strlen(authority), CF_B64_KEY_LEN);
    assert_int_equal(cf_keys_b64_decode(authority, key), 0);
    assert_memory_equal(key, k->sign_pk, 32);
    cf_keys_destroy(&k);
    free(out);

    umask(old_umask);
}

/* A lost secret key cannot be recovered, so keygen never writes over one. */
static void test_keygen_never_overwrites(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX];
    free(keygen(f, "la-e09000033-csc", "csc.key", path));
    char *before = read_text(path);
    static const char *const who[] = {"la-e09000033-csc", "broker", "authority"};
    for (size_t i = 0; i < sizeof who / sizeof who[0]; i++) {
        struct result r = run(f, CHILDFIRST, "keygen", who[i], "--out", path, NULL);
        expect_exit(&r, 1, "never overwrites", who[i]);
        assert_string_equal(r.out, "");
        result_free(&r);
    }
    char *after = read_text(path);
    assert_string_equal(after, before);
    free(before);
    free(after);
}

static void test_keygen_bad_id(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX], long_id[66];
    memset(long_id, 'a', 65);
    long_id[65] = 0;
    path_in(path, f->base, "bad.key");
    const char *const bad[] = {"Police", "ab", long_id, "police_met", "police met", "", "-"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct result r = run(f, CHILDFIRST, "keygen", bad[i], "--out", path, NULL);
        expect_exit(&r, 1, "is not an agency id", bad[i]);
        assert_string_equal(r.out, "");
        assert_false(exists(path));
        result_free(&r);
    }
    /* No --out, or no id at all: a usage error. */
    struct result r = run(f, CHILDFIRST, "keygen", "police-test", NULL);
    expect_exit(&r, 2, "usage: childfirst keygen", "keygen without --out");
    result_free(&r);
    r = run(f, CHILDFIRST, "keygen", "--out", path, NULL);
    expect_exit(&r, 2, "usage: childfirst keygen", "keygen without an id");
    assert_false(exists(path));
    result_free(&r);
}

/* ---- directory sign ---- */

static void test_directory_sign(void **state)
{
    struct fixture *f = *state;
    char authority_path[PATH_MAX], police_path[PATH_MAX], csc_path[PATH_MAX];
    char broker_path[PATH_MAX], agencies[PATH_MAX], policy[PATH_MAX], sig[PATH_MAX];
    char authority64[64];
    uint8_t authority_pk[CF_SIGN_PK];

    char *out = keygen(f, "authority", "authority.key", authority_path);
    value_of(out, "authority_key", authority64, sizeof authority64);
    assert_int_equal(cf_keys_b64_decode(authority64, authority_pk), 0);
    free(out);
    free(keygen(f, "broker", "broker.key", broker_path));

    /* agencies.ini as an operator writes it: keygen's section, then the rest. */
    char *police = keygen(f, "police-test", "police-test.key", police_path);
    char *csc = keygen(f, "la-e09000033-csc", "csc.key", csc_path);
    char text[4096];
    snprintf(text, sizeof text,
             "; a directory made by test_cli_keys\n"
             "%s"
             "name = Test Police\n"
             "roles = first_responder police\n"
             "jurisdiction = england-wales\n"
             "areas = E09000033\n"
             "\n"
             "%s"
             "name = Westminster Children's Services\n"
             "roles = children_services\n"
             "jurisdiction = england-wales\n"
             "areas = E09000033\n",
             police, csc);
    path_in(agencies, f->base, "agencies.ini");
    path_in(policy, f->base, "policy.ini");
    path_in(sig, f->base, "agencies.ini.sig");
    write_text(agencies, text);
    char *deploy_policy = read_text(CF_SOURCE_DIR "/deploy/policy.ini");
    write_text(policy, deploy_policy);
    free(deploy_policy);

    struct result r = run(f, CHILDFIRST, "directory", "sign", "--key", authority_path, "--serial",
                          "1", agencies, policy, NULL);
    expect_exit(&r, 0, NULL, "directory sign --serial 1");
    assert_non_null(strstr(r.out, "serial 1"));
    result_free(&r);
    assert_true(exists(sig));

    /* The printed authority key verifies it, and the keys are keygen's. */
    struct cf_directory *d = NULL;
    struct cf_error err = {0};
    if (cf_directory_load(agencies, policy, authority_pk, 1, &d, &err) != 0)
        fail_msg("the signed directory does not load: %s", err.text);
    assert_int_equal(d->serial, 1);
    assert_int_equal(d->n_agencies, 2);
    const struct cf_agency *a = cf_directory_find(d, "police-test");
    assert_non_null(a);
    char b64[CF_B64_KEY_LEN + 1], printed[64];
    cf_keys_b64_encode(a->sign_pk, b64);
    value_of(police, "sign_key", printed, sizeof printed);
    assert_string_equal(b64, printed);
    cf_directory_destroy(&d);
    free(police);
    free(csc);

    /* Refusals leave the signature as it was. */
    char *signed_once = read_text(sig);
    r = run(f, CHILDFIRST, "directory", "sign", "--key", authority_path, "--serial", "0", agencies,
            policy, NULL);
    expect_exit(&r, 2, "--serial must be a number from 1", "--serial 0");
    result_free(&r);
    const char *const not_authority[] = {police_path, broker_path};
    for (size_t i = 0; i < 2; i++) {
        r = run(f, CHILDFIRST, "directory", "sign", "--key", not_authority[i], "--serial", "2",
                agencies, policy, NULL);
        expect_exit(&r, 1, "not an authority key", not_authority[i]);
        assert_string_equal(r.out, "");
        result_free(&r);
    }
    char *after = read_text(sig);
    assert_string_equal(after, signed_once);
    free(after);
    free(signed_once);
}

/* ---- --help ---- */

static void test_help_fits_one_screen(void **state)
{
    struct fixture *f = *state;
    static const char *const bins[] = {CHILDFIRST, CF_BIN_DIR "/childfirst-broker",
                                       CF_BIN_DIR "/childfirst-agent"};
    for (size_t i = 0; i < sizeof bins / sizeof bins[0]; i++) {
        struct result r = run(f, bins[i], "--help", NULL);
        expect_exit(&r, 0, NULL, bins[i]);
        if (strncmp(r.out, "usage: ", 7) != 0 || r.err[0])
            fail_msg("%s --help: no usage on stdout, or noise on stderr\nstdout:\n%s\nstderr:\n%s",
                     bins[i], r.out, r.err);
        size_t lines = 0;
        for (const char *line = r.out; *line; lines++) {
            size_t n = strcspn(line, "\n");
            if (n > SCREEN_COLUMNS)
                fail_msg("%s --help: line %zu is %zu columns wide", bins[i], lines + 1, n);
            line += n + (line[n] == '\n');
        }
        if (lines > SCREEN_LINES)
            fail_msg("%s --help: %zu lines, more than one screen (%d)", bins[i], lines,
                     SCREEN_LINES);
        result_free(&r);
    }
    /* The two commands tested here explain themselves too. */
    static const char *const families[] = {"keygen", "directory"};
    for (size_t i = 0; i < 2; i++) {
        struct result r = run(f, CHILDFIRST, families[i], "--help", NULL);
        expect_exit(&r, 0, NULL, families[i]);
        assert_non_null(strstr(r.out, "usage: childfirst "));
        result_free(&r);
    }
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keygen_prints_what_the_file_holds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keygen_never_overwrites, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keygen_bad_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_sign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_help_fits_one_screen, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
