/* childfirst audit report: compliance figures from the log alone, after it
 * verifies and replays (common/src/replay.c). Figures count from leaf times
 * and working days come from each nation's own calendar, so the report says
 * what the broker's deadlines said. Outcomes are not in any header: only an
 * escrow auditor whose key opens the proposals can add them (--decrypt). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "childfirst/calendar.h"
#include "childfirst/envelope.h"
#include "childfirst/keys.h"
#include "childfirst/message.h"
#include "childfirst/replay.h"
#include "agent.h"
#include "agent_text.h"
#include "cli.h"
#include "cli_audit.h"

static const char help[] =
    "usage: childfirst audit report DIR [--from DATE] [--to DATE]\n"
    "         [--format table|csv|json] [--decrypt -c auditor.ini]\n"
    "         [--calendars DIR | --broker-config broker.ini] [--authority-key B64]\n"
    "         (--broker-key BASE64 | --broker-key-file FILE)\n"
    "\n"
    "Verifies and replays the log folder DIR (as 'audit replay'), then reports\n"
    "per local authority and per nation: referrals; determinations by decision\n"
    "(rg, cg); the median and 90th percentile of working days (the nation's\n"
    "calendar) from referral to acknowledgement, to the conference convened and\n"
    "to the first determination; every deadline breach with its case; and every\n"
    "undelivered or non_delivery incident.\n"
    "\n"
    "  --from, --to DATE  YYYY-MM-DD, Europe/London days, both included: count\n"
    "                     what happened in them (referrals, determinations,\n"
    "                     notices, deadlines due); timings are of the cases\n"
    "                     referred in them, to milestones reached by --to\n"
    "  --format F         table (default), csv or json\n"
    "  --decrypt -c FILE  as the escrow auditor of FILE (its agent.ini and key):\n"
    "                     open each determined proposal to count its outcome\n"
    "  --calendars DIR, --broker-config FILE, --authority-key B64: as for replay\n"
    "\n"
    "Exit status: 0 reported; 1 the log does not verify or replay, or holds\n"
    "findings (on stderr; the report is printed all the same); 2 bad usage.\n";

static const char prog[] = "childfirst audit report";

enum format { TABLE, CSV, JSON };
enum milestone { ACK, CONFERENCE, DETERMINED, MILESTONES };
static const char *const milestone_names[MILESTONES] = {"acknowledgement", "conference",
                                                        "determination"};
enum outcome { POSITIVE, NEGATIVE, UNKNOWN, OUTCOMES };
static const char *const outcome_names[OUTCOMES] = {"positive", "negative", "unknown"};

struct samples {
    size_t n, cap;
    uint32_t *v;
};

struct group {
    char la[CF_LA_CODE_LEN + 1]; /* "" for a nation's group */
    char nation[CF_JURISDICTION_MAX + 1];
    size_t referrals;
    size_t decisions[3];          /* by enum cf_decision */
    size_t outcomes[3][OUTCOMES]; /* by decision, with --decrypt */
    struct samples days[MILESTONES];
};

struct groups {
    size_t n, cap;
    struct group *g;
};

struct breach {
    const char *case_id, *deadline; /* borrowed from the replay */
    char la[CF_LA_CODE_LEN + 1], nation[CF_JURISDICTION_MAX + 1];
    uint64_t due, noticed, leaf; /* noticed 0: found by the replay, no notice in the log */
};

struct incident {
    const char *case_id;
    const struct cf_replay_entry *e;
};

struct decrypt {
    struct cf_keys *keys;
    size_t opened, not_recipient, redacted, failed;
};

struct report {
    uint64_t from, to; /* [from, to) in ms */
    char from_text[AGENT_TEXT_DATE_MAX], to_text[AGENT_TEXT_DATE_MAX];
    const struct cli_audit_log *log;
    struct groups las, nations;
    struct breach *breaches;
    size_t n_breaches, cap_breaches;
    struct incident *incidents;
    size_t n_incidents, cap_incidents;
    struct decrypt *decrypt; /* NULL without --decrypt */
    size_t cases;
};

