/* An agency's cases: what it knows of each, and the case messages it sends.
 * The agency knows a case only through the headers it has seen, so it runs
 * the broker's own case machine over them (common/src/case.c, without
 * deadlines): the owner, the members and the open proposal then come out as
 * the broker reckons them, and the recipients it routes are the ones the
 * broker requires. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent_link.h"
#include "agent_store.h"
#include "agent_text.h"
#include "childfirst/log.h"
#include "childfirst/message.h"
#include "childfirst/store.h"

static struct cf_case_rules rules_of(const struct agent *a)
{
    return (struct cf_case_rules){a->dir, NULL};
}

int agent_cases_get(struct agent *a, MDB_txn *txn, const char *case_id, struct cf_case *c)
{
    MDB_val v;
    int rc = agent_store_get(txn, a->store.cases, case_id, strlen(case_id), &v);
    if (rc != 0)
        return rc;
    return cf_wire_case_decode(v.mv_data, v.mv_size, c, NULL) == 0 ? 0 : CF_ECORRUPT;
}

static int put_case(struct agent *a, MDB_txn *txn, const struct cf_case *c)
{
    uint8_t *bytes;
    size_t len;
    int rc = cf_wire_case_encode(c, &bytes, &len);
    if (rc != 0)
        return rc;
    rc = agent_store_put(txn, a->store.cases, c->case_id, strlen(c->case_id), bytes, len);
    free(bytes);
    return rc;
}

int agent_cases_note(struct agent *a, MDB_txn *txn, const struct cf_header *h, uint64_t leaf,
                     uint64_t time)
{
    if (!a->dir)
        return 0;
    struct cf_case *c = calloc(1, sizeof *c);
    if (!c)
        return CF_ENOMEM;
    int rc = agent_cases_get(a, txn, h->case_id, c);
    if (rc == CF_ENOTFOUND && h->type != CF_TYPE_REFERRAL) {
        /* The first this agency hears of the case is a later message: it
         * knows the case's place and urgency, and learns the rest as it goes. */
        memcpy(c->case_id, h->case_id, sizeof c->case_id);
        memcpy(c->la_code, h->la_code, sizeof c->la_code);
        memcpy(c->jurisdiction, h->jurisdiction, sizeof c->jurisdiction);
        c->urgency = h->urgency;
        c->immediate_risk = h->immediate_risk;
        c->state = CF_CASE_REFERRED;
        rc = 0;
    }
    if (rc != 0 && rc != CF_ENOTFOUND) {
        free(c);
        return rc;
    }
    struct cf_case_rules rules = rules_of(a);
    struct cf_case_effects fx;
    struct cf_error err = {0};
    if (cf_case_apply(c, h, leaf, time, &rules, &fx, &err) != 0)
        cf_log_warn("CASE-NOTE-PARTIAL", "case=%s leaf=%" PRIu64 " code=%s", h->case_id, leaf,
                    cf_error_name(err.code));
    rc = put_case(a, txn, c);
    free(c);
    return rc;
}

int agent_cases_note_determination(struct agent *a, MDB_txn *txn, const char *case_id,
                                   uint64_t leaf, uint64_t time)
{
    struct cf_case *c = calloc(1, sizeof *c);
    if (!c)
        return CF_ENOMEM;
    int rc = agent_cases_get(a, txn, case_id, c);
    if (rc == 0) {
        struct cf_case_rules rules = rules_of(a);
        struct cf_error err = {0};
        rc = cf_case_apply_determination(c, leaf, time, &rules, &err);
        if (rc == 0)
            rc = put_case(a, txn, c);
    }
    free(c);
    return rc == CF_ENOTFOUND ? 0 : rc;
}

/* ---- Sending ---- */

/* The proposal this agency received with `id`: its envelope and header, and
 * its decrypted document, whose decision must match the signed header. */
