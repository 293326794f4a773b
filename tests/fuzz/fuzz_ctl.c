/* Fuzz target: the agent's control-socket framing (agents/ctl.c), as the agent
 * reads it: the input is what a local caller writes on the socket, fed through
 * a socketpair to the never-blocking reader in pieces whose sizes the input's
 * first byte sets. Properties: a frame is complete only when its announced
 * length has arrived, and the reader never takes a byte past it; a refusal is
 * CF_EIO, CF_ETOOBIG or CF_EJSON with a sentence; what it accepts is a JSON
 * object that encodes and decodes back to an equal one. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl.h"

#define MAX_INPUT (64u * 1024u) /* within one socketpair's buffer */

static void check_frame(const uint8_t *stream, size_t len, size_t sent, json_t *msg, int fd)
{
    if (!json_is_object(msg) || len < CTL_HEADER)
        abort();
    size_t body =
        (size_t)stream[0] << 24 | (size_t)stream[1] << 16 | (size_t)stream[2] << 8 | stream[3];
    if (body == 0 || body > CTL_MAX_FRAME || CTL_HEADER + body > len)
        abort();
    /* Nothing after the frame was read: what was written after it is still
     * on the socket. */
    if (CTL_HEADER + body > sent)
        abort();
    size_t rest = sent - CTL_HEADER - body, left = 0;
    uint8_t buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0)
            break;
        if (left + (size_t)n <= rest &&
            memcmp(buf, stream + CTL_HEADER + body + left, (size_t)n) != 0)
            abort();
        left += (size_t)n;
    }
    if (left != rest)
        abort();
    /* The same object comes back through the encoder and the decoder. */
    uint8_t *again;
    size_t again_len;
    json_t *back;
    struct cf_error err = {0};
    if (ctl_encode(msg, CTL_MAX_FRAME, &again, &again_len, &err) != 0 ||
        ctl_decode(again + CTL_HEADER, again_len - CTL_HEADER, &back, &err) != 0 ||
        !json_equal(msg, back))
        abort();
    json_decref(back);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_INPUT)
        return 0;
    size_t piece = data[0] ? data[0] : 1; /* bytes written between two reads */
    const uint8_t *stream = data + 1;
    size_t len = size - 1;

    /* The decoder alone, on the whole input as a body. */
    json_t *msg = NULL;
    struct cf_error err = {0};
    if (ctl_decode(stream, len, &msg, &err) == 0) {
        if (!json_is_object(msg))
            abort();
        json_decref(msg);
    } else if (err.code != CF_EJSON || !err.text[0]) {
        abort();
    }

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        abort();
    struct ctl_reader r;
    ctl_reader_init(&r, CTL_MAX_FRAME);
    size_t sent = 0;
    bool shut = false;
    int rc;
    msg = NULL;
    memset(&err, 0, sizeof err);
    for (;;) {
        size_t n = len - sent < piece ? len - sent : piece;
        if (n > 0 && send(sv[1], stream + sent, n, MSG_NOSIGNAL) != (ssize_t)n)
            abort();
        sent += n;
        if (sent == len && !shut) {
            shutdown(sv[1], SHUT_WR); /* the caller has said all it will */
            shut = true;
        }
        rc = ctl_reader_read(&r, sv[0], &msg, &err);
        if (rc != 0 || msg)
            break;
        if (shut) /* everything and the end of file are there: it must have decided */
            abort();
    }
    if (rc == 0 && msg)
        check_frame(stream, len, sent, msg, sv[0]);
    else if ((rc != CF_EIO && rc != CF_ETOOBIG && rc != CF_EJSON) || !err.text[0])
        abort();
    json_decref(msg);
    ctl_reader_fini(&r);
    close(sv[0]);
    close(sv[1]);
    return 0;
}
