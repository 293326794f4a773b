/* Referral JSON tests: valid documents survive from_json then to_json unchanged, and every
 * rule of DESIGN.md section 9 has one row that breaks it in an otherwise valid document and
 * shows the exact code and sentence a person fixing the sending system would see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "childfirst/referral.h"

static const char today[] = "2026-11-25";

/* Documents are written with ' for " so they read as JSON; quoted() swaps them back. None
 * of the test documents needs a real apostrophe. */
#define CHILD                                                                                      \
    "{'given_name': 'Amanuel', 'family_name': 'Testchild', 'aliases': ['Amani'],\n"                \
    "           'date_of_birth': '2010-04-01', 'estimated_age': 15, 'age_disputed': true,\n"       \
    "           'sex': 'male', 'nationality': 'ER', 'languages': ['ti', 'amh'],\n"                 \
    "           'interpreter_required': true, 'unaccompanied': true,\n"                            \
    "           'location': 'Victoria Coach Station', 'accommodation': 'Emergency foster care'}"
#define REFERRER                                                                                   \
    "{'name': 'PC Jordan Example', 'role': 'Constable', 'phone': '020 7946 0000', "                \
    "'email': 'jordan.example@example.org'}"

/* Every key present: each row below changes one thing in it. */
static const char base[] =
    "{'case_id': 'cf-abcdefghijklmnopqrstuvwxya',\n"
    " 'la_code': 'E09000033', 'urgency': 'immediate', 'immediate_risk': true,\n"
    " 'child': " CHILD ",\n"
    " 'exploitation': ['criminal', 'labour'], 'county_lines': true,\n"
    " 'indicators': ['Several phones', 'Travelling alone at night'],\n"
    " 'narrative': 'Found alone at a coach station.\\nSays he owes money for his journey.',\n"
    " 'first_concern_date': '2026-11-20',\n"
    " 'referrer': " REFERRER ",\n"
    " 'other_agencies': ['British Transport Police']}\n";

/* Only the required keys. */
static const char minimal[] =
    "{'la_code': 'E09000033', 'urgency': 'routine', 'immediate_risk': false,\n"
    " 'child': {'estimated_age': 14}, 'exploitation': ['unknown'],\n"
    " 'narrative': 'Seen twice with older men.', 'first_concern_date': '2026-11-25',\n"
    " 'referrer': {'name': 'A Teacher', 'email': 'teacher@example.org'}}";

/* One change to a document: the first and only occurrence of `find` becomes `with`, in which
 * "@@" stands for `unit` written `times` times. `find` NULL: `with` is the whole document. */
struct change {
    const char *find, *with;
    const char *unit;
    size_t times;
};

#define EDIT(find, with)                                                                           \
    {                                                                                              \
        (find), (with), NULL, 0                                                                    \
    }
#define EDIT_REPEAT(find, with, unit, times)                                                       \
    {                                                                                              \
        (find), (with), (unit), (times)                                                            \
    }
#define WHOLE(text)                                                                                \
    {                                                                                              \
        NULL, (text), NULL, 0                                                                      \
    }

static char *quoted(const char *doc, const struct change *c)
{
    const char *at = c->find ? strstr(doc, c->find) : doc;
    assert_non_null(at);
    if (c->find)
        assert_null(strstr(at + 1, c->find)); /* the row names one place */
    size_t find_len = c->find ? strlen(c->find) : strlen(doc);
    size_t unit_len = c->unit ? strlen(c->unit) : 0;
    char *out = malloc(strlen(doc) + strlen(c->with) + unit_len * c->times + 1);
    assert_non_null(out);
    char *o = out;
    memcpy(o, doc, (size_t)(at - doc));
    o += at - doc;
    for (const char *w = c->with; *w; w++) {
        if (w[0] == '@' && w[1] == '@') {
            for (size_t i = 0; i < c->times; i++, o += unit_len)
                memcpy(o, c->unit, unit_len);
            w++;
        } else {
            *o++ = *w;
        }
    }
    strcpy(o, at + find_len);
    for (o = out; *o; o++)
        if (*o == '\'')
            *o = '"';
    return out;
}

static char *unchanged(const char *doc)
{
    return quoted(doc, &(struct change){.find = NULL, .with = doc});
}

static void assert_empty(const struct cf_referral *r)
{
    static const struct cf_referral zero;
    assert_memory_equal(r, &zero, sizeof zero);
}

/* from_json accepts text, and to_json gives back a document equal to it. */
static void assert_round_trip(const char *text)
{
    struct cf_referral r;
    struct cf_error err = {0};
    int rc = cf_referral_from_json(text, strlen(text), today, &r, &err);
    if (rc)
        fail_msg("%s (%s)\n%s", err.text, cf_error_name(rc), text);
    json_t *back = cf_referral_to_json(&r);
    assert_non_null(back);
    json_t *sent = json_loads(text, 0, NULL);
    assert_non_null(sent);
    if (!json_equal(sent, back)) {
        char *dump = json_dumps(back, JSON_SORT_KEYS);
        fail_msg("to_json differs:\n%s", dump);
    }
    json_decref(sent);
    json_decref(back);
    cf_referral_fini(&r);
    assert_empty(&r);
}

static void test_round_trip_every_key(void **state)
{
    (void)state;
    char *text = unchanged(base);
    assert_round_trip(text);
    free(text);
}

static void test_round_trip_required_keys_only(void **state)
{
    (void)state;
    char *text = unchanged(minimal);
    assert_round_trip(text);
    free(text);
}

