/* The signed directory: checks the authority's signature before parsing either
 * file, then reads the agencies into an array sorted by id. Hash sets catch repeated
 * ids and keys in one pass, so each error names the line where the repeat occurs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "childfirst/directory.h"
#include "childfirst/file.h"
#include "childfirst/ini.h"

/* The signed message: tag (with its NUL) || serial (8 bytes, big-endian) ||
 * B(agencies.ini) || B(policy.ini). */
static const char sign_tag[] = "childfirst/v1/directory";
#define SIGNED_LEN (sizeof sign_tag + 8 + 2 * CF_HASH_LEN)

/* Serials run from 1 to 2^63, so they survive a signed 64-bit store anywhere. */
#define SERIAL_MAX (1ull << 63)

/* The .sig file is three short lines; anything larger is not one. */
#define SIG_FILE_MAX 4096

static const char sig_suffix[] = ".sig";

/* Ids that name the broker's and the authority's own keys, never an agency. */
static const char *const reserved_ids[] = {"broker", "authority"};

/* The names files go by in messages: the paths given, or the bare file names
 * for a bundle held in memory. */
struct names {
    const char *agencies, *policy, *sig;
};

static void signed_message(uint64_t serial, const struct cf_bundle *b, uint8_t out[SIGNED_LEN])
{
    uint8_t *p = out;
    memcpy(p, sign_tag, sizeof sign_tag);
    p += sizeof sign_tag;
    for (int i = 7; i >= 0; i--)
        *p++ = (uint8_t)(serial >> (8 * i));
    crypto_generichash(p, CF_HASH_LEN, b->agencies, b->agencies_len, NULL, 0);
    crypto_generichash(p + CF_HASH_LEN, CF_HASH_LEN, b->policy, b->policy_len, NULL, 0);
}

/* The number of the file's last line, for errors about something it lacks. */
static unsigned last_line(const uint8_t *buf, size_t len)
{
    unsigned n = 0;
    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\n';
    if (len > 0 && buf[len - 1] != '\n')
        n++;
    return n ? n : 1;
}

/* ---- agencies.ini.sig -------------------------------------------------- */

struct sig_fields {
    uint64_t serial;
    uint8_t signature[CF_SIG_LEN];
    unsigned serial_line, signature_line;
};

static int on_sig_key(void *user, const char *section, const char *key, const char *value,
                      unsigned line, struct cf_error *err)
{
    struct sig_fields *s = user;
    if (!key)
        return cf_error_set(err, CF_EUNKNOWNKEY,
                            "[%s]: the signature file has no sections, only serial and signature",
                            section);
    if (strcmp(key, "serial") == 0) {
        if (s->serial_line)
            return cf_error_set(err, CF_EDUPKEY, "serial is repeated; it was first set on line %u",
                                s->serial_line);
        s->serial_line = line;
        unsigned long long v;
        int rc = cf_ini_uint(key, value, SERIAL_MAX, &v, err);
        if (rc != 0)
            return rc;
        if (v == 0)
            return cf_error_set(err, CF_EVALUE, "serial: serials start at 1");
        s->serial = v;
        return 0;
    }
    if (strcmp(key, "signature") == 0) {
        if (s->signature_line)
            return cf_error_set(err, CF_EDUPKEY,
                                "signature is repeated; it was first set on line %u",
                                s->signature_line);
        s->signature_line = line;
        if (!cf_keys_b64_exact(value, strlen(value), s->signature, sizeof s->signature))
            return cf_error_set(err, CF_EVALUE,
                                "signature: not the base64 of a %d-byte Ed25519 signature",
                                CF_SIG_LEN);
        return 0;
    }
    return cf_error_set(err, CF_EUNKNOWNKEY,
                        "unknown key '%s'; the signature file holds serial and signature only",
                        key);
}

static int parse_sig(const char *name, const struct cf_bundle *b, struct sig_fields *s,
                     struct cf_error *err)
{
    memset(s, 0, sizeof *s);
    int rc = cf_ini_parse(name, (const char *)b->sig, b->sig_len, on_sig_key, s, err);
    if (rc != 0)
        return rc;
    const char *missing = !s->serial_line ? "serial" : !s->signature_line ? "signature" : NULL;
    if (missing)
        return cf_error_set(err, CF_EVALUE, "%s:%u: the file ends without '%s = '", name,
                            last_line(b->sig, b->sig_len), missing);
    return 0;
}

