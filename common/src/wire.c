/* The protobuf-c boundary. Bytes from the network or from a decrypted payload
 * become our structs here and nowhere else, so this file carries every guard
 * protobuf-c lacks: input and allocation limits, refusal of unknown fields at
 * any depth, canonical re-encoding, and text checks (length, NUL, UTF-8).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "childfirst.pb-c.h"
#include "childfirst/wire.h"

/* ---- Bounded decoding ---- */

struct budget {
    size_t left;
};

static void *budget_alloc(void *data, size_t size)
{
    struct budget *b = data;
    if (size > b->left)
        return NULL;
    b->left -= size;
    return malloc(size);
}

static void budget_free(void *data, void *p)
{
    (void)data;
    free(p);
}

/* protobuf-c frees with the allocator it decoded with; one static instance is
 * enough for freeing because budget_free ignores its data. */
static ProtobufCAllocator freeing = {budget_alloc, budget_free, NULL};

static bool has_unknown_fields(const ProtobufCMessage *m)
{
    if (m->n_unknown_fields > 0)
        return true;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t j = 0; j < n; j++)
                if (has_unknown_fields(items[j]))
                    return true;
            continue;
        }
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue;
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)(base + f->offset);
        if (sub && has_unknown_fields(sub))
            return true;
    }
    return false;
}

/* Unpacks `len` bytes as `desc`, allocating at most a bounded multiple of the
 * input, and refuses unknown fields. With `canonical`, also refuses bytes that
 * are not exactly what packing the result gives. */
static int decode(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                  bool canonical, ProtobufCMessage **out, struct cf_error *err)
{
    struct budget b = {len * CF_DECODE_ALLOC_FACTOR + CF_DECODE_ALLOC_SLACK};
    ProtobufCAllocator alloc = {budget_alloc, budget_free, &b};
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, &alloc, len, buf);
    if (!m)
        return cf_error_set(err, CF_EDECODE,
                            "not a ChildFirst %s (protocol version %u): a required field is "
                            "missing or the bytes are malformed",
                            desc->short_name, CF_PROTOCOL_VERSION);
    int rc = 0;
    if (has_unknown_fields(m)) {
        rc = cf_error_set(err, CF_EUNKNOWNFIELD, "%s: carries unknown fields", desc->short_name);
        goto fail;
    }
    if (canonical) {
        size_t n = protobuf_c_message_get_packed_size(m);
        uint8_t *again = n == len ? malloc(n ? n : 1) : NULL;
        bool same = again && protobuf_c_message_pack(m, again) == n && memcmp(again, buf, n) == 0;
        free(again);
        if (!same) {
            rc = cf_error_set(err, CF_ECANON, "%s: not in canonical encoding", desc->short_name);
            goto fail;
        }
    }
    *out = m;
    return 0;
fail:
    protobuf_c_message_free_unpacked(m, &freeing);
    return rc;
}

static int encode(const ProtobufCMessage *m, uint8_t **out, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return CF_ENOMEM;
    protobuf_c_message_pack(m, buf);
    *out = buf;
    *len = n;
    return 0;
}

/* ---- Text ---- */

static bool utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/* Copies a bytes field into a fixed C string: at most cap - 1 bytes, no NUL. */
static int text_to_fixed(char *dst, size_t cap, ProtobufCBinaryData v, const char *field,
                         struct cf_error *err)
{
    if (v.len >= cap)
        return cf_error_set(err, CF_ETOOBIG, "%s: %zu bytes, at most %zu allowed", field, v.len,
                            cap - 1);
    if (v.len && memchr(v.data, 0, v.len))
        return cf_error_set(err, CF_EFIELD, "%s: contains a NUL byte", field);
    if (v.len) /* protobuf-c leaves an empty field's data NULL */
        memcpy(dst, v.data, v.len);
    dst[v.len] = 0;
    return 0;
}

static int bytes_exact(uint8_t *dst, size_t n, ProtobufCBinaryData v, const char *field,
                       struct cf_error *err)
{
    if (v.len != n)
        return cf_error_set(err, CF_EFIELD, "%s: %zu bytes, expected %zu", field, v.len, n);
    memcpy(dst, v.data, n);
    return 0;
}

/* protobuf-c gives a present but empty bytes field NULL data. Where a borrowed
 * pointer is what marks a field present, it points here instead, so the field
 * encodes again as it came. */
static const uint8_t present_empty[1];

static const uint8_t *present(ProtobufCBinaryData v)
{
    return v.data ? v.data : present_empty;
}

static ProtobufCBinaryData bin(const void *p, size_t n)
{
    return (ProtobufCBinaryData){n, (uint8_t *)p};
}

static ProtobufCBinaryData str(const char *s)
{
    return bin(s, strlen(s));
}

/* ---- Header ---- */

static bool fixed_ok(const char *s, bool (*valid)(const char *, size_t))
{
    return valid(s, strlen(s));
}

int cf_wire_header_encode(const struct cf_header *h, uint8_t **out, size_t *len)
{
    if (h->n_recipients > CF_MAX_RECIPIENTS || h->n_members > CF_MAX_MEMBERS ||
        h->n_attendees > CF_MAX_MEMBERS)
        return CF_ETOOBIG;
    ProtobufCBinaryData recipients[CF_MAX_RECIPIENTS], attendees[CF_MAX_MEMBERS];
    Cf__Member members[CF_MAX_MEMBERS], *member_ptrs[CF_MAX_MEMBERS];
    Cf__VoteFields vote = CF__VOTE_FIELDS__INIT;
    Cf__Header m = CF__HEADER__INIT;
    m.version = h->version;
    m.message_id = bin(h->message_id, sizeof h->message_id);
    m.case_id = str(h->case_id);
    m.type = (Cf__MessageType)h->type;
    m.sender = str(h->sender);
    for (size_t i = 0; i < h->n_recipients; i++)
        recipients[i] = str(h->recipients[i]);
    m.n_recipients = h->n_recipients;
    m.recipients = recipients;
    m.created_at = h->created_at;
    m.jurisdiction = str(h->jurisdiction);
    m.la_code = str(h->la_code);
    m.urgency = (Cf__Urgency)h->urgency;
    m.immediate_risk = h->immediate_risk;
    if (h->has_in_reply_to) {
        m.has_in_reply_to = 1;
        m.in_reply_to = bin(h->in_reply_to, sizeof h->in_reply_to);
    }
    if (h->decision != CF_DECISION_NONE) {
        m.has_decision = 1;
        m.decision = (Cf__Decision)h->decision;
    }
    if (h->lead_staff_ref[0]) {
        m.has_lead_staff_ref = 1;
        m.lead_staff_ref = str(h->lead_staff_ref);
    }
    for (size_t i = 0; i < h->n_members; i++) {
        cf__member__init(&members[i]);
        members[i].agency = str(h->members[i].agency);
        members[i].standing = (Cf__Standing)h->members[i].standing;
        member_ptrs[i] = &members[i];
    }
    m.n_members = h->n_members;
    m.members = member_ptrs;
    if (h->chair_staff_ref[0]) {
        m.has_chair_staff_ref = 1;
        m.chair_staff_ref = str(h->chair_staff_ref);
    }
    for (size_t i = 0; i < h->n_attendees; i++)
        attendees[i] = str(h->attendees[i]);
    m.n_attendees = h->n_attendees;
    m.attendees = attendees;
    if (h->has_vote) {
        vote.proposal_id = bin(h->vote.proposal_id, sizeof h->vote.proposal_id);
        vote.approve = h->vote.approve;
        vote.signature = bin(h->vote.signature, sizeof h->vote.signature);
        m.vote = &vote;
    }
    return encode(&m.base, out, len);
}

static int header_from_pb(const Cf__Header *m, struct cf_header *h, struct cf_error *err)
{
    int rc;
    memset(h, 0, sizeof *h);
    h->version = m->version;
    if ((rc = bytes_exact(h->message_id, sizeof h->message_id, m->message_id, "header.message_id",
                          err)) != 0 ||
        (rc = text_to_fixed(h->case_id, sizeof h->case_id, m->case_id, "header.case_id", err)) !=
            0 ||
        (rc = text_to_fixed(h->sender, sizeof h->sender, m->sender, "header.sender", err)) != 0 ||
        (rc = text_to_fixed(h->jurisdiction, sizeof h->jurisdiction, m->jurisdiction,
                            "header.jurisdiction", err)) != 0 ||
        (rc = text_to_fixed(h->la_code, sizeof h->la_code, m->la_code, "header.la_code", err)) != 0)
        return rc;
    h->type = (enum cf_type)m->type;
    if (m->n_recipients > CF_MAX_RECIPIENTS)
        return cf_error_set(err, CF_ETOOBIG, "header.recipients: %zu, at most %d", m->n_recipients,
                            CF_MAX_RECIPIENTS);
    h->n_recipients = m->n_recipients;
    for (size_t i = 0; i < m->n_recipients; i++)
        if ((rc = text_to_fixed(h->recipients[i], sizeof h->recipients[i], m->recipients[i],
                                "header.recipients[]", err)) != 0)
            return rc;
    h->created_at = m->created_at;
    h->urgency = (enum cf_urgency)m->urgency;
    h->immediate_risk = m->immediate_risk;
    if (m->has_in_reply_to) {
        h->has_in_reply_to = true;
        if ((rc = bytes_exact(h->in_reply_to, sizeof h->in_reply_to, m->in_reply_to,
                              "header.in_reply_to", err)) != 0)
            return rc;
    }
    if (m->has_decision) {
        h->decision = (enum cf_decision)m->decision;
        if (h->decision == CF_DECISION_NONE)
            return cf_error_set(err, CF_EFIELD, "header.decision: not rg or cg");
    }
    /* The struct writes "" as absent, so a present empty reference could not re-encode. */
    if ((m->has_lead_staff_ref && m->lead_staff_ref.len == 0) ||
        (m->has_chair_staff_ref && m->chair_staff_ref.len == 0))
        return cf_error_set(err, CF_EFIELD, "header: a staff reference is present but empty");
    if (m->has_lead_staff_ref &&
        (rc = text_to_fixed(h->lead_staff_ref, sizeof h->lead_staff_ref, m->lead_staff_ref,
                            "header.lead_staff_ref", err)) != 0)
        return rc;
    if (m->n_members > CF_MAX_MEMBERS || m->n_attendees > CF_MAX_MEMBERS)
        return cf_error_set(err, CF_ETOOBIG, "header: more than %d members or attendees",
                            CF_MAX_MEMBERS);
    h->n_members = m->n_members;
    for (size_t i = 0; i < m->n_members; i++) {
        if ((rc = text_to_fixed(h->members[i].agency, sizeof h->members[i].agency,
                                m->members[i]->agency, "header.members[].agency", err)) != 0)
            return rc;
        h->members[i].standing = (enum cf_standing)m->members[i]->standing;
    }
    if (m->has_chair_staff_ref &&
        (rc = text_to_fixed(h->chair_staff_ref, sizeof h->chair_staff_ref, m->chair_staff_ref,
                            "header.chair_staff_ref", err)) != 0)
        return rc;
    h->n_attendees = m->n_attendees;
    for (size_t i = 0; i < m->n_attendees; i++)
        if ((rc = text_to_fixed(h->attendees[i], sizeof h->attendees[i], m->attendees[i],
                                "header.attendees[]", err)) != 0)
            return rc;
    if (m->vote) {
        h->has_vote = true;
        h->vote.approve = m->vote->approve;
        if ((rc = bytes_exact(h->vote.proposal_id, sizeof h->vote.proposal_id, m->vote->proposal_id,
                              "header.vote.proposal_id", err)) != 0 ||
            (rc = bytes_exact(h->vote.signature, sizeof h->vote.signature, m->vote->signature,
                              "header.vote.signature", err)) != 0)
            return rc;
    }
    return 0;
}

int cf_wire_header_decode(const uint8_t *buf, size_t len, struct cf_header *h, struct cf_error *err)
{
    if (len > CF_MAX_HEADER)
        return cf_error_set(err, CF_ETOOBIG, "header: %zu bytes, at most %d allowed", len,
                            CF_MAX_HEADER);
    ProtobufCMessage *m = NULL;
    int rc = decode(&cf__header__descriptor, buf, len, true, &m, err);
    if (rc != 0)
        return rc;
    rc = header_from_pb((const Cf__Header *)m, h, err);
    protobuf_c_message_free_unpacked(m, &freeing);
    return rc != 0 ? rc : cf_header_check(h, err);
}

/* ---- Envelope ---- */

