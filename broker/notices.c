/* Notices are built from header metadata only: ids, enums, times and the
 * case's state. Nothing here can reach a payload, so nothing a notice says
 * can be a child's details. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "childfirst/log.h"
#include "audit.h"
#include "mailbox.h"
#include "notices.h"

void cf_notices_about(struct cf_notice *n, const struct cf_case *c, const struct cf_header *about,
                      uint64_t about_leaf)
{
    memset(n, 0, sizeof *n);
    if (about) {
        memcpy(n->case_id, about->case_id, sizeof n->case_id);
        n->urgency = about->urgency;
        n->has_immediate_risk = true;
        n->immediate_risk = about->immediate_risk;
        n->has_about_leaf = true;
        n->about_leaf = about_leaf;
    }
    if (c) {
        memcpy(n->case_id, c->case_id, sizeof n->case_id);
        if (!about) {
            n->urgency = c->urgency;
            n->has_immediate_risk = true;
            n->immediate_risk = c->immediate_risk;
        }
        memcpy(n->referring_agency, c->referrer, sizeof n->referring_agency);
        snprintf(n->state, sizeof n->state, "%s", cf_case_state_name(c->state));
    } else if (about && about->type == CF_TYPE_REFERRAL) {
        memcpy(n->referring_agency, about->sender, sizeof n->referring_agency);
    }
}

int cf_notices_issue(struct broker *b, MDB_txn *txn, uint64_t *size, enum cf_notice_kind kind,
                     struct cf_notice *n, const struct cf_route_ctx *ctx, uint64_t now)
{
    struct cf_error err = {0};
    n->version = CF_PROTOCOL_VERSION;
    n->created_at = now;
    snprintf(n->kind, sizeof n->kind, "%s", cf_notice_kind_name(kind));
    int rc = cf_policy_notice_recipients(b->dir->policy, b->dir, kind, ctx, n->recipients,
                                         &n->n_recipients, &err);
    /* Routed to nobody, the notice is still logged: it records a ruling
     * (a deadline near or breached, a meeting inquorate) that changes the
     * case, and the log alone must give every case's state. */
    if (rc != 0) {
        cf_log_warn("NOTICE-UNROUTED", "kind=%s case=%s code=%s", n->kind, n->case_id,
                    cf_error_name(rc));
        n->n_recipients = 0;
    }
    randombytes_buf(n->notice_id, sizeof n->notice_id);
    uint8_t *bytes;
    size_t len;
    if ((rc = cf_wire_notice_encode(n, &bytes, &len)) != 0)
        return rc;
    struct cf_record rec = {
        .time = now, .event = CF_EVENT_NOTICE, .notice = bytes, .notice_len = len};
    cf_notice_sign(bytes, len, b->keys, rec.notice_signature);
    uint64_t leaf = *size;
    rc = cf_audit_append(b, txn, size, &rec);
    free(bytes);
    for (size_t i = 0; rc == 0 && i < n->n_recipients; i++)
        rc = cf_mailbox_put(&b->store, txn, n->recipients[i], leaf);
    if (rc == 0)
        cf_log_info("NOTICE-ISSUED", "kind=%s case=%s leaf=%llu recipients=%zu", n->kind,
                    n->case_id, (unsigned long long)leaf, n->n_recipients);
    return rc;
}
