/* Fuzz target: the stored and signed layouts. The first byte picks the decoder
 * (audit record, notice, determination, case record, outbox entry) for the rest.
 * Properties: the canonical decoders (record, notice, determination) accept only
 * bytes that encoding the result gives again, so each has one leaf hash or one
 * signed form; the others keep every field through encode and decode; and a
 * decoded determination never verifies, since the fuzzer holds none of the
 * proposer's keys, but is refused with an error code, however it is countersigned. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "childfirst/determination.h"
#include "childfirst/directory.h"
#include "childfirst/wire.h"

enum which { RECORD, NOTICE, DETERMINATION, CASE, OUTBOX, WHICH_COUNT };

static bool canonical(const uint8_t *data, size_t size, const uint8_t *again, size_t len)
{
    return len == size && (size == 0 || memcmp(again, data, size) == 0);
}

static void record(const uint8_t *data, size_t size)
{
    struct cf_record r;
    if (cf_wire_record_decode(data, size, &r, NULL) == 0) {
        uint8_t *again;
        size_t len;
        if (cf_wire_record_encode(&r, &again, &len) != 0 || !canonical(data, size, again, len))
            abort();
        free(again);
    }
    cf_wire_record_fini(&r);
}

static void notice(const uint8_t *data, size_t size)
{
    struct cf_notice n;
    if (cf_wire_notice_decode(data, size, &n, NULL) != 0)
        return;
    uint8_t *again;
    size_t len;
    if (cf_wire_notice_encode(&n, &again, &len) != 0 || !canonical(data, size, again, len))
        abort();
    free(again);
}

/* The broker key the harness countersigns with, the same every run, and a small
 * directory whose agencies' keys are fresh each run: no input can carry a
 * signature by them. */
static struct cf_keys broker;
static struct cf_agency agencies[2];
static struct cf_directory dir;

static void setup(void)
{
    if (sodium_init() < 0)
        abort();
    uint8_t seed[crypto_sign_SEEDBYTES];
    memset(seed, 0x5a, sizeof seed);
    broker.kind = CF_KEYS_BROKER;
    strcpy(broker.id, "broker");
    crypto_sign_seed_keypair(broker.sign_pk, broker.sign_sk, seed);
    static const char *const ids[2] = {"la-csc", "police-seed"}; /* sorted, as the directory is */
    for (size_t i = 0; i < 2; i++) {
        uint8_t sk[crypto_sign_SECRETKEYBYTES];
        strcpy(agencies[i].id, ids[i]);
        strcpy(agencies[i].jurisdiction, "england-wales");
        crypto_sign_keypair(agencies[i].sign_pk, sk);
        crypto_box_keypair(agencies[i].box_pk, sk);
    }
    dir.agencies = agencies;
    dir.n_agencies = 2;
}

static void verify_refused(const struct cf_determination *d, const uint8_t sig[CF_SIG_LEN],
                           int must)
{
    struct cf_record proposal;
    struct cf_header h;
    struct cf_error err;
    int rc = cf_determination_verify(d, sig, broker.sign_pk, &dir, &proposal, &h, &err);
    cf_wire_record_fini(&proposal);
    if (rc >= 0 || (must && rc != must) || cf_error_from_name(cf_error_name(rc)) != rc)
        abort();
}

static void determination(const uint8_t *data, size_t size)
{
    static struct cf_determination d;
    if (cf_wire_determination_decode(data, size, &d, NULL) == 0) {
        uint8_t *again;
        size_t len;
        if (cf_wire_determination_encode(&d, &again, &len) != 0 ||
            !canonical(data, size, again, len))
            abort();
        free(again);
        uint8_t sig[CF_SIG_LEN] = {0};
        verify_refused(&d, sig, CF_ESIG);
        /* Countersigned by the key it is checked with, it gets as far as the
         * proposal's record, header and sender. Unsorted votes have no layout. */
        if (cf_determination_sign(&d, &broker, sig) == 0)
            verify_refused(&d, sig, 0);
    }
    cf_wire_determination_fini(&d);
}