int cf_wire_envelope_encode(const struct cf_envelope *env, uint8_t **out, size_t *len)
{
    if (env->n_keys > CF_MAX_RECIPIENTS)
        return CF_ETOOBIG;
    Cf__KeyEntry keys[CF_MAX_RECIPIENTS], *key_ptrs[CF_MAX_RECIPIENTS];
    Cf__Envelope m = CF__ENVELOPE__INIT;
    m.header = bin(env->header, env->header_len);
    m.ciphertext = bin(env->ciphertext, env->ciphertext_len);
    for (size_t i = 0; i < env->n_keys; i++) {
        cf__key_entry__init(&keys[i]);
        keys[i].recipient = str(env->keys[i].recipient);
        keys[i].sealed_key = bin(env->keys[i].sealed, sizeof env->keys[i].sealed);
        key_ptrs[i] = &keys[i];
    }
    m.n_keys = env->n_keys;
    m.keys = key_ptrs;
    m.commit = bin(env->commit, sizeof env->commit);
    m.signature = bin(env->signature, sizeof env->signature);
    Cf__NrmReturn nrm = CF__NRM_RETURN__INIT;
    Cf__KeyEntry nrm_key = CF__KEY_ENTRY__INIT;
    if (env->has_nrm) {
        nrm.ciphertext = bin(env->nrm_ciphertext, env->nrm_ciphertext_len);
        nrm_key.recipient = str(env->nrm_key.recipient);
        nrm_key.sealed_key = bin(env->nrm_key.sealed, sizeof env->nrm_key.sealed);
        nrm.key = &nrm_key;
        nrm.commit = bin(env->nrm_commit, sizeof env->nrm_commit);
        m.nrm_return = &nrm;
    }
    return encode(&m.base, out, len);
}

/* A ciphertext is a nonce, a padded payload of one bucket size (a power of two
 * from CF_MIN_BUCKET to CF_MAX_PLAINTEXT) and a tag: nothing else is sealed. */
static bool ciphertext_shape_ok(size_t len)
{
    if (len < CF_NONCE_LEN + CF_AEAD_TAG_LEN + CF_MIN_BUCKET)
        return false;
    size_t body = len - CF_NONCE_LEN - CF_AEAD_TAG_LEN;
    return body <= CF_MAX_PLAINTEXT && (body & (body - 1)) == 0;
}

/* An NRM return's parts (shared by envelopes and determinations). Copies the
 * ciphertext into *ct. */
static int nrm_in(const Cf__NrmReturn *m, uint8_t **ct, size_t *ct_len, struct cf_key_entry *key,
                  uint8_t commit[CF_HASH_LEN], struct cf_error *err)
{
    int rc;
    if (!ciphertext_shape_ok(m->ciphertext.len))
        return cf_error_set(err, CF_EFIELD,
                            "nrm_return.ciphertext: %zu bytes is not a nonce, a "
                            "padding bucket and a tag",
                            m->ciphertext.len);
    if ((rc = text_to_fixed(key->recipient, sizeof key->recipient, m->key->recipient,
                            "nrm_return.key.recipient", err)) != 0 ||
        (rc = bytes_exact(key->sealed, sizeof key->sealed, m->key->sealed_key,
                          "nrm_return.key.sealed_key", err)) != 0 ||
        (rc = bytes_exact(commit, CF_HASH_LEN, m->commit, "nrm_return.commit", err)) != 0)
        return rc;
    if (!cf_header_id_valid(key->recipient, strlen(key->recipient)))
        return cf_error_set(err, CF_EID, "nrm_return.key.recipient: not an agency id");
    *ct = malloc(m->ciphertext.len);
    if (!*ct)
        return cf_error_set(err, CF_ENOMEM, "nrm_return: out of memory");
    memcpy(*ct, m->ciphertext.data, m->ciphertext.len);
    *ct_len = m->ciphertext.len;
    return 0;
}

int cf_wire_envelope_decode(const uint8_t *buf, size_t len, struct cf_envelope *env,
                            struct cf_error *err)
{
    memset(env, 0, sizeof *env);
    if (len > CF_MAX_ENVELOPE)
        return cf_error_set(err, CF_ETOOBIG, "envelope: %zu bytes, at most %u allowed", len,
                            CF_MAX_ENVELOPE);
    ProtobufCMessage *pm = NULL;
    int rc = decode(&cf__envelope__descriptor, buf, len, true, &pm, err);
    if (rc != 0)
        return rc;
    const Cf__Envelope *m = (const Cf__Envelope *)pm;
    if (m->header.len == 0 || m->header.len > CF_MAX_HEADER) {
        rc = cf_error_set(err, CF_ETOOBIG, "envelope.header: %zu bytes, 1 to %d allowed",
                          m->header.len, CF_MAX_HEADER);
        goto out;
    }
    if (!ciphertext_shape_ok(m->ciphertext.len)) {
        rc = cf_error_set(
            err, CF_EFIELD,
            "envelope.ciphertext: %zu bytes is not a nonce, a padding bucket and a tag",
            m->ciphertext.len);
        goto out;
    }
    if (m->n_keys == 0 || m->n_keys > CF_MAX_RECIPIENTS) {
        rc = cf_error_set(err, CF_ETOOBIG, "envelope.keys: %zu entries, 1 to %d allowed", m->n_keys,
                          CF_MAX_RECIPIENTS);
        goto out;
    }
    for (size_t i = 0; i < m->n_keys; i++) {
        if ((rc = text_to_fixed(env->keys[i].recipient, sizeof env->keys[i].recipient,
                                m->keys[i]->recipient, "envelope.keys[].recipient", err)) != 0 ||
            (rc = bytes_exact(env->keys[i].sealed, sizeof env->keys[i].sealed,
                              m->keys[i]->sealed_key, "envelope.keys[].sealed_key", err)) != 0)
            goto out;
    }
    env->n_keys = m->n_keys;
    if ((rc = bytes_exact(env->commit, sizeof env->commit, m->commit, "envelope.commit", err)) !=
            0 ||
        (rc = bytes_exact(env->signature, sizeof env->signature, m->signature, "envelope.signature",
                          err)) != 0)
        goto out;
    env->header = malloc(m->header.len);
    env->ciphertext = malloc(m->ciphertext.len);
    if (!env->header || !env->ciphertext) {
        rc = cf_error_set(err, CF_ENOMEM, "envelope: out of memory");
        goto out;
    }
    memcpy(env->header, m->header.data, m->header.len);
    env->header_len = m->header.len;
    memcpy(env->ciphertext, m->ciphertext.data, m->ciphertext.len);
    env->ciphertext_len = m->ciphertext.len;
    if (m->nrm_return) {
        env->has_nrm = true;
        rc = nrm_in(m->nrm_return, &env->nrm_ciphertext, &env->nrm_ciphertext_len, &env->nrm_key,
                    env->nrm_commit, err);
    }
out:
    protobuf_c_message_free_unpacked(pm, &freeing);
    return rc;
}

/* ---- Referral payload ---- */

/* Optional text: NULL stays absent. */
static void opt_text(const char *s, protobuf_c_boolean *has, ProtobufCBinaryData *field)
{
    if (s) {
        *has = 1;
        *field = str(s);
    }
}

static void opt_bool(enum cf_tribool t, protobuf_c_boolean *has, protobuf_c_boolean *field)
{
    if (t != CF_ABSENT) {
        *has = 1;
        *field = t == CF_TRUE;
    }
}

/* A present list becomes a Strings message over `items` (caller-provided
 * storage) whose bytes point into the list; an absent one stays NULL. */
static int list_out(const struct cf_strlist *l, Cf__Strings *msg, Cf__Strings **field)
{
    *field = NULL;
    if (!l->present)
        return 0;
    cf__strings__init(msg);
    if (l->n > 0) {
        msg->items = calloc(l->n, sizeof *msg->items);
        if (!msg->items)
            return CF_ENOMEM;
        for (size_t i = 0; i < l->n; i++)
            msg->items[i] = str(l->items[i]);
        msg->n_items = l->n;
    }
    *field = msg;
    return 0;
}

int cf_wire_referral_encode(const struct cf_referral *r, uint8_t **out, size_t *len)
{
    Cf__Payload p = CF__PAYLOAD__INIT;
    Cf__Referral m = CF__REFERRAL__INIT;
    Cf__Child c = CF__CHILD__INIT;
    Cf__Referrer who = CF__REFERRER__INIT;
    const struct cf_child *ch = &r->child;
    Cf__Strings lists[5] = {0};
    int rc = 0;

    opt_text(ch->given_name, &c.has_given_name, &c.given_name);
    opt_text(ch->family_name, &c.has_family_name, &c.family_name);
    opt_text(ch->date_of_birth, &c.has_date_of_birth, &c.date_of_birth);
    if (ch->has_estimated_age) {
        c.has_estimated_age = 1;
        c.estimated_age = ch->estimated_age;
    }
    opt_bool(ch->age_disputed, &c.has_age_disputed, &c.age_disputed);
    opt_text(ch->sex, &c.has_sex, &c.sex);
    opt_text(ch->nationality, &c.has_nationality, &c.nationality);
    opt_bool(ch->interpreter_required, &c.has_interpreter_required, &c.interpreter_required);
    opt_bool(ch->unaccompanied, &c.has_unaccompanied, &c.unaccompanied);
    opt_text(ch->location, &c.has_location, &c.location);
    opt_text(ch->accommodation, &c.has_accommodation, &c.accommodation);
    m.child = &c;
    opt_bool(r->county_lines, &m.has_county_lines, &m.county_lines);
    opt_text(r->narrative, &m.has_narrative, &m.narrative);
    opt_text(r->first_concern_date, &m.has_first_concern_date, &m.first_concern_date);
    if (r->has_referrer) {
        opt_text(r->referrer.name, &who.has_name, &who.name);
        opt_text(r->referrer.role, &who.has_role, &who.role);
        opt_text(r->referrer.phone, &who.has_phone, &who.phone);
        opt_text(r->referrer.email, &who.has_email, &who.email);
        m.referrer = &who;
    }
    if ((rc = list_out(&ch->aliases, &lists[0], &c.aliases)) != 0 ||
        (rc = list_out(&ch->languages, &lists[1], &c.languages)) != 0 ||
        (rc = list_out(&r->exploitation, &lists[2], &m.exploitation)) != 0 ||
        (rc = list_out(&r->indicators, &lists[3], &m.indicators)) != 0 ||
        (rc = list_out(&r->other_agencies, &lists[4], &m.other_agencies)) != 0)
        goto out;
    p.body_case = CF__PAYLOAD__BODY_REFERRAL;
    p.referral = &m;
    rc = encode(&p.base, out, len);
out:
    for (size_t i = 0; i < 5; i++)
        free(lists[i].items);
    return rc;
}

/* Copies an optional text field into a fresh C string after checking it. */
static int text_in(protobuf_c_boolean has, ProtobufCBinaryData v, const char *field, char **out,
                   struct cf_error *err)
{
    *out = NULL;
    if (!has)
        return 0;
    if ((v.len && memchr(v.data, 0, v.len)) || !utf8_valid(v.data, v.len))
        return cf_error_set(err, CF_EFIELD, "%s: not NUL-free UTF-8 text", field);
    char *s = malloc(v.len + 1);
    if (!s)
        return cf_error_set(err, CF_ENOMEM, "%s: out of memory", field);
    if (v.len) /* protobuf-c leaves an empty field's data NULL */
        memcpy(s, v.data, v.len);
    s[v.len] = 0;
    *out = s;
    return 0;
}

static int list_in(const Cf__Strings *msg, const char *field, struct cf_strlist *l,
                   struct cf_error *err)
{
    memset(l, 0, sizeof *l);
    if (!msg)
        return 0;
    l->present = true;
    size_t n = msg->n_items;
    const ProtobufCBinaryData *v = msg->items;
    l->items = n ? calloc(n, sizeof *l->items) : NULL;
    if (n && !l->items)
        return cf_error_set(err, CF_ENOMEM, "%s: out of memory", field);
    for (size_t i = 0; i < n; i++) {
        int rc = text_in(1, v[i], field, &l->items[i], err);
        if (rc != 0)
            return rc;
        l->n++;
    }
    return 0;
}

static enum cf_tribool tribool_in(protobuf_c_boolean has, protobuf_c_boolean v)
{
    return !has ? CF_ABSENT : v ? CF_TRUE : CF_FALSE;
}

static int referral_from_pb(const Cf__Referral *m, struct cf_referral *r, struct cf_error *err)
{
    const Cf__Child *c = m->child;
    struct cf_child *ch = &r->child;
    int rc;
    if ((rc = text_in(c->has_given_name, c->given_name, "child.given_name", &ch->given_name,
                      err)) != 0 ||
        (rc = text_in(c->has_family_name, c->family_name, "child.family_name", &ch->family_name,
                      err)) != 0 ||
        (rc = list_in(c->aliases, "child.aliases", &ch->aliases, err)) != 0 ||
        (rc = text_in(c->has_date_of_birth, c->date_of_birth, "child.date_of_birth",
                      &ch->date_of_birth, err)) != 0 ||
        (rc = text_in(c->has_sex, c->sex, "child.sex", &ch->sex, err)) != 0 ||
        (rc = text_in(c->has_nationality, c->nationality, "child.nationality", &ch->nationality,
                      err)) != 0 ||
        (rc = list_in(c->languages, "child.languages", &ch->languages, err)) != 0 ||
        (rc = text_in(c->has_location, c->location, "child.location", &ch->location, err)) != 0 ||
        (rc = text_in(c->has_accommodation, c->accommodation, "child.accommodation",
                      &ch->accommodation, err)) != 0 ||
        (rc = list_in(m->exploitation, "exploitation", &r->exploitation, err)) != 0 ||
        (rc = list_in(m->indicators, "indicators", &r->indicators, err)) != 0 ||
        (rc = text_in(m->has_narrative, m->narrative, "narrative", &r->narrative, err)) != 0 ||
        (rc = text_in(m->has_first_concern_date, m->first_concern_date, "first_concern_date",
                      &r->first_concern_date, err)) != 0 ||
        (rc = list_in(m->other_agencies, "other_agencies", &r->other_agencies, err)) != 0)
        return rc;
    ch->has_estimated_age = c->has_estimated_age;
    ch->estimated_age = c->estimated_age;
    ch->age_disputed = tribool_in(c->has_age_disputed, c->age_disputed);
    ch->interpreter_required = tribool_in(c->has_interpreter_required, c->interpreter_required);
    ch->unaccompanied = tribool_in(c->has_unaccompanied, c->unaccompanied);
    r->county_lines = tribool_in(m->has_county_lines, m->county_lines);
    if (m->referrer) {
        const Cf__Referrer *w = m->referrer;
        r->has_referrer = true;
        if ((rc = text_in(w->has_name, w->name, "referrer.name", &r->referrer.name, err)) != 0 ||
            (rc = text_in(w->has_role, w->role, "referrer.role", &r->referrer.role, err)) != 0 ||
            (rc = text_in(w->has_phone, w->phone, "referrer.phone", &r->referrer.phone, err)) !=
                0 ||
            (rc = text_in(w->has_email, w->email, "referrer.email", &r->referrer.email, err)) != 0)
            return rc;
    }
    return 0;
}