static int received_proposal(struct agent *a, MDB_txn *txn, const uint8_t id[CF_MESSAGE_ID_LEN],
                             struct cf_envelope *env, struct cf_header *h, struct cf_error *err)
{
    MDB_val k, v;
    struct cf_frame f;
    memset(&f, 0, sizeof f);
    int rc = agent_store_get(txn, a->store.byid, id, CF_MESSAGE_ID_LEN, &k);
    if (rc != 0 || k.mv_size != 8 || agent_store_get(txn, a->store.inbox, k.mv_data, 8, &v) != 0 ||
        cf_wire_frame_decode(v.mv_data, v.mv_size, &f, NULL) != 0 || !f.envelope ||
        f.determination || cf_envelope_decode(f.envelope, f.envelope_len, env, h, NULL) != 0 ||
        h->type != CF_TYPE_DETERMINATION_PROPOSED) {
        cf_wire_frame_fini(&f);
        return cf_error_set(err, CF_ENOTFOUND,
                            "proposal_id: this agency has received no proposal with that id");
    }
    cf_wire_frame_fini(&f);
    uint8_t *payload = NULL;
    size_t plen;
    json_t *doc = NULL;
    if ((rc = cf_envelope_open(env, a->keys, &payload, &plen)) != 0)
        return cf_error_set(err, rc, "the proposal cannot be opened here: %s", cf_strerror(rc));
    rc = cf_message_to_json(h, payload, plen, NULL, 0, &doc, err);
    sodium_memzero(payload, plen);
    free(payload);
    json_decref(doc);
    if (rc == CF_EMISMATCH)
        return cf_error_set(err, rc,
                            "the proposal's decrypted decision is not the %s its signed header "
                            "says; do not vote on it, and tell its sender",
                            cf_header_decision_name(h->decision));
    return rc;
}

/* A vote's header fields: the decision is the proposal's, and the signature
 * binds this case, that proposal as received, and that decision. */
static int sign_vote(struct agent *a, MDB_txn *txn, struct cf_header *h, struct cf_error *err)
{
    struct cf_envelope env;
    struct cf_header ph;
    memset(&env, 0, sizeof env);
    int rc = received_proposal(a, txn, h->vote.proposal_id, &env, &ph, err);
    if (rc == 0 && strcmp(ph.case_id, h->case_id) != 0)
        rc = cf_error_set(err, CF_EFIELD, "proposal_id: that proposal is of case %s, not %s",
                          ph.case_id, h->case_id);
    if (rc == 0) {
        h->decision = ph.decision;
        struct cf_vote_subject s = {.case_id = h->case_id, .decision = ph.decision};
        memcpy(s.proposal_id, ph.message_id, CF_MESSAGE_ID_LEN);
        cf_envelope_digests(&env, &s.proposal);
        rc = cf_envelope_vote_sign(&s, h->vote.approve, a->keys, h->vote.signature);
    }
    cf_envelope_fini(&env);
    return rc;
}

/* Everything but the type's own fields: ids, place, urgency and recipients. */
static int route(struct agent *a, const struct cf_case *c, struct cf_header *h, cf_id nrm_reader,
                 struct cf_error *err)
{
    h->version = CF_PROTOCOL_VERSION;
    randombytes_buf(h->message_id, sizeof h->message_id);
    memcpy(h->case_id, c->case_id, sizeof h->case_id);
    snprintf(h->sender, sizeof h->sender, "%s", a->cfg.id);
    h->created_at = agent_now();
    h->urgency = c->urgency;
    h->immediate_risk = c->immediate_risk;
    const char *la = h->type == CF_TYPE_TRANSFER ? h->la_code : c->la_code;
    const struct cf_jurisdiction *j;
    if (cf_policy_jurisdiction_of(a->dir->policy, la, &j) != 0)
        return cf_error_set(err, CF_EJURISDICTION,
                            "la_code: %s belongs to no jurisdiction in the signed policy", la);
    memmove(h->la_code, la, sizeof h->la_code);
    snprintf(h->jurisdiction, sizeof h->jurisdiction, "%s", j->name);
    struct cf_parties parties;
    struct cf_route_ctx ctx;
    cf_case_route_ctx(c, h, &parties, &ctx);
    int rc =
        cf_policy_recipients(a->dir->policy, a->dir, &ctx, h->recipients, &h->n_recipients, err);
    if (rc == 0 && h->type == CF_TYPE_DETERMINATION_PROPOSED)
        rc = cf_policy_nrm_reader(a->dir->policy, a->dir, &ctx, nrm_reader, err);
    return rc;
}