static void test_decodes_into_struct(void **state)
{
    (void)state;
    char *text = unchanged(base);
    struct cf_referral r;
    assert_int_equal(cf_referral_from_json(text, strlen(text), today, &r, NULL), 0);
    free(text); /* the struct owns copies */
    assert_string_equal(r.case_id, "cf-abcdefghijklmnopqrstuvwxya");
    assert_string_equal(r.la_code, "E09000033");
    assert_int_equal(r.urgency, CF_URGENCY_IMMEDIATE);
    assert_true(r.immediate_risk);
    assert_string_equal(r.child.given_name, "Amanuel");
    assert_true(r.child.aliases.present);
    assert_int_equal(r.child.aliases.n, 1);
    assert_string_equal(r.child.aliases.items[0], "Amani");
    assert_true(r.child.has_estimated_age);
    assert_int_equal(r.child.estimated_age, 15);
    assert_int_equal(r.child.age_disputed, CF_TRUE);
    assert_int_equal(r.child.languages.n, 2);
    assert_string_equal(r.child.languages.items[1], "amh");
    assert_int_equal(r.exploitation.n, 2);
    assert_string_equal(r.exploitation.items[1], "labour");
    assert_int_equal(r.county_lines, CF_TRUE);
    assert_string_equal(r.narrative,
                        "Found alone at a coach station.\nSays he owes money for his journey.");
    assert_string_equal(r.first_concern_date, "2026-11-20");
    assert_true(r.has_referrer);
    assert_string_equal(r.referrer.phone, "020 7946 0000");
    assert_string_equal(r.other_agencies.items[0], "British Transport Police");
    cf_referral_fini(&r);
    assert_empty(&r);
    cf_referral_fini(&r); /* a zeroed struct is fine too */
}

static void test_absent_is_not_empty(void **state)
{
    (void)state;
    char *text = unchanged(minimal);
    struct cf_referral r;
    assert_int_equal(cf_referral_from_json(text, strlen(text), today, &r, NULL), 0);
    assert_string_equal(r.case_id, "");
    assert_null(r.child.date_of_birth);
    assert_false(r.child.aliases.present);
    assert_int_equal(r.child.age_disputed, CF_ABSENT);
    assert_int_equal(r.county_lines, CF_ABSENT);
    assert_false(r.immediate_risk);
    assert_null(r.referrer.phone);
    cf_referral_fini(&r);
    free(text);

    text = quoted(minimal, &(struct change)EDIT("'child': {'estimated_age': 14}",
                                                "'child': {'estimated_age': 14, 'aliases': []}"));
    assert_int_equal(cf_referral_from_json(text, strlen(text), today, &r, NULL), 0);
    assert_true(r.child.aliases.present);
    assert_int_equal(r.child.aliases.n, 0);
    assert_round_trip(text);
    cf_referral_fini(&r);
    free(text);
}

/* Edges that must be accepted, each changed in the every-key document and round-tripped. */
static const struct accepted {
    const char *what;
    struct change change;
} accepted[] = {
    {"no case_id: the agent makes one", EDIT("'case_id': 'cf-abcdefghijklmnopqrstuvwxya',\n", "")},
    {"urgency urgent", EDIT("'immediate'", "'urgent'")},
    {"urgency routine", EDIT("'immediate'", "'routine'")},
    {"immediate_risk false", EDIT("'immediate_risk': true", "'immediate_risk': false")},
    {"date_of_birth on 29 February of a leap year", EDIT("'2010-04-01'", "'2024-02-29'")},
    {"date_of_birth on 29 February 2000", EDIT("'2010-04-01'", "'2000-02-29'")},
    {"date_of_birth today", EDIT("'2010-04-01'", "'2026-11-25'")},
    {"date_of_birth on 1900-01-01", EDIT("'2010-04-01'", "'1900-01-01'")},
    {"date_of_birth without estimated_age", EDIT("'estimated_age': 15, ", "")},
    {"estimated_age without date_of_birth", EDIT("'date_of_birth': '2010-04-01', ", "")},
    {"estimated_age 0", EDIT("'estimated_age': 15", "'estimated_age': 0")},
    {"estimated_age 25", EDIT("'estimated_age': 15", "'estimated_age': 25")},
    {"first_concern_date today", EDIT("'2026-11-20'", "'2026-11-25'")},
    {"given_name of 100 bytes", EDIT_REPEAT("'Amanuel'", "'@@'", "a", 100)},
    {"given_name of 33 Ethiopic letters (99 bytes)",
     EDIT_REPEAT("'Amanuel'", "'@@'", "\xe1\x8a\xa0", 33)},
    {"aliases at 20 items", EDIT_REPEAT("['Amani']", "[@@'Amani']", "'A', ", 19)},
    {"empty lists are kept", EDIT("['Amani']", "[]")},
    {"languages of two and three letters", EDIT("['ti', 'amh']", "['ti', 'amh', 'ar']")},
    {"age_disputed false", EDIT("'age_disputed': true", "'age_disputed': false")},
    {"every sex", EDIT("'sex': 'male'", "'sex': 'unknown'")},
    {"location empty", EDIT("'Victoria Coach Station'", "''")},
    {"location of 500 bytes", EDIT_REPEAT("'Victoria Coach Station'", "'@@'", "x", 500)},
    {"every exploitation",
     EDIT("['criminal', 'labour']",
          "['criminal', 'sexual', 'labour', 'domestic_servitude', 'organ_removal', 'unknown']")},
    {"county_lines false", EDIT("'county_lines': true", "'county_lines': false")},
    {"indicators at 50 items", EDIT_REPEAT("['Several phones', ", "[@@", "'Cash', ", 49)},
    {"narrative with a tab", EDIT("station.\\n", "station.\\t")},
    {"narrative of 65536 bytes",
     EDIT_REPEAT("'Found alone at a coach station.\\nSays he owes money for his journey.'", "'@@'",
                 "n", 65536)},
    {"referrer role empty", EDIT("'Constable'", "''")},
    {"referrer phone only", EDIT(", 'email': 'jordan.example@example.org'", "")},
    {"referrer email only", EDIT("'phone': '020 7946 0000', ", "")},
    {"phone with +, parentheses and -", EDIT("'020 7946 0000'", "'+44 (0)20 7946-0000'")},
    {"phone of 5 and email of 254 bytes",
     EDIT_REPEAT("'020 7946 0000', 'email': 'jordan.example@example.org'",
                 "'01234', 'email': '@@@example.org'", "j", 242)},
    {"other_agencies at 20 items",
     EDIT_REPEAT("['British Transport Police']", "[@@'UKVI']", "'NRM', ", 19)},
};

