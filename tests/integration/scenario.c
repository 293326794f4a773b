/* Scripted scenarios (see scenario.h). Every wait here is for a named frame
 * with a timeout; nothing sleeps for a fixed time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "childfirst/calendar.h"
#include "childfirst/determination.h"
#include "childfirst/file.h"
#include "childfirst/message.h"
#include "childfirst/record.h"
#include "scenario.h"

#define WAIT_MS 15000

static const struct {
    const char *id, *roles, *areas, *jurisdiction;
} extra[] = {
    {"home-office-ew", "home_office", "", "england-wales"},
    {"home-office-sc", "home_office", "", "scotland"},
    {"la-s-csc", "children_services", "S12000036", "scotland"},
    {"la-s-duty", "duty_team", "S12000036", "scotland"},
    {"police-s", "first_responder police", "S12000036", "scotland"},
    {"health-s", "health", "S12000036", "scotland"},
    {"guardian-s", "guardian", "S12000036", "scotland"},
};

void scn_sign(struct scn *t, uint64_t serial)
{
    net_sign_directory(&t->n, serial);
    char agencies[600], policy[600];
    snprintf(agencies, sizeof agencies, "%s/agencies.ini", t->n.dir);
    snprintf(policy, sizeof policy, "%s/policy.ini", t->n.dir);
    struct cf_error err = {0};
    if (t->escrow) {
        /* The first `escrow =` line is England and Wales's. */
        uint8_t *text;
        size_t len;
        assert_int_equal(cf_file_read(policy, CF_MAX_INI_FILE, &text, &len, &err), 0);
        char *at = strstr((char *)text, "\nescrow =\n");
        assert_non_null(at);
        char *edited = malloc(len + 32);
        assert_non_null(edited);
        int head = (int)(at - (char *)text);
        int n = snprintf(edited, len + 32, "%.*s\nescrow = auditor-x\n%s", head, (char *)text,
                         at + strlen("\nescrow =\n"));
        assert_int_equal(cf_file_write_atomic(policy, edited, (size_t)n, 0644, &err), 0);
        free(edited);
        free(text);
        if (cf_directory_sign(agencies, policy, t->n.authority, serial, &err) != 0)
            fail_msg("directory sign: %s", err.text);
    }
    cf_directory_destroy(&t->dir);
    if (cf_directory_load(agencies, policy, t->n.authority->sign_pk, 0, &t->dir, &err) != 0)
        fail_msg("directory: %s", err.text);
}

void scn_create(struct scn *t, bool escrow, uint64_t start)
{
    memset(t, 0, sizeof *t);
    t->escrow = escrow;
    net_create(&t->n, NULL);
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        net_add_agency(&t->n, extra[i].id, extra[i].roles, extra[i].areas, extra[i].jurisdiction);
    scn_sign(t, 1);
    /* Before the broker's first leaf, the clock may go anywhere: after it,
     * leaf times must never go back. */
    if (start)
        net_clock_advance(&t->n, (int64_t)start - (int64_t)net_now());
    net_broker_start(&t->n);
}

void scn_destroy(struct scn *t)
{
    net_broker_stop(&t->n);
    net_destroy(&t->n);
    cf_directory_destroy(&t->dir);
    for (size_t i = 0; i < t->n_cases; i++)
        free(t->cases[i].proposal);
}

void scn_restart(struct scn *t, uint64_t serial)
{
    net_broker_stop(&t->n);
    if (serial > 0)
        scn_sign(t, serial);
    for (size_t i = 0; i < NET_MAX_AGENCIES; i++)
        t->sock[i] = NULL; /* the broker forgot them; net_destroy closes them */
    t->status_sock = NULL;
    t->acks = 0; /* the broker's counters start again */
    net_broker_start(&t->n);
}

uint64_t scn_utc(int year, unsigned month, unsigned day, unsigned hour, unsigned minute)
{
    int64_t days = cf_calendar_days_from_civil(year, month, day);
    return (uint64_t)days * 86400000ull + hour * 3600000ull + minute * 60000ull;
}

