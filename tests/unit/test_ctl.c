/* Control-socket framing tests: round trips over a socketpair, a frame read a
 * byte at a time, and refusal of what a caller could send wrong (a length over
 * the limit, a truncated frame, JSON that is not one object), each with the
 * exact error code; and the agent.ini `control` value turned into a path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl.h"

static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

static void raw_send(int fd, const void *buf, size_t len)
{
    assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void raw_header(int fd, uint32_t len)
{
    uint8_t h[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    raw_send(fd, h, sizeof h);
}

static void test_round_trip(void **state)
{
    (void)state;
    int sv[2];
    struct cf_error err = {0};
    pair(sv);
    json_t *req = json_pack("{s:s, s:s, s:i, s:[s, s]}", "cmd", "refer", "text",
                            "{\"la_code\": \"E09000033\"}\n\u00e9", "wait_s", 30, "list", "a", "b");
    json_t *got = NULL;
    assert_int_equal(ctl_send(sv[0], req, 1000, &err), 0);
    assert_int_equal(ctl_recv(sv[1], &got, CTL_MAX_FRAME, 1000, &err), 0);
    assert_true(json_equal(req, got));
    json_decref(got);

    /* And back the other way, as the agent answers. */
    json_t *ans =
        json_pack("{s:b, s:s, s:I}", "ok", 1, "status", "accepted", "leaf_index", (json_int_t)12);
    assert_int_equal(ctl_send(sv[1], ans, 1000, &err), 0);
    assert_int_equal(ctl_recv(sv[0], &got, CTL_MAX_FRAME, 1000, &err), 0);
    assert_true(json_equal(ans, got));
    json_decref(got);
    json_decref(ans);
    json_decref(req);
    close(sv[0]);
    close(sv[1]);
}

/* A frame near the limit crosses the socket in many pieces: a child writes it
 * while the parent reads, as the agent and the command line do. */
static void test_round_trip_large(void **state)
{
    (void)state;
    int sv[2];
    struct cf_error err = {0};
    size_t n = CTL_MAX_FRAME - 64;
    char *text = malloc(n + 1);
    assert_non_null(text);
    memset(text, 'x', n);
    text[n] = 0;
    json_t *msg = json_pack("{s:s}", "text", text);
    pair(sv);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(sv[1]);
        _exit(ctl_send(sv[0], msg, 10000, NULL) == 0 ? 0 : 1);
    }
    close(sv[0]);
    json_t *got = NULL;
    assert_int_equal(ctl_recv(sv[1], &got, CTL_MAX_FRAME, 10000, &err), 0);
    assert_true(json_equal(msg, got));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    json_decref(got);
    json_decref(msg);
    free(text);
    close(sv[1]);
}

/* The server's reader keeps a partial frame across calls and never reads past it. */
static void test_reader_byte_at_a_time(void **state)
{
    (void)state;
    int sv[2];
    struct cf_error err = {0};
    struct ctl_reader r;
    const char body[] = "{\"cmd\":\"status\"}";
    uint8_t frame[4 + sizeof body - 1] = {0, 0, 0, sizeof body - 1};
    memcpy(frame + 4, body, sizeof body - 1);
    pair(sv);
    ctl_reader_init(&r, CTL_MAX_FRAME);
    json_t *msg = NULL;
    for (size_t i = 0; i < sizeof frame; i++) {
        assert_int_equal(ctl_reader_read(&r, sv[1], &msg, &err), 0);
        assert_null(msg);
        raw_send(sv[0], frame + i, 1);
    }
    raw_send(sv[0], "trailing", 8); /* not the reader's to take */
    assert_int_equal(ctl_reader_read(&r, sv[1], &msg, &err), 0);
    assert_non_null(msg);
    assert_string_equal(json_string_value(json_object_get(msg, "cmd")), "status");
    char rest[16];
    assert_int_equal(recv(sv[1], rest, sizeof rest, MSG_DONTWAIT), 8);
    json_decref(msg);
    ctl_reader_fini(&r);
    ctl_reader_fini(&r); /* twice is safe */
    close(sv[0]);
    close(sv[1]);
}

