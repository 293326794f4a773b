/* Key pairs and secret key files. Secrets only ever sit in sodium_malloc
 * memory: the file is read straight into it, parsed in place and wiped, so no
 * copy is left in an ordinary heap or stdio buffer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "childfirst/file.h"
#include "childfirst/keys.h"

static const char *const kind_names[] = {NULL, "agency", "broker", "authority"};

void cf_keys_b64_encode(const uint8_t key[32], char out[CF_B64_KEY_LEN + 1])
{
    sodium_bin2base64(out, CF_B64_KEY_LEN + 1, key, 32, sodium_base64_VARIANT_ORIGINAL);
}

bool cf_keys_b64_exact(const char *text, size_t len, uint8_t *out, size_t n)
{
    /* libsodium 1.0.18 decodes some bytes outside the alphabet (0xb2 as '/',
     * for one) as digits, so a decode alone lets one value have several
     * spellings: only the one that encoding gives back is accepted. */
    char again[sodium_base64_ENCODED_LEN(CF_B64_EXACT_MAX, sodium_base64_VARIANT_ORIGINAL)];
    size_t got = 0;
    const char *end = NULL;
    if (n > CF_B64_EXACT_MAX ||
        sodium_base642bin(out, n, text, len, NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) !=
            0 ||
        got != n || end != text + len)
        return false;
    sodium_bin2base64(again, sizeof again, out, n, sodium_base64_VARIANT_ORIGINAL);
    bool same = strlen(again) == len && memcmp(again, text, len) == 0;
    sodium_memzero(again, sizeof again); /* it may spell a secret key */
    return same;
}

int cf_keys_b64_decode(const char *text, uint8_t key[32])
{
    return cf_keys_b64_exact(text, strlen(text), key, 32) ? 0 : CF_EKEYFILE;
}

void cf_keys_z85_encode(const uint8_t key[32], char out[CF_Z85_KEY_LEN + 1])
{
    zmq_z85_encode(out, key, 32);
}

int cf_keys_z85_decode(const char *text, uint8_t key[32])
{
    if (strlen(text) != CF_Z85_KEY_LEN || !zmq_z85_decode(key, text))
        return CF_EKEYFILE;
    return 0;
}

static struct cf_keys *keys_alloc(void)
{
    struct cf_keys *k = sodium_malloc(sizeof *k);
    if (k)
        sodium_memzero(k, sizeof *k);
    return k;
}

void cf_keys_destroy(struct cf_keys **keys)
{
    if (keys && *keys) {
        sodium_free(*keys); /* sodium_free wipes before releasing */
        *keys = NULL;
    }
}

static bool distinct(const uint8_t *a, const uint8_t *b)
{
    return sodium_memcmp(a, b, 32) != 0;
}

/* The three public keys of one holder must differ from one another. */
static int check_distinct(const struct cf_keys *k)
{
    if (k->has_box && (!distinct(k->sign_pk, k->box_pk) || !distinct(k->box_sk, k->sign_sk)))
        return CF_EKEYREUSE;
    if (k->has_curve && (!distinct(k->sign_pk, k->curve_pk) || !distinct(k->curve_sk, k->sign_sk)))
        return CF_EKEYREUSE;
    if (k->has_box && k->has_curve &&
        (!distinct(k->box_pk, k->curve_pk) || !distinct(k->box_sk, k->curve_sk)))
        return CF_EKEYREUSE;
    return 0;
}

int cf_keys_generate(enum cf_key_kind kind, const char *id, struct cf_keys **out,
                     struct cf_error *err)
{
    if (kind < CF_KEYS_AGENCY || kind > CF_KEYS_AUTHORITY)
        return cf_error_set(err, CF_EINVAL, "unknown key kind");
    const char *name = kind == CF_KEYS_AGENCY ? id : kind_names[kind];
    if (!name || !cf_header_id_valid(name, strlen(name)))
        return cf_error_set(err, CF_EID, "'%s' is not an agency id: use 3 to 64 of a-z, 0-9 and -",
                            name ? name : "");
    struct cf_keys *k = keys_alloc();
    if (!k)
        return cf_error_set(err, CF_ENOMEM, "cannot allocate secure memory");
    k->kind = kind;
    memcpy(k->id, name, strlen(name) + 1);
    /* Each pair from its own randomness: one leaked secret gives no other. */
    crypto_sign_keypair(k->sign_pk, k->sign_sk);
    if (kind == CF_KEYS_AGENCY) {
        crypto_box_keypair(k->box_pk, k->box_sk);
        k->has_box = true;
    }
    if (kind != CF_KEYS_AUTHORITY) {
        crypto_box_keypair(k->curve_pk, k->curve_sk);
        k->has_curve = true;
    }
    if (check_distinct(k) != 0) { /* a broken RNG, not bad luck */
        cf_keys_destroy(&k);
        return cf_error_set(err, CF_EKEYREUSE,
                            "generated keys repeat: the random source is broken");
    }
    *out = k;
    return 0;
}

