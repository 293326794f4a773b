/* Disk full (issue 8): the real broker runs out of room three ways, none of
 * which needs root, while police-a keeps submitting referrals:
 *
 * - test_map_full: a map that may not grow (map_size_mb = map_max_mb = 1);
 * - test_file_size_limit: `prlimit --pid <broker> --fsize=N` set just above
 *   the data file while the broker runs, then lifted again;
 * - test_free_space_watermark: min_free_mb set just under the file system's
 *   free space, then a real file written beside the store to go below it,
 *   then removed.
 *
 * In each, once storage runs out every submission gets Rejected with
 * CF_ENOSPACE and a sentence saying so, the broker stays up, and once space
 * comes back (the limit lifted, the file removed) the same broker process
 * accepts again. At the end every referral that was Accepted is in the log
 * at the leaf its receipt named, and `audit verify` passes. */
#define _GNU_SOURCE /* memmem */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "harness.h"

#define MAX_ACCEPTED 4096

/* Every referral the broker accepted in one test: where its receipt put it. */
struct accepted {
    size_t n;
    uint64_t leaf[MAX_ACCEPTED];
    uint8_t message_id[MAX_ACCEPTED][CF_MESSAGE_ID_LEN];
};

/* Submits one fresh referral from police-a. Returns true if Accepted (and
 * records it); on Rejected requires CF_ENOSPACE with a sentence. */
static bool submit(struct net *n, void *police, struct accepted *acc)
{
    struct cf_header h;
    struct cf_frame a;
    uint8_t *env;
    size_t len;
    net_referral(n, "police-a", &h, &env, &len);
    net_submit(police, env, len, &a);
    free(env);
    bool ok = a.kind == CF_FRAME_ACCEPTED;
    if (ok) {
        assert_true(acc->n < MAX_ACCEPTED);
        acc->leaf[acc->n] = a.leaf_index;
        memcpy(acc->message_id[acc->n], h.message_id, CF_MESSAGE_ID_LEN);
        acc->n++;
    } else {
        assert_int_equal(a.kind, CF_FRAME_REJECTED);
        assert_string_equal(a.code, "CF_ENOSPACE");
        assert_non_null(strstr(a.reason, "storage is full"));
        assert_non_null(strstr(a.reason, "again later"));
    }
    cf_wire_frame_fini(&a);
    return ok;
}

/* Submits until the first Rejected, which must come within `limit`. */
static void submit_until_full(struct net *n, void *police, struct accepted *acc, size_t limit)
{
    for (size_t i = 0; i < limit; i++)
        if (!submit(n, police, acc))
            return;
    fail_msg("%zu referrals accepted and storage never ran out", limit);
}

/* The broker is still up and answers Status. */
static void still_up(struct net *n, void *police)
{
    struct cf_status st;
    net_status(police, &st);
    assert_int_equal(kill(n->broker_pid, 0), 0);
}

/* While storage is out: more submissions are refused, the broker still
 * answers Status, and the tree has not grown. (Not for a full map: a later
 * batch smaller than the one that did not fit may still fit.) */
static void still_refused(struct net *n, void *police, struct accepted *acc)
{
    struct cf_status before, after;
    net_status(police, &before);
    for (int i = 0; i < 3; i++)
        assert_false(submit(n, police, acc));
    net_status(police, &after);
    assert_int_equal(after.tree_size, before.tree_size);
    still_up(n, police);
}

/* Once space is back, the same broker process accepts again. */
static void accepts_again(struct net *n, void *police, struct accepted *acc, pid_t pid)
{
    assert_true(submit(n, police, acc));
    assert_true(submit(n, police, acc));
    assert_int_equal(n->broker_pid, pid);
}

/* Stops the broker cleanly, then reads the log: every Accepted referral is
 * the record at its leaf, and the whole log verifies. */
static void nothing_lost(struct net *n, const struct accepted *acc)
{
    net_broker_stop(n);
    uint64_t size = net_log_size(n);
    for (size_t i = 0; i < acc->n; i++) {
        assert_true(acc->leaf[i] < size);
        uint8_t *rec;
        size_t len;
        net_log_record(n, acc->leaf[i], &rec, &len);
        if (!memmem(rec, len, acc->message_id[i], CF_MESSAGE_ID_LEN))
            fail_msg("leaf %llu does not hold the referral accepted there",
                     (unsigned long long)acc->leaf[i]);
        free(rec);
    }
    char out[4096], err[4096];
    if (net_audit_verify(n, n->state_dir, out, sizeof out, err, sizeof err) != 0)
        fail_msg("audit verify failed:\n%s%s", out, err);
    printf("# %zu accepted referrals in a %llu-leaf log, verified\n", acc->n,
           (unsigned long long)size);
}

static void *online(struct net *n, const char *id)
{
    void *s = net_connect(n, net_agency(n, id)->keys);
    struct cf_frame w;
    net_hello(s, 0, &w);
    cf_wire_frame_fini(&w);
    return s;
}

/* Replaces `key = ...` in broker.ini's [broker] section (the harness's
 * default or the test's) with `key = value`. */