static bool same_case(const struct cf_case *a, const struct cf_case *b)
{
    if (strcmp(a->case_id, b->case_id) || a->state != b->state || strcmp(a->la_code, b->la_code) ||
        strcmp(a->jurisdiction, b->jurisdiction) || strcmp(a->referrer, b->referrer) ||
        strcmp(a->owner, b->owner) || a->n_guardians != b->n_guardians ||
        strcmp(a->lead_staff_ref, b->lead_staff_ref) ||
        strcmp(a->chair_staff_ref, b->chair_staff_ref) || a->n_members != b->n_members ||
        a->proposal_leaf != b->proposal_leaf ||
        memcmp(a->proposal_id, b->proposal_id, sizeof a->proposal_id) ||
        a->proposal_decision != b->proposal_decision || a->before_proposal != b->before_proposal ||
        a->n_voters != b->n_voters || a->n_votes != b->n_votes ||
        memcmp(a->first_at, b->first_at, sizeof a->first_at) ||
        memcmp(a->last_at, b->last_at, sizeof a->last_at) || a->inquorate_at != b->inquorate_at ||
        a->transfer_at != b->transfer_at || a->rg_at != b->rg_at || a->cg_at != b->cg_at ||
        a->n_deadlines != b->n_deadlines || a->opened_leaf != b->opened_leaf ||
        a->updated_leaf != b->updated_leaf || a->urgency != b->urgency ||
        a->immediate_risk != b->immediate_risk)
        return false;
    for (size_t i = 0; i < a->n_guardians; i++)
        if (strcmp(a->guardians[i], b->guardians[i]))
            return false;
    for (size_t i = 0; i < a->n_members; i++)
        if (strcmp(a->members[i].agency, b->members[i].agency) ||
            a->members[i].standing != b->members[i].standing)
            return false;
    for (size_t i = 0; i < a->n_voters; i++)
        if (strcmp(a->voters[i], b->voters[i]))
            return false;
    for (size_t i = 0; i < a->n_votes; i++)
        if (strcmp(a->votes[i].voter, b->votes[i].voter) ||
            a->votes[i].approve != b->votes[i].approve ||
            memcmp(a->votes[i].signature, b->votes[i].signature, CF_SIG_LEN) ||
            a->votes[i].leaf != b->votes[i].leaf)
            return false;
    for (size_t i = 0; i < a->n_deadlines; i++) {
        const struct cf_case_deadline *x = &a->deadlines[i], *y = &b->deadlines[i];
        if (x->kind != y->kind || x->due != y->due || x->near != y->near ||
            x->near_sent != y->near_sent || x->breach_sent != y->breach_sent)
            return false;
    }
    return true;
}

static void case_record(const uint8_t *data, size_t size)
{
    static struct cf_case c, back;
    if (cf_wire_case_decode(data, size, &c, NULL) != 0)
        return;
    uint8_t *again;
    size_t len;
    if (cf_wire_case_encode(&c, &again, &len) != 0)
        abort();
    /* Encoding writes every first_at and last_at entry: a record at the limit may outgrow it. */
    int rc = cf_wire_case_decode(again, len, &back, NULL);
    if (!(rc == CF_ETOOBIG && len > size) && (rc != 0 || !same_case(&c, &back)))
        abort();
    free(again);
}

static void outbox(const uint8_t *data, size_t size)
{
    struct cf_outbox_entry e, back;
    uint8_t *copy, *copy2 = NULL, *again = NULL;
    size_t len;
    if (cf_wire_outbox_decode(data, size, &e, &copy, NULL) == 0) {
        if (cf_wire_outbox_encode(&e, &again, &len) != 0 ||
            cf_wire_outbox_decode(again, len, &back, &copy2, NULL) != 0 ||
            back.envelope_len != e.envelope_len ||
            memcmp(back.envelope, e.envelope, e.envelope_len) != 0 ||
            strcmp(back.spool_file, e.spool_file) != 0 || back.queued_at != e.queued_at)
            abort();
    }
    free(copy);
    free(copy2);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir.agencies)
        setup();
    if (size == 0)
        return 0;
    const uint8_t *rest = data + 1;
    size--;
    switch ((enum which)(data[0] % WHICH_COUNT)) {
    case RECORD:
        record(rest, size);
        break;
    case NOTICE:
        notice(rest, size);
        break;
    case DETERMINATION:
        determination(rest, size);
        break;
    case CASE:
        case_record(rest, size);
        break;
    case OUTBOX:
    case WHICH_COUNT:
        outbox(rest, size);
        break;
    }
    return 0;
}
