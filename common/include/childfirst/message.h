/* Case messages: the JSON an agency system writes for every case type after the referral
 * (DESIGN.md sections 4, 5 and 9), its validation, and its split between the signed
 * cleartext header and the encrypted payload.
 *
 * A type's keys are either header-bound (ids, enums and staff references the broker needs to
 * check membership, chairing and quorum, so they travel in the signed cleartext header and
 * the broker sees them) or payload keys (everything a person wrote, encrypted). The README's
 * "Case message JSON" section lists them with every rule. As for the referral, each rule has
 * its own sentence starting with the field's path, and a message that goes from JSON to the
 * header and payload and back is the document that was sent. The case id is not in the
 * document: it comes from the command line.
 */
#ifndef CHILDFIRST_MESSAGE_H
#define CHILDFIRST_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "childfirst/error.h"
#include "childfirst/header.h"

/* True for the types this module reads and writes: acknowledgement, strategy_record,
 * ird_record, conference_convened, contribution, determination_proposed, vote,
 * reconsideration_request, transfer and closure. False for the referral (referral.h) and
 * for the determination, which only the broker makes. */
bool cf_message_type_valid(enum cf_type type);

/* Parses and validates a case message document and encodes its payload.
 *
 * The document must be one JSON object of at most CF_MAX_JSON bytes, loaded with
 * JSON_REJECT_DUPLICATES, without NUL, unknown keys or values of the wrong type.
 *
 * @param type  the message type, from the command line
 * @param text  the document, `len` bytes; need not be NUL-terminated
 * @param today "YYYY-MM-DD" (Europe/London) that a strategy_record's or ird_record's held_at
 *              may not be after
 * @param nation determination_proposed: the case's jurisdiction (an id such as
 *              "england-wales", at most CF_JURISDICTION_MAX bytes), which the NRM return
 *              reports. Ignored for other types, and may be NULL.
 * @param h     on success the header's type-specific fields are set from the document
 *              (decision, lead_staff_ref, members, chair_staff_ref, attendees, vote) and
 *              those the type does not use are cleared; vote.signature is zeroed for the
 *              caller to sign; a transfer also sets la_code (the receiving authority). Ids,
 *              type, routing and times are left alone. Untouched on failure.
 * @param payload on success the encoded Payload, `*payload_len` bytes: caller owns it; free
 *              with free(). NULL and 0 on failure.
 * @param nrm   determination_proposed: required; on success the encoded NRM return (a
 *              Payload holding nrm_return), `*nrm_len` bytes, to be sealed apart to the
 *              liaison: caller owns it; free with free(). Other types: may be NULL; if not,
 *              set to NULL and 0.
 * @param err   may be NULL; filled on failure
 * @return 0; CF_ETYPE for a type this module does not handle; CF_EINVAL for a bad `today` or
 *         `nation`, or no `nrm` for a proposal (the caller's mistakes); CF_ETOOBIG, CF_EJSON
 *         or CF_EFIELD with a sentence for the sender; CF_ENOMEM.
 * @note  A CF_EJSON sentence for a syntax error may quote the document near the fault (a
 *        repeated key or a NUL never does): show it to the sender, log only the code. */
CF_WUR int cf_message_from_json(enum cf_type type, const char *text, size_t len, const char *today,
                                const char *nation, struct cf_header *h, uint8_t **payload,
                                size_t *payload_len, uint8_t **nrm, size_t *nrm_len,
                                struct cf_error *err);

/* The document a case message was sent as, rebuilt from its signed header and decrypted
 * payload: the header-bound keys from `h`, the payload keys from `payload`. After
 * cf_message_from_json, it is equal (json_equal) to the document given. The result is checked
 * against the same rules as cf_message_from_json, except that no date is compared with
 * today, so a received message that breaks one fails with CF_EFIELD and the same sentence.
 *
 * @param h     the decoded header; h->type selects the rules
 * @param payload the decrypted Payload, `len` bytes, decoded bounded by wire.c
 * @param nrm   determination_proposed only, and optional (NULL, 0): the NRM return, which
 *              only the sender and the liaison can open. Given, its decision, outcome and
 *              exploitation must equal the proposal's, and its age_band, sex and nationality
 *              come back as the "nrm_return" key. Without it that key is absent.
 * @param out   on success caller owns *out; release with json_decref. NULL on failure.
 * @param err   may be NULL; filled on failure
 * @return 0; CF_ETYPE when h->type is not a case message or the payload holds another body
 *         (strategy_record and ird_record share one); CF_EMISMATCH when a proposal's payload
 *         decision differs from h->decision, or its NRM return disagrees with it; CF_EINVAL
 *         for an NRM return given with another type; CF_ETOOBIG, CF_EDECODE,
 *         CF_EUNKNOWNFIELD, CF_EFIELD, CF_ENOMEM. */
CF_WUR int cf_message_to_json(const struct cf_header *h, const uint8_t *payload, size_t len,
                              const uint8_t *nrm, size_t nrm_len, json_t **out,
                              struct cf_error *err);

/* The NRM return as the Home Office liaison reads it: decision, outcome, nation,
 * exploitation, age_band, sex and, if known, nationality, checked against the same rules.
 * On success caller owns *out; release with json_decref. Codes as cf_message_to_json. */
CF_WUR int cf_message_nrm_to_json(const uint8_t *nrm, size_t len, json_t **out,
                                  struct cf_error *err);

/* Any decrypted payload as the document its sender wrote: a referral's
 * (with the routing facts its header carries: la_code, urgency,
 * immediate_risk) or a case message's (cf_message_to_json, without the NRM
 * return). What the agent's inbox and the escrow auditor both show. Caller
 * owns *out. Codes as cf_message_to_json and cf_wire_referral_decode. */
CF_WUR int cf_message_document(const struct cf_header *h, const uint8_t *payload, size_t len,
                               json_t **out, struct cf_error *err);

#endif
