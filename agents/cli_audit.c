/* childfirst audit verify: checks a broker's log offline against the broker's
 * public key alone. The Merkle tree is rebuilt from the records inside one read
 * snapshot, so nothing the store says about itself is believed until the records
 * reproduce it; records are streamed, and only the tree's hashes stay in memory. */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "childfirst/checkpoint.h"
#include "childfirst/envelope.h"
#include "childfirst/file.h"
#include "childfirst/keys.h"
#include "childfirst/merkle.h"
#include "childfirst/record.h"
#include "childfirst/store.h"
#include "childfirst/wire.h"
#include "agent_text.h"
#include "cli.h"

#define KEY_FILE_MAX (64u * 1024u) /* a key file or an agent.ini: far below this */
#define TREE_LEVELS 65             /* node levels of a tree of fewer than 2^64 leaves */

static const char help[] =
    "usage: childfirst audit verify DIR\n"
    "                               (--broker-key BASE64 | --broker-key-file FILE)\n"
    "\n"
    "Checks a broker's log folder in one read snapshot (safe while the broker\n"
    "runs): records run 0..N-1 without gaps, decode canonically and never go back\n"
    "in time; the Merkle tree rebuilt from the records matches every stored node;\n"
    "each accepted record matches its stored envelope; every checkpoint is signed\n"
    "by the broker key, matches the rebuilt root and shares one origin; and the\n"
    "newest checkpoint covers every record.\n"
    "\n"
    "The broker's public signing key comes from here, never from the store:\n"
    "  --broker-key BASE64     the sign_key that 'childfirst keygen broker' printed\n"
    "  --broker-key-file FILE  a file holding it alone on a line or as a\n"
    "                          'name = BASE64' line (sign_key, broker_sign_key)\n"
    "\n"
    "Exit status: 0 verified; 1 a check failed (stderr names the first index or\n"
    "checkpoint) or the store cannot be read; 2 bad usage or an unusable key.\n";

static const char prog[] = "childfirst audit verify";

/* ---- The broker key ---- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

/* Reads the key from `path`: a bare base64 line or a "name = BASE64" line whose
 * value decodes. Should several lines hold keys, only lines named sign_key or
 * broker_sign_key count, so keygen's output and an agent.ini both work. */
