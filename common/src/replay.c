/* Replay of a log into its cases. Each case lives as the CaseRecord bytes the
 * broker would store, and every leaf decodes it, applies itself through
 * case.c and encodes it again, exactly as the broker's load, apply and store
 * do: so whatever the encoding keeps or drops, replay keeps or drops too. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "childfirst/envelope.h"
#include "childfirst/replay.h"
#include "childfirst/wire.h"

struct cached_calendar {
    char name[CF_JURISDICTION_MAX + 1];
    struct cf_calendar *cal;
};

struct cf_replay {
    struct cf_replay_options o;
    char *calendars; /* o.calendars points here */
    uint64_t size, last_time, redacted;
    struct cf_directory *dir;        /* in force */
    const struct cf_calendar **by_j; /* by jurisdiction index in dir->policy */
    struct cached_calendar *cals;    /* every calendar loaded so far */
    size_t n_cals;
    struct cf_replay_case **cases; /* in referral order */
    size_t n_cases, cap_cases;
    uint32_t *slots; /* open addressing: case index + 1, 0 empty */
    size_t n_slots;
    uint32_t *leaf_case; /* by leaf: case index + 1, 0 none */
    uint64_t cap_leaves;
    struct cf_replay_finding *findings;
    size_t n_findings, cap_findings;
    struct cf_case work; /* the case a leaf is changing, decoded */
};

int cf_replay_new(const struct cf_replay_options *o, struct cf_replay **out, struct cf_error *err)
{
    struct cf_replay *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r)
        return cf_error_set(err, CF_ENOMEM, "out of memory");
    r->o = *o;
    if (o->calendars && !(r->calendars = strdup(o->calendars))) {
        free(r);
        return cf_error_set(err, CF_ENOMEM, "out of memory");
    }
    r->o.calendars = r->calendars;
    *out = r;
    return 0;
}

void cf_replay_destroy(struct cf_replay **rp)
{
    if (!rp || !*rp)
        return;
    struct cf_replay *r = *rp;
    for (size_t i = 0; i < r->n_cases; i++) {
        struct cf_replay_case *rc = r->cases[i];
        for (size_t k = 0; k < rc->n_entries; k++) {
            free(rc->entries[k].recipients);
            free(rc->entries[k].outstanding);
        }
        free(rc->entries);
        free(rc->record);
        free(rc);
    }
    for (size_t i = 0; i < r->n_cals; i++)
        cf_calendar_destroy(&r->cals[i].cal);
    free(r->cals);
    free(r->by_j);
    cf_directory_destroy(&r->dir);
    free(r->cases);
    free(r->slots);
    free(r->leaf_case);
    free(r->findings);
    free(r->calendars);
    free(r);
    *rp = NULL;
}

/* ---- Lookups ---- */

static size_t hash_id(const char *id)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *id; id++)
        h = (h ^ (uint8_t)*id) * 1099511628211ull;
    return (size_t)h;
}

static struct cf_replay_case *find(const struct cf_replay *r, const char *case_id)
{
    if (r->n_slots == 0)
        return NULL;
    for (size_t i = hash_id(case_id) & (r->n_slots - 1);; i = (i + 1) & (r->n_slots - 1)) {
        uint32_t s = r->slots[i];
        if (s == 0)
            return NULL;
        if (strcmp(r->cases[s - 1]->case_id, case_id) == 0)
            return r->cases[s - 1];
    }
}

static void slot_put(uint32_t *slots, size_t n, const char *case_id, uint32_t value)
{
    size_t i = hash_id(case_id) & (n - 1);
    while (slots[i])
        i = (i + 1) & (n - 1);
    slots[i] = value;
}

