/* A broker notice as the agency reads it: the JSON of its spool file, its
 * hook's stdin and its `childfirst show`. Kept apart from the receiving code
 * so that what a notice can say is one small, pure function with its own
 * tests: it reads only the notice's header-level fields, so no child's
 * details can reach it. */
#ifndef CF_AGENT_NOTICE_H
#define CF_AGENT_NOTICE_H

#include <stdint.h>

#include <jansson.h>

#include "childfirst/notice.h"

/* The keys a rendered notice may hold, NULL-terminated: type, kind, sender,
 * message_id, case_id, created_at, leaf_index, and when the notice carries
 * them urgency, immediate_risk, referring_agency, about_leaf, deadline, due,
 * state, code and outstanding. Borrowed, static. */
extern const char *const agent_notice_keys[];

/* The notice kept at log leaf `leaf`, as
 * {"leaf_index", "type": "notice", "kind", "sender": "broker", "message_id"
 * (the notice id, hex), "case_id", "created_at" (ISO-8601 UTC), ...} with
 * each optional field present only when the notice has it. Times are
 * ISO-8601 UTC with milliseconds; `outstanding` is an array of agency ids.
 * Caller owns the result (json_decref); NULL when out of memory. */
json_t *agent_notice_render(const struct cf_notice *n, uint64_t leaf);

#endif
