/* A DEALER for the broker over CURVE, as this agency, pinning the broker's
 * key: what the agent and the auditor's follower both open. */
#ifndef CF_CURVE_CLIENT_H
#define CF_CURVE_CLIENT_H

#include "childfirst/error.h"
#include "childfirst/keys.h"

/* Makes the socket on `zmq`, not yet connected (so a caller can attach a
 * socket monitor first). Heartbeats every `heartbeat_ms`; a peer is dead
 * after three missed. Caller owns *out; close with zmq_close. */
CF_WUR int cf_curve_client_new(void *zmq, const struct cf_keys *self,
                               const uint8_t broker_curve_pk[CF_CURVE_KEY], unsigned heartbeat_ms,
                               void **out, struct cf_error *err);

#endif