static int add_case(struct cf_replay *r, const char *case_id, struct cf_replay_case **out)
{
    if (r->n_cases == UINT32_MAX - 1)
        return CF_ETOOBIG;
    if (r->n_cases == r->cap_cases) {
        size_t cap = r->cap_cases ? 2 * r->cap_cases : 64;
        void *p = realloc(r->cases, cap * sizeof *r->cases);
        if (!p)
            return CF_ENOMEM;
        r->cases = p;
        r->cap_cases = cap;
    }
    if (2 * (r->n_cases + 1) > r->n_slots) { /* keep the table at most half full */
        size_t n = r->n_slots ? 2 * r->n_slots : 128;
        uint32_t *slots = calloc(n, sizeof *slots);
        if (!slots)
            return CF_ENOMEM;
        for (size_t i = 0; i < r->n_cases; i++)
            slot_put(slots, n, r->cases[i]->case_id, (uint32_t)i + 1);
        free(r->slots);
        r->slots = slots;
        r->n_slots = n;
    }
    struct cf_replay_case *rc = calloc(1, sizeof *rc);
    if (!rc)
        return CF_ENOMEM;
    snprintf(rc->case_id, sizeof rc->case_id, "%s", case_id);
    r->cases[r->n_cases++] = rc;
    slot_put(r->slots, r->n_slots, case_id, (uint32_t)r->n_cases);
    *out = rc;
    return 0;
}

static uint32_t index_of(const struct cf_replay *r, const struct cf_replay_case *rc)
{
    for (size_t i = hash_id(rc->case_id) & (r->n_slots - 1);; i = (i + 1) & (r->n_slots - 1))
        if (r->slots[i] && r->cases[r->slots[i] - 1] == rc)
            return r->slots[i];
}

/* Remembers that leaf `index` belongs to case rc. */
static int tie_leaf(struct cf_replay *r, uint64_t index, const struct cf_replay_case *rc)
{
    if (index >= r->cap_leaves) {
        uint64_t cap = r->cap_leaves ? 2 * r->cap_leaves : 1024;
        while (cap <= index)
            cap *= 2;
        if (cap > SIZE_MAX / sizeof(uint32_t))
            return CF_ENOMEM;
        uint32_t *p = realloc(r->leaf_case, (size_t)cap * sizeof *p);
        if (!p)
            return CF_ENOMEM;
        memset(p + r->cap_leaves, 0, (size_t)(cap - r->cap_leaves) * sizeof *p);
        r->leaf_case = p;
        r->cap_leaves = cap;
    }
    r->leaf_case[index] = index_of(r, rc);
    return 0;
}

static struct cf_replay_case *case_of_leaf(const struct cf_replay *r, uint64_t index)
{
    if (index >= r->cap_leaves || r->leaf_case[index] == 0)
        return NULL;
    return r->cases[r->leaf_case[index] - 1];
}

/* ---- Findings ---- */

