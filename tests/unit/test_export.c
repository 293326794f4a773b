/* The auditor's JSON (wire.c's cf_wire_*_json), the export lines built from
 * it, and the log check they feed (logverify.c), on logs built here in
 * memory: the same bytes give the same line, every readable field is the
 * bytes', and each failure names its index or checkpoint. */
#define _GNU_SOURCE /* open_memstream, fmemopen */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "childfirst/export.h"
#include "childfirst/logverify.h"
#include "childfirst/memtree.h"
#include "childfirst/wire.h"

#define ORIGIN "unit.childfirst/log"

static void header_of(struct cf_header *h)
{
    memset(h, 0, sizeof *h);
    h->version = CF_PROTOCOL_VERSION;
    memset(h->message_id, 0xab, sizeof h->message_id);
    snprintf(h->case_id, sizeof h->case_id, "cf-aaaaaaaaaaaaaaaaaaaaaaaaaa");
    h->type = CF_TYPE_CONFERENCE_CONVENED;
    snprintf(h->sender, sizeof h->sender, "la-csc");
    h->n_recipients = 2;
    snprintf(h->recipients[0], sizeof(cf_id), "health-x");
    snprintf(h->recipients[1], sizeof(cf_id), "la-csc");
    h->created_at = 1798000000000ull;
    snprintf(h->jurisdiction, sizeof h->jurisdiction, "england-wales");
    snprintf(h->la_code, sizeof h->la_code, "E09000033");
    h->urgency = CF_URGENCY_URGENT;
    h->n_members = 2;
    snprintf(h->members[0].agency, sizeof(cf_id), "health-x");
    h->members[0].standing = CF_STANDING_VOTING;
    snprintf(h->members[1].agency, sizeof(cf_id), "la-csc");
    h->members[1].standing = CF_STANDING_ADVISORY;
    snprintf(h->chair_staff_ref, sizeof h->chair_staff_ref, "chair-1");
}

static void test_header_json(void **state)
{
    (void)state;
    struct cf_header h;
    header_of(&h);
    uint8_t *bytes;
    size_t len;
    assert_int_equal(cf_wire_header_encode(&h, &bytes, &len), 0);
    json_t *j;
    assert_int_equal(cf_wire_header_json(bytes, len, &j, NULL), 0);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"case_id\":\"cf-aaaaaaaaaaaaaaaaaaaaaaaaaa\","
                              "\"chair_staff_ref\":\"chair-1\",\"created_at\":1798000000000,"
                              "\"immediate_risk\":false,\"jurisdiction\":\"england-wales\","
                              "\"la_code\":\"E09000033\",\"members\":[{\"agency\":\"health-x\","
                              "\"standing\":\"voting\"},{\"agency\":\"la-csc\",\"standing\":"
                              "\"advisory\"}],\"message_id\":\"q6urq6urq6urq6urq6urqw==\","
                              "\"recipients\":[\"health-x\",\"la-csc\"],\"sender\":\"la-csc\","
                              "\"type\":\"conference_convened\",\"urgency\":\"urgent\","
                              "\"version\":1}");
    free(text);
    json_decref(j);
    /* Bytes that are not a canonical header are refused, as by the decoder. */
    bytes[0] ^= 0x80;
    assert_int_not_equal(cf_wire_header_json(bytes, len, &j, NULL), 0);
    assert_null(j);
    free(bytes);
}

/* A log of `n` records (a rejection each, distinct times), its tree, and
 * checkpoints at the sizes given, as an export file in memory. */
struct log {
    struct cf_keys *broker;
    uint8_t *records[16];
    size_t lens[16];
    size_t n;
    char *notes[4];
    uint64_t sizes[4];
    size_t n_notes;
};

