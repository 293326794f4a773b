/* The table-driven JSON walker of schema.h: load a document, check it row by row, store it,
 * write it back, free it. The referral and every case message use these same functions, so a
 * string, list or date rule reads the same wherever it appears and lives in one place. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "childfirst/limits.h"
#include "schema.h"

/* ---- Character classes and dates ---- */

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* Digits at the given places, the given separators at the others. */
static bool written(const char *s, size_t len, const char *shape)
{
    if (len != strlen(shape))
        return false;
    for (size_t i = 0; i < len; i++)
        if (shape[i] == '9' ? !is_digit(s[i]) : s[i] != shape[i])
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

/* A YYYY-MM-DD prefix naming a day of the Gregorian calendar. */
static bool date_real(const char *s)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned year = digits(s, 4), month = digits(s + 5, 2), day = digits(s + 8, 2);
    if (month < 1 || month > 12 || day < 1)
        return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return day <= days[month - 1] + (month == 2 && leap);
}

/* An HH:MM on a 24-hour clock. */
static bool time_real(const char *s)
{
    return digits(s, 2) <= 23 && digits(s + 3, 2) <= 59;
}

bool cf_schema_date_valid(const char *s, size_t len)
{
    return written(s, len, "9999-99-99") && date_real(s);
}

/* ---- Shared vocabularies ---- */

const char *const cf_schema_sex_names[] = {"female", "male", "other", "unknown", NULL};
const char *const cf_schema_exploitation_names[] = {
    "criminal", "sexual", "labour", "domestic_servitude", "organ_removal", "unknown", NULL};
const char cf_schema_nationality_rule[] =
    "must be two capital letters, an ISO 3166-1 alpha-2 code like ER";
const char cf_schema_la_code_rule[] =
    "must be a local authority GSS code: a capital letter and eight digits, like E09000033";

bool cf_schema_nationality_valid(const char *s, size_t len)
{
    return len == 2 && is_upper(s[0]) && is_upper(s[1]);
}

/* ---- Loading ---- */

enum { PATH_LEN = 160, KEY_SHOWN = 64 };

/* A key as a message may show it. Keys may be a sender's unknown ones and the sentence may
 * reach a log line, so they are cut short and control characters shown as '?'. */
static void show_key(char dst[KEY_SHOWN + 4], const char *key)
{
    size_t len = strlen(key), n = len > KEY_SHOWN ? KEY_SHOWN : len;
    while (n > 0 && n < len && ((unsigned char)key[n] & 0xc0) == 0x80)
        n--; /* not inside a UTF-8 sequence */
    for (size_t i = 0; i < n; i++)
        dst[i] = is_control((unsigned char)key[i]) ? '?' : key[i];
    strcpy(dst + n, n < len ? "..." : "");
}

/* A field's path, e.g. "child.given_name". */
static void path_key(char *dst, const char *parent, const char *key)
{
    char shown[KEY_SHOWN + 4];
    show_key(shown, key);
    snprintf(dst, PATH_LEN, "%s%s%s", parent, parent[0] ? "." : "", shown);
}

/* The key jansson refused as a repeat. Its own text quotes the key raw (escapes and all, cut
 * at 160 bytes), but its position is just past the key's closing quote: find the opening one
 * (the first quote back not escaped by an odd run of backslashes) and decode the token. */
static bool repeated_key(const char *text, size_t len, int position, char shown[KEY_SHOWN + 4])
{
    if (position < 2 || (size_t)position > len || text[position - 1] != '"')
        return false;
    size_t end = (size_t)position - 1, start = end;
    for (;;) {
        if (start == 0)
            return false;
        if (text[--start] != '"')
            continue;
        size_t slashes = 0;
        while (slashes < start && text[start - 1 - slashes] == '\\')
            slashes++;
        if (slashes % 2 == 0)
            break;
    }
    json_t *key = json_loadb(text + start, end + 1 - start, JSON_DECODE_ANY, NULL);
    bool ok = json_is_string(key);
    if (ok)
        show_key(shown, json_string_value(key));
    json_decref(key);
    return ok;
}

