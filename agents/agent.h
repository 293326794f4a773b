/* childfirst-agent: the daemon each agency runs. It holds the agency's keys,
 * keeps a durable outbox and inbox in LMDB, talks to the broker over CURVE,
 * and meets the agency's own systems at the spool folder, the control socket
 * and the hooks. One thread; each concern in its own agent_*.c file. */
#ifndef CF_AGENT_H
#define CF_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <jansson.h>
#include <lmdb.h>

#include "childfirst/case.h"
#include "childfirst/checkpoint.h"
#include "childfirst/directory.h"
#include "childfirst/keys.h"
#include "childfirst/wire.h"

#define AGENT_PATH_MAX 1024
#define AGENT_TOKEN_MIN 16 /* dashboard_token, api_token: characters */
#define AGENT_TOKEN_MAX 128

/* agent.ini (DESIGN.md section 10), one table in agent_config.c. */
struct agent_config {
    char id[CF_ID_MAX + 1];
    char key_file[AGENT_PATH_MAX];
    char broker[256];
    char broker_sign_key[64];
    char broker_curve_key[64];
    char authority_key[64];
    char state_dir[AGENT_PATH_MAX];
    char spool_dir[AGENT_PATH_MAX];
    char control[AGENT_PATH_MAX]; /* ipc:///path or a plain path: a Unix socket */
    char on_message[AGENT_PATH_MAX];
    char on_notice[AGENT_PATH_MAX];
    unsigned long long hook_timeout_s, resend_s, spool_scan_ms, heartbeat_ms, map_size_mb;
    char log_level[16];
    /* The dashboard and API (agent_http.c): off while dashboard_listen is "". */
    char dashboard_listen[80];
    char dashboard_token[AGENT_TOKEN_MAX + 1]; /* people: the login form */
    char api_token[AGENT_TOKEN_MAX + 1];       /* agency systems: Authorization: Bearer */
    unsigned long long dashboard_allow_remote; /* 1: may listen beyond loopback */
};

/* Loads agent.ini: defaults, then the file; errors name the file and line. */
int agent_config_load(const char *path, struct agent_config *c, struct cf_error *err);

/* dashboard_listen as a socket address: "PORT" (on 127.0.0.1), "A.B.C.D:PORT"
 * or "[IPv6]:PORT", numeric only (no name is looked up). *loopback says
 * whether the address is 127.0.0.0/8 or ::1. CF_EVALUE when malformed. */
int agent_config_listen(const char *text, struct sockaddr_storage *ss, socklen_t *len,
                        bool *loopback);

/* The agent's LMDB store (DESIGN.md section 8, "the same pattern on a smaller scale"):
 *   outbox   message_id -> OutboxEntry          messages not yet answered by the broker
 *   spool    file name  -> message_id           spool files bound to their message
 *   sent     message_id -> Accepted frame bytes the receipts
 *   rejected message_id -> Rejected frame bytes
 *   inbox    leaf (u64 BE) -> Deliver frame bytes, exactly as received and verified
 *   notices  key (u64 BE) -> 'P' | 'W' || JSON   the agent's own notices (key_changed);
 *            'P' until the spool file is written. Keys are AGENT_LOCAL_NOTICE + n.
 *   byid     message_id -> leaf or notice key (u64 BE)   for `childfirst show`
 *   hooks    sequence (u64 BE) -> leaf or notice key (u64 BE) || attempts (u32 BE) ||
 *            next_at ms (u64 BE)
 *   cases    case_id -> CaseRecord bytes      this agency's view of each case it takes part in
 *   reports  message_id || recipient -> JSON  each recipient's verified answer to a message sent
 *   meta     name -> value:
 *            checkpoint                        the kept checkpoint note
 *            dir.agencies, dir.policy, dir.sig the kept signed directory bundle
 *            dir.serial                        its serial (u64 BE): the floor for the next
 *            hook_seq                          the last hook queue key used (u64 BE)
 */
struct agent_store {
    MDB_env *env;
    MDB_dbi outbox, spool, sent, rejected, inbox, notices, byid, hooks, cases, reports, meta;
};

/* Keys at or above this name the agent's own notices, never a log leaf (a
 * log of 2^63 leaves is beyond any broker). */
#define AGENT_LOCAL_NOTICE (UINT64_C(1) << 63)

/* How many Deliver frames one commit keeps at most: the broker's default
 * credit window, so one drain of a full window is one commit. */
#define AGENT_BATCH_MAX 64