int cf_wire_referral_decode(const uint8_t *buf, size_t len, struct cf_referral *r,
                            struct cf_error *err)
{
    if (len > CF_MAX_PLAINTEXT)
        return cf_error_set(err, CF_ETOOBIG, "payload: %zu bytes, at most %u allowed", len,
                            CF_MAX_PLAINTEXT);
    ProtobufCMessage *pm = NULL;
    int rc = decode(&cf__payload__descriptor, buf, len, false, &pm, err);
    if (rc != 0)
        return rc;
    const Cf__Payload *p = (const Cf__Payload *)pm;
    if (p->body_case != CF__PAYLOAD__BODY_REFERRAL)
        rc = cf_error_set(err, CF_ETYPE, "payload: not a referral");
    else
        rc = referral_from_pb(p->referral, r, err);
    protobuf_c_message_free_unpacked(pm, &freeing);
    if (rc != 0)
        cf_referral_fini(r);
    return rc;
}

/* ---- Case message payloads ----
 *
 * Every body but the referral holds only text, lists of text, booleans and the Decision enum,
 * and its JSON keys are its proto field names. So one mapping read off the protobuf-c
 * descriptors carries them all: a new body needs a proto message and a schema table in
 * message.c, and no code here. */

enum mapped { M_NONE, M_TEXT, M_LIST, M_BOOL, M_DECISION };

static enum mapped mapped(const ProtobufCFieldDescriptor *f)
{
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return M_NONE;
    switch (f->type) {
    case PROTOBUF_C_TYPE_BYTES:
        return M_TEXT;
    case PROTOBUF_C_TYPE_BOOL:
        return M_BOOL;
    case PROTOBUF_C_TYPE_ENUM:
        return f->descriptor == &cf__decision__descriptor ? M_DECISION : M_NONE;
    case PROTOBUF_C_TYPE_MESSAGE:
        return f->descriptor == &cf__strings__descriptor ? M_LIST : M_NONE;
    default:
        return M_NONE;
    }
}

/* The Payload oneof member named `body`, if this mapping carries it. */
static const ProtobufCFieldDescriptor *payload_body(const char *body)
{
    const ProtobufCFieldDescriptor *f =
        body ? protobuf_c_message_descriptor_get_field_by_name(&cf__payload__descriptor, body)
             : NULL;
    return f && f->type == PROTOBUF_C_TYPE_MESSAGE && f->id != CF__PAYLOAD__BODY_REFERRAL ? f
                                                                                          : NULL;
}

static bool field_present(const ProtobufCFieldDescriptor *f, const void *m)
{
    const char *base = m;
    if (f->type == PROTOBUF_C_TYPE_MESSAGE)
        return *(void *const *)(const void *)(base + f->offset) != NULL;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL)
        return *(const protobuf_c_boolean *)(const void *)(base + f->quantifier_offset);
    return true;
}

/* Frees a body built by body_from_json: its Strings and their item arrays, not the text,
 * which the JSON owns. */
static void body_free(ProtobufCMessage *m)
{
    if (!m)
        return;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++)
        if (mapped(&d->fields[i]) == M_LIST) {
            Cf__Strings *l = *(Cf__Strings **)(void *)((char *)m + d->fields[i].offset);
            if (l)
                free(l->items);
            free(l);
        }
    free(m);
}

/* A JSON string as bytes; jansson strings are UTF-8 but may hold a NUL. */
static bool json_text(const json_t *v, ProtobufCBinaryData *out)
{
    if (!json_is_string(v) || memchr(json_string_value(v), 0, json_string_length(v)))
        return false;
    *out = bin(json_string_value(v), json_string_length(v));
    return true;
}

/* Builds *out (free with body_free, also after a failure) with bytes pointing into `obj`. */
static int body_from_json(const ProtobufCMessageDescriptor *d, const json_t *obj,
                          ProtobufCMessage **out, struct cf_error *err)
{
    ProtobufCMessage *m = calloc(1, d->sizeof_message);
    if (!(*out = m))
        return cf_error_set(err, CF_ENOMEM, "payload: out of memory");
    protobuf_c_message_init(d, m);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
        if (!f)
            return cf_error_set(err, CF_EFIELD, "%s: %s has no such field", key, d->short_name);
        char *at = (char *)m + f->offset;
        switch (mapped(f)) {
        case M_TEXT:
            if (!json_text(v, (ProtobufCBinaryData *)(void *)at))
                return cf_error_set(err, CF_EFIELD, "%s: must be a string without NUL", key);
            break;
        case M_BOOL:
            if (!json_is_boolean(v))
                return cf_error_set(err, CF_EFIELD, "%s: must be a boolean", key);
            *(protobuf_c_boolean *)(void *)at = json_is_true(v);
            break;
        case M_DECISION: {
            enum cf_decision dec = json_is_string(v)
                                       ? cf_header_decision_parse(json_string_value(v))
                                       : CF_DECISION_NONE;
            if (dec == CF_DECISION_NONE)
                return cf_error_set(err, CF_EFIELD, "%s: must be rg or cg", key);
            *(int32_t *)(void *)at = (int32_t)dec; /* protobuf-c enums are int-sized */
            break;
        }
        case M_LIST: {
            if (!json_is_array(v))
                return cf_error_set(err, CF_EFIELD, "%s: must be an array of strings", key);
            Cf__Strings *l = calloc(1, sizeof *l);
            if (!l)
                return cf_error_set(err, CF_ENOMEM, "payload: out of memory");
            cf__strings__init(l);
            *(Cf__Strings **)(void *)at = l;
            size_t n = json_array_size(v);
            if (n && !(l->items = calloc(n, sizeof *l->items)))
                return cf_error_set(err, CF_ENOMEM, "payload: out of memory");
            for (size_t i = 0; i < n; i++) {
                if (!json_text(json_array_get(v, i), &l->items[i]))
                    return cf_error_set(err, CF_EFIELD, "%s[%zu]: must be a string without NUL",
                                        key, i);
                l->n_items = i + 1;
            }
            break;
        }
        case M_NONE:
            return cf_error_set(err, CF_EINVAL, "%s: %s.%s is of a kind JSON does not map to", key,
                                d->short_name, f->name);
        }
        if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE)
            *(protobuf_c_boolean *)(void *)((char *)m + f->quantifier_offset) = 1;
    }
    for (unsigned i = 0; i < d->n_fields; i++)
        if (d->fields[i].label == PROTOBUF_C_LABEL_REQUIRED &&
            !json_object_get(obj, d->fields[i].name))
            return cf_error_set(err, CF_EFIELD, "%s: is required", d->fields[i].name);
    return 0;
}

int cf_wire_payload_encode(const char *body, const json_t *fields, uint8_t **out, size_t *len,
                           struct cf_error *err)
{
    const ProtobufCFieldDescriptor *bf = payload_body(body);
    if (!bf || !json_is_object(fields))
        return cf_error_set(err, CF_EINVAL, "payload: not a case message body and its fields");
    ProtobufCMessage *m = NULL;
    int rc = body_from_json(bf->descriptor, fields, &m, err);
    if (rc == 0) {
        Cf__Payload p = CF__PAYLOAD__INIT;
        p.body_case = (Cf__Payload__BodyCase)bf->id;
        *(ProtobufCMessage **)(void *)((char *)&p + bf->offset) = m;
        if ((rc = encode(&p.base, out, len)) != 0)
            cf_error_set(err, rc, "payload: out of memory");
    }
    body_free(m);
    return rc;
}

static int text_to_json(ProtobufCBinaryData v, const char *field, json_t **out,
                        struct cf_error *err)
{
    if ((v.len && memchr(v.data, 0, v.len)) || !utf8_valid(v.data, v.len))
        return cf_error_set(err, CF_EFIELD, "%s: not NUL-free UTF-8 text", field);
    if (!(*out = json_stringn(v.len ? (const char *)v.data : "", v.len)))
        return cf_error_set(err, CF_ENOMEM, "%s: out of memory", field);
    return 0;
}

static int list_to_json(const Cf__Strings *l, const char *field, json_t **out, struct cf_error *err)
{
    if (!(*out = json_array()))
        return cf_error_set(err, CF_ENOMEM, "%s: out of memory", field);
    for (size_t i = 0; i < l->n_items; i++) {
        char path[96];
        snprintf(path, sizeof path, "%s[%zu]", field, i);
        json_t *item;
        int rc = text_to_json(l->items[i], path, &item, err);
        if (rc)
            return rc;
        if (json_array_append_new(*out, item) != 0)
            return cf_error_set(err, CF_ENOMEM, "%s: out of memory", field);
    }
    return 0;
}

/* Adds each field of `m` that is present to `obj`, under its proto name. */
static int body_to_json(const ProtobufCMessage *m, json_t *obj, struct cf_error *err)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (!field_present(f, m))
            continue;
        const void *at = (const char *)m + f->offset;
        json_t *v = NULL;
        int rc = 0;
        switch (mapped(f)) {
        case M_TEXT:
            rc = text_to_json(*(const ProtobufCBinaryData *)at, f->name, &v, err);
            break;
        case M_BOOL:
            v = json_boolean(*(const protobuf_c_boolean *)at);
            break;
        case M_DECISION: {
            const char *name = cf_header_decision_name((enum cf_decision) * (const int32_t *)at);
            if (!name)
                return cf_error_set(err, CF_EFIELD, "%s: not rg or cg", f->name);
            v = json_string(name);
            break;
        }
        case M_LIST:
            rc = list_to_json(*(Cf__Strings *const *)at, f->name, &v, err);
            break;
        case M_NONE:
            return cf_error_set(err, CF_EINVAL, "%s: %s.%s is of a kind JSON does not map to",
                                f->name, d->short_name, f->name);
        }
        if (rc) {
            json_decref(v);
            return rc;
        }
        if (json_object_set_new(obj, f->name, v) != 0) /* releases v; refuses a NULL one */
            return cf_error_set(err, CF_ENOMEM, "%s: out of memory", f->name);
    }
    return 0;
}

int cf_wire_payload_decode(const uint8_t *buf, size_t len, const char *body, json_t **fields,
                           struct cf_error *err)
{
    *fields = NULL;
    const ProtobufCFieldDescriptor *bf = payload_body(body);
    if (!bf)
        return cf_error_set(err, CF_EINVAL, "payload: not a case message body");
    if (len > CF_MAX_PLAINTEXT)
        return cf_error_set(err, CF_ETOOBIG, "payload: %zu bytes, at most %u allowed", len,
                            CF_MAX_PLAINTEXT);
    ProtobufCMessage *pm = NULL;
    int rc = decode(&cf__payload__descriptor, buf, len, false, &pm, err);
    if (rc != 0)
        return rc;
    const Cf__Payload *p = (const Cf__Payload *)pm;
    json_t *obj = NULL;
    if ((uint32_t)p->body_case != bf->id) {
        const ProtobufCFieldDescriptor *held =
            protobuf_c_message_descriptor_get_field(&cf__payload__descriptor, p->body_case);
        rc = cf_error_set(err, CF_ETYPE, "payload: holds %s where %s was expected",
                          held ? held->name : "nothing", bf->name);
    } else if (!(obj = json_object())) {
        rc = cf_error_set(err, CF_ENOMEM, "payload: out of memory");
    } else {
        rc = body_to_json(*(ProtobufCMessage *const *)(const void *)((const char *)p + bf->offset),
                          obj, err);
    }
    protobuf_c_message_free_unpacked(pm, &freeing);
    if (rc == 0)
        *fields = obj;
    else
        json_decref(obj);
    return rc;
}

/* ---- Frames ---- */

static ProtobufCBinaryData *hashes_out(const uint8_t (*h)[CF_MERKLE_HASH], size_t n,
                                       ProtobufCBinaryData *v)
{
    for (size_t i = 0; i < n; i++)
        v[i] = bin(h[i], CF_MERKLE_HASH);
    return v;
}

static ProtobufCBinaryData *proof_out(const struct cf_frame *f, ProtobufCBinaryData *v)
{
    return hashes_out((const uint8_t(*)[CF_MERKLE_HASH])f->proof, f->n_proof, v);
}

