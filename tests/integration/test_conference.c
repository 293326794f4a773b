/* The conference, against the real broker: case messages from referral to
 * sealed determination, and every refusal the conference rules make. Test
 * clients built on libchildfirst play each agency, so a test can also send
 * what no honest agent would (a vote signed over another proposal, a Home
 * Office determination). Deadlines are checked by moving the network's
 * shared clock, never by sleeping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "childfirst/calendar.h"
#include "childfirst/case.h"
#include "childfirst/determination.h"
#include "childfirst/directory.h"
#include "childfirst/notice.h"
#include "childfirst/record.h"
#include "harness.h"

#define DAY_MS 86400000ull

/* One network with a Home Office liaison per nation and a Scottish LA, and
 * the case the test is working on, as a careful agent would track it. */
struct t {
    struct net n;
    struct cf_directory *dir;
    struct cf_case c;
    void *sock[NET_MAX_AGENCIES];
    uint8_t *proposal; /* the open proposal's envelope */
    size_t proposal_len;
};

static int setup(void **state)
{
    struct t *t = calloc(1, sizeof *t);
    net_create(&t->n, NULL);
    net_add_agency(&t->n, "home-office-ew", "home_office", "", "england-wales");
    net_add_agency(&t->n, "home-office-sc", "home_office", "", "scotland");
    net_add_agency(&t->n, "la-s-csc", "children_services", "S12000036", "scotland");
    net_add_agency(&t->n, "la-s-duty", "duty_team", "S12000036", "scotland");
    net_add_agency(&t->n, "police-s", "first_responder police", "S12000036", "scotland");
    net_add_agency(&t->n, "health-s", "health", "S12000036", "scotland");
    net_add_agency(&t->n, "guardian-s", "guardian", "S12000036", "scotland");
    net_sign_directory(&t->n, 1);
    char agencies[600], policy[600];
    snprintf(agencies, sizeof agencies, "%s/agencies.ini", t->n.dir);
    snprintf(policy, sizeof policy, "%s/policy.ini", t->n.dir);
    struct cf_error err = {0};
    if (cf_directory_load(agencies, policy, t->n.authority->sign_pk, 0, &t->dir, &err) != 0)
        fail_msg("directory: %s", err.text);
    net_broker_start(&t->n);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;
    net_broker_stop(&t->n);
    net_destroy(&t->n);
    cf_directory_destroy(&t->dir);
    free(t->proposal);
    free(t);
    return 0;
}

/* ---- Playing the agencies ---- */

static size_t index_of(struct t *t, const char *id)
{
    for (size_t i = 0; i < t->n.n; i++)
        if (strcmp(t->n.agencies[i].id, id) == 0)
            return i;
    fail_msg("no agency %s", id);
    return 0;
}

/* The agency's connection, which has said Hello. */
static void *sock(struct t *t, const char *id)
{
    size_t i = index_of(t, id);
    if (!t->sock[i]) {
        t->sock[i] = net_connect(&t->n, t->n.agencies[i].keys);
        struct cf_frame w;
        net_hello(t->sock[i], 0, &w);
        cf_wire_frame_fini(&w);
    }
    return t->sock[i];
}

/* Drops the agency's connection (it goes offline). */
static void offline(struct t *t, const char *id)
{
    size_t i = index_of(t, id);
    if (t->sock[i])
        net_close(&t->n, t->sock[i]);
    t->sock[i] = NULL;
}

/* A header of the case's message: routing facts from the case, recipients as
 * the policy routes them now. */
static void header(struct t *t, enum cf_type type, const char *sender, struct cf_header *h)
{
    memset(h, 0, sizeof *h);
    h->version = CF_PROTOCOL_VERSION;
    randombytes_buf(h->message_id, sizeof h->message_id);
    memcpy(h->case_id, t->c.case_id, sizeof h->case_id);
    h->type = type;
    snprintf(h->sender, sizeof h->sender, "%s", sender);
    h->created_at = net_now();
    memcpy(h->jurisdiction, t->c.jurisdiction, sizeof h->jurisdiction);
    memcpy(h->la_code, t->c.la_code, sizeof h->la_code);
    h->urgency = t->c.urgency;
    h->immediate_risk = t->c.immediate_risk;
}

static void route(struct t *t, struct cf_header *h)
{
    struct cf_parties parties;
    struct cf_route_ctx ctx;
    struct cf_error err = {0};
    cf_case_route_ctx(t->c.case_id[0] && h->type != CF_TYPE_REFERRAL ? &t->c : NULL, h, &parties,
                      &ctx);
    if (cf_policy_recipients(t->dir->policy, t->dir, &ctx, h->recipients, &h->n_recipients, &err) !=
        0)
        fail_msg("route: %s", err.text);
}

