/* `childfirst audit verify` against a log written here the way the broker
 * writes one (records, tree nodes, envelopes and a signed checkpoint per
 * transaction), then against copies damaged one way each: every damage must be
 * caught by the real binary and named by its index or checkpoint. */
#define _GNU_SOURCE /* memmem, nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "childfirst/checkpoint.h"
#include "childfirst/envelope.h"
#include "childfirst/keys.h"
#include "childfirst/merkle.h"
#include "childfirst/record.h"
#include "childfirst/store.h"
#include "childfirst/wire.h"

extern char **environ;

#define ORIGIN "test.example/log"
#define N_RECORDS 7
#define N_CHECKPOINTS 3
#define T0 1795000000000ull /* 2026-11-18T11:06:40.000Z */

struct fixture {
    char base[PATH_MAX]; /* every folder and file of the test lives under here */
    char log[PATH_MAX];
    int copies;
    struct cf_keys *broker, *other, *police, *csc;
    char broker64[CF_B64_KEY_LEN + 1], other64[CF_B64_KEY_LEN + 1];
    uint8_t *record[N_RECORDS]; /* each record's encoded bytes, to find in data.mdb */
    size_t record_len[N_RECORDS];
    uint64_t cp_size[N_CHECKPOINTS];
    char *note[N_CHECKPOINTS];
    size_t note_len[N_CHECKPOINTS];
    uint64_t accepted; /* an accepted leaf whose envelope the tests damage */
};

struct result {
    int status; /* the exit code */
    char *out, *err;
};

/* ---- Writing a log as the broker does ---- */

static void append(struct fixture *f, const struct cf_store *s, MDB_txn *txn, struct cf_record *r,
                   uint64_t index)
{
    r->index = index;
    r->time = T0 + index * 1500;
    assert_int_equal(cf_wire_record_encode(r, &f->record[index], &f->record_len[index]), 0);
    assert_int_equal(cf_store_append(s, txn, index, f->record[index], f->record_len[index]), 0);
}

static void append_config(struct fixture *f, const struct cf_store *s, MDB_txn *txn, uint64_t index)
{
    static const char agencies[] = "[police-test]\n", policy[] = "[england-wales]\n",
                      sig[] = "serial = 1\n";
    struct cf_record r = {.event = CF_EVENT_CONFIG};
    r.agencies = (const uint8_t *)agencies, r.agencies_len = sizeof agencies - 1;
    r.policy = (const uint8_t *)policy, r.policy_len = sizeof policy - 1;
    r.sig = (const uint8_t *)sig, r.sig_len = sizeof sig - 1;
    append(f, s, txn, &r, index);
}

static void append_rejected(struct fixture *f, const struct cf_store *s, MDB_txn *txn,
                            uint64_t index)
{
    struct cf_record r = {.event = CF_EVENT_REJECTED, .has_frame_hash = true};
    randombytes_buf(r.frame_hash, sizeof r.frame_hash);
    strcpy(r.code, "CF_ESIG");
    strcpy(r.actor, "police-test");
    append(f, s, txn, &r, index);
}

/* Seals a real envelope from police-test to the CSC, stores it beside its leaf
 * and appends the record that proves it. */
static void append_accepted(struct fixture *f, const struct cf_store *s, MDB_txn *txn,
                            uint64_t index)
{
    struct cf_header h;
    memset(&h, 0, sizeof h);
    h.version = CF_PROTOCOL_VERSION;
    randombytes_buf(h.message_id, sizeof h.message_id);
    cf_header_case_id_new(h.case_id);
    h.type = CF_TYPE_REFERRAL;
    strcpy(h.sender, "police-test");
    h.n_recipients = 1;
    strcpy(h.recipients[0], "la-e09000033-csc");
    h.created_at = T0 + index * 1500 - 200;
    strcpy(h.jurisdiction, "england-wales");
    strcpy(h.la_code, "E09000033");
    h.urgency = CF_URGENCY_URGENT;

    static const char payload[] = "a referral only the CSC may read";
    uint8_t *env_bytes;
    size_t env_len;
    struct cf_error err = {0};
    if (cf_envelope_seal(&h, (const uint8_t *)payload, sizeof payload,
                         (const uint8_t(*)[CF_BOX_PK])f->csc->box_pk, f->police, &env_bytes,
                         &env_len, &err) != 0)
        fail_msg("seal: %s", err.text);
    struct cf_envelope env;
    struct cf_header decoded;
    assert_int_equal(cf_envelope_decode(env_bytes, env_len, &env, &decoded, &err), 0);
    struct cf_envelope_digests d;
    cf_envelope_digests(&env, &d);

    struct cf_record r = {.event = CF_EVENT_ACCEPTED, .has_digests = true};
    strcpy(r.actor, "police-test");
    r.header = env.header, r.header_len = env.header_len;
    memcpy(r.ciphertext_hash, d.ciphertext, 32);
    memcpy(r.keys_hash, d.keys, 32);
    memcpy(r.commit, env.commit, 32);
    memcpy(r.signature, env.signature, 64);
    append(f, s, txn, &r, index);

    uint8_t key[8];
    cf_store_put_u64(key, index);
    assert_int_equal(cf_store_put(s, txn, s->envelope, key, sizeof key, env_bytes, env_len), 0);
    cf_envelope_fini(&env);
    free(env_bytes);
}

