/* The agent's web door (agent_http.c): the duty team's dashboard and the JSON
 * API for agency systems, served by libmicrohttpd inside the agent's one
 * thread. Off unless agent.ini sets dashboard_listen. */
#ifndef CF_AGENT_HTTP_H
#define CF_AGENT_HTTP_H

#include <stdint.h>

#include "agent.h"

/* Starts listening on cfg.dashboard_listen (nothing to do when it is "") and
 * publishes the URL in STATE_DIR/dashboard.endpoint, with the port the kernel
 * picked for port 0. Keeps only digests of the tokens and wipes them from
 * a->cfg. */
int agent_http_open(struct agent *a, struct cf_error *err);
/* Ends every stream and parked request, stops the server, removes the
 * endpoint file. Safe when never opened. */
void agent_http_close(struct agent *a);

/* The one descriptor to poll for reading (libmicrohttpd's epoll set), or -1
 * when the server is off. */
int agent_http_fd(const struct agent *a);
/* `wait_ms`, or less when the server needs to run sooner. */
long agent_http_wait(struct agent *a, long wait_ms);
/* Serves whatever is ready, wakes live feeds that have news or owe a
 * heartbeat, and answers parked requests whose wait ran out. Never blocks;
 * call it on every turn of the loop. */
void agent_http_run(struct agent *a);

/* The core's news for requests parked here: the broker answered a message
 * (a POST /api/referrals waits on it), and the broker's view of a case
 * (info NULL: it shows nothing) that pages and GET /api/cases wait for. */
void agent_http_answered(struct agent *a, const uint8_t message_id[CF_MESSAGE_ID_LEN]);
void agent_http_case_info(struct agent *a, const char *case_id, const struct cf_case_info *info);

#endif
