/* Fuzz target: the calendar file reader, then deadlines counted on what it
 * accepts. Properties: every refusal names the file and a line; an accepted
 * calendar holds ascending weekdays in range; and a day deadline ends at a
 * local midnight after its start, on a working day when counted in working
 * days, and never earlier for a longer count. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "childfirst/calendar.h"

static const char file_name[] = "calendar.ini";

/* "calendar.ini:<digits>: " */
static int names_a_line(const char *text)
{
    size_t n = strlen(file_name);
    if (strncmp(text, file_name, n) != 0 || text[n] != ':')
        return 0;
    const char *p = text + n + 1;
    size_t digits = strspn(p, "0123456789");
    return digits > 0 && p[digits] == ':' && p[digits + 1] == ' ';
}

static void check_calendar(const struct cf_calendar *c)
{
    if (c->n_holidays > CF_CALENDAR_MAX_HOLIDAYS || strlen(c->name) < 3)
        abort();
    const int32_t first = cf_calendar_days_from_civil(CF_CALENDAR_FIRST_YEAR, 1, 1);
    const int32_t last = cf_calendar_days_from_civil(CF_CALENDAR_LAST_YEAR, 12, 31);
    for (size_t i = 0; i < c->n_holidays; i++) {
        int32_t day = c->holidays[i];
        if (day < first || day > last || cf_calendar_weekday(day) > 5)
            abort();
        if (i > 0 && c->holidays[i - 1] >= day)
            abort();
        if (!cf_calendar_is_holiday(c, day) || cf_calendar_is_working_day(c, day) ||
            !cf_calendar_covers(c, day))
            abort();
    }
}

static void check_deadlines(const struct cf_calendar *c, uint64_t from)
{
    static const unsigned counts[] = {1, 2, 5, 15, 45};
    static const enum cf_unit units[] = {CF_UNIT_CALENDAR_DAYS, CF_UNIT_WORKING_DAYS};
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        uint64_t before = 0;
        for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
            struct cf_duration d = {.set = true, .n = counts[i], .unit = units[u]};
            uint64_t due = 0;
            int rc = cf_calendar_deadline(c, from, &d, &due);
            if (rc == CF_ERANGE)
                break; /* a longer count cannot succeed either */
            if (rc != 0 || due <= from || due <= before)
                abort();
            int32_t day = cf_calendar_day_of(due);
            if (cf_calendar_local_midnight(day) != due || cf_calendar_day_of(due - 1) != day - 1)
                abort();
            if (units[u] == CF_UNIT_WORKING_DAYS && !cf_calendar_is_working_day(c, day - 1))
                abort();
            before = due;
        }
    }
    struct cf_duration quarter = {.set = true, .n = 15, .unit = CF_UNIT_MINUTES};
    uint64_t due = 0;
    if (cf_calendar_deadline(c, from, &quarter, &due) == 0 && due != from + 15 * 60000)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cf_calendar *c = NULL;
    struct cf_error err = {0};
    int rc = cf_calendar_parse(file_name, (const char *)data, size, &c, &err);
    if (rc != 0) {
        if (c || (rc != CF_ENOMEM && !names_a_line(err.text)))
            abort();
        return 0;
    }
    check_calendar(c);
    /* Around the clock changes and Christmas of a year the shipped files
     * cover, and the afternoon before the calendar's own first holiday. */
    const uint64_t hour = 3600000;
    uint64_t starts[] = {
        cf_calendar_local_midnight(cf_calendar_days_from_civil(2026, 3, 28)) + 23 * hour,
        cf_calendar_local_midnight(cf_calendar_days_from_civil(2026, 10, 24)) + 23 * hour + 1,
        cf_calendar_local_midnight(cf_calendar_days_from_civil(2027, 12, 24)) + 15 * hour,
        c->n_holidays ? cf_calendar_local_midnight(c->holidays[0] - 1) + 15 * hour : 0,
    };
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++)
        check_deadlines(c, starts[i]);
    cf_calendar_destroy(&c);
    return 0;
}
