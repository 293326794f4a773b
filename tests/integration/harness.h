/* The integration-test harness: a throwaway network of real keys, a real
 * authority-signed directory and a real childfirst-broker process on
 * 127.0.0.1 with a port the kernel picks, plus CURVE clients that speak the
 * wire protocol through libchildfirst. Tests drive it; nothing is mocked. */
#ifndef CF_HARNESS_H
#define CF_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "childfirst/envelope.h"
#include "childfirst/keys.h"
#include "childfirst/wire.h"

#define NET_MAX_AGENCIES 32

struct net_agency {
    const char *id, *roles, *areas;
    const char *jurisdiction; /* NULL: england-wales */
    struct cf_keys *keys;
    char key_path[512];
};

/* An agency's agent process (net_agent_*). */
struct net_agent {
    char ini[600], state[600], spool[600], log[600];
    pid_t pid;
};

struct net {
    char dir[256];
    char state_dir[512], broker_ini[512], broker_key[512], broker_log[512];
    char endpoint_file[600]; /* state_dir/broker.endpoint, written once the broker listens */
    struct cf_keys *authority, *broker, *stranger;
    size_t n;
    struct net_agency agencies[NET_MAX_AGENCIES];
    pid_t broker_pid;
    char endpoint[256];
    void *zmq;
    size_t n_sockets;
    void *sockets[64]; /* closed by net_destroy, so a failed test cannot hang */
    struct net_agent agents[NET_MAX_AGENCIES]; /* same order as `agencies` */
    char clock_file[600];    /* CF_TEST_CLOCK of every process the network starts */
    const char *broker_flag; /* an extra broker argument (e.g. "--restored"), or NULL */
};

/* The default cast, all serving E09000033 unless noted: police-a
 * (first_responder police), la-csc (children_services), la-duty (duty_team),
 * guardian-x (guardian), health-x (health), auditor-x (auditor, no areas).
 * `extra_ini` is appended to broker.ini's [broker] section (may be NULL); a
 * key it sets replaces the harness's default for that key (map_size_mb = 16,
 * min_free_mb = 0, log_level = debug). */
void net_create(struct net *n, const char *extra_ini);
void net_destroy(struct net *n);

/* Adds an agency to the cast (keys and key file); sign the directory again
 * before the broker starts to publish it. The strings must outlive n. */
void net_add_agency(struct net *n, const char *id, const char *roles, const char *areas,
                    const char *jurisdiction);

/* The network's shared test clock (clock.h): moves the broker, its agents
 * and this process `ms` ahead of the real clock, in addition to earlier moves. */
void net_clock_advance(struct net *n, int64_t ms);
/* The network's current time, ms (the real clock plus the moves). */
uint64_t net_now(void);

/* Writes agencies.ini from the cast's current keys, copies deploy/policy.ini,
 * and signs both with the network's authority as `serial`. */
void net_sign_directory(struct net *n, uint64_t serial);
/* New keys for one agency (its key file too); sign again to publish them. */
void net_rekey(struct net *n, const char *id);

/* Starts the broker and waits until it has published its endpoint. */
void net_broker_start(struct net *n);
/* Starts the broker and waits for either: -1 once it has published its
 * endpoint (it runs), or its exit status if it exited first. */
int net_broker_try_start(struct net *n);
/* SIGTERM, then asserts a clean exit (an ASan report or a crash fails). */
void net_broker_stop(struct net *n);
/* SIGKILL: no chance to flush anything. */
void net_broker_kill(struct net *n);
/* Runs the broker binary with arguments, returns its exit status; output to `log`. */
int net_broker_run(struct net *n, const char *const *args, const char *log);
/* Whether the broker has published its endpoint file (it does once it listens). */
bool net_broker_listening(const struct net *n);

struct net_agency *net_agency(struct net *n, const char *id);

/* A DEALER connected with CURVE as `who` (an agency, or the stranger). */
void *net_connect(struct net *n, const struct cf_keys *who);
/* The same, with a socket monitor attached before it connects: *monitor is a
 * PAIR socket to read with net_monitor_wait (closed by net_destroy). */
void *net_connect_monitored(struct net *n, const struct cf_keys *who, void **monitor);
/* Waits for a monitor event in the mask `events`: returns the event (and its
 * value in *value, if not NULL), or 0 if none came within timeout_ms. */
int net_monitor_wait(void *monitor, int events, int timeout_ms, uint32_t *value);
void net_close(struct net *n, void *sock);
void net_send(void *sock, const struct cf_frame *f);
/* Sends raw bytes as one frame (for malformed input). */
void net_send_raw(void *sock, const void *buf, size_t len);
/* Sends `n` parts as one multipart message (for malformed input). */
void net_send_parts(void *sock, const void *const *parts, const size_t *lens, size_t n);
/* 0, or CF_ETIMEOUT. Release *f with cf_wire_frame_fini. */
int net_recv(void *sock, struct cf_frame *f, int timeout_ms);
/* Receives until a frame of `kind` arrives (others are dropped); fails the test on timeout. */
void net_expect(void *sock, enum cf_frame_kind kind, struct cf_frame *f, int timeout_ms);
/* Hello, then the Welcome. */
void net_hello(void *sock, uint64_t last_checkpoint_size, struct cf_frame *welcome);
/* StatusRequest, then the Status. */
void net_status(void *sock, struct cf_status *status);