/* Seals h (a proposal with its NRM return to the liaison) as its sender. */
static void seal(struct t *t, const struct cf_header *h, uint8_t **env, size_t *len)
{
    static const char payload[] = "test payload: the conference's record of the child";
    static const char nrm[] = "test payload: the NRM return";
    uint8_t pks[CF_MAX_RECIPIENTS][CF_BOX_PK];
    for (size_t i = 0; i < h->n_recipients; i++)
        memcpy(pks[i], cf_directory_find(t->dir, h->recipients[i])->box_pk, CF_BOX_PK);
    struct cf_error err = {0};
    const char *liaison =
        strcmp(h->jurisdiction, "scotland") == 0 ? "home-office-sc" : "home-office-ew";
    struct cf_envelope_return ret = {(const uint8_t *)nrm, sizeof nrm, liaison,
                                     cf_directory_find(t->dir, liaison)->box_pk};
    int rc = cf_envelope_seal_with_return(h, (const uint8_t *)payload, sizeof payload,
                                          (const uint8_t(*)[CF_BOX_PK])pks,
                                          h->type == CF_TYPE_DETERMINATION_PROPOSED ? &ret : NULL,
                                          net_agency(&t->n, h->sender)->keys, env, len, &err);
    if (rc != 0)
        fail_msg("seal: %s", err.text);
}

/* Submits h; on Accepted, the case moves as the broker's did. Returns 0, or
 * the Rejected code's value; `reason` (may be NULL) gets the sentence. */
static int send_msg(struct t *t, const struct cf_header *h, char *reason, size_t cap,
                    uint64_t *leaf)
{
    uint8_t *env;
    size_t len;
    seal(t, h, &env, &len);
    struct cf_frame a;
    net_submit(sock(t, h->sender), env, len, &a);
    int rc = 0;
    if (a.kind == CF_FRAME_REJECTED) {
        rc = cf_error_from_name(a.code);
        assert_true(rc < 0);
        if (reason)
            snprintf(reason, cap, "%s", a.reason);
        free(env);
    } else {
        struct cf_record rec;
        struct cf_case_rules rules = {t->dir, NULL};
        struct cf_case_effects fx;
        struct cf_error err = {0};
        assert_int_equal(cf_wire_record_decode(a.record, a.record_len, &rec, NULL), 0);
        if (cf_case_apply(&t->c, h, a.leaf_index, rec.time, &rules, &fx, &err) != 0 ||
            (fx.quorum_met && cf_case_apply_determination(&t->c, 0, rec.time, &rules, &err) != 0))
            fail_msg("apply: %s", err.text);
        cf_wire_record_fini(&rec);
        if (leaf)
            *leaf = a.leaf_index;
        if (h->type == CF_TYPE_DETERMINATION_PROPOSED) {
            free(t->proposal);
            t->proposal = env, t->proposal_len = len;
        } else {
            free(env);
        }
    }
    cf_wire_frame_fini(&a);
    return rc;
}

/* Routes and sends; requires Accepted. */
static uint64_t accepted(struct t *t, struct cf_header *h)
{
    char reason[512] = "";
    uint64_t leaf = 0;
    if (h->n_recipients == 0)
        route(t, h);
    int rc = send_msg(t, h, reason, sizeof reason, &leaf);
    if (rc != 0)
        fail_msg("a %s from %s was rejected: %s %s", cf_header_type_name(h->type), h->sender,
                 cf_error_name(rc), reason);
    return leaf;
}

/* Routes (unless h already names recipients) and sends; requires Rejected
 * with `code` and a reason containing `says` (NULL: any). */
static void rejected(struct t *t, struct cf_header *h, int code, const char *says)
{
    char reason[512] = "";
    if (h->n_recipients == 0)
        route(t, h);
    int rc = send_msg(t, h, reason, sizeof reason, NULL);
    if (rc != code)
        fail_msg("a %s from %s: expected %s, got %s (%s)", cf_header_type_name(h->type), h->sender,
                 cf_error_name(code), rc ? cf_error_name(rc) : "Accepted", reason);
    if (says && !strstr(reason, says))
        fail_msg("the reason \"%s\" does not say \"%s\"", reason, says);
}

/* ---- The steps of a case ---- */

static void refer_in(struct t *t, const char *sender, const char *la_code)
{
    struct cf_header h;
    memset(&t->c, 0, sizeof t->c);
    cf_header_case_id_new(t->c.case_id);
    memcpy(t->c.la_code, la_code, sizeof t->c.la_code);
    const struct cf_jurisdiction *j;
    assert_int_equal(cf_policy_jurisdiction_of(t->dir->policy, la_code, &j), 0);
    snprintf(t->c.jurisdiction, sizeof t->c.jurisdiction, "%s", j->name);
    t->c.urgency = CF_URGENCY_IMMEDIATE;
    t->c.immediate_risk = true;
    header(t, CF_TYPE_REFERRAL, sender, &h);
    accepted(t, &h);
}

