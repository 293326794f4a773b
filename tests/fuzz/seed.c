/* Writes the seed inputs of the fuzz corpora: valid headers, envelopes,
 * payloads, frames of every kind and the stored and signed layouts (records of
 * every event, notices of every kind, a sealed determination, case records,
 * outbox entries), made with the library itself, so each fuzzer starts from
 * inputs that reach deep code, plus a few broken ones. The case messages come
 * from the examples in deploy/, so the seeds follow them. Keys are fresh each
 * run, so every file changes: to refresh one target, run into a scratch folder
 * and copy that target's folder. Run by hand from the repository root:
 * fuzz_seed tests/fuzz/corpus [deploy/examples] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "childfirst/checkpoint.h"
#include "childfirst/determination.h"
#include "childfirst/envelope.h"
#include "childfirst/limits.h"
#include "childfirst/merkle.h"
#include "childfirst/message.h"
#include "childfirst/record.h"
#include "childfirst/wire.h"

static void save(const char *root, const char *target, const char *name, const void *buf,
                 size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static const char referral_json[] =
    "{\"la_code\":\"E09000033\",\"urgency\":\"immediate\",\"immediate_risk\":true,"
    "\"child\":{\"given_name\":\"Seed\",\"aliases\":[],\"estimated_age\":15,"
    "\"languages\":[\"ti\"]},\"exploitation\":[\"criminal\"],\"narrative\":\"seed\","
    "\"first_concern_date\":\"2026-11-20\",\"referrer\":{\"name\":\"R\",\"email\":\"r@x.org\"},"
    "\"indicators\":[]}";

/* For each case message type: its example as a fuzz_message_json input ("type\n" then the
 * document) and the payloads it makes as fuzz_payload inputs. */
static int messages(const char *root, const char *examples)
{
    static char text[CF_MAX_JSON + 64];
    for (enum cf_type t = CF_TYPE_REFERRAL; t < CF_TYPE_COUNT; t++) {
        if (!cf_message_type_valid(t))
            continue;
        const char *name = cf_header_type_name(t);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.json", examples, name);
        FILE *f = fopen(path, "rb");
        size_t head = (size_t)snprintf(text, sizeof text, "%s\n", name);
        size_t len = f ? fread(text + head, 1, sizeof text - head, f) : 0;
        if (!f || ferror(f)) {
            perror(path);
            return 1;
        }
        fclose(f);
        save(root, "fuzz_message_json", name, text, head + len);

        struct cf_header h;
        memset(&h, 0, sizeof h);
        uint8_t *payload, *nrm;
        size_t payload_len, nrm_len;
        struct cf_error err;
        if (cf_message_from_json(t, text + head, len, "2026-11-25", "england-wales", &h, &payload,
                                 &payload_len, &nrm, &nrm_len, &err) != 0) {
            fprintf(stderr, "%s: %s\n", path, err.text);
            return 1;
        }
        save(root, "fuzz_payload", name, payload, payload_len);
        if (nrm)
            save(root, "fuzz_payload", "nrm_return", nrm, nrm_len);
        free(payload);
        free(nrm);
    }
    return 0;
}

/* ---- fuzz_frame and fuzz_record ---- */

/* A fuzz_record input: the byte that picks the decoder, then the bytes. */
enum record_kind { R_RECORD, R_NOTICE, R_DETERMINATION, R_CASE, R_OUTBOX };

static void save_record(const char *root, const char *name, enum record_kind kind,
                        const uint8_t *buf, size_t len)
{
    uint8_t *in = malloc(len + 1);
    if (!in)
        exit(1);
    in[0] = (uint8_t)kind;
    memcpy(in + 1, buf, len);
    save(root, "fuzz_record", name, in, len + 1);
    free(in);
}

static void must(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "fuzz_seed: %s: %s\n", what, cf_error_name(rc));
        exit(1);
    }
}

static void save_frame(const char *root, const char *name, const struct cf_frame *f)
{
    uint8_t *buf;
    size_t len;
    must(cf_wire_frame_encode(f, &buf, &len), name);
    save(root, "fuzz_frame", name, buf, len);
    free(buf);
}

static void save_notice(const char *root, const char *name, const struct cf_notice *n)
{
    uint8_t *buf;
    size_t len;
    must(cf_wire_notice_encode(n, &buf, &len), name);
    save_record(root, name, R_NOTICE, buf, len);
    free(buf);
}

static void save_audit(const char *root, const char *name, const struct cf_record *r)
{
    uint8_t *buf;
    size_t len;
    must(cf_wire_record_encode(r, &buf, &len), name);
    save_record(root, name, R_RECORD, buf, len);
    free(buf);
}

static int by_voter(const void *x, const void *y)
{
    return strcmp(((const struct cf_vote_record *)x)->voter,
                  ((const struct cf_vote_record *)y)->voter);
}