/* A length over the limit is refused from the header alone: no body buffer. */
static void test_over_limit(void **state)
{
    (void)state;
    static const struct {
        uint32_t announced;
        size_t max;
    } cases[] = {
        {CTL_MAX_FRAME + 1, CTL_MAX_FRAME},
        {0xFFFFFFFFu, CTL_MAX_FRAME},
        {101, 100},
        {CTL_MAX_FRAME + 1, (size_t)CTL_MAX_FRAME * 4}, /* max is capped at the limit */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int sv[2];
        struct cf_error err = {0};
        struct ctl_reader r;
        json_t *msg = NULL;
        pair(sv);
        raw_header(sv[0], cases[i].announced);
        ctl_reader_init(&r, cases[i].max);
        assert_int_equal(ctl_reader_read(&r, sv[1], &msg, &err), CF_ETOOBIG);
        assert_null(msg);
        assert_null(r.body);
        assert_non_null(strstr(err.text, "limit"));
        ctl_reader_fini(&r);

        raw_header(sv[0], cases[i].announced);
        assert_int_equal(ctl_recv(sv[1], &msg, cases[i].max, 1000, &err), CF_ETOOBIG);
        assert_null(msg);
        close(sv[0]);
        close(sv[1]);
    }

    /* Nor is one sent: the encoder measures before framing. */
    int sv[2];
    struct cf_error err = {0};
    char *big = malloc(CTL_MAX_FRAME + 1);
    assert_non_null(big);
    memset(big, 'y', CTL_MAX_FRAME);
    big[CTL_MAX_FRAME] = 0;
    json_t *msg = json_pack("{s:s}", "text", big);
    uint8_t *out = NULL;
    size_t len = 0;
    assert_int_equal(ctl_encode(msg, CTL_MAX_FRAME, &out, &len, &err), CF_ETOOBIG);
    assert_null(out);
    pair(sv);
    assert_int_equal(ctl_send(sv[0], msg, 1000, &err), CF_ETOOBIG);
    json_decref(msg);
    free(big);
    close(sv[0]);
    close(sv[1]);
}

/* The peer closes part-way: in the header, in the body, or before anything. */
static void test_truncated(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
        const char *says;
    } cases[] = {
        {"", 0, "before a frame"},
        {"\0\0", 2, "after 2 of 4 bytes"},
        {"\0\0\0\x64{\"cmd\":", 11, "after 11 of 104 bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int sv[2];
        struct cf_error err = {0};
        json_t *msg = NULL;
        pair(sv);
        if (cases[i].len)
            raw_send(sv[0], cases[i].bytes, cases[i].len);
        close(sv[0]);
        assert_int_equal(ctl_recv(sv[1], &msg, CTL_MAX_FRAME, 1000, &err), CF_EIO);
        assert_null(msg);
        assert_non_null(strstr(err.text, cases[i].says));
        close(sv[1]);
    }
}

/* Well framed, but not one JSON object. */
static void test_not_an_object(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "[1,2]",                 /* an array */
        "42",                    /* a number */
        "\"cmd\"",               /* a string */
        "{\"cmd\":",             /* cut short */
        "{\"cmd\":1}{}",         /* two values */
        "{\"a\":1,\"a\":2}",     /* a duplicate key */
        "{\"a\":\"x\\u0000y\"}", /* a NUL */
        "{\"a\":\"\xff\"}",      /* not UTF-8 */
        "",                      /* nothing */
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        int sv[2];
        struct cf_error err = {0};
        json_t *msg = NULL;
        size_t n = strlen(bodies[i]);
        pair(sv);
        raw_header(sv[0], (uint32_t)n);
        if (n)
            raw_send(sv[0], bodies[i], n);
        int rc = ctl_recv(sv[1], &msg, CTL_MAX_FRAME, 1000, &err);
        if (rc != CF_EJSON)
            fail_msg("body %zu (%s): expected CF_EJSON, got %s", i, bodies[i], cf_error_name(rc));
        assert_null(msg);
        close(sv[0]);
        close(sv[1]);
    }
    uint8_t *out = NULL;
    size_t len = 0;
    json_t *array = json_array();
    assert_int_equal(ctl_encode(array, CTL_MAX_FRAME, &out, &len, NULL), CF_EINVAL);
    json_decref(array);
}

