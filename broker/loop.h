/* The broker's socket loop (see loop.c for the shape of a turn). */
#ifndef CF_LOOP_H
#define CF_LOOP_H

#include "broker.h"

/* Binds the ZAP handler, then the ROUTER, and serves until cf_broker_stop is
 * set by a signal. */
CF_WUR int cf_loop_run(struct broker *b, struct cf_error *err);

#endif
