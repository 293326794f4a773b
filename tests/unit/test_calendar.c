/* Calendar tests: the shipped bank-holiday files hold exactly the dates the
 * published rules give, recomputed here from the rules; deadlines across each
 * nation's holidays and the clock changes land where a person counting on a
 * wall calendar would put them; each broken file fails with its exact code at
 * its exact line. Times in the tables are written as Europe/London wall time
 * with the zone in force, so a reader can check a row against a calendar. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "childfirst/calendar.h"

#define DAY(y, m, d) cf_calendar_days_from_civil((y), (m), (d))
#define MS_PER_DAY ((uint64_t)CF_CALENDAR_MS_PER_DAY)
#define MS_PER_HOUR UINT64_C(3600000)
#define MS_PER_MINUTE UINT64_C(60000)
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- Helpers ------------------------------------------------------------- */

/* A UTC instant. */
static uint64_t utc(int y, unsigned mo, unsigned d, unsigned h, unsigned mi)
{
    return (uint64_t)DAY(y, mo, d) * MS_PER_DAY + h * MS_PER_HOUR + mi * MS_PER_MINUTE;
}

/* "YYYY-MM-DD HH:MM[:SS.mmm] GMT|BST", a London wall time with the zone the
 * table's author says is in force, as a UTC instant. The zone is taken from
 * the text, not from the code under test, which is then checked to agree. */
static uint64_t at(const char *text)
{
    int y, used = 0;
    unsigned mo, d, h, mi, s = 0, ms = 0;
    if (sscanf(text, "%d-%u-%u %u:%u%n", &y, &mo, &d, &h, &mi, &used) != 5)
        fail_msg("bad time in a table: %s", text);
    const char *p = text + used;
    if (*p == ':') {
        if (sscanf(p, ":%u.%u%n", &s, &ms, &used) != 2)
            fail_msg("bad seconds in a table: %s", text);
        p += used;
    }
    uint64_t off = 0;
    if (strcmp(p, " GMT") == 0)
        off = 0;
    else if (strcmp(p, " BST") == 0)
        off = MS_PER_HOUR;
    else
        fail_msg("a table time needs GMT or BST: %s", text);
    uint64_t t = utc(y, mo, d, h, mi) + s * 1000u + ms - off;
    if (cf_calendar_utc_offset_ms(t) != off)
        fail_msg("%s: cf_calendar_utc_offset_ms says %u ms", text, cf_calendar_utc_offset_ms(t));
    return t;
}

/* An instant as London wall time, for failure messages. */
static const char *show(uint64_t ms, char out[48])
{
    char date[CF_CALENDAR_DATE_LEN + 1];
    uint32_t off = cf_calendar_utc_offset_ms(ms);
    uint64_t in_day = (ms + off) % MS_PER_DAY;
    snprintf(out, 48, "%s %02u:%02u:%02u.%03u %s",
             cf_calendar_format_day(cf_calendar_day_of(ms), date), (unsigned)(in_day / MS_PER_HOUR),
             (unsigned)(in_day / MS_PER_MINUTE % 60), (unsigned)(in_day / 1000 % 60),
             (unsigned)(in_day % 1000), off ? "BST" : "GMT");
    return out;
}

static const char *show_day(int32_t day, char out[CF_CALENDAR_DATE_LEN + 1])
{
    return cf_calendar_format_day(day, out);
}

static struct cf_calendar *parse_ok(const char *text)
{
    struct cf_calendar *c = NULL;
    struct cf_error err = {0};
    int rc = cf_calendar_parse("calendar.ini", text, strlen(text), &c, &err);
    if (rc != 0)
        fail_msg("calendar did not parse: %s (%s)", err.text, cf_error_name(rc));
    return c;
}

static const char *const nation_names[] = {"england-wales", "scotland", "northern-ireland"};
#define N_NATIONS COUNT(nation_names)

/* deploy/calendars/<nation>.ini in this source tree. */
static struct cf_calendar *load_nation(const char *nation)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/deploy/calendars/%s.ini", CF_SOURCE_DIR, nation);
    struct cf_calendar *c = NULL;
    struct cf_error err = {0};
    int rc = cf_calendar_load(path, &c, &err);
    if (rc != 0)
        fail_msg("%s: %s (%s)", path, err.text, cf_error_name(rc));
    assert_string_equal(c->name, nation);
    return c;
}

static struct cf_duration duration(unsigned n, enum cf_unit unit)
{
    return (struct cf_duration){.set = true, .n = n, .unit = unit};
}

/* ---- The bank holidays, recomputed from the published rules -------------- */

/* DOMAIN.md "Calendars", one row per nation: which of the optional holidays it
 * keeps. The rest (1 January, Good Friday, the two May Mondays, one August
 * Monday, 25 and 26 December) are kept everywhere. */
struct nation_rules {
    const char *name;
    bool second_january, st_patrick, easter_monday, boyne, first_monday_of_august, st_andrew;
};

static const struct nation_rules nation_rules[] = {
    {"england-wales", false, false, true, false, false, false},
    {"scotland", true, false, false, false, true, true},
    {"northern-ireland", false, true, true, true, false, false},
};

/* Easter Sunday by the Gregorian computus, in the arithmetic form published by
 * Meeus: the Paschal full moon from the year's place in the 19-year lunar
 * cycle with the Gregorian century corrections, then the Sunday after it. */
static int32_t easter_sunday(int year)
{
    int cycle = year % 19;
    int century = year / 100, year_of_century = year % 100;
    int century_leaps = century / 4, century_rest = century % 4;
    int moon_correction = (century - (century + 8) / 25 + 1) / 3;
    int to_full_moon = (19 * cycle + century - century_leaps - moon_correction + 15) % 30;
    int to_sunday =
        (32 + 2 * century_rest + 2 * (year_of_century / 4) - to_full_moon - year_of_century % 4) %
        7;
    int late = (cycle + 11 * to_full_moon + 22 * to_sunday) / 451;
    int from_march = to_full_moon + to_sunday - 7 * late + 114;
    return DAY(year, (unsigned)(from_march / 31), (unsigned)(from_march % 31 + 1));
}

static int32_t first_monday(int year, unsigned month)
{
    int32_t day = DAY(year, month, 1);
    while (cf_calendar_weekday(day) != 1)
        day++;
    return day;
}

static int32_t last_monday(int year, unsigned month)
{
    int32_t day = DAY(year + (month == 12), month % 12 + 1, 1) - 1;
    while (cf_calendar_weekday(day) != 1)
        day--;
    return day;
}

static bool listed(const int32_t *days, size_t n, int32_t day)
{
    for (size_t i = 0; i < n; i++)
        if (days[i] == day)
            return true;
    return false;
}

