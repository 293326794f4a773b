/* The referral JSON of DESIGN.md section 9: parse and validate it, write it back, free it.
 * One table per JSON object describes every key (its kind, limits and place in the struct)
 * and three walkers read the tables, so each rule lives in one row and parsing, emitting
 * and freeing cannot drift apart. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "childfirst/limits.h"
#include "childfirst/referral.h"

/* How a key is stored, and so how it is parsed, emitted and freed. */
enum kind {
    K_TEXT,    /* char *, a malloc'ed copy; NULL when absent */
    K_DATE,    /* K_TEXT holding a calendar date, YYYY-MM-DD */
    K_CODE,    /* char[max + 1] filled in place; "" when absent */
    K_URGENCY, /* enum cf_urgency, by the header's names */
    K_BOOL,    /* bool; only for required keys, since absent cannot be told from false */
    K_TRIBOOL, /* enum cf_tribool */
    K_COUNT,   /* unsigned whole number from min to max; `flag` records presence */
    K_LIST,    /* struct cf_strlist whose items follow this row's string rules */
    K_OBJECT,  /* an embedded struct that `object` describes */
};

struct object;

struct field {
    const char *key;
    enum kind kind;
    bool required;
    size_t offset;              /* of the member, in the struct the table describes */
    size_t flag;                /* PRESENCE() of a bool set when the key is present */
    size_t min, max;            /* bytes of a string or list item (max 0: no limit of
                                   its own); the range of a count */
    bool multiline;             /* the string may hold \n and \t */
    const char *const *choices; /* NULL-terminated: the only values allowed */
    bool (*valid)(const char *s, size_t len);
    const char *rule;            /* what valid() checks, as the end of a sentence */
    const char *earliest;        /* K_DATE: the first date allowed, or NULL */
    size_t max_items;            /* K_LIST */
    bool non_empty, unique;      /* K_LIST */
    const struct object *object; /* K_OBJECT */
};

struct object {
    const struct field *fields;
    size_t n_fields;
    const char *either[2]; /* at least one of these keys must be present (NULL: no rule) */
    const char *either_rule;
};

/* Offsets of presence flags are stored plus one, so that 0 means "no flag". */
#define PRESENCE(type, member) (offsetof(type, member) + 1)
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

static bool nationality_valid(const char *s, size_t len)
{
    return len == 2 && is_upper(s[0]) && is_upper(s[1]);
}

static bool language_valid(const char *s, size_t len)
{
    if (len < 2 || len > 3)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_lower(s[i]))
            return false;
    return true;
}

static bool phone_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_digit(s[i]) && !strchr(" +-()", s[i]))
            return false;
    return true;
}

static bool email_valid(const char *s, size_t len)
{
    const char *at = memchr(s, '@', len);
    if (!at || at == s || at == s + len - 1)
        return false;
    return !memchr(at + 1, '@', (size_t)(s + len - at - 1)) && !memchr(s, ' ', len);
}

/* YYYY-MM-DD: the shape only. */
static bool date_written(const char *s, size_t len)
{
    if (len != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (size_t i = 0; i < len; i++)
        if (i != 4 && i != 7 && !is_digit(s[i]))
            return false;
    return true;
}

static unsigned digits(const char *s, size_t n)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (unsigned)(s[i] - '0');
    return v;
}

/* A date_written() string naming a day of the Gregorian calendar. */
static bool date_real(const char *s)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned year = digits(s, 4), month = digits(s + 5, 2), day = digits(s + 8, 2);
    if (month < 1 || month > 12 || day < 1)
        return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return day <= days[month - 1] + (month == 2 && leap);
}

static const char *const sex_names[] = {"female", "male", "other", "unknown", NULL};
static const char *const exploitation_names[] = {
    "criminal", "sexual", "labour", "domestic_servitude", "organ_removal", "unknown", NULL};

