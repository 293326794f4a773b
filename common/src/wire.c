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
        return cf_error_set(err, CF_EDECODE, "%s: does not decode", desc->short_name);
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

static ProtobufCBinaryData bin(const void *p, size_t n)
{
    return (ProtobufCBinaryData){n, (uint8_t *)p};
}

static ProtobufCBinaryData str(const char *s)
{
    return bin(s, strlen(s));
}

/* ---- Header ---- */

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
        if ((rc = bytes_exact(h->vote.proposal_id, sizeof h->vote.proposal_id,
                              m->vote->proposal_id, "header.vote.proposal_id", err)) != 0 ||
            (rc = bytes_exact(h->vote.signature, sizeof h->vote.signature, m->vote->signature,
                              "header.vote.signature", err)) != 0)
            return rc;
    }
    return 0;
}

int cf_wire_header_decode(const uint8_t *buf, size_t len, struct cf_header *h,
                          struct cf_error *err)
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
        rc = cf_error_set(err, CF_EFIELD,
                          "envelope.ciphertext: %zu bytes is not a nonce, a padding bucket and a tag",
                          m->ciphertext.len);
        goto out;
    }
    if (m->n_keys == 0 || m->n_keys > CF_MAX_RECIPIENTS) {
        rc = cf_error_set(err, CF_ETOOBIG, "envelope.keys: %zu entries, 1 to %d allowed",
                          m->n_keys, CF_MAX_RECIPIENTS);
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
        (rc = bytes_exact(env->signature, sizeof env->signature, m->signature,
                          "envelope.signature", err)) != 0)
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
        (rc = list_in(m->exploitation, "exploitation", &r->exploitation,
                      err)) != 0 ||
        (rc = list_in(m->indicators, "indicators", &r->indicators, err)) != 0 ||
        (rc = text_in(m->has_narrative, m->narrative, "narrative", &r->narrative, err)) != 0 ||
        (rc = text_in(m->has_first_concern_date, m->first_concern_date, "first_concern_date",
                      &r->first_concern_date, err)) != 0 ||
        (rc = list_in(m->other_agencies, "other_agencies", &r->other_agencies,
                      err)) != 0)
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