static int compare_days(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

#define MAX_YEAR_HOLIDAYS 16

/* One nation's holidays of one year, ascending. */
static size_t year_holidays(const struct nation_rules *r, int year, int32_t out[MAX_YEAR_HOLIDAYS])
{
    size_t n = 0;
    int32_t easter = easter_sunday(year);
    out[n++] = easter - 2; /* Good Friday */
    if (r->easter_monday)
        out[n++] = easter + 1;
    out[n++] = first_monday(year, 5);
    out[n++] = last_monday(year, 5);
    out[n++] = r->first_monday_of_august ? first_monday(year, 8) : last_monday(year, 8);
    const struct {
        bool kept;
        unsigned month, mday;
    } fixed[] = {
        {true, 1, 1},      {r->second_january, 1, 2}, {r->st_patrick, 3, 17},
        {r->boyne, 7, 12}, {r->st_andrew, 11, 30},    {true, 12, 25},
        {true, 12, 26},
    };
    int32_t weekend[COUNT(fixed)];
    size_t n_weekend = 0;
    for (size_t i = 0; i < COUNT(fixed); i++) {
        if (!fixed[i].kept)
            continue;
        int32_t day = DAY(year, fixed[i].month, fixed[i].mday);
        if (cf_calendar_weekday(day) <= 5)
            out[n++] = day;
        else
            weekend[n_weekend++] = day;
    }
    /* Substitutes are placed last and in date order: "the next weekday that is
     * not already a holiday" must see every holiday on its own date (Boxing Day
     * on the Monday after a Sunday Christmas) and every earlier substitute. */
    for (size_t i = 0; i < n_weekend; i++) {
        int32_t day = weekend[i];
        while (cf_calendar_weekday(day) > 5 || listed(out, n, day))
            day++;
        out[n++] = day;
    }
    qsort(out, n, sizeof out[0], compare_days);
    return n;
}

static void test_easter(void **state)
{
    (void)state;
    /* The four years the files hold, and the computus's extremes. */
    const struct {
        int year;
        unsigned month, mday;
    } cases[] = {
        {2025, 4, 20}, {2026, 4, 5},  {2027, 3, 28}, {2028, 4, 16},
        {2019, 4, 21}, {2038, 4, 25}, {2285, 3, 22}, {2000, 4, 23},
    };
    for (size_t i = 0; i < COUNT(cases); i++)
        assert_int_equal(easter_sunday(cases[i].year),
                         DAY(cases[i].year, cases[i].month, cases[i].mday));
}

static void test_deploy_calendars_follow_the_rules(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(nation_rules); i++) {
        const struct nation_rules *r = &nation_rules[i];
        int32_t want[4 * MAX_YEAR_HOLIDAYS];
        size_t n_want = 0;
        for (int year = 2025; year <= 2028; year++)
            n_want += year_holidays(r, year, want + n_want);
        qsort(want, n_want, sizeof want[0], compare_days);

        struct cf_calendar *c = load_nation(r->name);
        char a[CF_CALENDAR_DATE_LEN + 1], b[CF_CALENDAR_DATE_LEN + 1];
        for (size_t k = 0; k < n_want || k < c->n_holidays; k++) {
            if (k >= n_want)
                fail_msg("%s lists %s, which no rule gives", r->name, show_day(c->holidays[k], a));
            if (k >= c->n_holidays)
                fail_msg("%s lacks %s", r->name, show_day(want[k], a));
            if (c->holidays[k] != want[k])
                fail_msg("%s: holiday %zu is %s; the rules give %s", r->name, k + 1,
                         show_day(c->holidays[k], a), show_day(want[k], b));
        }
        assert_int_equal(c->n_holidays, n_want);
        /* The worked example of DOMAIN.md: Christmas 2027 on a Saturday. */
        assert_true(cf_calendar_is_holiday(c, DAY(2027, 12, 27)));
        assert_true(cf_calendar_is_holiday(c, DAY(2027, 12, 28)));
        assert_false(cf_calendar_is_holiday(c, DAY(2027, 12, 25)));
        assert_false(cf_calendar_is_working_day(c, DAY(2027, 12, 25)));
        assert_true(cf_calendar_covers(c, DAY(2025, 1, 1)));
        assert_true(cf_calendar_covers(c, DAY(2028, 12, 31)));
        assert_false(cf_calendar_covers(c, DAY(2024, 12, 31)));
        assert_false(cf_calendar_covers(c, DAY(2029, 1, 1)));
        cf_calendar_destroy(&c);
        assert_null(c);
    }
}

/* ---- Deadlines ----------------------------------------------------------- */

struct deadline_case {
    const char *nation; /* NULL: the same answer in every nation */
    const char *from;
    unsigned n;
    enum cf_unit unit;
    const char *due;
};

#define W CF_UNIT_WORKING_DAYS
#define C CF_UNIT_CALENDAR_DAYS
#define H CF_UNIT_HOURS
#define M CF_UNIT_MINUTES
#define EW "england-wales"
#define SC "scotland"
#define NI "northern-ireland"