/* A proposal sealed with its NRM return, its accepted record, two signed votes
 * and the determination the broker seals from them. Caller frees the three
 * buffers and finishes *env. */
static void sealed_determination(const struct cf_keys *police, const struct cf_keys *csc,
                                 const struct cf_keys *liaison, const struct cf_keys *broker,
                                 struct cf_envelope *env, uint8_t **env_bytes, size_t *env_len,
                                 uint8_t **rec_bytes, size_t *rec_len, uint8_t **det_bytes,
                                 size_t *det_len, uint8_t sig[CF_SIG_LEN])
{
    struct cf_header h;
    memset(&h, 0, sizeof h);
    h.version = CF_PROTOCOL_VERSION;
    randombytes_buf(h.message_id, sizeof h.message_id);
    cf_header_case_id_new(h.case_id);
    h.type = CF_TYPE_DETERMINATION_PROPOSED;
    strcpy(h.sender, "police-seed");
    h.n_recipients = 1;
    strcpy(h.recipients[0], "la-csc");
    h.created_at = 1795000000000ull;
    strcpy(h.jurisdiction, "england-wales");
    strcpy(h.la_code, "E09000033");
    h.urgency = CF_URGENCY_URGENT;
    h.decision = CF_DECISION_RG;
    h.n_attendees = 2;
    strcpy(h.attendees[0], "la-csc");
    strcpy(h.attendees[1], "police-seed");
    static const uint8_t payload[] = "seed proposal", ret_payload[] = "seed return";
    struct cf_envelope_return ret = {ret_payload, sizeof ret_payload, "ho-liaison",
                                     liaison->box_pk};
    struct cf_error err;
    struct cf_header back;
    must(cf_envelope_seal_with_return(&h, payload, sizeof payload,
                                      (const uint8_t(*)[CF_BOX_PK])csc->box_pk, &ret, police,
                                      env_bytes, env_len, &err),
         "seal the proposal");
    must(cf_envelope_decode(*env_bytes, *env_len, env, &back, &err), "decode the proposal");

    struct cf_record rec;
    memset(&rec, 0, sizeof rec);
    cf_record_of_envelope(&rec, env);
    rec.index = 3;
    rec.time = 1795000000100ull;
    strcpy(rec.actor, "police-seed");
    must(cf_wire_record_encode(&rec, rec_bytes, rec_len), "encode the proposal's record");

    static struct cf_determination d;
    memset(&d, 0, sizeof d);
    struct cf_vote_subject subject = {.case_id = h.case_id, .decision = h.decision};
    memcpy(subject.proposal_id, h.message_id, CF_MESSAGE_ID_LEN);
    cf_envelope_digests(env, &subject.proposal);
    const struct cf_keys *voters[] = {police, csc};
    for (size_t i = 0; i < 2; i++) {
        struct cf_vote_record *v = &d.votes[d.n_votes++];
        strcpy(v->voter, voters[i]->id);
        v->approve = true;
        v->leaf = 4 + i;
        must(cf_envelope_vote_sign(&subject, true, voters[i], v->signature), "sign a vote");
    }
    qsort(d.votes, d.n_votes, sizeof d.votes[0], by_voter);
    d.version = CF_PROTOCOL_VERSION;
    randombytes_buf(d.id, sizeof d.id);
    memcpy(d.case_id, h.case_id, sizeof d.case_id);
    memcpy(d.proposal_id, h.message_id, CF_MESSAGE_ID_LEN);
    d.proposal_leaf = rec.index;
    cf_envelope_hash(*env_bytes, *env_len, d.proposal_hash);
    d.decision = h.decision;
    randombytes_buf(d.directory_digest, sizeof d.directory_digest);
    d.created_at = 1795000000200ull;
    d.n_recipients = 2;
    strcpy(d.recipients[0], "la-csc");
    strcpy(d.recipients[1], "ho-liaison");
    d.proposal_record = *rec_bytes;
    d.proposal_record_len = *rec_len;
    d.has_nrm = true;
    d.nrm_ciphertext = env->nrm_ciphertext;
    d.nrm_ciphertext_len = env->nrm_ciphertext_len;
    d.nrm_key = env->nrm_key;
    memcpy(d.nrm_commit, env->nrm_commit, CF_HASH_LEN);
    must(cf_wire_determination_encode(&d, det_bytes, det_len), "encode the determination");
    must(cf_determination_sign(&d, broker, sig), "countersign the determination");
}