int cf_schema_load(const char *text, size_t len, json_t **out, struct cf_error *err)
{
    *out = NULL;
    if (len > CF_MAX_JSON)
        return cf_error_set(err, CF_ETOOBIG, "document: must be at most %u bytes", CF_MAX_JSON);
    if (!text)
        return cf_error_set(err, CF_EINVAL, "document: no text given");

    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        char shown[KEY_SHOWN + 4];
        /* jansson quotes the string it stopped in, which for these two is a value or key the
         * sender wrote (a child's name, say): say what is wrong in our own words instead. */
        switch (json_error_code(&jerr)) {
        case json_error_out_of_memory:
            return cf_error_set(err, CF_ENOMEM, "document: out of memory");
        case json_error_duplicate_key:
            if (repeated_key(text, len, jerr.position, shown))
                return cf_error_set(err, CF_EJSON,
                                    "document: line %d, column %d: duplicate key '%s'", jerr.line,
                                    jerr.column, shown);
            return cf_error_set(err, CF_EJSON, "document: line %d, column %d: duplicate key",
                                jerr.line, jerr.column);
        case json_error_null_character:
        case json_error_null_byte_in_key:
            return cf_error_set(err, CF_EJSON,
                                "document: line %d, column %d: contains a NUL character (\\u0000)",
                                jerr.line, jerr.column);
        default:
            return cf_error_set(err, CF_EJSON, "document: line %d, column %d: %s", jerr.line,
                                jerr.column, jerr.text);
        }
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        return cf_error_set(err, CF_EJSON, "document: must be a JSON object");
    }
    *out = doc;
    return 0;
}

/* ---- Checking and storing ---- */

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

/* A repeated value is shown only when a fixed vocabulary or a syntax rule has already passed
 * it (an exploitation type, an agency id), so the text is never free text. */
static int repeated(struct cf_error *err, const char *path, const struct cf_schema_field *f,
                    const char *s)
{
    if (f->choices || f->valid)
        return cf_error_set(err, CF_EFIELD, "%s: '%s' is repeated", path, s);
    return cf_error_set(err, CF_EFIELD, "%s: is repeated", path);
}

static bool after_today(const struct cf_schema_field *f, const char *s,
                        const struct cf_schema_run *run)
{
    /* Same YYYY-MM-DD shape, so the strings compare as the dates do. */
    return run->today && !f->future && strncmp(s, run->today, 10) > 0;
}

