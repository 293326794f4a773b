/* Directory tests: sign and load a real directory in a temporary folder, then
 * break it every way DESIGN.md section 3 forbids. Each broken agencies.ini is
 * refused by `sign` and, signed here by an independent writer of the .sig
 * layout, by both loaders, with the exact code at the exact line. */
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
#include <sodium.h>

#include "childfirst/directory.h"
#include "childfirst/file.h"
#include "childfirst/keys.h"

#define N_AGENCIES 3

static const char *const agency_ids[N_AGENCIES] = {"police-met", "la-e09000033-csc",
                                                   "guardian-ictg"};

static const char policy_text[] =
    "[policy]\n"                                                 /* 1 */
    "max_clock_skew_seconds = 300\n"                             /* 2 */
    "max_message_age_hours = 336\n"                              /* 3 */
    "undelivered.immediate = 15 minutes\n"                       /* 4 */
    "undelivered.urgent = 4 hours\n"                             /* 5 */
    "undelivered.routine = 1 working_days\n"                     /* 6 */
    "non_delivery_report = 5 calendar_days\n"                    /* 7 */
    "[message.referral]\n"                                       /* 8 */
    "senders = first_responder\n"                                /* 9 */
    "recipients = area:children_services area:guardian escrow\n" /* 10 */
    "[england-wales]\n"                                          /* 11 */
    "la_prefixes = E W\n"                                        /* 12 */
    "calendar = england-wales\n"                                 /* 13 */
    "escrow =\n"                                                 /* 14 */
    "voting_roles = children_services police health\n"           /* 15 */
    "required_roles = guardian\n"                                /* 16 */
    "quorum = all\n"                                             /* 17 */
    "must_include = children_services\n"                         /* 18 */
    "chair_not_lead = yes\n"                                     /* 19 */
    "cg_min_days_after_rg = 0\n"                                 /* 20 */
    "[scotland]\n"                                               /* 21 */
    "la_prefixes = S\n"                                          /* 22 */
    "calendar = scotland\n"                                      /* 23 */
    "voting_roles = children_services police health\n"           /* 24 */
    "quorum = all\n"                                             /* 25 */
    "chair_not_lead = yes\n"                                     /* 26 */
    "cg_min_days_after_rg = 0\n";                                /* 27 */

/* @Sn@, @Bn@ and @Cn@ stand for agency n's sign, box and curve keys. The
 * sections are out of id order, so loading must sort them. */
static const char agencies_template[] =
    "; a test directory\n"                                  /* 1 */
    "[police-met]\n"                                        /* 2 */
    "name = Metropolitan Police Service\n"                  /* 3 */
    "roles = first_responder police\n"                      /* 4 */
    "jurisdiction = england-wales\n"                        /* 5 */
    "areas = E09000001 E09000033          ; served areas\n" /* 6 */
    "sign_key = @S0@\n"                                     /* 7 */
    "box_key = @B0@\n"                                      /* 8 */
    "curve_key = @C0@\n"                                    /* 9 */
    "\n"                                                    /* 10 */
    "[la-e09000033-csc]\n"                                  /* 11 */
    "name = Tower Hamlets Children's Services\n"            /* 12 */
    "roles = children_services\n"                           /* 13 */
    "jurisdiction = england-wales\n"                        /* 14 */
    "areas = E09000033\n"                                   /* 15 */
    "areas = E09000030\n"                                   /* 16 */
    "sign_key = @S1@\n"                                     /* 17 */
    "box_key = @B1@\n"                                      /* 18 */
    "curve_key = @C1@\n"                                    /* 19 */
    "\n"                                                    /* 20 */
    "[guardian-ictg]\n"                                     /* 21 */
    "name = Independent Child Trafficking Guardians\n"      /* 22 */
    "roles = guardian\n"                                    /* 23 */
    "jurisdiction = england-wales\n"                        /* 24 */
    "areas = E09000033 E09000030\n"                         /* 25 */
    "sign_key = @S2@\n"                                     /* 26 */
    "box_key = @B2@\n"                                      /* 27 */
    "curve_key = @C2@\n";                                   /* 28 */

struct fixture {
    char dir[64];
    char agencies_path[128], policy_path[128], sig_path[160];
    struct cf_keys *authority, *other_authority;
    struct cf_keys *agency[N_AGENCIES];
};