static void frame_proofs(struct cf_frame *f, size_t n_proof, size_t n_consistency)
{
    static const char note[] = "childfirst.example/seed\n5\nq83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83v"
                               "EjRWeJA=\n\n\xe2\x80\x94 broker seed\n";
    f->checkpoint = note;
    f->checkpoint_len = sizeof note - 1;
    f->n_proof = n_proof;
    randombytes_buf(f->proof, n_proof * CF_MERKLE_HASH);
    f->consistency_from = 2;
    f->n_consistency = n_consistency;
    randombytes_buf(f->consistency, n_consistency * CF_MERKLE_HASH);
}

static void wire_seeds(const char *root, const struct cf_keys *police, const struct cf_keys *csc,
                       const uint8_t *referral_env, size_t referral_env_len)
{
    struct cf_keys *liaison, *broker;
    must(cf_keys_generate(CF_KEYS_AGENCY, "ho-liaison", &liaison, NULL), "keys");
    must(cf_keys_generate(CF_KEYS_BROKER, NULL, &broker, NULL), "keys");
    struct cf_envelope env;
    memset(&env, 0, sizeof env);
    uint8_t *env_bytes, *rec_bytes, *det_bytes, det_sig[CF_SIG_LEN];
    size_t env_len, rec_len, det_len;
    sealed_determination(police, csc, liaison, broker, &env, &env_bytes, &env_len, &rec_bytes,
                         &rec_len, &det_bytes, &det_len, det_sig);
    struct cf_header h;
    struct cf_envelope referral;
    must(cf_envelope_decode(referral_env, referral_env_len, &referral, &h, NULL), "referral");

    /* Records of every event. */
    struct cf_record r;
    memset(&r, 0, sizeof r);
    cf_record_of_envelope(&r, &referral);
    r.index = 1, r.time = 1795000000001ull;
    strcpy(r.actor, "police-seed");
    save_audit(root, "record-accepted", &r);
    save_record(root, "record-accepted-proposal", R_RECORD, rec_bytes, rec_len);
    memset(&r, 0, sizeof r);
    r.index = 2, r.time = 1795000000002ull, r.event = CF_EVENT_REJECTED;
    strcpy(r.actor, "police-seed");
    r.has_frame_hash = true;
    randombytes_buf(r.frame_hash, sizeof r.frame_hash);
    strcpy(r.code, "CF_ESIG");
    save_audit(root, "record-rejected", &r);
    memset(&r, 0, sizeof r);
    r.index = 6, r.time = 1795000000006ull, r.event = CF_EVENT_DELIVERED;
    strcpy(r.actor, "la-csc");
    r.has_about = true, r.about = 1;
    randombytes_buf(r.envelope_hash, sizeof r.envelope_hash);
    randombytes_buf(r.ack_message_id, sizeof r.ack_message_id);
    randombytes_buf(r.ack_signature, sizeof r.ack_signature);
    save_audit(root, "record-delivered", &r);
    r.event = CF_EVENT_NACKED;
    strcpy(r.code, "CF_EDECRYPT");
    save_audit(root, "record-nacked", &r);

    struct cf_notice n;
    memset(&n, 0, sizeof n);
    n.version = CF_PROTOCOL_VERSION;
    randombytes_buf(n.notice_id, sizeof n.notice_id);
    strcpy(n.kind, "new_referral");
    memcpy(n.case_id, h.case_id, sizeof n.case_id);
    n.n_recipients = 2;
    strcpy(n.recipients[0], "la-csc");
    strcpy(n.recipients[1], "la-duty");
    n.created_at = 1795000000007ull;
    n.urgency = CF_URGENCY_IMMEDIATE;
    n.has_immediate_risk = n.immediate_risk = true;
    strcpy(n.referring_agency, "police-seed");
    n.has_about_leaf = true, n.about_leaf = 1;
    strcpy(n.state, "referred");
    uint8_t *notice;
    size_t notice_len;
    must(cf_wire_notice_encode(&n, &notice, &notice_len), "notice");
    memset(&r, 0, sizeof r);
    r.index = 7, r.time = n.created_at, r.event = CF_EVENT_NOTICE;
    r.notice = notice, r.notice_len = notice_len;
    cf_notice_sign(notice, notice_len, broker, r.notice_signature);
    save_audit(root, "record-notice", &r);
    static const enum cf_event plain[] = {CF_EVENT_DEADLINE, CF_EVENT_EXPIRED, CF_EVENT_PURGED};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        memset(&r, 0, sizeof r);
        r.index = 8 + i, r.time = 1795000000008ull + i, r.event = plain[i];
        char name[64];
        snprintf(name, sizeof name, "record-%s", cf_record_event_name(plain[i]));
        save_audit(root, name, &r);
    }
    static const char agencies[] = "[la-csc]\nname = Seed\n", policy[] = "[policy]\n",
                      sig[] = "serial = 1\nsignature = AAAA\n";
    memset(&r, 0, sizeof r);
    r.index = 0, r.time = 1795000000000ull, r.event = CF_EVENT_CONFIG;
    r.agencies = (const uint8_t *)agencies, r.agencies_len = sizeof agencies - 1;
    r.policy = (const uint8_t *)policy, r.policy_len = sizeof policy - 1;
    r.sig = (const uint8_t *)sig, r.sig_len = sizeof sig - 1;
    save_audit(root, "record-config", &r);
    memset(&r, 0, sizeof r);
    r.index = 9, r.time = 1795000000200ull, r.event = CF_EVENT_DETERMINATION;
    r.has_determination = true, r.determination_of = 3;
    cf_envelope_hash(det_bytes, det_len, r.determination_hash);
    memcpy(r.determination_signature, det_sig, CF_SIG_LEN);
    uint8_t *det_record;
    size_t det_record_len;
    must(cf_wire_record_encode(&r, &det_record, &det_record_len), "determination record");
    save_record(root, "record-determination", R_RECORD, det_record, det_record_len);

    /* Notices of every kind, each with the fields the broker gives it. */
    save_notice(root, "notice-new_referral", &n);
    static const char *const kinds[] = {"undelivered", "deadline_near", "deadline_breached",
                                        "inquorate",   "convened",      "determination",
                                        "transfer_in", "non_delivery",  "determination_rejected"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        struct cf_notice k = n;
        strcpy(k.kind, kinds[i]);
        k.urgency = CF_URGENCY_NONE, k.has_immediate_risk = k.immediate_risk = false;
        k.referring_agency[0] = 0;
        if (strcmp(kinds[i], "undelivered") == 0 || strcmp(kinds[i], "non_delivery") == 0) {
            k.n_outstanding = 1;
            strcpy(k.outstanding[0], "la-csc");
            if (kinds[i][0] == 'u')
                strcpy(k.code, "CF_EDECRYPT");
        }
        if (strncmp(kinds[i], "deadline_", 9) == 0) {
            strcpy(k.deadline, "acknowledgement");
            k.has_due = true, k.due = 1795086400000ull;
        }
        char name[64];
        snprintf(name, sizeof name, "notice-%s", kinds[i]);
        save_notice(root, name, &k);
    }

    /* The determination, and one without its NRM return. */
    save_record(root, "determination", R_DETERMINATION, det_bytes, det_len);
    struct cf_determination d;
    must(cf_wire_determination_decode(det_bytes, det_len, &d, NULL), "determination");
    d.has_nrm = false;
    d.n_recipients = 1;
    uint8_t *buf;
    size_t len;
    must(cf_wire_determination_encode(&d, &buf, &len), "determination");
    save_record(root, "determination-no-return", R_DETERMINATION, buf, len);
    free(buf);
    cf_wire_determination_fini(&d);

    /* Case records: one with every field set, one as an agency that joined late keeps it. */
    static struct cf_case c;
    memset(&c, 0, sizeof c);
    memcpy(c.case_id, h.case_id, sizeof c.case_id);
    c.state = CF_CASE_PROPOSED;
    strcpy(c.la_code, "E09000033");
    strcpy(c.jurisdiction, "england-wales");
    strcpy(c.referrer, "police-seed");
    strcpy(c.owner, "la-csc");
    c.n_guardians = 1;
    strcpy(c.guardians[0], "guardian-seed");
    strcpy(c.lead_staff_ref, "SW-1");
    strcpy(c.chair_staff_ref, "CH-2");
    c.n_members = 2;
    strcpy(c.members[0].agency, "la-csc");
    c.members[0].standing = CF_STANDING_VOTING;
    strcpy(c.members[1].agency, "guardian-seed");
    c.members[1].standing = CF_STANDING_REQUIRED;
    c.proposal_leaf = 3;
    randombytes_buf(c.proposal_id, sizeof c.proposal_id);
    c.proposal_decision = CF_DECISION_RG;
    c.before_proposal = CF_CASE_CONVENED;
    c.n_voters = 1;
    strcpy(c.voters[0], "la-csc");
    c.n_votes = 1;
    strcpy(c.votes[0].voter, "la-csc");
    c.votes[0].approve = true;
    c.votes[0].leaf = 4;
    randombytes_buf(c.votes[0].signature, CF_SIG_LEN);
    for (int t = CF_TYPE_REFERRAL; t <= CF_TYPE_VOTE; t++)
        c.first_at[t] = c.last_at[t] = 1795000000000ull + (uint64_t)t;
    c.inquorate_at = 1795000000010ull;
    c.n_deadlines = 2;
    c.deadlines[0] = (struct cf_case_deadline){CF_DEADLINE_RG_DETERMINATION, 1795900000000ull,
                                               1795800000000ull, true, false};
    c.deadlines[1] = (struct cf_case_deadline){CF_DEADLINE_CONFERENCE, 1795500000000ull,
                                               1795400000000ull, false, false};
    c.opened_leaf = 1, c.updated_leaf = 5;
    c.urgency = CF_URGENCY_URGENT;
    c.immediate_risk = true;
    must(cf_wire_case_encode(&c, &buf, &len), "case");
    save_record(root, "case-full", R_CASE, buf, len);
    free(buf);
    struct cf_case late = {.state = CF_CASE_STRATEGY_HELD, .urgency = CF_URGENCY_ROUTINE};
    memcpy(late.case_id, h.case_id, sizeof late.case_id);
    strcpy(late.la_code, "S12000036");
    strcpy(late.jurisdiction, "scotland");
    must(cf_wire_case_encode(&late, &buf, &len), "case");
    save_record(root, "case-late", R_CASE, buf, len);
    free(buf);

    /* Outbox entries. */
    struct cf_outbox_entry e = {referral_env, referral_env_len, "20261125-referral.json",
                                1795000000000ull};
    must(cf_wire_outbox_encode(&e, &buf, &len), "outbox");
    save_record(root, "outbox-spooled", R_OUTBOX, buf, len);
    free(buf);
    e.spool_file[0] = 0;
    must(cf_wire_outbox_encode(&e, &buf, &len), "outbox");
    save_record(root, "outbox", R_OUTBOX, buf, len);
    free(buf);

    /* A few broken ones: cut short, an unknown field, a varint one byte too long. */
    save_record(root, "broken-record-truncated", R_RECORD, det_record, det_record_len - 1);
    uint8_t more[512];
    memcpy(more, notice, notice_len);
    more[notice_len] = 0xf8, more[notice_len + 1] = 0x06, more[notice_len + 2] = 1; /* field 111 */
    save_record(root, "broken-notice-unknown-field", R_NOTICE, more, notice_len + 3);
    more[0] = 0x08, more[1] = 0x81, more[2] = 0x00; /* version 1 in two bytes */
    memcpy(more + 3, notice + 2, notice_len - 2);
    save_record(root, "broken-notice-long-varint", R_NOTICE, more, notice_len + 1);
    save_record(root, "broken-determination-truncated", R_DETERMINATION, det_bytes, det_len / 2);

    /* Frames of every kind. */
    struct cf_frame f = {
        .kind = CF_FRAME_HELLO, .version = CF_PROTOCOL_VERSION, .last_checkpoint_size = 5};
    save_frame(root, "hello", &f);
    f = (struct cf_frame){.kind = CF_FRAME_WELCOME, .mailbox_depth = 3};
    frame_proofs(&f, 2, 0);
    save_frame(root, "welcome", &f);
    f = (struct cf_frame){.kind = CF_FRAME_SUBMIT};
    f.envelope = referral_env, f.envelope_len = referral_env_len;
    save_frame(root, "submit", &f);
    f = (struct cf_frame){.kind = CF_FRAME_ACCEPTED, .has_message_id = true, .leaf_index = 3};
    randombytes_buf(f.message_id, sizeof f.message_id);
    f.record = rec_bytes, f.record_len = rec_len;
    frame_proofs(&f, 2, 1);
    save_frame(root, "accepted", &f);
    f = (struct cf_frame){.kind = CF_FRAME_REJECTED, .has_message_id = true};
    strcpy(f.code, "CF_ESIG");
    strcpy(f.reason, "the signature does not verify with police-seed's key");
    save_frame(root, "rejected", &f);
    f = (struct cf_frame){.kind = CF_FRAME_DELIVER, .leaf_index = 1};
    f.envelope = referral_env, f.envelope_len = referral_env_len;
    uint8_t *referral_record;
    size_t referral_record_len;
    memset(&r, 0, sizeof r);
    cf_record_of_envelope(&r, &referral);
    r.index = 1;
    must(cf_wire_record_encode(&r, &referral_record, &referral_record_len), "record");
    f.record = referral_record, f.record_len = referral_record_len;
    frame_proofs(&f, 1, 1);
    save_frame(root, "deliver-envelope", &f);
    struct cf_frame g = f;
    g.envelope = NULL, g.envelope_len = 0;
    g.notice = notice, g.notice_len = notice_len;
    cf_notice_sign(notice, notice_len, broker, g.notice_signature);
    save_frame(root, "deliver-notice", &g);
    g.notice = NULL, g.notice_len = 0;
    g.determination = det_bytes, g.determination_len = det_len;
    memcpy(g.determination_signature, det_sig, CF_SIG_LEN);
    g.record = det_record, g.record_len = det_record_len;
    save_frame(root, "deliver-determination-liaison", &g);
    g.envelope = env_bytes, g.envelope_len = env_len;
    save_frame(root, "deliver-determination", &g);
    g.notice = notice, g.notice_len = notice_len;
    save_frame(root, "broken-deliver-notice-and-determination", &g);
    f = (struct cf_frame){.kind = CF_FRAME_ACK, .has_message_id = true, .leaf_index = 1};
    randombytes_buf(f.signature, sizeof f.signature);
    save_frame(root, "ack", &f);
    f.kind = CF_FRAME_NACK;
    strcpy(f.code, "CF_EDECRYPT");
    save_frame(root, "nack", &f);
    f.kind = CF_FRAME_REPORT, f.report_leaf = 6;
    strcpy(f.recipient, "la-csc");
    strcpy(f.outcome, "nacked");
    save_frame(root, "report", &f);
    save_frame(root, "directory-request", &(struct cf_frame){.kind = CF_FRAME_DIRECTORY_REQUEST});
    f = (struct cf_frame){.kind = CF_FRAME_DIRECTORY};
    f.agencies = (const uint8_t *)agencies, f.agencies_len = sizeof agencies - 1;
    f.policy = (const uint8_t *)policy, f.policy_len = sizeof policy - 1;
    f.sig = (const uint8_t *)sig, f.sig_len = sizeof sig - 1;
    save_frame(root, "directory", &f);
    save_frame(root, "ping", &(struct cf_frame){.kind = CF_FRAME_PING, .nonce = 42});
    save_frame(root, "pong", &(struct cf_frame){.kind = CF_FRAME_PONG, .nonce = 42});
    save_frame(root, "status-request", &(struct cf_frame){.kind = CF_FRAME_STATUS_REQUEST});
    save_frame(root, "status",
               &(struct cf_frame){.kind = CF_FRAME_STATUS, .status = {10, 4, 9, 6, 1, 3, 2}});
    f = (struct cf_frame){.kind = CF_FRAME_CASE_REQUEST};
    memcpy(f.case_id, h.case_id, sizeof f.case_id);
    save_frame(root, "case-request", &f);
    f.kind = CF_FRAME_CASE_INFO;
    strcpy(f.case_info.state, "proposed");
    strcpy(f.case_info.jurisdiction, "england-wales");
    strcpy(f.case_info.la_code, "E09000033");
    strcpy(f.case_info.owner, "la-csc");
    f.case_info.n_deadlines = 2;
    strcpy(f.case_info.deadlines[0].name, "conference");
    f.case_info.deadlines[0].due = 1795500000000ull;
    strcpy(f.case_info.deadlines[1].name, "rg_determination");
    f.case_info.deadlines[1].due = 1795900000000ull;
    f.case_info.updated_leaf = 5;
    save_frame(root, "case-info", &f);
    uint8_t *frame;
    size_t frame_len;
    must(cf_wire_frame_encode(&(struct cf_frame){.kind = CF_FRAME_PING, .nonce = 7}, &frame,
                              &frame_len),
         "ping");
    memcpy(more, frame, frame_len);
    more[frame_len] = 0xf8, more[frame_len + 1] = 0x06, more[frame_len + 2] = 1;
    save(root, "fuzz_frame", "broken-unknown-field", more, frame_len + 3);
    free(frame);
    save(root, "fuzz_frame", "broken-empty", "", 0);

    free(referral_record);
    free(det_record);
    free(notice);
    free(env_bytes);
    free(rec_bytes);
    free(det_bytes);
    cf_envelope_fini(&env);
    cf_envelope_fini(&referral);
    cf_keys_destroy(&liaison);
    cf_keys_destroy(&broker);
}

