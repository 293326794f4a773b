/* The hook queue's arithmetic and a run's environment (agent_hook_plan.h).
 * The variables are copied from the checked header fields of the delivery's
 * JSON, never from its payload, and only when they look like what they are:
 * a hook command may hand them to a shell. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "agent_hook_plan.h"

uint64_t agent_hook_plan_backoff_ms(uint32_t failures)
{
    if (failures == 0)
        return 0;
    uint64_t wait = AGENT_HOOK_BACKOFF_FIRST_MS;
    for (uint32_t i = 1; i < failures && wait < AGENT_HOOK_BACKOFF_MAX_MS; i++)
        wait *= 2;
    return wait < AGENT_HOOK_BACKOFF_MAX_MS ? wait : AGENT_HOOK_BACKOFF_MAX_MS;
}

static const char *const names[AGENT_HOOK_VARS] = {
    "CHILDFIRST_TYPE",     "CHILDFIRST_CASE", "CHILDFIRST_URGENCY", "CHILDFIRST_IMMEDIATE_RISK",
    "CHILDFIRST_DEADLINE", "CHILDFIRST_DUE",  "CHILDFIRST_LEAF",    "CHILDFIRST_MESSAGE_ID"};

int agent_hook_plan_owns(const char *var)
{
    const char *eq = strchr(var, '=');
    size_t n = eq ? (size_t)(eq - var) : strlen(var);
    for (int i = 0; i < AGENT_HOOK_VARS; i++)
        if (strlen(names[i]) == n && strncmp(var, names[i], n) == 0)
            return 1;
    return 0;
}

/* Ids, enums, CF_E* names and ISO-8601 times. */
static bool plain(const char *s)
{
    return strlen(s) < AGENT_HOOK_VAR_MAX - 32 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-:.") ==
               strlen(s);
}

static const char *text(const json_t *doc, const char *key)
{
    const char *s = json_string_value(json_object_get(doc, key));
    return s && plain(s) ? s : "";
}

void agent_hook_plan_env(const json_t *doc, uint64_t key, int local, struct agent_hook_env *out)
{
    const char *type = text(doc, "type");
    bool notice = strcmp(type, "notice") == 0;
    const json_t *risk = json_object_get(doc, "immediate_risk");
    char(*v)[AGENT_HOOK_VAR_MAX] = out->vars;
    snprintf(v[0], sizeof v[0], "CHILDFIRST_TYPE=%s", notice ? text(doc, "kind") : type);
    snprintf(v[1], sizeof v[1], "CHILDFIRST_CASE=%s", text(doc, "case_id"));
    snprintf(v[2], sizeof v[2], "CHILDFIRST_URGENCY=%s", text(doc, "urgency"));
    snprintf(v[3], sizeof v[3], "CHILDFIRST_IMMEDIATE_RISK=%s",
             json_is_boolean(risk) ? (json_is_true(risk) ? "yes" : "no") : "");
    snprintf(v[4], sizeof v[4], "CHILDFIRST_DEADLINE=%s", text(doc, "deadline"));
    snprintf(v[5], sizeof v[5], "CHILDFIRST_DUE=%s", text(doc, "due"));
    if (local)
        snprintf(v[6], sizeof v[6], "CHILDFIRST_LEAF=");
    else
        snprintf(v[6], sizeof v[6], "CHILDFIRST_LEAF=%" PRIu64, key);
    snprintf(v[7], sizeof v[7], "CHILDFIRST_MESSAGE_ID=%s", text(doc, "message_id"));
}