static int key_from_file(const char *path, uint8_t pk[CF_SIGN_PK])
{
    uint8_t *buf = NULL;
    size_t len;
    struct cf_error err = {0};
    if (cf_file_read(path, KEY_FILE_MAX, &buf, &len, &err) != 0) {
        fprintf(stderr, "%s: --broker-key-file: %s\n", prog, err.text);
        return CLI_USAGE;
    }
    uint8_t any[CF_SIGN_PK], named[CF_SIGN_PK];
    unsigned n_any = 0, n_named = 0;
    char *save = NULL;
    for (char *line = strtok_r((char *)buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *text = trim(line), *eq;
        uint8_t key[CF_SIGN_PK];
        bool is_named = false;
        if (*text == 0 || *text == '#' || *text == ';' || *text == '[')
            continue;
        if (cf_keys_b64_decode(text, key) != 0) {
            if (!(eq = strchr(text, '=')) || eq == text)
                continue;
            *eq = 0;
            const char *name = trim(text);
            if (cf_keys_b64_decode(trim(eq + 1), key) != 0)
                continue;
            is_named = strcmp(name, "sign_key") == 0 || strcmp(name, "broker_sign_key") == 0;
        } else {
            is_named = true; /* a bare key says what it is by standing alone */
        }
        if (n_any == 0 || memcmp(any, key, sizeof key) != 0)
            n_any++;
        memcpy(any, key, sizeof key);
        if (is_named && (n_named == 0 || memcmp(named, key, sizeof key) != 0))
            n_named++;
        if (is_named)
            memcpy(named, key, sizeof key);
    }
    free(buf);
    if (n_any == 1 || n_named == 1) {
        memcpy(pk, n_any == 1 ? any : named, CF_SIGN_PK);
        return CLI_OK;
    }
    fprintf(stderr,
            n_any == 0 ? "%s: %s holds no base64 key (a bare line or 'sign_key = BASE64')\n"
                       : "%s: %s holds several base64 keys; name the broker's 'sign_key'\n",
            prog, path);
    return CLI_USAGE;
}

/* ---- An in-memory Merkle node store that checks the stored tree as it grows ---- */

struct mem_tree {
    uint8_t (*nodes[TREE_LEVELS])[CF_MERKLE_HASH];
    uint64_t len[TREE_LEVELS], cap[TREE_LEVELS];
    const struct cf_store *store;
    MDB_txn *txn;
    bool bad;         /* a put found the stored node missing or different */
    bool bad_missing; /* ... missing */
    unsigned bad_level;
    uint64_t bad_index;
};

static int mem_get(void *ctx, unsigned level, uint64_t index, uint8_t out[CF_MERKLE_HASH])
{
    const struct mem_tree *t = ctx;
    if (level >= TREE_LEVELS || index >= t->len[level])
        return CF_ENOTFOUND;
    memcpy(out, t->nodes[level][index], CF_MERKLE_HASH);
    return 0;
}

/* Compares the node with the one stored at the same (level, index) in the
 * `tree` database (store.h: level u8 || index u64 BE), then keeps it. */
static int mem_put(void *ctx, unsigned level, uint64_t index, const uint8_t hash[CF_MERKLE_HASH])
{
    struct mem_tree *t = ctx;
    if (level >= TREE_LEVELS)
        return CF_ERANGE;
    uint8_t key[9];
    key[0] = (uint8_t)level;
    cf_store_put_u64(key + 1, index);
    MDB_val k = {sizeof key, key}, v;
    int rc = mdb_get(t->txn, t->store->tree, &k, &v);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return cf_store_error(rc);
    if (rc == MDB_NOTFOUND || v.mv_size != CF_MERKLE_HASH ||
        memcmp(v.mv_data, hash, CF_MERKLE_HASH) != 0) {
        t->bad = true;
        t->bad_missing = rc == MDB_NOTFOUND;
        t->bad_level = level;
        t->bad_index = index;
        return CF_ECORRUPT;
    }
    if (index >= t->cap[level]) {
        uint64_t cap = t->cap[level] ? t->cap[level] : 64;
        while (cap <= index)
            cap *= 2;
        if (cap > SIZE_MAX / CF_MERKLE_HASH)
            return CF_ENOMEM;
        void *grown = realloc(t->nodes[level], (size_t)cap * CF_MERKLE_HASH);
        if (!grown)
            return CF_ENOMEM;
        t->nodes[level] = grown;
        t->cap[level] = cap;
    }
    memcpy(t->nodes[level][index], hash, CF_MERKLE_HASH);
    if (index >= t->len[level])
        t->len[level] = index + 1;
    return 0;
}

/* Sizes each level for `leaves` leaves up front, so a million-leaf log takes
 * its ~64 MB once instead of doubling through realloc. Only a hint: mem_put
 * still grows a level the hint got wrong. */
static void mem_reserve(struct mem_tree *t, uint64_t leaves)
{
    if (leaves > ((uint64_t)1 << 32))
        return;
    for (unsigned level = 0; level < TREE_LEVELS && (leaves >> level) > 0; level++) {
        uint64_t cap = (leaves >> level) + 1;
        void *p = malloc((size_t)cap * CF_MERKLE_HASH);
        if (!p)
            return;
        t->nodes[level] = p;
        t->cap[level] = cap;
    }
}

static void mem_free(struct mem_tree *t)
{
    for (unsigned level = 0; level < TREE_LEVELS; level++)
        free(t->nodes[level]);
    memset(t, 0, sizeof *t);
}

/* ---- The walk ---- */

struct verify {
    const struct cf_store *store;
    MDB_txn *txn;
    const uint8_t *pk;
    struct mem_tree tree;
    struct cf_merkle_store ms;
    uint64_t records; /* verified so far: also the next index expected */
    uint64_t first_time, last_time;
    uint64_t checkpoints, newest;
    char origin[CF_ORIGIN_MAX + 1];
    bool linked;       /* an origin leaf was just checked: the next checkpoint may change origin */
    uint64_t restores; /* origin leaves seen: the log was restored from a backup */
    MDB_cursor *cp;
    bool cp_more; /* cp_key/cp_val hold the next checkpoint to check */
    MDB_val cp_key, cp_val;
    char failure[768];
};

static int failed(struct verify *v, const char *where, uint64_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records the first failure as "WHERE AT: sentence"; returns CLI_FAIL. */
static int failed(struct verify *v, const char *where, uint64_t at, const char *fmt, ...)
{
    int n = snprintf(v->failure, sizeof v->failure, "%s %" PRIu64 ": ", where, at);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof v->failure)
        vsnprintf(v->failure + n, sizeof v->failure - (size_t)n, fmt, ap);
    va_end(ap);
    return CLI_FAIL;
}

static const char at_index[] = "index", at_checkpoint[] = "checkpoint of size";

static int next_checkpoint(struct verify *v, MDB_cursor_op op)
{
    int rc = mdb_cursor_get(v->cp, &v->cp_key, &v->cp_val, op);
    v->cp_more = rc == 0;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return failed(v, at_checkpoint, v->newest, "cannot read the next checkpoint: %s",
                      mdb_strerror(rc));
    return CLI_OK;
}

/* Checks one signed note, keyed by `size`, against the rebuilt tree of that size. */
static int check_checkpoint(struct verify *v, uint64_t size)
{
    struct cf_checkpoint cp;
    struct cf_error err = {0};
    int rc = cf_checkpoint_open(v->cp_val.mv_data, v->cp_val.mv_size, v->pk, &cp, &err);
    if (rc == CF_ESIG)
        return failed(v, at_checkpoint, size,
                      "no signature on the note verifies with the given broker key");
    if (rc != 0)
        return failed(v, at_checkpoint, size, "the note is malformed: %s", err.text);
    if (cp.size != size)
        return failed(v, at_checkpoint, size, "the note says size %" PRIu64, cp.size);
    if (v->checkpoints > 0 && strcmp(cp.origin, v->origin) != 0 && !v->linked)
        return failed(v, at_checkpoint, size,
                      "its origin %s differs from %s, the origin of the checkpoints before it, "
                      "and no origin leaf links them",
                      cp.origin, v->origin);
    if (v->linked && strcmp(cp.origin, v->origin) == 0)
        return failed(v, at_checkpoint, size,
                      "an origin leaf announced a new origin, but this checkpoint keeps %s",
                      cp.origin);
    v->linked = false;
    uint8_t root[CF_MERKLE_HASH];
    rc = cf_merkle_root(&v->ms, size, root);
    if (rc != 0)
        return failed(v, at_checkpoint, size, "cannot compute the root of the records: %s",
                      cf_strerror(rc));
    if (memcmp(root, cp.root, sizeof root) != 0)
        return failed(v, at_checkpoint, size,
                      "the signed root differs from the root of the first %" PRIu64 " records",
                      size);
    memcpy(v->origin, cp.origin, sizeof v->origin);
    v->checkpoints++;
    v->newest = size;
    return CLI_OK;
}

/* Checks every checkpoint whose size the rebuilt tree has just reached. The
 * cursor walks sizes in order, so each is checked the moment it can be. */
static int check_due_checkpoints(struct verify *v)
{
    while (v->cp_more) {
        if (v->cp_key.mv_size != 8)
            return failed(v, at_checkpoint, v->newest,
                          "the next checkpoint's key is %zu bytes, not an 8-byte tree size",
                          v->cp_key.mv_size);
        uint64_t size = cf_store_get_u64(v->cp_key.mv_data);
        if (size > v->records)
            return CLI_OK;
        int rc = check_checkpoint(v, size);
        if (rc == CLI_OK)
            rc = next_checkpoint(v, MDB_NEXT);
        if (rc != CLI_OK)
            return rc;
    }
    return CLI_OK;
}

/* An accepted record is the proof of its envelope: the stored envelope must
 * carry exactly the header, digests, commitment and signature it names. */
static int check_envelope(struct verify *v, const struct cf_record *r, uint64_t i)
{
    if (!r->header || !r->has_digests)
        return failed(v, at_index, i, "the accepted record lacks its header or digests");
    MDB_val val;
    int rc = cf_store_envelope(v->store, v->txn, i, &val);
    if (rc == CF_ENOTFOUND)
        return failed(v, at_index, i, "the envelope of this accepted record is missing");
    if (rc != 0)
        return failed(v, at_index, i, "cannot read the envelope: %s", cf_strerror(rc));
    struct cf_envelope env;
    struct cf_header hdr;
    struct cf_error err = {0};
    memset(&env, 0, sizeof env);
    rc = cf_envelope_decode(val.mv_data, val.mv_size, &env, &hdr, &err);
    if (rc != 0) {
        cf_envelope_fini(&env);
        return failed(v, at_index, i, "the stored envelope does not decode: %s (%s)", err.text,
                      cf_error_name(rc));
    }
    struct cf_envelope_digests d;
    cf_envelope_digests(&env, &d);
    const char *what = NULL;
    if (env.header_len != r->header_len || memcmp(env.header, r->header, r->header_len) != 0)
        what = "header bytes";
    else if (memcmp(d.ciphertext, r->ciphertext_hash, CF_HASH_LEN) != 0)
        what = "ciphertext digest";
    else if (memcmp(d.keys, r->keys_hash, CF_HASH_LEN) != 0)
        what = "key list digest";
    else if (memcmp(env.commit, r->commit, CF_HASH_LEN) != 0)
        what = "key commitment";
    else if (memcmp(env.signature, r->signature, CF_SIG_LEN) != 0)
        what = "signature";
    cf_envelope_fini(&env);
    if (what)
        return failed(v, at_index, i, "the stored envelope's %s differs from the record's", what);
    return CLI_OK;
}

/* A restored log's origin leaf: it must cite the broker's checkpoint of the
 * origin so far, at exactly its own index, the newest checked; the next
 * checkpoint then names the new origin. */
static int check_origin_leaf(struct verify *v, const struct cf_record *r, uint64_t i)
{
    struct cf_checkpoint prev;
    struct cf_error err = {0};
    if (!r->previous_checkpoint ||
        cf_checkpoint_open(r->previous_checkpoint, r->previous_checkpoint_len, v->pk, &prev,
                           &err) != 0)
        return failed(v, at_index, i, "the origin leaf cites no checkpoint signed by the broker");
    if (prev.size != i || v->newest != i || strcmp(prev.origin, v->origin) != 0)
        return failed(v, at_index, i,
                      "the origin leaf cites %s at size %" PRIu64 ", not the log's %s at %" PRIu64,
                      prev.origin, prev.size, v->origin, v->newest);
    v->linked = true;
    v->restores++;
    return CLI_OK;
}

/* Checks the record stored under `key` as leaf number v->records and adds it to
 * the rebuilt tree. */
static int check_record(struct verify *v, const MDB_val *key, const MDB_val *val)
{
    uint64_t i = v->records;
    if (key->mv_size != 8)
        return failed(v, at_index, i, "a key of %zu bytes is not an 8-byte index", key->mv_size);
    uint64_t stored = cf_store_get_u64(key->mv_data);
    if (stored != i)
        return failed(v, at_index, i,
                      "the record is missing (the next stored index is %" PRIu64 ")", stored);
    struct cf_record r;
    struct cf_error err = {0};
    int rc = cf_wire_record_decode(val->mv_data, val->mv_size, &r, &err);
    if (rc != 0) {
        cf_wire_record_fini(&r);
        return failed(v, at_index, i, "the record does not decode: %s (%s)", err.text,
                      cf_error_name(rc));
    }
    char t1[AGENT_TEXT_TIME_MAX], t2[AGENT_TEXT_TIME_MAX];
    if (r.index != i)
        rc = failed(v, at_index, i, "the record says it is index %" PRIu64, r.index);
    else if (i > 0 && r.time < v->last_time) {
        agent_text_time(r.time, t1);
        agent_text_time(v->last_time, t2);
        rc = failed(v, at_index, i, "its time %s is before %s, the time of the record before it",
                    t1, t2);
    }
    if (rc == CLI_OK) {
        uint8_t leaf[CF_MERKLE_HASH];
        cf_record_leaf_hash(val->mv_data, val->mv_size, leaf);
        int mrc = cf_merkle_append(&v->ms, i, leaf);
        if (mrc != 0 && v->tree.bad && !v->tree.bad_missing && v->tree.bad_level == 0)
            rc = failed(v, at_index, i, "the record's leaf hash differs from the stored tree's");
        else if (mrc != 0 && v->tree.bad)
            rc = failed(v, at_index, i, "the stored tree node (level %u, index %" PRIu64 ") %s",
                        v->tree.bad_level, v->tree.bad_index,
                        v->tree.bad_missing ? "is missing"
                                            : "differs from the hash the records give");
        else if (mrc != 0)
            rc = failed(v, at_index, i, "cannot rebuild the tree: %s", cf_strerror(mrc));
    }
    if (rc == CLI_OK && r.event == CF_EVENT_ACCEPTED)
        rc = check_envelope(v, &r, i);
    if (rc == CLI_OK && r.event == CF_EVENT_ORIGIN)
        rc = check_origin_leaf(v, &r, i);
    if (rc == CLI_OK) {
        if (i == 0)
            v->first_time = r.time;
        v->last_time = r.time;
        v->records++;
    }
    cf_wire_record_fini(&r);
    return rc;
}

/* The whole check, inside the caller's read transaction. */
static int walk(struct verify *v)
{
    MDB_cursor *records;
    int mrc = mdb_cursor_open(v->txn, v->store->audit, &records);
    if (mrc != 0)
        return failed(v, at_index, 0, "cannot read the records: %s", mdb_strerror(mrc));
    int rc = next_checkpoint(v, MDB_FIRST);
    if (rc == CLI_OK)
        rc = check_due_checkpoints(v);
    MDB_val key, val;
    for (MDB_cursor_op op = MDB_FIRST; rc == CLI_OK; op = MDB_NEXT) {
        mrc = mdb_cursor_get(records, &key, &val, op);
        if (mrc == MDB_NOTFOUND)
            break;
        if (mrc != 0)
            rc = failed(v, at_index, v->records, "cannot read the record: %s", mdb_strerror(mrc));
        if (rc == CLI_OK)
            rc = check_record(v, &key, &val);
        if (rc == CLI_OK)
            rc = check_due_checkpoints(v);
    }
    mdb_cursor_close(records);
    if (rc != CLI_OK)
        return rc;
    if (v->cp_more)
        return failed(v, at_checkpoint, cf_store_get_u64(v->cp_key.mv_data),
                      "the log holds only %" PRIu64 " records", v->records);
    if (v->records > 0 && v->checkpoints == 0)
        return failed(v, at_index, 0, "no checkpoint covers this record (there are none)");
    if (v->records > 0 && v->newest < v->records)
        return failed(v, at_index, v->newest,
                      "no checkpoint covers this record (the newest has size %" PRIu64 ")",
                      v->newest);
    return CLI_OK;
}

static void print_counts(const struct verify *v)
{
    printf("records: %" PRIu64 "\n", v->records);
    if (v->checkpoints > 0)
        printf("checkpoints: %" PRIu64 " (origin %s, newest size %" PRIu64 ")\n", v->checkpoints,
               v->origin, v->newest);
    else
        printf("checkpoints: 0\n");
    if (v->restores > 0)
        printf("restores: %" PRIu64 " (each an origin leaf linking the new origin to the old)\n",
               v->restores);
}

/* Everything is read in one read transaction: a consistent snapshot even
 * while the broker keeps writing. */
static int verify(const char *dir, const uint8_t pk[CF_SIGN_PK])
{
    struct cf_store store;
    struct cf_error err = {0};
    if (cf_store_open(&store, dir, 0, true, &err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err.text);
        return CLI_FAIL;
    }
    struct verify *v = calloc(1, sizeof *v);
    MDB_txn *txn = NULL;
    int mrc = v ? mdb_txn_begin(store.env, NULL, MDB_RDONLY, &txn) : 0;
    if (!v || mrc != 0) {
        fprintf(stderr, "%s: %s: cannot read the log: %s\n", prog, dir,
                v ? mdb_strerror(mrc) : "out of memory");
        free(v);
        cf_store_close(&store);
        return CLI_FAIL;
    }
    v->store = &store;
    v->txn = txn;
    v->pk = pk;
    v->tree.store = &store;
    v->tree.txn = txn;
    v->ms.ctx = &v->tree;
    v->ms.get = mem_get;
    v->ms.put = mem_put;
    MDB_stat st;
    if (mdb_stat(txn, store.audit, &st) == 0)
        mem_reserve(&v->tree, st.ms_entries);
    int rc;
    mrc = mdb_cursor_open(txn, store.checkpoint, &v->cp);
    if (mrc != 0)
        rc = failed(v, at_checkpoint, 0, "cannot read the checkpoints: %s", mdb_strerror(mrc));
    else
        rc = walk(v);
    if (v->cp)
        mdb_cursor_close(v->cp);
    print_counts(v);
    if (rc == CLI_OK) {
        char t[AGENT_TEXT_TIME_MAX];
        if (v->records > 0) {
            agent_text_time(v->first_time, t);
            printf("first: %s\n", t);
            agent_text_time(v->last_time, t);
            printf("last: %s\n", t);
        }
        printf("verified\n");
    } else {
        fflush(stdout);
        fprintf(stderr, "%s: FAILED at %s\n", prog, v->failure);
    }
    mdb_txn_abort(txn);
    mem_free(&v->tree);
    free(v);
    cf_store_close(&store);
    return rc;
}

int cli_audit(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "follow") == 0)
        return cli_audit_follow(argc - 1, argv + 1);
    static const struct option opts[] = {{"broker-key", required_argument, NULL, 'k'},
                                         {"broker-key-file", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *key = NULL, *key_file = NULL;
    int c, given = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:f:h", opts, NULL)) != -1) {
        if (c == 'k')
            key = optarg, given++;
        else if (c == 'f')
            key_file = optarg, given++;
        else if (c == 'h')
            return fputs(help, stdout), CLI_OK;
        else
            return fputs(help, stderr), CLI_USAGE;
    }
    if (optind != argc - 2 || strcmp(argv[optind], "verify") != 0)
        return fputs(help, stderr), CLI_USAGE;
    if (given != 1) {
        fprintf(stderr, "%s: give the broker's key once: --broker-key or --broker-key-file\n",
                prog);
        return CLI_USAGE;
    }
    uint8_t pk[CF_SIGN_PK];
    if (key && cf_keys_b64_decode(key, pk) != 0) {
        fprintf(stderr, "%s: --broker-key is not a base64 Ed25519 public key (44 characters)\n",
                prog);
        return CLI_USAGE;
    }
    if (key_file) {
        int rc = key_from_file(key_file, pk);
        if (rc != CLI_OK)
            return rc;
    }
    return verify(argv[optind + 1], pk);
}