static const struct deadline_case deadline_cases[] = {
    /* Christmas 2026: Friday 25, Boxing Day's substitute Monday 28. */
    {NULL, "2026-12-24 15:00 GMT", 1, W, "2026-12-30 00:00 GMT"},
    /* Starting on a holiday, a weekend or a substitute day: the start day
     * never counts, so each gives the same first working day, Tuesday 29. */
    {NULL, "2026-12-25 09:00 GMT", 1, W, "2026-12-30 00:00 GMT"},
    {NULL, "2026-12-26 10:00 GMT", 1, W, "2026-12-30 00:00 GMT"},
    {NULL, "2026-12-28 11:00 GMT", 1, W, "2026-12-30 00:00 GMT"},
    {NULL, "2026-12-29 09:00 GMT", 1, W, "2026-12-31 00:00 GMT"},
    /* Christmas 2027 on Saturday and Sunday: substitutes Monday 27 and Tuesday
     * 28; New Year's Day on a Saturday gives Monday 3 January, and Scotland's
     * 2 January on the Sunday gives Tuesday 4. */
    {EW, "2027-12-10 10:00 GMT", 15, W, "2028-01-06 00:00 GMT"},
    {NI, "2027-12-10 10:00 GMT", 15, W, "2028-01-06 00:00 GMT"},
    {SC, "2027-12-10 10:00 GMT", 15, W, "2028-01-07 00:00 GMT"},
    {EW, "2027-12-31 12:00 GMT", 1, W, "2028-01-05 00:00 GMT"},
    {NI, "2027-12-31 12:00 GMT", 1, W, "2028-01-05 00:00 GMT"},
    {SC, "2027-12-31 12:00 GMT", 1, W, "2028-01-06 00:00 GMT"},
    /* The reconvene figure across Christmas 2025 and 2 January 2026. */
    {EW, "2025-12-19 14:00 GMT", 10, W, "2026-01-08 00:00 GMT"},
    {NI, "2025-12-19 14:00 GMT", 10, W, "2026-01-08 00:00 GMT"},
    {SC, "2025-12-19 14:00 GMT", 10, W, "2026-01-09 00:00 GMT"},
    /* 2 January (a Friday in 2026): Scotland only. */
    {EW, "2025-12-31 16:00 GMT", 1, W, "2026-01-03 00:00 GMT"},
    {NI, "2025-12-31 16:00 GMT", 1, W, "2026-01-03 00:00 GMT"},
    {SC, "2025-12-31 16:00 GMT", 1, W, "2026-01-06 00:00 GMT"},
    /* St Andrew's Day: Monday 30 November 2026, and in 2025 (a Sunday) its
     * substitute Monday 1 December. Scotland only. */
    {EW, "2026-11-27 12:00 GMT", 1, W, "2026-12-01 00:00 GMT"},
    {NI, "2026-11-27 12:00 GMT", 1, W, "2026-12-01 00:00 GMT"},
    {SC, "2026-11-27 12:00 GMT", 1, W, "2026-12-02 00:00 GMT"},
    {EW, "2025-11-28 12:00 GMT", 1, W, "2025-12-02 00:00 GMT"},
    {NI, "2025-11-28 12:00 GMT", 1, W, "2025-12-02 00:00 GMT"},
    {SC, "2025-11-28 12:00 GMT", 1, W, "2025-12-03 00:00 GMT"},
    /* The Battle of the Boyne: Monday 12 July 2027, and in 2025 (a Saturday)
     * its substitute Monday 14 July. Northern Ireland only. */
    {EW, "2027-07-09 12:00 BST", 1, W, "2027-07-13 00:00 BST"},
    {SC, "2027-07-09 12:00 BST", 1, W, "2027-07-13 00:00 BST"},
    {NI, "2027-07-09 12:00 BST", 1, W, "2027-07-14 00:00 BST"},
    {EW, "2025-07-11 12:00 BST", 1, W, "2025-07-15 00:00 BST"},
    {SC, "2025-07-11 12:00 BST", 1, W, "2025-07-15 00:00 BST"},
    {NI, "2025-07-11 12:00 BST", 1, W, "2025-07-16 00:00 BST"},
    /* St Patrick's Day, Wednesday 17 March 2027: Northern Ireland only. */
    {EW, "2027-03-16 10:00 GMT", 1, W, "2027-03-18 00:00 GMT"},
    {SC, "2027-03-16 10:00 GMT", 1, W, "2027-03-18 00:00 GMT"},
    {NI, "2027-03-16 10:00 GMT", 1, W, "2027-03-19 00:00 GMT"},
    /* Easter 2026: Good Friday 3 April everywhere, Easter Monday 6 April
     * everywhere but Scotland. */
    {EW, "2026-04-02 14:00 BST", 1, W, "2026-04-08 00:00 BST"},
    {NI, "2026-04-02 14:00 BST", 1, W, "2026-04-08 00:00 BST"},
    {SC, "2026-04-02 14:00 BST", 1, W, "2026-04-07 00:00 BST"},
    /* Easter 2027 falls on the spring clock change: from Good Friday in GMT to
     * the end of a working day in BST. */
    {SC, "2027-03-26 09:00 GMT", 1, W, "2027-03-30 00:00 BST"},
    {EW, "2027-03-26 09:00 GMT", 1, W, "2027-03-31 00:00 BST"},
    {NI, "2027-03-26 09:00 GMT", 1, W, "2027-03-31 00:00 BST"},
    /* Summer: Scotland's first Monday of August (3 August 2026) against the
     * others' last Monday (31 August 2026). */
    {EW, "2026-07-31 12:00 BST", 1, W, "2026-08-04 00:00 BST"},
    {NI, "2026-07-31 12:00 BST", 1, W, "2026-08-04 00:00 BST"},
    {SC, "2026-07-31 12:00 BST", 1, W, "2026-08-05 00:00 BST"},
    {EW, "2026-08-28 12:00 BST", 1, W, "2026-09-02 00:00 BST"},
    {NI, "2026-08-28 12:00 BST", 1, W, "2026-09-02 00:00 BST"},
    {SC, "2026-08-28 12:00 BST", 1, W, "2026-09-01 00:00 BST"},

    /* Calendar days across the clock changes (29 March and 25 October 2026,
     * 28 March and 31 October 2027): the due moment is always a local
     * midnight, whatever length the days in between had. */
    {NULL, "2026-03-27 12:00 GMT", 1, C, "2026-03-29 00:00 GMT"},
    {NULL, "2026-03-27 12:00 GMT", 2, C, "2026-03-30 00:00 BST"},
    {NULL, "2026-03-29 00:30 GMT", 1, C, "2026-03-31 00:00 BST"},
    {NULL, "2026-03-29 03:30 BST", 1, C, "2026-03-31 00:00 BST"},
    {NULL, "2026-10-23 09:00 BST", 1, C, "2026-10-25 00:00 BST"},
    {NULL, "2026-10-23 09:00 BST", 2, C, "2026-10-26 00:00 GMT"},
    /* 01:30 happens twice on 25 October 2026; both are that Sunday. */
    {NULL, "2026-10-25 01:30 BST", 1, C, "2026-10-27 00:00 GMT"},
    {NULL, "2026-10-25 01:30 GMT", 1, C, "2026-10-27 00:00 GMT"},
    {NULL, "2027-03-27 23:30 GMT", 1, C, "2027-03-29 00:00 BST"},
    {NULL, "2027-10-30 23:30 BST", 1, C, "2027-11-01 00:00 GMT"},
    /* Scotland's 28 days to the planning meeting; the pilot's 45 days to RG. */
    {NULL, "2027-03-10 10:00 GMT", 28, C, "2027-04-08 00:00 BST"},
    {NULL, "2027-09-20 10:00 BST", 45, C, "2027-11-05 00:00 GMT"},
    {NULL, "2027-10-29 12:00 BST", 1, W, "2027-11-02 00:00 GMT"},

    /* Late at night in BST the local day is still that day; just after local
     * midnight (still the previous day in UTC) it is the next one. */
    {NULL, "2026-07-02 23:30 BST", 1, W, "2026-07-04 00:00 BST"},
    {NULL, "2026-07-02 23:30 BST", 1, C, "2026-07-04 00:00 BST"},
    {NULL, "2026-07-03 00:30 BST", 1, W, "2026-07-07 00:00 BST"},
    /* Exactly at local midnight the new day has begun; a millisecond before,
     * it has not. */
    {NULL, "2026-07-03 00:00 BST", 1, W, "2026-07-07 00:00 BST"},
    {NULL, "2026-07-02 23:59:59.999 BST", 1, W, "2026-07-04 00:00 BST"},
    {NULL, "2026-12-01 00:00 GMT", 1, W, "2026-12-03 00:00 GMT"},
    {NULL, "2026-12-01 00:00 GMT", 1, C, "2026-12-03 00:00 GMT"},
    /* A plain Saturday. */
    {NULL, "2026-06-13 10:00 BST", 1, W, "2026-06-16 00:00 BST"},

    /* Minutes and hours are elapsed time: they ignore holidays and the clock
     * change simply shows on the wall. */
    {NULL, "2026-12-24 15:00 GMT", 15, M, "2026-12-24 15:15 GMT"},
    {NULL, "2026-12-24 15:00 GMT", 4, H, "2026-12-24 19:00 GMT"},
    {NULL, "2026-12-25 15:00 GMT", 4, H, "2026-12-25 19:00 GMT"},
    {NULL, "2026-03-29 00:30 GMT", 4, H, "2026-03-29 05:30 BST"},
    {NULL, "2026-10-25 00:30 BST", 4, H, "2026-10-25 03:30 GMT"},
    {NULL, "2026-07-02 23:50 BST", 15, M, "2026-07-03 00:05 BST"},
    {NULL, "2026-01-01 00:00 GMT", 100000, M, "2026-03-11 10:40 GMT"},

    /* The first and last days deadlines are computed for. */
    {NULL, "2000-01-01 00:00 GMT", 1, C, "2000-01-03 00:00 GMT"},
    {NULL, "2100-12-30 12:00 GMT", 1, C, "2101-01-01 00:00 GMT"},
    {NULL, "2100-12-31 23:50 GMT", 5, M, "2100-12-31 23:55 GMT"},
    {NULL, "2000-01-01 10:00 GMT", 1, W, "2000-01-04 00:00 GMT"},
    {NULL, "2100-12-30 12:00 GMT", 1, W, "2101-01-01 00:00 GMT"},
};

