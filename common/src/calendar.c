/* Calendars: reads a nation's bank holidays from its deploy/calendars/ file and
 * turns a policy duration into the instant it expires, in Europe/London. Dates
 * and British Summer Time are integer arithmetic on day numbers, so the broker
 * and the auditor get the same answer whatever the host's TZ database says. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "childfirst/calendar.h"
#include "childfirst/file.h"
#include "childfirst/header.h"
#include "childfirst/ini.h"

#define MS_PER_DAY ((uint64_t)CF_CALENDAR_MS_PER_DAY)
#define MS_PER_HOUR UINT64_C(3600000)
#define MS_PER_MINUTE UINT64_C(60000)

/* ---- Civil dates --------------------------------------------------------- */

/* The Gregorian calendar repeats every 400 years, and those are exactly 146097
 * days, so a date is an era of 400 years plus a place inside it. Each year is
 * counted from 1 March: the leap day then ends the year instead of sitting in
 * the middle of it, and a month's place in the year never depends on whether
 * the year is a leap year. */
#define DAYS_PER_ERA 146097
#define DAYS_PER_CENTURY 36524 /* a century whose last year is not a leap year */
#define DAYS_PER_4_YEARS 1461
#define DAYS_PER_YEAR 365
/* From 0000-03-01, the first day of era 0, to 1970-01-01, day 0. */
#define DAYS_0000_03_01_TO_EPOCH 719468

/* First day of each month in a year that starts on 1 March: March, April, ...,
 * January, February. */
static const unsigned march_month_start[12] = {0,   31,  61,  92,  122, 153,
                                               184, 214, 245, 275, 306, 337};

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool is_leap(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static unsigned days_in_month(int64_t year, unsigned month)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return days[month - 1] + (month == 2 && is_leap(year));
}

/* 64-bit throughout, so neither the public int32 interface nor a BST rule
 * computed for a far-future year can overflow on the way. */
static int64_t days_from_civil64(int64_t year, unsigned month, unsigned mday)
{
    /* January and February belong to the March-based year before. */
    int64_t y = month <= 2 ? year - 1 : year;
    unsigned m = month <= 2 ? month + 9 : month - 3; /* 0 is March */
    int64_t era = floor_div(y, 400);
    int64_t year_of_era = y - era * 400; /* 0..399 */
    int64_t day_of_year = (int64_t)march_month_start[m % 12] + (int64_t)mday - 1;
    /* A leap day every 4 years, except on the century years that are not
     * multiples of 400 (the era's last year, 399, is one that is). */
    int64_t day_of_era =
        year_of_era * DAYS_PER_YEAR + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * DAYS_PER_ERA + day_of_era - DAYS_0000_03_01_TO_EPOCH;
}

static void civil_from_days64(int64_t day, int64_t *year, unsigned *month, unsigned *mday)
{
    int64_t z = day + DAYS_0000_03_01_TO_EPOCH;
    int64_t era = floor_div(z, DAYS_PER_ERA);
    int64_t rest = z - era * DAYS_PER_ERA; /* 0..146096 */
    /* The era's fourth century keeps the 400-year leap day, so it is one day
     * longer than the first three, and its last day would divide out as a
     * fifth century: cap at 3. A short century's last four-year group lacks
     * its leap day, which needs no cap (at most 24 groups fit). Inside a group
     * the fourth year holds the leap day, which would divide out as a fifth
     * year: cap at 3 again. */
    int64_t century = rest / DAYS_PER_CENTURY;
    if (century > 3)
        century = 3;
    rest -= century * DAYS_PER_CENTURY;
    int64_t group = rest / DAYS_PER_4_YEARS;
    rest -= group * DAYS_PER_4_YEARS;
    int64_t year_of_group = rest / DAYS_PER_YEAR;
    if (year_of_group > 3)
        year_of_group = 3;
    rest -= year_of_group * DAYS_PER_YEAR; /* the day of the March-based year, 0..365 */
    unsigned m = 11;
    while (march_month_start[m] > rest)
        m--;
    unsigned civil_month = m < 10 ? m + 3 : m - 9;
    int64_t y = era * 400 + century * 100 + group * 4 + year_of_group;
    if (year)
        *year = civil_month <= 2 ? y + 1 : y;
    if (month)
        *month = civil_month;
    if (mday)
        *mday = (unsigned)(rest - march_month_start[m]) + 1;
}

/* ISO weekday, 1 Monday .. 7 Sunday; 1970-01-01 was a Thursday. */
static int weekday64(int64_t day)
{
    int64_t r = (day + 3) % 7;
    return (int)(r < 0 ? r + 7 : r) + 1;
}

