/* The agent's control socket: the framing that childfirst-agent (agent_control.c)
 * and the childfirst command line (cli_agent.c) share, so both sides read and
 * write one format through one piece of code.
 *
 * Transport. A Unix domain stream socket. Its path is agent.ini's `control`:
 * "ipc:///run/childfirst/agent.sock" (the "ipc://" is dropped) or a plain path,
 * at most 107 bytes (sun_path). The agent makes it mode 0600; the permissions
 * of its folder are the operator's. The agent also checks the caller: only its
 * own uid and root may use it.
 *
 * Framing. One request per connection. A frame is a 4-byte big-endian length
 * and then that many bytes of one JSON object (UTF-8, no duplicate keys, no
 * NUL characters). The agent answers with one frame and closes, except for
 * watch: one watch request, then many answer frames on the same connection
 * until either side closes it; the client sends nothing more (bytes after the
 * request end the watch). No frame is
 * longer than CTL_MAX_FRAME bytes: a longer one is refused from its length,
 * before anything is allocated for it. A client must not shut down its
 * writing side while it waits: the agent takes end-of-file as "the caller has
 * gone".
 *
 * Requests.
 *   {"cmd":"refer","text":"<the referral file's exact text>","wait_s":N}
 *       wait_s: 0..600 seconds to wait for the broker's answer (default 30).
 *   {"cmd":"inbox","case_id":"cf-..."}        case_id optional
 *   {"cmd":"show","message_id":"<32 hex characters>"}
 *   {"cmd":"status"}
 *   {"cmd":"send","type":"vote","case_id":"cf-...","text":"<the document>","wait_s":N}
 *   {"cmd":"case","case_id":"cf-..."}
 *   {"cmd":"watch","from":N}                  from: a sequence number, or null for "now"
 *
 * Answers.
 *   {"ok":true, ...}                                      what the command returns
 *   {"ok":false,"code":"CF_E...","reason":"a sentence"}   with "status" for refer:
 *   refer: accepted  {"ok":true,"status":"accepted","message_id","case_id","leaf_index",
 *                     "checkpoint",...}   (the receipt, DESIGN.md section 9)
 *          queued    {"ok":true,"status":"queued","message_id","case_id","note"}
 *                    (no broker answer within wait_s; it stays in the outbox)
 *          rejected  {"ok":false,"status":"rejected","code","reason"}   (by the broker)
 *          invalid   {"ok":false,"status":"invalid","code","reason"}    (by the agent)
 *   inbox:  {"ok":true,"messages":[{leaf_index, received_at, case_id, type, sender,
 *            message_id, urgency}, ...]}
 *   show:   {"ok":true,"message":{...}}     the decrypted message, as in spool/inbox/
 *   status: {"ok":true,"agency","connected","connected_since","broker","outbox_depth",
 *            "frames_per_commit","checkpoint":{"origin","size","root"},"directory_serial"}
 *   watch:  first {"ok":true,"watching":true,"agency","next":N}, then as things are kept:
 *             {"ok":true,"event":{seq, leaf_index, received_at, type, kind?, case_id,
 *              sender, message_id, urgency?, immediate_risk?, deadline?, due?, ...}}
 *             {"ok":true,"missed":N,"next":N}   N events fell out of the agent's feed
 *                                               (ring) before this watcher read them;
 *                                               `childfirst inbox` has them all
 *             {"ok":true,"end":"a sentence"}    the agent is stopping; it then closes
 *           The agent feeds a watcher at the pace it reads and holds little for it: a
 *           watcher that stops reading misses events (and is told), and one that
 *           holds over 1 MiB is dropped; the agent never waits for it. At most 8
 *           watchers at once; a ninth is refused (CF_ETOOBIG). Events are header
 *           facts only, never a payload.
 */
#ifndef CF_CTL_H
#define CF_CTL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "childfirst/error.h"

#define CTL_HEADER 4                  /* the big-endian length before each frame */
#define CTL_MAX_FRAME (1024u * 1024u) /* largest JSON body, either way */
#define CTL_PATH_MAX 107              /* sizeof(sun_path) less its NUL */

/* Turns agent.ini's `control` into a socket path in `out` (`cap` bytes):
 * "ipc://PATH" or "PATH". CF_EVALUE for an empty value or another scheme
 * ("tcp://..."), CF_ETOOBIG for a path over CTL_PATH_MAX bytes or `cap`, with
 * err saying which. */
CF_WUR int ctl_path(const char *control, char *out, size_t cap, struct cf_error *err);

/* Connects to the agent's socket at `path`. On success *fd is a non-blocking,
 * close-on-exec socket that the caller owns (close(2) it). CF_EIO with a
 * sentence a person can act on ("is childfirst-agent running? ...") otherwise. */
CF_WUR int ctl_connect(const char *path, int *fd, struct cf_error *err);

/* Encodes `msg` (a JSON object) as one frame: the length, then compact JSON.
 * CF_EINVAL if msg is not an object, CF_ETOOBIG if the JSON is longer than
 * `max` (at most CTL_MAX_FRAME). Caller owns *out; free with free(). */
CF_WUR int ctl_encode(const json_t *msg, size_t max, uint8_t **out, size_t *len,
                      struct cf_error *err);

/* Decodes one frame's body of `len` bytes. CF_EJSON if it is not JSON, has a
 * duplicate key or a NUL, or is not an object. Caller owns *msg (json_decref). */
CF_WUR int ctl_decode(const uint8_t *body, size_t len, json_t **msg, struct cf_error *err);

/* Sends `msg` as one frame on a stream socket, waiting at most `timeout_ms` in
 * all (negative: no limit). Never raises SIGPIPE. CF_ETIMEOUT, CF_EIO if the
 * peer has gone, or ctl_encode's codes. */
CF_WUR int ctl_send(int fd, const json_t *msg, int timeout_ms, struct cf_error *err);

/* Receives one frame of at most `max` bytes (capped at CTL_MAX_FRAME), waiting
 * at most `timeout_ms` in all (negative: no limit). CF_ETOOBIG when the length
 * says more than max (nothing is allocated for it), CF_EIO when the peer closes
 * before the end of the frame, CF_ETIMEOUT, or ctl_decode's codes.
 * Caller owns *msg (json_decref). */
CF_WUR int ctl_recv(int fd, json_t **msg, size_t max, int timeout_ms, struct cf_error *err);

/* An incremental reader for a server that must never block: feed it whenever
 * the socket is readable and it keeps the part of the frame read so far. */
struct ctl_reader {
    size_t max;   /* the largest body accepted */
    size_t got;   /* bytes read so far, header included */
    uint32_t len; /* the body's length, once the header is in */
    uint8_t head[CTL_HEADER];
    uint8_t *body; /* len bytes, allocated once the header is in */
};

/* Prepares `r` for one frame of at most `max` bytes (capped at CTL_MAX_FRAME). */
void ctl_reader_init(struct ctl_reader *r, size_t max);

/* Frees what `r` holds; safe to call twice. */
void ctl_reader_fini(struct ctl_reader *r);

/* Reads what the socket has without blocking (recv with MSG_DONTWAIT), and
 * never reads past the end of the frame. Returns 0 with *msg NULL while the
 * frame is incomplete; 0 with *msg set once it is complete (caller owns it,
 * json_decref); CF_EIO when the peer closed before the end or the read failed;
 * CF_ETOOBIG when the length is over the limit; ctl_decode's codes. After an
 * error or a complete frame, call ctl_reader_fini before reusing `r`. */
CF_WUR int ctl_reader_read(struct ctl_reader *r, int fd, json_t **msg, struct cf_error *err);

#endif