/* Appends "name = value\n" to the secure text buffer. */
static int put_line(char *buf, size_t cap, size_t *len, const char *name, const char *value)
{
    int n = snprintf(buf + *len, cap - *len, "%s = %s\n", name, value);
    if (n < 0 || (size_t)n >= cap - *len)
        return CF_ETOOBIG;
    *len += (size_t)n;
    return 0;
}

int cf_keys_save(const struct cf_keys *k, const char *path, struct cf_error *err)
{
    const size_t cap = CF_MAX_KEY_FILE;
    char *text = sodium_malloc(cap), *b64 = sodium_malloc(128);
    int rc = 0, fd = -1;
    size_t len = 0;
    if (!text || !b64) {
        rc = cf_error_set(err, CF_ENOMEM, "cannot allocate secure memory");
        goto out;
    }
    len = (size_t)snprintf(text, cap,
                           "# ChildFirst secret key file. Keep it mode 0600 on this host; never "
                           "send it anywhere.\n");
    rc = put_line(text, cap, &len, "kind", kind_names[k->kind]);
    if (rc == 0)
        rc = put_line(text, cap, &len, "id", k->id);
    sodium_bin2base64(b64, 128, k->sign_sk, sizeof k->sign_sk, sodium_base64_VARIANT_ORIGINAL);
    if (rc == 0)
        rc = put_line(text, cap, &len, "sign_secret", b64);
    if (rc == 0 && k->has_box) {
        cf_keys_b64_encode(k->box_sk, b64);
        rc = put_line(text, cap, &len, "box_secret", b64);
    }
    if (rc == 0 && k->has_curve) {
        cf_keys_z85_encode(k->curve_sk, b64);
        rc = put_line(text, cap, &len, "curve_secret", b64);
    }
    if (rc != 0) {
        rc = cf_error_set(err, rc, "%s: key text too long", path);
        goto out;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = cf_error_set(err, CF_EIO, "%s: cannot create (%s); keygen never overwrites a key",
                          path, strerror(errno));
        goto out;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = cf_error_set(err, CF_EIO, "%s: write failed: %s", path, strerror(errno));
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        rc = cf_error_set(err, CF_EIO, "%s: fsync failed: %s", path, strerror(errno));
        goto out;
    }
    rc = cf_file_sync_parent(path, err);
out:
    if (fd >= 0) {
        close(fd);
        if (rc != 0)
            unlink(path);
    }
    sodium_free(text);
    sodium_free(b64);
    return rc;
}

/* Parses the key file text in place (the buffer is secure memory). */
static int parse_key_text(char *text, const char *path, struct cf_keys *k, struct cf_error *err)
{
    bool seen_kind = false, seen_id = false, seen_sign = false, seen_box = false,
         seen_curve = false;
    unsigned line = 0;
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        line++;
        char *s = p;
        p = nl ? nl + 1 : p + strlen(p);
        if (*s == 0 || *s == '#')
            continue;
        char *eq = strstr(s, " = ");
        if (!eq)
            return cf_error_set(err, CF_EKEYFILE, "%s:%u: expected 'name = value'", path, line);
        *eq = 0;
        const char *name = s, *value = eq + 3;
        bool *seen;
        int rc = 0;
        if (strcmp(name, "kind") == 0) {
            seen = &seen_kind;
            k->kind = 0;
            for (int i = 1; i <= CF_KEYS_AUTHORITY; i++)
                if (strcmp(value, kind_names[i]) == 0)
                    k->kind = (enum cf_key_kind)i;
            rc = k->kind ? 0 : CF_EKEYFILE;
        } else if (strcmp(name, "id") == 0) {
            seen = &seen_id;
            rc = cf_header_id_valid(value, strlen(value)) ? 0 : CF_EID;
            if (rc == 0)
                memcpy(k->id, value, strlen(value) + 1);
        } else if (strcmp(name, "sign_secret") == 0) {
            seen = &seen_sign;
            rc = cf_keys_b64_exact(value, strlen(value), k->sign_sk, sizeof k->sign_sk)
                     ? 0
                     : CF_EKEYFILE;
        } else if (strcmp(name, "box_secret") == 0) {
            seen = &seen_box;
            rc = cf_keys_b64_exact(value, strlen(value), k->box_sk, sizeof k->box_sk) ? 0
                                                                                      : CF_EKEYFILE;
            k->has_box = true;
        } else if (strcmp(name, "curve_secret") == 0) {
            seen = &seen_curve;
            rc = cf_keys_z85_decode(value, k->curve_sk);
            k->has_curve = true;
        } else {
            return cf_error_set(err, CF_EKEYFILE, "%s:%u: unknown key '%s'", path, line, name);
        }
        if (*seen)
            return cf_error_set(err, CF_EKEYFILE, "%s:%u: '%s' is repeated", path, line, name);
        *seen = true;
        if (rc != 0)
            return cf_error_set(err, rc, "%s:%u: the value of '%s' is malformed", path, line, name);
    }
    if (!seen_kind || !seen_id || !seen_sign)
        return cf_error_set(err, CF_EKEYFILE, "%s: needs kind, id and sign_secret", path);
    bool want_box = k->kind == CF_KEYS_AGENCY, want_curve = k->kind != CF_KEYS_AUTHORITY;
    if (seen_box != want_box || seen_curve != want_curve)
        return cf_error_set(err, CF_EKEYFILE, "%s: a %s key file needs %s", path,
                            kind_names[k->kind],
                            want_box     ? "box_secret and curve_secret"
                            : want_curve ? "curve_secret and no box_secret"
                                         : "no box_secret or curve_secret");
    return 0;
}

