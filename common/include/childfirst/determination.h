/* The sealed determination: what the broker issues when a conference's
 * voting members have approved a proposal (DESIGN.md sections 4 and 5).
 *
 * It names the proposal by leaf, id and envelope hash, carries every vote
 * with its voter's signature, the proposal's audit record (header, digests,
 * the proposer's signature) and its NRM return, and is countersigned by the
 * broker. So every reader can check, without trusting the broker, that each
 * voting agency signed this very proposal; and the Home Office liaison can
 * open the return without ever seeing the rest.
 */
#ifndef CHILDFIRST_DETERMINATION_H
#define CHILDFIRST_DETERMINATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "childfirst/envelope.h"
#include "childfirst/error.h"
#include "childfirst/header.h"
#include "childfirst/keys.h"
#include "childfirst/record.h"

struct cf_directory;

struct cf_determination {
    uint32_t version;
    uint8_t id[CF_MESSAGE_ID_LEN]; /* what its readers acknowledge */
    char case_id[CF_CASE_ID_LEN + 1];
    uint8_t proposal_id[CF_MESSAGE_ID_LEN];
    uint64_t proposal_leaf;
    uint8_t proposal_hash[CF_HASH_LEN]; /* B(proposal envelope) */
    enum cf_decision decision;
    size_t n_votes;
    struct cf_vote_record votes[CF_MAX_MEMBERS]; /* ascending by voter */
    uint8_t directory_digest[CF_HASH_LEN];
    uint64_t created_at;
    size_t n_recipients;
    cf_id recipients[CF_MAX_RECIPIENTS];
    const uint8_t *proposal_record; /* borrowed: the proposal leaf's AuditRecord bytes */
    size_t proposal_record_len;
    bool has_nrm;
    const uint8_t *nrm_ciphertext; /* borrowed */
    size_t nrm_ciphertext_len;
    struct cf_key_entry nrm_key;
    uint8_t nrm_commit[CF_HASH_LEN];
    void *owner; /* the decoded message behind the borrowed fields */
};

/* The broker's countersignature over DESIGN.md section 4's layout. */
CF_WUR int cf_determination_sign(const struct cf_determination *d, const struct cf_keys *broker,
                                 uint8_t sig[CF_SIG_LEN]);

/* Everything a reader checks: the countersignature by `broker_pk`; that the
 * proposal record is an accepted determination_proposed with d's case, id
 * and decision, signed by its sender's key in `dir`; that d's NRM return is
 * the one the sender signed; and each vote's signature by its voter's key in
 * `dir` over this proposal. Fills *proposal (release with
 * cf_wire_record_fini, also on failure) and *header, the proposal's.
 * @return 0; CF_ESIG (which signature), CF_EMISMATCH, CF_EDECODE, ... */
CF_WUR int cf_determination_verify(const struct cf_determination *d, const uint8_t sig[CF_SIG_LEN],
                                   const uint8_t broker_pk[CF_SIGN_PK],
                                   const struct cf_directory *dir, struct cf_record *proposal,
                                   struct cf_header *header, struct cf_error *err);

/* Opens d's NRM return as `self`, its one reader, after cf_determination_verify
 * filled `proposal`. Caller owns *payload; free with free(). Codes as for
 * cf_envelope_open_return. */
CF_WUR int cf_determination_open_return(const struct cf_determination *d,
                                        const struct cf_record *proposal,
                                        const struct cf_keys *self, uint8_t **payload, size_t *len);

#endif