/* ---- agencies.ini ------------------------------------------------------ */

enum agency_key {
    AK_NAME,
    AK_ROLES,
    AK_JURISDICTION,
    AK_AREAS,
    AK_SIGN,
    AK_BOX,
    AK_CURVE,
    AK_COUNT
};

/* The three public keys, in the order of AK_SIGN.. AK_CURVE. */
#define N_PUBLIC_KEYS 3

/* Where an agency's section and keys appeared; 0 means not seen. */
struct agency_lines {
    unsigned header;
    unsigned key[AK_COUNT];
};

/* Open-addressing sets holding index + 1 (0 is an empty slot), sized at least
 * twice their most entries so probes stay short. */
#define ID_SLOTS 8192u
#define KEY_SLOTS 32768u
_Static_assert(ID_SLOTS >= 2 * CF_MAX_AGENCIES, "ID_SLOTS too small");
_Static_assert(KEY_SLOTS >= 2 * N_PUBLIC_KEYS * CF_MAX_AGENCIES, "KEY_SLOTS too small");

struct reader {
    const struct cf_policy *policy;
    struct cf_agency *agencies; /* in file order while reading */
    struct agency_lines *lines;
    size_t n, cap;
    uint32_t *id_slots;
    uint32_t *key_slots;
};

struct agency_key_def {
    const char *name;
    int (*parse)(struct reader *r, struct cf_agency *a, const char *value, struct cf_error *err);
    bool required;
    bool repeats; /* may appear on several lines, adding to what came before */
};

static const char *const public_key_names[N_PUBLIC_KEYS] = {"sign_key", "box_key", "curve_key"};

static uint8_t *public_key(struct cf_agency *a, int which)
{
    return which == 0 ? a->sign_pk : which == 1 ? a->box_pk : a->curve_pk;
}

/* FNV-1a: ids are short and come from a file the authority signed. */
static uint32_t id_hash(const char *id)
{
    uint32_t h = 2166136261u;
    for (; *id; id++)
        h = (h ^ (uint8_t)*id) * 16777619u;
    return h;
}

/* Records `id` as agency `idx` and returns -1, or returns the index of the
 * agency that already holds it. */
static long id_claim(struct reader *r, const char *id, size_t idx)
{
    for (uint32_t s = id_hash(id) & (ID_SLOTS - 1);; s = (s + 1) & (ID_SLOTS - 1)) {
        uint32_t e = r->id_slots[s];
        if (e == 0) {
            r->id_slots[s] = (uint32_t)idx + 1;
            return -1;
        }
        if (strcmp(r->agencies[e - 1].id, id) == 0)
            return (long)(e - 1);
    }
}

/* Records key `which` of the newest agency, refusing it if any key anywhere in
 * the directory, including this agency's other two, already has the same bytes:
 * the design asks for three independently generated pairs per agency. */
static int key_claim(struct reader *r, int which, struct cf_error *err)
{
    size_t idx = r->n - 1;
    struct cf_agency *a = &r->agencies[idx];
    const uint8_t *k = public_key(a, which);
    uint32_t h;
    memcpy(&h, k, sizeof h); /* public keys are uniformly random bytes */
    for (uint32_t s = h & (KEY_SLOTS - 1);; s = (s + 1) & (KEY_SLOTS - 1)) {
        uint32_t e = r->key_slots[s];
        if (e == 0) {
            r->key_slots[s] = (uint32_t)(idx * N_PUBLIC_KEYS + (size_t)which) + 1;
            return 0;
        }
        size_t other = (e - 1) / N_PUBLIC_KEYS;
        int other_which = (int)((e - 1) % N_PUBLIC_KEYS);
        if (memcmp(public_key(&r->agencies[other], other_which), k, 32) == 0)
            return cf_error_set(err, CF_EKEYREUSE,
                                "%s of [%s] is also the %s of [%s] on line %u; every key pair "
                                "must be generated on its own",
                                public_key_names[which], a->id, public_key_names[other_which],
                                r->agencies[other].id, r->lines[other].key[AK_SIGN + other_which]);
    }
}