/* ---- Gathering ---- */

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return p;
    size_t c = *cap ? 2 * *cap : 16;
    void *q = realloc(p, c * size);
    if (q)
        *cap = c;
    return q;
}

static struct group *group_of(struct groups *gs, const char *la, const char *nation)
{
    for (size_t i = 0; i < gs->n; i++)
        if (strcmp(gs->g[i].la, la) == 0 && strcmp(gs->g[i].nation, nation) == 0)
            return &gs->g[i];
    struct group *g = grow(gs->g, &gs->cap, gs->n, sizeof *g);
    if (!g)
        return NULL;
    gs->g = g;
    g = &gs->g[gs->n++];
    memset(g, 0, sizeof *g);
    snprintf(g->la, sizeof g->la, "%s", la);
    snprintf(g->nation, sizeof g->nation, "%s", nation);
    return g;
}

static int sample(struct samples *s, uint32_t v)
{
    uint32_t *p = grow(s->v, &s->cap, s->n, sizeof *p);
    if (!p)
        return CF_ENOMEM;
    s->v = p;
    s->v[s->n++] = v;
    return 0;
}

static bool in_period(const struct report *rp, uint64_t t)
{
    return t >= rp->from && t < rp->to;
}

/* The outcome of the determination whose proposal is at leaf `proposal`, as
 * the auditor reads it in the proposal's payload. */
static enum outcome outcome_of(struct report *rp, uint64_t proposal)
{
    struct decrypt *d = rp->decrypt;
    json_t *doc;
    enum outcome out = UNKNOWN;
    switch (cli_audit_read_leaf(rp->log, d->keys, proposal, &doc)) {
    case CLI_AUDIT_OPENED: {
        const char *o = json_string_value(json_object_get(doc, "outcome"));
        out = o && strcmp(o, "positive") == 0   ? POSITIVE
              : o && strcmp(o, "negative") == 0 ? NEGATIVE
                                                : UNKNOWN;
        d->opened++;
        break;
    }
    case CLI_AUDIT_NOT_RECIPIENT:
        d->not_recipient++;
        break;
    case CLI_AUDIT_REDACTED:
        d->redacted++;
        break;
    case CLI_AUDIT_UNREADABLE:
        d->failed++;
        break;
    }
    json_decref(doc);
    return out;
}

static int add_breach(struct report *rp, const struct cf_replay_case *rc, const char *la,
                      const char *nation, const char *deadline, uint64_t due, uint64_t noticed,
                      uint64_t leaf)
{
    struct breach *b = grow(rp->breaches, &rp->cap_breaches, rp->n_breaches, sizeof *b);
    if (!b)
        return CF_ENOMEM;
    rp->breaches = b;
    b = &rp->breaches[rp->n_breaches++];
    *b = (struct breach){
        .case_id = rc->case_id, .deadline = deadline, .due = due, .noticed = noticed, .leaf = leaf};
    snprintf(b->la, sizeof b->la, "%s", la);
    snprintf(b->nation, sizeof b->nation, "%s", nation);
    return 0;
}

/* Timings of a case referred in the period, to milestones reached by its end. */
static int timings(struct report *rp, const struct cf_replay_case *rc, const struct cf_case *c,
                   struct group *la, struct group *nation)
{
    const struct cf_calendar *cal = cf_replay_calendar(rp->log->replay, rc->referral_jurisdiction);
    const uint64_t at[MILESTONES] = {c->first_at[CF_TYPE_ACKNOWLEDGEMENT],
                                     c->first_at[CF_TYPE_CONFERENCE_CONVENED],
                                     c->first_at[CF_TYPE_DETERMINATION]};
    for (int m = 0; m < MILESTONES; m++) {
        if (!at[m] || at[m] >= rp->to)
            continue;
        uint32_t days;
        if (!cal || cf_calendar_working_days(cal, rc->referral_time, at[m], &days) != 0) {
            fprintf(stderr, "%s: case %s: no calendar counts its working days\n", prog,
                    rc->case_id);
            return CF_ECONFIG;
        }
        if (sample(&la->days[m], days) != 0 || sample(&nation->days[m], days) != 0)
            return CF_ENOMEM;
    }
    return 0;
}

