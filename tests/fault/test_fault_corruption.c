/* Corruption (issue 8): bytes flipped in the broker's LMDB file.
 *
 * A broker accepts referrals for guardian-x, la-csc and la-duty, with la-csc
 * offline so that its mailbox holds them, and stops. Then, round after round,
 * a copy of that state has a few bytes of data.mdb flipped at offsets from a
 * seeded RNG (the seed is printed; CF_FAULT_SEED replays it), and:
 *
 * - `childfirst audit verify` must not crash; it must pass when the log's own
 *   tables (audit, envelope, tree, checkpoint, meta, compared with mdb_dump)
 *   are untouched, and must fail, saying why, when any of them changed;
 * - the broker must either refuse to start, exiting non-zero with
 *   BROKER-REFUSED and a sentence on stderr (never killed by a signal), or
 *   run and serve la-csc only envelopes and records identical, byte for
 *   byte, to the ones it accepted at those leaves, then stop cleanly.
 *
 * Knobs: CF_FAULT_SEED, CF_FAULT_ROUNDS (default 16), CF_FAULT_FLIPS (bytes
 * per round, default 4). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "harness.h"

#define REFERRALS 30
#define DUMP_CAP (8u << 20)

static const char *const LOG_TABLES[] = {"audit", "envelope", "tree", "checkpoint", "meta"};
#define N_TABLES (sizeof LOG_TABLES / sizeof LOG_TABLES[0])

/* What the broker accepted: the envelope and the record at each leaf. */
struct accepted {
    uint64_t leaf;
    uint8_t *env, *record;
    size_t env_len, record_len;
};

struct fixture {
    struct net n;
    char pristine[600];
    struct accepted acc[REFERRALS];
    char *dump[N_TABLES]; /* mdb_dump of each log table, undamaged */
};

static unsigned env_or(const char *name, unsigned dflt)
{
    const char *v = getenv(name);
    return v && *v ? (unsigned)strtoul(v, NULL, 10) : dflt;
}

