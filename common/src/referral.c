/* The referral JSON of DESIGN.md section 9: its tables and its entry points. One table per
 * JSON object describes every key (its kind, limits and place in the struct); the shared
 * walker in schema.c reads them to parse, emit and free, so each rule lives in one row and
 * the three cannot drift apart. */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "childfirst/limits.h"
#include "childfirst/referral.h"
#include "schema.h"

static bool is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
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

#define CHILD(m) offsetof(struct cf_child, m)
static const struct cf_schema_field child_fields[] = {
    {.key = "given_name",
     .kind = CF_SCHEMA_TEXT,
     .offset = CHILD(given_name),
     .min = 1,
     .max = 100},
    {.key = "family_name",
     .kind = CF_SCHEMA_TEXT,
     .offset = CHILD(family_name),
     .min = 1,
     .max = 100},
    {.key = "aliases",
     .kind = CF_SCHEMA_LIST,
     .offset = CHILD(aliases),
     .min = 1,
     .max = 100,
     .max_items = 20},
    {.key = "date_of_birth",
     .kind = CF_SCHEMA_DATE,
     .offset = CHILD(date_of_birth),
     .earliest = "1900-01-01"},
    {.key = "estimated_age",
     .kind = CF_SCHEMA_COUNT,
     .offset = CHILD(estimated_age),
     .flag = CF_SCHEMA_PRESENCE(struct cf_child, has_estimated_age),
     .min = 0,
     .max = 25},
    {.key = "age_disputed", .kind = CF_SCHEMA_TRIBOOL, .offset = CHILD(age_disputed)},
    {.key = "sex", .kind = CF_SCHEMA_TEXT, .offset = CHILD(sex), .choices = cf_schema_sex_names},
    {.key = "nationality",
     .kind = CF_SCHEMA_TEXT,
     .offset = CHILD(nationality),
     .valid = cf_schema_nationality_valid,
     .rule = cf_schema_nationality_rule},
    {.key = "languages",
     .kind = CF_SCHEMA_LIST,
     .offset = CHILD(languages),
     .max_items = 20,
     .valid = language_valid,
     .rule = "must be two or three lowercase letters, an ISO 639 code like ti"},
    {.key = "interpreter_required",
     .kind = CF_SCHEMA_TRIBOOL,
     .offset = CHILD(interpreter_required)},
    {.key = "unaccompanied", .kind = CF_SCHEMA_TRIBOOL, .offset = CHILD(unaccompanied)},
    {.key = "location", .kind = CF_SCHEMA_TEXT, .offset = CHILD(location), .max = 500},
    {.key = "accommodation", .kind = CF_SCHEMA_TEXT, .offset = CHILD(accommodation), .max = 500},
};
#undef CHILD

static const struct cf_schema_object child_object = {
    child_fields,
    CF_SCHEMA_COUNT_OF(child_fields),
    {"date_of_birth", "estimated_age"},
    "give date_of_birth or estimated_age",
};

#define REFERRER(m) offsetof(struct cf_referrer, m)
static const struct cf_schema_field referrer_fields[] = {
    {.key = "name",
     .kind = CF_SCHEMA_TEXT,
     .required = true,
     .offset = REFERRER(name),
     .min = 1,
     .max = 200},
    {.key = "role", .kind = CF_SCHEMA_TEXT, .offset = REFERRER(role), .max = 200},
    {.key = "phone",
     .kind = CF_SCHEMA_TEXT,
     .offset = REFERRER(phone),
     .min = 5,
     .max = 32,
     .valid = phone_valid,
     .rule = "may hold only digits, spaces, +, -, ( and )"},
    {.key = "email",
     .kind = CF_SCHEMA_TEXT,
     .offset = REFERRER(email),
     .min = 1,
     .max = 254,
     .valid = email_valid,
     .rule = "must be an address like name@example.org: one @, text either side, no spaces"},
};
#undef REFERRER