/* Recomputes every public key from its secret and checks the Ed25519 secret is
 * whole (seed and public half agree). */
static int derive_publics(struct cf_keys *k)
{
    uint8_t seed_pk[CF_SIGN_PK];
    unsigned char *check = sodium_malloc(CF_SIGN_SK);
    if (!check)
        return CF_ENOMEM;
    crypto_sign_ed25519_sk_to_pk(k->sign_pk, k->sign_sk);
    crypto_sign_seed_keypair(seed_pk, check, k->sign_sk);
    int ok = sodium_memcmp(check, k->sign_sk, CF_SIGN_SK) == 0;
    sodium_free(check);
    if (!ok)
        return CF_EKEYFILE;
    if (k->has_box && crypto_scalarmult_base(k->box_pk, k->box_sk) != 0)
        return CF_EKEYFILE;
    if (k->has_curve && crypto_scalarmult_base(k->curve_pk, k->curve_sk) != 0)
        return CF_EKEYFILE;
    return check_distinct(k);
}

int cf_keys_load(const char *path, struct cf_keys **out, struct cf_error *err)
{
    int rc = 0;
    char *text = NULL;
    struct cf_keys *k = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cf_error_set(err, CF_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = cf_error_set(err, CF_EKEYFILE, "%s: not a regular file", path);
        goto out;
    }
    if (st.st_mode & 077) {
        rc = cf_error_set(err, CF_EKEYMODE,
                          "%s: mode %03o lets other users read a secret key; run chmod 600 %s",
                          path, (unsigned)(st.st_mode & 0777), path);
        goto out;
    }
    text = sodium_malloc(CF_MAX_KEY_FILE + 1);
    k = keys_alloc();
    if (!text || !k) {
        rc = cf_error_set(err, CF_ENOMEM, "cannot allocate secure memory");
        goto out;
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, text + n, CF_MAX_KEY_FILE + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = cf_error_set(err, CF_EIO, "%s: read failed: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > CF_MAX_KEY_FILE) {
            rc = cf_error_set(err, CF_ETOOBIG, "%s: larger than a key file can be", path);
            goto out;
        }
    }
    text[n] = 0;
    if (memchr(text, 0, n)) {
        rc = cf_error_set(err, CF_EKEYFILE, "%s: holds a NUL byte", path);
        goto out;
    }
    rc = parse_key_text(text, path, k, err);
    if (rc != 0)
        goto out;
    rc = derive_publics(k);
    if (rc != 0) {
        rc = cf_error_set(err, rc,
                          rc == CF_EKEYREUSE ? "%s: two of its key pairs are the same"
                                             : "%s: a secret key is damaged",
                          path);
        goto out;
    }
    *out = k;
    k = NULL;
out:
    close(fd);
    if (text)
        sodium_free(text);
    cf_keys_destroy(&k);
    return rc;
}

int cf_keys_public_text(const struct cf_keys *k, char *buf, size_t cap)
{
    char sign[CF_B64_KEY_LEN + 1], box[CF_B64_KEY_LEN + 1], curve[CF_Z85_KEY_LEN + 1];
    cf_keys_b64_encode(k->sign_pk, sign);
    int n;
    switch (k->kind) {
    case CF_KEYS_AGENCY:
        cf_keys_b64_encode(k->box_pk, box);
        cf_keys_z85_encode(k->curve_pk, curve);
        n = snprintf(buf, cap, "[%s]\nsign_key = %s\nbox_key = %s\ncurve_key = %s\n", k->id, sign,
                     box, curve);
        break;
    case CF_KEYS_BROKER:
        cf_keys_z85_encode(k->curve_pk, curve);
        n = snprintf(buf, cap,
                     "# the broker's public keys; in agent.ini they are broker_sign_key and "
                     "broker_curve_key\nsign_key = %s\ncurve_key = %s\n",
                     sign, curve);
        break;
    case CF_KEYS_AUTHORITY:
        n = snprintf(buf, cap, "authority_key = %s\n", sign);
        break;
    default:
        return CF_EINVAL;
    }
    return n < 0 || (size_t)n >= cap ? CF_ETOOBIG : 0;
}