struct agent_pending; /* a Deliver kept but not yet committed (agent_inbox.c) */

struct agent_control; /* the control socket: clients and waiting requests (agent_control.c) */

struct agent {
    struct agent_config cfg;
    struct cf_keys *keys;
    uint8_t broker_sign_pk[CF_SIGN_PK], broker_curve_pk[CF_CURVE_KEY], authority_pk[CF_SIGN_PK];
    struct cf_directory *dir;  /* NULL until the first verified bundle */
    uint64_t dir_serial_floor; /* the highest serial ever kept: never go below it */
    struct agent_store store;
    void *zmq, *dealer, *monitor;
    bool connected;        /* a verified Welcome on the current connection, and in step */
    bool distrusted;       /* this connection showed a split view: nothing more from it */
    uint64_t hello_size;   /* the kept size the last Hello named */
    uint64_t resync_at;    /* ms when a resynchronising Hello went out; 0 once Welcomed */
    uint64_t status_asked; /* ms when the StatusRequest in flight went out; 0: none */
    uint64_t connected_since, last_resend, last_scan;
    struct cf_checkpoint checkpoint; /* the newest verified; size 0 before any */
    char checkpoint_note[CF_CHECKPOINT_MAX + 1];
    /* The Deliver frames and delivery reports of one drain of the DEALER
     * (agent_inbox.c, agent_outbox.c): each kept in a transaction nested in
     * `txn`, then committed, spooled and answered together by
     * agent_batch_flush. While `txn` is open, `cp` (with `note`, when
     * note_len > 0) is the checkpoint its commit keeps; `checkpoint` above
     * stays what the disk holds. */
    struct agent_batch {
        MDB_txn *txn;
        struct cf_checkpoint cp;
        char note[CF_CHECKPOINT_MAX + 1];
        size_t note_len, n;
        struct agent_pending *items[AGENT_BATCH_MAX];
    } batch;
    struct cf_status broker_status; /* the last Status the broker sent */
    int control_fd;
    struct agent_control *pending;
    pid_t hook_pid;              /* the running hook, or 0 */
    int hook_fd;                 /* its pidfd, readable once it exits; -1 without one */
    uint64_t hook_seq;           /* the next hook queue key */
    uint64_t hook_running;       /* the running hook's queue key */
    uint64_t hook_started;       /* ms */
    struct agent_events *events; /* the live feed (agent_events.c) */
    struct agent_http *http;     /* the dashboard and API, or NULL when off (agent_http.c) */
};

/* ---- The core (agent_link.c, agent_outbox.c) ---- */

/* Validates a referral JSON document, makes its header (a new case id unless
 * it names one), seals it for the policy's recipients and commits it to the
 * outbox, bound to `spool_file` if it came from the spool, all in one
 * transaction: only then is it "queued". Sends it at once if connected. */
int agent_refer(struct agent *a, const char *json, size_t len, const char *spool_file,
                uint8_t message_id[CF_MESSAGE_ID_LEN], char case_id[CF_CASE_ID_LEN + 1],
                struct cf_error *err);

/* Seals h for its recipients (their box keys from the directory), signed by
 * this agency; a proposal's NRM return `nrm` goes to `nrm_reader` alone
 * (nrm NULL for every other type). Caller owns *env; free with free(). */
int agent_outbox_seal(struct agent *a, const struct cf_header *h, const uint8_t *payload,
                      size_t plen, const uint8_t *nrm, size_t nrm_len, const char *nrm_reader,
                      uint8_t **env, size_t *len, struct cf_error *err);

/* Commits a sealed envelope to the outbox (bound to `spool_file` if not NULL)
 * in one transaction, and sends it at once if connected: it is "queued". */
int agent_outbox_queue(struct agent *a, const struct cf_header *h, const uint8_t *env, size_t len,
                       const char *spool_file, struct cf_error *err);

/* ---- Cases (agent_cases.c) ---- */

/* Validates a case message JSON document of `type` for `case_id`, makes its
 * header from what this agency knows of the case (its LA, urgency, owner,
 * members, ...), routes it with the signed policy, seals and queues it. A vote
 * is signed over the proposal as this agency received it, and only after its
 * decrypted decision was checked against its header (CF_EMISMATCH). */
int agent_send(struct agent *a, enum cf_type type, const char *case_id, const char *json,
               size_t len, uint8_t message_id[CF_MESSAGE_ID_LEN], struct cf_error *err);

