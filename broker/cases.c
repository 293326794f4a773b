/* Cases in the broker. Everything here runs inside the batch's write
 * transaction, after the message's own leaf: the case record, its timers,
 * the notices it causes and a sealed determination are committed together
 * with the message, or not at all. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "childfirst/calendar.h"
#include "childfirst/clock.h"
#include "childfirst/log.h"
#include "audit.h"
#include "cases.h"
#include "mailbox.h"
#include "notices.h"
#include "timers.h"
#include "writer.h"

int cf_cases_open(struct broker *b, struct cf_error *err)
{
    const struct cf_policy *p = b->dir->policy;
    b->calendars = calloc(p->n_jurisdictions ? p->n_jurisdictions : 1, sizeof *b->calendars);
    if (!b->calendars)
        return cf_error_set(err, CF_ENOMEM, "out of memory");
    for (size_t i = 0; i < p->n_jurisdictions; i++) {
        char path[CF_PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s.ini", b->cfg.calendars, p->jurisdictions[i].calendar);
        int rc = cf_calendar_load(path, &b->calendars[i], err);
        if (rc != 0)
            return cf_error_set(err, rc, "%s (the calendar of [%s]; set calendars in broker.ini)",
                                err->text, p->jurisdictions[i].name);
        if (!cf_calendar_covers(b->calendars[i], cf_calendar_day_of(cf_clock_now())))
            cf_log_warn("CALENDAR-OUT-OF-DATE",
                        "calendar=%s: it lists no bank holidays for "
                        "this year; add them",
                        p->jurisdictions[i].calendar);
    }
    return 0;
}

void cf_cases_close(struct broker *b)
{
    if (!b->calendars || !b->dir)
        return;
    for (size_t i = 0; i < b->dir->policy->n_jurisdictions; i++)
        cf_calendar_destroy(&b->calendars[i]);
    free(b->calendars);
    b->calendars = NULL;
}

struct cf_case_rules cf_cases_rules(const struct broker *b)
{
    return (struct cf_case_rules){b->dir, (const struct cf_calendar *const *)b->calendars};
}

/* The `case` table holds each case under the leaf that opened it, and its id
 * as a pointer to that leaf: ids are 128 random bits, so a batch's new cases
 * keyed by id each dirtied a page of their own (about 5.6 KB written per
 * referral), where keyed by leaf they go in side by side, and only the small
 * pointers scatter. An id key holding anything but 8 bytes is a case stored
 * before, in place; it is moved to its leaf when next stored. */
static int case_at(const struct broker *b, MDB_txn *txn, const char *case_id, MDB_val *state,
                   uint64_t *leaf)
{
    MDB_val k = {strlen(case_id), (void *)case_id};
    int rc = mdb_get(txn, b->store.cases, &k, state);
    *leaf = UINT64_MAX;
    if (rc != 0 || state->mv_size != 8)
        return cf_store_error(rc);
    uint8_t key[8];
    memcpy(key, state->mv_data, 8);
    *leaf = cf_store_get_u64(key);
    k = (MDB_val){8, key};
    rc = mdb_get(txn, b->store.cases, &k, state);
    return rc == MDB_NOTFOUND ? CF_ECORRUPT : cf_store_error(rc);
}

int cf_cases_load(const struct broker *b, MDB_txn *txn, const char *case_id, struct cf_case *c)
{
    MDB_val v;
    uint64_t leaf;
    int rc = case_at(b, txn, case_id, &v, &leaf);
    if (rc != 0)
        return rc;
    return cf_wire_case_decode(v.mv_data, v.mv_size, c, NULL) == 0 ? 0 : CF_ECORRUPT;
}

int cf_cases_store(struct broker *b, MDB_txn *txn, const struct cf_case *old,
                   const struct cf_case *c)
{
    MDB_val v;
    uint64_t leaf;
    int rc = case_at(b, txn, c->case_id, &v, &leaf);
    if (rc != 0 && rc != CF_ENOTFOUND)
        return rc;
    uint8_t *bytes, key[8];
    size_t len;
    if ((rc = cf_wire_case_encode(c, &bytes, &len)) != 0)
        return rc;
    cf_store_put_u64(key, c->opened_leaf);
    rc = cf_store_put(&b->store, txn, b->store.cases, key, 8, bytes, len);
    free(bytes);
    if (rc == 0 && leaf != c->opened_leaf)
        rc = cf_store_put(&b->store, txn, b->store.cases, c->case_id, strlen(c->case_id), key, 8);
    return rc == 0 ? cf_timers_case(b, txn, old, c) : rc;
}