static int parse_name(struct reader *r, struct cf_agency *a, const char *value,
                      struct cf_error *err)
{
    (void)r;
    size_t len = strlen(value);
    if (len < 1 || len > CF_AGENCY_NAME_MAX)
        return cf_error_set(err, CF_EVALUE, "name: give 1 to %d characters (this has %zu)",
                            CF_AGENCY_NAME_MAX, len);
    memcpy(a->name, value, len + 1);
    return 0;
}

/* Copies the next space-separated word at *p into `word` (cut to `cap` - 1
 * bytes); returns its full length, 0 at the end of the value. */
static size_t next_word(const char **p, char *word, size_t cap)
{
    const char *s = *p + strspn(*p, " \t");
    size_t len = strcspn(s, " \t");
    size_t keep = len < cap ? len : cap - 1;
    memcpy(word, s, keep);
    word[keep] = 0;
    *p = s + len;
    return len;
}

static int parse_roles(struct reader *r, struct cf_agency *a, const char *value,
                       struct cf_error *err)
{
    (void)r;
    return cf_policy_roles_parse("roles", value, false, &a->roles, err);
}

static int parse_jurisdiction(struct reader *r, struct cf_agency *a, const char *value,
                              struct cf_error *err)
{
    const struct cf_jurisdiction *j = cf_policy_jurisdiction(r->policy, value);
    if (!j) {
        char known[CF_MAX_JURISDICTIONS * (CF_JURISDICTION_MAX + 2) + 1];
        size_t n = 0;
        known[0] = 0;
        for (size_t i = 0; i < r->policy->n_jurisdictions; i++)
            n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", i ? " " : "",
                                  r->policy->jurisdictions[i].name);
        return cf_error_set(err, CF_EVALUE,
                            "jurisdiction: '%s' is not a jurisdiction of the policy (%s)", value,
                            known);
    }
    memcpy(a->jurisdiction, j->name, sizeof a->jurisdiction);
    return 0;
}

/* May repeat over several lines: a large force or charity serves more areas
 * than fit on one 200-character line. */
static int parse_areas(struct reader *r, struct cf_agency *a, const char *value,
                       struct cf_error *err)
{
    (void)r;
    char word[CF_LA_CODE_LEN + 8];
    const char *p = value;
    size_t added = 0;
    for (size_t len; (len = next_word(&p, word, sizeof word)) != 0; added++) {
        if (len >= sizeof word || !cf_header_la_code_valid(word, len))
            return cf_error_set(err, CF_EVALUE, "areas: '%s' is not an LA code such as E09000033",
                                word);
        for (size_t i = 0; i < a->n_areas; i++)
            if (strcmp(a->areas[i], word) == 0)
                return cf_error_set(err, CF_EVALUE, "areas: %s is already listed", word);
        if (a->n_areas == CF_MAX_AREAS)
            return cf_error_set(err, CF_ETOOBIG, "areas: more than %d LA codes", CF_MAX_AREAS);
        memcpy(a->areas[a->n_areas++], word, CF_LA_CODE_LEN + 1);
    }
    if (added == 0)
        return cf_error_set(err, CF_EVALUE, "areas: name at least one LA code");
    return 0;
}

static int parse_public_key(struct reader *r, struct cf_agency *a, int which, const char *value,
                            struct cf_error *err)
{
    int rc = which == 2 ? cf_keys_z85_decode(value, public_key(a, which))
                        : cf_keys_b64_decode(value, public_key(a, which));
    if (rc != 0)
        return cf_error_set(err, CF_EVALUE, "%s: not the %s of a 32-byte key",
                            public_key_names[which], which == 2 ? "Z85 text" : "base64");
    return key_claim(r, which, err);
}

static int parse_sign(struct reader *r, struct cf_agency *a, const char *value,
                      struct cf_error *err)
{
    return parse_public_key(r, a, 0, value, err);
}

static int parse_box(struct reader *r, struct cf_agency *a, const char *value, struct cf_error *err)
{
    return parse_public_key(r, a, 1, value, err);
}

static int parse_curve(struct reader *r, struct cf_agency *a, const char *value,
                       struct cf_error *err)
{
    return parse_public_key(r, a, 2, value, err);
}

static const struct agency_key_def agency_keys[AK_COUNT] = {
    [AK_NAME] = {"name", parse_name, true, false},
    [AK_ROLES] = {"roles", parse_roles, true, false},
    [AK_JURISDICTION] = {"jurisdiction", parse_jurisdiction, true, false},
    [AK_AREAS] = {"areas", parse_areas, false, true},
    [AK_SIGN] = {"sign_key", parse_sign, true, false},
    [AK_BOX] = {"box_key", parse_box, true, false},
    [AK_CURVE] = {"curve_key", parse_curve, true, false},
};

