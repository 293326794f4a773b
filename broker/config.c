/* broker.ini's options (DESIGN.md section 10 and the README's table), read by
 * the shared option reader. */
#include <string.h>

#include "childfirst/options.h"
#include "config.h"

#define T(field, def, req) CF_OPTION_TEXT_FIELD(struct cf_config, field, def, req)
#define N(field, def, lo, hi) CF_OPTION_NUMBER_FIELD(struct cf_config, field, def, lo, hi)

static const struct cf_option options[] = {
    T(endpoint, "tcp://0.0.0.0:7750", false),
    T(state_dir, "/var/lib/childfirst/broker", false),
    T(key_file, "/etc/childfirst/broker.key", false),
    T(authority_key, "", true),
    T(directory, "/etc/childfirst/agencies.ini", false),
    T(policy, "/etc/childfirst/policy.ini", false),
    T(calendars, "/usr/share/childfirst/calendars", false),
    T(origin, "childfirst.example/log", false),
    N(map_size_mb, "4096", 1, 1u << 24),
    N(map_max_mb, "65536", 1, 1u << 24),
    N(min_free_mb, "256", 0, 1u << 24),
    N(retention_days, "2555", 1, 100000),
    N(credit_window, "64", 1, 10000),
    N(batch_max, "256", 1, 4096),
    N(heartbeat_ms, "5000", 100, 600000),
    N(verify_threads, "0", 0, 64), /* 0: one per online core */
    N(commit_ms, "200", 0, 60000), /* 0: an LMDB commit per batch */
    N(redo_max_mb, "64", 1, 4096),
    T(log_level, "info", false),
};

int cf_config_load(const char *path, struct cf_config *c, struct cf_error *err)
{
    memset(c, 0, sizeof *c);
    int rc = cf_options_load(path, "broker", options, sizeof options / sizeof options[0], c, err);
    if (rc != 0)
        return rc;
    if (c->map_max_mb < c->map_size_mb)
        return cf_error_set(err, CF_ECONFIG, "%s: map_max_mb (%llu) is below map_size_mb (%llu)",
                            path, c->map_max_mb, c->map_size_mb);
    return 0;
}
