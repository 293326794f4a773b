/* The redo log (childfirst/redo.h) on a real file, and the store's recovery
 * from it on a real LMDB environment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <fcntl.h>
#include <lmdb.h>

#include "childfirst/redo.h"
#include "childfirst/store.h"

struct fix {
    char dir[64], path[96];
    int fd;
    struct cf_redo r;
};

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cf-redo-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/" CF_REDO_FILE, f->dir);
    f->fd = open(f->path, O_RDWR | O_CREAT, 0600);
    assert_true(f->fd >= 0);
    struct cf_error err = {0};
    assert_int_equal(cf_redo_open(&f->r, f->fd, 5, 1u << 20, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;
    cf_redo_close(&f->r);
    if (f->fd >= 0)
        close(f->fd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* What a replay passed on, flattened as "op table key=val;". */
struct seen {
    char text[4096];
    size_t n;
};

static int note(void *ctx, const struct cf_redo_entry *e)
{
    struct seen *s = ctx;
    size_t at = strlen(s->text);
    snprintf(s->text + at, sizeof s->text - at, "%d %u %.*s=%.*s;", (int)e->op, e->table,
             (int)e->key_len, (const char *)e->key, (int)e->val_len,
             e->val ? (const char *)e->val : "");
    s->n++;
    return 0;
}

static uint64_t replay(struct fix *f, uint64_t gen, struct seen *s, uint64_t *end)
{
    uint64_t records = 99, e;
    memset(s, 0, sizeof *s);
    assert_int_equal(cf_redo_replay(f->fd, gen, UINT64_MAX, note, s, end ? end : &e, &records), 0);
    return records;
}

static void put(struct fix *f, const char *key, const char *val)
{
    cf_redo_add(&f->r, CF_REDO_PUT, 1, key, strlen(key), val, strlen(val));
}

static void two_records(struct fix *f)
{
    put(f, "a", "1");
    cf_redo_add(&f->r, CF_REDO_PUT_LAST, 2, "k", 1, "", 0);
    assert_int_equal(cf_redo_write(&f->r), 0);
    cf_redo_add(&f->r, CF_REDO_DEL, 3, "a", 1, NULL, 0);
    assert_int_equal(cf_redo_write(&f->r), 0);
}

static void test_records_replay_in_order_and_only_their_generation(void **state)
{
    struct fix *f = *state;
    two_records(f);
    struct seen s;
    uint64_t end;
    assert_int_equal(replay(f, 5, &s, &end), 2);
    assert_string_equal(s.text, "1 1 a=1;2 2 k=;3 3 a=;");
    assert_int_equal(end, f->r.end);
    assert_int_equal(replay(f, 4, &s, NULL), 0);
    assert_int_equal(replay(f, 6, &s, NULL), 0);
    assert_true(cf_redo_empty(&f->r));
}

static void test_a_torn_tail_ends_the_generation_before_it(void **state)
{
    struct fix *f = *state;
    put(f, "a", "1");
    assert_int_equal(cf_redo_write(&f->r), 0);
    uint64_t first = f->r.end;
    put(f, "b", "2");
    assert_int_equal(cf_redo_write(&f->r), 0);
    struct seen s;
    uint64_t end;
    for (uint64_t cut = f->r.end - 1; cut > first; cut -= 7) {
        assert_int_equal(ftruncate(f->fd, (off_t)cut), 0);
        assert_int_equal(replay(f, 5, &s, &end), 1);
        assert_int_equal(end, first);
        assert_string_equal(s.text, "1 1 a=1;");
    }
}

static void test_a_damaged_byte_stops_the_replay_there(void **state)
{
    struct fix *f = *state;
    two_records(f);
    struct seen s;
    for (off_t at = 0; at < (off_t)f->r.end; at += 5) {
        uint8_t b;
        assert_int_equal(pread(f->fd, &b, 1, at), 1);
        b ^= 0x40;
        assert_int_equal(pwrite(f->fd, &b, 1, at), 1);
        uint64_t n = replay(f, 5, &s, NULL);
        assert_true(n < 2); /* nothing past the damage */
        b ^= 0x40;
        assert_int_equal(pwrite(f->fd, &b, 1, at), 1);
    }
    assert_int_equal(replay(f, 5, &s, NULL), 2);
}