static void test_accepted(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        print_message("accepted: %s\n", accepted[i].what);
        char *text = quoted(base, &accepted[i].change);
        assert_round_trip(text);
        free(text);
    }
}

#define SEVENTY_X "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

/* One row per rule. */
static const struct rejected {
    const char *what;
    struct change change;
    int code;
    const char *message;
} rejected[] = {
    /* The document as a whole. */
    {"too big",
     EDIT_REPEAT("'Found alone at a coach station.\\nSays he owes money for his journey.'", "'@@'",
                 "x", CF_MAX_JSON),
     CF_ETOOBIG, "document: must be at most 262144 bytes"},
    {"malformed", EDIT("'county_lines': true,", "'county_lines': true,,"), CF_EJSON,
     "document: line 8, column 63: string or '}' expected near ','"},
    {"empty", WHOLE(""), CF_EJSON,
     "document: line 1, column 0: '[' or '{' expected near end of file"},
    {"trailing text", WHOLE("{} {}"), CF_EJSON,
     "document: line 1, column 4: end of file expected near '{'"},
    {"duplicate key",
     EDIT("'urgency': 'immediate',", "'urgency': 'immediate', 'urgency': 'routine',"), CF_EJSON,
     "document: line 2, column 58: duplicate key 'urgency'"},
    {"duplicate key inside child", EDIT("'sex': 'male'", "'sex': 'male', 'sex': 'female'"),
     CF_EJSON, "document: line 5, column 31: duplicate key 'sex'"},
    {"duplicate key shown without its control characters, cut short",
     EDIT("'sex': 'male'", "'se\\nx" SEVENTY_X "': 'male', 'se\\nx" SEVENTY_X "': 'female'"),
     CF_EJSON,
     "document: line 5, column 175: duplicate key "
     "'se?xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'"},
    {"duplicate key holding an escaped quote",
     EDIT("'sex': 'male'", "'s\\\"x': 'male', 's\\u0022x': 'female'"), CF_EJSON,
     "document: line 5, column 37: duplicate key 's\"x'"},
    {"NUL in a string", EDIT("'Amanuel'", "'Aman\\u0000uel'"), CF_EJSON,
     "document: line 3, column 40: contains a NUL character (\\u0000)"},
    {"NUL in a key", EDIT("'sex': 'male'", "'s\\u0000ex': 'male'"), CF_EJSON,
     "document: line 5, column 22: contains a NUL character (\\u0000)"},
    {"top level an array", WHOLE("[]"), CF_EJSON, "document: must be a JSON object"},
    {"top level a string", WHOLE("'referral'"), CF_EJSON,
     "document: line 1, column 10: '[' or '{' expected near '\"referral\"'"},

    /* Keys: every required one missing, unknown ones at each level. */
    {"la_code missing", EDIT("'la_code': 'E09000033', ", ""), CF_EFIELD, "la_code: is required"},
    {"urgency missing", EDIT("'urgency': 'immediate', ", ""), CF_EFIELD, "urgency: is required"},
    {"immediate_risk missing", EDIT(", 'immediate_risk': true", ""), CF_EFIELD,
     "immediate_risk: is required"},
    {"child missing", EDIT(" 'child': " CHILD ",\n", ""), CF_EFIELD, "child: is required"},
    {"exploitation missing", EDIT("'exploitation': ['criminal', 'labour'], ", ""), CF_EFIELD,
     "exploitation: is required"},
    {"narrative missing",
     EDIT(
         " 'narrative': 'Found alone at a coach station.\\nSays he owes money for his journey.',\n",
         ""),
     CF_EFIELD, "narrative: is required"},
    {"first_concern_date missing", EDIT(" 'first_concern_date': '2026-11-20',\n", ""), CF_EFIELD,
     "first_concern_date: is required"},
    {"referrer missing", EDIT(" 'referrer': " REFERRER ",\n", ""), CF_EFIELD,
     "referrer: is required"},
    {"referrer.name missing", EDIT("'name': 'PC Jordan Example', ", ""), CF_EFIELD,
     "referrer.name: is required"},
    {"unknown key at the top", EDIT("'county_lines': true,", "'county_lines': true, 'colour': 1,"),
     CF_EFIELD, "colour: unknown key"},
    {"unknown key in child", EDIT("'sex': 'male'", "'colour': 'blue', 'sex': 'male'"), CF_EFIELD,
     "child.colour: unknown key"},
    {"unknown key in referrer", EDIT("'role': 'Constable'", "'rank': 'PC'"), CF_EFIELD,
     "referrer.rank: unknown key"},
    {"unknown key misspelt in the sender's case", EDIT("'la_code'", "'LA_code'"), CF_EFIELD,
     "LA_code: unknown key"},
    {"unknown key shown without its control characters, cut short",
     EDIT_REPEAT("'sex': 'male'", "'se\\nx@@': 'male'", "x", 70), CF_EFIELD,
     "child.se?xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...: unknown key"},

    /* Types. */
    {"case_id a number", EDIT("'cf-abcdefghijklmnopqrstuvwxya'", "7"), CF_EFIELD,
     "case_id: must be a string"},
    {"la_code a number", EDIT("'E09000033'", "9000033"), CF_EFIELD, "la_code: must be a string"},
    {"urgency an array", EDIT("'immediate'", "['immediate']"), CF_EFIELD,
     "urgency: must be a string"},
    {"immediate_risk a string", EDIT("'immediate_risk': true", "'immediate_risk': 'true'"),
     CF_EFIELD, "immediate_risk: must be a boolean"},
    {"immediate_risk null", EDIT("'immediate_risk': true", "'immediate_risk': null"), CF_EFIELD,
     "immediate_risk: must be a boolean"},
    {"child an array", EDIT(CHILD, "[]"), CF_EFIELD, "child: must be an object"},
    {"child.given_name a number", EDIT("'Amanuel'", "1"), CF_EFIELD,
     "child.given_name: must be a string"},
    {"child.family_name null", EDIT("'Testchild'", "null"), CF_EFIELD,
     "child.family_name: must be a string"},
    {"child.aliases a string", EDIT("['Amani']", "'Amani'"), CF_EFIELD,
     "child.aliases: must be an array of strings"},
    {"child.aliases item a number", EDIT("['Amani']", "['Amani', 2]"), CF_EFIELD,
     "child.aliases[1]: must be a string"},
    {"child.date_of_birth a number", EDIT("'2010-04-01'", "20100401"), CF_EFIELD,
     "child.date_of_birth: must be a string"},
    {"child.estimated_age a string", EDIT("'estimated_age': 15", "'estimated_age': '15'"),
     CF_EFIELD, "child.estimated_age: must be a whole number"},
    {"child.estimated_age a fraction", EDIT("'estimated_age': 15", "'estimated_age': 15.5"),
     CF_EFIELD, "child.estimated_age: must be a whole number"},
    {"child.age_disputed a string", EDIT("'age_disputed': true", "'age_disputed': 'yes'"),
     CF_EFIELD, "child.age_disputed: must be a boolean"},
    {"child.sex a boolean", EDIT("'sex': 'male'", "'sex': true"), CF_EFIELD,
     "child.sex: must be a string"},
    {"child.nationality an array", EDIT("'ER'", "['ER']"), CF_EFIELD,
     "child.nationality: must be a string"},
    {"child.languages an object", EDIT("['ti', 'amh']", "{'ti': true}"), CF_EFIELD,
     "child.languages: must be an array of strings"},
    {"child.interpreter_required a number",
     EDIT("'interpreter_required': true", "'interpreter_required': 1"), CF_EFIELD,
     "child.interpreter_required: must be a boolean"},
    {"child.unaccompanied a string", EDIT("'unaccompanied': true", "'unaccompanied': 'true'"),
     CF_EFIELD, "child.unaccompanied: must be a boolean"},
    {"child.location a number", EDIT("'Victoria Coach Station'", "0"), CF_EFIELD,
     "child.location: must be a string"},
    {"child.accommodation an object", EDIT("'Emergency foster care'", "{}"), CF_EFIELD,
     "child.accommodation: must be a string"},
    {"exploitation a string", EDIT("['criminal', 'labour']", "'criminal'"), CF_EFIELD,
     "exploitation: must be an array of strings"},
    {"exploitation item an array", EDIT("['criminal', 'labour']", "[['criminal']]"), CF_EFIELD,
     "exploitation[0]: must be a string"},
    {"county_lines a string", EDIT("'county_lines': true", "'county_lines': 'no'"), CF_EFIELD,
     "county_lines: must be a boolean"},
    {"indicators a string", EDIT("['Several phones', 'Travelling alone at night']", "'phones'"),
     CF_EFIELD, "indicators: must be an array of strings"},
    {"indicators item null", EDIT("['Several phones', ", "[null, "), CF_EFIELD,
     "indicators[0]: must be a string"},
    {"narrative an array",
     EDIT("'Found alone at a coach station.\\nSays he owes money for his journey.'", "['Found']"),
     CF_EFIELD, "narrative: must be a string"},
    {"first_concern_date a number", EDIT("'2026-11-20'", "20261120"), CF_EFIELD,
     "first_concern_date: must be a string"},
    {"referrer a string", EDIT(REFERRER, "'PC Jordan Example'"), CF_EFIELD,
     "referrer: must be an object"},
    {"referrer.name an object", EDIT("'PC Jordan Example'", "{}"), CF_EFIELD,
     "referrer.name: must be a string"},
    {"referrer.role a boolean", EDIT("'Constable'", "false"), CF_EFIELD,
     "referrer.role: must be a string"},
    {"referrer.phone a number", EDIT("'020 7946 0000'", "2079460000"), CF_EFIELD,
     "referrer.phone: must be a string"},
    {"referrer.email an array", EDIT("'jordan.example@example.org'", "[]"), CF_EFIELD,
     "referrer.email: must be a string"},
    {"other_agencies an object", EDIT("['British Transport Police']", "{}"), CF_EFIELD,
     "other_agencies: must be an array of strings"},

    /* Routing facts. */
    {"case_id in capitals", EDIT("cf-abcdefghijklmnopqrstuvwxya", "cf-ABCDEFGHIJKLMNOPQRSTUVWXYA"),
     CF_EFIELD, "case_id: must be a case id made by ChildFirst: cf- then 26 of a-z and 2-7"},
    {"case_id one character short",
     EDIT("cf-abcdefghijklmnopqrstuvwxya", "cf-abcdefghijklmnopqrstuvwxy"), CF_EFIELD,
     "case_id: must be a case id made by ChildFirst: cf- then 26 of a-z and 2-7"},
    {"case_id with padding bits set",
     EDIT("cf-abcdefghijklmnopqrstuvwxya", "cf-abcdefghijklmnopqrstuvwxyb"), CF_EFIELD,
     "case_id: must be a case id made by ChildFirst: cf- then 26 of a-z and 2-7"},
    {"case_id empty", EDIT("'cf-abcdefghijklmnopqrstuvwxya'", "''"), CF_EFIELD,
     "case_id: must be a case id made by ChildFirst: cf- then 26 of a-z and 2-7"},
    {"la_code in lowercase", EDIT("'E09000033'", "'e09000033'"), CF_EFIELD,
     "la_code: must be a local authority GSS code: a capital letter and eight digits, like "
     "E09000033"},
    {"la_code of seven digits", EDIT("'E09000033'", "'E0900003'"), CF_EFIELD,
     "la_code: must be a local authority GSS code: a capital letter and eight digits, like "
     "E09000033"},
    {"la_code empty", EDIT("'E09000033'", "''"), CF_EFIELD,
     "la_code: must be a local authority GSS code: a capital letter and eight digits, like "
     "E09000033"},
    {"la_code with a control character", EDIT("'E09000033'", "'E0900003\\u0003'"), CF_EFIELD,
     "la_code: contains a control character"},
    {"urgency not a level", EDIT("'immediate'", "'soon'"), CF_EFIELD,
     "urgency: must be one of immediate, urgent, routine"},
    {"urgency in capitals", EDIT("'immediate'", "'IMMEDIATE'"), CF_EFIELD,
     "urgency: must be one of immediate, urgent, routine"},

    /* The child. */
    {"child.given_name empty", EDIT("'Amanuel'", "''"), CF_EFIELD,
     "child.given_name: must not be empty"},
    {"child.given_name of 101 bytes", EDIT_REPEAT("'Amanuel'", "'@@'", "a", 101), CF_EFIELD,
     "child.given_name: must be at most 100 bytes"},
    {"child.given_name of 34 Ethiopic letters (102 bytes)",
     EDIT_REPEAT("'Amanuel'", "'@@'", "\xe1\x8a\xa0", 34), CF_EFIELD,
     "child.given_name: must be at most 100 bytes"},
    {"child.given_name with a tab", EDIT("'Amanuel'", "'Aman\\tuel'"), CF_EFIELD,
     "child.given_name: contains a control character"},
    {"child.family_name empty", EDIT("'Testchild'", "''"), CF_EFIELD,
     "child.family_name: must not be empty"},
    {"child.family_name of 101 bytes", EDIT_REPEAT("'Testchild'", "'@@'", "t", 101), CF_EFIELD,
     "child.family_name: must be at most 100 bytes"},
    {"child.family_name with DEL", EDIT("'Testchild'", "'Test\\u007fchild'"), CF_EFIELD,
     "child.family_name: contains a control character"},
    {"child.aliases of 21 items", EDIT_REPEAT("['Amani']", "[@@'Amani']", "'A', ", 20), CF_EFIELD,
     "child.aliases: must have at most 20 items"},
    {"child.aliases item empty", EDIT("['Amani']", "['Amani', '']"), CF_EFIELD,
     "child.aliases[1]: must not be empty"},
    {"child.aliases item of 101 bytes", EDIT_REPEAT("['Amani']", "['@@']", "a", 101), CF_EFIELD,
     "child.aliases[0]: must be at most 100 bytes"},
    {"child.aliases item with a newline", EDIT("['Amani']", "['Am\\nani']"), CF_EFIELD,
     "child.aliases[0]: contains a control character"},
    {"child.date_of_birth not zero-padded", EDIT("'2010-04-01'", "'2010-4-1'"), CF_EFIELD,
     "child.date_of_birth: must be a date written YYYY-MM-DD"},
    {"child.date_of_birth with a time", EDIT("'2010-04-01'", "'2010-04-01T00:00'"), CF_EFIELD,
     "child.date_of_birth: must be a date written YYYY-MM-DD"},
    {"child.date_of_birth written day first", EDIT("'2010-04-01'", "'01/04/2010'"), CF_EFIELD,
     "child.date_of_birth: must be a date written YYYY-MM-DD"},
    {"child.date_of_birth on 29 February of a common year", EDIT("'2010-04-01'", "'2025-02-29'"),
     CF_EFIELD, "child.date_of_birth: must be a real calendar date"},
    {"child.date_of_birth on 29 February 1900 (not a leap year)",
     EDIT("'2010-04-01'", "'1900-02-29'"), CF_EFIELD,
     "child.date_of_birth: must be a real calendar date"},
    {"child.date_of_birth in month 13", EDIT("'2010-04-01'", "'2026-13-01'"), CF_EFIELD,
     "child.date_of_birth: must be a real calendar date"},
    {"child.date_of_birth on 31 April", EDIT("'2010-04-01'", "'2010-04-31'"), CF_EFIELD,
     "child.date_of_birth: must be a real calendar date"},
    {"child.date_of_birth on day 0", EDIT("'2010-04-01'", "'2010-04-00'"), CF_EFIELD,
     "child.date_of_birth: must be a real calendar date"},
    {"child.date_of_birth tomorrow", EDIT("'2010-04-01'", "'2026-11-26'"), CF_EFIELD,
     "child.date_of_birth: must not be after today (2026-11-25)"},
    {"child.date_of_birth before 1900", EDIT("'2010-04-01'", "'1899-12-31'"), CF_EFIELD,
     "child.date_of_birth: must be on or after 1900-01-01"},
    {"child.estimated_age 26", EDIT("'estimated_age': 15", "'estimated_age': 26"), CF_EFIELD,
     "child.estimated_age: must be from 0 to 25"},
    {"child.estimated_age negative", EDIT("'estimated_age': 15", "'estimated_age': -1"), CF_EFIELD,
     "child.estimated_age: must be from 0 to 25"},
    {"child has neither date_of_birth nor estimated_age",
     EDIT("'date_of_birth': '2010-04-01', 'estimated_age': 15, ", ""), CF_EFIELD,
     "child: give date_of_birth or estimated_age"},
    {"child.sex not a choice", EDIT("'sex': 'male'", "'sex': 'M'"), CF_EFIELD,
     "child.sex: must be one of female, male, other, unknown"},
    {"child.sex empty", EDIT("'sex': 'male'", "'sex': ''"), CF_EFIELD,
     "child.sex: must be one of female, male, other, unknown"},
    {"child.nationality in lowercase", EDIT("'ER'", "'er'"), CF_EFIELD,
     "child.nationality: must be two capital letters, an ISO 3166-1 alpha-2 code like ER"},
    {"child.nationality of three letters", EDIT("'ER'", "'ERI'"), CF_EFIELD,
     "child.nationality: must be two capital letters, an ISO 3166-1 alpha-2 code like ER"},
    {"child.nationality a country name", EDIT("'ER'", "'Eritrea'"), CF_EFIELD,
     "child.nationality: must be two capital letters, an ISO 3166-1 alpha-2 code like ER"},
    {"child.languages item in capitals", EDIT("['ti', 'amh']", "['TI']"), CF_EFIELD,
     "child.languages[0]: must be two or three lowercase letters, an ISO 639 code like ti"},
    {"child.languages item of one letter", EDIT("['ti', 'amh']", "['ti', 't']"), CF_EFIELD,
     "child.languages[1]: must be two or three lowercase letters, an ISO 639 code like ti"},
    {"child.languages item a language name", EDIT("['ti', 'amh']", "['tigrinya']"), CF_EFIELD,
     "child.languages[0]: must be two or three lowercase letters, an ISO 639 code like ti"},
    {"child.languages item empty", EDIT("['ti', 'amh']", "['']"), CF_EFIELD,
     "child.languages[0]: must be two or three lowercase letters, an ISO 639 code like ti"},
    {"child.languages of 21 items", EDIT_REPEAT("['ti', 'amh']", "[@@'amh']", "'ti', ", 20),
     CF_EFIELD, "child.languages: must have at most 20 items"},
    {"child.location of 501 bytes", EDIT_REPEAT("'Victoria Coach Station'", "'@@'", "x", 501),
     CF_EFIELD, "child.location: must be at most 500 bytes"},
    {"child.location with a newline", EDIT("'Victoria Coach Station'", "'Victoria\\nCoach'"),
     CF_EFIELD, "child.location: contains a control character"},
    {"child.accommodation of 501 bytes", EDIT_REPEAT("'Emergency foster care'", "'@@'", "x", 501),
     CF_EFIELD, "child.accommodation: must be at most 500 bytes"},
    {"child.accommodation with an escape", EDIT("'Emergency foster care'", "'Foster\\u001bcare'"),
     CF_EFIELD, "child.accommodation: contains a control character"},

    /* The exploitation and its indicators. */
    {"exploitation empty", EDIT("['criminal', 'labour']", "[]"), CF_EFIELD,
     "exploitation: must not be empty"},
    {"exploitation not a choice", EDIT("['criminal', 'labour']", "['criminal', 'trafficking']"),
     CF_EFIELD,
     "exploitation[1]: must be one of criminal, sexual, labour, domestic_servitude, "
     "organ_removal, unknown"},
    {"exploitation in capitals", EDIT("['criminal', 'labour']", "['Criminal']"), CF_EFIELD,
     "exploitation[0]: must be one of criminal, sexual, labour, domestic_servitude, "
     "organ_removal, unknown"},
    {"exploitation repeated", EDIT("['criminal', 'labour']", "['sexual', 'sexual']"), CF_EFIELD,
     "exploitation[1]: 'sexual' is repeated"},
    {"exploitation of 7 items",
     EDIT("['criminal', 'labour']",
          "['criminal', 'sexual', 'labour', 'domestic_servitude', 'organ_removal', 'unknown', "
          "'criminal']"),
     CF_EFIELD, "exploitation: must have at most 6 items"},
    {"indicators of 51 items", EDIT_REPEAT("['Several phones', ", "[@@", "'Cash', ", 50), CF_EFIELD,
     "indicators: must have at most 50 items"},
    {"indicators item empty", EDIT("['Several phones', ", "['', "), CF_EFIELD,
     "indicators[0]: must not be empty"},
    {"indicators item of 201 bytes", EDIT_REPEAT("['Several phones', ", "['@@', ", "i", 201),
     CF_EFIELD, "indicators[0]: must be at most 200 bytes"},
    {"indicators item with a control character", EDIT("'Several phones'", "'Several\\u0001phones'"),
     CF_EFIELD, "indicators[0]: contains a control character"},

    /* The narrative and dates. */
    {"narrative empty",
     EDIT("'Found alone at a coach station.\\nSays he owes money for his journey.'", "''"),
     CF_EFIELD, "narrative: must not be empty"},
    {"narrative of 65537 bytes",
     EDIT_REPEAT("'Found alone at a coach station.\\nSays he owes money for his journey.'", "'@@'",
                 "n", 65537),
     CF_EFIELD, "narrative: must be at most 65536 bytes"},
    {"narrative with a carriage return", EDIT("station.\\n", "station.\\r\\n"), CF_EFIELD,
     "narrative: contains a control character"},
    {"narrative with a form feed", EDIT("station.\\n", "station.\\f"), CF_EFIELD,
     "narrative: contains a control character"},
    {"first_concern_date tomorrow", EDIT("'2026-11-20'", "'2026-11-26'"), CF_EFIELD,
     "first_concern_date: must not be after today (2026-11-25)"},
    {"first_concern_date next year", EDIT("'2026-11-20'", "'2027-01-01'"), CF_EFIELD,
     "first_concern_date: must not be after today (2026-11-25)"},
    {"first_concern_date with slashes", EDIT("'2026-11-20'", "'2026/11/20'"), CF_EFIELD,
     "first_concern_date: must be a date written YYYY-MM-DD"},
    {"first_concern_date empty", EDIT("'2026-11-20'", "''"), CF_EFIELD,
     "first_concern_date: must be a date written YYYY-MM-DD"},
    {"first_concern_date on 30 February", EDIT("'2026-11-20'", "'2026-02-30'"), CF_EFIELD,
     "first_concern_date: must be a real calendar date"},

    /* The referrer. */
    {"referrer.name empty", EDIT("'PC Jordan Example'", "''"), CF_EFIELD,
     "referrer.name: must not be empty"},
    {"referrer.name of 201 bytes", EDIT_REPEAT("'PC Jordan Example'", "'@@'", "n", 201), CF_EFIELD,
     "referrer.name: must be at most 200 bytes"},
    {"referrer.name with a newline", EDIT("'PC Jordan Example'", "'PC\\nJordan'"), CF_EFIELD,
     "referrer.name: contains a control character"},
    {"referrer.role of 201 bytes", EDIT_REPEAT("'Constable'", "'@@'", "r", 201), CF_EFIELD,
     "referrer.role: must be at most 200 bytes"},
    {"referrer.phone empty", EDIT("'020 7946 0000'", "''"), CF_EFIELD,
     "referrer.phone: must not be empty"},
    {"referrer.phone of 4 bytes", EDIT("'020 7946 0000'", "'0207'"), CF_EFIELD,
     "referrer.phone: must be at least 5 bytes"},
    {"referrer.phone of 33 bytes", EDIT_REPEAT("'020 7946 0000'", "'@@'", "0", 33), CF_EFIELD,
     "referrer.phone: must be at most 32 bytes"},
    {"referrer.phone with letters", EDIT("'020 7946 0000'", "'020 7946 0000 ext 5'"), CF_EFIELD,
     "referrer.phone: may hold only digits, spaces, +, -, ( and )"},
    {"referrer.email empty", EDIT("'jordan.example@example.org'", "''"), CF_EFIELD,
     "referrer.email: must not be empty"},
    {"referrer.email of 255 bytes",
     EDIT_REPEAT("'jordan.example@example.org'", "'@@@example.org'", "j", 243), CF_EFIELD,
     "referrer.email: must be at most 254 bytes"},
    {"referrer.email without @", EDIT("'jordan.example@example.org'", "'jordan.example.org'"),
     CF_EFIELD,
     "referrer.email: must be an address like name@example.org: one @, text either side, no "
     "spaces"},
    {"referrer.email with two @", EDIT("'jordan.example@example.org'", "'jordan@example@org'"),
     CF_EFIELD,
     "referrer.email: must be an address like name@example.org: one @, text either side, no "
     "spaces"},
    {"referrer.email with nothing before @", EDIT("'jordan.example@example.org'", "'@example.org'"),
     CF_EFIELD,
     "referrer.email: must be an address like name@example.org: one @, text either side, no "
     "spaces"},
    {"referrer.email with nothing after @", EDIT("'jordan.example@example.org'", "'jordan@'"),
     CF_EFIELD,
     "referrer.email: must be an address like name@example.org: one @, text either side, no "
     "spaces"},
    {"referrer.email with a space",
     EDIT("'jordan.example@example.org'", "'jordan example@example.org'"), CF_EFIELD,
     "referrer.email: must be an address like name@example.org: one @, text either side, no "
     "spaces"},
    {"referrer has neither phone nor email",
     EDIT(", 'phone': '020 7946 0000', 'email': 'jordan.example@example.org'", ""), CF_EFIELD,
     "referrer: give a phone or an email so the LA can call back"},

    /* Other agencies. */
    {"other_agencies of 21 items",
     EDIT_REPEAT("['British Transport Police']", "[@@'UKVI']", "'NRM', ", 20), CF_EFIELD,
     "other_agencies: must have at most 20 items"},
    {"other_agencies item empty", EDIT("['British Transport Police']", "['']"), CF_EFIELD,
     "other_agencies[0]: must not be empty"},
    {"other_agencies item of 201 bytes",
     EDIT_REPEAT("['British Transport Police']", "['@@']", "a", 201), CF_EFIELD,
     "other_agencies[0]: must be at most 200 bytes"},
    {"other_agencies item with a control character",
     EDIT("['British Transport Police']", "['British\\u0002Transport']"), CF_EFIELD,
     "other_agencies[0]: contains a control character"},
};