int cf_wire_frame_encode(const struct cf_frame *f, uint8_t **out, size_t *len)
{
    if (f->n_proof > 2 * CF_MERKLE_MAX_PROOF || f->n_consistency > 2 * CF_MERKLE_MAX_PROOF)
        return CF_ETOOBIG;
    ProtobufCBinaryData proof[2 * CF_MERKLE_MAX_PROOF], consistency[2 * CF_MERKLE_MAX_PROOF];
    hashes_out((const uint8_t(*)[CF_MERKLE_HASH])f->consistency, f->n_consistency, consistency);
    Cf__Frame m = CF__FRAME__INIT;
    Cf__Hello hello = CF__HELLO__INIT;
    Cf__Welcome welcome = CF__WELCOME__INIT;
    Cf__Submit submit = CF__SUBMIT__INIT;
    Cf__Accepted accepted = CF__ACCEPTED__INIT;
    Cf__Rejected rejected = CF__REJECTED__INIT;
    Cf__Deliver deliver = CF__DELIVER__INIT;
    Cf__DeliveryAck ack = CF__DELIVERY_ACK__INIT;
    Cf__DeliveryNack nack = CF__DELIVERY_NACK__INIT;
    Cf__DeliveryReport report = CF__DELIVERY_REPORT__INIT;
    Cf__DirectoryRequest dreq = CF__DIRECTORY_REQUEST__INIT;
    Cf__Directory dir = CF__DIRECTORY__INIT;
    Cf__Ping ping = CF__PING__INIT;
    Cf__Pong pong = CF__PONG__INIT;
    Cf__StatusRequest sreq = CF__STATUS_REQUEST__INIT;
    Cf__Status status = CF__STATUS__INIT;
    Cf__ProofRequest preq = CF__PROOF_REQUEST__INIT;
    Cf__Proof prf = CF__PROOF__INIT;
    Cf__AuditFollow afollow = CF__AUDIT_FOLLOW__INIT;
    Cf__AuditRecords arecs = CF__AUDIT_RECORDS__INIT;
    ProtobufCBinaryData recs[CF_MAX_AUDIT_RECORDS], envs[CF_MAX_AUDIT_RECORDS];
    Cf__CaseRequest creq = CF__CASE_REQUEST__INIT;
    Cf__CaseInfo cinfo = CF__CASE_INFO__INIT;
    Cf__DeadlineInfo dl[CF_DEADLINE_COUNT], *dl_ptrs[CF_DEADLINE_COUNT];
    switch (f->kind) {
    case CF_FRAME_HELLO:
        hello.version = f->version;
        hello.has_last_checkpoint_size = 1;
        hello.last_checkpoint_size = f->last_checkpoint_size;
        m.body_case = CF__FRAME__BODY_HELLO, m.hello = &hello;
        break;
    case CF_FRAME_WELCOME:
        welcome.checkpoint = bin(f->checkpoint, f->checkpoint_len);
        welcome.n_consistency_proof = f->n_proof;
        welcome.consistency_proof = proof_out(f, proof);
        welcome.has_mailbox_depth = 1;
        welcome.mailbox_depth = f->mailbox_depth;
        if (f->record) {
            welcome.has_origin_link = 1;
            welcome.origin_link = bin(f->record, f->record_len);
            welcome.n_link_proof = f->n_consistency;
            welcome.link_proof = consistency;
        }
        m.body_case = CF__FRAME__BODY_WELCOME, m.welcome = &welcome;
        break;
    case CF_FRAME_SUBMIT:
        submit.envelope = bin(f->envelope, f->envelope_len);
        m.body_case = CF__FRAME__BODY_SUBMIT, m.submit = &submit;
        break;
    case CF_FRAME_ACCEPTED:
        accepted.message_id = bin(f->message_id, CF_MESSAGE_ID_LEN);
        accepted.leaf_index = f->leaf_index;
        accepted.checkpoint = bin(f->checkpoint, f->checkpoint_len);
        accepted.n_inclusion_proof = f->n_proof;
        accepted.inclusion_proof = proof_out(f, proof);
        accepted.record = bin(f->record, f->record_len);
        accepted.has_consistency_from = 1;
        accepted.consistency_from = f->consistency_from;
        accepted.n_consistency_proof = f->n_consistency;
        accepted.consistency_proof = consistency;
        m.body_case = CF__FRAME__BODY_ACCEPTED, m.accepted = &accepted;
        break;
    case CF_FRAME_REJECTED:
        if (f->has_message_id) {
            rejected.has_message_id = 1;
            rejected.message_id = bin(f->message_id, CF_MESSAGE_ID_LEN);
        }
        rejected.code = str(f->code);
        rejected.reason = str(f->reason);
        m.body_case = CF__FRAME__BODY_REJECTED, m.rejected = &rejected;
        break;
    case CF_FRAME_DELIVER:
        if (f->envelope) {
            deliver.has_envelope = 1;
            deliver.envelope = bin(f->envelope, f->envelope_len);
        }
        if (f->notice) {
            deliver.has_notice = deliver.has_notice_signature = 1;
            deliver.notice = bin(f->notice, f->notice_len);
            deliver.notice_signature = bin(f->notice_signature, CF_SIG_LEN);
        }
        if (f->determination) {
            deliver.has_determination = deliver.has_determination_signature = 1;
            deliver.determination = bin(f->determination, f->determination_len);
            deliver.determination_signature = bin(f->determination_signature, CF_SIG_LEN);
        }
        deliver.leaf_index = f->leaf_index;
        deliver.checkpoint = bin(f->checkpoint, f->checkpoint_len);
        deliver.n_inclusion_proof = f->n_proof;
        deliver.inclusion_proof = proof_out(f, proof);
        deliver.record = bin(f->record, f->record_len);
        deliver.has_consistency_from = 1;
        deliver.consistency_from = f->consistency_from;
        deliver.n_consistency_proof = f->n_consistency;
        deliver.consistency_proof = consistency;
        m.body_case = CF__FRAME__BODY_DELIVER, m.deliver = &deliver;
        break;
    case CF_FRAME_ACK:
        ack.message_id = bin(f->message_id, CF_MESSAGE_ID_LEN);
        ack.leaf_index = f->leaf_index;
        ack.signature = bin(f->signature, CF_SIG_LEN);
        m.body_case = CF__FRAME__BODY_ACK, m.ack = &ack;
        break;
    case CF_FRAME_NACK:
        nack.message_id = bin(f->message_id, CF_MESSAGE_ID_LEN);
        nack.leaf_index = f->leaf_index;
        nack.code = str(f->code);
        nack.signature = bin(f->signature, CF_SIG_LEN);
        m.body_case = CF__FRAME__BODY_NACK, m.nack = &nack;
        break;
    case CF_FRAME_REPORT:
        report.message_id = bin(f->message_id, CF_MESSAGE_ID_LEN);
        report.leaf_index = f->leaf_index;
        report.recipient = str(f->recipient);
        report.outcome = str(f->outcome);
        if (f->code[0]) {
            report.has_code = 1;
            report.code = str(f->code);
        }
        report.report_leaf = f->report_leaf;
        if (f->record)
            report.has_record = 1, report.record = bin(f->record, f->record_len);
        m.body_case = CF__FRAME__BODY_REPORT, m.report = &report;
        break;
    case CF_FRAME_DIRECTORY_REQUEST:
        m.body_case = CF__FRAME__BODY_DIRECTORY_REQUEST, m.directory_request = &dreq;
        break;
    case CF_FRAME_DIRECTORY:
        dir.agencies = bin(f->agencies, f->agencies_len);
        dir.policy = bin(f->policy, f->policy_len);
        dir.sig = bin(f->sig, f->sig_len);
        m.body_case = CF__FRAME__BODY_DIRECTORY, m.directory = &dir;
        break;
    case CF_FRAME_PING:
        ping.nonce = f->nonce;
        m.body_case = CF__FRAME__BODY_PING, m.ping = &ping;
        break;
    case CF_FRAME_PONG:
        pong.nonce = f->nonce;
        m.body_case = CF__FRAME__BODY_PONG, m.pong = &pong;
        break;
    case CF_FRAME_STATUS_REQUEST:
        m.body_case = CF__FRAME__BODY_STATUS_REQUEST, m.status_request = &sreq;
        break;
    case CF_FRAME_STATUS:
        status.tree_size = f->status.tree_size;
        status.commits = f->status.commits;
        status.frames = f->status.frames;
        status.accepted = f->status.accepted;
        status.rejected = f->status.rejected;
        status.delivered = f->status.delivered;
        status.sessions = f->status.sessions;
        m.body_case = CF__FRAME__BODY_STATUS, m.status = &status;
        break;
    case CF_FRAME_PROOF_REQUEST:
        preq.leaf_index = f->leaf_index;
        if (f->from_size)
            preq.has_from_size = 1, preq.from_size = f->from_size;
        m.body_case = CF__FRAME__BODY_PROOF_REQUEST, m.proof_request = &preq;
        break;
    case CF_FRAME_PROOF:
        prf.leaf_index = f->leaf_index;
        prf.record = bin(f->record, f->record_len);
        prf.checkpoint = bin(f->checkpoint, f->checkpoint_len);
        prf.n_inclusion_proof = f->n_proof;
        prf.inclusion_proof = proof_out(f, proof);
        prf.has_consistency_from = 1;
        prf.consistency_from = f->consistency_from;
        prf.n_consistency_proof = f->n_consistency;
        prf.consistency_proof = consistency;
        m.body_case = CF__FRAME__BODY_PROOF, m.proof = &prf;
        break;
    case CF_FRAME_AUDIT_FOLLOW:
        afollow.from_index = f->from_index;
        afollow.has_last_checkpoint_size = 1;
        afollow.last_checkpoint_size = f->from_size;
        m.body_case = CF__FRAME__BODY_AUDIT_FOLLOW, m.audit_follow = &afollow;
        break;
    case CF_FRAME_AUDIT_RECORDS:
        if (f->n_records > CF_MAX_AUDIT_RECORDS)
            return CF_ETOOBIG;
        arecs.from_index = f->from_index;
        for (size_t i = 0; i < f->n_records; i++) {
            recs[i] = bin(f->records[i], f->record_lens[i]);
            envs[i] = bin(f->envelopes[i], f->envelope_lens[i]);
        }
        arecs.n_records = arecs.n_envelopes = f->n_records;
        arecs.records = recs;
        arecs.envelopes = envs;
        if (f->checkpoint) {
            arecs.has_checkpoint = 1;
            arecs.checkpoint = bin(f->checkpoint, f->checkpoint_len);
            arecs.has_consistency_from = 1;
            arecs.consistency_from = f->consistency_from;
            arecs.n_consistency_proof = f->n_consistency;
            arecs.consistency_proof = consistency;
        }
        arecs.tree_size = f->tree_size;
        m.body_case = CF__FRAME__BODY_AUDIT_RECORDS, m.audit_records = &arecs;
        break;
    case CF_FRAME_CASE_REQUEST:
        creq.case_id = str(f->case_id);
        m.body_case = CF__FRAME__BODY_CASE_REQUEST, m.case_request = &creq;
        break;
    case CF_FRAME_CASE_INFO: {
        const struct cf_case_info *ci = &f->case_info;
        if (ci->n_deadlines > CF_DEADLINE_COUNT)
            return CF_ETOOBIG;
        cinfo.case_id = str(f->case_id);
        cinfo.state = str(ci->state);
        cinfo.jurisdiction = str(ci->jurisdiction);
        cinfo.la_code = str(ci->la_code);
        if (ci->owner[0])
            cinfo.has_owner = 1, cinfo.owner = str(ci->owner);
        for (size_t i = 0; i < ci->n_deadlines; i++) {
            cf__deadline_info__init(&dl[i]);
            dl[i].name = str(ci->deadlines[i].name);
            dl[i].due = ci->deadlines[i].due;
            dl_ptrs[i] = &dl[i];
        }
        cinfo.n_deadlines = ci->n_deadlines;
        cinfo.deadlines = dl_ptrs;
        cinfo.updated_leaf = ci->updated_leaf;
        m.body_case = CF__FRAME__BODY_CASE_INFO, m.case_info = &cinfo;
        break;
    }
    default:
        return CF_EINVAL;
    }
    return encode(&m.base, out, len);
}

static int hashes_in(size_t n, const ProtobufCBinaryData *v, uint8_t (*out)[CF_MERKLE_HASH],
                     size_t *n_out, struct cf_error *err)
{
    if (n > 2 * CF_MERKLE_MAX_PROOF)
        return cf_error_set(err, CF_ETOOBIG, "frame: a proof of %zu hashes", n);
    for (size_t i = 0; i < n; i++) {
        int rc = bytes_exact(out[i], CF_MERKLE_HASH, v[i], "frame.proof[]", err);
        if (rc != 0)
            return rc;
    }
    *n_out = n;
    return 0;
}

static int proof_in(size_t n, const ProtobufCBinaryData *v, struct cf_frame *f,
                    struct cf_error *err)
{
    return hashes_in(n, v, f->proof, &f->n_proof, err);
}

/* A checkpoint note is text; its own parser checks the rest. */
static int checkpoint_in(ProtobufCBinaryData v, struct cf_frame *f, struct cf_error *err)
{
    if (v.len == 0 || v.len > 4096)
        return cf_error_set(err, CF_ETOOBIG, "frame.checkpoint: %zu bytes", v.len);
    f->checkpoint = (const char *)v.data;
    f->checkpoint_len = v.len;
    return 0;
}

