/* Checks 1-5 run as frames arrive; 6-9 run inside the write transaction so
 * they see every frame accepted before them in the same batch. The order is
 * the design's, so a message with two faults always reports the same one. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "checks.h"

int cf_checks_stateless(const struct broker *b, const char *actor, const uint8_t *buf, size_t len,
                        uint64_t now, struct cf_envelope *env, struct cf_header *hdr,
                        struct cf_error *err)
{
    memset(env, 0, sizeof *env);
    /* 1. Sizes: the transport limit is far above this, so an oversize frame is
     * answered rather than dropped with the connection. */
    if (len > CF_MAX_ENVELOPE)
        return cf_error_set(err, CF_ETOOBIG,
                            "the envelope is %zu bytes; the limit is %u. Split attachments "
                            "out of the payload",
                            len, CF_MAX_ENVELOPE);
    /* 2. Decodes, canonical header; the key list waits for check 9. */
    int rc = cf_envelope_decode_structure(buf, len, env, hdr, err);
    if (rc != 0)
        return rc;
    /* 3. Attribution comes from the CURVE handshake, never from the frame. */
    if (strcmp(hdr->sender, actor) != 0)
        return cf_error_set(err, CF_ESENDER,
                            "header.sender is %s but this connection authenticated as %s; an "
                            "agency may only send as itself",
                            hdr->sender, actor);
    /* 4. The sender's signature, by the key the signed directory gives it. */
    const struct cf_agency *a = cf_directory_find(b->dir, actor);
    if (!a)
        return cf_error_set(err, CF_EUNKNOWNAGENCY, "%s is not in the directory", actor);
    if (cf_envelope_verify(env, a->sign_pk) != 0)
        return cf_error_set(err, CF_ESIG,
                            "the envelope signature does not verify against %s's sign_key in "
                            "directory serial %" PRIu64,
                            actor, b->dir->serial);
    /* 5. created_at: a small skew ahead, and not stale. */
    const struct cf_policy *p = b->dir->policy;
    uint64_t skew = (uint64_t)p->max_clock_skew_seconds * 1000u;
    uint64_t age = (uint64_t)p->max_message_age_hours * 3600000u;
    if (hdr->created_at > now + skew)
        return cf_error_set(err, CF_EFUTURE,
                            "created_at is %" PRIu64 " s ahead of the broker's clock (%u s "
                            "allowed); check the sending host's clock",
                            (hdr->created_at - now) / 1000, p->max_clock_skew_seconds);
    if (now > age && hdr->created_at < now - age)
        return cf_error_set(err, CF_ESTALE,
                            "created_at is more than %u hours old; send it again as a new "
                            "message",
                            p->max_message_age_hours);
    return 0;
}

size_t cf_checks_dedup_key(uint8_t key[CF_ID_MAX + 1 + CF_MESSAGE_ID_LEN],
                           const struct cf_header *hdr)
{
    return cf_store_id_key(key, CF_ID_MAX + 1 + CF_MESSAGE_ID_LEN, hdr->sender, hdr->message_id,
                           CF_MESSAGE_ID_LEN);
}

/* Whether the stored record at `index` is the same envelope. */
static int same_as_logged(const struct broker *b, MDB_txn *txn, uint64_t index,
                          const struct cf_envelope *env, bool *same)
{
    MDB_val v;
    int rc = cf_store_record(&b->store, txn, index, &v);
    if (rc != 0)
        return rc;
    struct cf_record r;
    rc = cf_wire_record_decode(v.mv_data, v.mv_size, &r, NULL);
    *same = rc == 0 && cf_record_matches(&r, env);
    cf_wire_record_fini(&r);
    return rc == 0 ? 0 : CF_ECORRUPT;
}

/* The vote's signature covers this case, this proposal's header, ciphertext,
 * key list and NRM return, and this decision (DESIGN.md section 4): checked
 * against the proposal's leaf, so the broker needs none of its content. */
static int vote_signed(const struct broker *b, MDB_txn *txn, const struct cf_case *c,
                       const struct cf_header *hdr, struct cf_error *err)
{
    MDB_val v;
    struct cf_record rec;
    int rc = cf_store_record(&b->store, txn, c->proposal_leaf, &v);
    if (rc != 0)
        return cf_error_set(err, rc, "cannot read the proposal's leaf %" PRIu64, c->proposal_leaf);
    if (cf_wire_record_decode(v.mv_data, v.mv_size, &rec, NULL) != 0 || !rec.has_digests) {
        cf_wire_record_fini(&rec);
        return cf_error_set(err, CF_ECORRUPT, "the proposal's leaf %" PRIu64 " is damaged",
                            c->proposal_leaf);
    }
    struct cf_vote_subject subject = {.case_id = hdr->case_id, .decision = hdr->decision};
    memcpy(subject.proposal_id, hdr->vote.proposal_id, sizeof subject.proposal_id);
    cf_record_digests(&rec, &subject.proposal);
    cf_wire_record_fini(&rec);
    const struct cf_agency *a = cf_directory_find(b->dir, hdr->sender);
    if (cf_envelope_vote_verify(&subject, hdr->vote.approve, hdr->sender, hdr->vote.signature,
                                a->sign_pk) != 0)
        return cf_error_set(err, CF_ESIG,
                            "the vote's signature does not cover %s's open %s proposal as it "
                            "was sent (its header, ciphertext, keys and NRM return) by %s; "
                            "vote again on the proposal as delivered",
                            hdr->case_id, cf_header_decision_name(c->proposal_decision),
                            hdr->sender);
    return 0;
}

