/* Key tests: generation is independent per pair, files are private and exact,
 * and a damaged, repeated or over-shared key file is refused with its reason. */
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

#include "childfirst/keys.h"

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/cf-keys-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_generate_save_load(void **state)
{
    (void)state;
    static const struct {
        enum cf_key_kind kind;
        const char *id, *file;
        bool box, curve;
    } kinds[] = {{CF_KEYS_AGENCY, "police-met", "agency.key", true, true},
                 {CF_KEYS_BROKER, "ignored", "broker.key", false, true},
                 {CF_KEYS_AUTHORITY, "ignored", "authority.key", false, false}};
    for (size_t i = 0; i < 3; i++) {
        char path[128];
        path_of(path, sizeof path, kinds[i].file);
        struct cf_keys *a = NULL, *b = NULL;
        assert_int_equal(cf_keys_generate(kinds[i].kind, kinds[i].id, &a, NULL), 0);
        assert_int_equal(a->has_box, kinds[i].box);
        assert_int_equal(a->has_curve, kinds[i].curve);
        assert_int_equal(cf_keys_save(a, path, NULL), 0);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        struct cf_error err = {0};
        assert_int_equal(cf_keys_load(path, &b, &err), 0);
        assert_int_equal(b->kind, kinds[i].kind);
        assert_string_equal(b->id, a->id);
        assert_int_equal(sodium_memcmp(a->sign_sk, b->sign_sk, CF_SIGN_SK), 0);
        assert_memory_equal(a->sign_pk, b->sign_pk, CF_SIGN_PK);
        if (kinds[i].box)
            assert_memory_equal(a->box_pk, b->box_pk, CF_BOX_PK);
        if (kinds[i].curve)
            assert_memory_equal(a->curve_pk, b->curve_pk, CF_CURVE_KEY);
        /* keygen never overwrites a key. */
        assert_int_equal(cf_keys_save(a, path, &err), CF_EIO);
        assert_non_null(strstr(err.text, "never overwrites"));
        cf_keys_destroy(&a);
        cf_keys_destroy(&b);
        assert_null(a);
    }
    cf_keys_destroy(NULL);
}

static void test_pairs_independent(void **state)
{
    (void)state;
    struct cf_keys *a, *b;
    assert_int_equal(cf_keys_generate(CF_KEYS_AGENCY, "la-one", &a, NULL), 0);
    assert_int_equal(cf_keys_generate(CF_KEYS_AGENCY, "la-one", &b, NULL), 0);
    const uint8_t *pubs[] = {a->sign_pk, a->box_pk, a->curve_pk,
                             b->sign_pk, b->box_pk, b->curve_pk};
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < i; j++)
            assert_memory_not_equal(pubs[i], pubs[j], 32);
    /* The box and CURVE secrets are not derived from the signing seed. */
    uint8_t derived[32];
    assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(derived, a->sign_sk), 0);
    assert_memory_not_equal(derived, a->box_sk, 32);
    assert_memory_not_equal(derived, a->curve_sk, 32);
    cf_keys_destroy(&a);
    cf_keys_destroy(&b);
}