static int frame_from_pb(const Cf__Frame *m, struct cf_frame *f, struct cf_error *err)
{
    int rc = 0;
    switch (m->body_case) {
    case CF__FRAME__BODY_HELLO:
        f->kind = CF_FRAME_HELLO;
        f->version = m->hello->version;
        f->last_checkpoint_size = m->hello->last_checkpoint_size;
        return 0;
    case CF__FRAME__BODY_WELCOME:
        f->kind = CF_FRAME_WELCOME;
        f->mailbox_depth = m->welcome->mailbox_depth;
        if ((rc = checkpoint_in(m->welcome->checkpoint, f, err)) != 0)
            return rc;
        if (m->welcome->has_origin_link) {
            f->record = m->welcome->origin_link.data;
            f->record_len = m->welcome->origin_link.len;
            if ((rc = hashes_in(m->welcome->n_link_proof, m->welcome->link_proof, f->consistency,
                                &f->n_consistency, err)) != 0)
                return rc;
        } else if (m->welcome->n_link_proof) {
            return cf_error_set(err, CF_EDECODE, "welcome: a link proof without its link");
        }
        return proof_in(m->welcome->n_consistency_proof, m->welcome->consistency_proof, f, err);
    case CF__FRAME__BODY_SUBMIT:
        f->kind = CF_FRAME_SUBMIT;
        f->envelope = m->submit->envelope.data;
        f->envelope_len = m->submit->envelope.len;
        return 0;
    case CF__FRAME__BODY_ACCEPTED:
        f->kind = CF_FRAME_ACCEPTED;
        f->has_message_id = true;
        f->leaf_index = m->accepted->leaf_index;
        if ((rc = bytes_exact(f->message_id, CF_MESSAGE_ID_LEN, m->accepted->message_id,
                              "accepted.message_id", err)) != 0 ||
            (rc = checkpoint_in(m->accepted->checkpoint, f, err)) != 0)
            return rc;
        f->record = m->accepted->record.data;
        f->record_len = m->accepted->record.len;
        f->consistency_from = m->accepted->consistency_from;
        if ((rc = hashes_in(m->accepted->n_consistency_proof, m->accepted->consistency_proof,
                            f->consistency, &f->n_consistency, err)) != 0)
            return rc;
        return proof_in(m->accepted->n_inclusion_proof, m->accepted->inclusion_proof, f, err);
    case CF__FRAME__BODY_REJECTED:
        f->kind = CF_FRAME_REJECTED;
        if (m->rejected->has_message_id) {
            f->has_message_id = true;
            if ((rc = bytes_exact(f->message_id, CF_MESSAGE_ID_LEN, m->rejected->message_id,
                                  "rejected.message_id", err)) != 0)
                return rc;
        }
        if ((rc = text_to_fixed(f->code, sizeof f->code, m->rejected->code, "rejected.code",
                                err)) != 0)
            return rc;
        return text_to_fixed(f->reason, sizeof f->reason, m->rejected->reason, "rejected.reason",
                             err);
    case CF__FRAME__BODY_DELIVER: {
        const Cf__Deliver *d = m->deliver;
        f->kind = CF_FRAME_DELIVER;
        f->leaf_index = d->leaf_index;
        /* An envelope, a notice, or a determination (which may bring the
         * proposal's envelope with it). */
        if (d->has_notice + d->has_determination + (d->has_envelope && !d->has_determination) != 1)
            return cf_error_set(err, CF_EDECODE,
                                "deliver: needs an envelope, a notice or a determination");
        if (d->has_envelope) {
            f->envelope = present(d->envelope);
            f->envelope_len = d->envelope.len;
        }
        if (d->has_notice) {
            f->notice = present(d->notice);
            f->notice_len = d->notice.len;
            if (!d->has_notice_signature)
                return cf_error_set(err, CF_EDECODE, "deliver: a notice without its signature");
            if ((rc = bytes_exact(f->notice_signature, CF_SIG_LEN, d->notice_signature,
                                  "deliver.notice_signature", err)) != 0)
                return rc;
        } else if (d->has_notice_signature) {
            return cf_error_set(err, CF_EDECODE, "deliver: a notice signature without a notice");
        }
        if (d->has_determination) {
            f->determination = present(d->determination);
            f->determination_len = d->determination.len;
            if (!d->has_determination_signature)
                return cf_error_set(err, CF_EDECODE,
                                    "deliver: a determination without its countersignature");
            if ((rc =
                     bytes_exact(f->determination_signature, CF_SIG_LEN, d->determination_signature,
                                 "deliver.determination_signature", err)) != 0)
                return rc;
        } else if (d->has_determination_signature) {
            return cf_error_set(err, CF_EDECODE,
                                "deliver: a countersignature without a determination");
        }
        if ((rc = checkpoint_in(d->checkpoint, f, err)) != 0)
            return rc;
        f->record = d->record.data;
        f->record_len = d->record.len;
        f->consistency_from = d->consistency_from;
        if ((rc = hashes_in(d->n_consistency_proof, d->consistency_proof, f->consistency,
                            &f->n_consistency, err)) != 0)
            return rc;
        return proof_in(d->n_inclusion_proof, d->inclusion_proof, f, err);
    }
    case CF__FRAME__BODY_ACK:
        f->kind = CF_FRAME_ACK;
        f->has_message_id = true;
        f->leaf_index = m->ack->leaf_index;
        if ((rc = bytes_exact(f->message_id, CF_MESSAGE_ID_LEN, m->ack->message_id,
                              "ack.message_id", err)) != 0)
            return rc;
        return bytes_exact(f->signature, CF_SIG_LEN, m->ack->signature, "ack.signature", err);
    case CF__FRAME__BODY_NACK:
        f->kind = CF_FRAME_NACK;
        f->has_message_id = true;
        f->leaf_index = m->nack->leaf_index;
        if ((rc = bytes_exact(f->message_id, CF_MESSAGE_ID_LEN, m->nack->message_id,
                              "nack.message_id", err)) != 0 ||
            (rc = text_to_fixed(f->code, sizeof f->code, m->nack->code, "nack.code", err)) != 0)
            return rc;
        return bytes_exact(f->signature, CF_SIG_LEN, m->nack->signature, "nack.signature", err);
    case CF__FRAME__BODY_REPORT: {
        const Cf__DeliveryReport *r = m->report;
        f->kind = CF_FRAME_REPORT;
        f->has_message_id = true;
        f->leaf_index = r->leaf_index;
        f->report_leaf = r->report_leaf;
        if ((rc = bytes_exact(f->message_id, CF_MESSAGE_ID_LEN, r->message_id, "report.message_id",
                              err)) != 0 ||
            (rc = text_to_fixed(f->recipient, sizeof f->recipient, r->recipient, "report.recipient",
                                err)) != 0 ||
            (rc = text_to_fixed(f->outcome, sizeof f->outcome, r->outcome, "report.outcome",
                                err)) != 0)
            return rc;
        if (!fixed_ok(f->recipient, cf_header_id_valid))
            return cf_error_set(err, CF_EID, "report.recipient: not an agency id");
        if (r->has_record)
            f->record = r->record.data, f->record_len = r->record.len;
        if (r->has_code)
            return text_to_fixed(f->code, sizeof f->code, r->code, "report.code", err);
        return 0;
    }
    case CF__FRAME__BODY_DIRECTORY_REQUEST:
        f->kind = CF_FRAME_DIRECTORY_REQUEST;
        return 0;
    case CF__FRAME__BODY_DIRECTORY:
        f->kind = CF_FRAME_DIRECTORY;
        f->agencies = m->directory->agencies.data;
        f->agencies_len = m->directory->agencies.len;
        f->policy = m->directory->policy.data;
        f->policy_len = m->directory->policy.len;
        f->sig = m->directory->sig.data;
        f->sig_len = m->directory->sig.len;
        return 0;
    case CF__FRAME__BODY_PING:
        f->kind = CF_FRAME_PING;
        f->nonce = m->ping->nonce;
        return 0;
    case CF__FRAME__BODY_PONG:
        f->kind = CF_FRAME_PONG;
        f->nonce = m->pong->nonce;
        return 0;
    case CF__FRAME__BODY_STATUS_REQUEST:
        f->kind = CF_FRAME_STATUS_REQUEST;
        return 0;
    case CF__FRAME__BODY_STATUS: {
        const Cf__Status *s = m->status;
        f->kind = CF_FRAME_STATUS;
        f->status = (struct cf_status){s->tree_size, s->commits,   s->frames,  s->accepted,
                                       s->rejected,  s->delivered, s->sessions};
        return 0;
    }
    case CF__FRAME__BODY_PROOF_REQUEST:
        f->kind = CF_FRAME_PROOF_REQUEST;
        f->leaf_index = m->proof_request->leaf_index;
        f->from_size = m->proof_request->from_size;
        return 0;
    case CF__FRAME__BODY_PROOF: {
        const Cf__Proof *p = m->proof;
        f->kind = CF_FRAME_PROOF;
        f->leaf_index = p->leaf_index;
        f->record = p->record.data;
        f->record_len = p->record.len;
        f->consistency_from = p->consistency_from;
        if ((rc = checkpoint_in(p->checkpoint, f, err)) != 0 ||
            (rc = hashes_in(p->n_consistency_proof, p->consistency_proof, f->consistency,
                            &f->n_consistency, err)) != 0)
            return rc;
        return proof_in(p->n_inclusion_proof, p->inclusion_proof, f, err);
    }
    case CF__FRAME__BODY_AUDIT_FOLLOW:
        f->kind = CF_FRAME_AUDIT_FOLLOW;
        f->from_index = m->audit_follow->from_index;
        f->from_size = m->audit_follow->last_checkpoint_size;
        return 0;
    case CF__FRAME__BODY_AUDIT_RECORDS: {
        const Cf__AuditRecords *r = m->audit_records;
        f->kind = CF_FRAME_AUDIT_RECORDS;
        f->from_index = r->from_index;
        f->tree_size = r->tree_size;
        if (r->n_records > CF_MAX_AUDIT_RECORDS)
            return cf_error_set(err, CF_ETOOBIG, "audit_records: %zu records", r->n_records);
        if (r->n_envelopes != r->n_records)
            return cf_error_set(err, CF_EDECODE, "audit_records: %zu envelopes for %zu records",
                                r->n_envelopes, r->n_records);
        f->n_records = r->n_records;
        for (size_t i = 0; i < r->n_records; i++) {
            f->records[i] = r->records[i].data;
            f->record_lens[i] = r->records[i].len;
            f->envelopes[i] = r->envelopes[i].data;
            f->envelope_lens[i] = r->envelopes[i].len;
        }
        if (r->has_checkpoint) {
            f->consistency_from = r->consistency_from;
            if ((rc = checkpoint_in(r->checkpoint, f, err)) != 0)
                return rc;
            return hashes_in(r->n_consistency_proof, r->consistency_proof, f->consistency,
                             &f->n_consistency, err);
        }
        if (r->n_consistency_proof || r->has_consistency_from)
            return cf_error_set(err, CF_EDECODE,
                                "audit_records: a consistency proof without a checkpoint");
        return 0;
    }
    case CF__FRAME__BODY_CASE_REQUEST:
        f->kind = CF_FRAME_CASE_REQUEST;
        if ((rc = text_to_fixed(f->case_id, sizeof f->case_id, m->case_request->case_id,
                                "case_request.case_id", err)) != 0)
            return rc;
        return fixed_ok(f->case_id, cf_header_case_id_valid)
                   ? 0
                   : cf_error_set(err, CF_EFIELD, "case_request.case_id: not a case id");
    case CF__FRAME__BODY_CASE_INFO: {
        const Cf__CaseInfo *ci = m->case_info;
        struct cf_case_info *out = &f->case_info;
        f->kind = CF_FRAME_CASE_INFO;
        out->updated_leaf = ci->updated_leaf;
        if (ci->n_deadlines > CF_DEADLINE_COUNT)
            return cf_error_set(err, CF_ETOOBIG, "case_info.deadlines: %zu", ci->n_deadlines);
        if ((rc = text_to_fixed(f->case_id, sizeof f->case_id, ci->case_id, "case_info.case_id",
                                err)) != 0 ||
            (rc = text_to_fixed(out->state, sizeof out->state, ci->state, "case_info.state",
                                err)) != 0 ||
            (rc = text_to_fixed(out->jurisdiction, sizeof out->jurisdiction, ci->jurisdiction,
                                "case_info.jurisdiction", err)) != 0 ||
            (rc = text_to_fixed(out->la_code, sizeof out->la_code, ci->la_code, "case_info.la_code",
                                err)) != 0 ||
            (ci->has_owner && (rc = text_to_fixed(out->owner, sizeof out->owner, ci->owner,
                                                  "case_info.owner", err)) != 0))
            return rc;
        if (!fixed_ok(f->case_id, cf_header_case_id_valid))
            return cf_error_set(err, CF_EFIELD, "case_info.case_id: not a case id");
        if (ci->has_owner && !fixed_ok(out->owner, cf_header_id_valid))
            return cf_error_set(err, CF_EID, "case_info.owner: not an agency id");
        out->n_deadlines = ci->n_deadlines;
        for (size_t i = 0; i < ci->n_deadlines; i++) {
            out->deadlines[i].due = ci->deadlines[i]->due;
            if ((rc = text_to_fixed(out->deadlines[i].name, sizeof out->deadlines[i].name,
                                    ci->deadlines[i]->name, "case_info.deadlines[].name", err)) !=
                0)
                return rc;
        }
        return 0;
    }
    default:
        return cf_error_set(err, CF_EDECODE, "frame: no known body");
    }
}

