/* JSON Lines export of a log, and its verification. Each line is built from
 * the bytes alone (cf_wire_*_json), so building it again from the same bytes
 * gives the same line: that is both what makes two exports byte-identical and
 * how a verifier without LMDB notices an edited field. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "childfirst/export.h"
#include "childfirst/wire.h"

static json_t *base64_json(const uint8_t *p, size_t n)
{
    size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(cap);
    if (!b64)
        return NULL;
    sodium_bin2base64(b64, cap, p ? p : (const uint8_t *)"", n, sodium_base64_VARIANT_ORIGINAL);
    json_t *s = json_string(b64);
    free(b64);
    return s;
}

static int set(json_t *o, const char *key, json_t *v, struct cf_error *err)
{
    if (!v || json_object_set_new(o, key, v) != 0)
        return cf_error_set(err, CF_ENOMEM, "out of memory");
    return 0;
}

int cf_export_leaf(const uint8_t *record, size_t len, enum cf_export_envelope envelope,
                   json_t **out, struct cf_error *err)
{
    *out = NULL;
    json_t *o = NULL, *sub = NULL;
    struct cf_record r;
    int rc = cf_wire_record_decode(record, len, &r, err);
    if (rc == 0)
        rc = cf_wire_record_json(record, len, &o, err);
    if (rc != 0)
        goto out;
    uint8_t leaf[32];
    char hex[65];
    cf_record_leaf_hash(record, len, leaf);
    sodium_bin2hex(hex, sizeof hex, leaf, sizeof leaf);
    if ((rc = set(o, "entry", json_string("leaf"), err)) != 0 ||
        (rc = set(o, "record", base64_json(record, len), err)) != 0 ||
        (rc = set(o, "leaf_hash", json_string(hex), err)) != 0)
        goto out;
    if (r.event == CF_EVENT_ACCEPTED && r.header) {
        if ((rc = cf_wire_header_json(r.header, r.header_len, &sub, err)) != 0 ||
            (rc = set(o, "header_fields", sub, err)) != 0)
            goto out;
    } else if (r.event == CF_EVENT_NOTICE && r.notice) {
        if ((rc = cf_wire_notice_json(r.notice, r.notice_len, &sub, err)) != 0 ||
            (rc = set(o, "notice_fields", sub, err)) != 0)
            goto out;
    }
    sub = NULL;
    if (envelope != CF_EXPORT_NO_ENVELOPE &&
        (rc = set(o, "envelope",
                  json_string(envelope == CF_EXPORT_ENVELOPE_PRESENT ? "present" : "redacted"),
                  err)) != 0)
        goto out;
    *out = o;
    o = NULL;
out:
    cf_wire_record_fini(&r);
    json_decref(o);
    return rc;
}

int cf_export_checkpoint(uint64_t size, const char *note, size_t len, json_t **out,
                         struct cf_error *err)
{
    *out = NULL;
    json_t *text = json_stringn(note, len); /* NULL for a NUL or invalid UTF-8 */
    if (!text)
        return cf_error_set(err, CF_EINVAL,
                            "the checkpoint of size %" PRIu64 " is not text: it cannot be a note",
                            size);
    *out =
        json_pack("{s:s, s:I, s:o}", "entry", "checkpoint", "size", (json_int_t)size, "note", text);
    return *out ? 0 : cf_error_set(err, CF_ENOMEM, "out of memory");
}