/* Signs and stores the checkpoint of the tree as it stands in `txn`. */
static void checkpoint(struct fixture *f, const struct cf_store *s, MDB_txn *txn, int n,
                       uint64_t size)
{
    struct cf_merkle_store ms;
    struct cf_store_tree t;
    uint8_t root[CF_MERKLE_HASH], key[8];
    cf_store_tree_init(&ms, &t, s, txn);
    assert_int_equal(cf_merkle_root(&ms, size, root), 0);
    assert_int_equal(
        cf_checkpoint_sign(ORIGIN, size, root, f->broker, &f->note[n], &f->note_len[n]), 0);
    f->cp_size[n] = size;
    cf_store_put_u64(key, size);
    assert_int_equal(
        cf_store_put(s, txn, s->checkpoint, key, sizeof key, f->note[n], f->note_len[n]), 0);
}

static void build_log(struct fixture *f)
{
    struct cf_store s;
    struct cf_error err = {0};
    if (cf_store_open(&s, f->log, 16u << 20, false, &err) != 0)
        fail_msg("open %s: %s", f->log, err.text);
    MDB_txn *txn;

    /* Three group commits, each ending with its checkpoint, as the broker does. */
    assert_int_equal(mdb_txn_begin(s.env, NULL, 0, &txn), 0);
    assert_int_equal(cf_store_meta_put(&s, txn, "schema", CF_STORE_SCHEMA), 0);
    assert_int_equal(cf_store_meta_put(&s, txn, "origin", ORIGIN), 0);
    append_config(f, &s, txn, 0);
    append_accepted(f, &s, txn, 1);
    checkpoint(f, &s, txn, 0, 2);
    assert_int_equal(mdb_txn_commit(txn), 0);

    assert_int_equal(mdb_txn_begin(s.env, NULL, 0, &txn), 0);
    append_accepted(f, &s, txn, 2);
    append_accepted(f, &s, txn, 3);
    append_rejected(f, &s, txn, 4);
    checkpoint(f, &s, txn, 1, 5);
    assert_int_equal(mdb_txn_commit(txn), 0);

    assert_int_equal(mdb_txn_begin(s.env, NULL, 0, &txn), 0);
    append_accepted(f, &s, txn, 5);
    append_rejected(f, &s, txn, 6);
    checkpoint(f, &s, txn, 2, 7);
    assert_int_equal(mdb_txn_commit(txn), 0);
    f->accepted = 2;
    cf_store_close(&s);
}

/* ---- Files and folders ---- */

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("%s: %s", path, strerror(errno));
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    assert_true(n >= 0);
    rewind(fp);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = 0;
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void write_all(const char *path, const void *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        fail_msg("%s: %s", path, strerror(errno));
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static void path_in(char out[PATH_MAX], const char *dir, const char *name)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    assert_true(n > 0 && n < PATH_MAX);
}

/* A new folder holding a copy of the log's data.mdb (as a backup would be). */
static void copy_log(struct fixture *f, char dir[PATH_MAX])
{
    char name[32], from[PATH_MAX], to[PATH_MAX];
    snprintf(name, sizeof name, "copy-%d", ++f->copies);
    path_in(dir, f->base, name);
    assert_int_equal(mkdir(dir, 0700), 0);
    path_in(from, f->log, "data.mdb");
    path_in(to, dir, "data.mdb");
    size_t len;
    uint8_t *data = read_all(from, &len);
    write_all(to, data, len);
    free(data);
}