static void acknowledge(struct t *t, const char *lead)
{
    struct cf_header h;
    header(t, CF_TYPE_ACKNOWLEDGEMENT, t->c.owner, &h);
    snprintf(h.lead_staff_ref, sizeof h.lead_staff_ref, "%s", lead);
    accepted(t, &h);
}

static uint64_t strategy(struct t *t, enum cf_type type)
{
    struct cf_header h;
    header(t, type, t->c.owner, &h);
    return accepted(t, &h);
}

/* conference_convened with the nation's cast: owner, police and health
 * voting, the guardian required, the liaison advisory. */
static void convene_header(struct t *t, const char *chair, struct cf_header *h)
{
    bool scot = strcmp(t->c.jurisdiction, "scotland") == 0;
    header(t, CF_TYPE_CONFERENCE_CONVENED, t->c.owner, h);
    const struct cf_member m[] = {
        {"", CF_STANDING_VOTING},   {"", CF_STANDING_VOTING},   {"", CF_STANDING_VOTING},
        {"", CF_STANDING_REQUIRED}, {"", CF_STANDING_ADVISORY},
    };
    const char *ids[] = {t->c.owner, scot ? "police-s" : "police-a", scot ? "health-s" : "health-x",
                         scot ? "guardian-s" : "guardian-x",
                         scot ? "home-office-sc" : "home-office-ew"};
    h->n_members = 5;
    for (size_t i = 0; i < 5; i++) {
        h->members[i] = m[i];
        snprintf(h->members[i].agency, sizeof h->members[i].agency, "%s", ids[i]);
    }
    snprintf(h->chair_staff_ref, sizeof h->chair_staff_ref, "%s", chair);
}

static void convene(struct t *t)
{
    struct cf_header h;
    convene_header(t, "chair-0042", &h);
    accepted(t, &h);
}

/* The case's members other than the liaison attended. */
static void propose_header(struct t *t, enum cf_decision d, struct cf_header *h)
{
    header(t, CF_TYPE_DETERMINATION_PROPOSED, t->c.owner, h);
    h->decision = d;
    for (size_t i = 0; i < t->c.n_members; i++)
        if (t->c.members[i].standing != CF_STANDING_ADVISORY)
            memcpy(h->attendees[h->n_attendees++], t->c.members[i].agency, sizeof(cf_id));
}

static uint64_t propose(struct t *t, enum cf_decision d)
{
    struct cf_header h;
    propose_header(t, d, &h);
    return accepted(t, &h);
}

/* A vote by `voter`, signed over `subject_case` / the open proposal / `d`. */
static void vote_header(struct t *t, const char *voter, bool approve, const char *subject_case,
                        enum cf_decision d, struct cf_header *h)
{
    struct cf_envelope env;
    struct cf_header ph;
    assert_int_equal(cf_envelope_decode(t->proposal, t->proposal_len, &env, &ph, NULL), 0);
    header(t, CF_TYPE_VOTE, voter, h);
    h->decision = t->c.proposal_decision;
    h->has_vote = true;
    h->vote.approve = approve;
    memcpy(h->vote.proposal_id, ph.message_id, CF_MESSAGE_ID_LEN);
    struct cf_vote_subject s = {.case_id = subject_case, .decision = d};
    memcpy(s.proposal_id, ph.message_id, CF_MESSAGE_ID_LEN);
    cf_envelope_digests(&env, &s.proposal);
    assert_int_equal(
        cf_envelope_vote_sign(&s, approve, net_agency(&t->n, voter)->keys, h->vote.signature), 0);
    cf_envelope_fini(&env);
}

static uint64_t vote(struct t *t, const char *voter, bool approve)
{
    struct cf_header h;
    vote_header(t, voter, approve, t->c.case_id, t->c.proposal_decision, &h);
    return accepted(t, &h);
}

/* The next Deliver of a notice of `kind` on the agency's connection,
 * acknowledged; other deliveries are acknowledged and passed over. */
