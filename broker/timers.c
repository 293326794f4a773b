/* Firing a timer re-reads the facts rather than trusting the key: a deadline
 * fires only if its case still has it open with that due moment, and an
 * undelivered alert names only recipients whose mailbox still holds the
 * message. A stale key is simply dropped. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "childfirst/calendar.h"
#include "childfirst/log.h"
#include "cases.h"
#include "mailbox.h"
#include "notices.h"
#include "timers.h"
#include "writer.h"

enum { PHASE_NEAR = 1, PHASE_BREACH = 2, PHASE_ALERT = 1, PHASE_REPORT = 2 };

/* The longest key: a deadline's in the layout before 'c' keys (below). */
#define KEY_MAX (8 + 1 + CF_CASE_ID_LEN + 2)
#define CASE_KEY_LEN (8 + 1 + 8 + 2)

/* A deadline's key names its case by the leaf that opened it; the case id is
 * the value. Day deadlines run out at midnight, so all of a day's cases share
 * each due moment: ordered by opening leaf, a batch's new keys go in at the
 * end of that run, where ordered by case id (128 random bits) each went to a
 * page of its own. */
static size_t deadline_key(uint8_t key[KEY_MAX], uint64_t at, uint64_t opened_leaf,
                           enum cf_deadline d, int phase)
{
    cf_store_put_u64(key, at);
    key[8] = 'c';
    cf_store_put_u64(key + 9, opened_leaf);
    key[17] = (uint8_t)d;
    key[18] = (uint8_t)phase;
    return CASE_KEY_LEN;
}

/* The key the same deadline had before: due || 'd' || case_id || deadline ||
 * phase, with no value. A log written then still holds such keys: they fire
 * as before, and are removed with the new ones. */
static size_t deadline_key_by_id(uint8_t key[KEY_MAX], uint64_t at, const char *case_id,
                                 enum cf_deadline d, int phase)
{
    cf_store_put_u64(key, at);
    key[8] = 'd';
    memcpy(key + 9, case_id, CF_CASE_ID_LEN);
    key[9 + CF_CASE_ID_LEN] = (uint8_t)d;
    key[10 + CF_CASE_ID_LEN] = (uint8_t)phase;
    return KEY_MAX;
}

static size_t message_key(uint8_t key[KEY_MAX], uint64_t at, uint64_t leaf, int phase)
{
    cf_store_put_u64(key, at);
    key[8] = 'u';
    cf_store_put_u64(key + 9, leaf);
    key[17] = (uint8_t)phase;
    return 18;
}

static int put(struct broker *b, MDB_txn *txn, const uint8_t *key, size_t len, const char *value)
{
    return cf_store_put(&b->store, txn, b->store.timer, key, len, value, strlen(value));
}

static int del(struct broker *b, MDB_txn *txn, uint8_t *key, size_t len)
{
    int rc = cf_store_del(&b->store, txn, b->store.timer, key, len);
    return rc == CF_ENOTFOUND ? 0 : rc;
}

/* Puts (or removes) the key of one deadline notice. */
static int case_key(struct broker *b, MDB_txn *txn, const struct cf_case *c, uint64_t at,
                    enum cf_deadline d, int phase, bool add)
{
    uint8_t key[KEY_MAX];
    size_t n = deadline_key(key, at, c->opened_leaf, d, phase);
    if (add)
        return put(b, txn, key, n, c->case_id);
    int rc = del(b, txn, key, n);
    if (rc == 0) {
        n = deadline_key_by_id(key, at, c->case_id, d, phase);
        rc = del(b, txn, key, n);
    }
    return rc;
}

/* Puts (or removes) the keys of a case's unsent deadline notices. */
static int case_keys(struct broker *b, MDB_txn *txn, const struct cf_case *c, bool add)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < c->n_deadlines; i++) {
        const struct cf_case_deadline *d = &c->deadlines[i];
        if (!d->near_sent)
            rc = case_key(b, txn, c, d->near, d->kind, PHASE_NEAR, add);
        if (rc == 0 && !d->breach_sent)
            rc = case_key(b, txn, c, d->due, d->kind, PHASE_BREACH, add);
    }
    return rc;
}

int cf_timers_case(struct broker *b, MDB_txn *txn, const struct cf_case *old,
                   const struct cf_case *c)
{
    int rc = old ? case_keys(b, txn, old, false) : 0;
    return rc == 0 ? case_keys(b, txn, c, true) : rc;
}

