/* Checking a sealed determination from what it carries alone. The proposal's
 * audit record stands in for its envelope: it holds the header and the
 * digests its sender signed, which is all a vote's signature and the NRM
 * return's binding need. */
#include <stdlib.h>
#include <string.h>

#include "childfirst/determination.h"
#include "childfirst/directory.h"
#include "childfirst/wire.h"

int cf_determination_sign(const struct cf_determination *d, const struct cf_keys *broker,
                          uint8_t sig[CF_SIG_LEN])
{
    return cf_envelope_determination_sign(d->proposal_id, d->proposal_hash, d->votes, d->n_votes,
                                          d->directory_digest, broker, sig);
}

static int verify_votes(const struct cf_determination *d, const struct cf_envelope_digests *dg,
                        const struct cf_directory *dir, struct cf_error *err)
{
    struct cf_vote_subject subject = {
        .case_id = d->case_id, .proposal = *dg, .decision = d->decision};
    memcpy(subject.proposal_id, d->proposal_id, sizeof subject.proposal_id);
    for (size_t i = 0; i < d->n_votes; i++) {
        const struct cf_vote_record *v = &d->votes[i];
        const struct cf_agency *a = cf_directory_find(dir, v->voter);
        if (!a)
            return cf_error_set(err, CF_EUNKNOWNAGENCY,
                                "determination: voter %s is not in the "
                                "directory",
                                v->voter);
        if (cf_envelope_vote_verify(&subject, v->approve, v->voter, v->signature, a->sign_pk) != 0)
            return cf_error_set(err, CF_ESIG,
                                "determination: %s's vote is not signed over this proposal",
                                v->voter);
    }
    return 0;
}

int cf_determination_verify(const struct cf_determination *d, const uint8_t sig[CF_SIG_LEN],
                            const uint8_t broker_pk[CF_SIGN_PK], const struct cf_directory *dir,
                            struct cf_record *proposal, struct cf_header *header,
                            struct cf_error *err)
{
    memset(proposal, 0, sizeof *proposal);
    if (cf_envelope_determination_verify(d->proposal_id, d->proposal_hash, d->votes, d->n_votes,
                                         d->directory_digest, sig, broker_pk) != 0)
        return cf_error_set(err, CF_ESIG,
                            "determination: the broker's countersignature does not verify");
    int rc = cf_wire_record_decode(d->proposal_record, d->proposal_record_len, proposal, err);
    if (rc != 0)
        return rc;
    if (proposal->event != CF_EVENT_ACCEPTED || !proposal->has_digests || !proposal->header)
        return cf_error_set(err, CF_EMISMATCH,
                            "determination: its proposal record is not an "
                            "accepted message");
    if ((rc = cf_wire_header_decode(proposal->header, proposal->header_len, header, err)) != 0)
        return rc;
    if (header->type != CF_TYPE_DETERMINATION_PROPOSED ||
        memcmp(header->message_id, d->proposal_id, CF_MESSAGE_ID_LEN) != 0 ||
        strcmp(header->case_id, d->case_id) != 0 || header->decision != d->decision)
        return cf_error_set(err, CF_EMISMATCH,
                            "determination: its proposal record is not the proposal it names");
    const struct cf_agency *sender = cf_directory_find(dir, header->sender);
    struct cf_envelope_digests dg;
    cf_record_digests(proposal, &dg);
    if (!sender)
        return cf_error_set(err, CF_EUNKNOWNAGENCY,
                            "determination: proposer %s is not in the "
                            "directory",
                            header->sender);
    if (cf_envelope_verify_digests(&dg, proposal->signature, sender->sign_pk) != 0)
        return cf_error_set(err, CF_ESIG, "determination: the proposal is not signed by %s",
                            header->sender);
    if (d->has_nrm) {
        /* The proposer signed all three of the return's digests: its ciphertext,
         * its key entry (the liaison's id and sealed key) and its commitment. An
         * envelope lends d's return to compute them the same way. */
        struct cf_envelope ret;
        struct cf_envelope_digests mine;
        memset(&ret, 0, sizeof ret);
        ret.has_nrm = true;
        ret.nrm_ciphertext = (uint8_t *)d->nrm_ciphertext;
        ret.nrm_ciphertext_len = d->nrm_ciphertext_len;
        ret.nrm_key = d->nrm_key;
        memcpy(ret.nrm_commit, d->nrm_commit, CF_HASH_LEN);
        cf_envelope_digests(&ret, &mine);
        if (!dg.has_nrm || memcmp(mine.nrm, dg.nrm, CF_HASH_LEN) != 0 ||
            memcmp(mine.nrm_keys, dg.nrm_keys, CF_HASH_LEN) != 0 ||
            memcmp(mine.nrm_commit, dg.nrm_commit, CF_HASH_LEN) != 0)
            return cf_error_set(err, CF_EMISMATCH,
                                "determination: its NRM return is not the one the proposer "
                                "signed");
    }
    return verify_votes(d, &dg, dir, err);
}

int cf_determination_open_return(const struct cf_determination *d, const struct cf_record *proposal,
                                 const struct cf_keys *self, uint8_t **payload, size_t *len)
{
    if (!d->has_nrm)
        return CF_ENOTRECIPIENT;
    /* The return is bound to the proposal's header bytes, which the record
     * holds; the envelope lends them and the return's parts, and owns none. */
    struct cf_envelope env;
    memset(&env, 0, sizeof env);
    env.header = (uint8_t *)proposal->header;
    env.header_len = proposal->header_len;
    env.has_nrm = true;
    env.nrm_ciphertext = (uint8_t *)d->nrm_ciphertext;
    env.nrm_ciphertext_len = d->nrm_ciphertext_len;
    env.nrm_key = d->nrm_key;
    memcpy(env.nrm_commit, d->nrm_commit, CF_HASH_LEN);
    return cf_envelope_open_return(&env, self, payload, len);
}