#define CHILD(m) offsetof(struct cf_child, m)
static const struct field child_fields[] = {
    {.key = "given_name", .kind = K_TEXT, .offset = CHILD(given_name), .min = 1, .max = 100},
    {.key = "family_name", .kind = K_TEXT, .offset = CHILD(family_name), .min = 1, .max = 100},
    {.key = "aliases",
     .kind = K_LIST,
     .offset = CHILD(aliases),
     .min = 1,
     .max = 100,
     .max_items = 20},
    {.key = "date_of_birth",
     .kind = K_DATE,
     .offset = CHILD(date_of_birth),
     .earliest = "1900-01-01"},
    {.key = "estimated_age",
     .kind = K_COUNT,
     .offset = CHILD(estimated_age),
     .flag = PRESENCE(struct cf_child, has_estimated_age),
     .min = 0,
     .max = 25},
    {.key = "age_disputed", .kind = K_TRIBOOL, .offset = CHILD(age_disputed)},
    {.key = "sex", .kind = K_TEXT, .offset = CHILD(sex), .choices = sex_names},
    {.key = "nationality",
     .kind = K_TEXT,
     .offset = CHILD(nationality),
     .valid = nationality_valid,
     .rule = "must be two capital letters, an ISO 3166-1 alpha-2 code like ER"},
    {.key = "languages",
     .kind = K_LIST,
     .offset = CHILD(languages),
     .max_items = 20,
     .valid = language_valid,
     .rule = "must be two or three lowercase letters, an ISO 639 code like ti"},
    {.key = "interpreter_required", .kind = K_TRIBOOL, .offset = CHILD(interpreter_required)},
    {.key = "unaccompanied", .kind = K_TRIBOOL, .offset = CHILD(unaccompanied)},
    {.key = "location", .kind = K_TEXT, .offset = CHILD(location), .max = 500},
    {.key = "accommodation", .kind = K_TEXT, .offset = CHILD(accommodation), .max = 500},
};
#undef CHILD

static const struct object child_object = {
    child_fields,
    COUNT_OF(child_fields),
    {"date_of_birth", "estimated_age"},
    "give date_of_birth or estimated_age",
};

#define REFERRER(m) offsetof(struct cf_referrer, m)
static const struct field referrer_fields[] = {
    {.key = "name",
     .kind = K_TEXT,
     .required = true,
     .offset = REFERRER(name),
     .min = 1,
     .max = 200},
    {.key = "role", .kind = K_TEXT, .offset = REFERRER(role), .max = 200},
    {.key = "phone",
     .kind = K_TEXT,
     .offset = REFERRER(phone),
     .min = 5,
     .max = 32,
     .valid = phone_valid,
     .rule = "may hold only digits, spaces, +, -, ( and )"},
    {.key = "email",
     .kind = K_TEXT,
     .offset = REFERRER(email),
     .min = 1,
     .max = 254,
     .valid = email_valid,
     .rule = "must be an address like name@example.org: one @, text either side, no spaces"},
};
#undef REFERRER

static const struct object referrer_object = {
    referrer_fields,
    COUNT_OF(referrer_fields),
    {"phone", "email"},
    "give a phone or an email so the LA can call back",
};