static void expect_notice(struct t *t, const char *id, const char *kind, struct cf_notice *out)
{
    void *s = sock(t, id);
    for (;;) {
        struct cf_frame f;
        net_expect(s, CF_FRAME_DELIVER, &f, 10000);
        net_ack(s, net_agency(&t->n, id)->keys, &f);
        struct cf_notice n;
        bool match = f.notice && cf_wire_notice_decode(f.notice, f.notice_len, &n, NULL) == 0 &&
                     strcmp(n.kind, kind) == 0 && strcmp(n.case_id, t->c.case_id) == 0;
        if (match) {
            assert_int_equal(
                cf_notice_verify(f.notice, f.notice_len, f.notice_signature, t->n.broker->sign_pk),
                0);
            if (out)
                *out = n;
        }
        cf_wire_frame_fini(&f);
        if (match)
            return;
    }
}

/* The next Deliver carrying a determination, acknowledged. Caller releases *f. */
static void expect_determination(struct t *t, const char *id, struct cf_frame *f)
{
    void *s = sock(t, id);
    for (;;) {
        net_expect(s, CF_FRAME_DELIVER, f, 10000);
        net_ack(s, net_agency(&t->n, id)->keys, f);
        if (f->determination)
            return;
        cf_wire_frame_fini(f);
    }
}

/* The broker's view of the case, as a party asks for it. */
static void case_info(struct t *t, const char *asker, struct cf_case_info *out)
{
    struct cf_frame q = {.kind = CF_FRAME_CASE_REQUEST}, r;
    memcpy(q.case_id, t->c.case_id, sizeof q.case_id);
    net_send(sock(t, asker), &q);
    net_expect(sock(t, asker), CF_FRAME_CASE_INFO, &r, 10000);
    assert_string_equal(r.case_id, t->c.case_id);
    *out = r.case_info;
    cf_wire_frame_fini(&r);
}

/* The due moment of the named deadline in the broker's view; 0 if none. */
static uint64_t due_of(const struct cf_case_info *ci, const char *name)
{
    for (size_t i = 0; i < ci->n_deadlines; i++)
        if (strcmp(ci->deadlines[i].name, name) == 0)
            return ci->deadlines[i].due;
    return 0;
}

/* What cf_calendar_deadline makes of the jurisdiction's `deadline` from `from`. */
static uint64_t expected_due(struct t *t, const char *jurisdiction, enum cf_deadline d,
                             uint64_t from)
{
    const struct cf_jurisdiction *j = cf_policy_jurisdiction(t->dir->policy, jurisdiction);
    char path[1200];
    struct cf_calendar *cal;
    struct cf_error err = {0};
    snprintf(path, sizeof path, "%s/deploy/calendars/%s.ini", CF_SOURCE_DIR, j->calendar);
    assert_int_equal(cf_calendar_load(path, &cal, &err), 0);
    uint64_t due;
    assert_int_equal(cf_calendar_deadline(cal, from, &j->deadlines[d], &due), 0);
    cf_calendar_destroy(&cal);
    return due;
}

/* ---- Tests ---- */

/* England: referral to a sealed determination that every voting agency
 * signed; the referrer reads it, the liaison reads only its NRM return. */
