/* Wire: the one module that touches protobuf-c types. Everything else sees the
 * structs in header.h, envelope.h and referral.h, or JSON objects (case message payloads).
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

#include "childfirst/case.h"
#include "childfirst/determination.h"
#include "childfirst/envelope.h"
#include "childfirst/error.h"
#include "childfirst/header.h"
#include "childfirst/merkle.h"
#include "childfirst/notice.h"
#include "childfirst/record.h"
#include "childfirst/referral.h"

enum cf_frame_kind {
    CF_FRAME_NONE = 0,
    CF_FRAME_HELLO,
    CF_FRAME_WELCOME,
    CF_FRAME_SUBMIT,
    CF_FRAME_ACCEPTED,
    CF_FRAME_REJECTED,
    CF_FRAME_DELIVER,
    CF_FRAME_ACK,
    CF_FRAME_NACK,
    CF_FRAME_REPORT,
    CF_FRAME_DIRECTORY_REQUEST,
    CF_FRAME_DIRECTORY,
    CF_FRAME_PING,
    CF_FRAME_PONG,
    CF_FRAME_STATUS_REQUEST,
    CF_FRAME_STATUS,
    CF_FRAME_CASE_REQUEST,
    CF_FRAME_CASE_INFO,
    CF_FRAME_PROOF_REQUEST,
    CF_FRAME_PROOF,
    CF_FRAME_AUDIT_FOLLOW,
    CF_FRAME_AUDIT_RECORDS,
    CF_FRAME_KIND_COUNT
};

/* Records in one AuditRecords frame at most, and the bytes of records and
 * envelopes together that a broker puts in one (below CF_MAX_TRANSPORT). */
#define CF_MAX_AUDIT_RECORDS 256
#define CF_MAX_AUDIT_BYTES (4u * 1024u * 1024u)

struct cf_status {
    uint64_t tree_size, commits, frames, accepted, rejected, delivered, sessions;
};

/* What a party may learn of a case from the broker (CaseInfo). */
struct cf_case_info {
    char state[24];
    char jurisdiction[CF_JURISDICTION_MAX + 1];
    char la_code[CF_LA_CODE_LEN + 1];
    cf_id owner; /* "" when none */
    size_t n_deadlines;
    struct {
        char name[24];
        uint64_t due;
    } deadlines[CF_DEADLINE_COUNT]; /* soonest first */
    uint64_t updated_leaf;
};

/* One frame, flat: each kind uses the fields its comment names. Pointer fields
 * are borrowed: after encode, from the caller; after decode, from memory the
 * frame owns until cf_wire_frame_fini. */