/* Every rule a string (a value or a list item) must pass, in the order they are reported. */
static int check_string(const struct cf_schema_field *f, const char *path, const char *s,
                        size_t len, const struct cf_schema_run *run, struct cf_error *err)
{
    if (f->kind != CF_SCHEMA_CODE) { /* a code's own rule states its length better */
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
    if (f->kind == CF_SCHEMA_URGENCY && cf_header_urgency_parse(s) == CF_URGENCY_NONE) {
        const char *names[] = {cf_header_urgency_name(CF_URGENCY_IMMEDIATE),
                               cf_header_urgency_name(CF_URGENCY_URGENT),
                               cf_header_urgency_name(CF_URGENCY_ROUTINE)};
        return one_of(err, path, names, CF_SCHEMA_COUNT_OF(names));
    }
    if (f->valid && !f->valid(s, len))
        return cf_error_set(err, CF_EFIELD, "%s: %s", path, f->rule);
    if (f->kind == CF_SCHEMA_DATE) {
        if (!written(s, len, "9999-99-99"))
            return cf_error_set(err, CF_EFIELD, "%s: must be a date written YYYY-MM-DD", path);
        if (!date_real(s))
            return cf_error_set(err, CF_EFIELD, "%s: must be a real calendar date", path);
        if (after_today(f, s, run))
            return cf_error_set(err, CF_EFIELD, "%s: must not be after today (%s)", path,
                                run->today);
        if (f->earliest && strcmp(s, f->earliest) < 0)
            return cf_error_set(err, CF_EFIELD, "%s: must be on or after %s", path, f->earliest);
    }
    if (f->kind == CF_SCHEMA_DATETIME) {
        if (!written(s, len, "9999-99-99T99:99"))
            return cf_error_set(err, CF_EFIELD, "%s: must be a local time written YYYY-MM-DDTHH:MM",
                                path);
        if (!date_real(s) || !time_real(s + 11))
            return cf_error_set(err, CF_EFIELD, "%s: must be a real date and time", path);
        if (after_today(f, s, run))
            return cf_error_set(err, CF_EFIELD, "%s: must not be after today (%s)", path,
                                run->today);
    }
    return 0;
}

/* A list of strings; stored into *list unless it is NULL. */
static int parse_list(const struct cf_schema_field *f, const char *path, const json_t *v,
                      struct cf_strlist *list, const struct cf_schema_run *run,
                      struct cf_error *err)
{
    if (!json_is_array(v))
        return cf_error_set(err, CF_EFIELD, "%s: must be an array of strings", path);
    size_t n = json_array_size(v);
    if (n == 0 && f->non_empty)
        return cf_error_set(err, CF_EFIELD, "%s: must not be empty", path);
    if (n > f->max_items)
        return cf_error_set(err, CF_EFIELD, "%s: must have at most %zu items", path, f->max_items);
    if (list)
        list->present = true;
    if (n == 0)
        return 0;
    if (list && !(list->items = calloc(n, sizeof *list->items)))
        return cf_error_set(err, CF_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) {
        char item_path[PATH_LEN + 24]; /* path, "[", an index, "]" */
        snprintf(item_path, sizeof item_path, "%s[%zu]", path, i);
        const json_t *item = json_array_get(v, i);
        if (!json_is_string(item))
            return cf_error_set(err, CF_EFIELD, "%s: must be a string", item_path);
        const char *s = json_string_value(item);
        int rc = check_string(f, item_path, s, json_string_length(item), run, err);
        if (rc)
            return rc;
        for (size_t j = 0; f->unique && j < i; j++)
            if (json_equal(json_array_get(v, j), item))
                return repeated(err, item_path, f, s);
        if (!list)
            continue;
        list->items[i] = copy_string(s, json_string_length(item));
        if (!list->items[i])
            return cf_error_set(err, CF_ENOMEM, "%s: out of memory", item_path);
        list->n = i + 1;
    }
    return 0;
}

static int parse_object(const struct cf_schema_object *o, const char *path, const json_t *json,
                        void *base, const struct cf_schema_run *run, struct cf_error *err);

static const struct cf_schema_field *find_field(const struct cf_schema_object *o, const char *key)
{
    for (size_t i = 0; i < o->n_fields; i++)
        if (strcmp(o->fields[i].key, key) == 0)
            return &o->fields[i];
    return NULL;
}

/* An array of objects, checked only: documents that hold one are never stored in a struct. */
static int parse_objects(const struct cf_schema_field *f, const char *path, const json_t *v,
                         const struct cf_schema_run *run, struct cf_error *err)
{
    if (!json_is_array(v))
        return cf_error_set(err, CF_EFIELD, "%s: must be an array of objects", path);
    size_t n = json_array_size(v);
    if (n == 0 && f->non_empty)
        return cf_error_set(err, CF_EFIELD, "%s: must not be empty", path);
    if (n > f->max_items)
        return cf_error_set(err, CF_EFIELD, "%s: must have at most %zu items", path, f->max_items);
    const struct cf_schema_field *key = f->unique_key ? find_field(f->object, f->unique_key) : NULL;
    for (size_t i = 0; i < n; i++) {
        char item_path[PATH_LEN + 24];
        snprintf(item_path, sizeof item_path, "%s[%zu]", path, i);
        const json_t *item = json_array_get(v, i);
        if (!json_is_object(item))
            return cf_error_set(err, CF_EFIELD, "%s: must be an object", item_path);
        int rc = parse_object(f->object, item_path, item, NULL, run, err);
        if (rc)
            return rc;
        const json_t *mine = key ? json_object_get(item, key->key) : NULL;
        for (size_t j = 0; mine && j < i; j++)
            if (json_equal(json_object_get(json_array_get(v, j), key->key), mine)) {
                char key_path[PATH_LEN + 24 + 32]; /* the item's path, ".", a table's key */
                snprintf(key_path, sizeof key_path, "%s.%s", item_path, key->key);
                return repeated(err, key_path, key, json_string_value(mine));
            }
    }
    return 0;
}

/* One key's value; stored at base + f->offset unless base is NULL. */
static int parse_field(const struct cf_schema_field *f, const char *path, const json_t *v,
                       void *base, const struct cf_schema_run *run, struct cf_error *err)
{
    char *at = base ? (char *)base + f->offset : NULL;
    int rc = 0;
    switch (f->kind) {
    case CF_SCHEMA_TEXT:
    case CF_SCHEMA_DATE:
    case CF_SCHEMA_DATETIME:
    case CF_SCHEMA_CODE:
    case CF_SCHEMA_URGENCY: {
        if (!json_is_string(v))
            return cf_error_set(err, CF_EFIELD, "%s: must be a string", path);
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        rc = check_string(f, path, s, len, run, err);
        if (rc || !at)
            return rc;
        if (f->kind == CF_SCHEMA_CODE) {
            assert(len <= f->max); /* valid() checked the length */
            memcpy(at, s, len);
            at[len] = 0;
        } else if (f->kind == CF_SCHEMA_URGENCY) {
            *(enum cf_urgency *)(void *)at = cf_header_urgency_parse(s);
        } else if (!(*(char **)(void *)at = copy_string(s, len))) {
            return cf_error_set(err, CF_ENOMEM, "%s: out of memory", path);
        }
        break;
    }
    case CF_SCHEMA_BOOL:
    case CF_SCHEMA_TRIBOOL:
        if (!json_is_boolean(v))
            return cf_error_set(err, CF_EFIELD, "%s: must be a boolean", path);
        if (!at)
            return 0;
        if (f->kind == CF_SCHEMA_BOOL)
            *(bool *)(void *)at = json_is_true(v);
        else
            *(enum cf_tribool *)(void *)at = json_is_true(v) ? CF_TRUE : CF_FALSE;
        break;
    case CF_SCHEMA_COUNT: {
        if (!json_is_integer(v))
            return cf_error_set(err, CF_EFIELD, "%s: must be a whole number", path);
        json_int_t n = json_integer_value(v);
        if (n < 0 || (unsigned long long)n < f->min || (unsigned long long)n > f->max)
            return cf_error_set(err, CF_EFIELD, "%s: must be from %zu to %zu", path, f->min,
                                f->max);
        if (at)
            *(unsigned *)(void *)at = (unsigned)n;
        break;
    }
    case CF_SCHEMA_LIST:
        rc = parse_list(f, path, v, (struct cf_strlist *)(void *)at, run, err);
        break;
    case CF_SCHEMA_OBJECT:
        if (!json_is_object(v))
            return cf_error_set(err, CF_EFIELD, "%s: must be an object", path);
        rc = parse_object(f->object, path, v, at, run, err);
        break;
    case CF_SCHEMA_OBJECTS:
        assert(!at); /* a table stored in a struct has no arrays of objects */
        rc = parse_objects(f, path, v, run, err);
        break;
    }
    if (rc == 0 && at && f->flag)
        *(bool *)(void *)((char *)base + f->flag - 1) = true;
    return rc;
}

static int parse_object(const struct cf_schema_object *o, const char *path, const json_t *json,
                        void *base, const struct cf_schema_run *run, struct cf_error *err)
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
        const struct cf_schema_field *f = &o->fields[i];
        const json_t *v = json_object_get(json, f->key);
        path_key(sub, path, f->key);
        if (!v && f->required && !(f->apart && run->received))
            return cf_error_set(err, CF_EFIELD, "%s: is required", sub);
        int rc = v ? parse_field(f, sub, v, base, run, err) : 0;
        if (rc)
            return rc;
    }
    if (o->either[0] && !json_object_get(json, o->either[0]) &&
        !json_object_get(json, o->either[1]))
        return cf_error_set(err, CF_EFIELD, "%s: %s", path, o->either_rule);
    return 0;
}

