/* agent.ini's options (DESIGN.md section 10 and the README's table), read by
 * the shared option reader; the CLI reads the same file to find the agent's
 * control socket. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "childfirst/options.h"

#define T(field, def, req) CF_OPTION_TEXT_FIELD(struct agent_config, field, def, req)
#define N(field, def, lo, hi) CF_OPTION_NUMBER_FIELD(struct agent_config, field, def, lo, hi)

static const struct cf_option options[] = {
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

int agent_config_load(const char *path, struct agent_config *c, struct cf_error *err)
{
    memset(c, 0, sizeof *c);
    int rc = cf_options_load(path, "agent", options, sizeof options / sizeof options[0], c, err);
    if (rc != 0)
        return rc;
    if (!cf_header_id_valid(c->id, strlen(c->id)))
        return cf_error_set(err, CF_ECONFIG, "%s: id '%s' is not an agency id", path, c->id);
    return 0;
}
