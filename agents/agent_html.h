/* The dashboard's pages (agent_html.c), rendered on the server from JSON
 * models that agent_http.c builds. Every value is HTML-escaped here and
 * nowhere else; the pages load only /static/app.css and /static/app.js from
 * the agent itself, so "Content-Security-Policy: default-src 'self'" holds
 * and nothing comes from outside (no CDN, no web fonts, no inline script). */
#ifndef CF_AGENT_HTML_H
#define CF_AGENT_HTML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "childfirst/buf.h"

#define AGENT_HTML_MAX (8u << 20) /* a page larger than this is refused (NULL) */

/* Appends `s` with & < > " ' as entities: safe in text and in a quoted
 * attribute. NULL appends nothing. */
void agent_html_escape(struct cf_buf *b, const char *s);

/* A UTC instant written as agent_text_time writes it ("2026-11-18T05:40:00.000Z")
 * in milliseconds; false if it is not one. */
bool agent_html_parse_time(const char *iso, uint64_t *ms);

/* The login form for `agency`; `refused` adds the wrong-token sentence.
 * Caller owns the result (free); NULL when out of memory. */
char *agent_html_login(const char *agency, bool refused, size_t *len);

/* The dashboard. The model:
 *   {"agency", "connected": bool, "now": ms, "events_from": "EPOCH-SEQ",
 *    "broker_note"?: text,
 *    "cases": [{"case_id", "state", "urgency", "immediate_risk", "updated_leaf",
 *               "next"?: {"name", "due": ISO}, "breached": bool,
 *               "undelivered": bool}],
 *    "feed": [live feed summaries, newest first]}
 * Cases are listed soonest next deadline first; those with none follow, most
 * recently changed first. Carries no child details: none are in the model.
 * Caller owns the result (free); NULL when out of memory or too large. */
char *agent_html_dashboard(const json_t *model, size_t *len);

/* A case page. The model:
 *   {"agency", "now": ms, "view": agent_case_view's object (with "broker" or
 *    "broker_note"), "docs": [agent_show documents this agency decrypted]}
 * Caller owns the result (free); NULL when out of memory or too large. */
char *agent_html_case(const json_t *model, size_t *len);

/* A plain page for an error such as 404: a title and a sentence. Caller owns
 * the result (free); NULL when out of memory. */
char *agent_html_message(const char *title, const char *text, size_t *len);

/* /static/app.js and /static/app.css: the live feed's script (it builds
 * elements with textContent only) and the style sheet. */
extern const char agent_html_app_js[];
extern const char agent_html_app_css[];

#endif
