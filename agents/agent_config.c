/* agent.ini, read through one table of options with their defaults; the CLI
 * reads the same file to find the agent's control socket. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "childfirst/ini.h"

enum kind { TEXT, NUMBER };

struct option {
    const char *name;
    enum kind kind;
    size_t offset, size;
    const char *def;
    unsigned long long min, max;
    bool required;
};

#define T(field, def, req)                                                                         \
    {#field, TEXT, offsetof(struct agent_config, field),                                           \
     sizeof((struct agent_config *)0)->field, def, 0, 0, req}
#define N(field, def, lo, hi) {#field, NUMBER, offsetof(struct agent_config, field), 0, def, lo, hi, false}

static const struct option options[] = {
    T(id, "", true),
    T(key_file, "", true),
    T(broker, "", true),
    T(broker_sign_key, "", true),
    T(broker_curve_key, "", true),
    T(authority_key, "", true),
    T(state_dir, "/var/lib/childfirst/agent", false),
    T(spool_dir, "/var/spool/childfirst", false),
    T(control, "ipc:///run/childfirst/agent.sock", false),
    T(on_message, "", false),
    T(on_notice, "", false),
    N(hook_timeout_s, "30", 1, 3600),
    N(resend_s, "30", 1, 86400),
    N(spool_scan_ms, "500", 10, 60000),
    N(heartbeat_ms, "5000", 100, 600000),
    N(map_size_mb, "1024", 1, 1u << 20),
    T(log_level, "info", false),
};

#define COUNT (sizeof options / sizeof options[0])

static int set(struct agent_config *c, const struct option *o, const char *value,
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
    if (rc == 0 && v < o->min)
        rc = cf_error_set(err, CF_EVALUE, "%s: %llu is below the minimum of %llu", o->name, v,
                          o->min);
    if (rc == 0)
        *(unsigned long long *)field = v;
    return rc;
}

struct reader {
    struct agent_config *c;
    unsigned seen[COUNT];
    unsigned section_line;
};

static int on_key(void *user, const char *section, const char *key, const char *value,
                  unsigned line, struct cf_error *err)
{
    struct reader *r = user;
    if (!key) {
        if (strcmp(section, "agent") != 0)
            return cf_error_set(err, CF_EUNKNOWNKEY, "unknown section [%s]; agent.ini has [agent]",
                                section);
        if (r->section_line)
            return cf_error_set(err, CF_EDUPKEY, "[agent] repeats line %u", r->section_line);
        r->section_line = line;
        return 0;
    }
    if (strcmp(section, "agent") != 0)
        return cf_error_set(err, CF_EUNKNOWNKEY, "'%s' outside the [agent] section", key);
    for (size_t i = 0; i < COUNT; i++) {
        if (strcmp(options[i].name, key) != 0)
            continue;
        if (r->seen[i])
            return cf_error_set(err, CF_EDUPKEY, "'%s' repeats line %u", key, r->seen[i]);
        r->seen[i] = line;
        return set(r->c, &options[i], value, err);
    }
    return cf_error_set(err, CF_EUNKNOWNKEY, "unknown key '%s' in [agent]", key);
}

int agent_config_load(const char *path, struct agent_config *c, struct cf_error *err)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < COUNT; i++)
        if (set(c, &options[i], options[i].def, err) != 0)
            return CF_EINVAL;
    struct reader r = {.c = c};
    int rc = cf_ini_parse_file(path, on_key, &r, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < COUNT; i++)
        if (options[i].required && !r.seen[i])
            return cf_error_set(err, CF_ECONFIG, "%s: '%s' is required in [agent]", path,
                                options[i].name);
    if (!cf_header_id_valid(c->id, strlen(c->id)))
        return cf_error_set(err, CF_ECONFIG, "%s: id '%s' is not an agency id", path, c->id);
    return 0;
}
