/* The ZAP handler. libzmq 4.3.4 accepts any CURVE key when no handler answers,
 * so the broker binds this first and the ROUTER enforces the domain; a key
 * that is not in the directory is refused during the handshake itself. */
#include <string.h>

#include <zmq.h>

#include "childfirst/log.h"
#include "zap.h"

int cf_zap_open(struct broker *b, struct cf_error *err)
{
    b->zap = zmq_socket(b->zmq, ZMQ_REP);
    if (!b->zap || zmq_bind(b->zap, "inproc://zeromq.zap.01") != 0)
        return cf_error_set(err, CF_ECONFIG, "cannot bind the ZAP handler: %s",
                            zmq_strerror(zmq_errno()));
    int linger = 0;
    zmq_setsockopt(b->zap, ZMQ_LINGER, &linger, sizeof linger);
    return 0;
}

/* Reads one multipart request into parts (copies of at most 255 bytes each). */
struct part {
    char data[256];
    size_t len;
};

static int read_request(void *sock, struct part *parts, int max, int *n)
{
    *n = 0;
    int more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return -1;
        }
        if (*n < max) {
            size_t len = zmq_msg_size(&m);
            parts[*n].len = len < sizeof parts[*n].data ? len : sizeof parts[*n].data;
            memcpy(parts[*n].data, zmq_msg_data(&m), parts[*n].len);
            (*n)++;
        }
        more = zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
    return 0;
}

static void reply(void *sock, const struct part *request_id, const char *status,
                  const char *text, const char *user)
{
    zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(sock, request_id->data, request_id->len, ZMQ_SNDMORE);
    zmq_send(sock, status, strlen(status), ZMQ_SNDMORE);
    zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(sock, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(sock, "", 0, 0);
}

static bool part_is(const struct part *p, const char *s)
{
    return p->len == strlen(s) && memcmp(p->data, s, p->len) == 0;
}

void cf_zap_handle(struct broker *b)
{
    struct part parts[8];
    int n;
    while (read_request(b->zap, parts, 8, &n) == 0) {
        /* version, request id, domain, address, routing id, mechanism, key */
        if (n < 6) {
            cf_log_warn("ZAP-MALFORMED", "parts=%d", n);
            struct part none = {{0}, 0};
            reply(b->zap, n > 1 ? &parts[1] : &none, "500", "malformed request", "");
            continue;
        }
        char address[64];
        size_t alen = parts[3].len < sizeof address - 1 ? parts[3].len : sizeof address - 1;
        memcpy(address, parts[3].data, alen);
        address[alen] = 0;
        if (!part_is(&parts[0], "1.0") || !part_is(&parts[2], CF_ZAP_DOMAIN) ||
            !part_is(&parts[5], "CURVE") || n != 7 || parts[6].len != CF_CURVE_KEY) {
            cf_log_warn("ZAP-DENIED", "address=%s reason=not-curve-in-domain", address);
            reply(b->zap, &parts[1], "400", "CURVE in the childfirst domain only", "");
            continue;
        }
        const struct cf_agency *a =
            cf_directory_find_curve(b->dir, (const uint8_t *)parts[6].data);
        if (!a) {
            char z85[CF_Z85_KEY_LEN + 1];
            cf_keys_z85_encode((const uint8_t *)parts[6].data, z85);
            cf_log_warn("ZAP-DENIED", "address=%s curve_key=%s reason=not-in-directory", address,
                        z85);
            reply(b->zap, &parts[1], "400", "key not in the signed directory", "");
            continue;
        }
        cf_log_debug("ZAP-ALLOWED", "address=%s agency=%s", address, a->id);
        reply(b->zap, &parts[1], "200", "OK", a->id);
    }
}