static const char *const unit_names[] = {
    [CF_UNIT_NONE] = "?",
    [CF_UNIT_MINUTES] = "minutes",
    [CF_UNIT_HOURS] = "hours",
    [CF_UNIT_CALENDAR_DAYS] = "calendar_days",
    [CF_UNIT_WORKING_DAYS] = "working_days",
};

static void test_deadlines(void **state)
{
    (void)state;
    struct cf_calendar *cal[N_NATIONS];
    for (size_t i = 0; i < N_NATIONS; i++)
        cal[i] = load_nation(nation_names[i]);
    size_t runs = 0;
    for (size_t i = 0; i < COUNT(deadline_cases); i++) {
        const struct deadline_case *k = &deadline_cases[i];
        uint64_t from = at(k->from), want = at(k->due);
        struct cf_duration d = duration(k->n, k->unit);
        for (size_t j = 0; j < N_NATIONS; j++) {
            if (k->nation && strcmp(k->nation, nation_names[j]) != 0)
                continue;
            uint64_t got = 0;
            int rc = cf_calendar_deadline(cal[j], from, &d, &got);
            char g[48];
            if (rc != 0 || got != want)
                fail_msg("%s: %u %s from %s: wanted %s, got %s (%s)", nation_names[j], k->n,
                         unit_names[k->unit], k->from, k->due, rc ? "-" : show(got, g),
                         cf_error_name(rc));
            if (k->unit == C || k->unit == W) {
                /* The end of a day: a local midnight that starts the next day. */
                int32_t day = cf_calendar_day_of(got);
                assert_int_equal(cf_calendar_local_midnight(day), got);
                assert_int_equal(cf_calendar_day_of(got - 1), day - 1);
            }
            if (k->unit == W)
                assert_true(cf_calendar_is_working_day(cal[j], cf_calendar_day_of(got - 1)));
            runs++;
        }
    }
    assert_true(runs > COUNT(deadline_cases));
    for (size_t i = 0; i < N_NATIONS; i++)
        cf_calendar_destroy(&cal[i]);
}

/* Working days elapsed, as `audit report` counts them: after the day of the
 * first instant, up to and including the day of the second, in local time. */
static void test_working_days(void **state)
{
    (void)state;
    static const struct {
        const char *nation, *from, *to;
        uint32_t want;
    } cases[] = {
        /* Christmas 2026: 25 Dec (Fri) and 28 Dec (Mon, Boxing Day's substitute). */
        {"england-wales", "2026-12-24 10:00 GMT", "2026-12-29 10:00 GMT", 1},
        {"england-wales", "2026-12-23 15:00 GMT", "2026-12-29 10:05 GMT", 2},
        {"england-wales", "2026-12-24 10:00 GMT", "2027-01-04 10:00 GMT", 4},
        {"england-wales", "2026-12-24 10:00 GMT", "2027-01-06 10:00 GMT", 6},
        /* Scotland also keeps 4 January 2027 (2 January's substitute). */
        {"scotland", "2026-12-24 11:00 GMT", "2027-01-05 10:00 GMT", 4},
        {"scotland", "2026-12-24 11:00 GMT", "2027-01-07 10:00 GMT", 6},
        /* The same day is 0, however late; an earlier one too. */
        {"england-wales", "2026-12-22 00:00 GMT", "2026-12-22 23:59 GMT", 0},
        {"england-wales", "2026-12-22 10:00 GMT", "2026-12-21 10:00 GMT", 0},
        /* Days are Europe/London's: 23:30 UTC in summer is the next day. */
        {"england-wales", "2026-06-01 23:30 BST", "2026-06-02 00:30 BST", 1},
        /* A weekend counts nothing; the Monday one. */
        {"northern-ireland", "2026-06-05 09:00 BST", "2026-06-07 09:00 BST", 0},
        {"northern-ireland", "2026-06-05 09:00 BST", "2026-06-08 09:00 BST", 1},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        struct cf_calendar *c = load_nation(cases[i].nation);
        uint32_t got = 99;
        int rc = cf_calendar_working_days(c, at(cases[i].from), at(cases[i].to), &got);
        if (rc != 0 || got != cases[i].want)
            fail_msg("%s: %s to %s: wanted %u working days, got %u (%s)", cases[i].nation,
                     cases[i].from, cases[i].to, cases[i].want, got, cf_error_name(rc));
        cf_calendar_destroy(&c);
    }
    struct cf_calendar *c = load_nation("england-wales");
    uint32_t n;
    assert_int_equal(
        cf_calendar_working_days(c, at("1999-12-31 10:00 GMT"), at("2000-01-04 10:00 GMT"), &n),
        CF_ERANGE);
    assert_int_equal(cf_calendar_working_days(NULL, 0, 0, &n), CF_EINVAL);
    cf_calendar_destroy(&c);
}

/* Out of range, and arguments that are not a deadline. *due_ms stays as it
 * was on every failure. */