int32_t cf_calendar_days_from_civil(int year, unsigned month, unsigned mday)
{
    int64_t day = days_from_civil64(year, month, mday);
    if (day > INT32_MAX)
        return INT32_MAX;
    if (day < INT32_MIN)
        return INT32_MIN;
    return (int32_t)day;
}

void cf_calendar_civil_from_days(int32_t day, int *year, unsigned *month, unsigned *mday)
{
    int64_t y;
    civil_from_days64(day, &y, month, mday);
    if (year)
        *year = (int)y; /* within about 5.9 million years of 1970: fits */
}

int cf_calendar_weekday(int32_t day)
{
    return weekday64(day);
}

char *cf_calendar_format_day(int32_t day, char out[CF_CALENDAR_DATE_LEN + 1])
{
    int64_t y;
    unsigned m, d;
    civil_from_days64(day, &y, &m, &d);
    if (y < 0 || y > 9999) {
        /* Spelled out: in strict C11 "??-" inside a literal is a trigraph. */
        memset(out, '?', CF_CALENDAR_DATE_LEN);
        out[4] = out[7] = '-';
        out[CF_CALENDAR_DATE_LEN] = 0;
        return out;
    }
    const unsigned parts[3] = {(unsigned)y, m, d};
    const unsigned widths[3] = {4, 2, 2};
    char *p = out;
    for (int i = 0; i < 3; i++) {
        if (i > 0)
            *p++ = '-';
        unsigned v = parts[i];
        for (unsigned w = widths[i]; w > 0; w--, v /= 10)
            p[w - 1] = (char)('0' + v % 10);
        p += widths[i];
    }
    *p = 0;
    return out;
}

/* YYYY-MM-DD and nothing more: the shape only. Stops at the first byte that
 * does not fit, so it never reads past a short string's NUL. */
static bool date_shape(const char *s)
{
    for (int i = 0; i < CF_CALENDAR_DATE_LEN; i++) {
        bool dash = i == 4 || i == 7;
        if (dash ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
            return false;
    }
    return s[CF_CALENDAR_DATE_LEN] == 0;
}

static unsigned digits(const char *s, int n)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (unsigned)(s[i] - '0');
    return v;
}

int cf_calendar_parse_day(const char *text, int32_t *day)
{
    if (!text || !day || !date_shape(text))
        return CF_EVALUE;
    unsigned year = digits(text, 4), month = digits(text + 5, 2), mday = digits(text + 8, 2);
    if (month < 1 || month > 12 || mday < 1 || mday > days_in_month(year, month))
        return CF_EVALUE;
    *day = (int32_t)days_from_civil64(year, month, mday);
    return 0;
}

/* ---- UK civil time ------------------------------------------------------- */

/* The last Sunday on or before the given date. */
static int64_t last_sunday(int64_t year, unsigned month, unsigned mday)
{
    int64_t day = days_from_civil64(year, month, mday);
    return day - weekday64(day) % 7;
}

/* The days on which the clocks go forward and back in `year`; both changes
 * happen at 01:00 UTC. */
static void bst_days(int64_t year, int64_t *start, int64_t *end)
{
    *start = last_sunday(year, 3, 31);
    *end = last_sunday(year, 10, 31);
}

uint32_t cf_calendar_utc_offset_ms(uint64_t ms)
{
    /* Compared as (day, time of day) rather than as instants, so the rules for
     * the year holding UINT64_MAX cannot overflow. */
    int64_t day = (int64_t)(ms / MS_PER_DAY);
    uint64_t time = ms % MS_PER_DAY;
    int64_t year, start, end;
    civil_from_days64(day, &year, NULL, NULL);
    bst_days(year, &start, &end);
    bool after_start = day > start || (day == start && time >= MS_PER_HOUR);
    bool before_end = day < end || (day == end && time < MS_PER_HOUR);
    return after_start && before_end ? (uint32_t)MS_PER_HOUR : 0;
}

int32_t cf_calendar_day_of(uint64_t ms)
{
    uint64_t day = ms / MS_PER_DAY;
    if (ms % MS_PER_DAY + cf_calendar_utc_offset_ms(ms) >= MS_PER_DAY)
        day++;
    return day > INT32_MAX ? INT32_MAX : (int32_t)day;
}