/* ---- fuzz_checkpoint and fuzz_ctl ---- */

/* fuzz_checkpoint's broker key: fixed, as in the target, so these notes keep
 * verifying there. */
static void fixed_broker(struct cf_keys *k)
{
    uint8_t seed[crypto_sign_SEEDBYTES];
    memset(k, 0, sizeof *k);
    memset(seed, 0x42, sizeof seed);
    k->kind = CF_KEYS_BROKER;
    crypto_sign_seed_keypair(k->sign_pk, k->sign_sk, seed);
}

static void save_mode(const char *root, const char *name, uint8_t mode, const void *buf, size_t len)
{
    uint8_t *in = malloc(len + 1);
    if (!in)
        exit(1);
    in[0] = mode;
    memcpy(in + 1, buf, len);
    save(root, "fuzz_checkpoint", name, in, len + 1);
    free(in);
}

/* A tree in memory, as fuzz_checkpoint builds it: the record at `at`, every
 * other leaf the one-byte record of its index. */
static uint8_t seed_tree[8][64][CF_MERKLE_HASH];

static int seed_get(void *ctx, unsigned level, uint64_t index, uint8_t out[CF_MERKLE_HASH])
{
    (void)ctx;
    if (level >= 8 || index >= 64)
        return CF_ENOTFOUND;
    memcpy(out, seed_tree[level][index], CF_MERKLE_HASH);
    return 0;
}