static int gather_case(struct report *rp, const struct cf_replay_case *rc, struct cf_case *c)
{
    if (cf_replay_case_load(rc, c) != 0)
        return CF_ECORRUPT;
    int e = 0;
    if (in_period(rp, rc->referral_time)) {
        struct group *la = group_of(&rp->las, rc->referral_la, rc->referral_jurisdiction);
        struct group *nation = group_of(&rp->nations, "", rc->referral_jurisdiction);
        if (!la || !nation)
            return CF_ENOMEM;
        la->referrals++, nation->referrals++;
        rp->cases++;
        if ((e = timings(rp, rc, c, la, nation)) != 0)
            return e;
    }
    for (size_t i = 0; i < rc->n_entries; i++) {
        const struct cf_replay_entry *en = &rc->entries[i];
        if (!in_period(rp, en->time) && en->event != CF_EVENT_NOTICE)
            continue;
        if (en->event == CF_EVENT_DETERMINATION && (unsigned)en->decision < 3) {
            struct group *la = group_of(&rp->las, en->la_code, en->jurisdiction);
            struct group *nation = group_of(&rp->nations, "", en->jurisdiction);
            if (!la || !nation)
                return CF_ENOMEM;
            la->decisions[en->decision]++, nation->decisions[en->decision]++;
            if (rp->decrypt) {
                enum outcome o = outcome_of(rp, en->about);
                la->outcomes[en->decision][o]++, nation->outcomes[en->decision][o]++;
            }
        } else if (en->event == CF_EVENT_NOTICE && strcmp(en->kind, "deadline_breached") == 0) {
            if (in_period(rp, en->due) &&
                (e = add_breach(rp, rc, en->la_code, en->jurisdiction, en->deadline, en->due,
                                en->time, en->index)) != 0)
                return e;
        } else if (en->event == CF_EVENT_NOTICE && in_period(rp, en->time) &&
                   (strcmp(en->kind, "undelivered") == 0 ||
                    strcmp(en->kind, "non_delivery") == 0)) {
            struct incident *in =
                grow(rp->incidents, &rp->cap_incidents, rp->n_incidents, sizeof *in);
            if (!in)
                return CF_ENOMEM;
            rp->incidents = in;
            rp->incidents[rp->n_incidents++] = (struct incident){rc->case_id, en};
        }
    }
    /* Breaches the log holds no notice of: deadlines still open that fell due
     * before its last leaf (the broker was down, or routed the notice nowhere). */
    uint64_t last = cf_replay_last_time(rp->log->replay);
    for (size_t i = 0; i < c->n_deadlines; i++) {
        const struct cf_case_deadline *d = &c->deadlines[i];
        if (!d->breach_sent && d->due <= last && in_period(rp, d->due) &&
            (e = add_breach(rp, rc, c->la_code, c->jurisdiction, cf_policy_deadline_name(d->kind),
                            d->due, 0, 0)) != 0)
            return e;
    }
    return 0;
}

static int by_group(const void *x, const void *y)
{
    const struct group *a = x, *b = y;
    int n = strcmp(a->nation, b->nation);
    return n ? n : strcmp(a->la, b->la);
}

