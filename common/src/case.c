/* Case records: the state names, and opening a case from its referral. The
 * broker and the auditor's replay both build cases through here, so they reach
 * the same state from the same leaves. */
#include <string.h>

#include "childfirst/case.h"

static const char *const names[CF_CASE_STATE_COUNT] = {
    [CF_CASE_REFERRED] = "referred",         [CF_CASE_ACKNOWLEDGED] = "acknowledged",
    [CF_CASE_STRATEGY_HELD] = "strategy_held", [CF_CASE_CONVENED] = "convened",
    [CF_CASE_PROPOSED] = "proposed",         [CF_CASE_DETERMINED] = "determined",
    [CF_CASE_RECONSIDERATION] = "reconsideration", [CF_CASE_CLOSED] = "closed",
};

const char *cf_case_state_name(enum cf_case_state state)
{
    return (unsigned)state < CF_CASE_STATE_COUNT ? names[state] : NULL;
}

void cf_case_open(struct cf_case *c, const struct cf_header *referral, uint64_t leaf)
{
    memset(c, 0, sizeof *c);
    memcpy(c->case_id, referral->case_id, sizeof c->case_id);
    c->state = CF_CASE_REFERRED;
    memcpy(c->la_code, referral->la_code, sizeof c->la_code);
    memcpy(c->jurisdiction, referral->jurisdiction, sizeof c->jurisdiction);
    memcpy(c->referrer, referral->sender, sizeof c->referrer);
    c->opened_leaf = c->updated_leaf = leaf;
    c->urgency = referral->urgency;
    c->immediate_risk = referral->immediate_risk;
}