static void test_full_case_in_england(void **state)
{
    struct t *t = *state;
    refer_in(t, "police-a", "E09000033");
    assert_string_equal(t->c.owner, "la-csc");
    expect_notice(t, "la-duty", "new_referral", NULL);
    acknowledge(t, "sw-0001");
    strategy(t, CF_TYPE_STRATEGY_RECORD);
    convene(t);
    expect_notice(t, "la-duty", "convened", NULL);
    struct cf_header h;
    header(t, CF_TYPE_CONTRIBUTION, "health-x", &h);
    accepted(t, &h);
    uint64_t proposal = propose(t, CF_DECISION_RG);
    /* Held: the members have it; the duty team, a final reader but no member,
     * gets nothing until the determination releases it. */
    struct cf_frame f;
    while (net_recv(sock(t, "la-duty"), &f, 500) == 0) {
        if (f.kind == CF_FRAME_DELIVER)
            fail_msg("the duty team was sent leaf %llu before the determination",
                     (unsigned long long)f.leaf_index);
        cf_wire_frame_fini(&f);
    }
    vote(t, "la-csc", true);
    vote(t, "police-a", true);
    struct cf_case_info ci;
    case_info(t, "la-csc", &ci);
    assert_string_equal(ci.state, "proposed");
    vote(t, "health-x", true); /* the quorum: every voting member approves */

    struct cf_determination d;
    struct cf_record rec;
    struct cf_header ph;
    struct cf_error err = {0};
    expect_determination(t, "la-duty", &f); /* a final reader that is no member */
    assert_non_null(f.envelope);
    assert_int_equal(cf_wire_determination_decode(f.determination, f.determination_len, &d, NULL),
                     0);
    if (cf_determination_verify(&d, f.determination_signature, t->n.broker->sign_pk, t->dir, &rec,
                                &ph, &err) != 0)
        fail_msg("determination: %s", err.text);
    assert_int_equal(d.proposal_leaf, proposal);
    assert_int_equal(d.decision, CF_DECISION_RG);
    assert_int_equal(d.n_votes, 3);
    assert_string_equal(d.votes[0].voter, "health-x"); /* voter-id order */
    assert_string_equal(d.votes[2].voter, "police-a");
    uint8_t hash[CF_HASH_LEN];
    cf_envelope_hash(f.envelope, f.envelope_len, hash);
    assert_memory_equal(hash, d.proposal_hash, CF_HASH_LEN);
    cf_wire_record_fini(&rec);
    cf_wire_determination_fini(&d);
    cf_wire_frame_fini(&f);

    /* The liaison: the determination without the envelope, and only its return opens. */
    expect_determination(t, "home-office-ew", &f);
    assert_null(f.envelope);
    assert_int_equal(cf_wire_determination_decode(f.determination, f.determination_len, &d, NULL),
                     0);
    assert_int_equal(cf_determination_verify(&d, f.determination_signature, t->n.broker->sign_pk,
                                             t->dir, &rec, &ph, &err),
                     0);
    uint8_t *nrm;
    size_t nrm_len;
    assert_int_equal(cf_determination_open_return(
                         &d, &rec, net_agency(&t->n, "home-office-ew")->keys, &nrm, &nrm_len),
                     0);
    assert_string_equal((const char *)nrm, "test payload: the NRM return");
    free(nrm);
    /* Nobody else can open it. */
    assert_int_equal(
        cf_determination_open_return(&d, &rec, net_agency(&t->n, "la-csc")->keys, &nrm, &nrm_len),
        CF_ENOTRECIPIENT);
    cf_wire_record_fini(&rec);
    cf_wire_determination_fini(&d);
    cf_wire_frame_fini(&f);

    expect_determination(t, "police-a", &f); /* the referrer, at release */
    assert_non_null(f.envelope);
    cf_wire_frame_fini(&f);
    expect_notice(t, "la-duty", "determination", NULL);
    case_info(t, "la-duty", &ci);
    assert_string_equal(ci.state, "determined");
    /* The RG deadline is met; a CG proposal may follow at once (cg_min_days_after_rg = 0). */
    assert_int_equal(due_of(&ci, "rg_determination"), 0);
    propose(t, CF_DECISION_CG);
}

/* The Home Office liaison may never send a determination type; the refusal
 * is in the log. */
static void test_home_office_may_not_decide(void **state)
{
    struct t *t = *state;
    refer_in(t, "police-a", "E09000033");
    acknowledge(t, "sw-0001");
    strategy(t, CF_TYPE_STRATEGY_RECORD);
    convene(t);
    struct cf_header h;
    propose_header(t, CF_DECISION_RG, &h);
    snprintf(h.sender, sizeof h.sender, "home-office-ew");
    rejected(t, &h, CF_EROLE, "home-office-ew");
    propose(t, CF_DECISION_RG);
    vote_header(t, "home-office-ew", true, t->c.case_id, CF_DECISION_RG, &h);
    rejected(t, &h, CF_EROLE, "may not send a vote");
    /* Audited: the log holds a rejected leaf naming the liaison and the code. */
    net_broker_stop(&t->n);
    uint64_t size = net_log_size(&t->n);
    size_t found = 0;
    for (uint64_t i = 0; i < size; i++) {
        uint8_t *bytes;
        size_t len;
        struct cf_record r;
        net_log_record(&t->n, i, &bytes, &len);
        assert_int_equal(cf_wire_record_decode(bytes, len, &r, NULL), 0);
        found += r.event == CF_EVENT_REJECTED && strcmp(r.actor, "home-office-ew") == 0 &&
                 strcmp(r.code, "CF_EROLE") == 0;
        cf_wire_record_fini(&r);
        free(bytes);
    }
    assert_int_equal(found, 2);
    net_broker_start(&t->n);
}