int cf_export_write(FILE *f, const json_t *line)
{
    char *text = json_dumps(line, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    if (!text)
        return CF_ENOMEM;
    int rc = fputs(text, f) >= 0 && fputc('\n', f) != EOF ? 0 : CF_EIO;
    free(text);
    return rc;
}

/* Whether the leaf has an envelope beside it, and whether it is still there. */
static int envelope_state(const struct cf_store *s, MDB_txn *txn, uint64_t index,
                          const uint8_t *record, size_t len, enum cf_export_envelope *out)
{
    struct cf_record r;
    int rc = cf_wire_record_decode(record, len, &r, NULL);
    enum cf_event event = r.event;
    cf_wire_record_fini(&r);
    *out = CF_EXPORT_NO_ENVELOPE;
    if (rc != 0 || (event != CF_EVENT_ACCEPTED && event != CF_EVENT_DETERMINATION))
        return 0;
    MDB_val v;
    rc = cf_store_envelope(s, txn, index, &v);
    if (rc == 0 || rc == CF_ENOTFOUND)
        *out = rc == 0 ? CF_EXPORT_ENVELOPE_PRESENT : CF_EXPORT_ENVELOPE_REDACTED;
    return rc == CF_ENOTFOUND ? 0 : rc;
}

int cf_export_store(const struct cf_store *s, MDB_txn *txn, FILE *f, struct cf_error *err)
{
    char origin[CF_ORIGIN_MAX + 1] = "";
    int rc = cf_store_meta(s, txn, "origin", origin, sizeof origin);
    if (rc != 0 && rc != CF_ENOTFOUND)
        return cf_error_set(err, rc, "cannot read the log's origin: %s", cf_strerror(rc));
    MDB_stat records, checkpoints;
    if (mdb_stat(txn, s->audit, &records) != 0 || mdb_stat(txn, s->checkpoint, &checkpoints) != 0)
        return cf_error_set(err, CF_ESTORE, "cannot count the records and checkpoints");
    json_t *head =
        json_pack("{s:s, s:s, s:s, s:I, s:I}", "entry", "log", "format", CF_EXPORT_FORMAT, "origin",
                  origin, "records", (json_int_t)records.ms_entries, "checkpoints",
                  (json_int_t)checkpoints.ms_entries);
    if (!head)
        return cf_error_set(err, CF_ENOMEM, "out of memory");
    rc = cf_export_write(f, head);
    json_decref(head);
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    if (rc == 0 && mdb_cursor_open(txn, s->audit, &cur) != 0)
        rc = CF_ESTORE;
    for (MDB_cursor_op op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
        int mrc = mdb_cursor_get(cur, &k, &v, op);
        if (mrc == MDB_NOTFOUND)
            break;
        if (mrc != 0 || k.mv_size != 8) {
            rc = cf_error_set(err, CF_ESTORE, "cannot read the records: %s",
                              mrc ? mdb_strerror(mrc) : "a key is not an 8-byte index");
            break;
        }
        uint64_t index = cf_store_get_u64(k.mv_data);
        enum cf_export_envelope env;
        json_t *line = NULL;
        struct cf_error why = {0};
        if ((rc = envelope_state(s, txn, index, v.mv_data, v.mv_size, &env)) == 0)
            rc = cf_export_leaf(v.mv_data, v.mv_size, env, &line, &why);
        if (rc == 0)
            rc = cf_export_write(f, line);
        else if (!why.text[0])
            snprintf(why.text, sizeof why.text, "%s", cf_strerror(rc));
        json_decref(line);
        if (rc != 0 && rc != CF_EIO)
            cf_error_set(err, rc, "index %" PRIu64 ": %s (audit verify names the damage)", index,
                         why.text);
    }
    if (cur)
        mdb_cursor_close(cur);
    cur = NULL;
    if (rc == 0 && mdb_cursor_open(txn, s->checkpoint, &cur) != 0)
        rc = CF_ESTORE;
    for (MDB_cursor_op op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
        int mrc = mdb_cursor_get(cur, &k, &v, op);
        if (mrc == MDB_NOTFOUND)
            break;
        if (mrc != 0 || k.mv_size != 8) {
            rc = cf_error_set(err, CF_ESTORE, "cannot read the checkpoints: %s",
                              mrc ? mdb_strerror(mrc) : "a key is not an 8-byte size");
            break;
        }
        json_t *line = NULL;
        rc = cf_export_checkpoint(cf_store_get_u64(k.mv_data), v.mv_data, v.mv_size, &line, err);
        if (rc == 0)
            rc = cf_export_write(f, line);
        json_decref(line);
    }
    if (cur)
        mdb_cursor_close(cur);
    if (rc == CF_EIO)
        return cf_error_set(err, rc, "cannot write the export: %s", cf_strerror(rc));
    if (rc == CF_ESTORE && !err->text[0])
        return cf_error_set(err, rc, "cannot read the log");
    return rc;
}

/* ---- Verifying an export ---- */

/* The first key whose value differs between the two objects, for a failure
 * that says what was edited. */
static const char *first_difference(const json_t *a, const json_t *b)
{
    const char *key;
    const json_t *v;
    const char *best = NULL;
    json_object_foreach((json_t *)a, key, v)
    {
        if (!json_equal(v, json_object_get(b, key)) && (!best || strcmp(key, best) < 0))
            best = key;
    }
    json_object_foreach((json_t *)b, key, v)
    {
        if (!json_object_get(a, key) && (!best || strcmp(key, best) < 0))
            best = key;
    }
    return best ? best : "?";
}

static bool integer_field(const json_t *o, const char *key, uint64_t *out)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

struct jsonl {
    struct cf_logverify *v;
    unsigned long long line;
    bool seen_checkpoint;
    uint64_t checkpoints;
};

static int leaf_line(struct jsonl *j, const json_t *o)
{
    struct cf_logverify *v = j->v;
    const char *at = CF_LOGVERIFY_AT_INDEX;
    uint64_t index;
    if (!integer_field(o, "index", &index))
        return cf_logverify_fail(v, CF_EJSON, at, v->records, "line %llu has no index", j->line);
    if (index != v->records)
        return cf_logverify_fail(v, CF_ECORRUPT, at, v->records,
                                 "line %llu says index %" PRIu64 "; the leaves must run in order",
                                 j->line, index);
    if (j->seen_checkpoint)
        return cf_logverify_fail(v, CF_ECORRUPT, at, index,
                                 "line %llu comes after a checkpoint line", j->line);
    const json_t *rec = json_object_get(o, "record"), *env = json_object_get(o, "envelope");
    enum cf_export_envelope state = CF_EXPORT_NO_ENVELOPE;
    if (env) {
        const char *s = json_string_value(env);
        if (s && strcmp(s, "present") == 0)
            state = CF_EXPORT_ENVELOPE_PRESENT;
        else if (s && strcmp(s, "redacted") == 0)
            state = CF_EXPORT_ENVELOPE_REDACTED;
        else
            return cf_logverify_fail(v, CF_EJSON, at, index,
                                     "envelope must be \"present\" or \"redacted\"");
    }
    size_t b64_len = json_string_length(rec), len = 0;
    uint8_t *bytes = json_is_string(rec) ? malloc(b64_len / 4 * 3 + 3) : NULL;
    if (!bytes)
        return cf_logverify_fail(v, json_is_string(rec) ? CF_ENOMEM : CF_EJSON, at, index,
                                 "the line has no record");
    int rc = 0;
    if (sodium_base642bin(bytes, b64_len / 4 * 3 + 3, json_string_value(rec), b64_len, NULL, &len,
                          NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
        rc = cf_logverify_fail(v, CF_EJSON, at, index, "the record is not base64");
        goto out;
    }
    json_t *again = NULL;
    struct cf_error err = {0};
    if ((rc = cf_export_leaf(bytes, len, state, &again, &err)) != 0) {
        rc = cf_logverify_fail(v, CF_ECORRUPT, at, index, "the record does not decode: %s (%s)",
                               err.text, cf_error_name(rc));
        goto out;
    }
    bool same = json_equal(o, again);
    const char *diff = same ? NULL : first_difference(o, again);
    if (!same)
        rc = cf_logverify_fail(v, CF_ECORRUPT, at, index,
                               "the line's %s is not what its record bytes hold", diff);
    json_decref(again);
    if (rc == 0 && (rc = cf_logverify_leaf(v, bytes, len, NULL)) == 0 &&
        state == CF_EXPORT_ENVELOPE_REDACTED)
        rc = cf_logverify_redacted(v, index);
out:
    free(bytes);
    return rc;
}

static int checkpoint_line(struct jsonl *j, const json_t *o)
{
    struct cf_logverify *v = j->v;
    uint64_t size;
    const json_t *note = json_object_get(o, "note");
    if (!integer_field(o, "size", &size) || !json_is_string(note))
        return cf_logverify_fail(v, CF_EJSON, "line", j->line,
                                 "a checkpoint line needs a size and a note");
    json_t *again = NULL;
    int rc =
        cf_export_checkpoint(size, json_string_value(note), json_string_length(note), &again, NULL);
    if (rc == 0 && !json_equal(o, again))
        rc = cf_logverify_fail(v, CF_EJSON, CF_LOGVERIFY_AT_CHECKPOINT, size,
                               "the line holds %s, which a checkpoint line has not",
                               first_difference(o, again));
    json_decref(again);
    if (rc != 0)
        return rc;
    j->seen_checkpoint = true;
    j->checkpoints++;
    return cf_logverify_checkpoint(v, size, json_string_value(note), json_string_length(note));
}

int cf_export_verify(FILE *f, struct cf_logverify *v)
{
    struct jsonl j = {.v = v};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t want_records = 0, want_checkpoints = 0;
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        j.line++;
        if ((size_t)n > CF_EXPORT_LINE_MAX) {
            rc = cf_logverify_fail(v, CF_ETOOBIG, "line", j.line, "longer than %u bytes",
                                   CF_EXPORT_LINE_MAX);
            break;
        }
        json_error_t jerr;
        json_t *o = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
        const char *entry = json_string_value(json_object_get(o, "entry"));
        if (!o || !json_is_object(o) || !entry) {
            /* Before the checkpoints, a broken line is most likely the next leaf. */
            if (j.line > 1 && !j.seen_checkpoint)
                rc = cf_logverify_fail(v, CF_EJSON, CF_LOGVERIFY_AT_INDEX, v->records,
                                       "line %llu is not an export line: %s", j.line,
                                       o ? "it names no entry" : jerr.text);
            else
                rc = cf_logverify_fail(v, CF_EJSON, "line", j.line, "not an export line: %s",
                                       o ? "it names no entry" : jerr.text);
        } else if (j.line == 1) {
            const char *format = json_string_value(json_object_get(o, "format"));
            if (strcmp(entry, "log") != 0 || !format || strcmp(format, CF_EXPORT_FORMAT) != 0 ||
                !integer_field(o, "records", &want_records) ||
                !integer_field(o, "checkpoints", &want_checkpoints))
                rc = cf_logverify_fail(v, CF_EJSON, "line", 1,
                                       "not a ChildFirst export (the first line names the format "
                                       "%s and the counts)",
                                       CF_EXPORT_FORMAT);
        } else if (strcmp(entry, "leaf") == 0) {
            rc = leaf_line(&j, o);
        } else if (strcmp(entry, "checkpoint") == 0) {
            rc = checkpoint_line(&j, o);
        } else {
            rc = cf_logverify_fail(v, CF_EJSON, "line", j.line, "unknown entry '%.32s'", entry);
        }
        json_decref(o);
    }
    free(line);
    if (rc != 0)
        return rc;
    if (ferror(f))
        return cf_logverify_fail(v, CF_EIO, "line", j.line + 1, "cannot read the export");
    if (j.line == 0)
        return cf_logverify_fail(v, CF_EJSON, "line", 1, "the export is empty");
    if (v->records != want_records || j.checkpoints != want_checkpoints)
        return cf_logverify_fail(v, CF_ECORRUPT, CF_LOGVERIFY_AT_INDEX, v->records,
                                 "the export's first line promises %" PRIu64 " records and %" PRIu64
                                 " checkpoints; it holds %" PRIu64 " and %" PRIu64 " (cut short?)",
                                 want_records, want_checkpoints, v->records, j.checkpoints);
    return cf_logverify_finish(v);
}