static void test_rejected(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++) {
        const struct rejected *t = &rejected[i];
        print_message("rejected: %s\n", t->what);
        char *text = quoted(base, &t->change);
        struct cf_referral r;
        memset(&r, 0xa5, sizeof r);
        struct cf_error err = {0};
        int rc = cf_referral_from_json(text, strlen(text), today, &r, &err);
        if (rc != t->code || strcmp(err.text, t->message) != 0)
            print_error("row \"%s\": got %s \"%s\"\n", t->what, cf_error_name(rc), err.text);
        assert_int_equal(rc, t->code);
        assert_int_equal(err.code, t->code);
        assert_string_equal(err.text, t->message);
        assert_empty(&r);
        free(text);
    }
}

/* A refused document's sentence may reach the sender's logs: for a repeated key or a NUL it
 * names the key or the place, never the text the sender wrote, which may be a child's name. */
static void test_errors_quote_no_values(void **state)
{
    (void)state;
    static const struct change changes[] = {
        EDIT("'Amanuel'", "'Amanuel', 'given_name': 'Secretname'"),
        EDIT("'Amanuel'", "'Secret\\u0000name'"),
        EDIT("'Testchild'", "'Secretname\\u0000'"),
        EDIT("'Amanuel'", "'\\u0000Secretname'"),
        EDIT("'Victoria Coach Station'", "'Secret\\u0000name', 'location': 'Secretname'"),
        EDIT("'given_name': 'Amanuel'", "'Secret\\u0000name': 'Amanuel'"),
    };
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
        char *text = quoted(base, &changes[i]);
        struct cf_referral r;
        struct cf_error err = {0};
        assert_int_equal(cf_referral_from_json(text, strlen(text), today, &r, &err), CF_EJSON);
        if (strstr(err.text, "Secret") || strstr(err.text, "Amanuel"))
            fail_msg("change %zu: the sentence quotes the document: %s", i, err.text);
        free(text);
    }
}

