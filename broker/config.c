/* broker.ini, read through one table: each option's name, kind, default and
 * limits sit in one row, so the README's table and this file say the same. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "childfirst/ini.h"
#include "config.h"

enum kind { TEXT, NUMBER };

struct option {
    const char *name;
    enum kind kind;
    size_t offset, size; /* TEXT: the buffer; NUMBER: unsigned long long */
    const char *def;
    unsigned long long min, max;
};

#define T(field, def) {#field, TEXT, offsetof(struct cf_config, field), \
                       sizeof((struct cf_config *)0)->field, def, 0, 0}
#define N(field, def, lo, hi) {#field, NUMBER, offsetof(struct cf_config, field), 0, def, lo, hi}

static const struct option options[] = {
    T(endpoint, "tcp://0.0.0.0:7750"),
    T(state_dir, "/var/lib/childfirst/broker"),
    T(key_file, "/etc/childfirst/broker.key"),
    T(authority_key, ""),
    T(directory, "/etc/childfirst/agencies.ini"),
    T(policy, "/etc/childfirst/policy.ini"),
    T(calendars, "/usr/share/childfirst/calendars"),
    T(origin, "childfirst.example/log"),
    N(map_size_mb, "4096", 1, 1u << 24),
    N(map_max_mb, "65536", 1, 1u << 24),
    N(min_free_mb, "256", 0, 1u << 24),
    N(retention_days, "2555", 1, 100000),
    N(credit_window, "64", 1, 10000),
    N(batch_max, "256", 1, 4096),
    N(heartbeat_ms, "5000", 100, 600000),
    T(log_level, "info"),
};

static int set(struct cf_config *c, const struct option *o, const char *value,
               struct cf_error *err)
{
    char *field = (char *)c + o->offset;
    if (o->kind == TEXT) {
        if (strlen(value) >= o->size)
            return cf_error_set(err, CF_EVALUE, "%s: longer than %zu characters", o->name,
                                o->size - 1);
        memcpy(field, value, strlen(value) + 1);
        return 0;
    }
    unsigned long long v;
    int rc = cf_ini_uint(o->name, value, o->max, &v, err);
    if (rc != 0)
        return rc;
    if (v < o->min)
        return cf_error_set(err, CF_EVALUE, "%s: %llu is below the minimum of %llu", o->name, v,
                            o->min);
    *(unsigned long long *)field = v;
    return 0;
}

struct reader {
    struct cf_config *c;
    unsigned seen[sizeof options / sizeof options[0]];
    unsigned section_line;
};

static int on_key(void *user, const char *section, const char *key, const char *value,
                  unsigned line, struct cf_error *err)
{
    struct reader *r = user;
    if (!key) {
        if (strcmp(section, "broker") != 0)
            return cf_error_set(err, CF_EUNKNOWNKEY, "unknown section [%s]; broker.ini has [broker]",
                                section);
        if (r->section_line)
            return cf_error_set(err, CF_EDUPKEY, "[broker] repeats line %u", r->section_line);
        r->section_line = line;
        return 0;
    }
    if (strcmp(section, "broker") != 0)
        return cf_error_set(err, CF_EUNKNOWNKEY, "'%s' outside the [broker] section", key);
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        if (strcmp(options[i].name, key) != 0)
            continue;
        if (r->seen[i])
            return cf_error_set(err, CF_EDUPKEY, "'%s' repeats line %u", key, r->seen[i]);
        r->seen[i] = line;
        return set(r->c, &options[i], value, err);
    }
    return cf_error_set(err, CF_EUNKNOWNKEY, "unknown key '%s' in [broker]", key);
}

int cf_config_load(const char *path, struct cf_config *c, struct cf_error *err)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (set(c, &options[i], options[i].def, err) != 0)
            return CF_EINVAL; /* a bad default is a programming error */
    struct reader r = {.c = c};
    int rc = cf_ini_parse_file(path, on_key, &r, err);
    if (rc != 0)
        return rc;
    if (!c->authority_key[0])
        return cf_error_set(err, CF_ECONFIG, "%s: authority_key is required: the directory "
                            "authority's public key (childfirst keygen authority prints it)", path);
    if (c->map_max_mb < c->map_size_mb)
        return cf_error_set(err, CF_ECONFIG, "%s: map_max_mb (%llu) is below map_size_mb (%llu)",
                            path, c->map_max_mb, c->map_size_mb);
    return 0;
}