static void log_build(struct log *l, size_t n, const uint64_t *sizes, size_t n_sizes)
{
    memset(l, 0, sizeof *l);
    struct cf_error err = {0};
    assert_int_equal(cf_keys_generate(CF_KEYS_BROKER, NULL, &l->broker, &err), 0);
    struct cf_memtree t;
    struct cf_merkle_store ms;
    cf_memtree_init(&t);
    cf_memtree_store(&t, &ms);
    l->n = n;
    for (size_t i = 0; i < n; i++) {
        struct cf_record r = {.index = i,
                              .time = 1798000000000ull + i * 1000,
                              .event = CF_EVENT_REJECTED,
                              .has_frame_hash = true};
        memset(r.frame_hash, (int)i, sizeof r.frame_hash);
        snprintf(r.code, sizeof r.code, "CF_ESIG");
        snprintf(r.actor, sizeof r.actor, "police-a");
        assert_int_equal(cf_wire_record_encode(&r, &l->records[i], &l->lens[i]), 0);
        uint8_t leaf[32];
        cf_record_leaf_hash(l->records[i], l->lens[i], leaf);
        assert_int_equal(cf_merkle_append(&ms, i, leaf), 0);
    }
    for (size_t i = 0; i < n_sizes; i++) {
        uint8_t root[32];
        size_t len;
        assert_int_equal(cf_merkle_root(&ms, sizes[i], root), 0);
        assert_int_equal(cf_checkpoint_sign(ORIGIN, sizes[i], root, l->broker, &l->notes[i], &len),
                         0);
        l->sizes[i] = sizes[i];
    }
    l->n_notes = n_sizes;
    cf_memtree_fini(&t);
}

static void log_free(struct log *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->records[i]);
    for (size_t i = 0; i < l->n_notes; i++)
        free(l->notes[i]);
    cf_keys_destroy(&l->broker);
}

/* The export of the log, as cf_export_store would write it. */
static char *export_of(const struct log *l, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    assert_non_null(f);
    json_t *head =
        json_pack("{s:s, s:s, s:s, s:I, s:I}", "entry", "log", "format", CF_EXPORT_FORMAT, "origin",
                  ORIGIN, "records", (json_int_t)l->n, "checkpoints", (json_int_t)l->n_notes);
    assert_int_equal(cf_export_write(f, head), 0);
    json_decref(head);
    for (size_t i = 0; i < l->n; i++) {
        json_t *line;
        assert_int_equal(
            cf_export_leaf(l->records[i], l->lens[i], CF_EXPORT_NO_ENVELOPE, &line, NULL), 0);
        assert_int_equal(cf_export_write(f, line), 0);
        json_decref(line);
    }
    for (size_t i = 0; i < l->n_notes; i++) {
        json_t *line;
        assert_int_equal(
            cf_export_checkpoint(l->sizes[i], l->notes[i], strlen(l->notes[i]), &line, NULL), 0);
        assert_int_equal(cf_export_write(f, line), 0);
        json_decref(line);
    }
    fclose(f);
    return buf;
}

/* cf_export_verify over `text`: its code, with the failure in `failure`. */
static int verify(const struct log *l, const char *text, size_t len, struct cf_logverify *v)
{
    FILE *f = fmemopen((void *)text, len, "r");
    assert_non_null(f);
    cf_logverify_init(v, l->broker->sign_pk);
    int rc = cf_export_verify(f, v);
    fclose(f);
    return rc;
}