#define REFERRAL(m) offsetof(struct cf_referral, m)
static const struct field referral_fields[] = {
    {.key = "case_id",
     .kind = K_CODE,
     .offset = REFERRAL(case_id),
     .max = CF_CASE_ID_LEN,
     .valid = cf_header_case_id_valid,
     .rule = "must be a case id made by ChildFirst: cf- then 26 of a-z and 2-7"},
    {.key = "la_code",
     .kind = K_CODE,
     .required = true,
     .offset = REFERRAL(la_code),
     .max = CF_LA_CODE_LEN,
     .valid = cf_header_la_code_valid,
     .rule = "must be a local authority GSS code: a capital letter and eight digits, "
             "like E09000033"},
    {.key = "urgency", .kind = K_URGENCY, .required = true, .offset = REFERRAL(urgency)},
    {.key = "immediate_risk", .kind = K_BOOL, .required = true, .offset = REFERRAL(immediate_risk)},
    {.key = "child",
     .kind = K_OBJECT,
     .required = true,
     .offset = REFERRAL(child),
     .object = &child_object},
    {.key = "exploitation",
     .kind = K_LIST,
     .required = true,
     .offset = REFERRAL(exploitation),
     .choices = exploitation_names,
     .max_items = COUNT_OF(exploitation_names) - 1,
     .non_empty = true,
     .unique = true},
    {.key = "county_lines", .kind = K_TRIBOOL, .offset = REFERRAL(county_lines)},
    {.key = "indicators",
     .kind = K_LIST,
     .offset = REFERRAL(indicators),
     .min = 1,
     .max = 200,
     .max_items = 50},
    {.key = "narrative",
     .kind = K_TEXT,
     .required = true,
     .offset = REFERRAL(narrative),
     .min = 1,
     .max = 65536,
     .multiline = true},
    {.key = "first_concern_date",
     .kind = K_DATE,
     .required = true,
     .offset = REFERRAL(first_concern_date)},
    {.key = "referrer",
     .kind = K_OBJECT,
     .required = true,
     .offset = REFERRAL(referrer),
     .flag = PRESENCE(struct cf_referral, has_referrer),
     .object = &referrer_object},
    {.key = "other_agencies",
     .kind = K_LIST,
     .offset = REFERRAL(other_agencies),
     .min = 1,
     .max = 200,
     .max_items = 20},
};
#undef REFERRAL

static const struct object referral_object = {
    referral_fields, COUNT_OF(referral_fields), {NULL, NULL}, NULL};

/* Parsing */

enum { PATH_LEN = 160, KEY_SHOWN = 64 };

/* A field's path, e.g. "child.given_name". Keys may be a sender's unknown ones and the
 * sentence may reach a log line, so they are cut short and control characters shown as '?'. */
static void path_key(char *dst, const char *parent, const char *key)
{
    char shown[KEY_SHOWN + 4];
    size_t len = strlen(key), n = len > KEY_SHOWN ? KEY_SHOWN : len;
    while (n > 0 && n < len && ((unsigned char)key[n] & 0xc0) == 0x80)
        n--; /* not inside a UTF-8 sequence */
    for (size_t i = 0; i < n; i++)
        shown[i] = is_control((unsigned char)key[i]) ? '?' : key[i];
    strcpy(shown + n, n < len ? "..." : "");
    snprintf(dst, PATH_LEN, "%s%s%s", parent, parent[0] ? "." : "", shown);
}

static char *copy_string(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = 0;
    }
    return p;
}

