/* The broker's checks on a submitted envelope, in the order of DESIGN.md
 * section 4. Each failure gets a stable code and a sentence a person can act
 * on; none of them reads the payload, which the broker cannot decrypt. */
#ifndef CF_CHECKS_H
#define CF_CHECKS_H

#include <stdint.h>

#include <lmdb.h>

#include "broker.h"

/* Checks 1 to 5, which need no stored state: size, decoding and canonical
 * form, sender == the authenticated agency, signature, created_at. Fills env
 * and hdr (release env with cf_envelope_fini also on failure). */
CF_WUR int cf_checks_stateless(const struct broker *b, const char *actor, const uint8_t *buf,
                               size_t len, uint64_t now, struct cf_envelope *env,
                               struct cf_header *hdr, struct cf_error *err);

/* Checks 6 to 9 inside the batch's transaction, which sees earlier frames of
 * the same batch: a new (sender, message_id), the sender's role, the case
 * (its state, the sender's part, the conference rules, a vote's signature),
 * and the recipients and key list against the policy. Returns 0 to accept,
 * or CF_EDUPLICATE / ... with err filled (CF_EINQUORATE: the caller also
 * records the ruling). An exact repeat returns 0 with *repeat_of set to the
 * original leaf (otherwise UINT64_MAX). */
CF_WUR int cf_checks_stateful(const struct broker *b, MDB_txn *txn, const struct cf_envelope *env,
                              const struct cf_header *hdr, uint64_t now, uint64_t *repeat_of,
                              struct cf_error *err);

/* The dedup key of (sender, message_id); returns its length. */
size_t cf_checks_dedup_key(uint8_t key[CF_ID_MAX + 1 + CF_MESSAGE_ID_LEN],
                           const struct cf_header *hdr);

#endif