/* mdb_dump of one table: its text (caller frees), or NULL if mdb_dump failed. */
static char *dump_table(const char *dir, const char *table)
{
    char *out = malloc(DUMP_CAP);
    assert_non_null(out);
    const char *argv[] = {"mdb_dump", "-s", table, dir, NULL};
    if (net_run(argv, out, DUMP_CAP) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    net_create(&f->n, NULL);
    net_broker_start(&f->n);
    void *police = net_connect(&f->n, net_agency(&f->n, "police-a")->keys);
    struct cf_frame w;
    net_hello(police, 0, &w);
    cf_wire_frame_fini(&w);
    for (size_t i = 0; i < REFERRALS; i++) {
        struct cf_header h;
        struct cf_frame a;
        struct accepted *x = &f->acc[i];
        net_referral(&f->n, "police-a", &h, &x->env, &x->env_len);
        net_submit(police, x->env, x->env_len, &a);
        assert_int_equal(a.kind, CF_FRAME_ACCEPTED);
        x->leaf = a.leaf_index;
        x->record = malloc(a.record_len);
        assert_non_null(x->record);
        memcpy(x->record, a.record, a.record_len);
        x->record_len = a.record_len;
        cf_wire_frame_fini(&a);
    }
    net_close(&f->n, police);
    net_broker_stop(&f->n);
    snprintf(f->pristine, sizeof f->pristine, "%s/pristine", f->n.dir);
    net_copy_dir(f->n.state_dir, f->pristine);
    for (size_t t = 0; t < N_TABLES; t++) {
        f->dump[t] = dump_table(f->pristine, LOG_TABLES[t]);
        assert_non_null(f->dump[t]);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    net_destroy(&f->n);
    for (size_t i = 0; i < REFERRALS; i++) {
        free(f->acc[i].env);
        free(f->acc[i].record);
    }
    for (size_t t = 0; t < N_TABLES; t++)
        free(f->dump[t]);
    free(f);
    return 0;
}

/* The state folder again as it was, then `flips` bytes of data.mdb changed
 * at seeded offsets; the offsets in `where` for the message. */
static void damage(struct fixture *f, unsigned *rng, unsigned flips, char *where, size_t cap)
{
    char cmd[1400], path[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->n.state_dir);
    assert_int_equal(system(cmd), 0);
    net_copy_dir(f->pristine, f->n.state_dir);
    snprintf(path, sizeof path, "%s/data.mdb", f->n.state_dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    where[0] = '\0';
    for (unsigned k = 0; k < flips; k++) {
        off_t at = (off_t)(rand_r(rng) % (unsigned)st.st_size);
        uint8_t mask = (uint8_t)(1 + rand_r(rng) % 255), b;
        assert_int_equal(pread(fd, &b, 1, at), 1);
        b ^= mask;
        assert_int_equal(pwrite(fd, &b, 1, at), 1);
        size_t used = strlen(where);
        snprintf(where + used, cap - used, " %lld^0x%02x", (long long)at, mask);
    }
    close(fd);
}

/* Which log table differs from the undamaged one (or "" if none). */
static const char *changed_table(struct fixture *f)
{
    for (size_t t = 0; t < N_TABLES; t++) {
        char *d = dump_table(f->n.state_dir, LOG_TABLES[t]);
        bool same = d && strcmp(d, f->dump[t]) == 0;
        free(d);
        if (!same)
            return LOG_TABLES[t];
    }
    return "";
}

static const struct accepted *accepted_at(const struct fixture *f, uint64_t leaf)
{
    for (size_t i = 0; i < REFERRALS; i++)
        if (f->acc[i].leaf == leaf)
            return &f->acc[i];
    return NULL;
}

/* la-csc reads its mailbox: every referral served must be the one accepted
 * at that leaf, envelope and record alike. Returns how many were served. */
static size_t served_as_accepted(struct fixture *f, const char *where)
{
    void *csc = net_connect(&f->n, net_agency(&f->n, "la-csc")->keys);
    struct cf_frame w, d;
    net_hello(csc, 0, &w);
    cf_wire_frame_fini(&w);
    size_t served = 0;
    while (net_recv(csc, &d, 1500) == 0) {
        if (d.kind == CF_FRAME_DELIVER && d.envelope_len > 0) {
            const struct accepted *a = accepted_at(f, d.leaf_index);
            if (!a || d.envelope_len != a->env_len || memcmp(d.envelope, a->env, a->env_len) ||
                d.record_len != a->record_len || memcmp(d.record, a->record, a->record_len))
                fail_msg("leaf %llu served other %s than were accepted there (flips%s)",
                         (unsigned long long)d.leaf_index,
                         a && d.envelope_len == a->env_len && !memcmp(d.envelope, a->env, a->env_len) ? "record bytes" : "envelope bytes", where);
            served++;
        }
        cf_wire_frame_fini(&d);
    }
    net_close(&f->n, csc);
    return served;
}

static void test_flipped_bytes(void **state)
{
    struct fixture *f = *state;
    unsigned seed = env_or("CF_FAULT_SEED", (unsigned)time(NULL));
    unsigned rounds = env_or("CF_FAULT_ROUNDS", 16), flips = env_or("CF_FAULT_FLIPS", 4);
    printf("# CF_FAULT_SEED=%u rounds=%u flips=%u\n", seed, rounds, flips);
    unsigned rng = seed, refused = 0, verify_failed = 0, served_rounds = 0;
    for (unsigned r = 0; r < rounds; r++) {
        char where[512];
        damage(f, &rng, flips, where, sizeof where);
        const char *table = changed_table(f);

        char out[8192], err[8192];
        int vrc = net_audit_verify(&f->n, f->n.state_dir, out, sizeof out, err, sizeof err);
        if (vrc >= 128)
            fail_msg("round %u: audit verify died of signal %d (flips%s):\n%s", r, vrc - 128,
                     where, err);
        if (!*table && vrc != 0)
            fail_msg("round %u: no log table changed, yet audit verify failed (flips%s):\n%s%s",
                     r, where, out, err);
        if (*table && vrc == 0)
            fail_msg("round %u: table %s changed, yet audit verify passed (flips%s)", r, table,
                     where);
        if (vrc != 0) {
            assert_true(strlen(err) + strlen(out) > 10); /* it says what is wrong */
            verify_failed++;
        }

        truncate(f->n.broker_log, 0);
        int brc = net_broker_try_start(&f->n);
        if (brc >= 128)
            fail_msg("round %u: the broker died of signal %d at start (flips%s)", r, brc - 128,
                     where);
        if (brc >= 0) {
            if (brc == 0)
                fail_msg("round %u: the broker exited 0 without serving (flips%s)", r, where);
            assert_true(net_file_contains(f->n.broker_log, "BROKER-REFUSED"));
            assert_true(net_file_contains(f->n.broker_log, "childfirst-broker: "));
            refused++;
        } else {
            size_t served = served_as_accepted(f, where);
            if (served > 0)
                served_rounds++;
            net_broker_stop(&f->n);
        }
        printf("# round %u:%s -> %s%s, verify %s, broker %s\n", r, where, *table ? "changed " : "",
               *table ? table : "log tables unchanged", vrc ? "failed" : "passed",
               brc >= 0 ? "refused" : "served");
    }
    printf("# %u rounds: verify named damage in %u, broker refused in %u, served correct data "
           "in %u\n",
           rounds, verify_failed, refused, served_rounds);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flipped_bytes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