static int on_agency_section(struct reader *r, const char *id, unsigned line, struct cf_error *err)
{
    size_t len = strlen(id);
    if (!cf_header_id_valid(id, len))
        return cf_error_set(err, CF_EID, "[%s]: an agency id is 3 to %d of a-z, 0-9 and -", id,
                            CF_ID_MAX);
    for (size_t i = 0; i < sizeof reserved_ids / sizeof reserved_ids[0]; i++)
        if (strcmp(id, reserved_ids[i]) == 0)
            return cf_error_set(err, CF_EID,
                                "[%s]: the id is reserved for the %s's own keys, not an agency", id,
                                id);
    if (r->n == CF_MAX_AGENCIES)
        return cf_error_set(err, CF_ETOOBIG, "[%s]: more than %d agencies", id, CF_MAX_AGENCIES);
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        struct cf_agency *agencies = realloc(r->agencies, cap * sizeof *agencies);
        if (!agencies)
            return cf_error_set(err, CF_ENOMEM, "out of memory");
        r->agencies = agencies;
        struct agency_lines *lines = realloc(r->lines, cap * sizeof *lines);
        if (!lines)
            return cf_error_set(err, CF_ENOMEM, "out of memory");
        r->lines = lines;
        r->cap = cap;
    }
    struct cf_agency *a = &r->agencies[r->n];
    memset(a, 0, sizeof *a);
    memcpy(a->id, id, len + 1);
    long first = id_claim(r, id, r->n);
    if (first >= 0)
        return cf_error_set(err, CF_EDUPKEY, "[%s] is repeated; it was first defined on line %u",
                            id, r->lines[first].header);
    r->lines[r->n] = (struct agency_lines){.header = line};
    r->n++;
    return 0;
}

static int on_agency_key(void *user, const char *section, const char *key, const char *value,
                         unsigned line, struct cf_error *err)
{
    struct reader *r = user;
    if (!key)
        return on_agency_section(r, section, line, err);
    if (r->n == 0)
        return cf_error_set(err, CF_EUNKNOWNKEY,
                            "'%s' is outside any section; start each agency with [its-id]", key);
    struct cf_agency *a = &r->agencies[r->n - 1];
    struct agency_lines *lines = &r->lines[r->n - 1];
    for (int i = 0; i < AK_COUNT; i++) {
        const struct agency_key_def *k = &agency_keys[i];
        if (strcmp(k->name, key) != 0)
            continue;
        if (lines->key[i] && !k->repeats)
            return cf_error_set(err, CF_EDUPKEY,
                                "'%s' is repeated in [%s]; it was first set on "
                                "line %u",
                                key, a->id, lines->key[i]);
        if (!lines->key[i])
            lines->key[i] = line;
        return k->parse(r, a, value, err);
    }
    return cf_error_set(err, CF_EUNKNOWNKEY,
                        "[%s] has no key '%s'; an agency has name, roles, jurisdiction, areas, "
                        "sign_key, box_key and curve_key",
                        a->id, key);
}

static int by_id(const void *x, const void *y)
{
    const struct cf_agency *const *a = x, *const *b = y;
    return strcmp((*a)->id, (*b)->id);
}

/* Parses agencies.ini against the policy. On success *out holds the agencies
 * sorted by id; caller owns it; free with free(). */
