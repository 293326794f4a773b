/* The broker's shared state: one process, one thread, one LMDB writer. The
 * modules of broker/ each own one concern and meet here. */
#ifndef CF_BROKER_H
#define CF_BROKER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "childfirst/calendar.h"
#include "childfirst/case.h"
#include "childfirst/directory.h"
#include "childfirst/keys.h"
#include "childfirst/redo.h"
#include "childfirst/store.h"
#include "childfirst/wire.h"
#include "config.h"

#define CF_ROUTING_ID_MAX 255

/* An agency's live connection, if any, and its delivery window. One per
 * directory agency, in directory order. */
struct session {
    bool connected;
    uint8_t routing[CF_ROUTING_ID_MAX];
    size_t routing_len;
    uint64_t next;     /* the lowest mailbox index not yet sent on this connection */
    uint64_t seen;     /* the tree size of the newest checkpoint sent on this connection */
    unsigned inflight; /* sent, not yet acknowledged */
    bool blocked;      /* the last send would have blocked: retry later */
    int peer_fd;       /* the socket that connection's frames came on, or -1 (PEER-GONE) */
};

struct broker {
    struct cf_config cfg;
    struct cf_keys *keys;
    uint8_t authority_pk[CF_SIGN_PK];
    struct cf_directory *dir;
    struct cf_calendar **calendars; /* by jurisdiction index in dir->policy */
    struct cf_store store;
    MDB_txn *txn;          /* the write transaction (writer.h), or NULL */
    struct cf_redo redo;   /* what makes its batches durable */
    uint64_t committed_at; /* its last LMDB commit, CLOCK_MONOTONIC ms */
    uint64_t size;         /* durable tree size */
    char *checkpoint;      /* the newest signed note, for that size */
    size_t checkpoint_len;
    char *served_note; /* the note `served_root` was opened from (cf_audit_served_root) */
    size_t served_note_len;
    uint8_t served_root[32];
    void *zmq, *router, *zap;
    struct session *sessions;
    struct cf_status stats;
    bool restored;        /* --restored: the log may carry another origin, to be linked */
    uint64_t origin_leaf; /* the newest origin leaf (a restored log's link), or UINT64_MAX */
};

extern volatile sig_atomic_t cf_broker_stop;

/* The session of an agency id, or NULL if it is not in the directory. */
struct session *cf_broker_session(struct broker *b, const char *id);
const struct cf_agency *cf_broker_agency(const struct broker *b, const struct session *s);

#endif