static int by_value(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

static int by_due(const void *x, const void *y)
{
    const struct breach *a = x, *b = y;
    if (a->due != b->due)
        return a->due < b->due ? -1 : 1;
    int n = strcmp(a->case_id, b->case_id);
    return n ? n : strcmp(a->deadline, b->deadline);
}

/* qsort, which may not be given the NULL of an empty list. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

static int gather(struct report *rp)
{
    const struct cf_replay *r = rp->log->replay;
    struct cf_case *c = malloc(sizeof *c);
    if (!c)
        return CF_ENOMEM;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < cf_replay_count(r); i++)
        rc = gather_case(rp, cf_replay_case_at(r, i), c);
    free(c);
    sort(rp->las.g, rp->las.n, sizeof *rp->las.g, by_group);
    sort(rp->nations.g, rp->nations.n, sizeof *rp->nations.g, by_group);
    for (size_t i = 0; i < rp->las.n; i++)
        for (int m = 0; m < MILESTONES; m++)
            sort(rp->las.g[i].days[m].v, rp->las.g[i].days[m].n, sizeof(uint32_t), by_value);
    for (size_t i = 0; i < rp->nations.n; i++)
        for (int m = 0; m < MILESTONES; m++)
            sort(rp->nations.g[i].days[m].v, rp->nations.g[i].days[m].n, sizeof(uint32_t),
                 by_value);
    sort(rp->breaches, rp->n_breaches, sizeof *rp->breaches, by_due);
    return rc;
}

/* ---- Figures ---- */

/* The median (the mean of the middle two of an even count) times two, so it
 * stays an integer; and the 90th percentile by nearest rank: the smallest
 * value at least 90% of the values are at or below. */
static uint64_t median2(const struct samples *s)
{
    return s->n % 2 ? 2ull * s->v[s->n / 2] : (uint64_t)s->v[s->n / 2 - 1] + s->v[s->n / 2];
}

static uint32_t p90(const struct samples *s)
{
    return s->v[(9 * s->n + 9) / 10 - 1];
}

static void median_text(const struct samples *s, char *out, size_t cap)
{
    uint64_t m2 = median2(s);
    snprintf(out, cap, m2 % 2 ? "%llu.5" : "%llu", (unsigned long long)(m2 / 2));
}

/* ---- Table ---- */

static void timing_cell(const struct samples *s, char *out, size_t cap)
{
    if (s->n == 0) {
        snprintf(out, cap, "-");
        return;
    }
    char med[24];
    median_text(s, med, sizeof med);
    snprintf(out, cap, "%s / %u (n=%zu)", med, p90(s), s->n);
}

static void table_groups(const struct report *rp, const struct groups *gs, bool la)
{
    char name[64];
    if (la)
        snprintf(name, sizeof name, "%-10s %s", "la", "nation");
    else
        snprintf(name, sizeof name, "nation");
    printf("%-28s %9s %4s %4s  %-18s %-18s %s\n", name, "referrals", "rg", "cg", "acknowledgement",
           "conference", "determination");
    for (size_t i = 0; i < gs->n; i++) {
        const struct group *g = &gs->g[i];
        char cells[MILESTONES][48];
        for (int m = 0; m < MILESTONES; m++)
            timing_cell(&g->days[m], cells[m], sizeof cells[m]);
        if (la)
            snprintf(name, sizeof name, "%-10s %s", g->la, g->nation);
        else
            snprintf(name, sizeof name, "%s", g->nation);
        printf("%-28s %9zu %4zu %4zu  %-18s %-18s %s\n", name, g->referrals,
               g->decisions[CF_DECISION_RG], g->decisions[CF_DECISION_CG], cells[ACK],
               cells[CONFERENCE], cells[DETERMINED]);
    }
    if (!rp->decrypt)
        return;
    for (size_t i = 0; i < gs->n; i++) {
        const struct group *g = &gs->g[i];
        printf("  outcomes %s:", la ? g->la : g->nation);
        for (int d = CF_DECISION_RG; d <= CF_DECISION_CG; d++)
            for (int o = 0; o < OUTCOMES; o++)
                printf(" %s %s %zu%s", cf_header_decision_name((enum cf_decision)d),
                       outcome_names[o], g->outcomes[d][o],
                       d == CF_DECISION_CG && o == OUTCOMES - 1 ? "" : ",");
        printf("\n");
    }
}

static void print_table(const struct report *rp)
{
    char t[AGENT_TEXT_TIME_MAX];
    agent_text_time(cf_replay_last_time(rp->log->replay), t);
    printf("ChildFirst audit report\n");
    printf("period: %s to %s (Europe/London, both days included)\n", rp->from_text, rp->to_text);
    printf("log: %" PRIu64 " records, the last at %s; %zu cases referred in the period\n",
           cf_replay_size(rp->log->replay), t, rp->cases);
    printf("working days from the referral: median / 90th percentile (n=cases), by each\n"
           "nation's calendar\n\n");
    printf("By local authority\n");
    table_groups(rp, &rp->las, true);
    printf("\nBy nation\n");
    table_groups(rp, &rp->nations, false);
    if (rp->decrypt)
        printf("\noutcomes: %zu proposals opened; %zu not sealed to this auditor, %zu "
               "redacted, %zu unreadable\n",
               rp->decrypt->opened, rp->decrypt->not_recipient, rp->decrypt->redacted,
               rp->decrypt->failed);
    else
        printf("\noutcomes: not in the log's headers; an escrow auditor adds them with "
               "--decrypt -c auditor.ini\n");
    printf("\ndeadline breaches: %zu\n", rp->n_breaches);
    for (size_t i = 0; i < rp->n_breaches; i++) {
        const struct breach *b = &rp->breaches[i];
        char due[AGENT_TEXT_TIME_MAX];
        agent_text_time(b->due, due);
        printf("  %s  %-9s  %-16s  %-16s  due %s  %s", b->case_id, b->la, b->nation, b->deadline,
               due, b->noticed ? "deadline_breached notice at leaf" : "no notice in the log");
        if (b->noticed)
            printf(" %" PRIu64, b->leaf);
        printf("\n");
    }
    printf("\nundelivered incidents: %zu\n", rp->n_incidents);
    for (size_t i = 0; i < rp->n_incidents; i++) {
        const struct cf_replay_entry *e = rp->incidents[i].e;
        agent_text_time(e->time, t);
        printf(
            "  %s  %-9s  %-16s  %-12s  leaf %" PRIu64 " at %s  about leaf %" PRIu64 "  outstanding",
            rp->incidents[i].case_id, e->la_code, e->jurisdiction, e->kind, e->index, t, e->about);
        for (size_t k = 0; k < e->n_outstanding; k++)
            printf(" %s", e->outstanding[k]);
        if (e->code[0])
            printf("  code %s", e->code);
        printf("\n");
    }
}

/* ---- CSV: record,nation,la,case_id,name,value,detail ---- */

static void csv_groups(const struct report *rp, const struct groups *gs, bool la)
{
    for (size_t i = 0; i < gs->n; i++) {
        const struct group *g = &gs->g[i];
        const char *rec = la ? "la" : "nation";
        printf("%s,%s,%s,,referrals,%zu,\n", rec, g->nation, g->la, g->referrals);
        printf("%s,%s,%s,,determinations_rg,%zu,\n", rec, g->nation, g->la,
               g->decisions[CF_DECISION_RG]);
        printf("%s,%s,%s,,determinations_cg,%zu,\n", rec, g->nation, g->la,
               g->decisions[CF_DECISION_CG]);
        for (int m = 0; m < MILESTONES; m++) {
            const struct samples *s = &g->days[m];
            printf("%s,%s,%s,,%s_cases,%zu,\n", rec, g->nation, g->la, milestone_names[m], s->n);
            if (s->n == 0)
                continue;
            char med[24];
            median_text(s, med, sizeof med);
            printf("%s,%s,%s,,%s_median_working_days,%s,\n", rec, g->nation, g->la,
                   milestone_names[m], med);
            printf("%s,%s,%s,,%s_p90_working_days,%u,\n", rec, g->nation, g->la, milestone_names[m],
                   p90(s));
        }
        for (int d = CF_DECISION_RG; rp->decrypt && d <= CF_DECISION_CG; d++)
            for (int o = 0; o < OUTCOMES; o++)
                printf("%s,%s,%s,,outcome_%s_%s,%zu,\n", rec, g->nation, g->la,
                       cf_header_decision_name((enum cf_decision)d), outcome_names[o],
                       g->outcomes[d][o]);
    }
}

static void print_csv(const struct report *rp)
{
    char t[AGENT_TEXT_TIME_MAX];
    printf("record,nation,la,case_id,name,value,detail\n");
    printf("period,,,,from,%s,\nperiod,,,,to,%s,\n", rp->from_text, rp->to_text);
    csv_groups(rp, &rp->las, true);
    csv_groups(rp, &rp->nations, false);
    for (size_t i = 0; i < rp->n_breaches; i++) {
        const struct breach *b = &rp->breaches[i];
        agent_text_time(b->due, t);
        if (b->noticed)
            printf("breach,%s,%s,%s,%s,%s,notice leaf %" PRIu64 "\n", b->nation, b->la, b->case_id,
                   b->deadline, t, b->leaf);
        else
            printf("breach,%s,%s,%s,%s,%s,no notice\n", b->nation, b->la, b->case_id, b->deadline,
                   t);
    }
    for (size_t i = 0; i < rp->n_incidents; i++) {
        const struct cf_replay_entry *e = rp->incidents[i].e;
        agent_text_time(e->time, t);
        printf("%s,%s,%s,%s,leaf %" PRIu64 ",%s,about leaf %" PRIu64 ":", e->kind, e->jurisdiction,
               e->la_code, rp->incidents[i].case_id, e->index, t, e->about);
        for (size_t k = 0; k < e->n_outstanding; k++)
            printf(" %s", e->outstanding[k]);
        if (e->code[0])
            printf(" code %s", e->code);
        printf("\n");
    }
}

/* ---- JSON ---- */

static json_t *timing_json(const struct samples *s)
{
    if (s->n == 0)
        return json_pack("{s:i, s:n, s:n}", "cases", 0, "median", "p90");
    return json_pack("{s:I, s:f, s:I}", "cases", (json_int_t)s->n, "median",
                     (double)median2(s) / 2.0, "p90", (json_int_t)p90(s));
}

static json_t *groups_json(const struct report *rp, const struct groups *gs, bool la)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < gs->n; i++) {
        const struct group *g = &gs->g[i];
        json_t *o = json_pack("{s:s, s:I, s:{s:I, s:I}, s:{s:o, s:o, s:o}}", "nation", g->nation,
                              "referrals", (json_int_t)g->referrals, "determinations", "rg",
                              (json_int_t)g->decisions[CF_DECISION_RG], "cg",
                              (json_int_t)g->decisions[CF_DECISION_CG], "working_days",
                              milestone_names[ACK], timing_json(&g->days[ACK]),
                              milestone_names[CONFERENCE], timing_json(&g->days[CONFERENCE]),
                              milestone_names[DETERMINED], timing_json(&g->days[DETERMINED]));
        if (o && la)
            json_object_set_new(o, "la", json_string(g->la));
        if (o && rp->decrypt) {
            json_t *out = json_object();
            for (int d = CF_DECISION_RG; out && d <= CF_DECISION_CG; d++) {
                json_t *by = json_object();
                for (int k = 0; by && k < OUTCOMES; k++)
                    json_object_set_new(by, outcome_names[k],
                                        json_integer((json_int_t)g->outcomes[d][k]));
                json_object_set_new(out, cf_header_decision_name((enum cf_decision)d), by);
            }
            json_object_set_new(o, "outcomes", out);
        }
        json_array_append_new(a, o);
    }
    return a;
}

