/* Receipts that prove themselves (DESIGN.md section 7: "the receipt is
 * evidence on its own"). An agent's receipt JSON carries the leaf's exact
 * AuditRecord bytes, the broker's signed checkpoint and the inclusion proof;
 * optionally a "later" part (a later checkpoint, the leaf's inclusion proof in
 * it and a consistency proof from the receipt's checkpoint to it), so a
 * holder can show the record is still in the log as it grew. Anyone with the
 * broker's public key checks it, offline (`childfirst audit prove`):
 *
 *   {"message_id": "<32 hex>", "case_id": "cf-...", "leaf_index": N,
 *    "checkpoint": "<signed note>", "status": "accepted",
 *    "record": "<base64 AuditRecord bytes>", "inclusion_proof": ["<hex>", ...],
 *    "later": {"checkpoint": "<note>", "inclusion_proof": [...],
 *              "consistency_proof": [...]}}
 */
#ifndef CHILDFIRST_RECEIPT_H
#define CHILDFIRST_RECEIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "childfirst/checkpoint.h"
#include "childfirst/error.h"
#include "childfirst/header.h"
#include "childfirst/merkle.h"
#include "childfirst/record.h"

/* More proof elements than this are refused unread (CF_ETOOBIG); the
 * verifiers refuse more than 2 * CF_MERKLE_MAX_PROOF anyway. */
#define CF_RECEIPT_MAX_PROOF 1024

/* A proof as the JSON gave it: elements of unchecked length (the verifiers
 * check them). */
struct cf_receipt_proof {
    size_t n;
    struct cf_merkle_bytes *items; /* owned, with their data */
};

/* A parsed receipt. Everything is owned; release with cf_receipt_fini. */
struct cf_receipt {
    uint8_t message_id[CF_MESSAGE_ID_LEN];
    char case_id[CF_CASE_ID_LEN + 1];
    uint64_t leaf_index;
    char *checkpoint;
    size_t checkpoint_len;
    char status[32];
    uint8_t *record;
    size_t record_len;
    struct cf_receipt_proof inclusion;
    bool has_later;
    char *later_checkpoint;
    size_t later_checkpoint_len;
    struct cf_receipt_proof later_inclusion, later_consistency;
};

/* What a receipt proves once verified. */
struct cf_receipt_result {
    struct cf_checkpoint cp; /* the receipt's checkpoint, signed by the broker */
    bool has_later;
    struct cf_checkpoint later; /* the later one, which extends cp */
    uint64_t time;              /* the record's broker time, ms */
    enum cf_event event;
    cf_id actor;
    bool has_header; /* an accepted record: its header */
    struct cf_header header;
};

/* Parses a receipt document of at most CF_MAX_JSON bytes (duplicate keys
 * refused; unknown keys ignored, so receipts may grow). CF_EJSON or
 * CF_EFIELD with err naming the field, CF_ETOOBIG, CF_ENOMEM. *r is set up
 * even on failure, for cf_receipt_fini. */
CF_WUR int cf_receipt_parse(const char *text, size_t len, struct cf_receipt *r,
                            struct cf_error *err);

void cf_receipt_fini(struct cf_receipt *r);

/* Checks, in order: the checkpoint is a note signed by `broker_pk`
 * (CF_ESIG, CF_EDECODE); the record is leaf `leaf_index` of its tree by the
 * inclusion proof, consumed whole (CF_ERANGE for an index at or after the
 * size, CF_EFIELD for an element that is not 32 bytes, CF_EPROOF); the record
 * decodes and says that index, and an accepted one's header names the
 * receipt's message and case (CF_EDECODE, CF_EMISMATCH). With "later": its
 * note is signed by the same key and origin and is no smaller (CF_ESIG,
 * CF_EMISMATCH, CF_ERANGE); the record is in its tree; and the consistency
 * proof takes the receipt's tree to it (CF_EPROOF). Fills *out on success. */
CF_WUR int cf_receipt_verify(const struct cf_receipt *r, const uint8_t broker_pk[CF_SIGN_PK],
                             struct cf_receipt_result *out, struct cf_error *err);

#endif