int cf_checks_stateful(const struct broker *b, MDB_txn *txn, const struct cf_envelope *env,
                       const struct cf_header *hdr, uint64_t now, uint64_t *repeat_of,
                       struct cf_error *err)
{
    *repeat_of = UINT64_MAX;
    const struct cf_policy *p = b->dir->policy;
    /* 6. A new (sender, message_id); an exact repeat gets the original receipt. */
    uint8_t key[CF_ID_MAX + 1 + CF_MESSAGE_ID_LEN];
    MDB_val k = {cf_checks_dedup_key(key, hdr), key}, v;
    int rc = mdb_get(txn, b->store.dedup, &k, &v);
    if (rc == 0) {
        if (v.mv_size != 8)
            return cf_error_set(err, CF_ECORRUPT, "a dedup entry is damaged");
        uint64_t index = cf_store_get_u64(v.mv_data);
        bool same = false;
        if ((rc = same_as_logged(b, txn, index, env, &same)) != 0)
            return cf_error_set(err, rc, "cannot read leaf %" PRIu64, index);
        if (!same)
            return cf_error_set(err, CF_EDUPLICATE,
                                "message_id was already used by %s for different bytes (leaf "
                                "%" PRIu64 "); a changed message needs a new message_id",
                                hdr->sender, index);
        *repeat_of = index;
        return 0;
    }
    if (rc != MDB_NOTFOUND)
        return cf_error_set(err, cf_store_error(rc), "cannot read the dedup table");
    /* 7. The sender's role may send this type. */
    const struct cf_agency *a = cf_directory_find(b->dir, hdr->sender);
    if (!cf_policy_may_send(p, a->roles, hdr->type))
        return cf_error_set(err, CF_EROLE,
                            "%s's roles may not send a %s under the signed policy (directory "
                            "serial %" PRIu64 ")",
                            hdr->sender, cf_header_type_name(hdr->type), b->dir->serial);
    /* 8. The case allows it, and the sender holds its part in the case. */
    struct cf_case *c = malloc(sizeof *c);
    if (!c)
        return cf_error_set(err, CF_ENOMEM, "the broker is out of memory");
    rc = cf_cases_load(b, txn, hdr->case_id, c);
    bool exists = rc == 0;
    if (rc != 0 && rc != CF_ENOTFOUND) {
        rc = cf_error_set(err, rc, "cannot read case %s", hdr->case_id);
        goto out;
    }
    struct cf_case_rules rules = cf_cases_rules(b);
    if ((rc = cf_case_check(exists ? c : NULL, hdr, now, &rules, err)) != 0)
        goto out;
    if (hdr->type == CF_TYPE_VOTE && (rc = vote_signed(b, txn, c, hdr, err)) != 0)
        goto out;
    /* 9. The recipients are exactly the policy's, in its order, in the
     * jurisdiction the LA code belongs to; the keys name them in that order;
     * a proposal's return is sealed to the policy's one reader. */
    const struct cf_jurisdiction *j;
    if (cf_policy_jurisdiction_of(p, hdr->la_code, &j) != 0) {
        rc = cf_error_set(err, CF_EJURISDICTION, "la_code %s belongs to no jurisdiction",
                          hdr->la_code);
        goto out;
    }
    if (strcmp(j->name, hdr->jurisdiction) != 0) {
        rc = cf_error_set(err, CF_EJURISDICTION, "la_code %s is in %s, but the header says %s",
                          hdr->la_code, j->name, hdr->jurisdiction);
        goto out;
    }
    struct cf_parties parties;
    struct cf_route_ctx ctx;
    cf_case_route_ctx(exists ? c : NULL, hdr, &parties, &ctx);
    if ((rc = cf_policy_recipients_match(p, b->dir, &ctx, hdr->recipients, hdr->n_recipients,
                                         err)) != 0 ||
        (rc = cf_envelope_keys_check(env, hdr, err)) != 0)
        goto out;
    if (env->has_nrm) {
        cf_id reader;
        if ((rc = cf_policy_nrm_reader(p, b->dir, &ctx, reader, err)) != 0)
            goto out;
        if (strcmp(reader, env->nrm_key.recipient) != 0)
            rc = cf_error_set(err, CF_ERECIPIENTS,
                              "the NRM return must be sealed to %s alone; it is sealed to %s",
                              reader, env->nrm_key.recipient);
    }
out:
    free(c);
    return rc;
}