static int seed_put(void *ctx, unsigned level, uint64_t index, const uint8_t h[CF_MERKLE_HASH])
{
    (void)ctx;
    memcpy(seed_tree[level][index], h, CF_MERKLE_HASH);
    return 0;
}

static void save_receipt(const char *root, const char *name, uint8_t leaves, uint8_t at,
                         const char *record)
{
    struct cf_merkle_store s = {NULL, seed_get, seed_put};
    for (uint64_t i = 0; i < leaves; i++) {
        uint8_t leaf[CF_MERKLE_HASH], mine = (uint8_t)i;
        if (i == at)
            cf_record_leaf_hash((const uint8_t *)record, strlen(record), leaf);
        else
            cf_record_leaf_hash(&mine, 1, leaf);
        must(cf_merkle_append(&s, i, leaf), "append");
    }
    uint8_t proof[CF_MERKLE_MAX_PROOF][CF_MERKLE_HASH], in[4 + sizeof proof + 256];
    size_t n;
    must(cf_merkle_inclusion_proof(&s, at, leaves, proof, &n), "proof");
    in[0] = 2;
    in[1] = (uint8_t)(leaves - 1);
    in[2] = at;
    in[3] = (uint8_t)n;
    memcpy(in + 4, proof, n * CF_MERKLE_HASH);
    memcpy(in + 4 + n * CF_MERKLE_HASH, record, strlen(record));
    save(root, "fuzz_checkpoint", name, in, 4 + n * CF_MERKLE_HASH + strlen(record));
}

