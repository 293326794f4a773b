/* Receipt parsing and checking. The proofs stay in the form the JSON gave
 * them, elements of any length, and go to the verifiers that take unchecked
 * lengths: a receipt is input from anyone, so nothing about it is assumed. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "childfirst/limits.h"
#include "childfirst/receipt.h"
#include "childfirst/wire.h"

static void proof_fini(struct cf_receipt_proof *p)
{
    for (size_t i = 0; p->items && i < p->n; i++)
        free((void *)p->items[i].data);
    free(p->items);
    memset(p, 0, sizeof *p);
}

void cf_receipt_fini(struct cf_receipt *r)
{
    free(r->checkpoint);
    free(r->record);
    free(r->later_checkpoint);
    proof_fini(&r->inclusion);
    proof_fini(&r->later_inclusion);
    proof_fini(&r->later_consistency);
    memset(r, 0, sizeof *r);
}

static int proof_parse(const json_t *a, const char *name, struct cf_receipt_proof *p,
                       struct cf_error *err)
{
    if (!json_is_array(a))
        return cf_error_set(err, CF_EFIELD, "%s: must be an array of hex strings", name);
    size_t n = json_array_size(a);
    if (n > CF_RECEIPT_MAX_PROOF)
        return cf_error_set(err, CF_ETOOBIG, "%s: %zu elements; no proof needs more than %d", name,
                            n, 2 * CF_MERKLE_MAX_PROOF);
    p->items = calloc(n ? n : 1, sizeof *p->items);
    if (!p->items)
        return cf_error_set(err, CF_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *hex = json_string_value(json_array_get(a, i));
        size_t hex_len = hex ? strlen(hex) : 0, len = 0;
        uint8_t *bytes = hex ? malloc(hex_len / 2 + 1) : NULL;
        if (!hex || !bytes ||
            sodium_hex2bin(bytes, hex_len / 2 + 1, hex, hex_len, NULL, &len, NULL) != 0 ||
            len * 2 != hex_len) {
            free(bytes);
            return cf_error_set(err, hex && !bytes ? CF_ENOMEM : CF_EFIELD,
                                "%s[%zu]: must be a hash in hex", name, i);
        }
        p->items[p->n++] = (struct cf_merkle_bytes){bytes, len};
    }
    return 0;
}

static int note_parse(const json_t *v, const char *name, char **out, size_t *len,
                      struct cf_error *err)
{
    if (!json_is_string(v))
        return cf_error_set(err, CF_EFIELD, "%s: must be the signed note, a string", name);
    *len = json_string_length(v);
    if (*len > CF_CHECKPOINT_MAX)
        return cf_error_set(err, CF_ETOOBIG, "%s: longer than a note can be", name);
    if (!(*out = malloc(*len + 1)))
        return cf_error_set(err, CF_ENOMEM, "out of memory");
    memcpy(*out, json_string_value(v), *len + 1);
    return 0;
}

static int parse(const json_t *doc, struct cf_receipt *r, struct cf_error *err)
{
    if (!json_is_object(doc))
        return cf_error_set(err, CF_EJSON, "document: must be a JSON object");
    const char *id = json_string_value(json_object_get(doc, "message_id"));
    size_t id_len = 0;
    if (!id || strlen(id) != 2 * CF_MESSAGE_ID_LEN ||
        sodium_hex2bin(r->message_id, sizeof r->message_id, id, strlen(id), NULL, &id_len, NULL) !=
            0 ||
        id_len != CF_MESSAGE_ID_LEN)
        return cf_error_set(err, CF_EFIELD, "message_id: must be 32 hexadecimal characters");
    const char *case_id = json_string_value(json_object_get(doc, "case_id"));
    if (!case_id || !cf_header_case_id_valid(case_id, strlen(case_id)))
        return cf_error_set(err, CF_EFIELD, "case_id: must be a case id (cf- and 26 of a-z, 2-7)");
    memcpy(r->case_id, case_id, CF_CASE_ID_LEN + 1);
    const json_t *leaf = json_object_get(doc, "leaf_index");
    if (!json_is_integer(leaf) || json_integer_value(leaf) < 0)
        return cf_error_set(err, CF_EFIELD, "leaf_index: must be a whole number");
    r->leaf_index = (uint64_t)json_integer_value(leaf);
    const char *status = json_string_value(json_object_get(doc, "status"));
    snprintf(r->status, sizeof r->status, "%s", status ? status : "");
    int rc = note_parse(json_object_get(doc, "checkpoint"), "checkpoint", &r->checkpoint,
                        &r->checkpoint_len, err);
    if (rc != 0)
        return rc;
    const char *b64 = json_string_value(json_object_get(doc, "record"));
    if (!b64)
        return cf_error_set(err, CF_EFIELD,
                            "record: missing; the receipt must carry the leaf's record (base64)");
    size_t b64_len = strlen(b64);
    if (b64_len > CF_MAX_JSON)
        return cf_error_set(err, CF_ETOOBIG, "record: too long");
    if (!(r->record = malloc(b64_len / 4 * 3 + 3)))
        return cf_error_set(err, CF_ENOMEM, "out of memory");
    if (sodium_base642bin(r->record, b64_len / 4 * 3 + 3, b64, b64_len, NULL, &r->record_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return cf_error_set(err, CF_EFIELD, "record: must be base64");
    if ((rc = proof_parse(json_object_get(doc, "inclusion_proof"), "inclusion_proof", &r->inclusion,
                          err)) != 0)
        return rc;
    const json_t *later = json_object_get(doc, "later");
    if (!later || json_is_null(later))
        return 0;
    if (!json_is_object(later))
        return cf_error_set(err, CF_EFIELD, "later: must be an object");
    r->has_later = true;
    if ((rc = note_parse(json_object_get(later, "checkpoint"), "later.checkpoint",
                         &r->later_checkpoint, &r->later_checkpoint_len, err)) != 0 ||
        (rc = proof_parse(json_object_get(later, "inclusion_proof"), "later.inclusion_proof",
                          &r->later_inclusion, err)) != 0)
        return rc;
    return proof_parse(json_object_get(later, "consistency_proof"), "later.consistency_proof",
                       &r->later_consistency, err);
}

int cf_receipt_parse(const char *text, size_t len, struct cf_receipt *r, struct cf_error *err)
{
    memset(r, 0, sizeof *r);
    if (len > CF_MAX_JSON)
        return cf_error_set(err, CF_ETOOBIG, "document: must be at most %u bytes", CF_MAX_JSON);
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return cf_error_set(err, CF_EJSON, "document: line %d, column %d: %s", jerr.line,
                            jerr.column, jerr.text);
    int rc = parse(doc, r, err);
    json_decref(doc);
    return rc;
}

static struct cf_merkle_bytes hash_bytes(const uint8_t h[CF_MERKLE_HASH])
{
    return (struct cf_merkle_bytes){h, CF_MERKLE_HASH};
}

static int inclusion(uint64_t index, const struct cf_checkpoint *cp, const uint8_t leaf[32],
                     const struct cf_receipt_proof *p, const char *which, struct cf_error *err)
{
    int rc = cf_merkle_verify_inclusion_bytes(index, cp->size, hash_bytes(leaf), p->items, p->n,
                                              hash_bytes(cp->root));
    if (rc == CF_ERANGE)
        return cf_error_set(err, rc,
                            "leaf %" PRIu64 " is at or after the end of the tree of size %" PRIu64
                            " that the %s signs",
                            index, cp->size, which);
    if (rc == CF_EFIELD)
        return cf_error_set(err, rc, "an element of the %s inclusion proof is not a 32-byte hash",
                            which);
    if (rc != 0)
        return cf_error_set(err, rc,
                            "the %s inclusion proof (%zu hashes) does not show this record at "
                            "leaf %" PRIu64 " of the tree of size %" PRIu64,
                            which, p->n, index, cp->size);
    return 0;
}

static int open_note(const char *note, size_t len, const uint8_t pk[CF_SIGN_PK], const char *which,
                     struct cf_checkpoint *cp, struct cf_error *err)
{
    struct cf_error why = {0};
    int rc = cf_checkpoint_open(note, len, pk, cp, &why);
    if (rc == CF_ESIG)
        return cf_error_set(err, rc, "the %s is not signed by the given broker key", which);
    if (rc != 0)
        return cf_error_set(err, rc, "the %s is not a signed note: %s", which, why.text);
    return 0;
}

int cf_receipt_verify(const struct cf_receipt *r, const uint8_t broker_pk[CF_SIGN_PK],
                      struct cf_receipt_result *out, struct cf_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = open_note(r->checkpoint, r->checkpoint_len, broker_pk, "checkpoint", &out->cp, err);
    if (rc != 0)
        return rc;
    uint8_t leaf[CF_MERKLE_HASH];
    cf_record_leaf_hash(r->record, r->record_len, leaf);
    if ((rc = inclusion(r->leaf_index, &out->cp, leaf, &r->inclusion, "checkpoint", err)) != 0)
        return rc;
    struct cf_record rec;
    struct cf_error why = {0};
    if ((rc = cf_wire_record_decode(r->record, r->record_len, &rec, &why)) != 0) {
        cf_wire_record_fini(&rec);
        return cf_error_set(err, CF_EDECODE, "the record is in the log but does not decode: %s",
                            why.text);
    }
    out->time = rec.time;
    out->event = rec.event;
    memcpy(out->actor, rec.actor, sizeof out->actor);
    if (rec.index != r->leaf_index)
        rc = cf_error_set(err, CF_EMISMATCH, "the record says it is leaf %" PRIu64 ", not %" PRIu64,
                          rec.index, r->leaf_index);
    else if (rec.event == CF_EVENT_ACCEPTED && rec.header) {
        out->has_header = true;
        if (cf_wire_header_decode(rec.header, rec.header_len, &out->header, &why) != 0)
            rc = cf_error_set(err, CF_EDECODE, "the record's header does not decode: %s", why.text);
        else if (memcmp(out->header.message_id, r->message_id, CF_MESSAGE_ID_LEN) != 0)
            rc = cf_error_set(err, CF_EMISMATCH,
                              "the record is of another message than the receipt's message_id");
        else if (strcmp(out->header.case_id, r->case_id) != 0)
            rc = cf_error_set(err, CF_EMISMATCH, "the record is of case %s, not %s",
                              out->header.case_id, r->case_id);
    }
    cf_wire_record_fini(&rec);
    if (rc != 0 || !r->has_later)
        return rc;
    if ((rc = open_note(r->later_checkpoint, r->later_checkpoint_len, broker_pk, "later checkpoint",
                        &out->later, err)) != 0)
        return rc;
    if (strcmp(out->later.origin, out->cp.origin) != 0)
        return cf_error_set(err, CF_EMISMATCH,
                            "the later checkpoint is of origin %s, the receipt's of %s",
                            out->later.origin, out->cp.origin);
    if (out->later.size < out->cp.size)
        return cf_error_set(err, CF_ERANGE,
                            "the later checkpoint's tree (size %" PRIu64
                            ") is smaller than the receipt's (%" PRIu64 ")",
                            out->later.size, out->cp.size);
    if ((rc = inclusion(r->leaf_index, &out->later, leaf, &r->later_inclusion, "later checkpoint",
                        err)) != 0)
        return rc;
    rc = cf_merkle_verify_consistency_bytes(out->cp.size, out->later.size, hash_bytes(out->cp.root),
                                            hash_bytes(out->later.root), r->later_consistency.items,
                                            r->later_consistency.n);
    if (rc == CF_EFIELD)
        return cf_error_set(err, rc, "an element of the consistency proof is not a 32-byte hash");
    if (rc != 0)
        return cf_error_set(err, rc,
                            "the consistency proof (%zu hashes) does not take the tree of size "
                            "%" PRIu64 " to the later one of size %" PRIu64,
                            r->later_consistency.n, out->cp.size, out->later.size);
    out->has_later = true;
    return 0;
}