struct cf_frame {
    enum cf_frame_kind kind;
    uint32_t version;              /* hello */
    uint64_t last_checkpoint_size; /* hello */
    uint64_t mailbox_depth;        /* welcome */
    bool has_message_id;           /* rejected (optional); accepted, ack, nack, report */
    uint8_t message_id[CF_MESSAGE_ID_LEN];
    uint64_t leaf_index;     /* accepted, deliver, ack, nack, report */
    uint64_t report_leaf;    /* report */
    const uint8_t *envelope; /* submit, deliver */
    size_t envelope_len;
    const uint8_t *notice; /* deliver (instead of an envelope) */
    size_t notice_len;
    uint8_t notice_signature[CF_SIG_LEN];
    const uint8_t *determination; /* deliver: a sealed determination (with the proposal's
                                     envelope for its final readers, without for the liaison) */
    size_t determination_len;
    uint8_t determination_signature[CF_SIG_LEN];
    char case_id[CF_CASE_ID_LEN + 1]; /* case request, case info */
    uint64_t from_size;               /* proof request: also prove extension of this size;
                                         audit follow: the size the follower holds */
    uint64_t from_index;              /* audit follow, audit records */
    uint64_t tree_size;               /* audit records: the broker's size now */
    size_t n_records;                 /* audit records: borrowed AuditRecord bytes */
    const uint8_t *records[CF_MAX_AUDIT_RECORDS];
    size_t record_lens[CF_MAX_AUDIT_RECORDS];
    const uint8_t *envelopes[CF_MAX_AUDIT_RECORDS]; /* audit records: beside each; len 0: none */
    size_t envelope_lens[CF_MAX_AUDIT_RECORDS];
    struct cf_case_info case_info;    /* case info */
    const char *checkpoint;           /* welcome, accepted, deliver, proof, audit records */
    size_t checkpoint_len;
    const uint8_t *record; /* accepted, deliver: the leaf's AuditRecord bytes */
    size_t record_len;
    size_t n_proof; /* welcome: consistency; accepted, deliver, proof: inclusion */
    uint8_t proof[2 * CF_MERKLE_MAX_PROOF][CF_MERKLE_HASH];
    uint64_t consistency_from; /* accepted, deliver: the size the connection last saw */
    size_t n_consistency;      /* accepted, deliver: consistency from it to the checkpoint */
    uint8_t consistency[2 * CF_MERKLE_MAX_PROOF][CF_MERKLE_HASH];
    char code[48];                          /* rejected, nack, report (stable error name) */
    char reason[512];                       /* rejected */
    uint8_t signature[CF_SIG_LEN];          /* ack, nack */
    cf_id recipient;                        /* report */
    char outcome[16];                       /* report: "delivered" or "nacked" */
    const uint8_t *agencies, *policy, *sig; /* directory */
    size_t agencies_len, policy_len, sig_len;
    uint64_t nonce;          /* ping, pong */
    struct cf_status status; /* status */
    void *owner;             /* decoded message behind the borrowed fields */
};

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

/* A case message's payload (every Payload body but the referral, which has its own struct)
 * from a JSON object whose keys are the body's proto field names: strings become bytes,
 * arrays of strings become Strings, booleans stay booleans, and "rg" / "cg" become a
 * Decision. `body` names the Payload oneof member ("acknowledgement", "strategy_record",
 * "nrm_return", ...). Checks JSON types and the proto's required fields only (CF_EFIELD):
 * the rules are the caller's (message.c checks them first). Caller owns *out; free with
 * free(). */
CF_WUR int cf_wire_payload_encode(const char *body, const json_t *fields, uint8_t **out,
                                  size_t *len, struct cf_error *err);

/* Decodes at most CF_MAX_PLAINTEXT bytes of a Payload that must hold `body` (CF_ETYPE if it
 * holds another or none) through the bounded allocator, refusing unknown fields at any depth
 * (CF_EUNKNOWNFIELD) and text that is not NUL-free UTF-8 (CF_EFIELD), into a JSON object of
 * the fields present. Caller owns *fields; release with json_decref. */
CF_WUR int cf_wire_payload_decode(const uint8_t *buf, size_t len, const char *body, json_t **fields,
                                  struct cf_error *err);

/* Encodes a frame of kind f->kind from the fields that kind uses. Caller owns
 * *out; free with free(). CF_EINVAL for an unknown kind. */
CF_WUR int cf_wire_frame_encode(const struct cf_frame *f, uint8_t **out, size_t *len);

/* Decodes at most CF_MAX_FRAME bytes into *f, refusing unknown fields, a frame
 * with no body, and fields of the wrong size. Release with cf_wire_frame_fini,
 * also after a failure. */
CF_WUR int cf_wire_frame_decode(const uint8_t *buf, size_t len, struct cf_frame *f,
                                struct cf_error *err);

void cf_wire_frame_fini(struct cf_frame *f);

/* Notices: canonical like headers, since their bytes are signed. Decode refuses
 * more than CF_MAX_HEADER bytes (CF_ETOOBIG), bytes that do not encode back
 * from the result (CF_ECANON, and CF_EFIELD for a present but empty deadline,
 * code or state), an unknown kind or urgency and a malformed case id
 * (CF_EFIELD), and any agency id that is not one (CF_EID). */