/* Flips one byte in the middle of every copy of `needle` in DIR/data.mdb, as
 * a disk fault beneath LMDB would: stale copies in freed pages change too, so
 * the live one is sure to. */
static void damage_file(const char *dir, const void *needle, size_t len, size_t offset)
{
    char path[PATH_MAX];
    path_in(path, dir, "data.mdb");
    size_t n;
    uint8_t *data = read_all(path, &n);
    int found = 0;
    for (uint8_t *p = data; (p = memmem(p, n - (size_t)(p - data), needle, len)) != NULL;
         p += len) {
        p[offset] = p[offset] == 'A' ? 'B' : (uint8_t)(p[offset] == 'B' ? 'A' : p[offset] ^ 0x01);
        found++;
    }
    if (found == 0)
        fail_msg("the bytes to damage are not in %s", path);
    write_all(path, data, n);
    free(data);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* ---- Running the real binary ---- */

static char *slurp(const char *path)
{
    size_t len;
    return (char *)read_all(path, &len);
}

/* Runs `childfirst audit ARGS...` (NULL-terminated) with stdout and stderr in
 * files. A signal or a sanitizer report fails the test whatever the status. */
static struct result run(struct fixture *f, ...)
{
    char *argv[16] = {CF_BIN_DIR "/childfirst", "audit"};
    int argc = 2;
    va_list ap;
    va_start(ap, f);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 15;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;

    char out_path[PATH_MAX], err_path[PATH_MAX];
    path_in(out_path, f->base, "stdout");
    path_in(err_path, f->base, "stderr");
    posix_spawn_file_actions_t fa;
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    assert_int_equal(
        posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
    assert_int_equal(
        posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        fail_msg("spawn %s: %s", argv[0], strerror(rc));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            fail_msg("waitpid: %s", strerror(errno));

    struct result r = {.out = slurp(out_path), .err = slurp(err_path)};
    if (WIFSIGNALED(status))
        fail_msg("childfirst died of signal %d; stderr:\n%s", WTERMSIG(status), r.err);
    if (strstr(r.err, "Sanitizer") || strstr(r.err, "runtime error:"))
        fail_msg("childfirst reported a sanitizer error:\n%s", r.err);
    r.status = WEXITSTATUS(status);
    return r;
}

static void result_free(struct result *r)
{
    free(r->out);
    free(r->err);
}

/* The command failed with status 1 and stderr names `where`. */
static void expect_failure(struct result *r, const char *where)
{
    if (r->status != 1 || !strstr(r->err, "childfirst audit verify: FAILED at ") ||
        !strstr(r->err, where))
        fail_msg("expected exit 1 and '%s'; got %d\nstdout:\n%s\nstderr:\n%s", where, r->status,
                 r->out, r->err);
    result_free(r);
}

/* ---- Setup ---- */

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->base, sizeof f->base, "%s/cf-audit-verify-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->base));
    path_in(f->log, f->base, "log");
    assert_int_equal(mkdir(f->log, 0700), 0);
    struct cf_error err = {0};
    assert_int_equal(cf_keys_generate(CF_KEYS_BROKER, NULL, &f->broker, &err), 0);
    assert_int_equal(cf_keys_generate(CF_KEYS_BROKER, NULL, &f->other, &err), 0);
    assert_int_equal(cf_keys_generate(CF_KEYS_AGENCY, "police-test", &f->police, &err), 0);
    assert_int_equal(cf_keys_generate(CF_KEYS_AGENCY, "la-e09000033-csc", &f->csc, &err), 0);
    cf_keys_b64_encode(f->broker->sign_pk, f->broker64);
    cf_keys_b64_encode(f->other->sign_pk, f->other64);
    build_log(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (nftw(f->base, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "cannot remove %s: %s\n", f->base, strerror(errno));
    for (int i = 0; i < N_RECORDS; i++)
        free(f->record[i]);
    for (int i = 0; i < N_CHECKPOINTS; i++)
        free(f->note[i]);
    cf_keys_destroy(&f->broker);
    cf_keys_destroy(&f->other);
    cf_keys_destroy(&f->police);
    cf_keys_destroy(&f->csc);
    free(f);
    return 0;
}

/* ---- The tests ---- */

static void test_intact_log_verifies(void **state)
{
    struct fixture *f = *state;
    struct result r = run(f, "verify", f->log, "--broker-key", f->broker64, NULL);
    if (r.status != 0)
        fail_msg("exit %d\nstdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
    assert_string_equal(r.out, "records: 7\n"
                               "checkpoints: 3 (origin " ORIGIN ", newest size 7)\n"
                               "consistency: 2 proofs, each checkpoint to the next\n"
                               "redacted: 0 envelopes removed by retention\n"
                               "first: 2026-11-18T11:06:40.000Z\n"
                               "last: 2026-11-18T11:06:49.000Z\n"
                               "verified\n");
    assert_string_equal(r.err, "");
    result_free(&r);
}

static void test_key_file(void **state)
{
    struct fixture *f = *state;
    /* What `childfirst keygen broker` prints: a comment, sign_key and a Z85 curve_key. */
    char text[512], path[PATH_MAX];
    assert_int_equal(cf_keys_public_text(f->broker, text, sizeof text), 0);
    assert_non_null(strstr(text, "sign_key = "));
    path_in(path, f->base, "broker.pub");
    write_all(path, text, strlen(text));
    struct result r = run(f, "verify", f->log, "--broker-key-file", path, NULL);
    if (r.status != 0 || !strstr(r.out, "records: 7\n") || !strstr(r.out, "verified\n"))
        fail_msg("exit %d\nstdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
    result_free(&r);

    /* The bare key on a line of its own, after a ';' comment. */
    snprintf(text, sizeof text, "; the broker\n%s\n", f->broker64);
    path_in(path, f->base, "broker.b64");
    write_all(path, text, strlen(text));
    r = run(f, "verify", f->log, "--broker-key-file", path, NULL);
    if (r.status != 0 || !strstr(r.out, "verified\n"))
        fail_msg("exit %d\nstdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
    result_free(&r);

    /* A file with no key in it is a usage error. */
    path_in(path, f->base, "empty.pub");
    write_all(path, "# nothing here\n", 15);
    r = run(f, "verify", f->log, "--broker-key-file", path, NULL);
    assert_int_equal(r.status, 2);
    result_free(&r);
}

static void test_damaged_record(void **state)
{
    struct fixture *f = *state;
    char dir[PATH_MAX];
    copy_log(f, dir);
    damage_file(dir, f->record[3], f->record_len[3], f->record_len[3] / 2);
    struct result r = run(f, "verify", dir, "--broker-key", f->broker64, NULL);
    assert_non_null(strstr(r.out, "records: 3\n"));
    expect_failure(&r, "FAILED at index 3: ");
}

static void test_damaged_checkpoint_signature(void **state)
{
    struct fixture *f = *state;
    char dir[PATH_MAX];
    copy_log(f, dir);
    /* The middle of the base64 signature on the note's last line. */
    const char *note = f->note[1];
    const char *sig = strrchr(note, ' ');
    assert_non_null(sig);
    size_t offset = (size_t)(sig - note) + (f->note_len[1] - (size_t)(sig - note)) / 2;
    damage_file(dir, note, f->note_len[1], offset);
    struct result r = run(f, "verify", dir, "--broker-key", f->broker64, NULL);
    expect_failure(&r, "FAILED at checkpoint of size 5: ");
}

static void test_other_broker_key(void **state)
{
    struct fixture *f = *state;
    struct result r = run(f, "verify", f->log, "--broker-key", f->other64, NULL);
    assert_non_null(strstr(r.out, "checkpoints: 0\n"));
    expect_failure(&r, "FAILED at checkpoint of size 2: ");
}

static void test_last_record_deleted(void **state)
{
    struct fixture *f = *state;
    char dir[PATH_MAX];
    copy_log(f, dir);
    struct cf_store s;
    struct cf_error err = {0};
    assert_int_equal(cf_store_open(&s, dir, 0, false, &err), 0);
    MDB_txn *txn;
    uint8_t key[8];
    cf_store_put_u64(key, N_RECORDS - 1);
    MDB_val k = {sizeof key, key};
    assert_int_equal(mdb_txn_begin(s.env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_del(txn, s.audit, &k, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    cf_store_close(&s);
    struct result r = run(f, "verify", dir, "--broker-key", f->broker64, NULL);
    expect_failure(&r, "FAILED at checkpoint of size 7: ");
}

/* A record in the middle removed: a gap, named by the missing index. */
static void test_gap(void **state)
{
    struct fixture *f = *state;
    char dir[PATH_MAX];
    copy_log(f, dir);
    struct cf_store s;
    struct cf_error err = {0};
    assert_int_equal(cf_store_open(&s, dir, 0, false, &err), 0);
    MDB_txn *txn;
    uint8_t key[8];
    cf_store_put_u64(key, 4);
    MDB_val k = {sizeof key, key};
    assert_int_equal(mdb_txn_begin(s.env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_del(txn, s.audit, &k, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    cf_store_close(&s);
    struct result r = run(f, "verify", dir, "--broker-key", f->broker64, NULL);
    expect_failure(&r, "FAILED at index 4: ");
}

/* A record appended with its tree nodes but no checkpoint after it. */
static void test_uncovered_record(void **state)
{
    struct fixture *f = *state;
    char dir[PATH_MAX];
    copy_log(f, dir);
    struct cf_store s;
    struct cf_error err = {0};
    assert_int_equal(cf_store_open(&s, dir, 0, false, &err), 0);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(s.env, NULL, 0, &txn), 0);
    struct cf_record rec = {
        .event = CF_EVENT_REJECTED, .has_frame_hash = true, .index = N_RECORDS, .time = T0 + 60000};
    strcpy(rec.code, "CF_EDECODE");
    uint8_t *bytes;
    size_t len;
    assert_int_equal(cf_wire_record_encode(&rec, &bytes, &len), 0);
    assert_int_equal(cf_store_append(&s, txn, N_RECORDS, bytes, len), 0);
    free(bytes);
    assert_int_equal(mdb_txn_commit(txn), 0);
    cf_store_close(&s);
    struct result r = run(f, "verify", dir, "--broker-key", f->broker64, NULL);
    expect_failure(&r, "FAILED at index 7: ");
}

static void test_damaged_envelope(void **state)
{
    struct fixture *f = *state;
    char dir[PATH_MAX];
    copy_log(f, dir);
    struct cf_store s;
    struct cf_error err = {0};
    assert_int_equal(cf_store_open(&s, dir, 0, false, &err), 0);
    MDB_txn *txn;
    MDB_val v;
    assert_int_equal(mdb_txn_begin(s.env, NULL, 0, &txn), 0);
    assert_int_equal(cf_store_envelope(&s, txn, f->accepted, &v), 0);
    uint8_t *copy = malloc(v.mv_size);
    assert_non_null(copy);
    memcpy(copy, v.mv_data, v.mv_size);
    copy[v.mv_size / 2] ^= 0x01;
    uint8_t key[8];
    cf_store_put_u64(key, f->accepted);
    assert_int_equal(cf_store_put(&s, txn, s.envelope, key, sizeof key, copy, v.mv_size), 0);
    free(copy);
    assert_int_equal(mdb_txn_commit(txn), 0);
    cf_store_close(&s);
    struct result r = run(f, "verify", dir, "--broker-key", f->broker64, NULL);
    expect_failure(&r, "FAILED at index 2: ");
}

/* Retention removes an envelope: not an error, but counted; every other
 * check (tree, checkpoints, consistency) still passes. */
static void test_redacted_envelope(void **state)
{
    struct fixture *f = *state;
    char dir[PATH_MAX];
    copy_log(f, dir);
    struct cf_store s;
    struct cf_error err = {0};
    assert_int_equal(cf_store_open(&s, dir, 0, false, &err), 0);
    MDB_txn *txn;
    uint8_t key[8];
    assert_int_equal(mdb_txn_begin(s.env, NULL, 0, &txn), 0);
    for (uint64_t i = 1; i <= 2; i++) {
        cf_store_put_u64(key, i);
        MDB_val k = {sizeof key, key};
        assert_int_equal(mdb_del(txn, s.envelope, &k, NULL), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    cf_store_close(&s);
    /* Envelopes deleted by hand, with no purged leaf to say so: not retention
     * but removal, named at the first one. (test_follow's retention test
     * shows a real purge verifying.) */
    struct result r = run(f, "verify", dir, "--broker-key", f->broker64, NULL);
    if (r.status != 1)
        fail_msg("exit %d\nstdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
    assert_non_null(strstr(r.out, "redacted: 2 envelopes removed by retention\n"));
    assert_non_null(strstr(r.err, "index 1: its envelope is gone, and no purged leaf says "
                                  "retention removed it"));
    result_free(&r);
}

/* A checkpoint properly signed by the broker key, over a tree the records do
 * not give: what a broker showing one agency a forked log must sign. The root
 * is held against the records before any consistency proof is built, so the
 * fork is named by its checkpoint. */
static void test_signed_fork(void **state)
{
    struct fixture *f = *state;
    char dir[PATH_MAX];
    copy_log(f, dir);
    struct cf_store s;
    struct cf_error err = {0};
    assert_int_equal(cf_store_open(&s, dir, 0, false, &err), 0);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(s.env, NULL, 0, &txn), 0);
    uint8_t root[CF_MERKLE_HASH], key[8];
    randombytes_buf(root, sizeof root);
    char *note;
    size_t len;
    assert_int_equal(cf_checkpoint_sign(ORIGIN, 5, root, f->broker, &note, &len), 0);
    cf_store_put_u64(key, 5);
    assert_int_equal(cf_store_put(&s, txn, s.checkpoint, key, sizeof key, note, len), 0);
    free(note);
    assert_int_equal(mdb_txn_commit(txn), 0);
    cf_store_close(&s);
    struct result r = run(f, "verify", dir, "--broker-key", f->broker64, NULL);
    expect_failure(&r, "FAILED at checkpoint of size 5: the signed root differs");
}

static void test_empty_log(void **state)
{
    struct fixture *f = *state;
    char dir[PATH_MAX];
    path_in(dir, f->base, "empty");
    assert_int_equal(mkdir(dir, 0700), 0);
    struct cf_store s;
    struct cf_error err = {0};
    assert_int_equal(cf_store_open(&s, dir, 1u << 20, false, &err), 0);
    cf_store_close(&s);
    struct result r = run(f, "verify", dir, "--broker-key", f->broker64, NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "records: 0\ncheckpoints: 0\n"
                               "consistency: 0 proofs, each checkpoint to the next\n"
                               "redacted: 0 envelopes removed by retention\nverified\n");
    result_free(&r);
}

static void test_usage(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX];
    path_in(path, f->base, "twice.pub");
    write_all(path, f->broker64, strlen(f->broker64));
    struct {
        int status;
        const char *args[8];
    } cases[] = {
        {2, {"verify", f->log, NULL}},
        {2, {"verify", f->log, "--broker-key", f->broker64, "--broker-key-file", path, NULL}},
        {2, {"verify", f->log, "--broker-key", f->broker64, "--broker-key", f->other64, NULL}},
        {2, {"verify", "--broker-key", f->broker64, NULL}},
        {2, {"frobnicate", f->log, "--broker-key", f->broker64, NULL}},
        {2, {"verify", f->log, "--jsonl", f->log, "--broker-key", f->broker64, NULL}},
        {2, {"replay", f->log, NULL}},
        {2, {"export", NULL}},
        {2, {"prove", f->log, NULL}},
        {2, {"report", f->log, "--format", "xml", "--broker-key", f->broker64, NULL}},
        {2, {"report", f->log, "--decrypt", "--broker-key", f->broker64, NULL}},
        {2, {"report", f->log, "--from", "2026-13-01", "--broker-key", f->broker64, NULL}},
        {1, {"prove", f->log, "--broker-key", f->broker64, NULL}},
        {2, {"verify", f->log, "--broker-key", "not-base64", NULL}},
        {2, {"verify", f->log, "--no-such-option", NULL}},
        {0, {"--help", NULL}},
        {0, {"verify", "--help", NULL}},
        {1, {"verify", "/nonexistent/cf-audit-log", "--broker-key", f->broker64, NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *const *a = cases[i].args;
        struct result r = run(f, a[0], a[1], a[2], a[3], a[4], a[5], a[6], NULL);
        if (r.status != cases[i].status)
            fail_msg("case %zu: exit %d, expected %d\nstderr:\n%s", i, r.status, cases[i].status,
                     r.err);
        if (cases[i].status != 0 && r.err[0] == 0)
            fail_msg("case %zu: no sentence on stderr", i);
        result_free(&r);
    }
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intact_log_verifies),
        cmocka_unit_test(test_key_file),
        cmocka_unit_test(test_damaged_record),
        cmocka_unit_test(test_damaged_checkpoint_signature),
        cmocka_unit_test(test_other_broker_key),
        cmocka_unit_test(test_last_record_deleted),
        cmocka_unit_test(test_gap),
        cmocka_unit_test(test_uncovered_record),
        cmocka_unit_test(test_damaged_envelope),
        cmocka_unit_test(test_redacted_envelope),
        cmocka_unit_test(test_signed_fork),
        cmocka_unit_test(test_empty_log),
        cmocka_unit_test(test_usage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