/* The payload text every harness referral carries. */
#define NET_PAYLOAD "test payload: the child's details"

/* A referral header from `sender` for E09000033, addressed to the policy's
 * recipients (guardian-x, la-csc, la-duty), immediate, with immediate risk, a
 * fresh message id and case id, created now. */
void net_referral_header(struct net *n, const char *sender, struct cf_header *h);
/* net_referral_header, sealed with NET_PAYLOAD. Caller frees *env. */
void net_referral(struct net *n, const char *sender, struct cf_header *h, uint8_t **env,
                  size_t *len);
/* Seals `h` with the payload for its recipients, signed by h->sender. */
void net_seal(struct net *n, const struct cf_header *h, const uint8_t *payload, size_t plen,
              uint8_t **env, size_t *len);
/* The same, signed by `signer` whatever h->sender says (for forgeries). */
void net_seal_as(struct net *n, const struct cf_header *h, const uint8_t *payload, size_t plen,
                 const struct cf_keys *signer, uint8_t **env, size_t *len);

/* Submits and waits for the broker's answer (Accepted or Rejected). */
void net_submit(void *sock, const uint8_t *env, size_t len, struct cf_frame *answer);

/* Acknowledges a Deliver as `who`. */
void net_ack(void *sock, const struct cf_keys *who, const struct cf_frame *deliver);
/* Answers a Deliver as `who`: a DeliveryAck for CF_ACK_OK, otherwise a
 * DeliveryNack carrying `code` (a CF_E* name), signed either way. */
void net_answer(void *sock, const struct cf_keys *who, const struct cf_frame *deliver,
                const char *code);

/* Runs a program to completion: its exit status (or 128 + signal), stdout and
 * stderr together in `out` (NUL-terminated, truncated to cap). */
int net_run(const char *const *argv, char *out, size_t cap);
/* The same with stdout in `out` and stderr in `err`, kept apart. */
int net_run_split(const char *const *argv, char *out, size_t cap, char *err, size_t err_cap);

/* `childfirst audit verify DIR --broker-key <the broker's key>`: its exit
 * status, stdout in `out` and stderr in `err`. */
int net_audit_verify(struct net *n, const char *dir, char *out, size_t cap, char *err,
                     size_t err_cap);

/* Whether the whole file at `path` contains `needle`. */
bool net_file_contains(const char *path, const char *needle);
/* Flips the lowest bit of the byte at `offset` inside every occurrence of
 * `needle` in the file (ASCII stays ASCII); returns how many changed. */
size_t net_file_damage(const char *path, const void *needle, size_t len, size_t offset);
/* Copies a folder and its files (cp -R). */
void net_copy_dir(const char *from, const char *to);

/* The broker's log, read with the library while the broker is stopped: the
 * number of leaves, and a copy of leaf `index`'s record (caller frees *rec). */
uint64_t net_log_size(struct net *n);
void net_log_record(struct net *n, uint64_t index, uint8_t **rec, size_t *len);

/* ---- Agents ---- */

/* Writes <dir>/<id>/agent.ini for the running broker's endpoint, with
 * `extra_ini` lines appended to [agent] (may be NULL). */
void net_agent_setup(struct net *n, const char *id, const char *extra_ini);
struct net_agent *net_agent_of(struct net *n, const char *id);
/* Starts the agent; `fault` (may be NULL) is set as CF_TEST_FAULT. Returns
 * once its control socket answers (and, the first time, it has the
 * directory). */
void net_agent_start(struct net *n, const char *id, const char *fault);
/* Starts it without waiting: for an agent that may stop at its fault point
 * before it could be seen ready. */
void net_agent_spawn(struct net *n, const char *id, const char *fault);
/* SIGTERM, then asserts a clean exit. */
void net_agent_stop(struct net *n, const char *id);
void net_agent_kill(struct net *n, const char *id);
/* Waits for the agent to exit by itself; its exit status, or -1 on timeout. */
int net_agent_wait_exit(struct net *n, const char *id, int timeout_ms);
/* Runs `childfirst ARGS... -c <id's agent.ini>`: exit status, stdout, stderr. */
int net_cli(struct net *n, const char *id, const char *const *args, char *out, size_t cap,
            char *err, size_t err_cap);
/* With the agent stopped, overwrites the inbox entry for leaf `to` in its
 * store with the one kept for leaf `from`: as if the broker had shown another
 * message at `to` before. */
void net_agent_inbox_copy(struct net *n, const char *id, uint64_t from, uint64_t to);
/* Waits until a path matching the glob pattern exists; its first match in `match`. */
bool net_wait_glob(const char *pattern, int timeout_ms, char *match, size_t cap);
/* How many paths match the pattern now. */
size_t net_count_glob(const char *pattern);

#endif