static void test_deadline_refusals(void **state)
{
    (void)state;
    struct cf_calendar *c = load_nation("england-wales");
    const struct {
        const char *what;
        uint64_t from;
        unsigned n;
        enum cf_unit unit;
        int code;
    } cases[] = {
        {"before 2000", at("1999-12-31 23:59:59.999 GMT"), 1, C, CF_ERANGE},
        {"before 2000, minutes", at("1999-12-31 23:59:59.999 GMT"), 1, M, CF_ERANGE},
        {"before 2000, working days", at("1999-12-31 12:00 GMT"), 1, W, CF_ERANGE},
        {"the epoch", 0, 1, H, CF_ERANGE},
        {"after 2100", at("2101-01-01 00:00 GMT"), 1, M, CF_ERANGE},
        {"far future", UINT64_MAX, 1, W, CF_ERANGE},
        {"counting into 2101", at("2100-12-30 12:00 GMT"), 2, C, CF_ERANGE},
        {"working day in 2101", at("2100-12-31 12:00 GMT"), 1, W, CF_ERANGE},
        {"minutes into 2101", at("2100-12-31 23:50 GMT"), 15, M, CF_ERANGE},
        {"largest count of minutes", at("2026-06-01 12:00 BST"), UINT_MAX, M, CF_ERANGE},
        {"largest count of hours", at("2026-06-01 12:00 BST"), UINT_MAX, H, CF_ERANGE},
        {"largest count of days", at("2026-06-01 12:00 BST"), UINT_MAX, C, CF_ERANGE},
        {"largest count of working days", at("2026-06-01 12:00 BST"), UINT_MAX, W, CF_ERANGE},
        {"no unit", at("2026-06-01 12:00 BST"), 1, CF_UNIT_NONE, CF_EINVAL},
        {"unknown unit", at("2026-06-01 12:00 BST"), 1, (enum cf_unit)99, CF_EINVAL},
        {"zero", at("2026-06-01 12:00 BST"), 0, W, CF_EINVAL},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        struct cf_duration d = duration(cases[i].n, cases[i].unit);
        uint64_t due = 12345;
        int rc = cf_calendar_deadline(c, cases[i].from, &d, &due);
        if (rc != cases[i].code || due != 12345)
            fail_msg("%s: wanted %s, got %s", cases[i].what, cf_error_name(cases[i].code),
                     cf_error_name(rc));
    }
    struct cf_duration d = duration(1, W), unset = {0};
    uint64_t due = 12345, from = at("2026-06-01 12:00 BST");
    assert_int_equal(cf_calendar_deadline(c, from, &unset, &due), CF_EINVAL);
    assert_int_equal(cf_calendar_deadline(NULL, from, &d, &due), CF_EINVAL);
    assert_int_equal(cf_calendar_deadline(c, from, NULL, &due), CF_EINVAL);
    assert_int_equal(cf_calendar_deadline(c, from, &d, NULL), CF_EINVAL);
    assert_int_equal(due, 12345);
    cf_calendar_destroy(&c);
}

/* A calendar holding `n` holidays: every weekday from `first` on. */
static char *weekday_calendar(int32_t first, size_t n)
{
    static const char head[] = "[calendar]\nname = synthetic\nzone = Europe/London\n";
    size_t cap = sizeof head + n * 24;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t len = (size_t)snprintf(text, cap, "%s", head);
    char date[CF_CALENDAR_DATE_LEN + 1];
    for (int32_t day = first; n > 0; day++) {
        if (cf_calendar_weekday(day) > 5)
            continue;
        len += (size_t)snprintf(text + len, cap - len, "holiday = %s\n",
                                cf_calendar_format_day(day, date));
        n--;
    }
    return text;
}

/* The number of weekdays in [first, first + days). */
static size_t weekdays_in(int32_t first, int32_t days)
{
    size_t n = 0;
    for (int32_t day = first; day < first + days; day++)
        n += cf_calendar_weekday(day) <= 5;
    return n;
}

/* A broken calendar that lists every weekday of three years: the count finds
 * no working day within CF_CALENDAR_MAX_GAP_DAYS and fails. Three years of
 * weekdays are about 783 dates, within CF_CALENDAR_MAX_HOLIDAYS, so the gap
 * can be built for real. One day shorter, the count still succeeds. */
static void test_max_gap(void **state)
{
    (void)state;
    const int32_t saturday = DAY(2030, 1, 5);
    assert_int_equal(cf_calendar_weekday(saturday), 6);
    const uint64_t friday_noon = at("2030-01-04 12:00 GMT");
    struct cf_duration one = duration(1, W);
    for (int32_t gap = CF_CALENDAR_MAX_GAP_DAYS - 1; gap <= CF_CALENDAR_MAX_GAP_DAYS; gap++) {
        /* Non-working days from Saturday `saturday` for `gap` days in a row. */
        char *text = weekday_calendar(saturday, weekdays_in(saturday, gap));
        struct cf_calendar *c = parse_ok(text);
        assert_true(c->n_holidays <= CF_CALENDAR_MAX_HOLIDAYS);
        assert_true(cf_calendar_is_working_day(c, saturday + gap));
        assert_false(cf_calendar_is_working_day(c, saturday + gap - 1));
        uint64_t due = 0;
        int rc = cf_calendar_deadline(c, friday_noon, &one, &due);
        if (gap < CF_CALENDAR_MAX_GAP_DAYS) {
            assert_int_equal(rc, 0);
            assert_int_equal(due, cf_calendar_local_midnight(saturday + gap + 1));
        } else {
            assert_int_equal(rc, CF_ERANGE);
            /* Starting inside the run leaves a shorter gap ahead: no failure. */
            uint64_t inside = cf_calendar_local_midnight(saturday + 10) + 12 * MS_PER_HOUR;
            assert_int_equal(cf_calendar_deadline(c, inside, &one, &due), 0);
            assert_int_equal(due, cf_calendar_local_midnight(saturday + gap + 1));
        }
        cf_calendar_destroy(&c);
        free(text);
    }
}

/* ---- Reading calendar files ---------------------------------------------- */

/* A small valid file, its dates deliberately out of order; the bad cases
 * below edit one spot and name its line. */
static const char base_calendar[] = "; a comment before the section\n"           /* 1 */
                                    "[calendar]\n"                               /* 2 */
                                    "name = england-wales\n"                     /* 3 */
                                    "zone = Europe/London\n"                     /* 4 */
                                    "holiday = 2026-12-25 ; Christmas Day\n"     /* 5 */
                                    "holiday = 2026-12-28 ; Boxing Day, moved\n" /* 6 */
                                    "extra = 2026-06-01   ; a proclamation\n"    /* 7 */
                                    "\n"                                         /* 8 */
                                    "holiday = 2026-01-01\n";                    /* 9 */

static void test_base_calendar_parses(void **state)
{
    (void)state;
    struct cf_calendar *c = parse_ok(base_calendar);
    assert_string_equal(c->name, "england-wales");
    assert_int_equal(c->n_holidays, 4);
    assert_int_equal(c->holidays[0], DAY(2026, 1, 1));
    assert_int_equal(c->holidays[1], DAY(2026, 6, 1));
    assert_int_equal(c->holidays[2], DAY(2026, 12, 25));
    assert_int_equal(c->holidays[3], DAY(2026, 12, 28));
    assert_true(cf_calendar_is_holiday(c, DAY(2026, 6, 1)));
    assert_false(cf_calendar_is_holiday(c, DAY(2026, 6, 2)));
    assert_true(cf_calendar_is_working_day(c, DAY(2026, 6, 2)));
    assert_false(cf_calendar_is_working_day(c, DAY(2026, 6, 6))); /* a Saturday */
    assert_true(cf_calendar_covers(c, DAY(2026, 7, 1)));
    assert_false(cf_calendar_covers(c, DAY(2027, 1, 1)));
    cf_calendar_destroy(&c);
    cf_calendar_destroy(&c); /* NULL is accepted */
    cf_calendar_destroy(NULL);

    /* The first and last years, CRLF line ends and a byte order mark. */
    c = parse_ok("\xEF\xBB\xBF[calendar]\r\nname = edge\r\nzone = Europe/London\r\n"
                 "holiday = 2000-01-03\r\nholiday = 2100-12-31\r\n");
    assert_int_equal(c->n_holidays, 2);
    assert_int_equal(c->holidays[1], DAY(2100, 12, 31));
    cf_calendar_destroy(&c);

    /* A calendar may list no holidays at all; then it covers no year. The name
     * may be as long as a jurisdiction's. */
    c = parse_ok("[calendar]\nname = abcdefghijklmnopqrstuvwxyz-12345\nzone = Europe/London\n");
    assert_int_equal(strlen(c->name), CF_JURISDICTION_MAX);
    assert_int_equal(c->n_holidays, 0);
    assert_false(cf_calendar_covers(c, DAY(2026, 1, 1)));
    cf_calendar_destroy(&c);
}