static void test_a_new_generation_writes_over_the_old(void **state)
{
    struct fix *f = *state;
    two_records(f);
    cf_redo_restart(&f->r, 6);
    put(f, "z", "9");
    assert_int_equal(cf_redo_write(&f->r), 0);
    struct seen s;
    assert_int_equal(replay(f, 6, &s, NULL), 1);
    assert_string_equal(s.text, "1 1 z=9;");
    assert_int_equal(replay(f, 5, &s, NULL), 0); /* its first record is gone */
}

static void test_reopening_goes_on_after_the_records_there(void **state)
{
    struct fix *f = *state;
    two_records(f);
    struct cf_redo again;
    struct cf_error err = {0};
    assert_int_equal(cf_redo_open(&again, f->fd, 5, 1u << 20, &err), 0);
    assert_int_equal(again.seq, 2);
    assert_int_equal(again.end, f->r.end);
    cf_redo_add(&again, CF_REDO_PUT, 0, "c", 1, "3", 1);
    assert_int_equal(cf_redo_write(&again), 0);
    cf_redo_close(&again);
    struct seen s;
    assert_int_equal(replay(f, 5, &s, NULL), 3);
}

static void test_a_full_log_refuses_and_keeps_what_it_has(void **state)
{
    struct fix *f = *state;
    cf_redo_close(&f->r);
    struct cf_error err = {0};
    assert_int_equal(cf_redo_open(&f->r, f->fd, 5, 200, &err), 0);
    put(f, "a", "1");
    assert_int_equal(cf_redo_write(&f->r), 0);
    char big[300];
    memset(big, 'x', sizeof big);
    cf_redo_add(&f->r, CF_REDO_PUT, 1, "b", 1, big, sizeof big);
    assert_int_equal(cf_redo_write(&f->r), CF_ENOSPACE);
    struct seen s;
    assert_int_equal(replay(f, 5, &s, NULL), 1);
    cf_redo_clear(&f->r);
    assert_true(cf_redo_empty(&f->r));
}

static void test_an_entry_it_cannot_hold_loses_the_batch(void **state)
{
    struct fix *f = *state;
    uint8_t key[CF_REDO_KEY_MAX + 1] = {0};
    put(f, "a", "1");
    cf_redo_add(&f->r, CF_REDO_PUT, 1, key, sizeof key, "v", 1);
    put(f, "b", "2");
    assert_int_equal(cf_redo_write(&f->r), CF_ETOOBIG);
    cf_redo_clear(&f->r);
    cf_redo_add(&f->r, CF_REDO_DEL, 1, "", 0, NULL, 0); /* an empty key is never stored */
    assert_int_equal(cf_redo_write(&f->r), CF_ETOOBIG);
    struct seen s;
    assert_int_equal(replay(f, 5, &s, NULL), 0);
}

static int count(void *ctx, const struct cf_redo_entry *e)
{
    (void)e;
    ++*(int *)ctx;
    return 0;
}

/* Each malformed payload is refused whole: no entry of it is passed on. */
static void test_malformed_entries_are_refused_before_any_is_applied(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint8_t bytes[16];
        size_t len;
    } bad[] = {
        {"a header cut short", {1, 0, 0}, 3},
        {"operation 0", {0, 0, 0, 1, 0, 0, 0, 0, 'k'}, 9},
        {"operation 4", {4, 0, 0, 1, 'k'}, 5},
        {"a table past the last", {3, 9, 0, 1, 'k'}, 5},
        {"an empty key", {3, 0, 0, 0}, 4},
        {"a key over the limit", {3, 0, 0x02, 0x00, 'k'}, 5},
        {"no value length", {1, 0, 0, 1, 0, 0}, 6},
        {"a key beyond the end", {3, 0, 0, 2, 'k'}, 5},
        {"a value beyond the end", {1, 0, 0, 1, 0, 0, 0, 2, 'k', 'v'}, 10},
        {"a value over the limit", {1, 0, 0, 1, 0x04, 0, 0, 1, 'k'}, 9},
    };
    static const uint8_t good[] = {3, 0, 0, 1, 'g'};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t p[sizeof good + 16];
        memcpy(p, good, sizeof good); /* a good entry first: it must not be applied either */
        memcpy(p + sizeof good, bad[i].bytes, bad[i].len);
        int n = 0;
        if (cf_redo_entries(p, sizeof good + bad[i].len, 9, count, &n) != CF_EDECODE || n != 0)
            fail_msg("%s: accepted, or applied %d entries", bad[i].what, n);
    }
    int n = 0;
    assert_int_equal(cf_redo_entries(good, sizeof good, 9, count, &n), 0);
    assert_int_equal(n, 1);
}

