/* One place for the client socket's options: a transport limit far above
 * the application's (DESIGN.md section 12), no linger, heartbeats, and a
 * capped reconnect interval. */
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "childfirst/clock.h"
#include "childfirst/limits.h"
#include "curve_client.h"

int cf_curve_client_new(void *zmq, const struct cf_keys *self,
                        const uint8_t broker_curve_pk[CF_CURVE_KEY], unsigned heartbeat_ms,
                        void **out, struct cf_error *err)
{
    void *s = zmq_socket(zmq, ZMQ_DEALER);
    if (!s)
        return cf_error_set(err, CF_ECONFIG, "cannot make a DEALER socket");
    int zero = 0, hb = (int)heartbeat_ms, hb_timeout = 3 * hb, ivl_max = 10000;
    int64_t maxmsg = CF_MAX_TRANSPORT;
    if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, broker_curve_pk, CF_CURVE_KEY) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, self->curve_pk, CF_CURVE_KEY) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, self->curve_sk, CF_CURVE_KEY) != 0 ||
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &hb, sizeof hb) != 0 ||
        zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout) != 0 ||
        zmq_setsockopt(s, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) != 0) {
        int rc = cf_error_set(err, CF_ECONFIG, "cannot set the DEALER's options: %s",
                              zmq_strerror(zmq_errno()));
        zmq_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int cf_curve_ask(void *sock, const struct cf_frame *q, enum cf_frame_kind want, unsigned timeout_ms,
                 const volatile sig_atomic_t *stop, struct cf_frame *r, uint8_t **bytes,
                 struct cf_error *err)
{
    uint8_t *buf;
    size_t len;
    *bytes = NULL;
    int rc = cf_wire_frame_encode(q, &buf, &len);
    if (rc != 0)
        return cf_error_set(err, rc, "cannot encode the request");
    rc = zmq_send(sock, buf, len, 0) < 0 ? CF_EIO : 0;
    free(buf);
    if (rc != 0)
        return cf_error_set(err, rc, "cannot send to the broker: %s", zmq_strerror(zmq_errno()));
    uint64_t until = cf_clock_monotonic_ms() + timeout_ms;
    while (!(stop && *stop)) {
        if (cf_clock_monotonic_ms() >= until)
            return cf_error_set(err, CF_ETIMEOUT, "the broker did not answer within %u s",
                                timeout_ms / 1000);
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        zmq_msg_t m;
        if (zmq_poll(&item, 1, 200) <= 0)
            continue;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            continue;
        }
        size_t n = zmq_msg_size(&m);
        uint8_t *copy = malloc(n ? n : 1);
        if (copy)
            memcpy(copy, zmq_msg_data(&m), n);
        zmq_msg_close(&m);
        if (!copy)
            return cf_error_set(err, CF_ENOMEM, "out of memory");
        rc = cf_wire_frame_decode(copy, n, r, err);
        if (rc == 0 && r->kind == CF_FRAME_REJECTED) {
            int code = cf_error_from_name(r->code);
            rc = cf_error_set(err, code ? code : CF_EIO, "the broker refused: %s: %s", r->code,
                              r->reason);
        } else if (rc == 0 && r->kind != want) {
            cf_wire_frame_fini(r);
            free(copy);
            continue; /* not the answer */
        }
        if (rc != 0) {
            cf_wire_frame_fini(r);
            free(copy);
            return rc;
        }
        *bytes = copy;
        return 0;
    }
    return CF_ETIMEOUT;
}