static int finding(struct cf_replay *r, uint64_t index, int code, const char *case_id,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int finding(struct cf_replay *r, uint64_t index, int code, const char *case_id,
                   const char *fmt, ...)
{
    if (r->n_findings == r->cap_findings) {
        size_t cap = r->cap_findings ? 2 * r->cap_findings : 16;
        void *p = realloc(r->findings, cap * sizeof *r->findings);
        if (!p)
            return CF_ENOMEM;
        r->findings = p;
        r->cap_findings = cap;
    }
    struct cf_replay_finding *f = &r->findings[r->n_findings++];
    f->index = index;
    f->code = code;
    snprintf(f->case_id, sizeof f->case_id, "%s", case_id ? case_id : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->text, sizeof f->text, fmt, ap);
    va_end(ap);
    return 0;
}

/* ---- The directory and calendars in force ---- */

static const struct cf_calendar *calendar_named(struct cf_replay *r, const char *name,
                                                struct cf_error *err, uint64_t index)
{
    for (size_t i = 0; i < r->n_cals; i++)
        if (strcmp(r->cals[i].name, name) == 0)
            return r->cals[i].cal;
    void *p = realloc(r->cals, (r->n_cals + 1) * sizeof *r->cals);
    if (!p) {
        cf_error_set(err, CF_ENOMEM, "out of memory");
        return NULL;
    }
    r->cals = p;
    struct cached_calendar *c = &r->cals[r->n_cals];
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.ini", r->o.calendars, name);
    snprintf(c->name, sizeof c->name, "%s", name);
    struct cf_error why = {0};
    if (cf_calendar_load(path, &c->cal, &why) != 0) {
        cf_error_set(err, CF_ECONFIG,
                     "index %" PRIu64 ": the directory in force uses the calendar %s, which "
                     "cannot be loaded: %s (give the broker's calendars folder)",
                     index, name, why.text);
        return NULL;
    }
    r->n_cals++;
    return c->cal;
}

static int apply_config(struct cf_replay *r, const struct cf_record *rec, struct cf_error *err)
{
    struct cf_bundle b = {(uint8_t *)rec->agencies, (uint8_t *)rec->policy, (uint8_t *)rec->sig,
                          rec->agencies_len,        rec->policy_len,        rec->sig_len};
    struct cf_directory *d = NULL;
    struct cf_error why = {0};
    int rc = r->o.authority_pk ? cf_directory_load_mem(&b, r->o.authority_pk, 0, &d, &why)
                               : cf_directory_load_logged(&b, &d, &why);
    if (rc != 0)
        return cf_error_set(err, CF_ECONFIG,
                            "index %" PRIu64 ": the directory of this config leaf does not load: "
                            "%s (%s)",
                            rec->index, why.text, cf_error_name(rc));
    if (r->dir && d->serial < r->dir->serial &&
        (rc = finding(r, rec->index, CF_ESERIAL, NULL,
                      "the directory goes back from serial %" PRIu64 " to %" PRIu64, r->dir->serial,
                      d->serial)) != 0) {
        cf_directory_destroy(&d);
        return rc;
    }
    const struct cf_policy *p = d->policy;
    const struct cf_calendar **by_j = calloc(p->n_jurisdictions + 1, sizeof *by_j);
    if (!by_j) {
        cf_directory_destroy(&d);
        return cf_error_set(err, CF_ENOMEM, "out of memory");
    }
    for (size_t i = 0; r->o.calendars && i < p->n_jurisdictions; i++)
        if (!(by_j[i] = calendar_named(r, p->jurisdictions[i].calendar, err, rec->index))) {
            free(by_j);
            cf_directory_destroy(&d);
            return err && err->code ? err->code : CF_ECONFIG;
        }
    cf_directory_destroy(&r->dir);
    free(r->by_j);
    r->dir = d;
    r->by_j = by_j;
    return 0;
}

static struct cf_case_rules rules_of(const struct cf_replay *r)
{
    return (struct cf_case_rules){
        r->dir, r->o.calendars ? (const struct cf_calendar *const *)r->by_j : NULL};
}

/* ---- Cases ---- */

static int load_work(struct cf_replay *r, const struct cf_replay_case *rc)
{
    return cf_wire_case_decode(rc->record, rc->record_len, &r->work, NULL) == 0 ? 0 : CF_ECORRUPT;
}

static int store_work(struct cf_replay *r, struct cf_replay_case *rc)
{
    uint8_t *bytes;
    size_t len;
    int rc_ = cf_wire_case_encode(&r->work, &bytes, &len);
    if (rc_ != 0)
        return rc_;
    free(rc->record);
    rc->record = bytes;
    rc->record_len = len;
    return 0;
}

static int copy_ids(cf_id **dst, size_t *n, const cf_id *src, size_t count)
{
    *dst = NULL;
    *n = 0;
    if (count == 0)
        return 0;
    if (!(*dst = malloc(count * sizeof(cf_id))))
        return CF_ENOMEM;
    memcpy(*dst, src, count * sizeof(cf_id));
    *n = count;
    return 0;
}

/* A new timeline entry of case rc for leaf `rec`, or NULL (without timelines,
 * or out of memory: *rcode says which). */
static struct cf_replay_entry *entry_new(struct cf_replay *r, struct cf_replay_case *rc,
                                         const struct cf_record *rec, int *rcode)
{
    *rcode = 0;
    if (!r->o.timelines)
        return NULL;
    if (rc->n_entries == rc->cap_entries) {
        size_t cap = rc->cap_entries ? 2 * rc->cap_entries : 16;
        void *p = realloc(rc->entries, cap * sizeof *rc->entries);
        if (!p) {
            *rcode = CF_ENOMEM;
            return NULL;
        }
        rc->entries = p;
        rc->cap_entries = cap;
    }
    struct cf_replay_entry *e = &rc->entries[rc->n_entries++];
    memset(e, 0, sizeof *e);
    e->index = rec->index;
    e->time = rec->time;
    e->event = rec->event;
    return e;
}

/* The entry's view of the case after its leaf. */
static void entry_case(struct cf_replay_entry *e, const struct cf_case *c)
{
    if (!e)
        return;
    e->state = c->state;
    memcpy(e->la_code, c->la_code, sizeof e->la_code);
    memcpy(e->jurisdiction, c->jurisdiction, sizeof e->jurisdiction);
}

/* Checks 4, 7, 8 and 9 as the broker ran them, from what the leaf and the
 * state before it hold; each failure is a finding. */
static int check_accepted(struct cf_replay *r, const struct cf_record *rec,
                          const struct cf_header *h, const struct cf_replay_case *rc,
                          const struct cf_case *c, const uint8_t *envelope, size_t envelope_len)
{
    const struct cf_directory *d = r->dir;
    const struct cf_policy *p = d->policy;
    uint64_t i = rec->index;
    const char *id = h->case_id;
    struct cf_error why = {0};
    const struct cf_agency *a = cf_directory_find(d, h->sender);
    if (!a)
        return finding(r, i, CF_EUNKNOWNAGENCY, id,
                       "the sender %s is not in the directory in force (serial %" PRIu64 ")",
                       h->sender, d->serial);
    if (rec->actor[0] && strcmp(rec->actor, h->sender) != 0 &&
        finding(r, i, CF_ESENDER, id, "the header's sender %s is not the connection's %s",
                h->sender, rec->actor) != 0)
        return CF_ENOMEM;
    struct cf_envelope_digests dg;
    cf_record_digests(rec, &dg);
    if (cf_envelope_verify_digests(&dg, rec->signature, a->sign_pk) != 0 &&
        finding(r, i, CF_ESIG, id, "the sender's signature does not verify against %s's key",
                h->sender) != 0)
        return CF_ENOMEM;
    if (!cf_policy_may_send(p, a->roles, h->type))
        return finding(r, i, CF_EROLE, id, "%s's roles may not send a %s", h->sender,
                       cf_header_type_name(h->type));
    struct cf_case_rules rules = rules_of(r);
    int rc_ = cf_case_check(c, h, rec->time, &rules, &why);
    if (rc_ != 0)
        return finding(r, i, rc_, id, "the case rules refuse it: %s", why.text);
    if (h->type == CF_TYPE_VOTE && rc && rc->has_proposal) {
        struct cf_vote_subject s = {.case_id = h->case_id, .decision = h->decision};
        memcpy(s.proposal_id, h->vote.proposal_id, sizeof s.proposal_id);
        s.proposal = rc->proposal;
        if (cf_envelope_vote_verify(&s, h->vote.approve, h->sender, h->vote.signature,
                                    a->sign_pk) != 0)
            return finding(r, i, CF_ESIG, id,
                           "the vote's signature does not cover the open proposal");
    }
    const struct cf_jurisdiction *j;
    if (cf_policy_jurisdiction_of(p, h->la_code, &j) != 0 || strcmp(j->name, h->jurisdiction) != 0)
        return finding(r, i, CF_EJURISDICTION, id, "la_code %s is not in the jurisdiction %s",
                       h->la_code, h->jurisdiction);
    struct cf_parties parties;
    struct cf_route_ctx ctx;
    cf_case_route_ctx(c, h, &parties, &ctx);
    if ((rc_ = cf_policy_recipients_match(p, d, &ctx, h->recipients, h->n_recipients, &why)) != 0)
        return finding(r, i, rc_, id, "%s", why.text);
    if (!envelope)
        return 0; /* the key list and the return's reader went with the envelope */
    struct cf_envelope env;
    struct cf_header eh;
    memset(&env, 0, sizeof env);
    rc_ = cf_envelope_decode(envelope, envelope_len, &env, &eh, &why);
    if (rc_ == 0 && env.has_nrm) {
        cf_id reader;
        rc_ = cf_policy_nrm_reader(p, d, &ctx, reader, &why);
        if (rc_ == 0 && strcmp(reader, env.nrm_key.recipient) != 0)
            rc_ = cf_error_set(&why, CF_ERECIPIENTS, "the NRM return is sealed to %s, not %s",
                               env.nrm_key.recipient, reader);
    }
    cf_envelope_fini(&env);
    return rc_ == 0 ? 0 : finding(r, i, rc_, id, "its envelope: %s", why.text);
}

static int apply_accepted(struct cf_replay *r, const struct cf_record *rec, const uint8_t *envelope,
                          size_t envelope_len, struct cf_error *err)
{
    uint64_t i = rec->index;
    struct cf_header h;
    struct cf_error why = {0};
    int rc_ = cf_wire_header_decode(rec->header, rec->header_len, &h, &why);
    if (rc_ != 0)
        return cf_error_set(err, CF_EDECODE, "index %" PRIu64 ": the header does not decode: %s", i,
                            why.text);
    if (!r->dir)
        return cf_error_set(err, CF_ECORRUPT,
                            "index %" PRIu64 ": a message before any config leaf: no directory "
                            "was in force",
                            i);
    struct cf_replay_case *rc = find(r, h.case_id);
    bool referral = h.type == CF_TYPE_REFERRAL;
    if (referral && rc)
        return finding(r, i, CF_ECASEEXISTS, h.case_id,
                       "a second referral for the case; the broker refuses those");
    if (!referral && !rc)
        return finding(r, i, CF_ENOTFOUND, h.case_id,
                       "a %s for a case no referral in this log opened",
                       cf_header_type_name(h.type));
    if (!referral && (rc_ = load_work(r, rc)) != 0)
        return cf_error_set(err, rc_, "index %" PRIu64 ": cannot decode case %s", i, h.case_id);
    if (r->o.check && (rc_ = check_accepted(r, rec, &h, rc, referral ? NULL : &r->work, envelope,
                                            envelope_len)) != 0)
        return cf_error_set(err, rc_, "out of memory");
    if (referral && (rc_ = add_case(r, h.case_id, &rc)) != 0)
        return cf_error_set(err, rc_, "out of memory");
    struct cf_case_rules rules = rules_of(r);
    struct cf_case_effects fx;
    if ((rc_ = cf_case_apply(&r->work, &h, i, rec->time, &rules, &fx, &why)) != 0)
        return cf_error_set(err, rc_, "index %" PRIu64 ": case %s: %s", i, h.case_id, why.text);
    if (referral) {
        rc->referral_time = rec->time;
        memcpy(rc->referral_la, h.la_code, sizeof rc->referral_la);
        memcpy(rc->referral_jurisdiction, h.jurisdiction, sizeof rc->referral_jurisdiction);
    }
    if (h.type == CF_TYPE_DETERMINATION_PROPOSED) {
        rc->has_proposal = true;
        cf_record_digests(rec, &rc->proposal);
    }
    if ((rc_ = store_work(r, rc)) != 0 || (rc_ = tie_leaf(r, i, rc)) != 0)
        return cf_error_set(err, rc_, "out of memory");
    struct cf_replay_entry *e = entry_new(r, rc, rec, &rc_);
    if (e) {
        e->type = h.type;
        memcpy(e->sender, h.sender, sizeof e->sender);
        e->decision = h.decision;
        e->approve = h.has_vote && h.vote.approve;
        e->redacted = !envelope;
        entry_case(e, &r->work);
        rc_ = copy_ids(&e->recipients, &e->n_recipients, h.recipients, h.n_recipients);
    }
    return rc_ ? cf_error_set(err, rc_, "out of memory") : 0;
}

static int apply_determination(struct cf_replay *r, const struct cf_record *rec,
                               const uint8_t *envelope, size_t envelope_len, struct cf_error *err)
{
    uint64_t i = rec->index;
    struct cf_replay_case *rc = case_of_leaf(r, rec->determination_of);
    if (!rc)
        return finding(r, i, CF_ENOTFOUND, NULL,
                       "a determination of leaf %" PRIu64 ", which is no proposal of a case",
                       rec->determination_of);
    int rc_ = load_work(r, rc);
    if (rc_ != 0)
        return cf_error_set(err, rc_, "index %" PRIu64 ": cannot decode case %s", i, rc->case_id);
    if (r->work.proposal_leaf != rec->determination_of || r->work.state != CF_CASE_PROPOSED)
        return finding(r, i, CF_ESTATE, rc->case_id,
                       "a determination of leaf %" PRIu64 ", but the case is %s and awaits %s",
                       rec->determination_of, cf_case_state_name(r->work.state),
                       r->work.proposal_decision ? "votes on another proposal" : "no votes");
    enum cf_decision decision = r->work.proposal_decision;
    struct cf_case_rules rules = rules_of(r);
    struct cf_error why = {0};
    if ((rc_ = cf_case_apply_determination(&r->work, i, rec->time, &rules, &why)) != 0)
        return cf_error_set(err, rc_, "index %" PRIu64 ": case %s: %s", i, rc->case_id, why.text);
    rc->has_proposal = false;
    if ((rc_ = store_work(r, rc)) != 0 || (rc_ = tie_leaf(r, i, rc)) != 0)
        return cf_error_set(err, rc_, "out of memory");
    struct cf_replay_entry *e = entry_new(r, rc, rec, &rc_);
    if (!e)
        return rc_ ? cf_error_set(err, rc_, "out of memory") : 0;
    e->type = CF_TYPE_DETERMINATION;
    snprintf(e->sender, sizeof e->sender, "broker");
    e->decision = decision;
    e->has_about = true;
    e->about = rec->determination_of;
    e->redacted = !envelope;
    entry_case(e, &r->work);
    if (envelope) {
        struct cf_determination d;
        if (cf_wire_determination_decode(envelope, envelope_len, &d, NULL) == 0)
            rc_ = copy_ids(&e->recipients, &e->n_recipients, d.recipients, d.n_recipients);
        cf_wire_determination_fini(&d);
    }
    return rc_ ? cf_error_set(err, rc_, "out of memory") : 0;
}

static int deadline_kind(const char *name)
{
    for (int d = 0; d < CF_DEADLINE_COUNT; d++)
        if (strcmp(cf_policy_deadline_name((enum cf_deadline)d), name) == 0)
            return d;
    return -1;
}

static int apply_notice(struct cf_replay *r, const struct cf_record *rec, struct cf_error *err)
{
    uint64_t i = rec->index;
    struct cf_notice *n = malloc(sizeof *n);
    if (!n)
        return cf_error_set(err, CF_ENOMEM, "out of memory");
    struct cf_error why = {0};
    int rc_ = cf_wire_notice_decode(rec->notice, rec->notice_len, n, &why);
    if (rc_ != 0) {
        rc_ = cf_error_set(err, CF_EDECODE, "index %" PRIu64 ": the notice does not decode: %s", i,
                           why.text);
        goto out;
    }
    struct cf_replay_case *rc = n->case_id[0] ? find(r, n->case_id) : NULL;
    if (!rc) {
        rc_ = finding(r, i, CF_ENOTFOUND, n->case_id,
                      "a %s notice about a case no referral in this log opened", n->kind);
        goto out;
    }
    if ((rc_ = load_work(r, rc)) != 0) {
        rc_ = cf_error_set(err, rc_, "index %" PRIu64 ": cannot decode case %s", i, rc->case_id);
        goto out;
    }
    enum cf_notice_kind kind = cf_notice_kind_parse(n->kind);
    bool changed = true;
    if (kind == CF_NOTICE_INQUORATE) {
        struct cf_case_rules rules = rules_of(r);
        if ((rc_ = cf_case_apply_inquorate(&r->work, i, rec->time, &rules, &why)) != 0) {
            rc_ =
                cf_error_set(err, rc_, "index %" PRIu64 ": case %s: %s", i, rc->case_id, why.text);
            goto out;
        }
    } else if (kind == CF_NOTICE_DEADLINE_NEAR || kind == CF_NOTICE_DEADLINE_BREACHED) {
        int d = deadline_kind(n->deadline);
        if (d < 0) {
            rc_ = finding(r, i, CF_EFIELD, rc->case_id, "a %s notice for an unknown deadline '%s'",
                          n->kind, n->deadline);
            goto out;
        }
        cf_case_deadline_fired(&r->work, (enum cf_deadline)d, kind == CF_NOTICE_DEADLINE_BREACHED,
                               i);
    } else {
        changed = false;
    }
    if ((changed && (rc_ = store_work(r, rc)) != 0) || (rc_ = tie_leaf(r, i, rc)) != 0) {
        rc_ = cf_error_set(err, rc_, "out of memory");
        goto out;
    }
    struct cf_replay_entry *e = entry_new(r, rc, rec, &rc_);
    if (e) {
        snprintf(e->kind, sizeof e->kind, "%s", n->kind);
        snprintf(e->sender, sizeof e->sender, "broker");
        e->has_about = n->has_about_leaf;
        e->about = n->about_leaf;
        snprintf(e->code, sizeof e->code, "%s", n->code);
        snprintf(e->deadline, sizeof e->deadline, "%s", n->deadline);
        e->due = n->has_due ? n->due : 0;
        entry_case(e, &r->work);
        rc_ = copy_ids(&e->recipients, &e->n_recipients, n->recipients, n->n_recipients);
        if (rc_ == 0)
            rc_ = copy_ids(&e->outstanding, &e->n_outstanding, n->outstanding, n->n_outstanding);
        if (rc_ != 0)
            rc_ = cf_error_set(err, rc_, "out of memory");
    }
out:
    free(n);
    return rc_;
}

/* A recipient's signed answer belongs to the case of what it answers. */
static int apply_answer(struct cf_replay *r, const struct cf_record *rec, struct cf_error *err)
{
    struct cf_replay_case *rc = rec->has_about ? case_of_leaf(r, rec->about) : NULL;
    if (!rc)
        return 0;
    int rc_ = tie_leaf(r, rec->index, rc);
    struct cf_replay_entry *e = rc_ == 0 ? entry_new(r, rc, rec, &rc_) : NULL;
    if (e) {
        memcpy(e->sender, rec->actor, sizeof e->sender);
        e->has_about = true;
        e->about = rec->about;
        snprintf(e->code, sizeof e->code, "%s", rec->code);
        const struct cf_replay_entry *of = NULL;
        for (size_t k = rc->n_entries - 1; k > 0 && !of; k--)
            if (rc->entries[k - 1].index == rec->about)
                of = &rc->entries[k - 1];
        if (of) {
            e->type = of->type;
            memcpy(e->kind, of->kind, sizeof e->kind);
        }
        /* An answer changes nothing: the case stands as after the entry before. */
        if (rc->n_entries > 1) {
            const struct cf_replay_entry *before = &rc->entries[rc->n_entries - 2];
            e->state = before->state;
            memcpy(e->la_code, before->la_code, sizeof e->la_code);
            memcpy(e->jurisdiction, before->jurisdiction, sizeof e->jurisdiction);
        }
    }
    return rc_ ? cf_error_set(err, rc_, "out of memory") : 0;
}

int cf_replay_leaf(struct cf_replay *r, const uint8_t *record, size_t len, const uint8_t *envelope,
                   size_t envelope_len, struct cf_error *err)
{
    struct cf_record rec;
    struct cf_error why = {0};
    int rc = cf_wire_record_decode(record, len, &rec, &why);
    if (rc != 0) {
        cf_wire_record_fini(&rec);
        return cf_error_set(err, CF_EDECODE, "index %" PRIu64 ": the record does not decode: %s",
                            r->size, why.text);
    }
    if (rec.index != r->size) {
        rc = cf_error_set(err, CF_ERANGE, "index %" PRIu64 ": the record says it is leaf %" PRIu64,
                          r->size, rec.index);
        goto out;
    }
    switch (rec.event) {
    case CF_EVENT_CONFIG:
        rc = apply_config(r, &rec, err);
        break;
    case CF_EVENT_ACCEPTED:
        rc = apply_accepted(r, &rec, envelope, envelope_len, err);
        break;
    case CF_EVENT_DETERMINATION:
        rc = apply_determination(r, &rec, envelope, envelope_len, err);
        break;
    case CF_EVENT_NOTICE:
        rc = apply_notice(r, &rec, err);
        break;
    case CF_EVENT_DELIVERED:
    case CF_EVENT_NACKED:
        rc = apply_answer(r, &rec, err);
        break;
    default:
        break; /* rejected, purged, ...: about no case the log can name */
    }
    if (rc == 0) {
        if ((rec.event == CF_EVENT_ACCEPTED || rec.event == CF_EVENT_DETERMINATION) && !envelope)
            r->redacted++;
        r->size++;
        r->last_time = rec.time;
    } else if (err && !err->text[0]) {
        cf_error_set(err, rc, "index %" PRIu64 ": %s", rec.index, cf_strerror(rc));
    }
out:
    cf_wire_record_fini(&rec);
    return rc;
}

int cf_replay_store(struct cf_replay *r, const struct cf_store *s, MDB_txn *txn,
                    struct cf_error *err)
{
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, s->audit, &cur);
    if (mrc != 0)
        return cf_error_set(err, cf_store_error(mrc), "cannot read the records: %s",
                            mdb_strerror(mrc));
    int rc = 0;
    MDB_val k, v, e;
    for (MDB_cursor_op op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
        mrc = mdb_cursor_get(cur, &k, &v, op);
        if (mrc == MDB_NOTFOUND)
            break;
        if (mrc != 0) {
            rc = cf_error_set(err, cf_store_error(mrc), "cannot read the records: %s",
                              mdb_strerror(mrc));
            break;
        }
        uint64_t index = k.mv_size == 8 ? cf_store_get_u64(k.mv_data) : UINT64_MAX;
        int erc = index == UINT64_MAX ? CF_ENOTFOUND : cf_store_envelope(s, txn, index, &e);
        if (erc != 0 && erc != CF_ENOTFOUND) {
            rc = cf_error_set(err, erc, "index %" PRIu64 ": cannot read its envelope", index);
            break;
        }
        rc = cf_replay_leaf(r, v.mv_data, v.mv_size, erc == 0 ? e.mv_data : NULL,
                            erc == 0 ? e.mv_size : 0, err);
    }
    mdb_cursor_close(cur);
    return rc;
}

