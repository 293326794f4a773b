/* Control-socket framing (ctl.h): a big-endian length and a JSON object, read
 * and written with MSG_DONTWAIT so the same code serves the agent's
 * never-blocking loop and the command line's waits with a deadline. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

_Static_assert(sizeof(((struct sockaddr_un *)0)->sun_path) == CTL_PATH_MAX + 1,
               "CTL_PATH_MAX is sun_path less its NUL");

int ctl_path(const char *control, char *out, size_t cap, struct cf_error *err)
{
    static const char scheme[] = "ipc://";
    const char *path = control;
    if (strncmp(control, scheme, sizeof scheme - 1) == 0)
        path = control + sizeof scheme - 1;
    else if (strstr(control, "://"))
        return cf_error_set(err, CF_EVALUE,
                            "control: '%s' is not a Unix socket; use ipc:///PATH or a plain path",
                            control);
    size_t n = strlen(path);
    if (n == 0)
        return cf_error_set(err, CF_EVALUE, "control: no socket path given");
    if (n > CTL_PATH_MAX)
        return cf_error_set(err, CF_ETOOBIG,
                            "control: the socket path %s is %zu bytes; a Unix socket path may "
                            "have at most %d",
                            path, n, CTL_PATH_MAX);
    if (n >= cap)
        return cf_error_set(err, CF_ETOOBIG, "control: the socket path is %zu bytes; %zu fit", n,
                            cap ? cap - 1 : 0);
    memcpy(out, path, n + 1);
    return 0;
}

int ctl_connect(const char *path, int *fd, struct cf_error *err)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    if (n > CTL_PATH_MAX)
        return cf_error_set(err, CF_ETOOBIG, "control socket %s: longer than %d bytes", path,
                            CTL_PATH_MAX);
    memcpy(sun.sun_path, path, n + 1);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return cf_error_set(err, CF_EIO, "socket: %s", strerror(errno));
    /* A non-blocking connect to a Unix socket completes at once or fails with
     * EAGAIN when the agent's listen queue is full; it never half-connects. */
    if (connect(s, (struct sockaddr *)&sun, sizeof sun) != 0) {
        int e = errno;
        close(s);
        if (e == EACCES || e == EPERM)
            return cf_error_set(err, CF_EIO,
                                "control socket %s: permission denied; it is for the agent's "
                                "own user and root",
                                path);
        if (e == EAGAIN)
            return cf_error_set(
                err, CF_EIO, "control socket %s: the agent is busy; try again in a moment", path);
        return cf_error_set(err, CF_EIO, "is childfirst-agent running? control socket %s: %s", path,
                            strerror(e));
    }
    *fd = s;
    return 0;
}

int ctl_encode(const json_t *msg, size_t max, uint8_t **out, size_t *len, struct cf_error *err)
{
    if (!json_is_object(msg))
        return cf_error_set(err, CF_EINVAL, "a control frame must be a JSON object");
    if (max > CTL_MAX_FRAME)
        max = CTL_MAX_FRAME;
    char *text = json_dumps(msg, JSON_COMPACT);
    if (!text)
        return cf_error_set(err, CF_ENOMEM, "the frame cannot be encoded (out of memory?)");
    size_t n = strlen(text);
    int rc = 0;
    if (n > max) {
        rc = cf_error_set(err, CF_ETOOBIG, "the frame is %zu bytes; the limit is %zu", n, max);
        goto out;
    }
    uint8_t *buf = malloc(CTL_HEADER + n);
    if (!buf) {
        rc = cf_error_set(err, CF_ENOMEM, "out of memory for a %zu-byte frame", n);
        goto out;
    }
    buf[0] = (uint8_t)(n >> 24);
    buf[1] = (uint8_t)(n >> 16);
    buf[2] = (uint8_t)(n >> 8);
    buf[3] = (uint8_t)n;
    memcpy(buf + CTL_HEADER, text, n);
    *out = buf;
    *len = CTL_HEADER + n;
out:
    free(text);
    return rc;
}

int ctl_decode(const uint8_t *body, size_t len, json_t **msg, struct cf_error *err)
{
    json_error_t jerr;
    json_t *v = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v)
        return cf_error_set(err, CF_EJSON, "the frame is not valid JSON: %s (at byte %d)",
                            jerr.text, jerr.position);
    if (!json_is_object(v)) {
        json_decref(v);
        return cf_error_set(err, CF_EJSON, "the frame is JSON but not an object");
    }
    *msg = v;
    return 0;
}