bool cf_cases_member(const struct cf_case *c, const char *agency)
{
    for (size_t i = 0; i < c->n_members; i++)
        if (strcmp(c->members[i].agency, agency) == 0)
            return true;
    return false;
}

/* A notice about case c, routed with the case's parties. */
static int case_notice(struct broker *b, MDB_txn *txn, uint64_t *size, enum cf_notice_kind kind,
                       const struct cf_case *c, const struct cf_header *about, uint64_t about_leaf,
                       uint64_t now)
{
    struct cf_notice *n = malloc(sizeof *n);
    if (!n)
        return CF_ENOMEM;
    cf_notices_about(n, c, about, about_leaf);
    struct cf_parties parties;
    cf_case_parties(c, NULL, &parties);
    struct cf_route_ctx ctx = {
        .la_code = c->la_code, .sender = about ? about->sender : NULL, .parties = &parties};
    int rc = cf_notices_issue(b, txn, size, kind, n, &ctx, now);
    free(n);
    return rc;
}

static int by_voter(const void *x, const void *y)
{
    return strcmp(((const struct cf_vote_record *)x)->voter,
                  ((const struct cf_vote_record *)y)->voter);
}

/* Copies an LMDB value out: the next write in this transaction may move it. */
static uint8_t *copy_out(MDB_val v)
{
    uint8_t *p = malloc(v.mv_size ? v.mv_size : 1);
    if (p)
        memcpy(p, v.mv_data, v.mv_size);
    return p;
}

/* Seals the determination of c's proposal, which its votes approve: a leaf
 * holding its hash and the broker's countersignature, its bytes beside the
 * record, and a mailbox entry for each final reader and the liaison. */