/* A sealed record whose payload does not decode is damage, not a torn write. */
static void test_a_sealed_record_that_does_not_decode_is_corruption(void **state)
{
    struct fix *f = *state;
    cf_redo_add(&f->r, CF_REDO_DEL, 0, "k", 1, NULL, 0);
    f->r.buf[CF_REDO_HEAD] = 7; /* a bad operation, sealed in as written */
    assert_int_equal(cf_redo_write(&f->r), 0);
    uint64_t end, records;
    assert_int_equal(cf_redo_replay(f->fd, 5, UINT64_MAX, count, &(int){0}, &end, &records),
                     CF_ECORRUPT);
}

/* ---- The store's recovery ---- */

static void store_put(struct cf_store *s, const char *key, const char *val, bool durable)
{
    MDB_txn *txn;
    struct cf_redo r;
    struct cf_error err = {0};
    uint64_t gen;
    assert_int_equal(mdb_txn_begin(s->env, NULL, 0, &txn), 0);
    assert_int_equal(cf_store_redo_gen(s, txn, &gen), 0);
    assert_int_equal(cf_redo_open(&r, s->redo_fd, gen, 1u << 20, &err), 0);
    s->redo = &r;
    assert_int_equal(cf_store_put(s, txn, s->meta, key, strlen(key), val, strlen(val)), 0);
    s->redo = NULL;
    if (durable)
        assert_int_equal(cf_redo_write(&r), 0);
    mdb_txn_abort(txn); /* as a crash leaves it: never committed */
    cf_redo_close(&r);
}

static int meta_of(const char *dir, const char *key, char *out, size_t cap, uint64_t *recovered)
{
    struct cf_store s;
    struct cf_error err = {0};
    MDB_txn *txn;
    assert_int_equal(cf_store_open(&s, dir, 0, true, &err), 0);
    *recovered = s.recovered;
    assert_int_equal(mdb_txn_begin(s.env, NULL, MDB_RDONLY, &txn), 0);
    int rc = cf_store_meta(&s, txn, key, out, cap);
    mdb_txn_abort(txn);
    cf_store_close(&s);
    return rc;
}

static void test_opening_a_store_applies_what_a_crashed_writer_synced(void **state)
{
    struct fix *f = *state;
    struct cf_store s;
    struct cf_error err = {0};
    assert_int_equal(cf_store_open(&s, f->dir, 1u << 20, false, &err), 0);
    assert_true(s.has_redo_fd);
    /* While it is open, no other writer may open the store, and a reader
     * leaves its redo log alone. */
    struct cf_store other;
    assert_int_equal(cf_store_open(&other, f->dir, 0, false, &err), CF_ESTORE);
    assert_non_null(strstr(err.text, "another process is writing this store"));
    store_put(&s, "synced", "yes", true);
    store_put(&s, "unsynced", "no", false);
    char v[16];
    uint64_t recovered;
    assert_int_equal(meta_of(f->dir, "synced", v, sizeof v, &recovered), CF_ENOTFOUND);
    assert_int_equal(recovered, 0);
    cf_store_close(&s);
    /* The writer gone, the next open applies its synced record, once. */
    assert_int_equal(meta_of(f->dir, "synced", v, sizeof v, &recovered), 0);
    assert_string_equal(v, "yes");
    assert_int_equal(recovered, 1);
    assert_int_equal(meta_of(f->dir, "unsynced", v, sizeof v, &recovered), CF_ENOTFOUND);
    assert_int_equal(recovered, 0);
    assert_int_equal(meta_of(f->dir, "redo_gen", v, sizeof v, &recovered), 0);
    assert_string_equal(v, "1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
        T(test_records_replay_in_order_and_only_their_generation),
        T(test_a_torn_tail_ends_the_generation_before_it),
        T(test_a_damaged_byte_stops_the_replay_there),
        T(test_a_new_generation_writes_over_the_old),
        T(test_reopening_goes_on_after_the_records_there),
        T(test_a_full_log_refuses_and_keeps_what_it_has),
        T(test_an_entry_it_cannot_hold_loses_the_batch),
        cmocka_unit_test(test_malformed_entries_are_refused_before_any_is_applied),
        T(test_a_sealed_record_that_does_not_decode_is_corruption),
        T(test_opening_a_store_applies_what_a_crashed_writer_synced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