/* ---- Results ---- */

uint64_t cf_replay_size(const struct cf_replay *r)
{
    return r->size;
}

uint64_t cf_replay_last_time(const struct cf_replay *r)
{
    return r->last_time;
}

uint64_t cf_replay_redacted(const struct cf_replay *r)
{
    return r->redacted;
}

size_t cf_replay_count(const struct cf_replay *r)
{
    return r->n_cases;
}

const struct cf_replay_case *cf_replay_case_at(const struct cf_replay *r, size_t i)
{
    return i < r->n_cases ? r->cases[i] : NULL;
}

const struct cf_replay_case *cf_replay_find(const struct cf_replay *r, const char *case_id)
{
    return find(r, case_id);
}

int cf_replay_case_load(const struct cf_replay_case *rc, struct cf_case *out)
{
    return cf_wire_case_decode(rc->record, rc->record_len, out, NULL);
}

size_t cf_replay_findings(const struct cf_replay *r)
{
    return r->n_findings;
}

const struct cf_replay_finding *cf_replay_finding_at(const struct cf_replay *r, size_t i)
{
    return i < r->n_findings ? &r->findings[i] : NULL;
}

const struct cf_directory *cf_replay_directory(const struct cf_replay *r)
{
    return r->dir;
}

const struct cf_calendar *cf_replay_calendar(const struct cf_replay *r, const char *jurisdiction)
{
    if (!r->dir || !r->o.calendars)
        return NULL;
    const struct cf_jurisdiction *j = cf_policy_jurisdiction(r->dir->policy, jurisdiction);
    return j ? r->by_j[j - r->dir->policy->jurisdictions] : NULL;
}