int cf_wire_frame_decode(const uint8_t *buf, size_t len, struct cf_frame *f, struct cf_error *err)
{
    memset(f, 0, sizeof *f);
    if (len > CF_MAX_FRAME)
        return cf_error_set(err, CF_ETOOBIG, "frame: %zu bytes, at most %u allowed", len,
                            CF_MAX_FRAME);
    ProtobufCMessage *m = NULL;
    int rc = decode(&cf__frame__descriptor, buf, len, false, &m, err);
    if (rc != 0)
        return rc;
    f->owner = m;
    return frame_from_pb((const Cf__Frame *)m, f, err);
}

void cf_wire_frame_fini(struct cf_frame *f)
{
    if (f->owner)
        protobuf_c_message_free_unpacked(f->owner, &freeing);
    memset(f, 0, sizeof *f);
}

/* ---- Notices ---- */

int cf_wire_notice_encode(const struct cf_notice *n, uint8_t **out, size_t *len)
{
    if (n->n_recipients > CF_MAX_RECIPIENTS)
        return CF_ETOOBIG;
    ProtobufCBinaryData recipients[CF_MAX_RECIPIENTS];
    Cf__Notice m = CF__NOTICE__INIT;
    m.version = n->version;
    m.notice_id = bin(n->notice_id, CF_MESSAGE_ID_LEN);
    m.kind = str(n->kind);
    m.case_id = str(n->case_id);
    for (size_t i = 0; i < n->n_recipients; i++)
        recipients[i] = str(n->recipients[i]);
    m.n_recipients = n->n_recipients;
    m.recipients = recipients;
    m.created_at = n->created_at;
    if (n->urgency != CF_URGENCY_NONE) {
        m.has_urgency = 1;
        m.urgency = (Cf__Urgency)n->urgency;
    }
    if (n->has_immediate_risk) {
        m.has_immediate_risk = 1;
        m.immediate_risk = n->immediate_risk;
    }
    if (n->referring_agency[0]) {
        m.has_referring_agency = 1;
        m.referring_agency = str(n->referring_agency);
    }
    if (n->has_about_leaf) {
        m.has_about_leaf = 1;
        m.about_leaf = n->about_leaf;
    }
    if (n->n_outstanding > CF_MAX_RECIPIENTS)
        return CF_ETOOBIG;
    ProtobufCBinaryData outstanding[CF_MAX_RECIPIENTS];
    if (n->deadline[0])
        m.has_deadline = 1, m.deadline = str(n->deadline);
    if (n->has_due)
        m.has_due = 1, m.due = n->due;
    for (size_t i = 0; i < n->n_outstanding; i++)
        outstanding[i] = str(n->outstanding[i]);
    m.n_outstanding = n->n_outstanding;
    m.outstanding = outstanding;
    if (n->code[0])
        m.has_code = 1, m.code = str(n->code);
    if (n->state[0])
        m.has_state = 1, m.state = str(n->state);
    return encode(&m.base, out, len);
}

int cf_wire_notice_decode(const uint8_t *buf, size_t len, struct cf_notice *n, struct cf_error *err)
{
    memset(n, 0, sizeof *n);
    if (len > CF_MAX_HEADER)
        return cf_error_set(err, CF_ETOOBIG, "notice: %zu bytes", len);
    ProtobufCMessage *pm = NULL;
    int rc = decode(&cf__notice__descriptor, buf, len, true, &pm, err);
    if (rc != 0)
        return rc;
    const Cf__Notice *m = (const Cf__Notice *)pm;
    n->version = m->version;
    n->created_at = m->created_at;
    if ((rc = bytes_exact(n->notice_id, CF_MESSAGE_ID_LEN, m->notice_id, "notice.notice_id",
                          err)) != 0 ||
        (rc = text_to_fixed(n->kind, sizeof n->kind, m->kind, "notice.kind", err)) != 0 ||
        (rc = text_to_fixed(n->case_id, sizeof n->case_id, m->case_id, "notice.case_id", err)) != 0)
        goto out;
    if (m->n_recipients > CF_MAX_RECIPIENTS) {
        rc = cf_error_set(err, CF_ETOOBIG, "notice.recipients: %zu", m->n_recipients);
        goto out;
    }
    n->n_recipients = m->n_recipients;
    for (size_t i = 0; i < m->n_recipients; i++)
        if ((rc = text_to_fixed(n->recipients[i], sizeof n->recipients[i], m->recipients[i],
                                "notice.recipients[]", err)) != 0)
            goto out;
    if (m->has_urgency)
        n->urgency = (enum cf_urgency)m->urgency;
    n->has_immediate_risk = m->has_immediate_risk;
    n->immediate_risk = m->immediate_risk;
    if (m->has_referring_agency &&
        (rc = text_to_fixed(n->referring_agency, sizeof n->referring_agency, m->referring_agency,
                            "notice.referring_agency", err)) != 0)
        goto out;
    n->has_about_leaf = m->has_about_leaf;
    n->about_leaf = m->about_leaf;
    n->has_due = m->has_due;
    n->due = m->due;
    if (m->n_outstanding > CF_MAX_RECIPIENTS) {
        rc = cf_error_set(err, CF_ETOOBIG, "notice.outstanding: %zu", m->n_outstanding);
        goto out;
    }
    n->n_outstanding = m->n_outstanding;
    for (size_t i = 0; i < m->n_outstanding; i++)
        if ((rc = text_to_fixed(n->outstanding[i], sizeof n->outstanding[i], m->outstanding[i],
                                "notice.outstanding[]", err)) != 0)
            goto out;
    /* The struct writes "" as absent, so a present empty one could not re-encode. */
    if ((m->has_deadline && m->deadline.len == 0) || (m->has_code && m->code.len == 0) ||
        (m->has_state && m->state.len == 0)) {
        rc = cf_error_set(err, CF_EFIELD, "notice: a deadline, code or state is present but empty");
        goto out;
    }
    if ((m->has_deadline && (rc = text_to_fixed(n->deadline, sizeof n->deadline, m->deadline,
                                                "notice.deadline", err)) != 0) ||
        (m->has_code &&
         (rc = text_to_fixed(n->code, sizeof n->code, m->code, "notice.code", err)) != 0) ||
        (m->has_state &&
         (rc = text_to_fixed(n->state, sizeof n->state, m->state, "notice.state", err)) != 0))
        goto out;
    for (size_t i = 0; i < n->n_outstanding; i++)
        if (!fixed_ok(n->outstanding[i], cf_header_id_valid)) {
            rc = cf_error_set(err, CF_EID, "notice.outstanding[%zu]: not an agency id", i);
            goto out;
        }
    if (n->version != CF_PROTOCOL_VERSION)
        rc = cf_error_set(err, CF_EVERSION, "notice.version: %u", n->version);
    else if (cf_notice_kind_parse(n->kind) == CF_NOTICE_NONE)
        rc = cf_error_set(err, CF_EFIELD, "notice.kind: unknown");
    else if (!fixed_ok(n->case_id, cf_header_case_id_valid))
        rc = cf_error_set(err, CF_EFIELD, "notice.case_id: not a case id");
    else if (m->has_urgency && !cf_header_urgency_name(n->urgency))
        rc = cf_error_set(err, CF_EFIELD, "notice.urgency: unknown");
    else if (m->has_referring_agency && !fixed_ok(n->referring_agency, cf_header_id_valid))
        rc = cf_error_set(err, CF_EID, "notice.referring_agency: not an agency id");
    for (size_t i = 0; rc == 0 && i < n->n_recipients; i++)
        if (!fixed_ok(n->recipients[i], cf_header_id_valid))
            rc = cf_error_set(err, CF_EID, "notice.recipients[%zu]: not an agency id", i);
out:
    protobuf_c_message_free_unpacked(pm, &freeing);
    return rc;
}

/* ---- Audit records ---- */

int cf_wire_record_encode(const struct cf_record *r, uint8_t **out, size_t *len)
{
    Cf__AuditRecord m = CF__AUDIT_RECORD__INIT;
    m.index = r->index;
    m.time = r->time;
    m.event = (Cf__AuditEvent)r->event;
    if (r->actor[0])
        m.has_actor = 1, m.actor = str(r->actor);
    if (r->header)
        m.has_header = 1, m.header = bin(r->header, r->header_len);
    if (r->has_digests) {
        m.has_ciphertext_hash = m.has_keys_hash = m.has_commit = m.has_signature = 1;
        m.ciphertext_hash = bin(r->ciphertext_hash, 32);
        m.keys_hash = bin(r->keys_hash, 32);
        m.commit = bin(r->commit, 32);
        m.signature = bin(r->signature, 64);
    }
    if (r->has_frame_hash)
        m.has_frame_hash = 1, m.frame_hash = bin(r->frame_hash, 32);
    if (r->code[0])
        m.has_code = 1, m.code = str(r->code);
    if (r->has_about) {
        m.has_about = 1, m.about = r->about;
        m.has_envelope_hash = m.has_ack_message_id = m.has_ack_signature = 1;
        m.envelope_hash = bin(r->envelope_hash, 32);
        m.ack_message_id = bin(r->ack_message_id, 16);
        m.ack_signature = bin(r->ack_signature, 64);
    }
    if (r->notice) {
        m.has_notice = m.has_notice_signature = 1;
        m.notice = bin(r->notice, r->notice_len);
        m.notice_signature = bin(r->notice_signature, 64);
    }
    if (r->agencies) {
        m.has_agencies = m.has_policy = m.has_sig = 1;
        m.agencies = bin(r->agencies, r->agencies_len);
        m.policy = bin(r->policy, r->policy_len);
        m.sig = bin(r->sig, r->sig_len);
    }
    if (r->has_nrm) {
        m.has_nrm_ciphertext_hash = m.has_nrm_keys_hash = m.has_nrm_commit = 1;
        m.nrm_ciphertext_hash = bin(r->nrm_ciphertext_hash, 32);
        m.nrm_keys_hash = bin(r->nrm_keys_hash, 32);
        m.nrm_commit = bin(r->nrm_commit, 32);
    }
    if (r->previous_checkpoint)
        m.has_previous_checkpoint = 1,
        m.previous_checkpoint = bin(r->previous_checkpoint, r->previous_checkpoint_len);
    if (r->n_purged > CF_MAX_PURGED)
        return CF_ETOOBIG;
    uint64_t purged[CF_MAX_PURGED];
    memcpy(purged, r->purged, r->n_purged * sizeof purged[0]);
    m.n_purged = r->n_purged;
    m.purged = purged;
    if (r->has_determination) {
        m.has_determination_hash = m.has_determination_signature = 1;
        m.determination_hash = bin(r->determination_hash, 32);
        m.determination_signature = bin(r->determination_signature, 64);
        m.has_determination_of = 1, m.determination_of = r->determination_of;
    }
    return encode(&m.base, out, len);
}

