/* Rendering a broker notice (agent_notice.h). Every field comes from the
 * signed notice, which the broker builds from header metadata alone; the
 * optional ones appear only when the notice carries them, so a script can
 * test for a key rather than for an empty value. */
#include "agent_notice.h"
#include "agent_text.h"

const char *const agent_notice_keys[] = {
    "leaf_index", "type",    "kind",           "sender",           "message_id", "case_id",
    "created_at", "urgency", "immediate_risk", "referring_agency", "about_leaf", "deadline",
    "due",        "state",   "code",           "outstanding",      NULL};

json_t *agent_notice_render(const struct cf_notice *n, uint64_t leaf)
{
    json_t *doc = json_pack("{s:I, s:s, s:s, s:s, s:o, s:s, s:o}", "leaf_index", (json_int_t)leaf,
                            "type", "notice", "kind", n->kind, "sender", "broker", "message_id",
                            agent_text_hex(n->notice_id, CF_MESSAGE_ID_LEN), "case_id", n->case_id,
                            "created_at", agent_text_time_json(n->created_at));
    if (!doc)
        return NULL;
    int rc = 0;
    const char *urgency = n->urgency ? cf_header_urgency_name(n->urgency) : NULL;
    if (urgency)
        rc |= json_object_set_new(doc, "urgency", json_string(urgency));
    if (n->has_immediate_risk)
        rc |= json_object_set_new(doc, "immediate_risk", json_boolean(n->immediate_risk));
    if (n->referring_agency[0])
        rc |= json_object_set_new(doc, "referring_agency", json_string(n->referring_agency));
    if (n->has_about_leaf)
        rc |= json_object_set_new(doc, "about_leaf", json_integer((json_int_t)n->about_leaf));
    if (n->deadline[0])
        rc |= json_object_set_new(doc, "deadline", json_string(n->deadline));
    if (n->has_due)
        rc |= json_object_set_new(doc, "due", agent_text_time_json(n->due));
    if (n->state[0])
        rc |= json_object_set_new(doc, "state", json_string(n->state));
    if (n->code[0])
        rc |= json_object_set_new(doc, "code", json_string(n->code));
    if (n->n_outstanding > 0) {
        json_t *list = json_array();
        for (size_t i = 0; list && i < n->n_outstanding; i++)
            if (json_array_append_new(list, json_string(n->outstanding[i])) != 0)
                rc = -1;
        rc |= json_object_set_new(doc, "outstanding", list);
    }
    if (rc != 0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}