static void set_broker_ini(struct net *n, const char *key, const char *value)
{
    FILE *f = fopen(n->broker_ini, "r");
    assert_non_null(f);
    char text[16384] = "", line[1024];
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!(strncmp(line, key, klen) == 0 && (line[klen] == ' ' || line[klen] == '=')))
            strncat(text, line, sizeof text - strlen(text) - 1);
    fclose(f);
    char *section = strstr(text, "[broker]\n");
    assert_non_null(section);
    section += strlen("[broker]\n");
    char rest[16384];
    snprintf(rest, sizeof rest, "%s", section);
    snprintf(section, sizeof text - (size_t)(section - text), "%s = %s\n%s", key, value, rest);
    f = fopen(n->broker_ini, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A map that may not grow fills up. Raising map_max_mb needs the broker to
 * start again; what it accepted before is all there. */
static void test_map_full(void **state)
{
    struct net *n = *state;
    struct accepted acc = {0};
    net_create(n, "map_size_mb = 1\nmap_max_mb = 1\n");
    net_broker_start(n);
    void *police = online(n, "police-a");
    submit_until_full(n, police, &acc, 3000);
    printf("# map full after %zu referrals\n", acc.n);
    assert_true(acc.n > 0);
    still_up(n, police);
    assert_true(net_file_contains(n->broker_log, "STORE-FULL"));
    nothing_lost(n, &acc);

    set_broker_ini(n, "map_max_mb", "64");
    net_broker_start(n);
    police = online(n, "police-a");
    accepts_again(n, police, &acc, n->broker_pid);
    nothing_lost(n, &acc);
}

static off_t data_size(const struct net *n)
{
    char path[700];
    struct stat st;
    snprintf(path, sizeof path, "%s/data.mdb", n->state_dir);
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static void prlimit_fsize(pid_t pid, const char *limit)
{
    char pidarg[32], fsize[64], out[1024];
    snprintf(pidarg, sizeof pidarg, "%d", (int)pid);
    /* The soft limit only ("N:"): lowering the hard one could not be undone
     * without CAP_SYS_RESOURCE. */
    snprintf(fsize, sizeof fsize, "--fsize=%s:", limit);
    const char *argv[] = {"prlimit", "--pid", pidarg, fsize, NULL};
    if (net_run(argv, out, sizeof out) != 0)
        fail_msg("prlimit failed: %s", out);
}

/* The kernel refuses to let the data file grow past RLIMIT_FSIZE: writes
 * fail with EFBIG, or are cut short at the limit, and SIGXFSZ is sent. The
 * limit is not a multiple of the page size, so that LMDB meets the short
 * write too (it reports it as EIO). */
static void test_file_size_limit(void **state)
{
    struct net *n = *state;
    struct accepted acc = {0};
    net_create(n, NULL);
    net_broker_start(n);
    pid_t pid = n->broker_pid;
    void *police = online(n, "police-a");
    for (int i = 0; i < 5; i++)
        assert_true(submit(n, police, &acc));

    char limit[32];
    snprintf(limit, sizeof limit, "%lld", (long long)data_size(n) + 96 * 1024 + 1000);
    prlimit_fsize(pid, limit);
    submit_until_full(n, police, &acc, 3000);
    printf("# file-size limit %s bytes reached after %zu referrals\n", limit, acc.n);
    still_refused(n, police, &acc);
    assert_true(net_file_contains(n->broker_log, "STORE-COMMIT-FAILED"));

    prlimit_fsize(pid, "unlimited");
    accepts_again(n, police, &acc, pid);
    nothing_lost(n, &acc);
}

static unsigned long long free_mb(const char *dir)
{
    struct statvfs st;
    assert_int_equal(statvfs(dir, &st), 0);
    return (unsigned long long)st.f_bavail * st.f_frsize >> 20;
}

/* Free space on the store's own file system goes under min_free_mb when a
 * real file takes it, and comes back when the file is removed. */
static void test_free_space_watermark(void **state)
{
    struct net *n = *state;
    enum { MARGIN_MB = 256, FILL_MB = 768 };
    struct accepted acc = {0};
    net_create(n, NULL);
    unsigned long long avail = free_mb(n->dir);
    if (avail < FILL_MB + 64)
        fail_msg("%llu MB free under %s: this test needs %d", avail, n->dir, FILL_MB + 64);
    char watermark[32];
    snprintf(watermark, sizeof watermark, "%llu", avail - MARGIN_MB);
    set_broker_ini(n, "min_free_mb", watermark);
    net_broker_start(n);
    pid_t pid = n->broker_pid;
    void *police = online(n, "police-a");
    for (int i = 0; i < 3; i++)
        assert_true(submit(n, police, &acc));

    char fill[600];
    snprintf(fill, sizeof fill, "%s/fill", n->dir);
    int fd = open(fill, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    int frc = posix_fallocate(fd, 0, (off_t)FILL_MB << 20);
    close(fd);
    if (frc != 0)
        fail_msg("posix_fallocate of %d MB: %s", FILL_MB, strerror(frc));
    printf("# %llu MB free, watermark %s MB, %d MB file written\n", avail, watermark, FILL_MB);
    assert_false(submit(n, police, &acc));
    still_refused(n, police, &acc);

    assert_int_equal(unlink(fill), 0);
    accepts_again(n, police, &acc, pid);
    nothing_lost(n, &acc);
}

/* Each test makes its own network; the teardown removes it, and whatever
 * still runs, even after a failed assertion. */
static int setup(void **state)
{
    *state = calloc(1, sizeof(struct net));
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    struct net *n = *state;
    char fill[600];
    snprintf(fill, sizeof fill, "%s/fill", n->dir);
    unlink(fill);
    if (n->dir[0])
        net_destroy(n);
    free(n);
    return 0;
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_size_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_space_watermark, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