static int record_from_pb(const Cf__AuditRecord *m, struct cf_record *r, struct cf_error *err)
{
    int rc = 0;
    r->index = m->index;
    r->time = m->time;
    r->event = (enum cf_event)m->event;
    if (!cf_record_event_name(r->event) || r->event == CF_EVENT_NONE)
        return cf_error_set(err, CF_EFIELD, "record.event: unknown");
    if (m->has_actor &&
        (rc = text_to_fixed(r->actor, sizeof r->actor, m->actor, "record.actor", err)) != 0)
        return rc;
    if (m->has_actor && !fixed_ok(r->actor, cf_header_id_valid))
        return cf_error_set(err, CF_EID, "record.actor: not an agency id");
    if (m->has_header)
        r->header = present(m->header), r->header_len = m->header.len;
    if (m->has_ciphertext_hash || m->has_keys_hash || m->has_commit || m->has_signature) {
        r->has_digests = true;
        if ((rc = bytes_exact(r->ciphertext_hash, 32, m->ciphertext_hash, "record.ciphertext_hash",
                              err)) != 0 ||
            (rc = bytes_exact(r->keys_hash, 32, m->keys_hash, "record.keys_hash", err)) != 0 ||
            (rc = bytes_exact(r->commit, 32, m->commit, "record.commit", err)) != 0 ||
            (rc = bytes_exact(r->signature, 64, m->signature, "record.signature", err)) != 0)
            return rc;
    }
    if (m->has_frame_hash) {
        r->has_frame_hash = true;
        if ((rc = bytes_exact(r->frame_hash, 32, m->frame_hash, "record.frame_hash", err)) != 0)
            return rc;
    }
    /* The struct writes "" as absent, so a present empty code could not re-encode. */
    if (m->has_code && m->code.len == 0)
        return cf_error_set(err, CF_EFIELD, "record.code: present but empty");
    if (m->has_code && (rc = text_to_fixed(r->code, sizeof r->code, m->code, "record.code", err)))
        return rc;
    if (m->has_about || m->has_envelope_hash || m->has_ack_message_id || m->has_ack_signature) {
        r->has_about = true;
        r->about = m->about;
        if (!m->has_about)
            return cf_error_set(err, CF_EFIELD, "record: an answer names the leaf it answers");
        if ((rc = bytes_exact(r->envelope_hash, 32, m->envelope_hash, "record.envelope_hash",
                              err)) != 0 ||
            (rc = bytes_exact(r->ack_message_id, 16, m->ack_message_id, "record.ack_message_id",
                              err)) != 0 ||
            (rc = bytes_exact(r->ack_signature, 64, m->ack_signature, "record.ack_signature",
                              err)) != 0)
            return rc;
    }
    if (m->has_notice || m->has_notice_signature) {
        if (!m->has_notice)
            return cf_error_set(err, CF_EFIELD, "record: a notice signature without its notice");
        r->notice = present(m->notice), r->notice_len = m->notice.len;
        if ((rc = bytes_exact(r->notice_signature, 64, m->notice_signature,
                              "record.notice_signature", err)) != 0)
            return rc;
    }
    if (m->has_agencies || m->has_policy || m->has_sig) {
        if (!(m->has_agencies && m->has_policy && m->has_sig))
            return cf_error_set(err, CF_EFIELD, "record: a config needs all three files");
        r->agencies = present(m->agencies), r->agencies_len = m->agencies.len;
        r->policy = present(m->policy), r->policy_len = m->policy.len;
        r->sig = present(m->sig), r->sig_len = m->sig.len;
    }
    if (m->has_nrm_ciphertext_hash || m->has_nrm_keys_hash || m->has_nrm_commit) {
        r->has_nrm = true;
        if ((rc = bytes_exact(r->nrm_ciphertext_hash, 32, m->nrm_ciphertext_hash,
                              "record.nrm_ciphertext_hash", err)) != 0 ||
            (rc = bytes_exact(r->nrm_keys_hash, 32, m->nrm_keys_hash, "record.nrm_keys_hash",
                              err)) != 0 ||
            (rc = bytes_exact(r->nrm_commit, 32, m->nrm_commit, "record.nrm_commit", err)) != 0)
            return rc;
    }
    if (m->has_previous_checkpoint) {
        if (m->previous_checkpoint.len == 0)
            return cf_error_set(err, CF_EFIELD, "record.previous_checkpoint: empty");
        if (m->previous_checkpoint.len > 4096)
            return cf_error_set(err, CF_ETOOBIG, "record.previous_checkpoint: %zu bytes",
                                m->previous_checkpoint.len);
        r->previous_checkpoint = (const char *)m->previous_checkpoint.data;
        r->previous_checkpoint_len = m->previous_checkpoint.len;
    }
    if (m->n_purged > CF_MAX_PURGED)
        return cf_error_set(err, CF_ETOOBIG, "record.purged: %zu leaves", m->n_purged);
    r->n_purged = m->n_purged;
    if (m->n_purged > 0) /* protobuf-c leaves an empty array NULL */
        memcpy(r->purged, m->purged, m->n_purged * sizeof r->purged[0]);
    for (size_t i = 0; i < r->n_purged; i++)
        if (r->purged[i] >= r->index)
            return cf_error_set(err, CF_EFIELD, "record.purged: leaf %llu is not before it",
                                (unsigned long long)r->purged[i]);
    if (m->has_determination_hash || m->has_determination_signature || m->has_determination_of) {
        r->has_determination = true;
        r->determination_of = m->determination_of;
        if (!m->has_determination_of)
            return cf_error_set(err, CF_EFIELD, "record: a determination names its proposal");
        if ((rc = bytes_exact(r->determination_hash, 32, m->determination_hash,
                              "record.determination_hash", err)) != 0 ||
            (rc = bytes_exact(r->determination_signature, 64, m->determination_signature,
                              "record.determination_signature", err)) != 0)
            return rc;
    }
    return 0;
}

int cf_wire_record_decode(const uint8_t *buf, size_t len, struct cf_record *r, struct cf_error *err)
{
    memset(r, 0, sizeof *r);
    if (len > CF_MAX_TRANSPORT)
        return cf_error_set(err, CF_ETOOBIG, "record: %zu bytes", len);
    ProtobufCMessage *m = NULL;
    int rc = decode(&cf__audit_record__descriptor, buf, len, true, &m, err);
    if (rc != 0)
        return rc;
    r->owner = m;
    return record_from_pb((const Cf__AuditRecord *)m, r, err);
}

void cf_wire_record_fini(struct cf_record *r)
{
    if (r->owner)
        protobuf_c_message_free_unpacked(r->owner, &freeing);
    memset(r, 0, sizeof *r);
}

/* ---- Case records ---- */

static void votes_out(const struct cf_vote_record *v, size_t n, Cf__VoteRecord *msgs,
                      Cf__VoteRecord **ptrs)
{
    for (size_t i = 0; i < n; i++) {
        cf__vote_record__init(&msgs[i]);
        msgs[i].voter = str(v[i].voter);
        msgs[i].approve = v[i].approve;
        msgs[i].signature = bin(v[i].signature, 64);
        msgs[i].leaf = v[i].leaf;
        ptrs[i] = &msgs[i];
    }
}

static int votes_in(Cf__VoteRecord *const *msgs, size_t n, struct cf_vote_record *v, size_t *n_out,
                    const char *field, struct cf_error *err)
{
    if (n > CF_MAX_MEMBERS)
        return cf_error_set(err, CF_ETOOBIG, "%s: %zu votes", field, n);
    for (size_t i = 0; i < n; i++) {
        int rc;
        v[i].approve = msgs[i]->approve;
        v[i].leaf = msgs[i]->leaf;
        if ((rc = text_to_fixed(v[i].voter, sizeof v[i].voter, msgs[i]->voter, field, err)) != 0 ||
            (rc = bytes_exact(v[i].signature, 64, msgs[i]->signature, field, err)) != 0)
            return rc;
        if (!fixed_ok(v[i].voter, cf_header_id_valid))
            return cf_error_set(err, CF_EID, "%s[%zu].voter: not an agency id", field, i);
    }
    *n_out = n;
    return 0;
}

static void opt_str(const char *s, protobuf_c_boolean *has, ProtobufCBinaryData *field)
{
    if (s[0])
        *has = 1, *field = str(s);
}

int cf_wire_case_encode(const struct cf_case *c, uint8_t **out, size_t *len)
{
    if (c->n_members > CF_MAX_MEMBERS || c->n_voters > CF_MAX_MEMBERS ||
        c->n_votes > CF_MAX_MEMBERS || c->n_guardians > CF_MAX_GUARDIANS ||
        c->n_deadlines > CF_DEADLINE_COUNT)
        return CF_ETOOBIG;
    Cf__Member members[CF_MAX_MEMBERS], *member_ptrs[CF_MAX_MEMBERS];
    Cf__VoteRecord votes[CF_MAX_MEMBERS], *vote_ptrs[CF_MAX_MEMBERS];
    Cf__CaseDeadline deadlines[CF_DEADLINE_COUNT], *deadline_ptrs[CF_DEADLINE_COUNT];
    ProtobufCBinaryData voters[CF_MAX_MEMBERS], guardians[CF_MAX_GUARDIANS];
    uint64_t first_at[CF_TYPE_COUNT], last_at[CF_TYPE_COUNT];
    Cf__CaseRecord m = CF__CASE_RECORD__INIT;
    m.case_id = str(c->case_id);
    m.state = (uint32_t)c->state;
    m.la_code = str(c->la_code);
    m.jurisdiction = str(c->jurisdiction);
    m.referrer = str(c->referrer);
    m.opened_leaf = c->opened_leaf;
    m.updated_leaf = c->updated_leaf;
    m.urgency = (Cf__Urgency)c->urgency;
    m.immediate_risk = c->immediate_risk;
    opt_str(c->owner, &m.has_owner, &m.owner);
    opt_str(c->lead_staff_ref, &m.has_lead_staff_ref, &m.lead_staff_ref);
    opt_str(c->chair_staff_ref, &m.has_chair_staff_ref, &m.chair_staff_ref);
    for (size_t i = 0; i < c->n_members; i++) {
        cf__member__init(&members[i]);
        members[i].agency = str(c->members[i].agency);
        members[i].standing = (Cf__Standing)c->members[i].standing;
        member_ptrs[i] = &members[i];
    }
    m.n_members = c->n_members;
    m.members = member_ptrs;
    if (c->proposal_decision != CF_DECISION_NONE) {
        m.has_proposal_leaf = m.has_proposal_id = m.has_proposal_decision = 1;
        m.has_before_proposal = 1;
        m.proposal_leaf = c->proposal_leaf;
        m.proposal_id = bin(c->proposal_id, CF_MESSAGE_ID_LEN);
        m.proposal_decision = (Cf__Decision)c->proposal_decision;
        m.before_proposal = (uint32_t)c->before_proposal;
    }
    for (size_t i = 0; i < c->n_voters; i++)
        voters[i] = str(c->voters[i]);
    m.n_voters = c->n_voters;
    m.voters = voters;
    votes_out(c->votes, c->n_votes, votes, vote_ptrs);
    m.n_votes = c->n_votes;
    m.votes = vote_ptrs;
    memcpy(first_at, c->first_at, sizeof first_at);
    memcpy(last_at, c->last_at, sizeof last_at);
    m.n_first_at = m.n_last_at = CF_TYPE_COUNT;
    m.first_at = first_at;
    m.last_at = last_at;
    m.has_inquorate_at = c->inquorate_at != 0, m.inquorate_at = c->inquorate_at;
    m.has_transfer_at = c->transfer_at != 0, m.transfer_at = c->transfer_at;
    m.has_rg_at = c->rg_at != 0, m.rg_at = c->rg_at;
    m.has_cg_at = c->cg_at != 0, m.cg_at = c->cg_at;
    for (size_t i = 0; i < c->n_deadlines; i++) {
        const struct cf_case_deadline *d = &c->deadlines[i];
        cf__case_deadline__init(&deadlines[i]);
        deadlines[i].kind = (uint32_t)d->kind;
        deadlines[i].due = d->due;
        deadlines[i].near = d->near;
        deadlines[i].near_sent = d->near_sent;
        deadlines[i].breach_sent = d->breach_sent;
        deadline_ptrs[i] = &deadlines[i];
    }
    m.n_deadlines = c->n_deadlines;
    m.deadlines = deadline_ptrs;
    for (size_t i = 0; i < c->n_guardians; i++)
        guardians[i] = str(c->guardians[i]);
    m.n_guardians = c->n_guardians;
    m.guardians = guardians;
    return encode(&m.base, out, len);
}

