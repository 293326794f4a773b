/* Audit record names, leaf hashing, and the checks that tie a record to an
 * envelope and to a signed checkpoint; the encoding itself is in wire.c. */
#include <string.h>

#include "childfirst/merkle.h"
#include "childfirst/record.h"

static const char *const names[CF_EVENT_COUNT] = {
    [CF_EVENT_ACCEPTED] = "accepted",   [CF_EVENT_REJECTED] = "rejected",
    [CF_EVENT_DELIVERED] = "delivered", [CF_EVENT_NACKED] = "nacked",
    [CF_EVENT_NOTICE] = "notice",       [CF_EVENT_DEADLINE] = "deadline",
    [CF_EVENT_EXPIRED] = "expired",     [CF_EVENT_CONFIG] = "config",
    [CF_EVENT_PURGED] = "purged",       [CF_EVENT_DETERMINATION] = "determination",
    [CF_EVENT_ORIGIN] = "origin",
};

const char *cf_record_event_name(enum cf_event event)
{
    return (unsigned)event < CF_EVENT_COUNT ? names[event] : NULL;
}

void cf_record_leaf_hash(const uint8_t *bytes, size_t len, uint8_t out[32])
{
    cf_merkle_leaf_hash(bytes, len, out);
}

void cf_record_digests(const struct cf_record *r, struct cf_envelope_digests *d)
{
    memset(d, 0, sizeof *d);
    cf_envelope_hash(r->header, r->header_len, d->header);
    memcpy(d->ciphertext, r->ciphertext_hash, 32);
    memcpy(d->keys, r->keys_hash, 32);
    memcpy(d->commit, r->commit, 32);
    if (r->has_nrm) {
        d->has_nrm = true;
        memcpy(d->nrm, r->nrm_ciphertext_hash, 32);
        memcpy(d->nrm_keys, r->nrm_keys_hash, 32);
        memcpy(d->nrm_commit, r->nrm_commit, 32);
    }
}

void cf_record_of_envelope(struct cf_record *r, const struct cf_envelope *env)
{
    struct cf_envelope_digests d;
    cf_envelope_digests(env, &d);
    r->event = CF_EVENT_ACCEPTED;
    r->header = env->header;
    r->header_len = env->header_len;
    r->has_digests = true;
    memcpy(r->ciphertext_hash, d.ciphertext, 32);
    memcpy(r->keys_hash, d.keys, 32);
    memcpy(r->commit, d.commit, 32);
    memcpy(r->signature, env->signature, 64);
    r->has_nrm = d.has_nrm;
    memcpy(r->nrm_ciphertext_hash, d.nrm, 32);
    memcpy(r->nrm_keys_hash, d.nrm_keys, 32);
    memcpy(r->nrm_commit, d.nrm_commit, 32);
}

bool cf_record_matches(const struct cf_record *r, const struct cf_envelope *env)
{
    struct cf_envelope_digests mine, theirs;
    if (r->event != CF_EVENT_ACCEPTED || !r->has_digests || r->header_len != env->header_len ||
        memcmp(r->header, env->header, env->header_len) != 0 ||
        memcmp(r->signature, env->signature, 64) != 0)
        return false;
    cf_record_digests(r, &mine);
    cf_envelope_digests(env, &theirs);
    return memcmp(&mine, &theirs, sizeof mine) == 0;
}

int cf_record_prove(const uint8_t *record, size_t len, uint64_t index,
                    const uint8_t (*proof)[CF_MERKLE_HASH], size_t n, const char *note,
                    size_t note_len, const uint8_t broker_pk[32], struct cf_checkpoint *cp,
                    struct cf_error *err)
{
    int rc = cf_checkpoint_open(note, note_len, broker_pk, cp, err);
    if (rc != 0)
        return rc;
    uint8_t leaf[CF_MERKLE_HASH];
    cf_record_leaf_hash(record, len, leaf);
    rc = cf_merkle_verify_inclusion(index, cp->size, leaf, proof, n, cp->root);
    if (rc != 0)
        return cf_error_set(err, rc,
                            "leaf %llu is not in the tree of size %llu that the checkpoint signs",
                            (unsigned long long)index, (unsigned long long)cp->size);
    return 0;
}