/* A bad `today` is the caller's mistake, not the sender's, and err may be NULL. */
static void test_caller_errors(void **state)
{
    (void)state;
    char *text = unchanged(minimal);
    struct cf_referral r;
    struct cf_error err = {0};
    assert_int_equal(cf_referral_from_json(text, strlen(text), "25/11/2026", &r, &err), CF_EINVAL);
    assert_string_equal(err.text, "today: must be a date written YYYY-MM-DD");
    assert_int_equal(cf_referral_from_json(text, strlen(text), "2026-02-30", &r, NULL), CF_EINVAL);
    assert_int_equal(cf_referral_from_json("[]", 2, today, &r, NULL), CF_EJSON);
    assert_empty(&r);
    free(text);
}

/* The example in deploy/ is what people copy, so it must stay valid. The repository root is
 * two folders above this file. */
static void test_example_file(void **state)
{
    (void)state;
    const char *suffix = "tests/unit/test_referral.c";
    size_t root_len = strlen(__FILE__) - strlen(suffix);
    assert_string_equal(&__FILE__[root_len], suffix);
    char path[4096];
    snprintf(path, sizeof path, "%.*sdeploy/examples/referral.json", (int)root_len, __FILE__);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    static char text[CF_MAX_JSON + 1];
    size_t len = fread(text, 1, sizeof text - 1, f);
    assert_int_equal(ferror(f), 0);
    fclose(f);
    text[len] = 0;

    struct cf_referral r;
    struct cf_error err = {0};
    int rc = cf_referral_from_json(text, len, today, &r, &err);
    if (rc)
        fail_msg("%s: %s", path, err.text);
    assert_string_equal(r.la_code, "E09000033");
    assert_int_equal(r.urgency, CF_URGENCY_IMMEDIATE);
    assert_true(r.immediate_risk);
    cf_referral_fini(&r);
    assert_round_trip(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_key),
        cmocka_unit_test(test_round_trip_required_keys_only),
        cmocka_unit_test(test_decodes_into_struct),
        cmocka_unit_test(test_absent_is_not_empty),
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_rejected),
        cmocka_unit_test(test_errors_quote_no_values),
        cmocka_unit_test(test_caller_errors),
        cmocka_unit_test(test_example_file),
    };
    return cmocka_run_group_tests_name("referral", tests, NULL, NULL);
}
