/* The log as JSON Lines (`childfirst audit export`): one object per line, so
 * an auditor can read, diff and verify a log without LMDB. The first line
 * names the format; one line per leaf follows, in index order, then one line
 * per checkpoint, in size order. Every line is compact JSON with sorted keys
 * and a newline, so the same log gives the same bytes.
 *
 *   {"checkpoints":M,"entry":"log","format":"childfirst-audit-export/1","origin":"...","records":N}
 *   {"entry":"leaf", every AuditRecord field (cf_wire_record_json), "record":"<base64 of the
 *    exact record bytes>","leaf_hash":"<hex SHA-256(0x00 || record)>", and for an accepted
 *    leaf "header_fields":{...} (the header decoded), for a notice "notice_fields":{...},
 *    for an accepted or determination leaf "envelope":"present"|"redacted"}
 *   {"entry":"checkpoint","note":"<the signed note, as stored>","size":S}
 *
 * A leaf line holds nothing its record bytes do not fix, except "envelope",
 * so cf_export_verify rebuilds each line from its "record" and any edit to a
 * readable field is named by its index.
 */
#ifndef CHILDFIRST_EXPORT_H
#define CHILDFIRST_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <lmdb.h>

#include "childfirst/error.h"
#include "childfirst/logverify.h"
#include "childfirst/store.h"

#define CF_EXPORT_FORMAT "childfirst-audit-export/1"

/* A line is at most this long: a config leaf's bundle twice in base64. */
#define CF_EXPORT_LINE_MAX (64u * 1024u * 1024u)

/* Whether a leaf's envelope (an accepted leaf's Envelope, a determination's
 * Determination) sits beside it. */
enum cf_export_envelope {
    CF_EXPORT_NO_ENVELOPE = 0, /* the leaf never has one */
    CF_EXPORT_ENVELOPE_PRESENT,
    CF_EXPORT_ENVELOPE_REDACTED /* removed by retention */
};

/* The line of one leaf, from its encoded record. Caller owns *out; release
 * with json_decref. The codes of cf_wire_record_json, and of decoding its
 * header or notice. */
CF_WUR int cf_export_leaf(const uint8_t *record, size_t len, enum cf_export_envelope envelope,
                          json_t **out, struct cf_error *err);

/* The line of one checkpoint. Caller owns *out; release with json_decref.
 * CF_EINVAL for a note that is not NUL-free UTF-8, CF_ENOMEM. */
CF_WUR int cf_export_checkpoint(uint64_t size, const char *note, size_t len, json_t **out,
                                struct cf_error *err);

/* Writes `line` as compact JSON with sorted keys and a newline. 0 or CF_EIO. */
CF_WUR int cf_export_write(FILE *f, const json_t *line);

/* Writes the whole log held in the read transaction `txn` (one snapshot) to
 * `f`. It copies what is stored, damaged or not; cf_export_verify judges it.
 * 0; CF_EIO, CF_ESTORE or a record's decoding code with err naming the index. */
CF_WUR int cf_export_store(const struct cf_store *s, MDB_txn *txn, FILE *f, struct cf_error *err);

/* Verifies an export read from `f` against v's broker key: the format line;
 * each leaf line, in order from 0, equal to the line its own record gives
 * (cf_export_leaf) and checked as cf_logverify_leaf; each checkpoint line as
 * cf_logverify_checkpoint, after the leaves it covers; the counts the first
 * line gives; then cf_logverify_finish. Redacted envelopes are counted.
 * @return 0, or the first failure's code with v->failure naming the index
 *         (or checkpoint, or line) at fault. */
CF_WUR int cf_export_verify(FILE *f, struct cf_logverify *v);

#endif