/* Only the case's voting members who attended vote, and a vote fits its case. */
static void test_vote_from_a_non_voter(void **state)
{
    struct t *t = *state;
    refer_in(t, "police-a", "E09000033");
    struct cf_header h;
    header(t, CF_TYPE_VOTE, "la-csc", &h);
    h.has_vote = true;
    h.decision = CF_DECISION_RG;
    rejected(t, &h, CF_ESTATE, "referred"); /* before any proposal: the state is named */
    acknowledge(t, "sw-0001");
    strategy(t, CF_TYPE_STRATEGY_RECORD);
    convene(t);
    propose(t, CF_DECISION_RG);
    vote_header(t, "guardian-x", true, t->c.case_id, CF_DECISION_RG, &h);
    rejected(t, &h, CF_EROLE, NULL); /* a guardian's role never votes */
    vote_header(t, "la-duty", true, t->c.case_id, CF_DECISION_RG, &h);
    rejected(t, &h, CF_EROLE, NULL);
    /* A police force that is no member of this conference. */
    net_broker_stop(&t->n);
    net_add_agency(&t->n, "police-b", "police", "E09000033", NULL);
    net_sign_directory(&t->n, 2);
    cf_directory_destroy(&t->dir);
    char agencies[600], policy[600];
    snprintf(agencies, sizeof agencies, "%s/agencies.ini", t->n.dir);
    snprintf(policy, sizeof policy, "%s/policy.ini", t->n.dir);
    struct cf_error err = {0};
    assert_int_equal(cf_directory_load(agencies, policy, t->n.authority->sign_pk, 0, &t->dir, &err),
                     0);
    for (size_t i = 0; i < NET_MAX_AGENCIES; i++)
        t->sock[i] = NULL; /* net_broker_start does not close them; the broker forgot them */
    net_broker_start(&t->n);
    vote_header(t, "police-b", true, t->c.case_id, CF_DECISION_RG, &h);
    rejected(t, &h, CF_ENOTPARTY, "case:voters");
    /* A contribution from a non-member. */
    header(t, CF_TYPE_CONTRIBUTION, "police-b", &h);
    rejected(t, &h, CF_ENOTPARTY, "case:members");
}

/* A vote's signature binds its case, the proposal as sent and the decision. */
static void test_vote_signature_binds_proposal_case_and_decision(void **state)
{
    struct t *t = *state;
    refer_in(t, "police-a", "E09000033");
    acknowledge(t, "sw-0001");
    strategy(t, CF_TYPE_STRATEGY_RECORD);
    convene(t);
    propose(t, CF_DECISION_RG);
    struct cf_header h;
    /* Another case. */
    char other[CF_CASE_ID_LEN + 1];
    cf_header_case_id_new(other);
    vote_header(t, "police-a", true, other, CF_DECISION_RG, &h);
    rejected(t, &h, CF_ESIG, "does not cover");
    /* Another decision. */
    vote_header(t, "police-a", true, t->c.case_id, CF_DECISION_CG, &h);
    rejected(t, &h, CF_ESIG, "does not cover");
    /* Another proposal: the signature was made over a proposal whose
     * ciphertext differs from the one the broker logged. */
    uint8_t *kept = t->proposal;
    size_t kept_len = t->proposal_len;
    struct cf_header ph;
    struct cf_envelope env;
    assert_int_equal(cf_envelope_decode(kept, kept_len, &env, &ph, NULL), 0);
    uint8_t *alt;
    size_t alt_len;
    seal(t, &ph, &alt, &alt_len); /* same header, a fresh ciphertext */
    cf_envelope_fini(&env);
    t->proposal = alt, t->proposal_len = alt_len;
    vote_header(t, "police-a", true, t->c.case_id, CF_DECISION_RG, &h);
    t->proposal = kept, t->proposal_len = kept_len;
    free(alt);
    rejected(t, &h, CF_ESIG, "does not cover");
    /* The honest vote still counts. */
    vote(t, "police-a", true);
    /* And a second one from the same voter does not. */
    vote_header(t, "police-a", true, t->c.case_id, CF_DECISION_RG, &h);
    rejected(t, &h, CF_ESTATE, "already voted");
}

/* A reject from any voting member ends the proposal. */
static void test_reject_vote_ends_the_proposal(void **state)
{
    struct t *t = *state;
    refer_in(t, "police-a", "E09000033");
    acknowledge(t, "sw-0001");
    strategy(t, CF_TYPE_STRATEGY_RECORD);
    convene(t);
    propose(t, CF_DECISION_RG);
    vote(t, "la-csc", true);
    vote(t, "police-a", false);
    expect_notice(t, "la-duty", "determination_rejected", NULL);
    struct cf_case_info ci;
    case_info(t, "la-csc", &ci);
    assert_string_equal(ci.state, "convened");
    struct cf_header h;
    header(t, CF_TYPE_VOTE, "health-x", &h);
    h.has_vote = true;
    h.decision = CF_DECISION_RG;
    rejected(t, &h, CF_ESTATE, "convened");
    /* The chair may propose again, and that proposal can pass. */
    propose(t, CF_DECISION_RG);
    vote(t, "la-csc", true);
    vote(t, "police-a", true);
    vote(t, "health-x", true);
    case_info(t, "la-csc", &ci);
    assert_string_equal(ci.state, "determined");
}

