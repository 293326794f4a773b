/* Determination tests: a sealed determination built as the broker builds one,
 * from a real proposal with its NRM return, real votes and real keys, verifies
 * against an in-memory directory; each thing a forger or a damaged store could
 * change is refused with its exact code; and only the liaison opens the return. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "childfirst/determination.h"
#include "childfirst/directory.h"
#include "childfirst/wire.h"

/* A determination_proposed as its agent seals it and the broker logs it. */
struct proposal {
    struct cf_header h;
    uint8_t *bytes; /* the envelope */
    size_t len;
    struct cf_envelope env;
    uint8_t *record; /* its accepted AuditRecord */
    size_t record_len;
};

enum { HEALTH, LIAISON, CSC, POLICE, STRANGER, BROKER, N_KEYS };

static const char *const ids[N_KEYS] = {"health-trust", "ho-liaison",   "la-csc",
                                        "police-met",   "stranger-org", NULL};
static const char return_text[] = "{\"decision\":\"rg\",\"age_band\":\"16-17\"}";

static struct {
    struct cf_keys *keys[N_KEYS];
    struct cf_directory dir;
    struct proposal main, other_case, other_decision, stranger;
    struct cf_determination good;
    uint8_t good_sig[CF_SIG_LEN];
} fx;

static void propose(struct proposal *p, const char *case_id, enum cf_decision decision, int sender)
{
    struct cf_header *h = &p->h;
    memset(p, 0, sizeof *p);
    h->version = CF_PROTOCOL_VERSION;
    randombytes_buf(h->message_id, sizeof h->message_id);
    if (case_id)
        strcpy(h->case_id, case_id);
    else
        cf_header_case_id_new(h->case_id);
    h->type = CF_TYPE_DETERMINATION_PROPOSED;
    strcpy(h->sender, ids[sender]);
    h->n_recipients = 2;
    strcpy(h->recipients[0], ids[HEALTH]);
    strcpy(h->recipients[1], ids[CSC]);
    h->created_at = 1795000000000ull;
    strcpy(h->jurisdiction, "england-wales");
    strcpy(h->la_code, "E09000033");
    h->urgency = CF_URGENCY_URGENT;
    h->decision = decision;
    h->n_attendees = 3;
    strcpy(h->attendees[0], ids[HEALTH]);
    strcpy(h->attendees[1], ids[CSC]);
    strcpy(h->attendees[2], ids[POLICE]);
    uint8_t box[2][CF_BOX_PK];
    memcpy(box[0], fx.keys[HEALTH]->box_pk, CF_BOX_PK);
    memcpy(box[1], fx.keys[CSC]->box_pk, CF_BOX_PK);
    static const uint8_t payload[] = "the proposal";
    struct cf_envelope_return ret = {(const uint8_t *)return_text, sizeof return_text - 1,
                                     ids[LIAISON], fx.keys[LIAISON]->box_pk};
    struct cf_error err = {0};
    if (cf_envelope_seal_with_return(h, payload, sizeof payload, (const uint8_t(*)[CF_BOX_PK])box,
                                     &ret, fx.keys[sender], &p->bytes, &p->len, &err) != 0)
        fail_msg("seal: %s", err.text);
    struct cf_header back;
    assert_int_equal(cf_envelope_decode(p->bytes, p->len, &p->env, &back, &err), 0);
    struct cf_record r;
    memset(&r, 0, sizeof r);
    cf_record_of_envelope(&r, &p->env);
    r.index = 40;
    r.time = h->created_at + 5;
    strcpy(r.actor, ids[sender]);
    assert_int_equal(cf_wire_record_encode(&r, &p->record, &p->record_len), 0);
}

static void proposal_free(struct proposal *p)
{
    free(p->bytes);
    free(p->record);
    cf_envelope_fini(&p->env);
}

static void vote(const struct proposal *p, int voter, enum cf_decision decision, uint64_t leaf,
                 struct cf_vote_record *v)
{
    struct cf_vote_subject s = {.case_id = p->h.case_id, .decision = decision};
    memcpy(s.proposal_id, p->h.message_id, CF_MESSAGE_ID_LEN);
    cf_envelope_digests(&p->env, &s.proposal);
    memset(v, 0, sizeof *v);
    strcpy(v->voter, ids[voter]);
    v->approve = true;
    v->leaf = leaf;
    assert_int_equal(cf_envelope_vote_sign(&s, true, fx.keys[voter], v->signature), 0);
}

/* The determination of p with votes by health, the LA and the police (in
 * voter-id order), as the broker seals it. */