uint64_t cf_calendar_local_midnight(int32_t day)
{
    if (day < 0)
        return 0;
    /* Midnight is an hour before either change, so which offset it has depends
     * on the date alone: BST from the day after the spring change up to and
     * including the autumn change day, whose midnight is still in summer time. */
    int64_t year, start, end;
    civil_from_days64(day, &year, NULL, NULL);
    bst_days(year, &start, &end);
    uint64_t midnight_utc = (uint64_t)day * MS_PER_DAY;
    return day > start && day <= end ? midnight_utc - MS_PER_HOUR : midnight_utc;
}

/* ---- Working days -------------------------------------------------------- */

/* The index of the first holiday on or after `day`. */
static size_t holiday_lower_bound(const struct cf_calendar *c, int64_t day)
{
    size_t lo = 0, hi = c->n_holidays;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->holidays[mid] < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool cf_calendar_is_holiday(const struct cf_calendar *c, int32_t day)
{
    if (!c)
        return false;
    size_t i = holiday_lower_bound(c, day);
    return i < c->n_holidays && c->holidays[i] == day;
}

bool cf_calendar_is_working_day(const struct cf_calendar *c, int32_t day)
{
    return weekday64(day) <= 5 && !cf_calendar_is_holiday(c, day);
}

bool cf_calendar_covers(const struct cf_calendar *c, int32_t day)
{
    if (!c || c->n_holidays == 0)
        return false;
    int64_t year, first, last;
    civil_from_days64(day, &year, NULL, NULL);
    civil_from_days64(c->holidays[0], &first, NULL, NULL);
    civil_from_days64(c->holidays[c->n_holidays - 1], &last, NULL, NULL);
    return year >= first && year <= last;
}

/* from_ms plus n units, refused past the last year deadlines are computed for. */
static int add_span(uint64_t from_ms, unsigned n, uint64_t unit_ms, int64_t last_day,
                    uint64_t *due_ms)
{
    if ((uint64_t)n > (UINT64_MAX - from_ms) / unit_ms)
        return CF_ERANGE;
    uint64_t due = from_ms + (uint64_t)n * unit_ms;
    if (cf_calendar_day_of(due) > last_day)
        return CF_ERANGE;
    *due_ms = due;
    return 0;
}

/* The n-th working day after from_day. Walks day by day with a cursor into the
 * sorted holidays, so a long count costs one pass rather than a search a day. */
static int nth_working_day(const struct cf_calendar *c, int64_t from_day, unsigned n,
                           int64_t last_day, int64_t *out)
{
    int64_t day = from_day;
    size_t h = holiday_lower_bound(c, from_day + 1);
    unsigned counted = 0;
    unsigned gap = 0;
    while (counted < n) {
        day++;
        if (day > last_day)
            return CF_ERANGE;
        while (h < c->n_holidays && c->holidays[h] < day)
            h++;
        bool holiday = h < c->n_holidays && c->holidays[h] == day;
        if (weekday64(day) <= 5 && !holiday) {
            counted++;
            gap = 0;
        } else if (++gap == CF_CALENDAR_MAX_GAP_DAYS) {
            return CF_ERANGE;
        }
    }
    *out = day;
    return 0;
}

int cf_calendar_deadline(const struct cf_calendar *c, uint64_t from_ms, const struct cf_duration *d,
                         uint64_t *due_ms)
{
    if (!c || !d || !due_ms || !d->set || d->n == 0)
        return CF_EINVAL;
    const int64_t first_day = days_from_civil64(CF_CALENDAR_FIRST_YEAR, 1, 1);
    const int64_t last_day = days_from_civil64(CF_CALENDAR_LAST_YEAR, 12, 31);
    int64_t from_day = cf_calendar_day_of(from_ms);
    if (from_day < first_day || from_day > last_day)
        return CF_ERANGE;
    int64_t due_day;
    switch (d->unit) {
    case CF_UNIT_MINUTES:
        return add_span(from_ms, d->n, MS_PER_MINUTE, last_day, due_ms);
    case CF_UNIT_HOURS:
        return add_span(from_ms, d->n, MS_PER_HOUR, last_day, due_ms);
    case CF_UNIT_CALENDAR_DAYS:
        due_day = from_day + d->n;
        if (due_day > last_day)
            return CF_ERANGE;
        break;
    case CF_UNIT_WORKING_DAYS: {
        int rc = nth_working_day(c, from_day, d->n, last_day, &due_day);
        if (rc != 0)
            return rc;
        break;
    }
    default:
        return CF_EINVAL;
    }
    /* A day runs out at the next local midnight, which is 23 or 25 hours away
     * on the days the clocks change. */
    *due_ms = cf_calendar_local_midnight((int32_t)(due_day + 1));
    return 0;
}

int cf_calendar_working_days(const struct cf_calendar *c, uint64_t from_ms, uint64_t to_ms,
                             uint32_t *out)
{
    if (!c || !out)
        return CF_EINVAL;
    const int64_t first_day = days_from_civil64(CF_CALENDAR_FIRST_YEAR, 1, 1);
    const int64_t last_day = days_from_civil64(CF_CALENDAR_LAST_YEAR, 12, 31);
    int64_t from_day = cf_calendar_day_of(from_ms), to_day = cf_calendar_day_of(to_ms);
    if (from_day < first_day || from_day > last_day || to_day < first_day || to_day > last_day)
        return CF_ERANGE;
    uint32_t n = 0;
    for (int64_t day = from_day + 1; day <= to_day; day++)
        n += cf_calendar_is_working_day(c, (int32_t)day);
    *out = n;
    return 0;
}

/* ---- Reading a calendar file --------------------------------------------- */

struct parser {
    struct cf_calendar *cal;
    unsigned section_line, name_line, zone_line;
    unsigned holiday_line[CF_CALENDAR_MAX_HOLIDAYS]; /* beside cal->holidays, for repeats */
};

static int set_name(struct parser *ps, const char *key, const char *value, unsigned line,
                    struct cf_error *err)
{
    if (ps->name_line)
        return cf_error_set(err, CF_EDUPKEY, "'%s' is repeated; it was first set on line %u", key,
                            ps->name_line);
    size_t len = strlen(value);
    /* The policy names a calendar by this id, so it must be one. */
    if (len > CF_JURISDICTION_MAX || !cf_header_id_valid(value, len))
        return cf_error_set(err, CF_EVALUE, "%s: '%s' is not a name of 3 to %d of a-z, 0-9 and -",
                            key, value, CF_JURISDICTION_MAX);
    memcpy(ps->cal->name, value, len + 1);
    ps->name_line = line;
    return 0;
}

/* The zone is written down although only one is possible, so a file made for
 * another zone is refused rather than read with the wrong clock changes. */
static int set_zone(struct parser *ps, const char *key, const char *value, unsigned line,
                    struct cf_error *err)
{
    if (ps->zone_line)
        return cf_error_set(err, CF_EDUPKEY, "'%s' is repeated; it was first set on line %u", key,
                            ps->zone_line);
    if (strcmp(value, CF_CALENDAR_ZONE) != 0)
        return cf_error_set(err, CF_EVALUE, "%s: '%s' is not %s, the only zone computed here", key,
                            value, CF_CALENDAR_ZONE);
    ps->zone_line = line;
    return 0;
}

/* Holidays are kept sorted as they arrive, so a repeat is found by the same
 * search that places the date, and its message can name the first line. */
static int add_holiday(struct parser *ps, const char *key, const char *value, unsigned line,
                       struct cf_error *err)
{
    struct cf_calendar *c = ps->cal;
    int32_t day;
    if (!date_shape(value))
        return cf_error_set(err, CF_EVALUE, "%s: '%s' is not a date written YYYY-MM-DD", key,
                            value);
    if (cf_calendar_parse_day(value, &day) != 0)
        return cf_error_set(err, CF_EVALUE, "%s: %s is not a real date", key, value);
    int year;
    cf_calendar_civil_from_days(day, &year, NULL, NULL);
    if (year < CF_CALENDAR_FIRST_YEAR || year > CF_CALENDAR_LAST_YEAR)
        return cf_error_set(err, CF_EVALUE,
                            "%s: %s is outside the years %d to %d that deadlines are computed for",
                            key, value, CF_CALENDAR_FIRST_YEAR, CF_CALENDAR_LAST_YEAR);
    /* A weekend is never a working day anyway; a holiday that falls on one is
     * meant as its substitute weekday, and listing the weekend hides that. */
    int wd = cf_calendar_weekday(day);
    if (wd > 5)
        return cf_error_set(err, CF_EVALUE,
                            "%s: %s is a %s; list the weekday that substitutes for it", key, value,
                            wd == 6 ? "Saturday" : "Sunday");
    size_t at = holiday_lower_bound(c, day);
    if (at < c->n_holidays && c->holidays[at] == day)
        return cf_error_set(err, CF_EDUPKEY, "%s: %s is repeated; it was first listed on line %u",
                            key, value, ps->holiday_line[at]);
    if (c->n_holidays == CF_CALENDAR_MAX_HOLIDAYS)
        return cf_error_set(err, CF_ETOOBIG, "%s: more than %d holidays in one file", key,
                            CF_CALENDAR_MAX_HOLIDAYS);
    size_t tail = c->n_holidays - at;
    memmove(&c->holidays[at + 1], &c->holidays[at], tail * sizeof c->holidays[0]);
    memmove(&ps->holiday_line[at + 1], &ps->holiday_line[at], tail * sizeof ps->holiday_line[0]);
    c->holidays[at] = day;
    ps->holiday_line[at] = line;
    c->n_holidays++;
    return 0;
}

typedef int (*key_fn)(struct parser *ps, const char *key, const char *value, unsigned line,
                      struct cf_error *err);

/* `extra` reads exactly as `holiday` does: the two names only tell a person
 * which dates follow from the rules and which from a proclamation. */
static const struct {
    const char *name;
    key_fn set;
} calendar_keys[] = {
    {"name", set_name},
    {"zone", set_zone},
    {"holiday", add_holiday},
    {"extra", add_holiday},
};

static const char calendar_section[] = "calendar";

static int on_entry(void *user, const char *section, const char *key, const char *value,
                    unsigned line, struct cf_error *err)
{
    struct parser *ps = user;
    if (!key) {
        if (strcmp(section, calendar_section) != 0)
            return cf_error_set(err, CF_EUNKNOWNKEY,
                                "[%s] is not a section of a calendar file; the only one is [%s]",
                                section, calendar_section);
        if (ps->section_line)
            return cf_error_set(err, CF_EDUPKEY, "[%s] is repeated; it was first opened on line %u",
                                section, ps->section_line);
        ps->section_line = line;
        return 0;
    }
    /* Any section but [calendar] has stopped the reader already. */
    if (!ps->section_line)
        return cf_error_set(err, CF_EUNKNOWNKEY, "'%s' is outside any section; put it under [%s]",
                            key, calendar_section);
    for (size_t i = 0; i < sizeof calendar_keys / sizeof calendar_keys[0]; i++)
        if (strcmp(calendar_keys[i].name, key) == 0)
            return calendar_keys[i].set(ps, key, value, line, err);
    return cf_error_set(err, CF_EUNKNOWNKEY,
                        "[%s] has no key '%s'; its keys are name, zone, holiday and extra",
                        calendar_section, key);
}

/* The number of the file's last line: what the file lacks is reported where
 * the reader stopped looking for it. */
static unsigned last_line(const char *buf, size_t len)
{
    unsigned n = 0;
    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\n';
    if (len > 0 && buf[len - 1] != '\n')
        n++;
    return n ? n : 1;
}

static int finish(const struct parser *ps, const char *name, const char *buf, size_t len,
                  struct cf_error *err)
{
    if (!ps->section_line)
        return cf_error_set(err, CF_EVALUE, "%s:%u: the file has no [%s] section", name,
                            last_line(buf, len), calendar_section);
    if (!ps->name_line)
        return cf_error_set(err, CF_EVALUE, "%s:%u: [%s] has no name", name, ps->section_line,
                            calendar_section);
    if (!ps->zone_line)
        return cf_error_set(err, CF_EVALUE, "%s:%u: [%s] has no zone; write zone = %s", name,
                            ps->section_line, calendar_section, CF_CALENDAR_ZONE);
    return 0;
}

int cf_calendar_parse(const char *name, const char *buf, size_t len, struct cf_calendar **out,
                      struct cf_error *err)
{
    struct parser *ps = calloc(1, sizeof *ps);
    struct cf_calendar *c = calloc(1, sizeof *c);
    int rc;
    if (!ps || !c) {
        rc = cf_error_set(err, CF_ENOMEM, "%s: out of memory", name);
        goto out;
    }
    ps->cal = c;
    rc = cf_ini_parse(name, buf, len, on_entry, ps, err);
    if (rc == 0)
        rc = finish(ps, name, buf, len, err);
    if (rc == 0) {
        *out = c;
        c = NULL;
    }
out:
    free(ps);
    free(c);
    return rc;
}

int cf_calendar_load(const char *path, struct cf_calendar **out, struct cf_error *err)
{
    uint8_t *buf;
    size_t len;
    int rc = cf_file_read(path, CF_MAX_INI_FILE, &buf, &len, err);
    if (rc != 0)
        return rc;
    rc = cf_calendar_parse(path, (const char *)buf, len, out, err);
    free(buf);
    return rc;
}

void cf_calendar_destroy(struct cf_calendar **calendar)
{
    if (calendar) {
        free(*calendar);
        *calendar = NULL;
    }
}