static const struct cf_schema_object referrer_object = {
    referrer_fields,
    CF_SCHEMA_COUNT_OF(referrer_fields),
    {"phone", "email"},
    "give a phone or an email so the LA can call back",
};

#define REFERRAL(m) offsetof(struct cf_referral, m)
static const struct cf_schema_field referral_fields[] = {
    {.key = "case_id",
     .kind = CF_SCHEMA_CODE,
     .offset = REFERRAL(case_id),
     .max = CF_CASE_ID_LEN,
     .valid = cf_header_case_id_valid,
     .rule = "must be a case id made by ChildFirst: cf- then 26 of a-z and 2-7"},
    {.key = "la_code",
     .kind = CF_SCHEMA_CODE,
     .required = true,
     .offset = REFERRAL(la_code),
     .max = CF_LA_CODE_LEN,
     .valid = cf_header_la_code_valid,
     .rule = cf_schema_la_code_rule},
    {.key = "urgency", .kind = CF_SCHEMA_URGENCY, .required = true, .offset = REFERRAL(urgency)},
    {.key = "immediate_risk",
     .kind = CF_SCHEMA_BOOL,
     .required = true,
     .offset = REFERRAL(immediate_risk)},
    {.key = "child",
     .kind = CF_SCHEMA_OBJECT,
     .required = true,
     .offset = REFERRAL(child),
     .object = &child_object},
    {.key = "exploitation",
     .kind = CF_SCHEMA_LIST,
     .required = true,
     .offset = REFERRAL(exploitation),
     .choices = cf_schema_exploitation_names,
     .max_items = CF_SCHEMA_EXPLOITATION_COUNT,
     .non_empty = true,
     .unique = true},
    {.key = "county_lines", .kind = CF_SCHEMA_TRIBOOL, .offset = REFERRAL(county_lines)},
    {.key = "indicators",
     .kind = CF_SCHEMA_LIST,
     .offset = REFERRAL(indicators),
     .min = 1,
     .max = 200,
     .max_items = 50},
    {.key = "narrative",
     .kind = CF_SCHEMA_TEXT,
     .required = true,
     .offset = REFERRAL(narrative),
     .min = 1,
     .max = 65536,
     .multiline = true},
    {.key = "first_concern_date",
     .kind = CF_SCHEMA_DATE,
     .required = true,
     .offset = REFERRAL(first_concern_date)},
    {.key = "referrer",
     .kind = CF_SCHEMA_OBJECT,
     .required = true,
     .offset = REFERRAL(referrer),
     .flag = CF_SCHEMA_PRESENCE(struct cf_referral, has_referrer),
     .object = &referrer_object},
    {.key = "other_agencies",
     .kind = CF_SCHEMA_LIST,
     .offset = REFERRAL(other_agencies),
     .min = 1,
     .max = 200,
     .max_items = 20},
};
#undef REFERRAL

static const struct cf_schema_object referral_object = {
    referral_fields, CF_SCHEMA_COUNT_OF(referral_fields), {NULL, NULL}, NULL};

int cf_referral_from_json(const char *text, size_t len, const char *today, struct cf_referral *out,
                          struct cf_error *err)
{
    memset(out, 0, sizeof *out);
    if (!today || !cf_schema_date_valid(today, strlen(today)))
        return cf_error_set(err, CF_EINVAL, "today: must be a date written YYYY-MM-DD");
    json_t *doc;
    int rc = cf_schema_load(text, len, &doc, err);
    if (rc)
        return rc;
    const struct cf_schema_run run = {.today = today};
    rc = cf_schema_parse(&referral_object, doc, out, &run, err);
    json_decref(doc);
    if (rc)
        cf_referral_fini(out);
    return rc;
}

json_t *cf_referral_to_json(const struct cf_referral *r)
{
    return cf_schema_emit(&referral_object, r);
}

void cf_referral_fini(struct cf_referral *r)
{
    if (!r)
        return;
    cf_schema_fini(&referral_object, r);
    memset(r, 0, sizeof *r);
}