static int one_of(struct cf_error *err, const char *path, const char *const *names, size_t n)
{
    char list[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", names[i]);
    return cf_error_set(err, CF_EFIELD, "%s: must be one of %s", path, list);
}

/* Every rule a string (a value or a list item) must pass, in the order they are reported. */
static int check_string(const struct field *f, const char *path, const char *s, size_t len,
                        const char *today, struct cf_error *err)
{
    if (f->kind != K_CODE) { /* a code's own rule states its length better */
        if (len == 0 && f->min > 0)
            return cf_error_set(err, CF_EFIELD, "%s: must not be empty", path);
        if (len < f->min)
            return cf_error_set(err, CF_EFIELD, "%s: must be at least %zu bytes", path, f->min);
        if (f->max && len > f->max)
            return cf_error_set(err, CF_EFIELD, "%s: must be at most %zu bytes", path, f->max);
    }
    for (size_t i = 0; i < len; i++)
        if (is_control((unsigned char)s[i]) && !(f->multiline && (s[i] == '\n' || s[i] == '\t')))
            return cf_error_set(err, CF_EFIELD, "%s: contains a control character", path);
    if (f->choices) {
        size_t n = 0;
        while (f->choices[n] && strcmp(f->choices[n], s) != 0)
            n++;
        if (!f->choices[n]) {
            while (f->choices[n])
                n++;
            return one_of(err, path, f->choices, n);
        }
    }
    if (f->kind == K_URGENCY && cf_header_urgency_parse(s) == CF_URGENCY_NONE) {
        const char *names[] = {cf_header_urgency_name(CF_URGENCY_IMMEDIATE),
                               cf_header_urgency_name(CF_URGENCY_URGENT),
                               cf_header_urgency_name(CF_URGENCY_ROUTINE)};
        return one_of(err, path, names, COUNT_OF(names));
    }
    if (f->valid && !f->valid(s, len))
        return cf_error_set(err, CF_EFIELD, "%s: %s", path, f->rule);
    if (f->kind == K_DATE) {
        if (!date_written(s, len))
            return cf_error_set(err, CF_EFIELD, "%s: must be a date written YYYY-MM-DD", path);
        if (!date_real(s))
            return cf_error_set(err, CF_EFIELD, "%s: must be a real calendar date", path);
        /* Same shape, so the strings compare as the dates do. */
        if (strcmp(s, today) > 0)
            return cf_error_set(err, CF_EFIELD, "%s: must not be after today (%s)", path, today);
        if (f->earliest && strcmp(s, f->earliest) < 0)
            return cf_error_set(err, CF_EFIELD, "%s: must be on or after %s", path, f->earliest);
    }
    return 0;
}

static int parse_list(const struct field *f, const char *path, const json_t *v,
                      struct cf_strlist *list, const char *today, struct cf_error *err)
{
    if (!json_is_array(v))
        return cf_error_set(err, CF_EFIELD, "%s: must be an array of strings", path);
    size_t n = json_array_size(v);
    if (n == 0 && f->non_empty)
        return cf_error_set(err, CF_EFIELD, "%s: must not be empty", path);
    if (n > f->max_items)
        return cf_error_set(err, CF_EFIELD, "%s: must have at most %zu items", path, f->max_items);
    list->present = true;
    if (n == 0)
        return 0;
    list->items = calloc(n, sizeof *list->items);
    if (!list->items)
        return cf_error_set(err, CF_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) {
        char item_path[PATH_LEN + 24]; /* path, "[", an index, "]" */
        snprintf(item_path, sizeof item_path, "%s[%zu]", path, i);
        const json_t *item = json_array_get(v, i);
        if (!json_is_string(item))
            return cf_error_set(err, CF_EFIELD, "%s: must be a string", item_path);
        const char *s = json_string_value(item);
        int rc = check_string(f, item_path, s, json_string_length(item), today, err);
        if (rc)
            return rc;
        /* Only lists of fixed choices are unique, so the value shown is never free text. */
        for (size_t j = 0; f->unique && j < i; j++)
            if (strcmp(list->items[j], s) == 0)
                return cf_error_set(err, CF_EFIELD, "%s: '%s' is repeated", item_path, s);
        list->items[i] = copy_string(s, json_string_length(item));
        if (!list->items[i])
            return cf_error_set(err, CF_ENOMEM, "%s: out of memory", item_path);
        list->n = i + 1;
    }
    return 0;
}

static int parse_object(const struct object *o, const char *path, const json_t *json, void *base,
                        const char *today, struct cf_error *err);

static int parse_field(const struct field *f, const char *path, const json_t *v, void *base,
                       const char *today, struct cf_error *err)
{
    char *at = (char *)base + f->offset;
    int rc = 0;
    switch (f->kind) {
    case K_TEXT:
    case K_DATE:
    case K_CODE:
    case K_URGENCY: {
        if (!json_is_string(v))
            return cf_error_set(err, CF_EFIELD, "%s: must be a string", path);
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        rc = check_string(f, path, s, len, today, err);
        if (rc)
            return rc;
        if (f->kind == K_CODE) {
            assert(len <= f->max); /* valid() checked the length */
            memcpy(at, s, len);
            at[len] = 0;
        } else if (f->kind == K_URGENCY) {
            *(enum cf_urgency *)(void *)at = cf_header_urgency_parse(s);
        } else if (!(*(char **)(void *)at = copy_string(s, len))) {
            return cf_error_set(err, CF_ENOMEM, "%s: out of memory", path);
        }
        break;
    }
    case K_BOOL:
    case K_TRIBOOL:
        if (!json_is_boolean(v))
            return cf_error_set(err, CF_EFIELD, "%s: must be a boolean", path);
        if (f->kind == K_BOOL)
            *(bool *)(void *)at = json_is_true(v);
        else
            *(enum cf_tribool *)(void *)at = json_is_true(v) ? CF_TRUE : CF_FALSE;
        break;
    case K_COUNT: {
        if (!json_is_integer(v))
            return cf_error_set(err, CF_EFIELD, "%s: must be a whole number", path);
        json_int_t n = json_integer_value(v);
        if (n < 0 || (unsigned long long)n < f->min || (unsigned long long)n > f->max)
            return cf_error_set(err, CF_EFIELD, "%s: must be from %zu to %zu", path, f->min,
                                f->max);
        *(unsigned *)(void *)at = (unsigned)n;
        break;
    }
    case K_LIST:
        rc = parse_list(f, path, v, (struct cf_strlist *)(void *)at, today, err);
        break;
    case K_OBJECT:
        if (!json_is_object(v))
            return cf_error_set(err, CF_EFIELD, "%s: must be an object", path);
        rc = parse_object(f->object, path, v, at, today, err);
        break;
    }
    if (rc == 0 && f->flag)
        *(bool *)(void *)((char *)base + f->flag - 1) = true;
    return rc;
}

static const struct field *find_field(const struct object *o, const char *key)
{
    for (size_t i = 0; i < o->n_fields; i++)
        if (strcmp(o->fields[i].key, key) == 0)
            return &o->fields[i];
    return NULL;
}

static int parse_object(const struct object *o, const char *path, const json_t *json, void *base,
                        const char *today, struct cf_error *err)
{
    char sub[PATH_LEN];
    /* Unknown keys first: a misspelt key would otherwise be reported as a missing one. */
    for (void *it = json_object_iter((json_t *)json); it;
         it = json_object_iter_next((json_t *)json, it)) {
        const char *key = json_object_iter_key(it);
        if (!find_field(o, key)) {
            path_key(sub, path, key);
            return cf_error_set(err, CF_EFIELD, "%s: unknown key", sub);
        }
    }
    for (size_t i = 0; i < o->n_fields; i++) {
        const struct field *f = &o->fields[i];
        const json_t *v = json_object_get(json, f->key);
        path_key(sub, path, f->key);
        if (!v && f->required)
            return cf_error_set(err, CF_EFIELD, "%s: is required", sub);
        int rc = v ? parse_field(f, sub, v, base, today, err) : 0;
        if (rc)
            return rc;
    }
    if (o->either[0] && !json_object_get(json, o->either[0]) &&
        !json_object_get(json, o->either[1]))
        return cf_error_set(err, CF_EFIELD, "%s: %s", path, o->either_rule);
    return 0;
}

int cf_referral_from_json(const char *text, size_t len, const char *today, struct cf_referral *out,
                          struct cf_error *err)
{
    memset(out, 0, sizeof *out);
    if (!today || !date_written(today, strlen(today)) || !date_real(today))
        return cf_error_set(err, CF_EINVAL, "today: must be a date written YYYY-MM-DD");
    if (len > CF_MAX_JSON)
        return cf_error_set(err, CF_ETOOBIG, "document: must be at most %u bytes", CF_MAX_JSON);
    if (!text)
        return cf_error_set(err, CF_EINVAL, "document: no text given");

    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        int code = json_error_code(&jerr) == json_error_out_of_memory ? CF_ENOMEM : CF_EJSON;
        return cf_error_set(err, code, "document: line %d, column %d: %s", jerr.line, jerr.column,
                            jerr.text);
    }
    int rc = json_is_object(doc) ? parse_object(&referral_object, "", doc, out, today, err)
                                 : cf_error_set(err, CF_EJSON, "document: must be a JSON object");
    json_decref(doc);
    if (rc)
        cf_referral_fini(out);
    return rc;
}