static void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static char *read_text(const char *path, size_t *len)
{
    uint8_t *buf = NULL;
    struct cf_error err = {0};
    if (cf_file_read(path, 1 << 20, &buf, len, &err) != 0)
        fail_msg("%s", err.text);
    return (char *)buf;
}

/* The text with the first `find` replaced by `replace`. Caller frees. */
static char *edit(const char *text, const char *find, const char *replace)
{
    const char *at = strstr(text, find);
    if (!at)
        fail_msg("'%s' is not in the text", find);
    size_t head = (size_t)(at - text), rlen = strlen(replace);
    const char *tail = at + strlen(find);
    char *out = malloc(head + rlen + strlen(tail) + 1);
    assert_non_null(out);
    memcpy(out, text, head);
    memcpy(out + head, replace, rlen);
    strcpy(out + head + rlen, tail);
    return out;
}

/* The template with every key placeholder filled in. Caller frees. */
static char *expand(const struct fixture *f, const char *template)
{
    char *text = strdup(template);
    assert_non_null(text);
    for (int i = 0; i < N_AGENCIES; i++) {
        char tag[8], key[64];
        for (int kind = 0; kind < 3; kind++) {
            snprintf(tag, sizeof tag, "@%c%d@", "SBC"[kind], i);
            if (kind == 0)
                cf_keys_b64_encode(f->agency[i]->sign_pk, key);
            else if (kind == 1)
                cf_keys_b64_encode(f->agency[i]->box_pk, key);
            else
                cf_keys_z85_encode(f->agency[i]->curve_pk, key);
            while (strstr(text, tag)) {
                char *next = edit(text, tag, key);
                free(text);
                text = next;
            }
        }
    }
    return text;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/cf-test-directory-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->agencies_path, sizeof f->agencies_path, "%s/agencies.ini", f->dir);
    snprintf(f->policy_path, sizeof f->policy_path, "%s/policy.ini", f->dir);
    snprintf(f->sig_path, sizeof f->sig_path, "%s.sig", f->agencies_path);
    assert_int_equal(cf_keys_generate(CF_KEYS_AUTHORITY, NULL, &f->authority, NULL), 0);
    assert_int_equal(cf_keys_generate(CF_KEYS_AUTHORITY, NULL, &f->other_authority, NULL), 0);
    for (int i = 0; i < N_AGENCIES; i++)
        assert_int_equal(cf_keys_generate(CF_KEYS_AGENCY, agency_ids[i], &f->agency[i], NULL), 0);
    write_text(f->policy_path, policy_text, strlen(policy_text));
    char *agencies = expand(f, agencies_template);
    write_text(f->agencies_path, agencies, strlen(agencies));
    free(agencies);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unlink(f->agencies_path);
    unlink(f->policy_path);
    unlink(f->sig_path);
    rmdir(f->dir);
    cf_keys_destroy(&f->authority);
    cf_keys_destroy(&f->other_authority);
    for (int i = 0; i < N_AGENCIES; i++)
        cf_keys_destroy(&f->agency[i]);
    free(f);
    return 0;
}

/* The signed message of DESIGN.md section 3, written out again here so the
 * test pins the layout rather than trusting the code under test. */
static void signed_message(uint64_t serial, const void *agencies, size_t alen, const void *policy,
                           size_t plen, uint8_t out[96])
{
    memcpy(out, "childfirst/v1/directory", 24); /* the tag with its NUL */
    for (int i = 0; i < 8; i++)
        out[24 + i] = (uint8_t)(serial >> (56 - 8 * i));
    crypto_generichash(out + 32, 32, agencies, alen, NULL, 0);
    crypto_generichash(out + 64, 32, policy, plen, NULL, 0);
}

/* A .sig file made without cf_directory_sign: "serial" on line 1 and
 * "signature" on line 2. Caller frees. */
static char *make_sig(const struct cf_keys *authority, uint64_t serial, const char *agencies,
                      size_t alen, const char *policy, size_t plen)
{
    uint8_t msg[96], sig[64];
    signed_message(serial, agencies, alen, policy, plen, msg);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, authority->sign_sk);
    char b64[100];
    sodium_bin2base64(b64, sizeof b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
    char *text = malloc(160);
    assert_non_null(text);
    snprintf(text, 160, "serial = %llu\nsignature = %s\n", (unsigned long long)serial, b64);
    return text;
}