static int parse_agencies(const char *name, const uint8_t *buf, size_t len,
                          const struct cf_policy *policy, struct cf_agency **out, size_t *n_out,
                          struct cf_error *err)
{
    struct reader r = {.policy = policy};
    struct cf_agency **order = NULL, *sorted = NULL;
    int rc = 0;
    r.id_slots = calloc(ID_SLOTS, sizeof *r.id_slots);
    r.key_slots = calloc(KEY_SLOTS, sizeof *r.key_slots);
    if (!r.id_slots || !r.key_slots) {
        rc = cf_error_set(err, CF_ENOMEM, "%s: out of memory", name);
        goto out;
    }
    rc = cf_ini_parse(name, (const char *)buf, len, on_agency_key, &r, err);
    if (rc != 0)
        goto out;
    /* A missing key is named at its agency's [section] line: there is no line of its own. */
    for (size_t i = 0; i < r.n; i++)
        for (int k = 0; k < AK_COUNT; k++)
            if (agency_keys[k].required && !r.lines[i].key[k]) {
                rc = cf_error_set(err, CF_EVALUE, "%s:%u: [%s] has no %s", name, r.lines[i].header,
                                  r.agencies[i].id, agency_keys[k].name);
                goto out;
            }
    /* Sort pointers, then copy once: an agency is kilobytes, so swapping them
     * in place would move far more memory. */
    order = malloc((r.n ? r.n : 1) * sizeof *order);
    sorted = malloc((r.n ? r.n : 1) * sizeof *sorted);
    if (!order || !sorted) {
        rc = cf_error_set(err, CF_ENOMEM, "%s: out of memory", name);
        goto out;
    }
    for (size_t i = 0; i < r.n; i++)
        order[i] = &r.agencies[i];
    qsort(order, r.n, sizeof *order, by_id);
    for (size_t i = 0; i < r.n; i++)
        sorted[i] = *order[i];
    *out = sorted;
    *n_out = r.n;
    sorted = NULL;
out:
    free(sorted);
    free(order);
    free(r.agencies);
    free(r.lines);
    free(r.id_slots);
    free(r.key_slots);
    return rc;
}

/* ---- Both files together ----------------------------------------------- */

struct find_line {
    const char *section, *key;
    unsigned line;
};

static int on_find_line(void *user, const char *section, const char *key, const char *value,
                        unsigned line, struct cf_error *err)
{
    struct find_line *f = user;
    (void)value;
    (void)err;
    if (key && !f->line && strcmp(section, f->section) == 0 && strcmp(key, f->key) == 0)
        f->line = line;
    return 0;
}

/* The line of `key` in [section] of a file that has already parsed cleanly:
 * struct cf_policy keeps no lines, and only an error needs one. */
static unsigned line_of(const char *name, const uint8_t *buf, size_t len, const char *section,
                        const char *key)
{
    struct find_line f = {.section = section, .key = key};
    struct cf_error scratch;
    if (cf_ini_parse(name, (const char *)buf, len, on_find_line, &f, &scratch) != 0)
        return 0;
    return f.line;
}

/* An escrow must be an auditor of this directory: referrals are copied to it. */
static int check_escrows(const struct names *nm, const struct cf_bundle *b,
                         const struct cf_directory *d, struct cf_error *err)
{
    for (size_t i = 0; i < d->policy->n_jurisdictions; i++) {
        const struct cf_jurisdiction *j = &d->policy->jurisdictions[i];
        if (!j->escrow[0])
            continue;
        const struct cf_agency *a = cf_directory_find(d, j->escrow);
        if (a && (a->roles & (1u << CF_ROLE_AUDITOR)))
            continue;
        unsigned line = line_of(nm->policy, b->policy, b->policy_len, j->name, "escrow");
        if (!a)
            return cf_error_set(err, CF_EVALUE,
                                "%s:%u: escrow of [%s] names %s, which is not in %s", nm->policy,
                                line, j->name, j->escrow, nm->agencies);
        return cf_error_set(err, CF_EVALUE,
                            "%s:%u: escrow of [%s] names %s, which lacks the auditor role in %s",
                            nm->policy, line, j->name, j->escrow, nm->agencies);
    }
    return 0;
}

/* Parses policy.ini, then agencies.ini against it, then what spans both, into
 * d->policy and d->agencies. */
static int parse_files(const struct names *nm, const struct cf_bundle *b, struct cf_directory *d,
                       struct cf_error *err)
{
    int rc = cf_policy_parse(nm->policy, (const char *)b->policy, b->policy_len, &d->policy, err);
    if (rc == 0)
        rc = parse_agencies(nm->agencies, b->agencies, b->agencies_len, d->policy, &d->agencies,
                            &d->n_agencies, err);
    if (rc == 0)
        rc = check_escrows(nm, b, d, err);
    return rc;
}