/* The liaison receives conference_convened, notices and its return only. */
static void test_home_office_recipient_on_a_contribution(void **state)
{
    struct t *t = *state;
    refer_in(t, "police-a", "E09000033");
    acknowledge(t, "sw-0001");
    strategy(t, CF_TYPE_STRATEGY_RECORD);
    convene(t); /* accepted with the liaison among its recipients */
    struct cf_header h;
    header(t, CF_TYPE_CONTRIBUTION, "police-a", &h);
    route(t, &h);
    for (size_t i = 0; i < h.n_recipients; i++)
        assert_string_not_equal(h.recipients[i], "home-office-ew");
    /* Add the liaison where it sorts: guardian-x health-x home-office-ew la-csc police-a. */
    assert_string_equal(h.recipients[1], "health-x");
    memmove(h.recipients[3], h.recipients[2], (h.n_recipients - 2) * sizeof(cf_id));
    snprintf(h.recipients[2], sizeof(cf_id), "home-office-ew");
    h.n_recipients++;
    rejected(t, &h, CF_ERECIPIENTS, "liaison");
}

/* A meeting without every voting and required role is inquorate: refused,
 * noticed, and the reconvene deadline starts. */
static void test_inquorate_meeting(void **state)
{
    struct t *t = *state;
    refer_in(t, "police-a", "E09000033");
    acknowledge(t, "sw-0001");
    strategy(t, CF_TYPE_STRATEGY_RECORD);
    convene(t);
    struct cf_header h;
    propose_header(t, CF_DECISION_RG, &h);
    h.n_attendees = 0; /* the owner and police came; health and the guardian did not */
    snprintf(h.attendees[h.n_attendees++], sizeof(cf_id), "la-csc");
    snprintf(h.attendees[h.n_attendees++], sizeof(cf_id), "police-a");
    uint64_t before = net_now();
    rejected(t, &h, CF_EINQUORATE, "health");
    struct cf_notice n;
    expect_notice(t, "la-duty", "inquorate", &n);
    assert_string_equal(n.state, "convened");
    struct cf_case_info ci;
    case_info(t, "la-csc", &ci);
    assert_string_equal(ci.state, "convened");
    uint64_t due = due_of(&ci, "reconvene");
    assert_true(due >= expected_due(t, "england-wales", CF_DEADLINE_RECONVENE, before));
    assert_true(due <= expected_due(t, "england-wales", CF_DEADLINE_RECONVENE, net_now()));
    /* The guardian is required too. */
    propose_header(t, CF_DECISION_RG, &h);
    h.n_attendees = 3; /* the owner, police, health */
    rejected(t, &h, CF_EINQUORATE, "guardian");
    /* Reconvening meets the deadline. */
    convene(t);
    case_info(t, "la-csc", &ci);
    assert_int_equal(due_of(&ci, "reconvene"), 0);
}

/* The chair may not be the child's own lead social worker. */
static void test_chair_may_not_be_the_lead(void **state)
{
    struct t *t = *state;
    refer_in(t, "police-a", "E09000033");
    acknowledge(t, "sw-0001");
    strategy(t, CF_TYPE_STRATEGY_RECORD);
    struct cf_header h;
    convene_header(t, "sw-0001", &h);
    rejected(t, &h, CF_ECHAIR, "lead");
    convene_header(t, "chair-0042", &h);
    accepted(t, &h);
}

/* A transfer to Scotland switches the case to Scotland's rules from then on. */
static void test_transfer_to_scotland_changes_the_deadlines(void **state)
{
    struct t *t = *state;
    refer_in(t, "police-a", "E09000033");
    acknowledge(t, "sw-0001");
    strategy(t, CF_TYPE_STRATEGY_RECORD);
    struct cf_case_info ci;
    case_info(t, "la-csc", &ci);
    uint64_t conference = due_of(&ci, "conference");
    assert_int_equal(conference, expected_due(t, "england-wales", CF_DEADLINE_CONFERENCE,
                                              t->c.first_at[CF_TYPE_STRATEGY_RECORD]));
    assert_true(due_of(&ci, "rg_determination") > 0); /* England's pilot rule */
    struct cf_header h;
    header(t, CF_TYPE_TRANSFER, "la-csc", &h);
    snprintf(h.la_code, sizeof h.la_code, "S12000036");
    snprintf(h.jurisdiction, sizeof h.jurisdiction, "scotland");
    accepted(t, &h);
    assert_string_equal(t->c.owner, "la-s-csc");
    expect_notice(t, "la-s-duty", "transfer_in", NULL);
    case_info(t, "la-s-csc", &ci);
    assert_string_equal(ci.jurisdiction, "scotland");
    assert_string_equal(ci.owner, "la-s-csc");
    /* Scotland: the planning meeting 28 calendar days from the strategy step
     * (the IRD there), counted from the transfer; Scotland sets no RG figure. */
    assert_int_equal(due_of(&ci, "conference"),
                     expected_due(t, "scotland", CF_DEADLINE_CONFERENCE, t->c.transfer_at));
    assert_true(due_of(&ci, "conference") != conference);
    assert_int_equal(due_of(&ci, "rg_determination"), 0);
    /* From now on the new owner convenes, with Scotland's members. */
    header(t, CF_TYPE_CONFERENCE_CONVENED, "la-csc", &h);
    convene_header(t, "chair-0042", &h);
    snprintf(h.sender, sizeof h.sender, "la-csc");
    rejected(t, &h, CF_ENOTPARTY, "case:owner");
    convene(t);
}