static void test_timeout_and_gone_peer(void **state)
{
    (void)state;
    int sv[2];
    struct cf_error err = {0};
    json_t *msg = NULL;
    pair(sv);
    assert_int_equal(ctl_recv(sv[1], &msg, CTL_MAX_FRAME, 50, &err), CF_ETIMEOUT);
    close(sv[1]);
    /* Writing to a closed peer is an error, not SIGPIPE. */
    json_t *m = json_pack("{s:s}", "cmd", "status");
    assert_int_equal(ctl_send(sv[0], m, 1000, &err), CF_EIO);
    json_decref(m);
    close(sv[0]);
}

static void test_path(void **state)
{
    (void)state;
    char p107[CTL_PATH_MAX + 1], p108[CTL_PATH_MAX + 2], ipc108[CTL_PATH_MAX + 8];
    memset(p107, 'a', sizeof p107 - 1);
    p107[0] = '/';
    p107[sizeof p107 - 1] = 0;
    memset(p108, 'a', sizeof p108 - 1);
    p108[0] = '/';
    p108[sizeof p108 - 1] = 0;
    snprintf(ipc108, sizeof ipc108, "ipc://%s", p108);
    const struct {
        const char *control;
        size_t cap;
        int rc;
        const char *path;
    } cases[] = {
        {"ipc:///run/childfirst/agent.sock", 108, 0, "/run/childfirst/agent.sock"},
        {"/run/childfirst/agent.sock", 108, 0, "/run/childfirst/agent.sock"},
        {"ipc://agent.sock", 108, 0, "agent.sock"},
        {p107, 108, 0, p107},
        {p108, 200, CF_ETOOBIG, NULL},
        {ipc108, 200, CF_ETOOBIG, NULL},
        {"/run/agent.sock", 8, CF_ETOOBIG, NULL},
        {"", 108, CF_EVALUE, NULL},
        {"ipc://", 108, CF_EVALUE, NULL},
        {"tcp://127.0.0.1:7000", 108, CF_EVALUE, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[200] = "untouched";
        struct cf_error err = {0};
        int rc = ctl_path(cases[i].control, out, cases[i].cap, &err);
        if (rc != cases[i].rc)
            fail_msg("case %zu: expected %s, got %s", i, cf_error_name(cases[i].rc),
                     cf_error_name(rc));
        if (cases[i].path)
            assert_string_equal(out, cases[i].path);
        else
            assert_true(err.text[0] != 0);
    }
}

static void test_connect(void **state)
{
    (void)state;
    char dir[] = "/tmp/cf-test-ctl-XXXXXX", path[64];
    struct cf_error err = {0};
    int fd = -1;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/agent.sock", dir);
    assert_int_equal(ctl_connect(path, &fd, &err), CF_EIO);
    assert_non_null(strstr(err.text, "is childfirst-agent running?"));

    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(l, (struct sockaddr *)&sun, sizeof sun), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(ctl_connect(path, &fd, &err), 0);
    assert_true(fd >= 0);
    close(fd);
    close(l);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_round_trip_large),
        cmocka_unit_test(test_reader_byte_at_a_time),
        cmocka_unit_test(test_over_limit),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_timeout_and_gone_peer),
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_connect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