/* Verifies and parses the bundle already held in d->bundle. */
static int load(struct cf_directory *d, const struct names *nm,
                const uint8_t authority_pk[CF_SIGN_PK], uint64_t min_serial, struct cf_error *err)
{
    struct sig_fields s;
    int rc = parse_sig(nm->sig, &d->bundle, &s, err);
    if (rc != 0)
        return rc;
    uint8_t msg[SIGNED_LEN];
    signed_message(s.serial, &d->bundle, msg);
    if (authority_pk &&
        crypto_sign_verify_detached(s.signature, msg, sizeof msg, authority_pk) != 0)
        return cf_error_set(err, CF_ESIG,
                            "%s:%u: the authority signature does not verify: either the authority "
                            "key configured here is not the one that signed, or %s or %s changed "
                            "after signing (sign again with `childfirst directory sign`)",
                            nm->sig, s.signature_line, nm->agencies, nm->policy);
    if (s.serial < min_serial)
        return cf_error_set(err, CF_ESERIAL,
                            "%s:%u: serial %llu is lower than %llu, the highest already seen; "
                            "refusing to go back to an older directory",
                            nm->sig, s.serial_line, (unsigned long long)s.serial,
                            (unsigned long long)min_serial);
    d->serial = s.serial;
    crypto_generichash(d->digest, sizeof d->digest, msg, sizeof msg, NULL, 0);
    return parse_files(nm, &d->bundle, d, err);
}

/* A copy with a NUL after the last byte, as cf_file_read gives. */
static uint8_t *copy_bytes(const uint8_t *src, size_t len)
{
    uint8_t *p = malloc(len + 1);
    if (p) {
        if (len)
            memcpy(p, src, len);
        p[len] = 0;
    }
    return p;
}

/* Copies and loads a bundle; a NULL authority_pk skips the signature. */
static int load_copy(const struct cf_bundle *in, const uint8_t *authority_pk, uint64_t min_serial,
                     struct cf_directory **out, struct cf_error *err)
{
    static const struct names nm = {"agencies.ini", "policy.ini", "agencies.ini.sig"};
    struct cf_directory *d = calloc(1, sizeof *d);
    if (!d)
        return cf_error_set(err, CF_ENOMEM, "out of memory");
    struct cf_bundle *b = &d->bundle;
    b->agencies = copy_bytes(in->agencies, in->agencies_len);
    b->policy = copy_bytes(in->policy, in->policy_len);
    b->sig = copy_bytes(in->sig, in->sig_len);
    b->agencies_len = in->agencies_len;
    b->policy_len = in->policy_len;
    b->sig_len = in->sig_len;
    int rc = !b->agencies || !b->policy || !b->sig ? cf_error_set(err, CF_ENOMEM, "out of memory")
                                                   : load(d, &nm, authority_pk, min_serial, err);
    if (rc != 0)
        cf_directory_destroy(&d);
    *out = d;
    return rc;
}

int cf_directory_load_mem(const struct cf_bundle *in, const uint8_t authority_pk[CF_SIGN_PK],
                          uint64_t min_serial, struct cf_directory **out, struct cf_error *err)
{
    *out = NULL;
    if (!authority_pk)
        return cf_error_set(err, CF_EINVAL, "no authority key to check the directory against");
    return load_copy(in, authority_pk, min_serial, out, err);
}

int cf_directory_load_logged(const struct cf_bundle *in, struct cf_directory **out,
                             struct cf_error *err)
{
    return load_copy(in, NULL, 0, out, err);
}

/* AGENCIES_PATH.sig; caller owns the result; free with free(). */
static char *sig_path_of(const char *agencies_path)
{
    size_t len = strlen(agencies_path);
    char *p = malloc(len + sizeof sig_suffix);
    if (p) {
        memcpy(p, agencies_path, len);
        memcpy(p + len, sig_suffix, sizeof sig_suffix);
    }
    return p;
}

int cf_directory_load(const char *agencies_path, const char *policy_path,
                      const uint8_t authority_pk[CF_SIGN_PK], uint64_t min_serial,
                      struct cf_directory **out, struct cf_error *err)
{
    *out = NULL;
    if (!authority_pk)
        return cf_error_set(err, CF_EINVAL, "no authority key to check the directory against");
    struct cf_directory *d = calloc(1, sizeof *d);
    char *sig_path = sig_path_of(agencies_path);
    int rc = 0;
    if (!d || !sig_path) {
        rc = cf_error_set(err, CF_ENOMEM, "out of memory");
        goto out;
    }
    struct cf_bundle *b = &d->bundle;
    rc = cf_file_read(sig_path, SIG_FILE_MAX, &b->sig, &b->sig_len, err);
    if (rc == 0)
        rc = cf_file_read(agencies_path, CF_MAX_INI_FILE, &b->agencies, &b->agencies_len, err);
    if (rc == 0)
        rc = cf_file_read(policy_path, CF_MAX_INI_FILE, &b->policy, &b->policy_len, err);
    if (rc == 0) {
        const struct names nm = {agencies_path, policy_path, sig_path};
        rc = load(d, &nm, authority_pk, min_serial, err);
    }
out:
    if (rc != 0)
        cf_directory_destroy(&d);
    *out = d;
    free(sig_path);
    return rc;
}