/* Timers live in LMDB: a deadline that falls due while the broker is down
 * fires when it is back, and reaches a duty team that is offline then. */
static void test_breach_fires_after_restart_for_an_offline_duty_team(void **state)
{
    struct t *t = *state;
    refer_in(t, "police-a", "E09000033");
    expect_notice(t, "la-duty", "new_referral", NULL);
    struct cf_case_info ci;
    case_info(t, "la-csc", &ci);
    uint64_t due = due_of(&ci, "acknowledgement");
    assert_int_equal(due, expected_due(t, "england-wales", CF_DEADLINE_ACKNOWLEDGEMENT,
                                       t->c.first_at[CF_TYPE_REFERRAL]));
    offline(t, "la-duty");
    net_broker_stop(&t->n);
    for (size_t i = 0; i < NET_MAX_AGENCIES; i++)
        t->sock[i] = NULL;
    net_clock_advance(&t->n, (int64_t)(due - net_now()) + 60000); /* a minute past due */
    net_broker_start(&t->n);
    /* The near and the breach notices both wait in the offline duty team's mailbox. */
    struct cf_notice n;
    expect_notice(t, "la-duty", "deadline_near", &n);
    assert_string_equal(n.deadline, "acknowledgement");
    expect_notice(t, "la-duty", "deadline_breached", &n);
    assert_string_equal(n.deadline, "acknowledgement");
    assert_int_equal(n.due, due);
    assert_string_equal(n.state, "referred");
    /* The owner is told too. */
    expect_notice(t, "la-csc", "deadline_breached", NULL);
    /* Acknowledging late closes it. */
    acknowledge(t, "sw-0001");
    case_info(t, "la-csc", &ci);
    assert_int_equal(due_of(&ci, "acknowledgement"), 0);
}

/* A message not acknowledged within its urgency's threshold is noticed to
 * the duty team and the sender, and after 5 days reported not delivered. */
static void test_undelivered_and_non_delivery_notices(void **state)
{
    struct t *t = *state;
    refer_in(t, "police-a", "E09000033"); /* immediate: 15 minutes */
    /* la-csc and guardian-x never connect. */
    expect_notice(t, "la-duty", "new_referral", NULL); /* acknowledging the referral too */
    struct cf_frame f;
    net_clock_advance(&t->n, 16 * 60000);
    struct cf_notice n;
    expect_notice(t, "police-a", "undelivered", &n);
    assert_int_equal(n.n_outstanding, 2);
    assert_string_equal(n.outstanding[0], "guardian-x");
    assert_string_equal(n.outstanding[1], "la-csc");
    expect_notice(t, "la-duty", "undelivered", NULL);
    /* 5 calendar days end at midnight after the fifth day: a sixth day is past it. */
    net_clock_advance(&t->n, (int64_t)(6 * DAY_MS));
    expect_notice(t, "police-a", "non_delivery", &n);
    assert_int_equal(n.n_outstanding, 2);
    /* Still deliverable: nothing is lost. */
    void *s = sock(t, "la-csc");
    for (;;) {
        net_expect(s, CF_FRAME_DELIVER, &f, 10000);
        bool referral = f.envelope != NULL;
        cf_wire_frame_fini(&f);
        if (referral)
            break;
    }
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        TEST(test_full_case_in_england),
        TEST(test_home_office_may_not_decide),
        TEST(test_vote_from_a_non_voter),
        TEST(test_vote_signature_binds_proposal_case_and_decision),
        TEST(test_reject_vote_ends_the_proposal),
        TEST(test_home_office_recipient_on_a_contribution),
        TEST(test_inquorate_meeting),
        TEST(test_chair_may_not_be_the_lead),
        TEST(test_transfer_to_scotland_changes_the_deadlines),
        TEST(test_breach_fires_after_restart_for_an_offline_duty_team),
        TEST(test_undelivered_and_non_delivery_notices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
