/* Text helpers shared by childfirst-agent and the childfirst command (see
 * agent_text.h): kept here once so the spool files, the control answers and
 * the CLI's tables spell times and ids the same way. */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include <sodium.h>

#include "agent_text.h"
#include "childfirst/calendar.h"
#include "childfirst/clock.h"

void agent_text_time(uint64_t ms, char out[AGENT_TEXT_TIME_MAX])
{
    struct tm tm;
    time_t secs = (time_t)(ms / 1000);
    if (ms / 1000 > (uint64_t)253402300799 /* 9999-12-31T23:59:59Z */ || !gmtime_r(&secs, &tm)) {
        snprintf(out, AGENT_TEXT_TIME_MAX, "%" PRIu64 " ms", ms);
        return;
    }
    snprintf(out, AGENT_TEXT_TIME_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
}

json_t *agent_text_time_json(uint64_t ms)
{
    char t[AGENT_TEXT_TIME_MAX];
    agent_text_time(ms, t);
    return json_string(t);
}

json_t *agent_text_hex(const uint8_t *b, size_t n)
{
    char out[2 * 64 + 1];
    if (n > 64)
        return NULL;
    sodium_bin2hex(out, sizeof out, b, n);
    return json_string(out);
}

void agent_text_today(char out[AGENT_TEXT_DATE_MAX])
{
    cf_calendar_format_day(cf_calendar_day_of(cf_clock_now()), out);
}