static void test_export_round_trip(void **state)
{
    (void)state;
    struct log l;
    const uint64_t sizes[] = {2, 3, 5};
    log_build(&l, 5, sizes, 3);
    size_t len, len2;
    char *text = export_of(&l, &len), *again = export_of(&l, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(text, again, len); /* the same bytes give the same export */
    free(again);
    struct cf_logverify v;
    int rc = verify(&l, text, len, &v);
    if (rc != 0)
        fail_msg("%s", v.failure);
    assert_int_equal(v.records, 5);
    assert_int_equal(v.checkpoints, 3);
    assert_int_equal(v.consistency, 2);
    assert_string_equal(v.origin, ORIGIN);
    cf_logverify_fini(&v);
    /* The readable fields are the record's: a leaf line names its code. */
    assert_non_null(strstr(text, "\"code\":\"CF_ESIG\""));
    assert_non_null(strstr(text, "\"event\":\"rejected\""));

    /* Edits, each named. */
    static const struct {
        const char *from, *to, *where;
    } edits[] = {
        {"\"actor\":\"police-a\"", "\"actor\":\"police-b\"", "index 0: the line's actor"},
        {"\"index\":1,", "\"index\":7,", "index 1: line 3 says index 7"},
        {"{\"checkpoints\":3", "{\"checkpoints\":4", "promises 5 records and 4 checkpoints"},
        {"\"entry\":\"leaf\"", "\"entry\":\"lead\"", "line 2: unknown entry"},
        {"\"size\":3}", "\"size\":4}", "checkpoint of size 4: the note says size 3"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char *copy = strdup(text);
        char *at = strstr(copy, edits[i].from);
        assert_non_null(at);
        assert_int_equal(strlen(edits[i].from), strlen(edits[i].to));
        memcpy(at, edits[i].to, strlen(edits[i].to));
        rc = verify(&l, copy, len, &v);
        if (rc == 0 || !strstr(v.failure, edits[i].where))
            fail_msg("edit %zu: expected a failure naming '%s', got %d '%s'", i, edits[i].where, rc,
                     v.failure);
        cf_logverify_fini(&v);
        free(copy);
    }
    /* Another broker's key: nothing it signs counts. */
    struct cf_keys *other;
    assert_int_equal(cf_keys_generate(CF_KEYS_BROKER, NULL, &other, NULL), 0);
    FILE *f = fmemopen(text, len, "r");
    cf_logverify_init(&v, other->sign_pk);
    assert_int_equal(cf_export_verify(f, &v), CF_ESIG);
    assert_non_null(strstr(v.failure, "checkpoint of size 2: no signature"));
    fclose(f);
    cf_logverify_fini(&v);
    cf_keys_destroy(&other);
    free(text);
    log_free(&l);
}

/* The core's rules on checkpoints, whatever their source. */
static void test_checkpoint_rules(void **state)
{
    (void)state;
    struct log l;
    const uint64_t sizes[] = {2, 4};
    log_build(&l, 4, sizes, 2);
    struct cf_logverify v;
    cf_logverify_init(&v, l.broker->sign_pk);
    /* A checkpoint before the tree reaches its size. */
    assert_int_equal(cf_logverify_leaf(&v, l.records[0], l.lens[0], NULL), 0);
    assert_int_equal(cf_logverify_checkpoint(&v, 2, l.notes[0], strlen(l.notes[0])), CF_ECORRUPT);
    assert_non_null(strstr(v.failure, "checkpoint of size 2: the log holds only 1 records"));
    cf_logverify_fini(&v);
    /* Out of order. */
    cf_logverify_init(&v, l.broker->sign_pk);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(cf_logverify_leaf(&v, l.records[i], l.lens[i], NULL), 0);
    assert_int_equal(cf_logverify_checkpoint(&v, 4, l.notes[1], strlen(l.notes[1])), 0);
    assert_int_equal(cf_logverify_checkpoint(&v, 2, l.notes[0], strlen(l.notes[0])), CF_ECORRUPT);
    assert_non_null(strstr(v.failure, "increasing size"));
    cf_logverify_fini(&v);
    /* Leaves out of order, and a leaf that goes back in time. */
    cf_logverify_init(&v, l.broker->sign_pk);
    assert_int_equal(cf_logverify_leaf(&v, l.records[1], l.lens[1], NULL), CF_ECORRUPT);
    assert_non_null(strstr(v.failure, "index 0: the record says it is index 1"));
    cf_logverify_fini(&v);
    /* Uncovered leaves. */
    cf_logverify_init(&v, l.broker->sign_pk);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(cf_logverify_leaf(&v, l.records[i], l.lens[i], NULL), 0);
    assert_int_equal(cf_logverify_checkpoint(&v, 2, l.notes[0], strlen(l.notes[0])), 0);
    assert_int_equal(cf_logverify_finish(&v), CF_ECORRUPT);
    assert_non_null(strstr(v.failure, "index 2: no checkpoint covers this record"));
    cf_logverify_fini(&v);
    log_free(&l);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_json),
        cmocka_unit_test(test_export_round_trip),
        cmocka_unit_test(test_checkpoint_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