static void checkpoint_seeds(const char *root)
{
    struct cf_keys broker;
    fixed_broker(&broker);
    uint8_t hash[32];
    crypto_hash_sha256(hash, (const uint8_t *)"seed", 4);
    char *note, text[2048];
    size_t len;
    must(cf_checkpoint_sign("fuzz.childfirst/log", 5, hash, &broker, &note, &len), "sign");
    save_mode(root, "note", 0, note, len);
    /* With a witness's line after the broker's, which the parser skips. */
    int n = snprintf(text, sizeof text,
                     "%s\xe2\x80\x94 witness.example/w AAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",
                     note);
    save_mode(root, "note-witness", 0, text, (size_t)n);
    /* The bodies the harness signs: one canonical, the others not. */
    const char *body = strstr(note, "\n\n");
    save_mode(root, "body", 1, note, (size_t)(body - note) + 1);
    n = snprintf(text, sizeof text, "fuzz.childfirst/log\n05\n%.*s", 45,
                 strchr(note + 20, '\n') + 1);
    save_mode(root, "body-leading-zero", 1, text, (size_t)n);
    n = snprintf(text, sizeof text, "fuzz.childfirst/log\n18446744073709551615\n%.*s", 45,
                 strchr(note + 20, '\n') + 1);
    save_mode(root, "body-largest-size", 1, text, (size_t)n);
    static const char extension[] = "a/b\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nx\n";
    save_mode(root, "body-extension-line", 1, extension, sizeof extension - 1);
    free(note);
    save_receipt(root, "receipt-1", 1, 0, "a record");
    save_receipt(root, "receipt-5", 5, 3, "the fourth of five");
    save_receipt(root, "receipt-64", 64, 63, "the last of 64");
    sodium_memzero(&broker, sizeof broker);
}