static void seal(const struct proposal *p, struct cf_determination *d)
{
    memset(d, 0, sizeof *d);
    d->version = CF_PROTOCOL_VERSION;
    randombytes_buf(d->id, sizeof d->id);
    strcpy(d->case_id, p->h.case_id);
    memcpy(d->proposal_id, p->h.message_id, CF_MESSAGE_ID_LEN);
    d->proposal_leaf = 40;
    cf_envelope_hash(p->bytes, p->len, d->proposal_hash);
    d->decision = p->h.decision;
    const int voters[] = {HEALTH, CSC, POLICE};
    for (size_t i = 0; i < 3; i++)
        vote(p, voters[i], p->h.decision, 41 + i, &d->votes[d->n_votes++]);
    memcpy(d->directory_digest, fx.dir.digest, CF_HASH_LEN);
    d->created_at = 1795000000100ull;
    d->n_recipients = 3;
    strcpy(d->recipients[0], ids[HEALTH]);
    strcpy(d->recipients[1], ids[CSC]);
    strcpy(d->recipients[2], ids[LIAISON]);
    d->proposal_record = p->record;
    d->proposal_record_len = p->record_len;
    d->has_nrm = true;
    d->nrm_ciphertext = p->env.nrm_ciphertext;
    d->nrm_ciphertext_len = p->env.nrm_ciphertext_len;
    d->nrm_key = p->env.nrm_key;
    memcpy(d->nrm_commit, p->env.nrm_commit, CF_HASH_LEN);
}

static void countersign(const struct cf_determination *d, uint8_t sig[CF_SIG_LEN])
{
    assert_int_equal(cf_determination_sign(d, fx.keys[BROKER], sig), 0);
}

static int verify(const struct cf_determination *d, const uint8_t sig[CF_SIG_LEN],
                  struct cf_error *err)
{
    struct cf_record proposal;
    struct cf_header h;
    int rc = cf_determination_verify(d, sig, fx.keys[BROKER]->sign_pk, &fx.dir, &proposal, &h, err);
    cf_wire_record_fini(&proposal);
    return rc;
}

static int setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    for (int i = 0; i < BROKER; i++)
        assert_int_equal(cf_keys_generate(CF_KEYS_AGENCY, ids[i], &fx.keys[i], NULL), 0);
    assert_int_equal(cf_keys_generate(CF_KEYS_BROKER, NULL, &fx.keys[BROKER], NULL), 0);
    /* Every agency but the stranger, sorted by id as the directory keeps them. */
    fx.dir.serial = 3;
    randombytes_buf(fx.dir.digest, sizeof fx.dir.digest);
    fx.dir.agencies = calloc(STRANGER, sizeof *fx.dir.agencies);
    assert_non_null(fx.dir.agencies);
    for (int i = 0; i < STRANGER; i++) {
        struct cf_agency *a = &fx.dir.agencies[fx.dir.n_agencies++];
        strcpy(a->id, ids[i]);
        strcpy(a->jurisdiction, "england-wales");
        memcpy(a->sign_pk, fx.keys[i]->sign_pk, CF_SIGN_PK);
        memcpy(a->box_pk, fx.keys[i]->box_pk, CF_BOX_PK);
    }
    propose(&fx.main, NULL, CF_DECISION_RG, POLICE);
    propose(&fx.other_case, NULL, CF_DECISION_RG, POLICE);
    propose(&fx.other_decision, fx.main.h.case_id, CF_DECISION_CG, POLICE);
    propose(&fx.stranger, fx.main.h.case_id, CF_DECISION_RG, STRANGER);
    seal(&fx.main, &fx.good);
    countersign(&fx.good, fx.good_sig);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    proposal_free(&fx.main);
    proposal_free(&fx.other_case);
    proposal_free(&fx.other_decision);
    proposal_free(&fx.stranger);
    for (int i = 0; i < N_KEYS; i++)
        cf_keys_destroy(&fx.keys[i]);
    free(fx.dir.agencies);
    return 0;
}

static void test_verifies_and_opens(void **state)
{
    (void)state;
    struct cf_error err = {0};
    /* As a reader gets it: through the wire. */
    uint8_t *bytes;
    size_t len;
    struct cf_determination d;
    assert_int_equal(cf_wire_determination_encode(&fx.good, &bytes, &len), 0);
    assert_int_equal(cf_wire_determination_decode(bytes, len, &d, &err), 0);
    struct cf_record proposal;
    struct cf_header h;
    int rc = cf_determination_verify(&d, fx.good_sig, fx.keys[BROKER]->sign_pk, &fx.dir, &proposal,
                                     &h, &err);
    if (rc != 0)
        fail_msg("%s: %s", cf_error_name(rc), err.text);
    assert_memory_equal(h.message_id, fx.main.h.message_id, CF_MESSAGE_ID_LEN);
    assert_string_equal(h.sender, "police-met");
    assert_int_equal(proposal.index, 40);

    /* The liaison opens the return; a reader of the rest cannot. */
    uint8_t *payload = NULL;
    size_t plen = 0;
    assert_int_equal(cf_determination_open_return(&d, &proposal, fx.keys[LIAISON], &payload, &plen),
                     0);
    assert_int_equal(plen, sizeof return_text - 1);
    assert_memory_equal(payload, return_text, plen);
    free(payload);
    const int others[] = {HEALTH, CSC, POLICE, STRANGER};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(
            cf_determination_open_return(&d, &proposal, fx.keys[others[i]], &payload, &plen),
            CF_ENOTRECIPIENT);
    /* Without a return, nobody is its reader. */
    d.has_nrm = false;
    assert_int_equal(cf_determination_open_return(&d, &proposal, fx.keys[LIAISON], &payload, &plen),
                     CF_ENOTRECIPIENT);
    cf_wire_record_fini(&proposal);
    cf_wire_determination_fini(&d);
    free(bytes);
}