static void test_bad_ids(void **state)
{
    (void)state;
    struct cf_keys *k = NULL;
    struct cf_error err = {0};
    const char *bad[] = {
        "ab",         "Police",
        "police_met", "police met",
        "",           "a123456789012345678901234567890123456789012345678901234567890123x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cf_keys_generate(CF_KEYS_AGENCY, bad[i], &k, &err), CF_EID);
    assert_null(k);
}

static void test_public_text(void **state)
{
    (void)state;
    struct cf_keys *k;
    char text[512], b64[CF_B64_KEY_LEN + 1], z85[CF_Z85_KEY_LEN + 1], want[512];
    assert_int_equal(cf_keys_generate(CF_KEYS_AGENCY, "police-met", &k, NULL), 0);
    assert_int_equal(cf_keys_public_text(k, text, sizeof text), 0);
    cf_keys_b64_encode(k->sign_pk, b64);
    snprintf(want, sizeof want, "[police-met]\nsign_key = %s\n", b64);
    assert_memory_equal(text, want, strlen(want));
    cf_keys_z85_encode(k->curve_pk, z85);
    assert_non_null(strstr(text, z85));
    assert_int_equal(cf_keys_public_text(k, text, 20), CF_ETOOBIG);
    cf_keys_destroy(&k);
    assert_int_equal(cf_keys_generate(CF_KEYS_AUTHORITY, NULL, &k, NULL), 0);
    assert_int_equal(cf_keys_public_text(k, text, sizeof text), 0);
    cf_keys_b64_encode(k->sign_pk, b64);
    snprintf(want, sizeof want, "authority_key = %s\n", b64);
    assert_string_equal(text, want);
    cf_keys_destroy(&k);
}

static void test_text_forms_strict(void **state)
{
    (void)state;
    uint8_t key[32], back[32];
    char b64[CF_B64_KEY_LEN + 1], z85[CF_Z85_KEY_LEN + 1], bad[64];
    randombytes_buf(key, sizeof key);
    cf_keys_b64_encode(key, b64);
    cf_keys_z85_encode(key, z85);
    assert_int_equal(cf_keys_b64_decode(b64, back), 0);
    assert_memory_equal(key, back, 32);
    assert_int_equal(cf_keys_z85_decode(z85, back), 0);
    assert_memory_equal(key, back, 32);
    snprintf(bad, sizeof bad, "%sAA", b64);
    assert_int_not_equal(cf_keys_b64_decode(bad, back), 0);
    snprintf(bad, sizeof bad, "%.40s", b64);
    assert_int_not_equal(cf_keys_b64_decode(bad, back), 0);
    /* One value, one spelling: libsodium alone takes 0xb2 for '/'. A last
     * digit with stray low bits stays refused. */
    snprintf(bad, sizeof bad, "%s", b64);
    bad[5] = (char)0xb2;
    assert_int_equal(cf_keys_b64_decode(bad, back), CF_EKEYFILE);
    key[31] = 0x00;
    cf_keys_b64_encode(key, b64);
    snprintf(bad, sizeof bad, "%s", b64);
    bad[42] = 'B'; /* the last digit's two low bits are padding: 'A' spells 0x00 */
    assert_int_equal(cf_keys_b64_decode(bad, back), CF_EKEYFILE);
    uint8_t sig[64];
    assert_false(cf_keys_b64_exact(bad, strlen(bad), sig, sizeof sig)); /* wrong length */
    assert_true(cf_keys_b64_exact(b64, strlen(b64), back, 32));
    snprintf(bad, sizeof bad, "%.35s", z85);
    assert_int_not_equal(cf_keys_z85_decode(bad, back), 0);
    snprintf(bad, sizeof bad, "%.39s~", z85); /* '~' is outside Z85 */
    assert_int_not_equal(cf_keys_z85_decode(bad, back), 0);
}

static void test_refused_files(void **state)
{
    (void)state;
    struct cf_keys *k;
    char good[128], path[128];
    assert_int_equal(cf_keys_generate(CF_KEYS_AGENCY, "la-two", &k, NULL), 0);
    path_of(good, sizeof good, "good.key");
    assert_int_equal(cf_keys_save(k, good, NULL), 0);
    char sign[100], box[CF_B64_KEY_LEN + 1], curve[CF_Z85_KEY_LEN + 1], boxz[CF_Z85_KEY_LEN + 1];
    sodium_bin2base64(sign, sizeof sign, k->sign_sk, CF_SIGN_SK, sodium_base64_VARIANT_ORIGINAL);
    cf_keys_b64_encode(k->box_sk, box);
    cf_keys_z85_encode(k->curve_sk, curve);
    cf_keys_z85_encode(k->box_sk, boxz);
    /* The signing secret with its public half from another key. */
    uint8_t spliced[CF_SIGN_SK];
    char splice[100];
    memcpy(spliced, k->sign_sk, CF_SIGN_SK);
    spliced[40] ^= 1;
    sodium_bin2base64(splice, sizeof splice, spliced, CF_SIGN_SK, sodium_base64_VARIANT_ORIGINAL);
    cf_keys_destroy(&k);

    struct {
        const char *what;
        char text[600];
        mode_t mode;
        int code;
        const char *message;
    } cases[6];
    memset(cases, 0, sizeof cases);
    cases[0].what = "group-readable";
    snprintf(cases[0].text, 600,
             "kind = agency\nid = la-two\nsign_secret = %s\nbox_secret = %s\n"
             "curve_secret = %s\n",
             sign, box, curve);
    cases[0].mode = 0640, cases[0].code = CF_EKEYMODE, cases[0].message = "mode 640";
    cases[1].what = "box and curve the same";
    snprintf(cases[1].text, 600,
             "kind = agency\nid = la-two\nsign_secret = %s\nbox_secret = %s\n"
             "curve_secret = %s\n",
             sign, box, boxz);
    cases[1].mode = 0600, cases[1].code = CF_EKEYREUSE, cases[1].message = "the same";
    cases[2].what = "damaged signing secret";
    snprintf(cases[2].text, 600,
             "kind = agency\nid = la-two\nsign_secret = %s\nbox_secret = %s\n"
             "curve_secret = %s\n",
             splice, box, curve);
    cases[2].mode = 0600, cases[2].code = CF_EKEYFILE, cases[2].message = "damaged";
    cases[3].what = "unknown key";
    snprintf(cases[3].text, 600, "kind = agency\nid = la-two\ncolour = red\n");
    cases[3].mode = 0600, cases[3].code = CF_EKEYFILE,
    cases[3].message = ":3: unknown key 'colour'";
    cases[4].what = "repeated";
    snprintf(cases[4].text, 600, "kind = agency\nid = la-two\nid = la-two\n");
    cases[4].mode = 0600, cases[4].code = CF_EKEYFILE, cases[4].message = ":3: 'id' is repeated";
    cases[5].what = "agency without box";
    snprintf(cases[5].text, 600,
             "kind = agency\nid = la-two\nsign_secret = %s\ncurve_secret = %s\n", sign, curve);
    cases[5].mode = 0600, cases[5].code = CF_EKEYFILE, cases[5].message = "needs box_secret";
    for (size_t i = 0; i < 6; i++) {
        snprintf(path, sizeof path, "%s/case%zu.key", dir, i);
        write_text(path, cases[i].text, cases[i].mode);
        struct cf_error err = {0};
        k = NULL;
        int rc = cf_keys_load(path, &k, &err);
        if (rc != cases[i].code || !strstr(err.text, cases[i].message))
            fail_msg("%s: got %s '%s'", cases[i].what, cf_error_name(rc), err.text);
        assert_null(k);
    }
    assert_int_equal(cf_keys_load(good, &k, NULL), 0);
    cf_keys_destroy(&k);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_save_load),
        cmocka_unit_test(test_pairs_independent),
        cmocka_unit_test(test_bad_ids),
        cmocka_unit_test(test_public_text),
        cmocka_unit_test(test_text_forms_strict),
        cmocka_unit_test(test_refused_files),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
