/* Calendars: each nation's bank holidays as data read from deploy/calendars/,
 * UK civil time (GMT and British Summer Time) without the TZ database, and the
 * moment a policy duration counted from the broker's accept time expires.
 *
 * Days are civil date numbers: days since 1970-01-01, so 2026-12-25 is 20812.
 * Instants are UTC milliseconds since 1970-01-01T00:00:00Z. All arithmetic is
 * in integers; nothing here reads the TZ environment or calls mktime.
 */
#ifndef CHILDFIRST_CALENDAR_H
#define CHILDFIRST_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "childfirst/error.h"
#include "childfirst/limits.h"
#include "childfirst/policy.h"

/* A calendar file lists at most this many holidays. */
#define CF_CALENDAR_MAX_HOLIDAYS 1000

/* Deadlines are computed for local days of these years only. */
#define CF_CALENDAR_FIRST_YEAR 2000
#define CF_CALENDAR_LAST_YEAR 2100

/* A working-day count that finds no working day in this many days (three years,
 * one of them leap) fails: the calendar is broken, not the deadline long. */
#define CF_CALENDAR_MAX_GAP_DAYS 1096

/* "YYYY-MM-DD" without its NUL. */
#define CF_CALENDAR_DATE_LEN 10

#define CF_CALENDAR_MS_PER_DAY 86400000u

/* The only zone the files may name, and the only one computed here. */
#define CF_CALENDAR_ZONE "Europe/London"

/* One nation's calendar. Read-only once parsed. */
struct cf_calendar {
    char name[CF_JURISDICTION_MAX + 1]; /* the file's `name`, e.g. "england-wales" */
    size_t n_holidays;
    int32_t holidays[CF_CALENDAR_MAX_HOLIDAYS]; /* days, ascending, no repeats, all weekdays */
};

/* ---- Reading a calendar file --------------------------------------------- */

/* Parses a calendar file held in `buf` (`len` bytes); `name` is used in
 * messages. The file has one [calendar] section with `name` (an id of 3 to
 * CF_JURISDICTION_MAX of a-z, 0-9 and -), `zone = Europe/London`, and any
 * number of `holiday = YYYY-MM-DD` and `extra = YYYY-MM-DD` lines (extra: a
 * one-off proclamation), in any order.
 *
 * @return 0; CF_EVALUE for a date that is not written YYYY-MM-DD, not real, not
 *         in CF_CALENDAR_FIRST_YEAR..CF_CALENDAR_LAST_YEAR or on a weekend, a
 *         bad name or zone, or a missing [calendar], name or zone;
 *         CF_EDUPKEY for a repeated date, key or section; CF_EUNKNOWNKEY for an
 *         unknown key or section; CF_ETOOBIG above CF_CALENDAR_MAX_HOLIDAYS;
 *         the codes of cf_ini_parse; CF_ENOMEM. Every failure's text but
 *         CF_ENOMEM's starts "name:line: "; what the file lacks is reported at
 *         the [calendar] line, or at the last line if there is no [calendar].
 * @note Caller owns *out; free with cf_calendar_destroy. */
CF_WUR int cf_calendar_parse(const char *name, const char *buf, size_t len,
                             struct cf_calendar **out, struct cf_error *err);

/* Reads the file at `path` (at most CF_MAX_INI_FILE bytes) and parses it as
 * cf_calendar_parse does, naming `path` in messages; also the codes of
 * cf_file_read. Caller owns *out; free with cf_calendar_destroy. */
CF_WUR int cf_calendar_load(const char *path, struct cf_calendar **out, struct cf_error *err);

/* Frees; accepts NULL and clears the pointer. */
void cf_calendar_destroy(struct cf_calendar **calendar);

/* ---- Working days ---------------------------------------------------------- */

/* Whether `day` is listed as a holiday. */
bool cf_calendar_is_holiday(const struct cf_calendar *c, int32_t day);

/* Whether `day` is a weekday that is not a holiday. */
bool cf_calendar_is_working_day(const struct cf_calendar *c, int32_t day);