/* This agency's view of a case, kept by running the shared case machine
 * (common/src/case.c) over every header it sees: what routing needs.
 * CF_ENOTFOUND when it has seen nothing of the case. */
int agent_cases_get(struct agent *a, MDB_txn *txn, const char *case_id, struct cf_case *c);
/* A message of the case was kept (delivered, or this agency's own accepted)
 * at `leaf`, broker time `time`; in `txn`. */
int agent_cases_note(struct agent *a, MDB_txn *txn, const struct cf_header *h, uint64_t leaf,
                     uint64_t time);
/* The case's determination was sealed at `leaf`. */
int agent_cases_note_determination(struct agent *a, MDB_txn *txn, const char *case_id,
                                   uint64_t leaf, uint64_t time);

/* The timeline this agency has of a case: every message it sent and every
 * message and notice it received, oldest first, as
 * {"case_id", "timeline": [{at, leaf_index, direction, type, kind?, sender,
 * message_id, status?}]}, plus "broker": the broker's view (state, owner,
 * jurisdiction, la_code, deadlines, next_deadline) when `info` is given.
 * Caller owns the result; NULL when the store cannot be read. */
json_t *agent_case_view(struct agent *a, const char *case_id, const struct cf_case_info *info);

/* Every case this agency knows (the cases table), in case id order, as
 * [{case_id, state, la_code, jurisdiction, owner, urgency, immediate_risk,
 * opened_at, updated_leaf}]: header facts only. Caller owns the array; NULL
 * when the store cannot be read. */
json_t *agent_cases_list(struct agent *a);

/* Called by the core when the broker answers a CaseRequest (info NULL: it
 * showed nothing, for the reason `why_not`); agent_control.c answers the case
 * requests waiting for that case. */
void agent_control_case_info(struct agent *a, const char *case_id, const struct cf_case_info *info,
                             const char *why_not);

enum agent_outcome { AGENT_UNKNOWN = 0, AGENT_QUEUED, AGENT_ACCEPTED, AGENT_REJECTED };

/* Where a message stands. For ACCEPTED, *detail is the receipt JSON
 * (DESIGN.md section 9: message_id, case_id, leaf_index, checkpoint, status);
 * for REJECTED, {"status":"rejected","code":...,"reason":...}; for QUEUED,
 * {"status":"queued",...}. Caller owns *detail (json_decref). */
enum agent_outcome agent_outcome(struct agent *a, const uint8_t message_id[CF_MESSAGE_ID_LEN],
                                 json_t **detail);

/* Called by the core whenever the broker answers a message (Accepted or
 * Rejected); agent_control.c answers any control request waiting on it. */
void agent_control_answered(struct agent *a, const uint8_t message_id[CF_MESSAGE_ID_LEN]);

/* Called by the core when fresh Status figures arrive; agent_control.c
 * answers the status requests waiting for them. */
void agent_control_status(struct agent *a);

/* The inbox, newest last: [{leaf_index, received_at, case_id, type, sender,
 * message_id, urgency}], only `case_id` if not NULL. Caller owns the array;
 * NULL when the store cannot be read. */
json_t *agent_inbox(struct agent *a, const char *case_id);

/* One received message or notice, decrypted, as written to the spool inbox
 * (DESIGN.md section 9). NULL (and err) if unknown or it cannot be opened. */
json_t *agent_show(struct agent *a, const uint8_t message_id[CF_MESSAGE_ID_LEN],
                   struct cf_error *err);

/* The spool JSON of an inbox leaf or one of the agent's own notices (`key` at
 * or above AGENT_LOCAL_NOTICE), read in `txn`. Caller owns the result; NULL
 * (and err) if unknown or it cannot be opened. */
json_t *agent_inbox_doc(struct agent *a, MDB_txn *txn, uint64_t key, struct cf_error *err);

/* Adds one of the agent's own notices in `txn`: `doc` (borrowed; it gains
 * "type", "sender", "message_id" and "created_at") goes to the notices table
 * and the id index, and to the hook queue when on_notice is set. Its spool
 * file is written by agent_inbox_spool_local once `txn` has committed. */
int agent_inbox_add_local(struct agent *a, MDB_txn *txn, json_t *doc, struct cf_error *err);

/* Writes the spool file of every local notice still waiting for one (after the
 * commit that added it, and at start after a crash), then marks it written. */
void agent_inbox_spool_local(struct agent *a);

/* Test builds stop the agent here when CF_TEST_FAULT names the point. */
void agent_fault_point(const char *name);

