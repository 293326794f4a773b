/* Logging: one line per event, a stable event name first, key=value after.
 *
 *   2026-11-25T10:00:00.123Z childfirst-broker INFO MESSAGE-ACCEPTED leaf=12 type=referral
 *
 * The level is checked before any formatting. Never pass key material or
 * payload text: lines carry ids, codes, counts and hashes only.
 */
#ifndef CHILDFIRST_LOG_H
#define CHILDFIRST_LOG_H

enum cf_log_level { CF_LOG_ERROR = 0, CF_LOG_WARN, CF_LOG_INFO, CF_LOG_DEBUG };

extern enum cf_log_level cf_log_threshold;

/* Sets the program name printed on each line and the most verbose level shown. */
void cf_log_init(const char *program, enum cf_log_level threshold);

/* Parses "error", "warn", "info", "debug"; returns -1 for anything else. */
int cf_log_level_parse(const char *name);

void cf_log_write(enum cf_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define cf_log(level, event, ...)                                                                  \
    do {                                                                                           \
        if ((level) <= cf_log_threshold)                                                           \
            cf_log_write((level), (event), __VA_ARGS__);                                           \
    } while (0)

#define cf_log_error(event, ...) cf_log(CF_LOG_ERROR, event, __VA_ARGS__)
#define cf_log_warn(event, ...) cf_log(CF_LOG_WARN, event, __VA_ARGS__)
#define cf_log_info(event, ...) cf_log(CF_LOG_INFO, event, __VA_ARGS__)
#define cf_log_debug(event, ...) cf_log(CF_LOG_DEBUG, event, __VA_ARGS__)

#endif