static int seal(struct broker *b, MDB_txn *txn, uint64_t *size, const struct cf_case *c,
                uint64_t now, uint64_t *leaf_out)
{
    MDB_val rv, ev;
    uint8_t *record = NULL, *envelope = NULL, *bytes = NULL;
    size_t record_len = 0, envelope_len = 0, len = 0;
    struct cf_envelope env;
    struct cf_header h;
    struct cf_determination *d = calloc(1, sizeof *d);
    memset(&env, 0, sizeof env);
    int rc = d ? 0 : CF_ENOMEM;
    if (rc == 0 && (rc = cf_store_record(&b->store, txn, c->proposal_leaf, &rv)) == 0 &&
        (rc = cf_store_envelope(&b->store, txn, c->proposal_leaf, &ev)) == 0) {
        record_len = rv.mv_size, envelope_len = ev.mv_size;
        record = copy_out(rv), envelope = copy_out(ev);
        rc = record && envelope ? 0 : CF_ENOMEM;
    }
    if (rc == 0 && cf_envelope_decode(envelope, envelope_len, &env, &h, NULL) != 0)
        rc = CF_ECORRUPT;
    if (rc != 0)
        goto out;
    d->version = CF_PROTOCOL_VERSION;
    randombytes_buf(d->id, sizeof d->id);
    memcpy(d->case_id, c->case_id, sizeof d->case_id);
    memcpy(d->proposal_id, c->proposal_id, sizeof d->proposal_id);
    d->proposal_leaf = c->proposal_leaf;
    cf_envelope_hash(envelope, envelope_len, d->proposal_hash);
    d->decision = c->proposal_decision;
    d->n_votes = c->n_votes;
    memcpy(d->votes, c->votes, c->n_votes * sizeof c->votes[0]);
    qsort(d->votes, d->n_votes, sizeof d->votes[0], by_voter);
    memcpy(d->directory_digest, b->dir->digest, sizeof d->directory_digest);
    d->created_at = now;
    d->n_recipients = h.n_recipients;
    memcpy(d->recipients, h.recipients, h.n_recipients * sizeof(cf_id));
    bool liaison_listed = false;
    for (size_t i = 0; i < d->n_recipients; i++)
        liaison_listed |= strcmp(d->recipients[i], env.nrm_key.recipient) == 0;
    if (env.has_nrm && !liaison_listed && d->n_recipients < CF_MAX_RECIPIENTS)
        memcpy(d->recipients[d->n_recipients++], env.nrm_key.recipient, sizeof(cf_id));
    d->proposal_record = record;
    d->proposal_record_len = record_len;
    d->has_nrm = env.has_nrm;
    d->nrm_ciphertext = env.nrm_ciphertext;
    d->nrm_ciphertext_len = env.nrm_ciphertext_len;
    d->nrm_key = env.nrm_key;
    memcpy(d->nrm_commit, env.nrm_commit, sizeof d->nrm_commit);
    struct cf_record rec = {.time = now,
                            .event = CF_EVENT_DETERMINATION,
                            .has_determination = true,
                            .determination_of = c->proposal_leaf};
    if ((rc = cf_wire_determination_encode(d, &bytes, &len)) != 0 ||
        (rc = cf_determination_sign(d, b->keys, rec.determination_signature)) != 0)
        goto out;
    cf_envelope_hash(bytes, len, rec.determination_hash);
    uint64_t leaf = *size;
    if ((rc = cf_audit_append(b, txn, size, &rec)) != 0 ||
        (rc = cf_store_put_last(&b->store, txn, b->store.envelope, leaf, bytes, len)) != 0)
        goto out;
    for (size_t i = 0; rc == 0 && i < d->n_recipients; i++)
        rc = cf_mailbox_put(&b->store, txn, d->recipients[i], leaf);
    if (rc == 0)
        rc = cf_timers_message(b, txn, c->jurisdiction, c->urgency, leaf, now);
    *leaf_out = leaf;
    cf_log_info("DETERMINATION-SEALED", "case=%s decision=%s votes=%zu leaf=%" PRIu64, c->case_id,
                cf_header_decision_name(d->decision), d->n_votes, leaf);
out:
    cf_envelope_fini(&env);
    free(record), free(envelope), free(bytes), free(d);
    return rc;
}

int cf_cases_accepted(struct broker *b, MDB_txn *txn, uint64_t *size, const struct cf_header *h,
                      uint64_t leaf, uint64_t now, bool *members_only)
{
    *members_only = false;
    struct cf_case *old = malloc(2 * sizeof *old), *c = old + 1;
    if (!old)
        return CF_ENOMEM;
    bool existed = false;
    int rc = 0;
    if (h->type != CF_TYPE_REFERRAL) {
        if ((rc = cf_cases_load(b, txn, h->case_id, old)) != 0)
            goto out; /* check 8 found it: anything else is the store's fault */
        existed = true;
        *c = *old;
    }
    struct cf_case_rules rules = cf_cases_rules(b);
    struct cf_case_effects fx;
    struct cf_error err = {0};
    if ((rc = cf_case_apply(c, h, leaf, now, &rules, &fx, &err)) != 0) {
        cf_log_error("CASE-APPLY-FAILED", "case=%s code=%s", h->case_id, cf_error_name(rc));
        goto out;
    }
    if ((rc = cf_timers_message(b, txn, h->jurisdiction, h->urgency, leaf, now)) != 0)
        goto out;
    if (h->type == CF_TYPE_REFERRAL)
        rc = case_notice(b, txn, size, CF_NOTICE_NEW_REFERRAL, c, h, leaf, now);
    if (rc == 0 && fx.convened)
        rc = case_notice(b, txn, size, CF_NOTICE_CONVENED, c, h, leaf, now);
    if (rc == 0 && fx.transferred)
        rc = case_notice(b, txn, size, CF_NOTICE_TRANSFER_IN, c, h, leaf, now);
    if (rc == 0 && fx.proposal_rejected)
        rc = case_notice(b, txn, size, CF_NOTICE_DETERMINATION_REJECTED, existed ? old : c, h, leaf,
                         now);
    if (rc == 0 && fx.quorum_met) {
        uint64_t sealed = 0;
        if ((rc = seal(b, txn, size, c, now, &sealed)) == 0 &&
            (rc = cf_case_apply_determination(c, sealed, now, &rules, &err)) == 0)
            rc = case_notice(b, txn, size, CF_NOTICE_DETERMINATION, c, NULL, sealed, now);
    }
    if (rc == 0)
        rc = cf_cases_store(b, txn, existed ? old : NULL, c);
    *members_only = fx.hold;
out:
    free(old);
    return rc;
}