int cf_timers_message(struct broker *b, MDB_txn *txn, const char *jurisdiction,
                      enum cf_urgency urgency, uint64_t leaf, uint64_t now)
{
    const struct cf_policy *p = b->dir->policy;
    const struct cf_jurisdiction *j = cf_policy_jurisdiction(p, jurisdiction);
    if (!j || (unsigned)urgency >= 4 || urgency == CF_URGENCY_NONE)
        return 0;
    const struct cf_calendar *cal = b->calendars[j - p->jurisdictions];
    uint64_t alert, report;
    int rc = cf_calendar_deadline(cal, now, &p->undelivered[urgency], &alert);
    if (rc == 0)
        rc = cf_calendar_deadline(cal, now, &p->non_delivery_report, &report);
    if (rc != 0) {
        cf_log_warn("TIMER-UNSET", "leaf=%" PRIu64 " code=%s", leaf, cf_error_name(rc));
        return 0; /* a calendar past its years must not refuse the message */
    }
    uint8_t key[KEY_MAX];
    size_t n = message_key(key, alert, leaf, PHASE_ALERT);
    if ((rc = put(b, txn, key, n, "")) != 0)
        return rc;
    n = message_key(key, report, leaf, PHASE_REPORT);
    return put(b, txn, key, n, "");
}

/* `rest`: the deadline and phase bytes of its key. */
static int fire_deadline(struct broker *b, MDB_txn *txn, uint64_t *size, uint64_t at,
                         const char *case_id, const uint8_t *rest, uint64_t now, bool *issued)
{
    enum cf_deadline kind = (enum cf_deadline)rest[0];
    bool breach = rest[1] == PHASE_BREACH;
    struct cf_case *old = malloc(2 * sizeof *old), *c = old + 1;
    if (!old)
        return CF_ENOMEM;
    int rc = cf_cases_load(b, txn, case_id, old);
    const struct cf_case_deadline *d = NULL;
    for (size_t i = 0; rc == 0 && i < old->n_deadlines; i++)
        if (old->deadlines[i].kind == kind)
            d = &old->deadlines[i];
    if (rc == CF_ENOTFOUND || !d ||
        (breach ? d->due != at || d->breach_sent : d->near != at || d->near_sent)) {
        free(old);
        return 0; /* met or moved since the key was set */
    }
    if (rc == 0) {
        struct cf_notice n;
        cf_notices_about(&n, old, NULL, 0);
        snprintf(n.deadline, sizeof n.deadline, "%s", cf_policy_deadline_name(kind));
        n.has_due = true;
        n.due = d->due;
        struct cf_parties parties;
        cf_case_parties(old, NULL, &parties);
        struct cf_route_ctx ctx = {.la_code = old->la_code, .parties = &parties};
        uint64_t leaf = *size;
        rc = cf_notices_issue(b, txn, size,
                              breach ? CF_NOTICE_DEADLINE_BREACHED : CF_NOTICE_DEADLINE_NEAR, &n,
                              &ctx, now);
        if (rc == 0) {
            *c = *old;
            cf_case_deadline_fired(c, kind, breach, leaf);
            rc = cf_cases_store(b, txn, old, c);
            *issued = true;
            cf_log_info(breach ? "DEADLINE-BREACHED" : "DEADLINE-NEAR",
                        "case=%s deadline=%s due=%" PRIu64, case_id, cf_policy_deadline_name(kind),
                        n.due);
        }
    }
    free(old);
    return rc;
}

/* Who a message (or determination) at `leaf` went to, and its header facts:
 * a determination stands in with its case's, and its sender is the broker. */
struct sent {
    struct cf_header h;
    size_t n;
    cf_id to[CF_MAX_RECIPIENTS];
};

static int sent_of(struct broker *b, MDB_txn *txn, uint64_t leaf, struct sent *s)
{
    MDB_val v;
    struct cf_record rec;
    memset(s, 0, sizeof *s);
    int rc = cf_store_record(&b->store, txn, leaf, &v);
    if (rc != 0)
        return rc;
    if (cf_wire_record_decode(v.mv_data, v.mv_size, &rec, NULL) != 0) {
        cf_wire_record_fini(&rec);
        return CF_ECORRUPT;
    }
    if (rec.event == CF_EVENT_ACCEPTED) {
        rc = cf_wire_header_decode(rec.header, rec.header_len, &s->h, NULL) == 0 ? 0 : CF_ECORRUPT;
        s->n = s->h.n_recipients;
        memcpy(s->to, s->h.recipients, s->n * sizeof(cf_id));
    } else if (rec.event == CF_EVENT_DETERMINATION) {
        struct cf_determination d;
        struct cf_case c;
        rc = cf_store_envelope(&b->store, txn, leaf, &v);
        if (rc == 0 && cf_wire_determination_decode(v.mv_data, v.mv_size, &d, NULL) != 0)
            rc = CF_ECORRUPT;
        if (rc == 0 && (rc = cf_cases_load(b, txn, d.case_id, &c)) == 0) {
            memcpy(s->h.case_id, c.case_id, sizeof s->h.case_id);
            memcpy(s->h.la_code, c.la_code, sizeof s->h.la_code);
            memcpy(s->h.jurisdiction, c.jurisdiction, sizeof s->h.jurisdiction);
            s->h.urgency = c.urgency;
            s->h.immediate_risk = c.immediate_risk;
            s->h.type = CF_TYPE_DETERMINATION;
            s->n = d.n_recipients;
            memcpy(s->to, d.recipients, s->n * sizeof(cf_id));
        }
        cf_wire_determination_fini(&d);
    } else {
        rc = CF_ENOTFOUND;
    }
    cf_wire_record_fini(&rec);
    return rc;
}