int agent_send(struct agent *a, enum cf_type type, const char *case_id, const char *json,
               size_t len, uint8_t message_id[CF_MESSAGE_ID_LEN], struct cf_error *err)
{
    if (!a->dir)
        return cf_error_set(err, CF_EUNKNOWNAGENCY,
                            "no signed directory yet: the agent has not reached the broker "
                            "since it was installed");
    if (!cf_message_type_valid(type))
        return cf_error_set(err, CF_ETYPE, "%s is not a message an agency sends with `send`",
                            cf_header_type_name(type) ? cf_header_type_name(type) : "that");
    struct cf_case *c = calloc(1, sizeof *c);
    struct cf_header *h = calloc(1, sizeof *h);
    uint8_t *payload = NULL, *nrm = NULL, *env = NULL;
    size_t plen = 0, nrm_len = 0, env_len = 0;
    MDB_txn *txn = NULL;
    int rc =
        c && h ? cf_store_error(mdb_txn_begin(a->store.env, NULL, MDB_RDONLY, &txn)) : CF_ENOMEM;
    if (rc != 0) {
        cf_error_set(err, rc, "cannot read the agent store");
        goto out;
    }
    if ((rc = agent_cases_get(a, txn, case_id, c)) != 0) {
        cf_error_set(err, rc == CF_ENOTFOUND ? CF_ENOTFOUND : rc,
                     rc == CF_ENOTFOUND ? "case %s: this agency has seen no message of it"
                                        : "case %s: this agency's record of it cannot be read",
                     case_id);
        goto out;
    }
    char today[AGENT_TEXT_DATE_MAX];
    agent_text_today(today);
    h->type = type;
    bool proposal = type == CF_TYPE_DETERMINATION_PROPOSED;
    if ((rc = cf_message_from_json(type, json, len, today, c->jurisdiction, h, &payload, &plen,
                                   proposal ? &nrm : NULL, proposal ? &nrm_len : NULL, err)) != 0)
        goto out;
    cf_id nrm_reader = "";
    if ((rc = route(a, c, h, nrm_reader, err)) != 0 ||
        (type == CF_TYPE_VOTE && (rc = sign_vote(a, txn, h, err)) != 0))
        goto out;
    mdb_txn_abort(txn);
    txn = NULL;
    if ((rc = agent_outbox_seal(a, h, payload, plen, nrm, nrm_len, nrm_reader, &env, &env_len,
                                err)) != 0 ||
        (rc = agent_outbox_queue(a, h, env, env_len, NULL, err)) != 0)
        goto out;
    memcpy(message_id, h->message_id, CF_MESSAGE_ID_LEN);
out:
    if (txn)
        mdb_txn_abort(txn);
    if (payload)
        sodium_memzero(payload, plen);
    if (nrm)
        sodium_memzero(nrm, nrm_len);
    free(payload), free(nrm), free(env), free(c), free(h);
    return rc;
}

/* ---- The case view ---- */

/* The recipients' verified answers to message `id`: "delivered_to" and
 * "nacked_by" lists on `item`. */
static void add_reports(struct agent *a, MDB_txn *txn, const uint8_t id[CF_MESSAGE_ID_LEN],
                        json_t *item)
{
    MDB_cursor *cur;
    MDB_val k = {CF_MESSAGE_ID_LEN, (void *)id}, v;
    json_t *delivered = json_array(), *nacked = json_array();
    if (delivered && nacked && mdb_cursor_open(txn, a->store.reports, &cur) == 0) {
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            if (k.mv_size <= CF_MESSAGE_ID_LEN || memcmp(k.mv_data, id, CF_MESSAGE_ID_LEN) != 0)
                break;
            json_t *r = json_loadb(v.mv_data, v.mv_size, 0, NULL);
            const char *outcome = json_string_value(json_object_get(r, "outcome"));
            json_array_append(outcome && strcmp(outcome, "delivered") == 0 ? delivered : nacked,
                              json_object_get(r, "recipient"));
            json_decref(r);
        }
        mdb_cursor_close(cur);
    }
    json_object_set_new(item, "delivered_to", delivered ? delivered : json_array());
    json_object_set_new(item, "nacked_by", nacked ? nacked : json_array());
}