/* ---- Refusals: each edits a copy of the good determination or its countersignature ---- */

static void flip_countersignature(struct cf_determination *d, uint8_t *sig)
{
    (void)d;
    sig[17] ^= 0x04;
}

static void flip_proposal_hash(struct cf_determination *d, uint8_t *sig)
{
    (void)sig;
    d->proposal_hash[0] ^= 0x01;
}

static void vote_on_other_decision(struct cf_determination *d, uint8_t *sig)
{
    vote(&fx.main, CSC, CF_DECISION_CG, 42, &d->votes[1]);
    countersign(d, sig);
}

static void vote_on_other_proposal(struct cf_determination *d, uint8_t *sig)
{
    vote(&fx.other_decision, CSC, CF_DECISION_RG, 42, &d->votes[1]);
    countersign(d, sig);
}

static void vote_by_stranger(struct cf_determination *d, uint8_t *sig)
{
    vote(&fx.main, STRANGER, CF_DECISION_RG, 44, &d->votes[d->n_votes++]); /* sorts last */
    countersign(d, sig);
}

static void record_of_other_case(struct cf_determination *d, uint8_t *sig)
{
    (void)sig;
    d->proposal_record = fx.other_case.record;
    d->proposal_record_len = fx.other_case.record_len;
}

static void names_other_case(struct cf_determination *d, uint8_t *sig)
{
    (void)sig;
    strcpy(d->case_id, fx.other_case.h.case_id);
}

static void names_other_decision(struct cf_determination *d, uint8_t *sig)
{
    (void)sig;
    d->decision = CF_DECISION_CG;
}

/* The CG proposal of the same case, countersigned as the proposal: its record
 * says CG where the determination says RG. */
static void record_of_other_decision(struct cf_determination *d, uint8_t *sig)
{
    memcpy(d->proposal_id, fx.other_decision.h.message_id, CF_MESSAGE_ID_LEN);
    cf_envelope_hash(fx.other_decision.bytes, fx.other_decision.len, d->proposal_hash);
    d->proposal_record = fx.other_decision.record;
    d->proposal_record_len = fx.other_decision.record_len;
    countersign(d, sig);
}

static void other_return(struct cf_determination *d, uint8_t *sig)
{
    (void)sig;
    const struct cf_envelope *o = &fx.other_case.env;
    d->nrm_ciphertext = o->nrm_ciphertext;
    d->nrm_ciphertext_len = o->nrm_ciphertext_len;
    d->nrm_key = o->nrm_key;
    memcpy(d->nrm_commit, o->nrm_commit, CF_HASH_LEN);
}

static void other_return_commit(struct cf_determination *d, uint8_t *sig)
{
    (void)sig;
    memcpy(d->nrm_commit, fx.other_case.env.nrm_commit, CF_HASH_LEN);
}

/* The proposer signed B(return key bytes) too: the sealed key and its recipient. */
static void other_return_key(struct cf_determination *d, uint8_t *sig)
{
    (void)sig;
    d->nrm_key = fx.other_case.env.nrm_key;
}

static void return_key_renamed(struct cf_determination *d, uint8_t *sig)
{
    (void)sig;
    strcpy(d->nrm_key.recipient, ids[HEALTH]);
}

/* The proposal's record with one field changed, encoded again (kept for the
 * case's lifetime in a static buffer). */
static void edit_record(struct cf_determination *d, void (*edit)(struct cf_record *))
{
    static uint8_t *bytes;
    struct cf_record r;
    assert_int_equal(cf_wire_record_decode(fx.main.record, fx.main.record_len, &r, NULL), 0);
    edit(&r);
    size_t len;
    free(bytes);
    assert_int_equal(cf_wire_record_encode(&r, &bytes, &len), 0);
    cf_wire_record_fini(&r);
    d->proposal_record = bytes;
    d->proposal_record_len = len;
}