static int fire_message(struct broker *b, MDB_txn *txn, uint64_t *size, const uint8_t *rest,
                        uint64_t now, bool *issued)
{
    uint64_t leaf = cf_store_get_u64(rest);
    bool report = rest[8] == PHASE_REPORT;
    struct sent *s = malloc(sizeof *s);
    struct cf_notice *n = malloc(sizeof *n);
    struct cf_case *c = malloc(sizeof *c);
    int rc = s && n && c ? sent_of(b, txn, leaf, s) : CF_ENOMEM;
    if (rc == CF_ENOTFOUND || rc == CF_ECORRUPT) {
        if (rc == CF_ECORRUPT)
            cf_log_error("TIMER-UNREADABLE", "leaf=%" PRIu64, leaf);
        rc = 0; /* nothing to say about it: drop the timer */
        goto out;
    }
    if (rc != 0)
        goto out;
    bool have_case = cf_cases_load(b, txn, s->h.case_id, c) == 0;
    cf_notices_about(n, have_case ? c : NULL, &s->h, leaf);
    for (size_t i = 0; i < s->n; i++) {
        int has = cf_mailbox_has(&b->store, txn, s->to[i], leaf);
        if (has < 0) {
            rc = has;
            goto out;
        }
        if (has)
            memcpy(n->outstanding[n->n_outstanding++], s->to[i], sizeof(cf_id));
    }
    if (n->n_outstanding > 0) {
        struct cf_parties parties;
        cf_case_parties(have_case ? c : NULL, NULL, &parties);
        struct cf_route_ctx ctx = {.la_code = s->h.la_code,
                                   .sender = s->h.sender[0] ? s->h.sender : NULL,
                                   .parties = have_case ? &parties : NULL};
        rc = cf_notices_issue(b, txn, size, report ? CF_NOTICE_NON_DELIVERY : CF_NOTICE_UNDELIVERED,
                              n, &ctx, now);
        *issued = rc == 0;
        if (rc == 0)
            cf_log_warn(report ? "MESSAGE-NOT-DELIVERED" : "MESSAGE-UNDELIVERED",
                        "leaf=%" PRIu64 " case=%s outstanding=%zu", leaf, s->h.case_id,
                        n->n_outstanding);
    }
out:
    free(s), free(n), free(c);
    return rc;
}

int cf_timers_fire(struct broker *b, MDB_txn *txn, uint64_t *size, uint64_t now, size_t max,
                   size_t *fired)
{
    *fired = 0;
    for (size_t done = 0; done < max; done++) {
        MDB_cursor *cur;
        int rc = mdb_cursor_open(txn, b->store.timer, &cur);
        if (rc != 0)
            return cf_store_error(rc);
        MDB_val k, v;
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        uint8_t key[KEY_MAX];
        char case_id[CF_CASE_ID_LEN + 1] = "";
        size_t len = k.mv_size;
        if (rc == 0 && (len < 10 || len > KEY_MAX))
            rc = MDB_CORRUPTED;
        if (rc == 0) {
            memcpy(key, k.mv_data, len);
            if (v.mv_size == CF_CASE_ID_LEN)
                memcpy(case_id, v.mv_data, CF_CASE_ID_LEN);
        }
        mdb_cursor_close(cur);
        if (rc == MDB_NOTFOUND)
            return 0;
        if (rc != 0)
            return cf_store_error(rc);
        uint64_t at = cf_store_get_u64(key);
        if (at > now)
            return 0;
        if ((rc = del(b, txn, key, len)) != 0)
            return rc;
        bool issued = false;
        if (key[8] == 'c' && len == CASE_KEY_LEN && case_id[0])
            rc = fire_deadline(b, txn, size, at, case_id, key + 17, now, &issued);
        else if (key[8] == 'd' && len == KEY_MAX) {
            memcpy(case_id, key + 9, CF_CASE_ID_LEN);
            rc = fire_deadline(b, txn, size, at, case_id, key + 9 + CF_CASE_ID_LEN, now, &issued);
        } else if (key[8] == 'u' && len == 18)
            rc = fire_message(b, txn, size, key + 9, now, &issued);
        if (rc != 0)
            return rc;
        *fired += issued;
    }
    return 0;
}

uint64_t cf_timers_next(struct broker *b)
{
    MDB_txn *txn;
    uint64_t next = UINT64_MAX;
    if (cf_writer_txn(b, &txn) != 0)
        return next;
    MDB_cursor *cur;
    MDB_val k, v;
    if (mdb_cursor_open(txn, b->store.timer, &cur) == 0) {
        if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && k.mv_size >= 8)
            next = cf_store_get_u64(k.mv_data);
        mdb_cursor_close(cur);
    }
    return next;
}
