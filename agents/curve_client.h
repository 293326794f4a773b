/* A DEALER for the broker over CURVE, as this agency, pinning the broker's
 * key: what the agent and the auditor's follower both open. */
#ifndef CF_CURVE_CLIENT_H
#define CF_CURVE_CLIENT_H

#include <signal.h>
#include <stdint.h>

#include "childfirst/error.h"
#include "childfirst/keys.h"
#include "childfirst/wire.h"

/* Makes the socket on `zmq`, not yet connected (so a caller can attach a
 * socket monitor first). Heartbeats every `heartbeat_ms`; a peer is dead
 * after three missed. Caller owns *out; close with zmq_close. */
CF_WUR int cf_curve_client_new(void *zmq, const struct cf_keys *self,
                               const uint8_t broker_curve_pk[CF_CURVE_KEY], unsigned heartbeat_ms,
                               void **out, struct cf_error *err);

/* Sends `q` and waits up to `timeout_ms` for the broker's frame of kind
 * `want`, skipping any other; ends early once *stop (may be NULL) is set
 * (CF_ETIMEOUT). A Rejected answer returns its code, with the broker's
 * reason in err. On success *r borrows from *bytes: the caller frees *bytes
 * after cf_wire_frame_fini(r). */
CF_WUR int cf_curve_ask(void *sock, const struct cf_frame *q, enum cf_frame_kind want,
                        unsigned timeout_ms, const volatile sig_atomic_t *stop, struct cf_frame *r,
                        uint8_t **bytes, struct cf_error *err);

#endif
