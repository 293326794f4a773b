/* The one table of error codes: sentences for people, stable names for logs,
 * audit records and Rejected frames. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "childfirst/error.h"

struct entry {
    int code;
    const char *name, *text;
};

static const struct entry table[] = {
#define CF_ERROR_ROW(name, value, text) {value, #name, text},
    CF_ERRORS(CF_ERROR_ROW)
#undef CF_ERROR_ROW
};

static const struct entry *lookup(int code)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].code == code)
            return &table[i];
    return NULL;
}

const char *cf_strerror(int code)
{
    const struct entry *e = lookup(code);
    return e ? e->text : "unknown error";
}

const char *cf_error_name(int code)
{
    const struct entry *e = lookup(code);
    return e ? e->name : "CF_EUNKNOWN";
}

int cf_error_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0)
            return table[i].code;
    return 0;
}

int cf_error_set(struct cf_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->text, sizeof err->text, fmt, ap);
        va_end(ap);
    }
    return code;
}

void cf_error_prefix(struct cf_error *err, const char *prefix)
{
    if (!err)
        return;
    const size_t cap = sizeof err->text;
    size_t p = strlen(prefix);
    if (p > cap / 2)
        p = cap / 2;
    size_t keep = strnlen(err->text, cap - 1);
    if (keep > cap - 1 - p - 2)
        keep = cap - 1 - p - 2;
    memmove(err->text + p + 2, err->text, keep);
    memcpy(err->text, prefix, p);
    err->text[p] = ':';
    err->text[p + 1] = ' ';
    err->text[p + 2 + keep] = 0;
}