/* The text with the first `find` replaced by `replace`; with replace == NULL,
 * cut at `find`. Caller frees. */
static char *edit(const char *text, const char *find, const char *replace)
{
    const char *hit = strstr(text, find);
    if (!hit)
        fail_msg("'%s' is not in the base text", find);
    size_t head = (size_t)(hit - text);
    const char *tail = replace ? hit + strlen(find) : "";
    size_t rlen = replace ? strlen(replace) : 0;
    char *out = malloc(head + rlen + strlen(tail) + 1);
    assert_non_null(out);
    memcpy(out, text, head);
    memcpy(out + head, replace ? replace : "", rlen);
    strcpy(out + head + rlen, tail);
    return out;
}

struct bad_case {
    const char *what;
    const char *find, *replace; /* replace == NULL cuts the text at find */
    int code;
    unsigned line;
    const char *says; /* a phrase the message must hold, or NULL */
};

static char long_line[260];

static const struct bad_case bad_cases[] = {
    {"date in another shape", "holiday = 2026-12-25", "holiday = 25/12/2026", CF_EVALUE, 5,
     "YYYY-MM-DD"},
    {"date without leading zeros", "holiday = 2026-12-28", "holiday = 2026-12-8", CF_EVALUE, 6,
     "YYYY-MM-DD"},
    {"date with a tail", "holiday = 2026-01-01", "holiday = 2026-01-01x", CF_EVALUE, 9,
     "YYYY-MM-DD"},
    {"empty date", "holiday = 2026-12-25 ; Christmas Day", "holiday =", CF_EVALUE, 5, "YYYY-MM-DD"},
    {"30 February", "holiday = 2026-12-28", "holiday = 2026-02-30", CF_EVALUE, 6,
     "not a real date"},
    {"29 February of a common year", "holiday = 2026-12-28", "holiday = 2027-02-29", CF_EVALUE, 6,
     "not a real date"},
    {"month 13", "extra = 2026-06-01", "extra = 2026-13-01", CF_EVALUE, 7, "not a real date"},
    {"day 0", "extra = 2026-06-01", "extra = 2026-06-00", CF_EVALUE, 7, "not a real date"},
    {"a Saturday", "holiday = 2026-12-28", "holiday = 2026-12-26", CF_EVALUE, 6, "Saturday"},
    {"a Sunday", "extra = 2026-06-01", "extra = 2026-06-07", CF_EVALUE, 7, "Sunday"},
    {"before the first year", "holiday = 2026-01-01", "holiday = 1999-12-31", CF_EVALUE, 9,
     "2000 to 2100"},
    {"after the last year", "holiday = 2026-01-01", "holiday = 2101-01-03", CF_EVALUE, 9,
     "2000 to 2100"},
    {"repeated date", "holiday = 2026-01-01", "holiday = 2026-12-25", CF_EDUPKEY, 9, "line 5"},
    {"extra repeating a holiday", "extra = 2026-06-01", "extra = 2026-12-28", CF_EDUPKEY, 7,
     "line 6"},
    {"unknown key", "zone = Europe/London\n", "zone = Europe/London\ncountry = uk\n",
     CF_EUNKNOWNKEY, 5, "country"},
    {"misspelt key", "holiday = 2026-12-28", "holliday = 2026-12-28", CF_EUNKNOWNKEY, 6,
     "holliday"},
    {"unknown section", "[calendar]", "[calendars]", CF_EUNKNOWNKEY, 2, "[calendars]"},
    {"a second section", "\n\n", "\n[holidays]\n", CF_EUNKNOWNKEY, 8, "[holidays]"},
    {"key outside any section", "[calendar]\n", "name = england-wales\n[calendar]\n",
     CF_EUNKNOWNKEY, 2, "outside any section"},
    {"repeated section", "\n\n", "\n[calendar]\n", CF_EDUPKEY, 8, "line 2"},
    {"repeated name", "zone = Europe/London\n", "zone = Europe/London\nname = scotland\n",
     CF_EDUPKEY, 5, "line 3"},
    {"repeated zone", "extra = 2026-06-01   ; a proclamation\n", "zone = Europe/London\n",
     CF_EDUPKEY, 7, "line 4"},
    {"no name", "name = england-wales\n", "", CF_EVALUE, 2, "no name"},
    {"no zone", "zone = Europe/London\n", "", CF_EVALUE, 2, "no zone"},
    {"no [calendar]", "[calendar]", NULL, CF_EVALUE, 1, "no [calendar]"},
    {"another zone", "zone = Europe/London", "zone = Europe/Dublin", CF_EVALUE, 4, "Europe/Dublin"},
    {"zone in lower case", "zone = Europe/London", "zone = europe/london", CF_EVALUE, 4, NULL},
    {"UTC", "zone = Europe/London", "zone = UTC", CF_EVALUE, 4, NULL},
    {"empty zone", "zone = Europe/London", "zone =", CF_EVALUE, 4, NULL},
    {"name in capitals", "name = england-wales", "name = England", CF_EVALUE, 3, "a-z"},
    {"name too short", "name = england-wales", "name = ew", CF_EVALUE, 3, "3 to 32"},
    {"name too long", "name = england-wales", "name = abcdefghijklmnopqrstuvwxyz-123456" /* 33 */,
     CF_EVALUE, 3, "3 to 32"},
    {"over-long line", "extra = 2026-06-01   ; a proclamation", long_line, CF_ELINE, 7, NULL},
    {"indented line", "holiday = 2026-12-28", "  holiday = 2026-12-28", CF_ESYNTAX, 6, NULL},
    {"line without =", "zone = Europe/London", "zone Europe/London", CF_ESYNTAX, 4, NULL},
};

static void expect_refusal(const char *what, const char *text, int code, unsigned line,
                           const char *says)
{
    struct cf_calendar *c = NULL;
    struct cf_error err = {0};
    int rc = cf_calendar_parse("calendar.ini", text, strlen(text), &c, &err);
    char where[32];
    snprintf(where, sizeof where, "calendar.ini:%u: ", line);
    if (rc != code || strncmp(err.text, where, strlen(where)) != 0)
        fail_msg("%s: wanted %s at %s, got %s: %s", what, cf_error_name(code), where,
                 cf_error_name(rc), err.text);
    if (says && !strstr(err.text, says))
        fail_msg("%s: the message lacks '%s': %s", what, says, err.text);
    assert_int_equal(err.code, code);
    assert_null(c);
}

