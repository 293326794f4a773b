/* Wire: the one module that touches protobuf-c types. Everything else sees the
 * structs in header.h, envelope.h and referral.h.
 *
 * Every decode is bounded twice: the input length is checked first, and
 * protobuf-c allocates through a counting allocator that fails past
 * CF_DECODE_ALLOC_FACTOR times the input. Unknown fields are refused at every
 * depth, and every text field is checked for length, NUL and UTF-8.
 */
#ifndef CHILDFIRST_WIRE_H
#define CHILDFIRST_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "childfirst/envelope.h"
#include "childfirst/error.h"
#include "childfirst/header.h"
#include "childfirst/referral.h"

/* Encodes a header canonically (what re-encoding a decoded header gives).
 * Caller owns *out; free with free(). */
CF_WUR int cf_wire_header_encode(const struct cf_header *h, uint8_t **out, size_t *len);

/* Decodes exactly `len` header bytes into *h: CF_ETOOBIG above CF_MAX_HEADER,
 * CF_EDECODE, CF_EUNKNOWNFIELD, CF_ECANON if the bytes are not what encoding the
 * result gives, then cf_header_check. */
CF_WUR int cf_wire_header_decode(const uint8_t *buf, size_t len, struct cf_header *h,
                                 struct cf_error *err);

/* Encodes an envelope whose fields are set. Caller owns *out; free with free(). */
CF_WUR int cf_wire_envelope_encode(const struct cf_envelope *env, uint8_t **out, size_t *len);

/* Decodes an Envelope, canonical and without unknown fields, into *env (copies;
 * release with cf_envelope_fini). Checks field sizes; not the header's content. */
CF_WUR int cf_wire_envelope_decode(const uint8_t *buf, size_t len, struct cf_envelope *env,
                                   struct cf_error *err);

/* The referral's payload part (child onwards; not the routing facts) as a
 * Payload message. Caller owns *out; free with free(). */
CF_WUR int cf_wire_referral_encode(const struct cf_referral *r, uint8_t **out, size_t *len);

/* Decodes a Payload holding a referral into the payload part of *r (routing
 * facts untouched). Caller owns the strings; free with cf_referral_fini. */
CF_WUR int cf_wire_referral_decode(const uint8_t *buf, size_t len, struct cf_referral *r,
                                   struct cf_error *err);

#endif
