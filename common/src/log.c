/* Line-oriented logging to stderr: timestamp, program, level, event, details.
 * Each line goes out in one write so lines from processes sharing a log do not mix. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "childfirst/log.h"

enum cf_log_level cf_log_threshold = CF_LOG_INFO;
static const char *program_name = "childfirst";
static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void cf_log_init(const char *program, enum cf_log_level threshold)
{
    program_name = program;
    cf_log_threshold = threshold;
}

int cf_log_level_parse(const char *name)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

void cf_log_write(enum cf_log_level level, const char *event, const char *fmt, ...)
{
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, program_name,
                     level_names[level <= CF_LOG_DEBUG ? level : CF_LOG_DEBUG], event);
    if (n < 0 || (size_t)n >= sizeof line)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