int cf_schema_parse(const struct cf_schema_object *o, const json_t *json, void *base,
                    const struct cf_schema_run *run, struct cf_error *err)
{
    if (!json_is_object(json))
        return cf_error_set(err, CF_EJSON, "document: must be a JSON object");
    return parse_object(o, "", json, base, run, err);
}

/* ---- Emitting ---- */

static bool is_present(const struct cf_schema_field *f, const void *base)
{
    const char *at = (const char *)base + f->offset;
    if (f->flag)
        return *(const bool *)(const void *)((const char *)base + f->flag - 1);
    switch (f->kind) {
    case CF_SCHEMA_TEXT:
    case CF_SCHEMA_DATE:
    case CF_SCHEMA_DATETIME:
        return *(char *const *)(const void *)at != NULL;
    case CF_SCHEMA_CODE:
        return at[0] != 0;
    case CF_SCHEMA_URGENCY:
        return *(const enum cf_urgency *)(const void *)at != CF_URGENCY_NONE;
    case CF_SCHEMA_TRIBOOL:
        return *(const enum cf_tribool *)(const void *)at != CF_ABSENT;
    case CF_SCHEMA_LIST:
        return ((const struct cf_strlist *)(const void *)at)->present;
    case CF_SCHEMA_BOOL:
    case CF_SCHEMA_COUNT:
    case CF_SCHEMA_OBJECT:
    case CF_SCHEMA_OBJECTS:
        break;
    }
    return true;
}

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
static json_t *emit_value(const struct cf_schema_field *f, const void *base)
{
    const char *at = (const char *)base + f->offset;
    switch (f->kind) {
    case CF_SCHEMA_TEXT:
    case CF_SCHEMA_DATE:
    case CF_SCHEMA_DATETIME:
        return json_string(*(char *const *)(const void *)at);
    case CF_SCHEMA_CODE:
        return json_string(at);
    case CF_SCHEMA_URGENCY:
        return json_string(cf_header_urgency_name(*(const enum cf_urgency *)(const void *)at));
    case CF_SCHEMA_BOOL:
        return json_boolean(*(const bool *)(const void *)at);
    case CF_SCHEMA_TRIBOOL:
        return json_boolean(*(const enum cf_tribool *)(const void *)at == CF_TRUE);
    case CF_SCHEMA_COUNT:
        return json_integer(*(const unsigned *)(const void *)at);
    case CF_SCHEMA_LIST:
        return emit_list((const struct cf_strlist *)(const void *)at);
    case CF_SCHEMA_OBJECT:
        return cf_schema_emit(f->object, at);
    case CF_SCHEMA_OBJECTS:
        break; /* never stored */
    }
    return NULL;
}