static void test_bad_calendars(void **state)
{
    (void)state;
    snprintf(long_line, sizeof long_line, "extra = 2026-06-01 ; %0230d", 0);
    for (size_t i = 0; i < COUNT(bad_cases); i++) {
        const struct bad_case *k = &bad_cases[i];
        char *text = edit(base_calendar, k->find, k->replace);
        expect_refusal(k->what, text, k->code, k->line, k->says);
        free(text);
    }
    expect_refusal("empty file", "", CF_EVALUE, 1, "no [calendar]");
    expect_refusal("comments only", "; one\n; two\n; three", CF_EVALUE, 3, "no [calendar]");
}

/* CF_CALENDAR_MAX_HOLIDAYS dates are accepted; one more is refused at its line. */
static void test_too_many_holidays(void **state)
{
    (void)state;
    const int32_t first = DAY(2030, 1, 1);
    char *text = weekday_calendar(first, CF_CALENDAR_MAX_HOLIDAYS);
    struct cf_calendar *c = parse_ok(text);
    assert_int_equal(c->n_holidays, CF_CALENDAR_MAX_HOLIDAYS);
    for (size_t i = 1; i < c->n_holidays; i++)
        assert_true(c->holidays[i - 1] < c->holidays[i]);
    cf_calendar_destroy(&c);
    free(text);

    text = weekday_calendar(first, CF_CALENDAR_MAX_HOLIDAYS + 1);
    /* Three lines of head, then one holiday a line. */
    expect_refusal("too many holidays", text, CF_ETOOBIG, 3 + CF_CALENDAR_MAX_HOLIDAYS + 1, NULL);
    free(text);
}

static void test_load(void **state)
{
    (void)state;
    struct cf_calendar *c = NULL;
    struct cf_error err = {0};
    assert_int_equal(cf_calendar_load(CF_SOURCE_DIR "/deploy/calendars/no-such.ini", &c, &err),
                     CF_EIO);
    assert_null(c);
    /* A failure in a real file names its path and line: policy.ini is no
     * calendar, and its first section says so. */
    const char *path = CF_SOURCE_DIR "/deploy/policy.ini";
    assert_int_equal(cf_calendar_load(path, &c, &err), CF_EUNKNOWNKEY);
    assert_int_equal(strncmp(err.text, path, strlen(path)), 0);
    assert_int_equal(err.text[strlen(path)], ':');
    assert_null(c);
}

/* ---- Civil dates and UK time --------------------------------------------- */

static void test_known_days(void **state)
{
    (void)state;
    const struct {
        int year;
        unsigned month, mday;
        int32_t day;
        int weekday;
    } cases[] = {
        {1970, 1, 1, 0, 4},         {1969, 12, 31, -1, 3},    {2000, 1, 1, 10957, 6},
        {2000, 2, 29, 11016, 2},    {2000, 3, 1, 11017, 3},   {1900, 3, 1, -25508, 4},
        {1600, 2, 29, -135081, 2},  {1, 1, 1, -719162, 1},    {0, 3, 1, -719468, 3},
        {9999, 12, 31, 2932896, 5}, {2026, 12, 25, 20812, 5}, {2028, 2, 29, 21243, 2},
        {2100, 12, 31, 47846, 5},   {2101, 1, 1, 47847, 6},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        int32_t day = DAY(cases[i].year, cases[i].month, cases[i].mday);
        if (day != cases[i].day || cf_calendar_weekday(day) != cases[i].weekday)
            fail_msg("%04d-%02u-%02u: wanted day %d weekday %d, got %d weekday %d", cases[i].year,
                     cases[i].month, cases[i].mday, cases[i].day, cases[i].weekday, day,
                     cf_calendar_weekday(day));
    }
}

static bool leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* Walks some 11 000 years a day at a time, carrying the date and the weekday
 * forward by hand from 1970-01-01, a Thursday: every day number must turn into
 * that date and back, and have that weekday. */
static void test_round_trips(void **state)
{
    (void)state;
    static const unsigned month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const int32_t first = -1000000, last = 3000000; /* about 768 BC to AD 10183 */
    int year = 1970;
    unsigned month = 1, mday = 1;
    int weekday = 4;
    /* Back from the epoch to the first day, then forwards over the range. */
    for (int32_t day = 0; day > first; day--) {
        weekday = weekday == 1 ? 7 : weekday - 1;
        if (--mday == 0) {
            if (--month == 0) {
                month = 12;
                year--;
            }
            mday = month_days[month - 1] + (month == 2 && leap(year));
        }
    }
    for (int32_t day = first; day <= last; day++) {
        int y;
        unsigned m, d;
        cf_calendar_civil_from_days(day, &y, &m, &d);
        if (y != year || m != month || d != mday || DAY(year, month, mday) != day ||
            cf_calendar_weekday(day) != weekday)
            fail_msg("day %d: wanted %d-%02u-%02u weekday %d, got %d-%02u-%02u weekday %d back "
                     "to %d",
                     day, year, month, mday, weekday, y, m, d, cf_calendar_weekday(day),
                     DAY(year, month, mday));
        weekday = weekday % 7 + 1;
        if (++mday > month_days[month - 1] + (month == 2 && leap(year))) {
            mday = 1;
            if (++month > 12) {
                month = 1;
                year++;
            }
        }
    }
    /* The ends of the int32 range turn into dates and back; dates beyond it
     * saturate rather than wrap. Any output may be NULL. */
    const int32_t ends[] = {INT32_MIN, INT32_MIN + 1, INT32_MAX - 1, INT32_MAX};
    for (size_t i = 0; i < COUNT(ends); i++) {
        int y;
        unsigned m, d;
        cf_calendar_civil_from_days(ends[i], &y, &m, &d);
        assert_int_equal(DAY(y, m, d), ends[i]);
    }
    assert_int_equal(DAY(INT_MAX, 12, 31), INT32_MAX);
    assert_int_equal(DAY(INT_MIN, 1, 1), INT32_MIN);
    unsigned m = 0;
    cf_calendar_civil_from_days(20812, NULL, &m, NULL);
    assert_int_equal(m, 12);
    cf_calendar_civil_from_days(20812, NULL, NULL, NULL);
}