static void save_ctl(const char *root, const char *name, uint8_t piece, const char *const *bodies,
                     size_t n)
{
    uint8_t in[8192];
    size_t len = 0;
    in[len++] = piece;
    for (size_t i = 0; i < n; i++) {
        size_t b = strlen(bodies[i]);
        in[len++] = (uint8_t)(b >> 24), in[len++] = (uint8_t)(b >> 16);
        in[len++] = (uint8_t)(b >> 8), in[len++] = (uint8_t)b;
        memcpy(in + len, bodies[i], b);
        len += b;
    }
    save(root, "fuzz_ctl", name, in, len);
}

static void ctl_seeds(const char *root)
{
    const char *refer[] = {"{\"cmd\":\"refer\",\"text\":\"{\\\"la_code\\\":\\\"E09000033\\\"}\","
                           "\"wait_s\":30}"};
    const char *inbox[] = {"{\"cmd\":\"inbox\",\"case_id\":\"cf-aaaaaaaaaaaaaaaaaaaaaaaaaa\"}"};
    const char *show[] = {"{\"cmd\":\"show\",\"message_id\":\"00112233445566778899aabbccddeeff\"}"};
    const char *two[] = {"{\"cmd\":\"status\"}", "{\"cmd\":\"status\"}"};
    const char *dup[] = {"{\"cmd\":\"status\",\"cmd\":\"inbox\"}"};
    const char *nul[] = {"{\"cmd\":\"sta\\u0000tus\"}"};
    const char *array[] = {"[\"status\"]"};
    const char *nested[] = {
        "{\"a\":[[[[[[[[[[[[[[[[{\"b\":{\"c\":[1,2.5e300,-0,true,null]}}]]]]]]]]]]"
        "]]]]]],\"u\":\"\\ud83d\\ude00\"}"};
    save_ctl(root, "refer", 255, refer, 1);
    save_ctl(root, "inbox", 7, inbox, 1);
    save_ctl(root, "show", 1, show, 1);
    save_ctl(root, "two-frames", 16, two, 2);
    save_ctl(root, "duplicate-key", 255, dup, 1);
    save_ctl(root, "nul", 255, nul, 1);
    save_ctl(root, "array", 3, array, 1);
    save_ctl(root, "nested", 200, nested, 1);
    static const uint8_t too_long[] = {255, 0x00, 0x10, 0x00, 0x01, '{', '}'};
    static const uint8_t empty[] = {255, 0, 0, 0, 0};
    static const uint8_t cut[] = {2, 0, 0, 0, 9, '{', '"', 'c'};
    save(root, "fuzz_ctl", "over-the-limit", too_long, sizeof too_long);
    save(root, "fuzz_ctl", "empty-frame", empty, sizeof empty);
    save(root, "fuzz_ctl", "cut-short", cut, sizeof cut);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || sodium_init() < 0) {
        fprintf(stderr, "usage: fuzz_seed CORPUS_ROOT [EXAMPLES_DIR]\n");
        return 2;
    }
    if (messages(argv[1], argc == 3 ? argv[2] : "deploy/examples") != 0)
        return 1;
    checkpoint_seeds(argv[1]);
    ctl_seeds(argv[1]);
    struct cf_keys *police, *csc;
    if (cf_keys_generate(CF_KEYS_AGENCY, "police-seed", &police, NULL) != 0 ||
        cf_keys_generate(CF_KEYS_AGENCY, "la-csc", &csc, NULL) != 0)
        return 1;
    struct cf_header h;
    memset(&h, 0, sizeof h);
    h.version = CF_PROTOCOL_VERSION;
    randombytes_buf(h.message_id, sizeof h.message_id);
    cf_header_case_id_new(h.case_id);
    h.type = CF_TYPE_REFERRAL;
    strcpy(h.sender, "police-seed");
    h.n_recipients = 1;
    strcpy(h.recipients[0], "la-csc");
    h.created_at = 1795000000000ull;
    strcpy(h.jurisdiction, "england-wales");
    strcpy(h.la_code, "E09000033");
    h.urgency = CF_URGENCY_IMMEDIATE;
    h.immediate_risk = true;

    uint8_t *buf;
    size_t len;
    if (cf_wire_header_encode(&h, &buf, &len) != 0)
        return 1;
    save(argv[1], "fuzz_header", "referral", buf, len);
    free(buf);

    struct cf_referral r;
    struct cf_error err;
    if (cf_referral_from_json(referral_json, strlen(referral_json), "2026-11-25", &r, &err) != 0 ||
        cf_wire_referral_encode(&r, &buf, &len) != 0) {
        fprintf(stderr, "%s\n", err.text);
        return 1;
    }
    save(argv[1], "fuzz_payload", "referral", buf, len);
    uint8_t *env;
    size_t env_len;
    if (cf_envelope_seal(&h, buf, len, (const uint8_t(*)[CF_BOX_PK])csc->box_pk, police, &env,
                         &env_len, &err) != 0) {
        fprintf(stderr, "%s\n", err.text);
        return 1;
    }
    save(argv[1], "fuzz_envelope", "referral", env, env_len);
    wire_seeds(argv[1], police, csc, env, env_len);
    free(env);
    free(buf);
    cf_referral_fini(&r);

    /* A header with every optional field. */
    h.type = CF_TYPE_VOTE;
    h.has_in_reply_to = true;
    h.decision = CF_DECISION_RG;
    strcpy(h.lead_staff_ref, "SW-1");
    h.n_members = 1;
    strcpy(h.members[0].agency, "la-csc");
    h.members[0].standing = CF_STANDING_VOTING;
    strcpy(h.chair_staff_ref, "CH-2");
    h.n_attendees = 1;
    strcpy(h.attendees[0], "la-csc");
    h.has_vote = true;
    if (cf_wire_header_encode(&h, &buf, &len) != 0)
        return 1;
    save(argv[1], "fuzz_header", "vote", buf, len);
    free(buf);
    cf_keys_destroy(&police);
    cf_keys_destroy(&csc);
    return 0;
}