void scn_settle(struct scn *t)
{
    if (!t->status_sock)
        t->status_sock = net_connect(&t->n, net_agency(&t->n, "police-a")->keys);
    for (int waited = 0;; waited++) {
        struct cf_status st;
        net_status(t->status_sock, &st);
        if (st.delivered >= t->acks)
            return;
        if (waited == 1500)
            fail_msg("the broker logged %llu of the %llu acknowledgements sent",
                     (unsigned long long)st.delivered, (unsigned long long)t->acks);
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void scn_clock_to(struct scn *t, uint64_t ms)
{
    scn_settle(t);
    uint64_t now = net_now();
    if (ms < now)
        fail_msg("the clock only moves forward: %llu is %llu ms behind it", (unsigned long long)ms,
                 (unsigned long long)(now - ms));
    net_clock_advance(&t->n, (int64_t)(ms - now));
}

static size_t slot_of(struct scn *t, const char *id)
{
    for (size_t i = 0; i < t->n.n; i++)
        if (strcmp(t->n.agencies[i].id, id) == 0)
            return i;
    fail_msg("no agency %s", id);
    return 0;
}

void scn_online(struct scn *t, const char *id)
{
    size_t i = slot_of(t, id);
    if (t->sock[i])
        return;
    t->sock[i] = net_connect(&t->n, t->n.agencies[i].keys);
    struct cf_frame w;
    net_hello(t->sock[i], 0, &w);
    cf_wire_frame_fini(&w);
}

void scn_offline(struct scn *t, const char *id)
{
    size_t i = slot_of(t, id);
    if (t->sock[i])
        net_close(&t->n, t->sock[i]);
    t->sock[i] = NULL;
}

static bool is_acked(const struct scn *t, size_t i, uint64_t leaf)
{
    return leaf < SCN_MAX_LEAVES && (t->acked[i][leaf / 8] >> (leaf % 8) & 1);
}

/* Acknowledges a delivery report as an agent does: over the reported leaf's
 * record. Reports take the broker's credits like deliveries, so a client
 * that left them unanswered would stall after a few dozen. */
static void ack_report(struct scn *t, size_t i, const struct cf_frame *r)
{
    struct cf_frame a = {
        .kind = CF_FRAME_ACK, .leaf_index = r->report_leaf, .has_message_id = true};
    uint8_t hash[CF_HASH_LEN];
    memcpy(a.message_id, r->message_id, CF_MESSAGE_ID_LEN);
    cf_envelope_hash(r->record, r->record_len, hash);
    assert_int_equal(
        cf_envelope_ack_sign(r->message_id, hash, CF_ACK_OK, t->n.agencies[i].keys, a.signature),
        0);
    net_send(t->sock[i], &a);
}

/* Receives one Deliver for agency i (answering reports on the way),
 * acknowledges it and notes it. */
static uint64_t take_one(struct scn *t, size_t i)
{
    struct cf_frame f;
    for (;;) {
        if (net_recv(t->sock[i], &f, WAIT_MS) != 0)
            fail_msg("%s was delivered nothing within %d ms", t->n.agencies[i].id, WAIT_MS);
        if (f.kind == CF_FRAME_DELIVER)
            break;
        if (f.kind == CF_FRAME_REPORT)
            ack_report(t, i, &f);
        cf_wire_frame_fini(&f);
    }
    net_ack(t->sock[i], t->n.agencies[i].keys, &f);
    t->acks++;
    uint64_t leaf = f.leaf_index;
    if (leaf >= SCN_MAX_LEAVES)
        fail_msg("leaf %llu is beyond the scenario's bookkeeping", (unsigned long long)leaf);
    t->acked[i][leaf / 8] |= (uint8_t)(1u << (leaf % 8));
    struct cf_notice n;
    if (f.notice && cf_wire_notice_decode(f.notice, f.notice_len, &n, NULL) == 0) {
        if (t->n_seen[i] == SCN_MAX_SEEN)
            fail_msg("too many notices for %s", t->n.agencies[i].id);
        struct scn_seen *s = &t->seen[i][t->n_seen[i]++];
        s->leaf = leaf;
        snprintf(s->kind, sizeof s->kind, "%s", n.kind);
        snprintf(s->case_id, sizeof s->case_id, "%s", n.case_id);
        s->claimed = false;
    }
    cf_wire_frame_fini(&f);
    return leaf;
}

void scn_await(struct scn *t, const char *id, uint64_t leaf)
{
    size_t i = slot_of(t, id);
    if (!t->sock[i])
        fail_msg("%s is offline: nothing can be awaited there", id);
    while (!is_acked(t, i, leaf))
        take_one(t, i);
}

uint64_t scn_expect_notice(struct scn *t, const char *id, const char *kind, size_t k)
{
    size_t i = slot_of(t, id);
    const char *case_id = t->cases[k].c.case_id;
    for (;;) {
        for (size_t s = 0; s < t->n_seen[i]; s++) {
            struct scn_seen *seen = &t->seen[i][s];
            if (!seen->claimed && strcmp(seen->kind, kind) == 0 &&
                strcmp(seen->case_id, case_id) == 0) {
                seen->claimed = true;
                return seen->leaf;
            }
        }
        if (!t->sock[i])
            fail_msg("%s is offline: no %s notice can come", id, kind);
        take_one(t, i);
    }
}

/* ---- Messages ---- */

void scn_header(struct scn *t, size_t k, enum cf_type type, const char *sender, struct cf_header *h)
{
    const struct cf_case *c = &t->cases[k].c;
    memset(h, 0, sizeof *h);
    h->version = CF_PROTOCOL_VERSION;
    randombytes_buf(h->message_id, sizeof h->message_id);
    memcpy(h->case_id, c->case_id, sizeof h->case_id);
    h->type = type;
    snprintf(h->sender, sizeof h->sender, "%s", sender);
    h->created_at = net_now();
    memcpy(h->jurisdiction, c->jurisdiction, sizeof h->jurisdiction);
    memcpy(h->la_code, c->la_code, sizeof h->la_code);
    h->urgency = c->urgency;
    h->immediate_risk = c->immediate_risk;
}

void scn_route(struct scn *t, size_t k, struct cf_header *h)
{
    struct cf_parties parties;
    struct cf_route_ctx ctx;
    struct cf_error err = {0};
    cf_case_route_ctx(h->type != CF_TYPE_REFERRAL ? &t->cases[k].c : NULL, h, &parties, &ctx);
    if (cf_policy_recipients(t->dir->policy, t->dir, &ctx, h->recipients, &h->n_recipients, &err) !=
        0)
        fail_msg("route: %s", err.text);
}

static const char *liaison_of(const char *jurisdiction)
{
    return strcmp(jurisdiction, "scotland") == 0 ? "home-office-sc" : "home-office-ew";
}

/* A proposal's payload and NRM return, as an agent makes them from its
 * document: real Payload messages, so an escrow auditor can read the outcome. */
static void proposal_payload(const struct cf_header *h, const char *outcome, uint8_t **payload,
                             size_t *len, uint8_t **nrm, size_t *nrm_len)
{
    char doc[2048];
    int used = snprintf(doc, sizeof doc, "{\"decision\": \"%s\", \"attendees\": [",
                        cf_header_decision_name(h->decision));
    for (size_t i = 0; i < h->n_attendees; i++)
        used += snprintf(doc + used, sizeof doc - (size_t)used, "%s\"%s\"", i ? ", " : "",
                         h->attendees[i]);
    snprintf(doc + used, sizeof doc - (size_t)used,
             "], \"outcome\": \"%s\", \"exploitation\": [\"criminal\"], \"reasons\": \"test "
             "reasons\", \"child_views\": \"test views\", \"child_participated\": true, "
             "\"nrm_return\": {\"age_band\": \"14-15\", \"sex\": \"male\", \"nationality\": "
             "\"ER\"}}",
             outcome);
    struct cf_header copy = *h;
    struct cf_error err = {0};
    if (cf_message_from_json(CF_TYPE_DETERMINATION_PROPOSED, doc, strlen(doc), "2100-01-01",
                             h->jurisdiction, &copy, payload, len, nrm, nrm_len, &err) != 0)
        fail_msg("proposal document: %s", err.text);
}

static void seal(struct scn *t, const struct cf_header *h, uint8_t **env, size_t *len)
{
    static const char payload[] = "test payload: the conference's record of the child";
    uint8_t pks[CF_MAX_RECIPIENTS][CF_BOX_PK];
    for (size_t i = 0; i < h->n_recipients; i++)
        memcpy(pks[i], cf_directory_find(t->dir, h->recipients[i])->box_pk, CF_BOX_PK);
    struct cf_error err = {0};
    const uint8_t *body = (const uint8_t *)payload;
    size_t body_len = sizeof payload;
    uint8_t *made = NULL, *nrm = NULL;
    size_t nrm_len = 0;
    struct cf_envelope_return ret = {0};
    if (h->type == CF_TYPE_DETERMINATION_PROPOSED) {
        /* The outcome follows the decision, so a test can tell them apart. */
        proposal_payload(h, h->decision == CF_DECISION_RG ? "positive" : "negative", &made,
                         &body_len, &nrm, &nrm_len);
        body = made;
        const char *liaison = liaison_of(h->jurisdiction);
        ret = (struct cf_envelope_return){nrm, nrm_len, liaison,
                                          cf_directory_find(t->dir, liaison)->box_pk};
    }
    int rc = cf_envelope_seal_with_return(h, body, body_len, (const uint8_t(*)[CF_BOX_PK])pks,
                                          h->type == CF_TYPE_DETERMINATION_PROPOSED ? &ret : NULL,
                                          net_agency(&t->n, h->sender)->keys, env, len, &err);
    free(made);
    free(nrm);
    if (rc != 0)
        fail_msg("seal: %s", err.text);
}

/* Waits for leaf at each online agency among ids (every one, or members only). */
static void await_all(struct scn *t, uint64_t leaf, const cf_id *ids, size_t n,
                      const struct cf_case *members_of)
{
    for (size_t i = 0; i < n; i++) {
        if (members_of) {
            bool member = false;
            for (size_t m = 0; m < members_of->n_members; m++)
                member |= strcmp(members_of->members[m].agency, ids[i]) == 0;
            if (!member)
                continue;
        }
        if (t->sock[slot_of(t, ids[i])])
            scn_await(t, ids[i], leaf);
    }
}

int scn_send(struct scn *t, size_t k, const struct cf_header *h, uint64_t *leaf,
             uint64_t *determined, char *reason, size_t cap)
{
    struct scn_case *sc = &t->cases[k];
    uint8_t *env;
    size_t len;
    seal(t, h, &env, &len);
    scn_online(t, h->sender);
    struct cf_frame a;
    net_submit(t->sock[slot_of(t, h->sender)], env, len, &a);
    if (determined)
        *determined = 0;
    if (a.kind == CF_FRAME_REJECTED) {
        int rc = cf_error_from_name(a.code);
        assert_true(rc < 0);
        if (reason)
            snprintf(reason, cap, "%s", a.reason);
        free(env);
        cf_wire_frame_fini(&a);
        return rc;
    }
    struct cf_record rec;
    struct cf_case_rules rules = {t->dir, NULL};
    struct cf_case_effects fx;
    struct cf_error err = {0};
    assert_int_equal(cf_wire_record_decode(a.record, a.record_len, &rec, NULL), 0);
    uint64_t at = a.leaf_index;
    if (cf_case_apply(&sc->c, h, at, rec.time, &rules, &fx, &err) != 0)
        fail_msg("apply: %s", err.text);
    cf_wire_record_fini(&rec);
    cf_wire_frame_fini(&a);
    if (leaf)
        *leaf = at;
    await_all(t, at, h->recipients, h->n_recipients, fx.hold ? &sc->c : NULL);
    if (h->type == CF_TYPE_DETERMINATION_PROPOSED) {
        free(sc->proposal);
        sc->proposal = env, sc->proposal_len = len;
    } else {
        free(env);
    }
    if (fx.quorum_met) {
        /* Sealed in the vote's own commit, right after it: released to the
         * proposal's final readers and its NRM reader. */
        uint64_t d = at + 1;
        struct cf_envelope pe;
        struct cf_header ph;
        assert_int_equal(cf_envelope_decode(sc->proposal, sc->proposal_len, &pe, &ph, NULL), 0);
        cf_id readers[CF_MAX_RECIPIENTS + 1];
        memcpy(readers, ph.recipients, ph.n_recipients * sizeof(cf_id));
        snprintf(readers[ph.n_recipients], sizeof(cf_id), "%s", pe.nrm_key.recipient);
        cf_envelope_fini(&pe);
        if (cf_case_apply_determination(&sc->c, d, net_now(), &rules, &err) != 0)
            fail_msg("apply: %s", err.text);
        await_all(t, d, (const cf_id *)readers, ph.n_recipients + 1, NULL);
        if (determined)
            *determined = d;
    }
    return 0;
}

uint64_t scn_accepted(struct scn *t, size_t k, const struct cf_header *h)
{
    char reason[512] = "";
    uint64_t leaf = 0;
    int rc = scn_send(t, k, h, &leaf, NULL, reason, sizeof reason);
    if (rc != 0)
        fail_msg("a %s from %s was rejected: %s %s", cf_header_type_name(h->type), h->sender,
                 cf_error_name(rc), reason);
    return leaf;
}

size_t scn_refer(struct scn *t, const char *sender, const char *la_code, enum cf_urgency urgency,
                 uint64_t *leaf)
{
    if (t->n_cases == SCN_MAX_CASES)
        fail_msg("too many cases");
    size_t k = t->n_cases++;
    struct scn_case *sc = &t->cases[k];
    memset(sc, 0, sizeof *sc);
    cf_header_case_id_new(sc->c.case_id);
    memcpy(sc->c.la_code, la_code, sizeof sc->c.la_code);
    const struct cf_jurisdiction *j;
    assert_int_equal(cf_policy_jurisdiction_of(t->dir->policy, la_code, &j), 0);
    snprintf(sc->c.jurisdiction, sizeof sc->c.jurisdiction, "%s", j->name);
    sc->c.urgency = urgency;
    sc->c.immediate_risk = urgency == CF_URGENCY_IMMEDIATE;
    struct cf_header h;
    scn_header(t, k, CF_TYPE_REFERRAL, sender, &h);
    scn_route(t, k, &h);
    uint64_t at = scn_accepted(t, k, &h);
    if (leaf)
        *leaf = at;
    return k;
}

uint64_t scn_ack(struct scn *t, size_t k, const char *lead)
{
    struct cf_header h;
    scn_header(t, k, CF_TYPE_ACKNOWLEDGEMENT, t->cases[k].c.owner, &h);
    snprintf(h.lead_staff_ref, sizeof h.lead_staff_ref, "%s", lead);
    scn_route(t, k, &h);
    return scn_accepted(t, k, &h);
}

uint64_t scn_strategy(struct scn *t, size_t k)
{
    struct cf_header h;
    bool scot = strcmp(t->cases[k].c.jurisdiction, "scotland") == 0;
    scn_header(t, k, scot ? CF_TYPE_IRD_RECORD : CF_TYPE_STRATEGY_RECORD, t->cases[k].c.owner, &h);
    scn_route(t, k, &h);
    return scn_accepted(t, k, &h);
}

uint64_t scn_convene(struct scn *t, size_t k, const char *chair)
{
    const struct cf_case *c = &t->cases[k].c;
    bool scot = strcmp(c->jurisdiction, "scotland") == 0;
    struct cf_header h;
    scn_header(t, k, CF_TYPE_CONFERENCE_CONVENED, c->owner, &h);
    const char *ids[] = {c->owner, scot ? "police-s" : "police-a", scot ? "health-s" : "health-x",
                         scot ? "guardian-s" : "guardian-x", liaison_of(c->jurisdiction)};
    const enum cf_standing standing[] = {CF_STANDING_VOTING, CF_STANDING_VOTING, CF_STANDING_VOTING,
                                         CF_STANDING_REQUIRED, CF_STANDING_ADVISORY};
    h.n_members = 5;
    for (size_t i = 0; i < 5; i++) {
        snprintf(h.members[i].agency, sizeof h.members[i].agency, "%s", ids[i]);
        h.members[i].standing = standing[i];
    }
    snprintf(h.chair_staff_ref, sizeof h.chair_staff_ref, "%s", chair);
    scn_route(t, k, &h);
    return scn_accepted(t, k, &h);
}

uint64_t scn_contribute(struct scn *t, size_t k, const char *sender)
{
    struct cf_header h;
    scn_header(t, k, CF_TYPE_CONTRIBUTION, sender, &h);
    scn_route(t, k, &h);
    return scn_accepted(t, k, &h);
}

static void proposal_header(struct scn *t, size_t k, enum cf_decision d, struct cf_header *h)
{
    const struct cf_case *c = &t->cases[k].c;
    scn_header(t, k, CF_TYPE_DETERMINATION_PROPOSED, c->owner, h);
    h->decision = d;
    for (size_t i = 0; i < c->n_members; i++)
        if (c->members[i].standing != CF_STANDING_ADVISORY)
            memcpy(h->attendees[h->n_attendees++], c->members[i].agency, sizeof(cf_id));
}

uint64_t scn_propose(struct scn *t, size_t k, enum cf_decision d)
{
    struct cf_header h;
    proposal_header(t, k, d, &h);
    scn_route(t, k, &h);
    return scn_accepted(t, k, &h);
}

void scn_propose_inquorate(struct scn *t, size_t k)
{
    struct cf_header h;
    proposal_header(t, k, CF_DECISION_RG, &h);
    h.n_attendees = 2; /* the owner and the police: health and the guardian stayed away */
    scn_route(t, k, &h);
    char reason[512];
    int rc = scn_send(t, k, &h, NULL, NULL, reason, sizeof reason);
    if (rc != CF_EINQUORATE)
        fail_msg("an inquorate proposal got %s: %s", rc ? cf_error_name(rc) : "Accepted", reason);
}

uint64_t scn_vote(struct scn *t, size_t k, const char *voter, bool approve, uint64_t *determined)
{
    struct scn_case *sc = &t->cases[k];
    struct cf_envelope env;
    struct cf_header ph, h;
    assert_non_null(sc->proposal);
    assert_int_equal(cf_envelope_decode(sc->proposal, sc->proposal_len, &env, &ph, NULL), 0);
    scn_header(t, k, CF_TYPE_VOTE, voter, &h);
    h.decision = sc->c.proposal_decision;
    h.has_vote = true;
    h.vote.approve = approve;
    memcpy(h.vote.proposal_id, ph.message_id, CF_MESSAGE_ID_LEN);
    struct cf_vote_subject s = {.case_id = sc->c.case_id, .decision = h.decision};
    memcpy(s.proposal_id, ph.message_id, CF_MESSAGE_ID_LEN);
    cf_envelope_digests(&env, &s.proposal);
    cf_envelope_fini(&env);
    assert_int_equal(
        cf_envelope_vote_sign(&s, approve, net_agency(&t->n, voter)->keys, h.vote.signature), 0);
    scn_route(t, k, &h);
    char reason[512] = "";
    uint64_t leaf = 0;
    int rc = scn_send(t, k, &h, &leaf, determined, reason, sizeof reason);
    if (rc != 0)
        fail_msg("a vote from %s was rejected: %s %s", voter, cf_error_name(rc), reason);
    return leaf;
}

uint64_t scn_all_approve(struct scn *t, size_t k)
{
    struct scn_case *sc = &t->cases[k];
    cf_id voters[CF_MAX_MEMBERS];
    size_t n = sc->c.n_voters;
    memcpy(voters, sc->c.voters, n * sizeof(cf_id));
    uint64_t determined = 0;
    for (size_t i = 0; i < n; i++)
        scn_vote(t, k, voters[i], true, &determined);
    if (!determined)
        fail_msg("every voter approved but no determination was sealed");
    return determined;
}

uint64_t scn_transfer(struct scn *t, size_t k, const char *la_code)
{
    struct cf_header h;
    scn_header(t, k, CF_TYPE_TRANSFER, t->cases[k].c.owner, &h);
    const struct cf_jurisdiction *j;
    assert_int_equal(cf_policy_jurisdiction_of(t->dir->policy, la_code, &j), 0);
    snprintf(h.la_code, sizeof h.la_code, "%s", la_code);
    snprintf(h.jurisdiction, sizeof h.jurisdiction, "%s", j->name);
    scn_route(t, k, &h);
    return scn_accepted(t, k, &h);
}

uint64_t scn_close(struct scn *t, size_t k)
{
    struct cf_header h;
    scn_header(t, k, CF_TYPE_CLOSURE, t->cases[k].c.owner, &h);
    scn_route(t, k, &h);
    return scn_accepted(t, k, &h);
}
