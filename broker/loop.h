/* The broker's socket loop (see loop.c for the shape of a turn). */
#ifndef CF_LOOP_H
#define CF_LOOP_H

#include "broker.h"

/* Binds the ZAP handler, then the ROUTER, and serves until cf_broker_stop is
 * set by a signal. */
CF_WUR int cf_loop_run(struct broker *b, struct cf_error *err);

/* A Hello: the agency's deliveries now go to this connection, starting again
 * from the beginning of its mailbox; answers with a Welcome. */
void cf_loop_hello(struct broker *b, struct session *s, const uint8_t *routing,
                   size_t routing_len, const struct cf_frame *hello);

#endif