static void test_format_and_parse_day(void **state)
{
    (void)state;
    char out[CF_CALENDAR_DATE_LEN + 1];
    const struct {
        int32_t day;
        const char *text;
    } good[] = {
        {20812, "2026-12-25"},   {0, "1970-01-01"},       {-1, "1969-12-31"},
        {-719528, "0000-01-01"}, {2932896, "9999-12-31"}, {21243, "2028-02-29"},
        {11016, "2000-02-29"},
    };
    for (size_t i = 0; i < COUNT(good); i++) {
        assert_string_equal(cf_calendar_format_day(good[i].day, out), good[i].text);
        int32_t day = 0;
        assert_int_equal(cf_calendar_parse_day(good[i].text, &day), 0);
        assert_int_equal(day, good[i].day);
    }
    assert_ptr_equal(cf_calendar_format_day(0, out), out);
    /* Split literals: in strict C11 "??-" would be a trigraph for '~'. */
    assert_string_equal(cf_calendar_format_day(-719529, out), "????"
                                                              "-"
                                                              "??"
                                                              "-"
                                                              "??");
    assert_string_equal(cf_calendar_format_day(2932897, out), "????"
                                                              "-"
                                                              "??"
                                                              "-"
                                                              "??");
    assert_string_equal(cf_calendar_format_day(INT32_MIN, out), "????"
                                                                "-"
                                                                "??"
                                                                "-"
                                                                "??");

    const char *const bad[] = {
        "",           "2026",       "2026-12-2",  "2026-12-250", "2026-12-25 ", " 2026-12-25",
        "2026/12/25", "+026-12-25", "2026-1a-25", "2026-02-29",  "1900-02-29",  "2026-04-31",
        "2026-00-10", "2026-13-10", "2026-01-00", "2026-01-32",  "20261225",    "2026-12-25T00:00",
    };
    for (size_t i = 0; i < COUNT(bad); i++) {
        int32_t day = 777;
        if (cf_calendar_parse_day(bad[i], &day) != CF_EVALUE || day != 777)
            fail_msg("'%s' parsed as a day", bad[i]);
    }
    int32_t day;
    assert_int_equal(cf_calendar_parse_day(NULL, &day), CF_EVALUE);
}

static void test_utc_offset(void **state)
{
    (void)state;
    /* The instants the clocks change, 01:00 UTC each time, and either side. */
    const uint64_t spring26 = utc(2026, 3, 29, 1, 0), autumn26 = utc(2026, 10, 25, 1, 0);
    const uint64_t spring27 = utc(2027, 3, 28, 1, 0), autumn27 = utc(2027, 10, 31, 1, 0);
    assert_int_equal(spring26, UINT64_C(1774746000000));
    assert_int_equal(autumn27, UINT64_C(1824944400000));
    const struct {
        uint64_t ms;
        uint32_t offset;
    } cases[] = {
        {spring26 - 1, 0},
        {spring26, 3600000},
        {autumn26 - 1, 3600000},
        {autumn26, 0},
        {spring27 - 1, 0},
        {spring27, 3600000},
        {autumn27 - 1, 3600000},
        {autumn27, 0},
        {utc(2026, 1, 15, 12, 0), 0},
        {utc(2026, 7, 15, 12, 0), 3600000},
        {0, 0},
        {utc(2026, 12, 31, 23, 59), 0},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        char s[48];
        if (cf_calendar_utc_offset_ms(cases[i].ms) != cases[i].offset)
            fail_msg("%s UTC: wanted offset %u", show(cases[i].ms, s), cases[i].offset);
    }
    /* The far future: no overflow, whatever the offset. */
    uint32_t far = cf_calendar_utc_offset_ms(UINT64_MAX);
    assert_true(far == 0 || far == 3600000);
    assert_int_equal(cf_calendar_day_of(UINT64_MAX), INT32_MAX);
}

static void test_day_of_and_local_midnight(void **state)
{
    (void)state;
    const struct {
        uint64_t ms;
        int32_t day;
    } days[] = {
        {utc(2026, 3, 29, 0, 59), DAY(2026, 3, 29)},
        {utc(2026, 3, 29, 22, 59) + 59999, DAY(2026, 3, 29)},
        {utc(2026, 3, 29, 23, 0), DAY(2026, 3, 30)},
        {utc(2026, 10, 24, 22, 59) + 59999, DAY(2026, 10, 24)},
        {utc(2026, 10, 24, 23, 0), DAY(2026, 10, 25)},
        {utc(2026, 10, 25, 23, 59) + 59999, DAY(2026, 10, 25)},
        {utc(2026, 10, 26, 0, 0), DAY(2026, 10, 26)},
        {0, 0},
    };
    for (size_t i = 0; i < COUNT(days); i++)
        assert_int_equal(cf_calendar_day_of(days[i].ms), days[i].day);

    const struct {
        int32_t day;
        uint64_t midnight;
    } midnights[] = {
        {DAY(2026, 3, 29), utc(2026, 3, 29, 0, 0)},
        {DAY(2026, 3, 30), utc(2026, 3, 29, 23, 0)},
        {DAY(2026, 10, 25), utc(2026, 10, 24, 23, 0)},
        {DAY(2026, 10, 26), utc(2026, 10, 26, 0, 0)},
        {DAY(2027, 3, 28), utc(2027, 3, 28, 0, 0)},
        {DAY(2027, 3, 29), utc(2027, 3, 28, 23, 0)},
        {DAY(2027, 10, 31), utc(2027, 10, 30, 23, 0)},
        {DAY(2027, 11, 1), utc(2027, 11, 1, 0, 0)},
        {0, 0},
        {-1, 0},
        {INT32_MIN, 0},
    };
    for (size_t i = 0; i < COUNT(midnights); i++)
        assert_int_equal(cf_calendar_local_midnight(midnights[i].day), midnights[i].midnight);

    /* Every day 2000-2100: its midnight starts it and ends the day before; it
     * is 00:00 on the wall; each year has one 23-hour day, the last Sunday of
     * March, and one 25-hour day, the last Sunday of October. */
    int short_days = 0, long_days = 0;
    for (int32_t day = DAY(2000, 1, 1); day <= DAY(2100, 12, 31); day++) {
        uint64_t m = cf_calendar_local_midnight(day), next = cf_calendar_local_midnight(day + 1);
        assert_int_equal(cf_calendar_day_of(m), day);
        assert_int_equal(cf_calendar_day_of(m - 1), day - 1);
        assert_int_equal((m + cf_calendar_utc_offset_ms(m)) % MS_PER_DAY, 0);
        if (next - m == MS_PER_DAY)
            continue;
        int y;
        unsigned mo, d;
        cf_calendar_civil_from_days(day, &y, &mo, &d);
        assert_int_equal(cf_calendar_weekday(day), 7);
        assert_true(d > 31 - 7);
        if (next - m == MS_PER_DAY - MS_PER_HOUR) {
            assert_int_equal(mo, 3);
            short_days++;
        } else {
            assert_int_equal(next - m, MS_PER_DAY + MS_PER_HOUR);
            assert_int_equal(mo, 10);
            long_days++;
        }
    }
    assert_int_equal(short_days, 101);
    assert_int_equal(long_days, 101);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_easter),
        cmocka_unit_test(test_deploy_calendars_follow_the_rules),
        cmocka_unit_test(test_deadlines),
        cmocka_unit_test(test_deadline_refusals),
        cmocka_unit_test(test_working_days),
        cmocka_unit_test(test_max_gap),
        cmocka_unit_test(test_base_calendar_parses),
        cmocka_unit_test(test_bad_calendars),
        cmocka_unit_test(test_too_many_holidays),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_known_days),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_format_and_parse_day),
        cmocka_unit_test(test_utc_offset),
        cmocka_unit_test(test_day_of_and_local_midnight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