CF_WUR int cf_wire_notice_encode(const struct cf_notice *n, uint8_t **out, size_t *len);
CF_WUR int cf_wire_notice_decode(const uint8_t *buf, size_t len, struct cf_notice *n,
                                 struct cf_error *err);

/* Audit records. Decode refuses unknown fields and non-canonical bytes, so a
 * record has one encoding and one leaf hash. Release with cf_wire_record_fini. */
CF_WUR int cf_wire_record_encode(const struct cf_record *r, uint8_t **out, size_t *len);
CF_WUR int cf_wire_record_decode(const uint8_t *buf, size_t len, struct cf_record *r,
                                 struct cf_error *err);
void cf_wire_record_fini(struct cf_record *r);

/* The agent's outbox entries. Decode refuses more than CF_MAX_ENVELOPE + 1024
 * bytes (CF_ETOOBIG), copies the spool file name and points e->envelope into
 * memory the caller frees with free(*envelope_copy). */
struct cf_outbox_entry {
    const uint8_t *envelope;
    size_t envelope_len;
    char spool_file[256]; /* "" when not from the spool */
    uint64_t queued_at;
};
CF_WUR int cf_wire_outbox_encode(const struct cf_outbox_entry *e, uint8_t **out, size_t *len);
CF_WUR int cf_wire_outbox_decode(const uint8_t *buf, size_t len, struct cf_outbox_entry *e,
                                 uint8_t **envelope_copy, struct cf_error *err);

/* Sealed determinations. Decode refuses more than CF_MAX_ENVELOPE bytes, non-
 * canonical bytes, ids, hashes and signatures of the wrong size, an NRM
 * ciphertext that is not one padding bucket, and malformed case or agency ids
 * (CF_ETOOBIG, CF_ECANON, CF_EFIELD, CF_EID); it borrows into memory the struct
 * owns until cf_wire_determination_fini (also after a failure). */
CF_WUR int cf_wire_determination_encode(const struct cf_determination *d, uint8_t **out,
                                        size_t *len);
CF_WUR int cf_wire_determination_decode(const uint8_t *buf, size_t len, struct cf_determination *d,
                                        struct cf_error *err);
void cf_wire_determination_fini(struct cf_determination *d);

/* Case records (derived state). Decode refuses more than 4 * CF_MAX_HEADER
 * bytes and lists over their limits (CF_ETOOBIG), enums out of range and a
 * malformed case id (CF_EFIELD), and agency ids that are not ones (CF_EID);
 * the referrer may be empty, as an agency that joined late keeps it. */
CF_WUR int cf_wire_case_encode(const struct cf_case *c, uint8_t **out, size_t *len);
CF_WUR int cf_wire_case_decode(const uint8_t *buf, size_t len, struct cf_case *c,
                               struct cf_error *err);

/* Auditors' JSON of an encoded AuditRecord, Header, Notice or Determination,
 * which must decode canonically and without unknown fields: an object of every
 * field present, by its name in proto/childfirst.proto; numbers as integers
 * (a uint64 above 2^63 - 1 as a decimal string), enums by their lowercase
 * ChildFirst names ("accepted", "referral", "rg"), text-like bytes (ids,
 * codes, names) as strings, other bytes as padded standard base64, repeated
 * fields as arrays (left out when empty), nested messages as objects. The
 * walk follows the schema, so a field added to it appears without a change.
 * The same bytes give the same object. Caller owns *out; release with
 * json_decref. CF_ETOOBIG, the codes of decoding, CF_ENOMEM. */
CF_WUR int cf_wire_record_json(const uint8_t *buf, size_t len, json_t **out, struct cf_error *err);
CF_WUR int cf_wire_header_json(const uint8_t *buf, size_t len, json_t **out, struct cf_error *err);
CF_WUR int cf_wire_notice_json(const uint8_t *buf, size_t len, json_t **out, struct cf_error *err);
CF_WUR int cf_wire_determination_json(const uint8_t *buf, size_t len, json_t **out,
                                      struct cf_error *err);

#endif