static void flip_record_signature(struct cf_record *r)
{
    r->signature[5] ^= 0x10;
}

static void unsigned_proposal(struct cf_determination *d, uint8_t *sig)
{
    (void)sig;
    edit_record(d, flip_record_signature);
}

static void make_rejected(struct cf_record *r)
{
    r->event = CF_EVENT_REJECTED;
}

static void rejected_record(struct cf_determination *d, uint8_t *sig)
{
    (void)sig;
    edit_record(d, make_rejected);
}

static void stranger_proposal(struct cf_determination *d, uint8_t *sig)
{
    memcpy(d->proposal_id, fx.stranger.h.message_id, CF_MESSAGE_ID_LEN);
    d->proposal_record = fx.stranger.record;
    d->proposal_record_len = fx.stranger.record_len;
    countersign(d, sig);
}

static void garbage_record(struct cf_determination *d, uint8_t *sig)
{
    (void)sig;
    static const uint8_t junk[] = {0xff, 0xff, 0xff};
    d->proposal_record = junk;
    d->proposal_record_len = sizeof junk;
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        void (*edit)(struct cf_determination *, uint8_t *);
        int code;
        const char *text;
    } cases[] = {
        {"a flipped bit in the countersignature", flip_countersignature, CF_ESIG,
         "the broker's countersignature does not verify"},
        {"a flipped bit in what is countersigned", flip_proposal_hash, CF_ESIG,
         "the broker's countersignature does not verify"},
        {"a vote signed over another decision", vote_on_other_decision, CF_ESIG,
         "la-csc's vote is not signed over this proposal"},
        {"a vote signed over another proposal", vote_on_other_proposal, CF_ESIG,
         "la-csc's vote is not signed over this proposal"},
        {"a vote by an agency not in the directory", vote_by_stranger, CF_EUNKNOWNAGENCY,
         "voter stranger-org is not in the directory"},
        {"the proposal record of another case", record_of_other_case, CF_EMISMATCH,
         "its proposal record is not the proposal it names"},
        {"a determination naming another case", names_other_case, CF_EMISMATCH,
         "its proposal record is not the proposal it names"},
        {"a determination naming another decision", names_other_decision, CF_EMISMATCH,
         "its proposal record is not the proposal it names"},
        {"the proposal record of another decision", record_of_other_decision, CF_EMISMATCH,
         "its proposal record is not the proposal it names"},
        {"an NRM return swapped for another proposal's", other_return, CF_EMISMATCH,
         "its NRM return is not the one the proposer signed"},
        {"an NRM return with another commitment", other_return_commit, CF_EMISMATCH,
         "its NRM return is not the one the proposer signed"},
        {"an NRM return with another proposal's sealed key", other_return_key, CF_EMISMATCH,
         "its NRM return is not the one the proposer signed"},
        {"an NRM return sealed key renamed to another agency", return_key_renamed, CF_EMISMATCH,
         "its NRM return is not the one the proposer signed"},
        {"a proposal record not signed by its sender", unsigned_proposal, CF_ESIG,
         "the proposal is not signed by police-met"},
        {"a proposal by an agency not in the directory", stranger_proposal, CF_EUNKNOWNAGENCY,
         "proposer stranger-org is not in the directory"},
        {"a proposal record of a rejection", rejected_record, CF_EMISMATCH,
         "its proposal record is not an accepted message"},
        {"a proposal record that does not decode", garbage_record, CF_EDECODE,
         "not a ChildFirst AuditRecord"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        static struct cf_determination d;
        uint8_t sig[CF_SIG_LEN];
        d = fx.good;
        memcpy(sig, fx.good_sig, sizeof sig);
        cases[i].edit(&d, sig);
        struct cf_error err = {0};
        int rc = verify(&d, sig, &err);
        if (rc != cases[i].code || !strstr(err.text, cases[i].text))
            fail_msg("%s: wanted %s (%s), got %s: %s", cases[i].what, cf_error_name(cases[i].code),
                     cases[i].text, cf_error_name(rc), err.text);
    }
    /* Untouched, it still verifies: the edits were on copies. */
    assert_int_equal(verify(&fx.good, fx.good_sig, NULL), 0);
}

/* The broker's key is the reader's pinned one, not whichever signed. */
static void test_other_broker(void **state)
{
    (void)state;
    struct cf_keys *impostor;
    assert_int_equal(cf_keys_generate(CF_KEYS_BROKER, NULL, &impostor, NULL), 0);
    uint8_t sig[CF_SIG_LEN];
    assert_int_equal(cf_determination_sign(&fx.good, impostor, sig), 0);
    struct cf_error err = {0};
    assert_int_equal(verify(&fx.good, sig, &err), CF_ESIG);
    cf_keys_destroy(&impostor);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verifies_and_opens),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_other_broker),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
