/* INI files through inih's stream interface, with our own line reader: it
 * counts lines, so every handler call and error knows its line, and it refuses
 * a line longer than inih's buffer instead of letting inih cut it silently. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "childfirst/file.h"
#include "childfirst/ini.h"
#include "childfirst/limits.h"

struct stream {
    const char *name;
    const char *p, *end;
    unsigned line;
    int rc;
    struct cf_error *err;
    cf_ini_handler handler;
    void *user;
};

/* Records the first failure; the handler's sentence gets "name:line: " in front. */
static void fail_at_line(struct stream *s, int rc)
{
    char where[512];
    snprintf(where, sizeof where, "%s:%u", s->name, s->line);
    cf_error_prefix(s->err, where);
    s->rc = rc;
}

/* A failure found by the reader itself. */
static void fail_here(struct stream *s, int rc, const char *what)
{
    cf_error_set(s->err, rc, "%s", what);
    fail_at_line(s, rc);
}

/* Refuses indented content (inih would silently glue it to the previous value
 * as a continuation) and tells the handler about a section header. */
static void check_line(struct stream *s, const char *line)
{
    const char *p = line;
    if (s->line == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
        line = p = p + 3; /* inih skips a UTF-8 byte order mark */
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == 0 || *p == '\n' || *p == ';' || *p == '#')
        return;
    if (p != line) {
        fail_here(s, CF_ESYNTAX, "indented line; start every key and [section] at the first column");
        return;
    }
    if (*p != '[')
        return;
    const char *close = strchr(p + 1, ']');
    if (!close)
        return; /* inih reports the line as a syntax error */
    char section[INI_MAX_LINE];
    size_t n = (size_t)(close - p - 1);
    memcpy(section, p + 1, n);
    section[n] = 0;
    int rc = s->handler(s->user, section, NULL, NULL, s->line, s->err);
    if (rc != 0)
        fail_at_line(s, rc);
}

static char *read_line(char *str, int num, void *stream)
{
    struct stream *s = stream;
    if (s->rc != 0 || s->p >= s->end)
        return NULL;
    const char *nl = memchr(s->p, '\n', (size_t)(s->end - s->p));
    size_t raw = (size_t)((nl ? nl : s->end) - s->p);
    size_t len = raw;
    if (len > 0 && s->p[len - 1] == '\r')
        len--;
    s->line++;
    /* The line, its newline and inih's NUL must fit in inih's num-byte buffer. */
    if (len + 2 > (size_t)num) {
        char what[96];
        snprintf(what, sizeof what, "line is %zu characters long; the limit is %d", len, num - 2);
        fail_here(s, CF_ELINE, what);
        return NULL;
    }
    if (memchr(s->p, 0, len)) {
        fail_here(s, CF_ESYNTAX, "line holds a NUL byte");
        return NULL;
    }
    memcpy(str, s->p, len);
    str[len] = '\n';
    str[len + 1] = 0;
    s->p += raw + (nl ? 1 : 0);
    check_line(s, str);
    return s->rc == 0 ? str : NULL;
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
    struct stream *s = user;
    if (s->rc != 0)
        return 0;
    int rc = s->handler(s->user, section, key, value, s->line, s->err);
    if (rc != 0) {
        fail_at_line(s, rc);
        return 0;
    }
    return 1;
}

int cf_ini_parse(const char *name, const char *buf, size_t len, cf_ini_handler handler, void *user,
                 struct cf_error *err)
{
    struct stream s = {.name = name, .p = buf, .end = buf + len, .err = err, .handler = handler,
                       .user = user};
    int line = ini_parse_stream(read_line, &s, on_key, &s);
    if (s.rc != 0)
        return s.rc;
    if (line > 0)
        return cf_error_set(err, CF_ESYNTAX,
                            "%s:%d: not a [section], a key = value line or a comment", name, line);
    if (line < 0)
        return cf_error_set(err, CF_ENOMEM, "%s: out of memory", name);
    return 0;
}

int cf_ini_parse_file(const char *path, cf_ini_handler handler, void *user, struct cf_error *err)
{
    uint8_t *buf;
    size_t len;
    int rc = cf_file_read(path, CF_MAX_INI_FILE, &buf, &len, err);
    if (rc != 0)
        return rc;
    rc = cf_ini_parse(path, (const char *)buf, len, handler, user, err);
    free(buf);
    return rc;
}

int cf_ini_bool(const char *key, const char *value, int *out, struct cf_error *err)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(value, yes[i]) == 0)
            return *out = 1, 0;
        if (strcmp(value, no[i]) == 0)
            return *out = 0, 0;
    }
    return cf_error_set(err, CF_EVALUE, "%s: '%s' is not yes or no", key, value);
}

int cf_ini_uint(const char *key, const char *value, unsigned long long max, unsigned long long *out,
                struct cf_error *err)
{
    if (!*value || strspn(value, "0123456789") != strlen(value) || strlen(value) > 19)
        return cf_error_set(err, CF_EVALUE, "%s: '%s' is not a whole number", key, value);
    errno = 0;
    unsigned long long v = strtoull(value, NULL, 10);
    if (errno != 0 || v > max)
        return cf_error_set(err, CF_EVALUE, "%s: %s is above the limit of %llu", key, value, max);
    *out = v;
    return 0;
}
