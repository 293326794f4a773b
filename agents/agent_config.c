/* agent.ini's options (DESIGN.md section 10 and the README's table), read by
 * the shared option reader; the CLI reads the same file to find the agent's
 * control socket. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
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
    T(dashboard_listen, "", false),
    T(dashboard_token, "", false),
    T(api_token, "", false),
    N(dashboard_allow_remote, "0", 0, 1),
};

int agent_config_listen(const char *text, struct sockaddr_storage *ss, socklen_t *len,
                        bool *loopback)
{
    char host[64] = "127.0.0.1";
    const char *port = text;
    if (text[0] == '[') {
        const char *end = strchr(text, ']');
        if (!end || end[1] != ':' || (size_t)(end - text - 1) >= sizeof host)
            return CF_EVALUE;
        memcpy(host, text + 1, (size_t)(end - text - 1));
        host[end - text - 1] = 0;
        port = end + 2;
    } else if (strchr(text, ':')) {
        const char *colon = strchr(text, ':');
        if ((size_t)(colon - text) >= sizeof host || strchr(colon + 1, ':'))
            return CF_EVALUE;
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = 0;
        port = colon + 1;
    }
    char *end = NULL;
    if (port[0] < '0' || port[0] > '9' || strlen(port) > 5)
        return CF_EVALUE;
    unsigned long p = strtoul(port, &end, 10);
    if (*end || p > 65535)
        return CF_EVALUE;
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (text[0] != '[' && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)p);
        *len = sizeof *v4;
        *loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
        return 0;
    }
    if (text[0] == '[' && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)p);
        *len = sizeof *v6;
        *loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
        return 0;
    }
    return CF_EVALUE;
}

/* A token is 16 to 128 characters of the bearer-token alphabet (RFC 6750's
 * b64token), so it fits an Authorization header and a form field unchanged.
 * The message never quotes it. */
static int check_token(const char *path, const char *name, const char *token, struct cf_error *err)
{
    size_t n = strlen(token);
    if (n == 0)
        return 0;
    if (n < AGENT_TOKEN_MIN)
        return cf_error_set(err, CF_ECONFIG,
                            "%s: %s must be at least %d characters (make one with "
                            "`head -c 32 /dev/urandom | base64`)",
                            path, name, AGENT_TOKEN_MIN);
    if (strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=") != n)
        return cf_error_set(err, CF_ECONFIG,
                            "%s: %s may hold only letters, digits and - . _ ~ + / =", path, name);
    return 0;
}

static int check_dashboard(const char *path, const struct agent_config *c, struct cf_error *err)
{
    int rc = check_token(path, "dashboard_token", c->dashboard_token, err);
    if (rc == 0)
        rc = check_token(path, "api_token", c->api_token, err);
    if (rc != 0 || !c->dashboard_listen[0])
        return rc;
    struct sockaddr_storage ss;
    socklen_t len;
    bool loopback;
    if (agent_config_listen(c->dashboard_listen, &ss, &len, &loopback) != 0)
        return cf_error_set(err, CF_ECONFIG,
                            "%s: dashboard_listen must be PORT, A.B.C.D:PORT or [IPv6]:PORT, "
                            "such as 127.0.0.1:8750 (no host names)",
                            path);
    if (!loopback && !c->dashboard_allow_remote)
        return cf_error_set(err, CF_ECONFIG,
                            "%s: dashboard_listen %s is not a loopback address; the dashboard "
                            "speaks plain HTTP, so set dashboard_allow_remote = 1 only behind a "
                            "TLS proxy",
                            path, c->dashboard_listen);
    if (!c->dashboard_token[0] && !c->api_token[0])
        return cf_error_set(err, CF_ECONFIG,
                            "%s: dashboard_listen is set but neither dashboard_token nor "
                            "api_token is: nobody could use it",
                            path);
    if (c->dashboard_token[0] && c->api_token[0] && strcmp(c->dashboard_token, c->api_token) == 0)
        return cf_error_set(err, CF_ECONFIG,
                            "%s: dashboard_token and api_token must differ, so that a person's "
                            "token cannot act as a system and the other way round",
                            path);
    return 0;
}

int agent_config_load(const char *path, struct agent_config *c, struct cf_error *err)
{
    memset(c, 0, sizeof *c);
    int rc = cf_options_load(path, "agent", options, sizeof options / sizeof options[0], c, err);
    if (rc != 0)
        return rc;
    if (!cf_header_id_valid(c->id, strlen(c->id)))
        return cf_error_set(err, CF_ECONFIG, "%s: id '%s' is not an agency id", path, c->id);
    return check_dashboard(path, c, err);
}