static void expect_error(const char *what, int rc, const struct cf_error *err, int code,
                         const char *where)
{
    if (rc != code || !strstr(err->text, where))
        fail_msg("%s: wanted %s at '%s', got %s: %s", what, cf_error_name(code), where,
                 cf_error_name(rc), err->text);
}

static void sign_ok(const struct fixture *f, uint64_t serial)
{
    struct cf_error err = {0};
    int rc = cf_directory_sign(f->agencies_path, f->policy_path, f->authority, serial, &err);
    if (rc != 0)
        fail_msg("sign: %s", err.text);
}

static struct cf_directory *load_ok(const struct fixture *f, uint64_t min_serial)
{
    struct cf_directory *d = NULL;
    struct cf_error err = {0};
    int rc = cf_directory_load(f->agencies_path, f->policy_path, f->authority->sign_pk, min_serial,
                               &d, &err);
    if (rc != 0)
        fail_msg("load: %s", err.text);
    return d;
}

static void test_sign_and_load(void **state)
{
    struct fixture *f = *state;
    sign_ok(f, 7);
    struct cf_directory *d = load_ok(f, 7);
    assert_int_equal(d->serial, 7);
    assert_non_null(d->policy);
    assert_int_equal(d->n_agencies, N_AGENCIES);
    assert_string_equal(d->agencies[0].id, "guardian-ictg");
    assert_string_equal(d->agencies[1].id, "la-e09000033-csc");
    assert_string_equal(d->agencies[2].id, "police-met");

    const struct cf_agency *met = cf_directory_find(d, "police-met");
    assert_non_null(met);
    assert_string_equal(met->name, "Metropolitan Police Service");
    assert_int_equal(met->roles, (1u << CF_ROLE_FIRST_RESPONDER) | (1u << CF_ROLE_POLICE));
    assert_string_equal(met->jurisdiction, "england-wales");
    assert_memory_equal(met->sign_pk, f->agency[0]->sign_pk, CF_SIGN_PK);
    assert_memory_equal(met->box_pk, f->agency[0]->box_pk, CF_BOX_PK);
    assert_memory_equal(met->curve_pk, f->agency[0]->curve_pk, CF_CURVE_KEY);
    assert_ptr_equal(cf_directory_find_curve(d, f->agency[0]->curve_pk), met);
    assert_null(cf_directory_find_curve(d, f->agency[0]->sign_pk));
    assert_null(cf_directory_find(d, "police-xyz"));
    assert_null(cf_directory_find(d, "aaa"));
    assert_null(cf_directory_find(d, "zzz"));
    for (int i = 0; i < N_AGENCIES; i++)
        assert_string_equal(cf_directory_find(d, agency_ids[i])->id, agency_ids[i]);

    /* areas on two lines add up. */
    const struct cf_agency *csc = cf_directory_find(d, "la-e09000033-csc");
    assert_int_equal(csc->n_areas, 2);
    assert_string_equal(csc->areas[0], "E09000033");
    assert_string_equal(csc->areas[1], "E09000030");
    assert_true(cf_directory_serves(csc, "E09000030"));
    assert_true(cf_directory_serves(csc, "E09000033"));
    assert_false(cf_directory_serves(csc, "E09000001"));

    /* The bundle is the files byte for byte, and the digest names the signed tuple. */
    size_t alen, plen, slen;
    char *agencies = read_text(f->agencies_path, &alen);
    char *policy = read_text(f->policy_path, &plen);
    char *sig = read_text(f->sig_path, &slen);
    assert_int_equal(d->bundle.agencies_len, alen);
    assert_memory_equal(d->bundle.agencies, agencies, alen);
    assert_int_equal(d->bundle.policy_len, plen);
    assert_memory_equal(d->bundle.policy, policy, plen);
    assert_int_equal(d->bundle.sig_len, slen);
    assert_memory_equal(d->bundle.sig, sig, slen);
    uint8_t msg[96], digest[32];
    signed_message(7, agencies, alen, policy, plen, msg);
    crypto_generichash(digest, sizeof digest, msg, sizeof msg, NULL, 0);
    assert_memory_equal(d->digest, digest, sizeof digest);

    /* The .sig file reads as DESIGN.md describes, and is world-readable. */
    assert_true(strncmp(sig,
                        "; ChildFirst directory signature, made by `childfirst directory sign`\n"
                        "serial = 7\nsignature = ",
                        strlen("; ChildFirst directory signature, made by `childfirst directory "
                               "sign`\nserial = 7\nsignature = ")) == 0);
    struct stat st;
    assert_int_equal(stat(f->sig_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    /* A signature made by the independent writer verifies too. */
    char *own = make_sig(f->authority, 9, agencies, alen, policy, plen);
    write_text(f->sig_path, own, strlen(own));
    struct cf_directory *d9 = load_ok(f, 8);
    assert_int_equal(d9->serial, 9);
    cf_directory_destroy(&d9);

    free(own);
    free(agencies);
    free(policy);
    free(sig);
    cf_directory_destroy(&d);
    assert_null(d);
    cf_directory_destroy(&d); /* NULL is accepted */
}

static void test_load_mem(void **state)
{
    struct fixture *f = *state;
    sign_ok(f, 3);
    size_t alen, plen, slen;
    char *agencies = read_text(f->agencies_path, &alen);
    char *policy = read_text(f->policy_path, &plen);
    char *sig = read_text(f->sig_path, &slen);
    struct cf_bundle b = {(uint8_t *)agencies, (uint8_t *)policy, (uint8_t *)sig, alen, plen, slen};
    struct cf_directory *from_mem = NULL, *from_files = load_ok(f, 0);
    struct cf_error err = {0};
    int rc = cf_directory_load_mem(&b, f->authority->sign_pk, 3, &from_mem, &err);
    if (rc != 0)
        fail_msg("%s", err.text);
    assert_int_equal(from_mem->serial, 3);
    assert_memory_equal(from_mem->digest, from_files->digest, CF_HASH_LEN);
    assert_int_equal(from_mem->n_agencies, from_files->n_agencies);
    assert_memory_equal(from_mem->agencies, from_files->agencies,
                        from_mem->n_agencies * sizeof *from_mem->agencies);
    /* The directory holds copies, not the caller's buffers. */
    assert_ptr_not_equal(from_mem->bundle.agencies, b.agencies);
    assert_memory_equal(from_mem->bundle.sig, sig, slen);

    /* Errors name the bare file names. */
    struct cf_directory *d = NULL;
    rc = cf_directory_load_mem(&b, f->other_authority->sign_pk, 0, &d, &err);
    expect_error("wrong authority in memory", rc, &err, CF_ESIG, "agencies.ini.sig:3:");
    assert_null(d);
    rc = cf_directory_load_mem(&b, f->authority->sign_pk, 4, &d, &err);
    expect_error("rollback in memory", rc, &err, CF_ESERIAL, "agencies.ini.sig:2:");
    assert_null(d);
    agencies[5] ^= 1;
    rc = cf_directory_load_mem(&b, f->authority->sign_pk, 0, &d, &err);
    expect_error("changed agencies in memory", rc, &err, CF_ESIG, "agencies.ini.sig:3:");
    assert_null(d);

    cf_directory_destroy(&from_mem);
    cf_directory_destroy(&from_files);
    free(agencies);
    free(policy);
    free(sig);
}

static void test_bad_signature(void **state)
{
    struct fixture *f = *state;
    sign_ok(f, 7);
    struct cf_directory *d = NULL;
    struct cf_error err = {0};
    int rc = cf_directory_load(f->agencies_path, f->policy_path, f->other_authority->sign_pk, 0, &d,
                               &err);
    expect_error("another authority", rc, &err, CF_ESIG, "agencies.ini.sig:3:");
    assert_non_null(strstr(err.text, "authority key"));
    assert_non_null(strstr(err.text, "changed after signing"));
    assert_null(d);

    /* One byte of agencies.ini changed after signing. */
    size_t len;
    char *signed_text = read_text(f->agencies_path, &len);
    char *agencies = edit(signed_text, "Metropolitan", "Netropolitan");
    write_text(f->agencies_path, agencies, len);
    free(signed_text);
    rc = cf_directory_load(f->agencies_path, f->policy_path, f->authority->sign_pk, 0, &d, &err);
    expect_error("agencies.ini changed", rc, &err, CF_ESIG, "agencies.ini.sig:3:");
    assert_null(d);
    free(agencies);

    /* So does a policy.ini changed after signing. */
    sign_ok(f, 7);
    char *policy = edit(policy_text, "quorum = all", "quorum = 2  ");
    write_text(f->policy_path, policy, strlen(policy));
    rc = cf_directory_load(f->agencies_path, f->policy_path, f->authority->sign_pk, 0, &d, &err);
    expect_error("policy.ini changed", rc, &err, CF_ESIG, "agencies.ini.sig:3:");
    assert_null(d);
    free(policy);
}

static void test_lower_serial(void **state)
{
    struct fixture *f = *state;
    sign_ok(f, 7);
    struct cf_directory *d = NULL;
    struct cf_error err = {0};
    int rc =
        cf_directory_load(f->agencies_path, f->policy_path, f->authority->sign_pk, 8, &d, &err);
    expect_error("serial 7 after 8", rc, &err, CF_ESERIAL, "agencies.ini.sig:2:");
    assert_non_null(strstr(err.text, "7"));
    assert_non_null(strstr(err.text, "8"));
    assert_null(d);
    d = load_ok(f, 7); /* the same serial again is no rollback */
    cf_directory_destroy(&d);

    assert_int_equal(cf_directory_sign(f->agencies_path, f->policy_path, f->authority, 0, &err),
                     CF_EVALUE);
    assert_int_equal(
        cf_directory_sign(f->agencies_path, f->policy_path, f->authority, (1ull << 63) + 1, &err),
        CF_EVALUE);
    sign_ok(f, 1ull << 63);
    d = load_ok(f, 1ull << 63);
    assert_int_equal(d->serial, 1ull << 63);
    cf_directory_destroy(&d);
    /* Only the authority signs the directory. */
    assert_int_equal(cf_directory_sign(f->agencies_path, f->policy_path, f->agency[0], 8, &err),
                     CF_EKEYFILE);
}

struct bad_case {
    const char *what;
    const char *find, *replace;
    int code;
    unsigned line;
    const char *mentions; /* a phrase the message must hold, or NULL */
};

static char long_name[260];

static const struct bad_case bad_agencies[] = {
    {"key outside any section", "; a test directory", "name = stray", CF_EUNKNOWNKEY, 1, NULL},
    {"250-character line", "name = Metropolitan Police Service", long_name, CF_ELINE, 3, NULL},
    {"unknown jurisdiction", "jurisdiction = england-wales", "jurisdiction = wales", CF_EVALUE, 5,
     "wales"},
    {"sign key used as box key", "box_key = @B0@", "box_key = @S0@", CF_EKEYREUSE, 8,
     "sign_key of [police-met]"},
    {"malformed curve key", "curve_key = @C1@", "curve_key = @B1@", CF_EVALUE, 19, "curve_key"},
    {"unknown key", "name = Tower Hamlets", "nmae = Tower Hamlets", CF_EUNKNOWNKEY, 12, "nmae"},
    {"repeated key", "roles = children_services\n", "roles = children_services\nroles = police\n",
     CF_EDUPKEY, 14, "line 13"},
    {"area repeated across lines", "areas = E09000030", "areas = E09000033", CF_EVALUE, 16,
     "E09000033"},
    {"malformed area", "areas = E09000030", "areas = E0900003", CF_EVALUE, 16, NULL},
    {"missing required key", "sign_key = @S1@\n", "", CF_EVALUE, 11,
     "[la-e09000033-csc] has no sign_key"},
    {"bad id", "[guardian-ictg]", "[Guardian_ICTG]", CF_EID, 21, NULL},
    {"reserved id", "[guardian-ictg]", "[authority]", CF_EID, 21, "reserved"},
    {"repeated section", "[guardian-ictg]", "[police-met]", CF_EDUPKEY, 21, "line 2"},
    {"empty name", "name = Independent Child Trafficking Guardians", "name =", CF_EVALUE, 22, NULL},
    {"unknown role", "roles = guardian", "roles = guardian advocate", CF_EVALUE, 23, "advocate"},
    {"sign key of another agency", "sign_key = @S2@", "sign_key = @S1@", CF_EKEYREUSE, 26,
     "[la-e09000033-csc] on line 17"},
    {"curve key of another agency", "curve_key = @C2@", "curve_key = @C0@", CF_EKEYREUSE, 28,
     "curve_key of [police-met]"},
};

/* One broken agencies.ini: `sign` refuses it, and both loaders refuse it when
 * it arrives signed anyway. */
static void check_bad(const struct fixture *f, const char *what, const char *agencies,
                      const char *policy, const char *file, int code, unsigned line,
                      const char *mentions)
{
    struct cf_error err = {0};
    char where[64];
    size_t alen = strlen(agencies), plen = strlen(policy);
    write_text(f->agencies_path, agencies, alen);
    write_text(f->policy_path, policy, plen);
    unlink(f->sig_path);

    snprintf(where, sizeof where, "%s:%u:", file, line);
    int rc = cf_directory_sign(f->agencies_path, f->policy_path, f->authority, 5, &err);
    expect_error(what, rc, &err, code, where);
    assert_true(strstr(err.text, f->dir) != NULL); /* the path given, not a bare name */
    if (mentions && !strstr(err.text, mentions))
        fail_msg("%s: '%s' does not mention '%s'", what, err.text, mentions);
    assert_int_equal(access(f->sig_path, F_OK), -1);

    char *sig = make_sig(f->authority, 5, agencies, alen, policy, plen);
    write_text(f->sig_path, sig, strlen(sig));
    struct cf_directory *d = NULL;
    rc = cf_directory_load(f->agencies_path, f->policy_path, f->authority->sign_pk, 0, &d, &err);
    expect_error(what, rc, &err, code, where);
    assert_null(d);

    struct cf_bundle b = {(uint8_t *)agencies, (uint8_t *)policy, (uint8_t *)sig, alen, plen,
                          strlen(sig)};
    snprintf(where, sizeof where, " %s:%u:", file, line);
    rc = cf_directory_load_mem(&b, f->authority->sign_pk, 0, &d, &err);
    if (rc != code || strncmp(err.text, where + 1, strlen(where + 1)) != 0)
        fail_msg("%s in memory: wanted %s at '%s', got %s: %s", what, cf_error_name(code),
                 where + 1, cf_error_name(rc), err.text);
    assert_null(d);
    free(sig);
}

static void test_bad_agencies(void **state)
{
    struct fixture *f = *state;
    snprintf(long_name, sizeof long_name, "name = %0243d", 0);
    for (size_t i = 0; i < sizeof bad_agencies / sizeof bad_agencies[0]; i++) {
        const struct bad_case *c = &bad_agencies[i];
        char *template = edit(agencies_template, c->find, c->replace);
        char *agencies = expand(f, template);
        check_bad(f, c->what, agencies, policy_text, "agencies.ini", c->code, c->line, c->mentions);
        free(agencies);
        free(template);
    }
}

/* What spans both files: an escrow must be an auditor of this directory. */
static void test_escrow(void **state)
{
    struct fixture *f = *state;
    char *agencies = expand(f, agencies_template);
    char *policy = edit(policy_text, "escrow =\n", "escrow = audit-escrow\n");
    check_bad(f, "escrow not in the directory", agencies, policy, "policy.ini", CF_EVALUE, 14,
              "audit-escrow");
    free(policy);
    policy = edit(policy_text, "escrow =\n", "escrow = guardian-ictg\n");
    check_bad(f, "escrow not an auditor", agencies, policy, "policy.ini", CF_EVALUE, 14, "auditor");
    free(agencies);

    /* As an auditor it loads, and the escrow is a referral recipient. */
    char *template = edit(agencies_template, "roles = guardian", "roles = guardian auditor");
    agencies = expand(f, template);
    write_text(f->agencies_path, agencies, strlen(agencies));
    write_text(f->policy_path, policy, strlen(policy));
    sign_ok(f, 1);
    struct cf_directory *d = load_ok(f, 0);
    cf_id out[CF_MAX_RECIPIENTS];
    size_t n = 0;
    struct cf_error err = {0};
    struct cf_route_ctx ctx = {.type = CF_TYPE_REFERRAL, .la_code = "E09000030"};
    assert_int_equal(cf_policy_recipients(d->policy, d, &ctx, out, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(out[0], "guardian-ictg");
    assert_string_equal(out[1], "la-e09000033-csc");
    cf_directory_destroy(&d);
    free(template);
    free(agencies);
    free(policy);
}

/* A policy.ini error stops the load before agencies.ini is read. */
static void test_bad_policy(void **state)
{
    struct fixture *f = *state;
    char *agencies = expand(f, agencies_template);
    char *policy = edit(policy_text, "quorum = all\nmust_include", "quorum = 4\nmust_include");
    check_bad(f, "quorum above voting roles", agencies, policy, "policy.ini", CF_EVALUE, 17,
              "quorum");
    free(policy);
    free(agencies);
}

/* Base64 of 64 zero bytes: well formed, signs nothing. */
#define A10 "AAAAAAAAAA"
#define ZERO_SIGNATURE A10 A10 A10 A10 A10 A10 A10 A10 "AAAAAA=="

static void test_bad_sig_file(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *what, *sig;
        int code;
        const char *where;
    } cases[] = {
        {"no signature", "serial = 5\n", CF_EVALUE, "agencies.ini.sig:1:"},
        {"no serial", "; only a comment\nsignature = " ZERO_SIGNATURE "\n", CF_EVALUE,
         "agencies.ini.sig:2:"},
        {"serial 0", "serial = 0\n", CF_EVALUE, "agencies.ini.sig:1:"},
        {"serial above 2^63", "serial = 9223372036854775809\n", CF_EVALUE, "agencies.ini.sig:1:"},
        {"short signature", "serial = 5\nsignature = AAAA\n", CF_EVALUE, "agencies.ini.sig:2:"},
        {"unknown key", "serial = 5\nsigner = me\n", CF_EUNKNOWNKEY, "agencies.ini.sig:2:"},
        {"repeated serial", "serial = 5\nserial = 6\n", CF_EDUPKEY, "agencies.ini.sig:2:"},
        {"a section", "[sig]\n", CF_EUNKNOWNKEY, "agencies.ini.sig:1:"},
        {"empty", "", CF_EVALUE, "agencies.ini.sig:1:"},
    };
    char *agencies = expand(f, agencies_template);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cf_bundle b = {(uint8_t *)agencies, (uint8_t *)policy_text, (uint8_t *)cases[i].sig,
                              strlen(agencies),    strlen(policy_text),    strlen(cases[i].sig)};
        struct cf_directory *d = NULL;
        struct cf_error err = {0};
        int rc = cf_directory_load_mem(&b, f->authority->sign_pk, 0, &d, &err);
        expect_error(cases[i].what, rc, &err, cases[i].code, cases[i].where);
        assert_null(d);
    }
    free(agencies);

    /* A missing .sig file is an I/O error naming its path. */
    struct cf_directory *d = NULL;
    struct cf_error err = {0};
    unlink(f->sig_path);
    int rc =
        cf_directory_load(f->agencies_path, f->policy_path, f->authority->sign_pk, 0, &d, &err);
    expect_error("no .sig file", rc, &err, CF_EIO, "agencies.ini.sig");
}

/* More than CF_MAX_AGENCIES sections: refused at the first one too many. The
 * sections are bare, since the count is checked as each one opens. */
static void test_too_many_agencies(void **state)
{
    struct fixture *f = *state;
    const size_t n = CF_MAX_AGENCIES + 1;
    char *agencies = malloc(n * sizeof "[agency-0000]\n" + 1);
    assert_non_null(agencies);
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(agencies + len, "[agency-%04zu]\n", i);
    char *sig = make_sig(f->authority, 1, agencies, len, policy_text, strlen(policy_text));
    struct cf_bundle b = {(uint8_t *)agencies, (uint8_t *)policy_text,
                          (uint8_t *)sig,      len,
                          strlen(policy_text), strlen(sig)};
    struct cf_directory *d = NULL;
    struct cf_error err = {0};
    char where[32];
    snprintf(where, sizeof where, "agencies.ini:%zu:", n);
    int rc = cf_directory_load_mem(&b, f->authority->sign_pk, 0, &d, &err);
    expect_error("too many agencies", rc, &err, CF_ETOOBIG, where);
    free(sig);
    free(agencies);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sign_and_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_mem, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lower_serial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_agencies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escrow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_sig_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_agencies, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
