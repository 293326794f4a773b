/* Cases: the derived record the broker keeps per case (DESIGN.md section 8),
 * rebuilt from the log alone, and the names of the case states. */
#ifndef CHILDFIRST_CASE_H
#define CHILDFIRST_CASE_H

#include <stdbool.h>
#include <stdint.h>

#include "childfirst/header.h"

enum cf_case_state {
    CF_CASE_NONE = 0,
    CF_CASE_REFERRED,
    CF_CASE_ACKNOWLEDGED,
    CF_CASE_STRATEGY_HELD,
    CF_CASE_CONVENED,
    CF_CASE_PROPOSED,
    CF_CASE_DETERMINED,
    CF_CASE_RECONSIDERATION,
    CF_CASE_CLOSED,
    CF_CASE_STATE_COUNT
};

struct cf_case {
    char case_id[CF_CASE_ID_LEN + 1];
    enum cf_case_state state;
    char la_code[CF_LA_CODE_LEN + 1];
    char jurisdiction[CF_JURISDICTION_MAX + 1];
    cf_id referrer;
    uint64_t opened_leaf, updated_leaf;
    enum cf_urgency urgency;
    bool immediate_risk;
};

/* "referred", "acknowledged", ...; NULL when out of range. */
const char *cf_case_state_name(enum cf_case_state state);

/* The case a referral opens, from its accepted header and leaf. */
void cf_case_open(struct cf_case *c, const struct cf_header *referral, uint64_t leaf);

#endif
