/* What a hook run is given and when a failed one is tried again: the pure
 * part of the hook queue (agent_hooks.c), apart from processes and LMDB so
 * that it can be tested on its own. */
#ifndef CF_AGENT_HOOK_PLAN_H
#define CF_AGENT_HOOK_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define AGENT_HOOK_BACKOFF_FIRST_MS 1000u
#define AGENT_HOOK_BACKOFF_MAX_MS (10u * 60u * 1000u)

/* The wait before the next run of a hook that has failed `failures` times in
 * a row: 0 before any failure, then 1 s, 2 s, 4 s, ... doubling up to
 * AGENT_HOOK_BACKOFF_MAX_MS (10 minutes), and that from then on. */
uint64_t agent_hook_plan_backoff_ms(uint32_t failures);

/* The CHILDFIRST_* variables of a hook run, each "NAME=value":
 *   CHILDFIRST_TYPE            a notice's kind (new_referral, ...), or the
 *                              message type (referral, vote, determination, ...)
 *   CHILDFIRST_CASE            the case id ("" for the agent's own notices)
 *   CHILDFIRST_URGENCY         immediate, urgent or routine ("" if none)
 *   CHILDFIRST_IMMEDIATE_RISK  yes or no ("" if not stated)
 *   CHILDFIRST_DEADLINE        a deadline notice's deadline (acknowledgement, ...)
 *   CHILDFIRST_DUE             its due time, ISO-8601 UTC
 *   CHILDFIRST_LEAF            the log leaf ("" for the agent's own notices)
 *   CHILDFIRST_MESSAGE_ID      the message or notice id, 32 hex characters
 * Every variable is always set, empty when it does not apply, so a hook never
 * inherits a stale value. A value that is not an id, an enum or a time (it
 * never is, coming from a checked header) is left empty rather than passed. */
#define AGENT_HOOK_VARS 8
#define AGENT_HOOK_VAR_MAX 96
struct agent_hook_env {
    char vars[AGENT_HOOK_VARS][AGENT_HOOK_VAR_MAX];
};

/* Whether an inherited "NAME=value" is one of the variables above, which the
 * agent sets itself and so drops from what it passes on. The rest of its
 * environment reaches the hook unchanged (CHILDFIRST_CONFIG, say, or a hook's
 * own settings such as CHILDFIRST_MAIL_TO). */
int agent_hook_plan_owns(const char *var);

/* Fills `out` from the hook's JSON `doc` (borrowed), kept at `key`: a log
 * leaf, or one of the agent's own notices when `local`. */
void agent_hook_plan_env(const json_t *doc, uint64_t key, int local, struct agent_hook_env *out);

#endif