json_t *cf_schema_emit(const struct cf_schema_object *o, const void *base)
{
    json_t *json = json_object();
    for (size_t i = 0; json && i < o->n_fields; i++) {
        const struct cf_schema_field *f = &o->fields[i];
        /* json_object_set_new releases the value, or refuses a NULL one, on failure. */
        if (is_present(f, base) && json_object_set_new(json, f->key, emit_value(f, base)) != 0) {
            json_decref(json);
            return NULL;
        }
    }
    return json;
}

/* ---- Freeing ---- */

void cf_schema_fini(const struct cf_schema_object *o, void *base)
{
    for (size_t i = 0; i < o->n_fields; i++) {
        const struct cf_schema_field *f = &o->fields[i];
        char *at = (char *)base + f->offset;
        if (f->kind == CF_SCHEMA_TEXT || f->kind == CF_SCHEMA_DATE ||
            f->kind == CF_SCHEMA_DATETIME) {
            free(*(char **)(void *)at);
        } else if (f->kind == CF_SCHEMA_LIST) {
            struct cf_strlist *list = (struct cf_strlist *)(void *)at;
            for (size_t j = 0; j < list->n; j++)
                free(list->items[j]);
            free(list->items);
        } else if (f->kind == CF_SCHEMA_OBJECT) {
            cf_schema_fini(f->object, at);
        }
    }
}
