/* Audit records: one per leaf of the log (DESIGN.md section 7). A record holds
 * what proves an event after the envelope itself is gone: the header, the
 * digests and the sender's signature; for a rejection, a hash and a code. */
#ifndef CHILDFIRST_RECORD_H
#define CHILDFIRST_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "childfirst/checkpoint.h"
#include "childfirst/envelope.h"
#include "childfirst/error.h"
#include "childfirst/header.h"
#include "childfirst/merkle.h"

/* Leaves one purged record names at most: retention works in small batches. */
#define CF_MAX_PURGED 64

enum cf_event {
    CF_EVENT_NONE = 0,
    CF_EVENT_ACCEPTED,
    CF_EVENT_REJECTED,
    CF_EVENT_DELIVERED,
    CF_EVENT_NACKED,
    CF_EVENT_NOTICE,
    CF_EVENT_DEADLINE,
    CF_EVENT_EXPIRED,
    CF_EVENT_CONFIG,
    CF_EVENT_PURGED,
    CF_EVENT_DETERMINATION,
    CF_EVENT_ORIGIN,
    CF_EVENT_COUNT
};

/* A decoded record. Byte fields marked "borrowed" point into memory the record
 * owns, valid until cf_wire_record_fini. */
struct cf_record {
    uint64_t index;
    uint64_t time; /* broker time, ms */
    enum cf_event event;
    cf_id actor;           /* "" when absent */
    const uint8_t *header; /* borrowed; accepted */
    size_t header_len;
    bool has_digests; /* accepted */
    uint8_t ciphertext_hash[32], keys_hash[32], commit[32], signature[64];
    bool has_frame_hash; /* rejected */
    uint8_t frame_hash[32];
    char code[48];  /* rejected, nacked */
    bool has_about; /* delivered, nacked */
    uint64_t about;
    uint8_t envelope_hash[32], ack_message_id[16], ack_signature[64];
    const uint8_t *notice; /* borrowed; notice */
    size_t notice_len;
    uint8_t notice_signature[64];
    const uint8_t *agencies, *policy, *sig; /* borrowed; config */
    size_t agencies_len, policy_len, sig_len;
    bool has_nrm; /* accepted determination_proposed: its NRM return's signed digests */
    uint8_t nrm_ciphertext_hash[32], nrm_keys_hash[32], nrm_commit[32];
    bool has_determination; /* determination: B(Determination bytes), the countersignature, */
    uint8_t determination_hash[32], determination_signature[64];
    uint64_t determination_of; /* and the proposal's leaf */
    size_t n_purged;           /* purged: the leaves whose envelopes retention removed */
    uint64_t purged[CF_MAX_PURGED];
    const char *previous_checkpoint; /* borrowed; origin: the old origin's last note */
    size_t previous_checkpoint_len;
    void *owner; /* the decoded message behind the borrowed fields */
};

/* "accepted", "rejected", ...; NULL when out of range. */
const char *cf_record_event_name(enum cf_event event);

/* The RFC 6962 leaf hash of a record's encoded bytes. */
void cf_record_leaf_hash(const uint8_t *bytes, size_t len, uint8_t out[32]);

/* Whether an accepted record describes exactly this envelope: same header
 * bytes, digests, commit and signature, which together fix every byte of a
 * canonical envelope. */
bool cf_record_matches(const struct cf_record *r, const struct cf_envelope *env);

/* An accepted record for `env`, its digests copied in; the header is
 * borrowed from env. */
void cf_record_of_envelope(struct cf_record *r, const struct cf_envelope *env);

/* The envelope digests an accepted record holds (what its sender signed). */
void cf_record_digests(const struct cf_record *r, struct cf_envelope_digests *d);

/* Checks a receipt: the note is a checkpoint signed by `broker_pk`, and
 * `record` is leaf `index` of its tree by the inclusion proof. Fills *cp.
 * CF_ESIG / CF_EDECODE for the note, CF_EPROOF / CF_ERANGE for the proof. */
CF_WUR int cf_record_prove(const uint8_t *record, size_t len, uint64_t index,
                           const uint8_t (*proof)[CF_MERKLE_HASH], size_t n, const char *note,
                           size_t note_len, const uint8_t broker_pk[32], struct cf_checkpoint *cp,
                           struct cf_error *err);

#endif