/* The messages this agency sent in the case, from its receipts and outbox. */
static void add_sent(struct agent *a, MDB_txn *txn, const char *case_id, json_t *timeline,
                     json_t *seen)
{
    MDB_cursor *cur;
    MDB_val k, v;
    if (mdb_cursor_open(txn, a->store.sent, &cur) == 0) {
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            struct cf_frame f;
            struct cf_record rec;
            struct cf_header h;
            memset(&rec, 0, sizeof rec);
            if (cf_wire_frame_decode(v.mv_data, v.mv_size, &f, NULL) == 0 &&
                cf_wire_record_decode(f.record, f.record_len, &rec, NULL) == 0 && rec.header &&
                cf_wire_header_decode(rec.header, rec.header_len, &h, NULL) == 0 &&
                strcmp(h.case_id, case_id) == 0) {
                json_t *id = agent_text_hex(h.message_id, CF_MESSAGE_ID_LEN);
                json_object_set(seen, json_string_value(id), json_true());
                json_t *item = json_pack("{s:o, s:I, s:s, s:s, s:s, s:o, s:s}", "at",
                                         agent_text_time_json(rec.time), "leaf_index",
                                         (json_int_t)f.leaf_index, "direction", "sent", "type",
                                         cf_header_type_name(h.type), "sender", h.sender,
                                         "message_id", id, "status", "accepted");
                if (item)
                    add_reports(a, txn, h.message_id, item);
                json_array_append_new(timeline, item);
            }
            cf_wire_record_fini(&rec);
            cf_wire_frame_fini(&f);
        }
        mdb_cursor_close(cur);
    }
    if (mdb_cursor_open(txn, a->store.outbox, &cur) == 0) {
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            struct cf_outbox_entry e;
            uint8_t *copy = NULL;
            struct cf_envelope env;
            struct cf_header h;
            memset(&env, 0, sizeof env);
            if (cf_wire_outbox_decode(v.mv_data, v.mv_size, &e, &copy, NULL) == 0 &&
                cf_envelope_decode(e.envelope, e.envelope_len, &env, &h, NULL) == 0 &&
                strcmp(h.case_id, case_id) == 0)
                json_array_append_new(
                    timeline,
                    json_pack("{s:o, s:n, s:s, s:s, s:s, s:o, s:s}", "at",
                              agent_text_time_json(e.queued_at), "leaf_index", "direction", "sent",
                              "type", cf_header_type_name(h.type), "sender", h.sender, "message_id",
                              agent_text_hex(h.message_id, CF_MESSAGE_ID_LEN), "status", "queued"));
            cf_envelope_fini(&env);
            free(copy);
        }
        mdb_cursor_close(cur);
    }
}

/* Log order; what has no leaf yet (queued) comes last. */
static int by_leaf(const void *x, const void *y)
{
    const json_t *a = *(const json_t *const *)x, *b = *(const json_t *const *)y;
    const json_t *la = json_object_get(a, "leaf_index"), *lb = json_object_get(b, "leaf_index");
    if (!json_is_integer(la) || !json_is_integer(lb))
        return json_is_integer(la) ? -1 : json_is_integer(lb) ? 1 : 0;
    json_int_t ia = json_integer_value(la), ib = json_integer_value(lb);
    return ia < ib ? -1 : ia > ib;
}

static json_t *broker_view(const struct cf_case_info *info)
{
    json_t *deadlines = json_array();
    for (size_t i = 0; deadlines && i < info->n_deadlines; i++)
        json_array_append_new(deadlines,
                              json_pack("{s:s, s:o}", "name", info->deadlines[i].name, "due",
                                        agent_text_time_json(info->deadlines[i].due)));
    json_t *view = json_pack("{s:s, s:s, s:s, s:s, s:o}", "state", info->state, "owner",
                             info->owner, "jurisdiction", info->jurisdiction, "la_code",
                             info->la_code, "deadlines", deadlines);
    if (view && info->n_deadlines > 0)
        json_object_set(view, "next_deadline", json_array_get(deadlines, 0));
    return view;
}