static void print_json(const struct report *rp)
{
    json_t *breaches = json_array(), *incidents = json_array();
    for (size_t i = 0; breaches && i < rp->n_breaches; i++) {
        const struct breach *b = &rp->breaches[i];
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:s, s:o, s:s}", "case_id", b->case_id, "la", b->la,
                      "nation", b->nation, "deadline", b->deadline, "due",
                      agent_text_time_json(b->due), "source", b->noticed ? "notice" : "replay");
        if (o && b->noticed)
            json_object_set_new(o, "notice_leaf", json_integer((json_int_t)b->leaf));
        json_array_append_new(breaches, o);
    }
    for (size_t i = 0; incidents && i < rp->n_incidents; i++) {
        const struct cf_replay_entry *e = rp->incidents[i].e;
        json_t *out = json_array();
        for (size_t k = 0; out && k < e->n_outstanding; k++)
            json_array_append_new(out, json_string(e->outstanding[k]));
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:I, s:o}", "case_id",
                      rp->incidents[i].case_id, "la", e->la_code, "nation", e->jurisdiction, "kind",
                      e->kind, "leaf", (json_int_t)e->index, "time", agent_text_time_json(e->time),
                      "about", (json_int_t)e->about, "outstanding", out);
        if (o && e->code[0])
            json_object_set_new(o, "code", json_string(e->code));
        json_array_append_new(incidents, o);
    }
    json_t *doc = json_pack(
        "{s:{s:s, s:s}, s:I, s:I, s:o, s:o, s:o, s:o}", "period", "from", rp->from_text, "to",
        rp->to_text, "records", (json_int_t)cf_replay_size(rp->log->replay), "cases",
        (json_int_t)rp->cases, "local_authorities", groups_json(rp, &rp->las, true), "nations",
        groups_json(rp, &rp->nations, false), "breaches", breaches, "undelivered", incidents);
    if (doc && rp->decrypt)
        json_object_set_new(doc, "decrypted",
                            json_pack("{s:I, s:I, s:I, s:I}", "opened",
                                      (json_int_t)rp->decrypt->opened, "not_recipient",
                                      (json_int_t)rp->decrypt->not_recipient, "redacted",
                                      (json_int_t)rp->decrypt->redacted, "unreadable",
                                      (json_int_t)rp->decrypt->failed));
    if (doc)
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
    printf("\n");
    json_decref(doc);
}

