/* One place for the client socket's options: a transport limit far above
 * the application's (DESIGN.md section 12), no linger, heartbeats, and a
 * capped reconnect interval. */
#include <zmq.h>

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