/* {"agency", "connected", "connected_since", "broker", "outbox_depth",
 * "frames_per_commit", "broker_tree_size", "checkpoint": {"origin","size","root"},
 * "directory_serial"}, with the broker's figures as last received. The agent
 * asks for them on every Welcome and Accepted, and the control socket's
 * status command asks and waits (up to STATUS_WAIT_MS) for fresh ones. */
json_t *agent_status(struct agent *a);

/* ---- The live feed (agent_events.c) ---- */

struct agent_events;

/* Adds what was just kept to the feed: a summary of header facts (the
 * inbox's fields: leaf_index, received_at, case_id, type, kind, sender,
 * message_id, urgency, immediate_risk, deadline, due, decision, state, and a
 * notice's referring_agency, outstanding and code), never a payload.
 * Copied; the feed numbers it with "seq". */
void agent_events_push(struct agent *a, const json_t *summary);

/* The events numbered `seq` onwards, at most `max`, as a JSON array (caller
 * owns it; json_decref); *next is the sequence to ask from next time, and
 * *missed counts the events that fell out of the ring before being read. */
json_t *agent_events_since(struct agent *a, uint64_t seq, size_t max, uint64_t *next,
                           uint64_t *missed);

/* The sequence number the next event will get: a new reader starts here. */
uint64_t agent_events_next(const struct agent *a);

void agent_events_close(struct agent *a);

/* ---- Control socket (agent_control.c) ---- */

/* Binds the Unix socket named by cfg.control (mode 0600). */
int agent_control_open(struct agent *a, struct cf_error *err);
void agent_control_close(struct agent *a);
/* File descriptors to poll, with the events each waits for (POLLIN, and
 * POLLOUT while an answer is being written): the listening socket and every
 * client. */
size_t agent_control_fds(struct agent *a, int *fds, short *events, size_t cap);
/* Serves whatever is ready on `fd`. */
void agent_control_ready(struct agent *a, int fd);
/* Answers requests that waited too long (a refer without a broker answer).
 * It reads the monotonic clock itself; `now_ms` is not used. */
void agent_control_tick(struct agent *a, uint64_t now_ms);

/* ---- Spool and hooks (agent_spool.c, agent_hooks.c) ---- */

/* Picks up the .json files in spool/outbox and finishes any move a crash interrupted. */
void agent_spool_scan(struct agent *a);
/* After the broker answers spooled messages: move each to sent/ with a
 * .receipt.json, or to rejected/ with an .error.json; the side files of all
 * `n` take two syncs of the file system, their moves one of each folder, and
 * their bindings one commit. */
void agent_spool_answered(struct agent *a, const uint8_t (*ids)[CF_MESSAGE_ID_LEN], size_t n);
/* Writes spool/inbox/<case_id>/<leaf>-<type>.json (temp, fsync, rename); a
 * notice is <leaf>-notice.json, its kind inside (DESIGN.md section 9: "Notices
 * are written the same way"). The agent's own notices (leaf at or above
 * AGENT_LOCAL_NOTICE) have no case: spool/inbox/_agent/<n>-notice.json. */
int agent_spool_inbox(struct agent *a, uint64_t leaf, const json_t *doc, struct cf_error *err);
/* What agent_spool_inbox writes, ready for cf_file_write_many: its folder
 * made, its path in `path` (`cap` bytes), its text in *text (owned; zero it
 * before freeing: it holds the payload). */
int agent_spool_inbox_text(struct agent *a, uint64_t leaf, const json_t *doc, char *path,
                           size_t cap, char **text, struct cf_error *err);
/* That file's folder and path (each `cap` bytes), after checking the case id. */
int agent_spool_inbox_path(struct agent *a, uint64_t leaf, const json_t *doc, char *dir, char *path,
                           size_t cap, struct cf_error *err);

/* Removes hook input files that a crash left under state_dir (at start). */
void agent_hooks_sweep(struct agent *a);
/* Starts due hooks and reaps finished ones; never blocks. */
void agent_hooks_tick(struct agent *a, uint64_t now_ms);
/* The descriptor to poll for the running hook's exit, or -1 (no hook, or a
 * kernel without pidfd_open); *wait_ms is lowered to 50 when the exit can
 * only be found by polling. */
int agent_hooks_fd(const struct agent *a, long *wait_ms);

/* Milliseconds since the Unix epoch. */
uint64_t agent_now(void);

#endif