static int case_from_pb(const Cf__CaseRecord *m, struct cf_case *c, struct cf_error *err)
{
    int rc;
    c->state = (enum cf_case_state)m->state;
    c->opened_leaf = m->opened_leaf;
    c->updated_leaf = m->updated_leaf;
    c->urgency = (enum cf_urgency)m->urgency;
    c->immediate_risk = m->immediate_risk;
    if ((rc = text_to_fixed(c->case_id, sizeof c->case_id, m->case_id, "case.case_id", err)) != 0 ||
        (rc = text_to_fixed(c->la_code, sizeof c->la_code, m->la_code, "case.la_code", err)) != 0 ||
        (rc = text_to_fixed(c->jurisdiction, sizeof c->jurisdiction, m->jurisdiction,
                            "case.jurisdiction", err)) != 0 ||
        (rc = text_to_fixed(c->referrer, sizeof c->referrer, m->referrer, "case.referrer", err)) !=
            0 ||
        (m->has_owner &&
         (rc = text_to_fixed(c->owner, sizeof c->owner, m->owner, "case.owner", err)) != 0) ||
        (m->has_lead_staff_ref &&
         (rc = text_to_fixed(c->lead_staff_ref, sizeof c->lead_staff_ref, m->lead_staff_ref,
                             "case.lead_staff_ref", err)) != 0) ||
        (m->has_chair_staff_ref &&
         (rc = text_to_fixed(c->chair_staff_ref, sizeof c->chair_staff_ref, m->chair_staff_ref,
                             "case.chair_staff_ref", err)) != 0))
        return rc;
    if (!fixed_ok(c->case_id, cf_header_case_id_valid))
        return cf_error_set(err, CF_EFIELD, "case.case_id: not a case id");
    /* An agency that joins a case late keeps it without knowing who referred it. */
    if ((c->referrer[0] && !fixed_ok(c->referrer, cf_header_id_valid)) ||
        (m->has_owner && !fixed_ok(c->owner, cf_header_id_valid)))
        return cf_error_set(err, CF_EID, "case: the referrer or owner is not an agency id");
    if (!cf_case_state_name(c->state) || c->state == CF_CASE_NONE)
        return cf_error_set(err, CF_EFIELD, "case.state: unknown");
    if (!cf_header_urgency_name(c->urgency) || c->urgency == CF_URGENCY_NONE)
        return cf_error_set(err, CF_EFIELD, "case.urgency: not immediate, urgent or routine");
    if (m->n_members > CF_MAX_MEMBERS || m->n_voters > CF_MAX_MEMBERS ||
        m->n_guardians > CF_MAX_GUARDIANS || m->n_deadlines > CF_DEADLINE_COUNT ||
        m->n_first_at > CF_TYPE_COUNT || m->n_last_at > CF_TYPE_COUNT)
        return cf_error_set(err, CF_ETOOBIG, "case: a list is over its limit");
    c->n_members = m->n_members;
    for (size_t i = 0; i < m->n_members; i++) {
        if ((rc = text_to_fixed(c->members[i].agency, sizeof c->members[i].agency,
                                m->members[i]->agency, "case.members[].agency", err)) != 0)
            return rc;
        if (!fixed_ok(c->members[i].agency, cf_header_id_valid))
            return cf_error_set(err, CF_EID, "case.members[%zu].agency: not an agency id", i);
        c->members[i].standing = (enum cf_standing)m->members[i]->standing;
        if (c->members[i].standing < CF_STANDING_VOTING ||
            c->members[i].standing > CF_STANDING_ADVISORY)
            return cf_error_set(err, CF_EFIELD, "case.members[%zu].standing: unknown", i);
    }
    if (m->has_proposal_id) {
        c->proposal_leaf = m->proposal_leaf;
        c->proposal_decision = (enum cf_decision)m->proposal_decision;
        c->before_proposal = (enum cf_case_state)m->before_proposal;
        /* A proposal without a decision encodes as none at all. */
        if (!cf_header_decision_name(c->proposal_decision) ||
            c->proposal_decision == CF_DECISION_NONE)
            return cf_error_set(err, CF_EFIELD, "case.proposal_decision: not rg or cg");
        if (!cf_case_state_name(c->before_proposal) || c->before_proposal == CF_CASE_NONE)
            return cf_error_set(err, CF_EFIELD, "case.before_proposal: unknown");
        if ((rc = bytes_exact(c->proposal_id, CF_MESSAGE_ID_LEN, m->proposal_id, "case.proposal_id",
                              err)) != 0)
            return rc;
    }
    c->n_voters = m->n_voters;
    for (size_t i = 0; i < m->n_voters; i++) {
        if ((rc = text_to_fixed(c->voters[i], sizeof c->voters[i], m->voters[i], "case.voters[]",
                                err)) != 0)
            return rc;
        if (!fixed_ok(c->voters[i], cf_header_id_valid))
            return cf_error_set(err, CF_EID, "case.voters[%zu]: not an agency id", i);
    }
    if ((rc = votes_in(m->votes, m->n_votes, c->votes, &c->n_votes, "case.votes", err)) != 0)
        return rc;
    if (m->n_first_at) /* protobuf-c leaves an empty repeated field's array NULL */
        memcpy(c->first_at, m->first_at, m->n_first_at * sizeof(uint64_t));
    if (m->n_last_at)
        memcpy(c->last_at, m->last_at, m->n_last_at * sizeof(uint64_t));
    c->inquorate_at = m->inquorate_at;
    c->transfer_at = m->transfer_at;
    c->rg_at = m->rg_at;
    c->cg_at = m->cg_at;
    c->n_deadlines = m->n_deadlines;
    for (size_t i = 0; i < m->n_deadlines; i++) {
        const Cf__CaseDeadline *d = m->deadlines[i];
        if (d->kind >= CF_DEADLINE_COUNT)
            return cf_error_set(err, CF_EFIELD, "case.deadlines[%zu].kind: unknown", i);
        c->deadlines[i] = (struct cf_case_deadline){(enum cf_deadline)d->kind, d->due, d->near,
                                                    d->near_sent, d->breach_sent};
    }
    c->n_guardians = m->n_guardians;
    for (size_t i = 0; i < m->n_guardians; i++) {
        if ((rc = text_to_fixed(c->guardians[i], sizeof c->guardians[i], m->guardians[i],
                                "case.guardians[]", err)) != 0)
            return rc;
        if (!fixed_ok(c->guardians[i], cf_header_id_valid))
            return cf_error_set(err, CF_EID, "case.guardians[%zu]: not an agency id", i);
    }
    return 0;
}

int cf_wire_case_decode(const uint8_t *buf, size_t len, struct cf_case *c, struct cf_error *err)
{
    memset(c, 0, sizeof *c);
    if (len > CF_MAX_HEADER * 4)
        return cf_error_set(err, CF_ETOOBIG, "case: %zu bytes", len);
    ProtobufCMessage *pm = NULL;
    int rc = decode(&cf__case_record__descriptor, buf, len, false, &pm, err);
    if (rc != 0)
        return rc;
    rc = case_from_pb((const Cf__CaseRecord *)pm, c, err);
    protobuf_c_message_free_unpacked(pm, &freeing);
    return rc;
}

/* ---- Determinations ---- */

int cf_wire_determination_encode(const struct cf_determination *d, uint8_t **out, size_t *len)
{
    if (d->n_votes > CF_MAX_MEMBERS || d->n_recipients > CF_MAX_RECIPIENTS)
        return CF_ETOOBIG;
    Cf__VoteRecord votes[CF_MAX_MEMBERS], *vote_ptrs[CF_MAX_MEMBERS];
    ProtobufCBinaryData recipients[CF_MAX_RECIPIENTS];
    Cf__NrmReturn nrm = CF__NRM_RETURN__INIT;
    Cf__KeyEntry nrm_key = CF__KEY_ENTRY__INIT;
    Cf__Determination m = CF__DETERMINATION__INIT;
    m.version = d->version;
    m.determination_id = bin(d->id, CF_MESSAGE_ID_LEN);
    m.case_id = str(d->case_id);
    m.proposal_id = bin(d->proposal_id, CF_MESSAGE_ID_LEN);
    m.proposal_leaf = d->proposal_leaf;
    m.proposal_hash = bin(d->proposal_hash, CF_HASH_LEN);
    m.decision = (Cf__Decision)d->decision;
    votes_out(d->votes, d->n_votes, votes, vote_ptrs);
    m.n_votes = d->n_votes;
    m.votes = vote_ptrs;
    m.directory_digest = bin(d->directory_digest, CF_HASH_LEN);
    m.created_at = d->created_at;
    for (size_t i = 0; i < d->n_recipients; i++)
        recipients[i] = str(d->recipients[i]);
    m.n_recipients = d->n_recipients;
    m.recipients = recipients;
    m.proposal_record = bin(d->proposal_record, d->proposal_record_len);
    if (d->has_nrm) {
        nrm.ciphertext = bin(d->nrm_ciphertext, d->nrm_ciphertext_len);
        nrm_key.recipient = str(d->nrm_key.recipient);
        nrm_key.sealed_key = bin(d->nrm_key.sealed, sizeof d->nrm_key.sealed);
        nrm.key = &nrm_key;
        nrm.commit = bin(d->nrm_commit, CF_HASH_LEN);
        m.nrm_return = &nrm;
    }
    return encode(&m.base, out, len);
}

static int determination_from_pb(const Cf__Determination *m, struct cf_determination *d,
                                 struct cf_error *err)
{
    int rc;
    d->version = m->version;
    d->proposal_leaf = m->proposal_leaf;
    d->decision = (enum cf_decision)m->decision;
    d->created_at = m->created_at;
    if ((rc = bytes_exact(d->id, CF_MESSAGE_ID_LEN, m->determination_id,
                          "determination.determination_id", err)) != 0 ||
        (rc = text_to_fixed(d->case_id, sizeof d->case_id, m->case_id, "determination.case_id",
                            err)) != 0 ||
        (rc = bytes_exact(d->proposal_id, CF_MESSAGE_ID_LEN, m->proposal_id,
                          "determination.proposal_id", err)) != 0 ||
        (rc = bytes_exact(d->proposal_hash, CF_HASH_LEN, m->proposal_hash,
                          "determination.proposal_hash", err)) != 0 ||
        (rc = bytes_exact(d->directory_digest, CF_HASH_LEN, m->directory_digest,
                          "determination.directory_digest", err)) != 0 ||
        (rc = votes_in(m->votes, m->n_votes, d->votes, &d->n_votes, "determination.votes", err)) !=
            0)
        return rc;
    if (d->version != CF_PROTOCOL_VERSION)
        return cf_error_set(err, CF_EVERSION, "determination.version: %u", d->version);
    if (!fixed_ok(d->case_id, cf_header_case_id_valid))
        return cf_error_set(err, CF_EFIELD, "determination.case_id: not a case id");
    if (!cf_header_decision_name(d->decision) || d->decision == CF_DECISION_NONE)
        return cf_error_set(err, CF_EFIELD, "determination.decision: not rg or cg");
    if (m->n_recipients > CF_MAX_RECIPIENTS)
        return cf_error_set(err, CF_ETOOBIG, "determination.recipients: %zu", m->n_recipients);
    d->n_recipients = m->n_recipients;
    for (size_t i = 0; i < m->n_recipients; i++) {
        if ((rc = text_to_fixed(d->recipients[i], sizeof d->recipients[i], m->recipients[i],
                                "determination.recipients[]", err)) != 0)
            return rc;
        if (!fixed_ok(d->recipients[i], cf_header_id_valid))
            return cf_error_set(err, CF_EID, "determination.recipients[%zu]: not an agency id", i);
    }
    d->proposal_record = m->proposal_record.data;
    d->proposal_record_len = m->proposal_record.len;
    if (m->nrm_return) {
        d->has_nrm = true;
        const Cf__NrmReturn *n = m->nrm_return;
        if (!ciphertext_shape_ok(n->ciphertext.len))
            return cf_error_set(err, CF_EFIELD,
                                "determination.nrm_return.ciphertext: %zu bytes is not a nonce, a "
                                "padding bucket and a tag",
                                n->ciphertext.len);
        d->nrm_ciphertext = n->ciphertext.data;
        d->nrm_ciphertext_len = n->ciphertext.len;
        if ((rc =
                 text_to_fixed(d->nrm_key.recipient, sizeof d->nrm_key.recipient, n->key->recipient,
                               "determination.nrm_return.key.recipient", err)) != 0 ||
            (rc = bytes_exact(d->nrm_key.sealed, sizeof d->nrm_key.sealed, n->key->sealed_key,
                              "determination.nrm_return.key.sealed_key", err)) != 0 ||
            (rc = bytes_exact(d->nrm_commit, CF_HASH_LEN, n->commit,
                              "determination.nrm_return.commit", err)) != 0)
            return rc;
        if (!fixed_ok(d->nrm_key.recipient, cf_header_id_valid))
            return cf_error_set(err, CF_EID,
                                "determination.nrm_return.key.recipient: not an agency id");
    }
    return 0;
}

int cf_wire_determination_decode(const uint8_t *buf, size_t len, struct cf_determination *d,
                                 struct cf_error *err)
{
    memset(d, 0, sizeof *d);
    if (len > CF_MAX_ENVELOPE)
        return cf_error_set(err, CF_ETOOBIG, "determination: %zu bytes, at most %u", len,
                            CF_MAX_ENVELOPE);
    ProtobufCMessage *pm = NULL;
    int rc = decode(&cf__determination__descriptor, buf, len, true, &pm, err);
    if (rc != 0)
        return rc;
    d->owner = pm;
    return determination_from_pb((const Cf__Determination *)pm, d, err);
}

void cf_wire_determination_fini(struct cf_determination *d)
{
    if (d->owner)
        protobuf_c_message_free_unpacked(d->owner, &freeing);
    memset(d, 0, sizeof *d);
}

/* ---- Agent outbox entries ---- */

int cf_wire_outbox_encode(const struct cf_outbox_entry *e, uint8_t **out, size_t *len)
{
    Cf__OutboxEntry m = CF__OUTBOX_ENTRY__INIT;
    m.envelope = bin(e->envelope, e->envelope_len);
    if (e->spool_file[0])
        m.has_spool_file = 1, m.spool_file = str(e->spool_file);
    m.queued_at = e->queued_at;
    return encode(&m.base, out, len);
}

int cf_wire_outbox_decode(const uint8_t *buf, size_t len, struct cf_outbox_entry *e,
                          uint8_t **envelope_copy, struct cf_error *err)
{
    memset(e, 0, sizeof *e);
    *envelope_copy = NULL;
    /* An envelope, the spool file's name and a time. */
    if (len > CF_MAX_ENVELOPE + 1024u)
        return cf_error_set(err, CF_ETOOBIG, "outbox: %zu bytes, at most %u allowed", len,
                            CF_MAX_ENVELOPE + 1024u);
    ProtobufCMessage *pm = NULL;
    int rc = decode(&cf__outbox_entry__descriptor, buf, len, false, &pm, err);
    if (rc != 0)
        return rc;
    const Cf__OutboxEntry *m = (const Cf__OutboxEntry *)pm;
    e->queued_at = m->queued_at;
    if (m->has_spool_file)
        rc = text_to_fixed(e->spool_file, sizeof e->spool_file, m->spool_file, "outbox.spool_file",
                           err);
    if (rc == 0) {
        *envelope_copy = malloc(m->envelope.len ? m->envelope.len : 1);
        if (!*envelope_copy)
            rc = cf_error_set(err, CF_ENOMEM, "outbox: out of memory");
        else {
            if (m->envelope.len)
                memcpy(*envelope_copy, m->envelope.data, m->envelope.len);
            e->envelope = *envelope_copy;
            e->envelope_len = m->envelope.len;
        }
    }
    protobuf_c_message_free_unpacked(pm, &freeing);
    return rc;
}