void cf_directory_destroy(struct cf_directory **dir)
{
    if (!dir || !*dir)
        return;
    struct cf_directory *d = *dir;
    free(d->bundle.agencies);
    free(d->bundle.policy);
    free(d->bundle.sig);
    cf_policy_destroy(&d->policy);
    free(d->agencies);
    free(d);
    *dir = NULL;
}

int cf_directory_sign(const char *agencies_path, const char *policy_path,
                      const struct cf_keys *authority, uint64_t serial, struct cf_error *err)
{
    if (!authority || authority->kind != CF_KEYS_AUTHORITY)
        return cf_error_set(err, CF_EKEYFILE,
                            "the directory is signed with the authority's key only");
    if (serial == 0 || serial > SERIAL_MAX)
        return cf_error_set(err, CF_EVALUE, "serial %llu is out of range: use 1 to 2^63",
                            (unsigned long long)serial);
    struct cf_directory d = {0};
    struct cf_bundle *b = &d.bundle;
    char *sig_path = sig_path_of(agencies_path);
    int rc = 0;
    if (!sig_path) {
        rc = cf_error_set(err, CF_ENOMEM, "out of memory");
        goto out;
    }
    rc = cf_file_read(agencies_path, CF_MAX_INI_FILE, &b->agencies, &b->agencies_len, err);
    if (rc == 0)
        rc = cf_file_read(policy_path, CF_MAX_INI_FILE, &b->policy, &b->policy_len, err);
    if (rc == 0) {
        const struct names nm = {agencies_path, policy_path, sig_path};
        rc = parse_files(&nm, b, &d, err);
    }
    if (rc != 0)
        goto out;
    /* The signature covers the very bytes just parsed, not a second read. */
    uint8_t msg[SIGNED_LEN], sig[CF_SIG_LEN];
    signed_message(serial, b, msg);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, authority->sign_sk);
    char b64[sodium_base64_ENCODED_LEN(CF_SIG_LEN, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
    char text[256];
    int len = snprintf(text, sizeof text,
                       "; ChildFirst directory signature, made by `childfirst directory sign`\n"
                       "serial = %llu\n"
                       "signature = %s\n",
                       (unsigned long long)serial, b64);
    if (len < 0 || (size_t)len >= sizeof text) {
        rc = cf_error_set(err, CF_ETOOBIG, "%s: the signature text does not fit", sig_path);
        goto out;
    }
    rc = cf_file_write_atomic(sig_path, text, (size_t)len, 0644, err);
out:
    free(b->agencies);
    free(b->policy);
    cf_policy_destroy(&d.policy);
    free(d.agencies);
    free(sig_path);
    return rc;
}

static int id_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct cf_agency *)elem)->id);
}

const struct cf_agency *cf_directory_find(const struct cf_directory *dir, const char *id)
{
    if (!dir || !id || dir->n_agencies == 0)
        return NULL;
    return bsearch(id, dir->agencies, dir->n_agencies, sizeof *dir->agencies, id_cmp);
}

const struct cf_agency *cf_directory_find_curve(const struct cf_directory *dir,
                                                const uint8_t curve_pk[CF_CURVE_KEY])
{
    for (size_t i = 0; dir && i < dir->n_agencies; i++)
        if (memcmp(dir->agencies[i].curve_pk, curve_pk, CF_CURVE_KEY) == 0)
            return &dir->agencies[i];
    return NULL;
}

bool cf_directory_serves(const struct cf_agency *agency, const char *la_code)
{
    for (size_t i = 0; agency && la_code && i < agency->n_areas; i++)
        if (strcmp(agency->areas[i], la_code) == 0)
            return true;
    return false;
}