/* Whether `day` falls in a year from the first to the last year the calendar
 * lists a holiday in. Beyond that the calendar knows no holidays and counts
 * every weekday as working, which brings deadlines earlier, never later; the
 * broker should warn that the file needs its next years. */
bool cf_calendar_covers(const struct cf_calendar *c, int32_t day);

/* The moment a duration counted from `from_ms` expires, in UTC milliseconds:
 *  - minutes, hours: from_ms plus the duration;
 *  - calendar_days: the end (the next local midnight) of the local day n days
 *    after the local day of from_ms;
 *  - working_days: the end of the n-th working day after the local day of
 *    from_ms; that day itself never counts, working or not.
 * Local means Europe/London. A day's end is the UTC instant of the local
 * midnight that starts the next day, so *due_ms is the first late instant:
 * anything before it is in time.
 *
 * @return 0 with *due_ms set; CF_EINVAL for a NULL argument or a duration that
 *         is not set, is 0 or has no unit; CF_ERANGE when the local day of
 *         from_ms, or the last day counted (for minutes and hours the local
 *         day of the due moment), is outside CF_CALENDAR_FIRST_YEAR..
 *         CF_CALENDAR_LAST_YEAR, or when CF_CALENDAR_MAX_GAP_DAYS days in a row
 *         pass without a working day. *due_ms is untouched on failure. */
CF_WUR int cf_calendar_deadline(const struct cf_calendar *c, uint64_t from_ms,
                                const struct cf_duration *d, uint64_t *due_ms);

/* How many working days have passed between two instants, counted as
 * deadlines count them: the working days after the local day of from_ms, up
 * to and including the local day of to_ms. So an event on the same local day
 * took 0, and one on the next working day 1: within a deadline of n working
 * days exactly when the count is at most n. 0 when to_ms is on an earlier day.
 * @return 0 with *out set; CF_EINVAL for a NULL argument; CF_ERANGE when
 *         either local day is outside CF_CALENDAR_FIRST_YEAR..LAST_YEAR. */
CF_WUR int cf_calendar_working_days(const struct cf_calendar *c, uint64_t from_ms, uint64_t to_ms,
                                    uint32_t *out);

/* ---- Civil dates ----------------------------------------------------------- */

/* The day number of a proleptic Gregorian date; month 1..12, mday 1..31 and
 * valid for the month (not checked here; see cf_calendar_parse_day). */
int32_t cf_calendar_days_from_civil(int year, unsigned month, unsigned mday);

/* The date of a day number. Any output pointer may be NULL. */
void cf_calendar_civil_from_days(int32_t day, int *year, unsigned *month, unsigned *mday);

/* ISO 8601 weekday of a day number: 1 Monday .. 7 Sunday. */
int cf_calendar_weekday(int32_t day);

/* Writes "YYYY-MM-DD" and its NUL to `out` and returns `out`, for printf.
 * Years outside 0000..9999 give "????-??-??". */
char *cf_calendar_format_day(int32_t day, char out[CF_CALENDAR_DATE_LEN + 1]);

/* Parses exactly "YYYY-MM-DD" (NUL-terminated) naming a real date.
 * @return 0 with *day set, or CF_EVALUE. */
CF_WUR int cf_calendar_parse_day(const char *text, int32_t *day);

/* ---- UK civil time --------------------------------------------------------- */

/* British Summer Time is UTC+1 from 01:00 UTC on the last Sunday of March to
 * 01:00 UTC on the last Sunday of October; GMT (UTC) otherwise. The rules are
 * applied to every year, including years before they were made. */

/* The offset of Europe/London from UTC at the instant: 0 or 3600000 ms. */
uint32_t cf_calendar_utc_offset_ms(uint64_t ms);

/* The Europe/London civil date of a UTC instant. Instants past year 5 000 000
 * or so saturate at INT32_MAX. */
int32_t cf_calendar_day_of(uint64_t ms);

/* The UTC instant of 00:00 Europe/London on `day` (midnight always exists and
 * is never repeated: the clocks change at 01:00 UTC). Days before 1970-01-01
 * give 0. */
uint64_t cf_calendar_local_midnight(int32_t day);

#endif