int cf_cases_inquorate(struct broker *b, MDB_txn *txn, uint64_t *size, const struct cf_header *h,
                       uint64_t now)
{
    struct cf_case *old = malloc(2 * sizeof *old), *c = old + 1;
    if (!old)
        return CF_ENOMEM;
    int rc = cf_cases_load(b, txn, h->case_id, old);
    if (rc == 0) {
        *c = *old;
        uint64_t leaf = *size;
        struct cf_case_rules rules = cf_cases_rules(b);
        struct cf_error err = {0};
        if ((rc = case_notice(b, txn, size, CF_NOTICE_INQUORATE, c, NULL, 0, now)) == 0 &&
            (rc = cf_case_apply_inquorate(c, leaf, now, &rules, &err)) == 0)
            rc = cf_cases_store(b, txn, old, c);
    }
    free(old);
    return rc;
}

/* Parties see a case's state: whoever holds a part in it, and the agencies
 * that serve its LA (its children's services and duty team among them). */
static bool may_see(const struct broker *b, const struct cf_case *c, const char *actor)
{
    const struct cf_agency *a = cf_directory_find(b->dir, actor);
    if (!a)
        return false;
    if (cf_directory_serves(a, c->la_code) || strcmp(c->referrer, actor) == 0 ||
        strcmp(c->owner, actor) == 0 || cf_cases_member(c, actor))
        return true;
    for (size_t i = 0; i < c->n_guardians; i++)
        if (strcmp(c->guardians[i], actor) == 0)
            return true;
    return false;
}

static int by_due(const void *x, const void *y)
{
    const struct cf_case_deadline *a = x, *b = y;
    return a->due < b->due ? -1 : a->due > b->due;
}

void cf_cases_info(struct broker *b, const char *actor, const char *case_id, struct cf_frame *out)
{
    struct cf_case *c = malloc(sizeof *c);
    MDB_txn *txn = NULL;
    int rc = c ? cf_writer_txn(b, &txn) : CF_ENOMEM;
    if (rc == 0)
        rc = cf_cases_load(b, txn, case_id, c);
    memset(out, 0, sizeof *out);
    snprintf(out->case_id, sizeof out->case_id, "%s", case_id);
    if (rc == 0 && !may_see(b, c, actor))
        rc = CF_ENOTPARTY;
    if (rc != 0) {
        /* A CaseInfo with no state: the same answer whether the case exists
         * or not, so a stranger learns nothing of it. */
        out->kind = CF_FRAME_CASE_INFO;
        if (rc != CF_ENOTPARTY && rc != CF_ENOTFOUND)
            cf_log_warn("CASE-INFO-FAILED", "case=%s code=%s", case_id, cf_error_name(rc));
        free(c);
        return;
    }
    struct cf_case_info *ci = &out->case_info;
    out->kind = CF_FRAME_CASE_INFO;
    snprintf(ci->state, sizeof ci->state, "%s", cf_case_state_name(c->state));
    memcpy(ci->jurisdiction, c->jurisdiction, sizeof ci->jurisdiction);
    memcpy(ci->la_code, c->la_code, sizeof ci->la_code);
    memcpy(ci->owner, c->owner, sizeof ci->owner);
    qsort(c->deadlines, c->n_deadlines, sizeof c->deadlines[0], by_due);
    ci->n_deadlines = c->n_deadlines;
    for (size_t i = 0; i < c->n_deadlines; i++) {
        snprintf(ci->deadlines[i].name, sizeof ci->deadlines[i].name, "%s",
                 cf_policy_deadline_name(c->deadlines[i].kind));
        ci->deadlines[i].due = c->deadlines[i].due;
    }
    ci->updated_leaf = c->updated_leaf;
    free(c);
}
