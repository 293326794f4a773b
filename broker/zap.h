/* ZAP (ZeroMQ RFC 27): the broker's authentication handler. Only CURVE keys in
 * the current signed directory get in, and each gets its agency id as the
 * User-Id that every later frame is attributed by. */
#ifndef CF_ZAP_H
#define CF_ZAP_H

#include "broker.h"

#define CF_ZAP_DOMAIN "childfirst"

/* Binds the ZAP endpoint; must happen before the ROUTER binds, or the first
 * handshakes would go unchecked. */
CF_WUR int cf_zap_open(struct broker *b, struct cf_error *err);

/* Answers every ZAP request waiting on b->zap. */
void cf_zap_handle(struct broker *b);

#endif
