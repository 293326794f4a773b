/* The daemons' INI files through one option table each: defaults first, then
 * the file, with every failure naming the file and line (via ini.c). */
#include <stdlib.h>
#include <string.h>

#include "childfirst/ini.h"
#include "childfirst/options.h"

#define MAX_OPTIONS 64

static int set(void *base, const struct cf_option *o, const char *value, struct cf_error *err)
{
    char *field = (char *)base + o->offset;
    if (o->kind == CF_OPTION_TEXT) {
        if (strlen(value) >= o->size)
            return cf_error_set(err, CF_EVALUE, "%s: longer than %zu characters", o->name,
                                o->size - 1);
        memcpy(field, value, strlen(value) + 1);
        return 0;
    }
    unsigned long long v;
    int rc = cf_ini_uint(o->name, value, o->max, &v, err);
    if (rc == 0 && v < o->min)
        rc = cf_error_set(err, CF_EVALUE, "%s: %llu is below the minimum of %llu", o->name, v,
                          o->min);
    if (rc == 0)
        *(unsigned long long *)field = v;
    return rc;
}

struct reader {
    const char *section;
    const struct cf_option *options;
    size_t n;
    void *base;
    unsigned seen[MAX_OPTIONS]; /* the line each option was set on */
    unsigned section_line;
};

static int on_key(void *user, const char *section, const char *key, const char *value,
                  unsigned line, struct cf_error *err)
{
    struct reader *r = user;
    if (!key) {
        if (strcmp(section, r->section) != 0)
            return cf_error_set(err, CF_EUNKNOWNKEY, "unknown section [%s]; this file has [%s]",
                                section, r->section);
        if (r->section_line)
            return cf_error_set(err, CF_EDUPKEY, "[%s] repeats line %u", section,
                                r->section_line);
        r->section_line = line;
        return 0;
    }
    if (strcmp(section, r->section) != 0)
        return cf_error_set(err, CF_EUNKNOWNKEY, "'%s' outside the [%s] section", key, r->section);
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->options[i].name, key) != 0)
            continue;
        if (r->seen[i])
            return cf_error_set(err, CF_EDUPKEY, "'%s' repeats line %u", key, r->seen[i]);
        r->seen[i] = line;
        return set(r->base, &r->options[i], value, err);
    }
    return cf_error_set(err, CF_EUNKNOWNKEY, "unknown key '%s' in [%s]", key, r->section);
}

int cf_options_load(const char *path, const char *section, const struct cf_option *options,
                    size_t n, void *base, struct cf_error *err)
{
    if (n > MAX_OPTIONS)
        return cf_error_set(err, CF_EINVAL, "too many options");
    for (size_t i = 0; i < n; i++)
        if (set(base, &options[i], options[i].def, err) != 0)
            return CF_EINVAL; /* a bad default is a programming error */
    struct reader r = {.section = section, .options = options, .n = n, .base = base};
    int rc = cf_ini_parse_file(path, on_key, &r, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (options[i].required && !r.seen[i])
            return cf_error_set(err, CF_ECONFIG, "%s: '%s' is required in [%s]", path,
                                options[i].name, section);
    return 0;
}