/* Emitting */

static bool is_present(const struct field *f, const void *base)
{
    const char *at = (const char *)base + f->offset;
    if (f->flag)
        return *(const bool *)(const void *)((const char *)base + f->flag - 1);
    switch (f->kind) {
    case K_TEXT:
    case K_DATE:
        return *(char *const *)(const void *)at != NULL;
    case K_CODE:
        return at[0] != 0;
    case K_URGENCY:
        return *(const enum cf_urgency *)(const void *)at != CF_URGENCY_NONE;
    case K_TRIBOOL:
        return *(const enum cf_tribool *)(const void *)at != CF_ABSENT;
    case K_LIST:
        return ((const struct cf_strlist *)(const void *)at)->present;
    case K_BOOL:
    case K_COUNT:
    case K_OBJECT:
        break;
    }
    return true;
}

static json_t *emit_object(const struct object *o, const void *base);

static json_t *emit_list(const struct cf_strlist *list)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < list->n; i++)
        if (json_array_append_new(a, json_string(list->items[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* NULL when out of memory (or when a string is not UTF-8, which parsing never lets in). */
static json_t *emit_value(const struct field *f, const void *base)
{
    const char *at = (const char *)base + f->offset;
    switch (f->kind) {
    case K_TEXT:
    case K_DATE:
        return json_string(*(char *const *)(const void *)at);
    case K_CODE:
        return json_string(at);
    case K_URGENCY:
        return json_string(cf_header_urgency_name(*(const enum cf_urgency *)(const void *)at));
    case K_BOOL:
        return json_boolean(*(const bool *)(const void *)at);
    case K_TRIBOOL:
        return json_boolean(*(const enum cf_tribool *)(const void *)at == CF_TRUE);
    case K_COUNT:
        return json_integer(*(const unsigned *)(const void *)at);
    case K_LIST:
        return emit_list((const struct cf_strlist *)(const void *)at);
    case K_OBJECT:
        return emit_object(f->object, at);
    }
    return NULL;
}

static json_t *emit_object(const struct object *o, const void *base)
{
    json_t *json = json_object();
    for (size_t i = 0; json && i < o->n_fields; i++) {
        const struct field *f = &o->fields[i];
        /* json_object_set_new releases the value, or refuses a NULL one, on failure. */
        if (is_present(f, base) && json_object_set_new(json, f->key, emit_value(f, base)) != 0) {
            json_decref(json);
            return NULL;
        }
    }
    return json;
}

json_t *cf_referral_to_json(const struct cf_referral *r)
{
    return emit_object(&referral_object, r);
}

/* Freeing */

static void fini_object(const struct object *o, void *base)
{
    for (size_t i = 0; i < o->n_fields; i++) {
        const struct field *f = &o->fields[i];
        char *at = (char *)base + f->offset;
        if (f->kind == K_TEXT || f->kind == K_DATE) {
            free(*(char **)(void *)at);
        } else if (f->kind == K_LIST) {
            struct cf_strlist *list = (struct cf_strlist *)(void *)at;
            for (size_t j = 0; j < list->n; j++)
                free(list->items[j]);
            free(list->items);
        } else if (f->kind == K_OBJECT) {
            fini_object(f->object, at);
        }
    }
}

void cf_referral_fini(struct cf_referral *r)
{
    if (!r)
        return;
    fini_object(&referral_object, r);
    memset(r, 0, sizeof *r);
}