void ctl_reader_init(struct ctl_reader *r, size_t max)
{
    memset(r, 0, sizeof *r);
    r->max = max > CTL_MAX_FRAME ? CTL_MAX_FRAME : max;
}

void ctl_reader_fini(struct ctl_reader *r)
{
    free(r->body);
    r->body = NULL;
}

/* The header is in: check the length before allocating anything for it. */
static int reader_start_body(struct ctl_reader *r, struct cf_error *err)
{
    r->len = (uint32_t)r->head[0] << 24 | (uint32_t)r->head[1] << 16 | (uint32_t)r->head[2] << 8 |
             (uint32_t)r->head[3];
    if (r->len > r->max)
        return cf_error_set(err, CF_ETOOBIG, "the frame announces %lu bytes; the limit is %zu",
                            (unsigned long)r->len, r->max);
    if (r->len == 0)
        return cf_error_set(err, CF_EJSON, "the frame is empty; it must hold a JSON object");
    r->body = malloc(r->len);
    if (!r->body)
        return cf_error_set(err, CF_ENOMEM, "out of memory for a %lu-byte frame",
                            (unsigned long)r->len);
    return 0;
}

int ctl_reader_read(struct ctl_reader *r, int fd, json_t **msg, struct cf_error *err)
{
    *msg = NULL;
    for (;;) {
        bool in_head = r->got < CTL_HEADER;
        uint8_t *dst = in_head ? r->head + r->got : r->body + (r->got - CTL_HEADER);
        size_t want = in_head ? CTL_HEADER - r->got : CTL_HEADER + (size_t)r->len - r->got;
        ssize_t n = recv(fd, dst, want, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n < 0)
            return cf_error_set(err, CF_EIO, "read from the control socket failed: %s",
                                strerror(errno));
        if (n == 0) {
            if (r->got == 0)
                return cf_error_set(err, CF_EIO, "the connection closed before a frame arrived");
            return cf_error_set(err, CF_EIO, "the connection closed after %zu of %zu bytes", r->got,
                                in_head ? (size_t)CTL_HEADER : CTL_HEADER + (size_t)r->len);
        }
        r->got += (size_t)n;
        if (in_head && r->got == CTL_HEADER) {
            int rc = reader_start_body(r, err);
            if (rc != 0)
                return rc;
        }
        if (r->got >= CTL_HEADER && r->got == CTL_HEADER + (size_t)r->len)
            return ctl_decode(r->body, r->len, msg, err);
    }
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Waits for `events` on fd until the deadline (0: none). */
static int wait_for(int fd, short events, uint64_t deadline, struct cf_error *err)
{
    for (;;) {
        int ms = -1;
        if (deadline) {
            uint64_t now = now_ms();
            if (now >= deadline)
                return cf_error_set(err, CF_ETIMEOUT, "the control socket timed out");
            ms = deadline - now > INT32_MAX ? INT32_MAX : (int)(deadline - now);
        }
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return cf_error_set(err, CF_EIO, "poll: %s", strerror(errno));
        if (n > 0)
            return 0; /* readable, writable or hung up: the next call says which */
    }
}

static uint64_t deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? 0 : now_ms() + (uint64_t)timeout_ms + (timeout_ms == 0);
}

int ctl_send(int fd, const json_t *msg, int timeout_ms, struct cf_error *err)
{
    uint8_t *buf = NULL;
    size_t len = 0, off = 0;
    uint64_t deadline = deadline_of(timeout_ms);
    int rc = ctl_encode(msg, CTL_MAX_FRAME, &buf, &len, err);
    while (rc == 0 && off < len) {
        ssize_t n = send(fd, buf + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0)
            off += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            rc = wait_for(fd, POLLOUT, deadline, err);
        else
            rc = cf_error_set(err, CF_EIO, "write to the control socket failed: %s",
                              n < 0 ? strerror(errno) : "nothing written");
    }
    free(buf);
    return rc;
}

int ctl_recv(int fd, json_t **msg, size_t max, int timeout_ms, struct cf_error *err)
{
    struct ctl_reader r;
    uint64_t deadline = deadline_of(timeout_ms);
    int rc;
    *msg = NULL;
    ctl_reader_init(&r, max);
    while ((rc = ctl_reader_read(&r, fd, msg, err)) == 0 && !*msg)
        if ((rc = wait_for(fd, POLLIN, deadline, err)) != 0)
            break;
    ctl_reader_fini(&r);
    return rc;
}