/* ---- The command ---- */

static int period(const char *from, const char *to, struct report *rp)
{
    int32_t f = 0, t = 0;
    if ((from && cf_calendar_parse_day(from, &f) != 0) ||
        (to && cf_calendar_parse_day(to, &t) != 0)) {
        fprintf(stderr, "%s: --from and --to take a date written YYYY-MM-DD\n", prog);
        return CLI_USAGE;
    }
    if (from && to && t < f) {
        fprintf(stderr, "%s: --to %s is before --from %s\n", prog, to, from);
        return CLI_USAGE;
    }
    rp->from = from ? cf_calendar_local_midnight(f) : 0;
    rp->to = to ? cf_calendar_local_midnight(t + 1) : UINT64_MAX;
    snprintf(rp->from_text, sizeof rp->from_text, "%s", from ? from : "the start");
    snprintf(rp->to_text, sizeof rp->to_text, "%s", to ? to : "the end");
    return CLI_OK;
}

static void report_free(struct report *rp)
{
    for (size_t i = 0; i < rp->las.n; i++)
        for (int m = 0; m < MILESTONES; m++)
            free(rp->las.g[i].days[m].v);
    for (size_t i = 0; i < rp->nations.n; i++)
        for (int m = 0; m < MILESTONES; m++)
            free(rp->nations.g[i].days[m].v);
    free(rp->las.g);
    free(rp->nations.g);
    free(rp->breaches);
    free(rp->incidents);
}

