/* Fuzz target: the decrypted payload decoders, the referral's and each case message's.
 * Properties: what a decoder accepts encodes and decodes again to the same thing; and a case
 * message a reader accepts is one a sender could have written, reading back the same. */
#include <stdlib.h>
#include <string.h>

#include "childfirst/message.h"
#include "childfirst/wire.h"

static void referral(const uint8_t *data, size_t size)
{
    struct cf_referral r, back;
    memset(&r, 0, sizeof r);
    memset(&back, 0, sizeof back);
    if (cf_wire_referral_decode(data, size, &r, NULL) != 0)
        return;
    uint8_t *again;
    size_t len;
    if (cf_wire_referral_encode(&r, &again, &len) != 0 ||
        cf_wire_referral_decode(again, len, &back, NULL) != 0)
        abort();
    json_t *a = cf_referral_to_json(&r), *b = cf_referral_to_json(&back);
    if (!a || !b || !json_equal(a, b))
        abort();
    json_decref(a);
    json_decref(b);
    free(again);
    cf_referral_fini(&r);
    cf_referral_fini(&back);
}

static void body(const uint8_t *data, size_t size, const char *name)
{
    json_t *fields, *back;
    if (cf_wire_payload_decode(data, size, name, &fields, NULL) != 0)
        return;
    uint8_t *again;
    size_t len;
    if (cf_wire_payload_encode(name, fields, &again, &len, NULL) != 0 ||
        cf_wire_payload_decode(again, len, name, &back, NULL) != 0 || !json_equal(fields, back))
        abort();
    json_decref(fields);
    json_decref(back);
    free(again);
}

/* A header holding every type's own fields, so each type finds the ones it needs. */
static void every_field(struct cf_header *h)
{
    memset(h, 0, sizeof *h);
    h->decision = CF_DECISION_RG;
    strcpy(h->lead_staff_ref, "SW-1");
    h->n_members = 1;
    strcpy(h->members[0].agency, "la-csc");
    h->members[0].standing = CF_STANDING_VOTING;
    strcpy(h->chair_staff_ref, "CH-2");
    h->n_attendees = 1;
    strcpy(h->attendees[0], "la-csc");
    h->has_vote = true;
    h->vote.proposal_id[0] = 0xa5;
    strcpy(h->la_code, "E09000033");
}

static void message(const uint8_t *data, size_t size, enum cf_type type)
{
    struct cf_header h, again;
    every_field(&h);
    h.type = type;
    json_t *doc, *back;
    if (cf_message_to_json(&h, data, size, NULL, 0, &doc, NULL) != 0)
        return;
    if (type == CF_TYPE_DETERMINATION_PROPOSED) /* it travels apart; any valid one will do */
        json_object_set_new(doc, "nrm_return",
                            json_pack("{ssss}", "age_band", "unknown", "sex", "unknown"));
    char *text = json_dumps(doc, JSON_COMPACT);
    if (!text)
        abort();
    again = h;
    uint8_t *payload, *nrm;
    size_t payload_len, nrm_len;
    struct cf_error err;
    int rc = cf_message_from_json(type, text, strlen(text), "9999-12-31", "england-wales", &again,
                                  &payload, &payload_len, &nrm, &nrm_len, &err);
    /* Escapes can make the text longer than the payload it came from. */
    if (rc == CF_ETOOBIG && strlen(text) > CF_MAX_JSON)
        goto out;
    if (rc != 0 ||
        cf_message_to_json(&again, payload, payload_len, nrm, nrm_len, &back, &err) != 0 ||
        !json_equal(doc, back))
        abort();
    json_decref(back);
    free(payload);
    free(nrm);
out:
    free(text);
    json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const bodies[] = {"acknowledgement",
                                         "strategy_record",
                                         "conference_convened",
                                         "contribution",
                                         "determination_proposed",
                                         "vote",
                                         "reconsideration_request",
                                         "transfer",
                                         "closure",
                                         "nrm_return"};
    referral(data, size);
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        body(data, size, bodies[i]);
    for (enum cf_type t = CF_TYPE_REFERRAL; t < CF_TYPE_COUNT; t++)
        if (cf_message_type_valid(t))
            message(data, size, t);
    json_t *ret;
    if (cf_message_nrm_to_json(data, size, &ret, NULL) == 0)
        json_decref(ret);
    return 0;
}