json_t *agent_case_view(struct agent *a, const char *case_id, const struct cf_case_info *info)
{
    json_t *received = agent_inbox(a, case_id);
    json_t *timeline = json_array(), *seen = json_object();
    MDB_txn *txn = NULL;
    if (!received || !timeline || !seen ||
        mdb_txn_begin(a->store.env, NULL, MDB_RDONLY, &txn) != 0) {
        json_decref(received), json_decref(timeline), json_decref(seen);
        return NULL;
    }
    add_sent(a, txn, case_id, timeline, seen);
    struct cf_case c;
    bool known = agent_cases_get(a, txn, case_id, &c) == 0;
    mdb_txn_abort(txn);
    size_t i;
    json_t *e;
    json_array_foreach(received, i, e)
    {
        /* A copy of its own message coming back is already listed as sent. */
        const char *id = json_string_value(json_object_get(e, "message_id"));
        if (id && json_object_get(seen, id))
            continue;
        json_t *item =
            json_pack("{s:O, s:O, s:s, s:O, s:O, s:O}", "at", json_object_get(e, "received_at"),
                      "leaf_index", json_object_get(e, "leaf_index"), "direction", "received",
                      "type", json_object_get(e, "type"), "sender", json_object_get(e, "sender"),
                      "message_id", json_object_get(e, "message_id"));
        if (item && json_object_get(e, "kind"))
            json_object_set(item, "kind", json_object_get(e, "kind"));
        json_array_append_new(timeline, item);
    }
    json_decref(received);
    json_decref(seen);
    size_t n = json_array_size(timeline);
    json_t **items = calloc(n ? n : 1, sizeof *items);
    json_t *sorted = json_array();
    if (items && sorted) {
        for (i = 0; i < n; i++)
            items[i] = json_array_get(timeline, i);
        qsort(items, n, sizeof *items, by_leaf);
        for (i = 0; i < n; i++)
            json_array_append(sorted, items[i]);
    }
    free(items);
    json_decref(timeline);
    json_t *view = json_pack("{s:s, s:o}", "case_id", case_id, "timeline", sorted);
    if (view && known) /* what this agency knows without asking the broker */
        json_object_set_new(
            view, "local",
            json_pack("{s:s, s:s, s:s, s:s}", "state",
                      cf_case_state_name(c.state) ? cf_case_state_name(c.state) : "unknown",
                      "owner", c.owner, "jurisdiction", c.jurisdiction, "la_code", c.la_code));
    if (view && info)
        json_object_set_new(view, "broker", broker_view(info));
    return view;
}

/* ---- The list of cases, for the dashboard ---- */

/* When the agency first saw the case: its referral's leaf time, or the
 * earliest event it knows of. */
static uint64_t opened_at(const struct cf_case *c)
{
    uint64_t t = c->first_at[CF_TYPE_REFERRAL];
    for (int i = 0; !t && i < CF_TYPE_COUNT; i++)
        if (c->first_at[i] && (!t || c->first_at[i] < t))
            t = c->first_at[i];
    return t;
}

json_t *agent_cases_list(struct agent *a)
{
    json_t *list = json_array();
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    if (!list || mdb_txn_begin(a->store.env, NULL, MDB_RDONLY, &txn) != 0) {
        json_decref(list);
        return NULL;
    }
    struct cf_case *c = calloc(1, sizeof *c);
    if (c && mdb_cursor_open(txn, a->store.cases, &cur) == 0) {
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            if (cf_wire_case_decode(v.mv_data, v.mv_size, c, NULL) != 0) {
                cf_log_warn("CASE-UNREADABLE", "key_bytes=%zu", k.mv_size);
                continue;
            }
            const char *state = cf_case_state_name(c->state);
            json_t *e = json_pack(
                "{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:o, s:I}", "case_id", c->case_id, "state",
                state ? state : "unknown", "la_code", c->la_code, "jurisdiction", c->jurisdiction,
                "owner", c->owner, "urgency", c->urgency ? cf_header_urgency_name(c->urgency) : "",
                "immediate_risk", c->immediate_risk, "opened_at",
                agent_text_time_json(opened_at(c)), "updated_leaf", (json_int_t)c->updated_leaf);
            json_array_append_new(list, e);
        }
        mdb_cursor_close(cur);
    }
    free(c);
    mdb_txn_abort(txn);
    return list;
}
