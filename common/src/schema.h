/* The JSON schema walker behind the referral and the case messages (internal to
 * libchildfirst). A document is described by tables of fields: each row gives a key's kind,
 * limits, rules and, where the document is stored in a struct, its place there. The functions
 * here read those tables, so every rule is written once and every document gets the same
 * sentences, each starting with the field's path ("child.aliases[1]: must not be empty").
 */
#ifndef CHILDFIRST_SCHEMA_H
#define CHILDFIRST_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "childfirst/error.h"
#include "childfirst/referral.h" /* struct cf_strlist and enum cf_tribool: how lists and
                                    optional booleans are stored */

/* How a key is checked and, when the document is stored, how it is stored, emitted and freed. */
enum cf_schema_kind {
    CF_SCHEMA_TEXT,     /* char *, a malloc'ed copy; NULL when absent */
    CF_SCHEMA_DATE,     /* CF_SCHEMA_TEXT holding a calendar date, YYYY-MM-DD */
    CF_SCHEMA_DATETIME, /* CF_SCHEMA_TEXT holding a local date and time, YYYY-MM-DDTHH:MM */
    CF_SCHEMA_CODE,     /* char[max + 1] filled in place; "" when absent; valid() states its rule */
    CF_SCHEMA_URGENCY,  /* enum cf_urgency, by the header's names */
    CF_SCHEMA_BOOL,     /* bool; only for required keys, since absent cannot be told from false */
    CF_SCHEMA_TRIBOOL,  /* enum cf_tribool */
    CF_SCHEMA_COUNT,    /* unsigned whole number from min to max; `flag` records presence */
    CF_SCHEMA_LIST,     /* struct cf_strlist whose items follow this row's string rules */
    CF_SCHEMA_OBJECT,   /* an embedded struct that `object` describes */
    CF_SCHEMA_OBJECTS,  /* an array of objects that `object` describes: checked, never stored */
};

struct cf_schema_object;

struct cf_schema_field {
    const char *key;
    enum cf_schema_kind kind;
    bool required;
    size_t offset;              /* of the member, in the struct the table describes */
    size_t flag;                /* CF_SCHEMA_PRESENCE() of a bool set when the key is present */
    size_t min, max;            /* bytes of a string or list item (max 0: no limit of its own);
                                   the range of a count */
    bool multiline;             /* the string may hold \n and \t */
    const char *const *choices; /* NULL-terminated: the only values allowed */
    bool (*valid)(const char *s, size_t len);
    const char *rule;                      /* what valid() checks, as the end of a sentence */
    const char *earliest;                  /* CF_SCHEMA_DATE: the first date allowed, or NULL */
    bool future;                           /* CF_SCHEMA_DATE, _DATETIME: may be after today */
    size_t max_items;                      /* CF_SCHEMA_LIST, _OBJECTS */
    bool non_empty;                        /* CF_SCHEMA_LIST, _OBJECTS */
    bool unique;                           /* CF_SCHEMA_LIST: no item twice */
    const char *unique_key;                /* CF_SCHEMA_OBJECTS: no two objects share its value */
    const struct cf_schema_object *object; /* CF_SCHEMA_OBJECT, _OBJECTS */
    bool apart; /* travels apart from the rest of the document, so a received document may lack
                   it even when required (a proposal's NRM return) */
    int tag;    /* the table owner's own mark (where a key goes); the walker ignores it */
};

struct cf_schema_object {
    const struct cf_schema_field *fields;
    size_t n_fields;
    const char *either[2]; /* at least one of these keys must be present (NULL: no rule) */
    const char *either_rule;
};

/* What a check measures a document against. */
struct cf_schema_run {
    const char *today; /* YYYY-MM-DD that dates may not be after; NULL: not compared */
    bool received;     /* a document rebuilt from what arrived: keys marked `apart` may be absent */
};

/* Offsets of presence flags are stored plus one, so that 0 means "no flag". */
#define CF_SCHEMA_PRESENCE(type, member) (offsetof(type, member) + 1)
#define CF_SCHEMA_COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Loads a document of at most CF_MAX_JSON bytes that must be one JSON object, with
 * JSON_REJECT_DUPLICATES and NUL refused. Fails with CF_ETOOBIG, CF_EINVAL (text NULL),
 * CF_ENOMEM or CF_EJSON and a sentence starting "document:". A duplicate key is named (cut
 * short, control characters shown as '?'); a NUL is reported without quoting its string, so no
 * value the sender wrote appears. Other syntax errors carry jansson's text, which may quote the
 * document near the fault. Caller owns *out; release with json_decref. */
CF_WUR int cf_schema_load(const char *text, size_t len, json_t **out, struct cf_error *err);

/* Checks the object `json` against `o`: unknown keys first, then each row in table order, so
 * the first rule broken is the one reported (CF_EFIELD, or CF_ENOMEM). With `base` NULL only
 * checks; otherwise also stores into *base, the struct `o` describes, which must start zeroed.
 * After a failure *base may hold copies: free them with cf_schema_fini. */
CF_WUR int cf_schema_parse(const struct cf_schema_object *o, const json_t *json, void *base,
                           const struct cf_schema_run *run, struct cf_error *err);

/* The stored struct as a JSON object, absent keys omitted. Caller owns the result; release with
 * json_decref. NULL when out of memory, or when a string is not UTF-8. */
json_t *cf_schema_emit(const struct cf_schema_object *o, const void *base);

/* Frees what cf_schema_parse stored; does not clear *base. */
void cf_schema_fini(const struct cf_schema_object *o, void *base);

/* A calendar date written YYYY-MM-DD that exists (for checking a caller's `today`). */
bool cf_schema_date_valid(const char *s, size_t len);

/* Vocabularies and rules more than one document uses, so that they say the same thing. */
extern const char *const cf_schema_sex_names[];          /* NULL-terminated */
extern const char *const cf_schema_exploitation_names[]; /* NULL-terminated */
#define CF_SCHEMA_EXPLOITATION_COUNT 6
bool cf_schema_nationality_valid(const char *s, size_t len);
extern const char cf_schema_nationality_rule[];
extern const char cf_schema_la_code_rule[];

#endif