int cli_audit_report(int argc, char **argv)
{
    static const struct option opts[] = {{"broker-key", required_argument, NULL, 'k'},
                                         {"broker-key-file", required_argument, NULL, 'f'},
                                         {"from", required_argument, NULL, 'F'},
                                         {"to", required_argument, NULL, 'T'},
                                         {"format", required_argument, NULL, 'o'},
                                         {"decrypt", no_argument, NULL, 'd'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"calendars", required_argument, NULL, 'C'},
                                         {"broker-config", required_argument, NULL, 'b'},
                                         {"authority-key", required_argument, NULL, 'a'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *key = NULL, *key_file = NULL, *from = NULL, *to = NULL, *format = NULL, *ini = NULL,
               *calendars = NULL, *broker_ini = NULL, *authority = NULL;
    bool decrypt = false;
    int c, repeated = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:f:F:T:o:dc:C:b:a:h", opts, NULL)) != -1) {
        const char **slot = c == 'k'   ? &key
                            : c == 'f' ? &key_file
                            : c == 'F' ? &from
                            : c == 'T' ? &to
                            : c == 'o' ? &format
                            : c == 'c' ? &ini
                            : c == 'C' ? &calendars
                            : c == 'b' ? &broker_ini
                            : c == 'a' ? &authority
                                       : NULL;
        if (slot) {
            repeated += *slot != NULL;
            *slot = optarg;
        } else if (c == 'd') {
            decrypt = true;
        } else if (c == 'h') {
            return fputs(help, stdout), CLI_OK;
        } else {
            return fputs(help, stderr), CLI_USAGE;
        }
    }
    if (optind != argc - 1)
        return fputs(help, stderr), CLI_USAGE;
    if (repeated) {
        fprintf(stderr, "%s: give each option once\n", prog);
        return CLI_USAGE;
    }
    enum format fmt = TABLE;
    if (format && strcmp(format, "csv") == 0)
        fmt = CSV;
    else if (format && strcmp(format, "json") == 0)
        fmt = JSON;
    else if (format && strcmp(format, "table") != 0) {
        fprintf(stderr, "%s: --format is table, csv or json\n", prog);
        return CLI_USAGE;
    }
    if (decrypt != (ini != NULL)) {
        fprintf(stderr, "%s: --decrypt needs -c auditor.ini, and -c is only for --decrypt\n", prog);
        return CLI_USAGE;
    }
    struct report rp;
    memset(&rp, 0, sizeof rp);
    uint8_t pk[CF_SIGN_PK], apk[CF_SIGN_PK];
    char cal_dir[4096];
    bool has_authority;
    struct decrypt d = {0};
    int rc = period(from, to, &rp);
    if (rc == CLI_OK)
        rc = cli_audit_broker_key(prog, key, key_file, pk);
    if (rc == CLI_OK)
        rc = cli_audit_authority_key(prog, authority, apk, &has_authority);
    if (rc == CLI_OK)
        rc = cli_audit_calendars(prog, calendars, broker_ini, cal_dir, sizeof cal_dir);
    if (rc == CLI_OK && decrypt)
        rc = cli_audit_auditor_keys(prog, ini, &d.keys);
    if (rc != CLI_OK)
        return rc;
    struct cf_replay_options o = {.calendars = cal_dir,
                                  .authority_pk = has_authority ? apk : NULL,
                                  .timelines = true,
                                  .check = true};
    struct cli_audit_log *log = malloc(sizeof *log);
    if (!log) {
        cf_keys_destroy(&d.keys);
        fprintf(stderr, "%s: out of memory\n", prog);
        return CLI_FAIL;
    }
    rc = cli_audit_log_open(prog, argv[optind], pk, &o, log);
    if (rc == CLI_OK) {
        rp.log = log;
        rp.decrypt = decrypt ? &d : NULL;
        int grc = gather(&rp);
        if (grc != 0) {
            fprintf(stderr, "%s: cannot gather the figures: %s\n", prog, cf_strerror(grc));
            rc = CLI_FAIL;
        } else if (fmt == TABLE) {
            print_table(&rp);
        } else if (fmt == CSV) {
            print_csv(&rp);
        } else {
            print_json(&rp);
        }
        if (cli_audit_findings(prog, log->replay) > 0)
            rc = CLI_FAIL;
    }
    report_free(&rp);
    cli_audit_log_close(log);
    free(log);
    cf_keys_destroy(&d.keys);
    return rc;
}
