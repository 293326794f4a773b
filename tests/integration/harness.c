/* The integration-test harness (see harness.h). Every failure here fails the
 * calling test at once with a sentence: a harness that limps on would let a
 * test pass for the wrong reason. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <zmq.h>

#include "childfirst/directory.h"
#include "childfirst/clock.h"
#include "childfirst/file.h"
#include "childfirst/store.h"
#include "harness.h"

extern char **environ;

static const struct {
    const char *id, *roles, *areas;
} cast[] = {
    {"police-a", "first_responder police", "E09000033"},
    {"la-csc", "children_services", "E09000033"},
    {"la-duty", "duty_team", "E09000033"},
    {"guardian-x", "guardian", "E09000033"},
    {"health-x", "health", "E09000033"},
    {"auditor-x", "auditor", ""},
};

static void write_file(const char *path, const char *text)
{
    struct cf_error err = {0};
    if (cf_file_write_atomic(path, text, strlen(text), 0644, &err) != 0)
        fail_msg("%s", err.text);
}

static void save_key(struct cf_keys *k, const char *path)
{
    struct cf_error err = {0};
    if (cf_keys_save(k, path, &err) != 0)
        fail_msg("%s", err.text);
}

static void read_text(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot read %s", path);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = 0;
    fclose(f);
}

/* Whether some line of `ini` sets `key` (so the harness default must go). */
static bool ini_sets(const char *ini, const char *key)
{
    size_t klen = strlen(key);
    for (const char *line = ini; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        line += strspn(line, " \t");
        if (strncmp(line, key, klen) == 0 && strchr(" \t=", line[klen]))
            return true;
    }
    return false;
}

void net_sign_directory(struct net *n, uint64_t serial)
{
    static char agencies[1 << 16];
    size_t used = 0;
    for (size_t i = 0; i < n->n; i++) {
        const struct net_agency *a = &n->agencies[i];
        char pub[512];
        assert_int_equal(cf_keys_public_text(a->keys, pub, sizeof pub), 0);
        used += (size_t)snprintf(agencies + used, sizeof agencies - used,
                                 "%sname = Test agency %s\nroles = %s\njurisdiction = "
                                 "%s\n%s%s%s\n",
                                 pub, a->id, a->roles,
                                 a->jurisdiction ? a->jurisdiction : "england-wales",
                                 a->areas[0] ? "areas = " : "", a->areas, a->areas[0] ? "\n" : "");
    }
    char path[600], policy[600], cmd[2048];
    struct cf_error err = {0};
    snprintf(path, sizeof path, "%s/agencies.ini", n->dir);
    write_file(path, agencies);
    snprintf(policy, sizeof policy, "%s/policy.ini", n->dir);
    snprintf(cmd, sizeof cmd, "cp '%s/deploy/policy.ini' '%s'", CF_SOURCE_DIR, policy);
    assert_int_equal(system(cmd), 0);
    if (cf_directory_sign(path, policy, n->authority, serial, &err) != 0)
        fail_msg("directory sign: %s", err.text);
}

void net_rekey(struct net *n, const char *id)
{
    struct net_agency *a = net_agency(n, id);
    struct cf_error err = {0};
    cf_keys_destroy(&a->keys);
    if (cf_keys_generate(CF_KEYS_AGENCY, a->id, &a->keys, &err) != 0)
        fail_msg("keygen %s: %s", a->id, err.text);
    unlink(a->key_path);
    save_key(a->keys, a->key_path);
}

static struct net_agency *new_agency(struct net *n, const char *id, const char *roles,
                                     const char *areas, const char *jurisdiction)
{
    if (n->n == NET_MAX_AGENCIES)
        fail_msg("more than %d agencies", NET_MAX_AGENCIES);
    struct net_agency *a = &n->agencies[n->n++];
    struct cf_error err = {0};
    a->id = id, a->roles = roles, a->areas = areas, a->jurisdiction = jurisdiction;
    if (cf_keys_generate(CF_KEYS_AGENCY, a->id, &a->keys, &err) != 0)
        fail_msg("keygen %s: %s", a->id, err.text);
    char key_path[sizeof a->key_path];
    snprintf(key_path, sizeof key_path, "%s/%s.key", n->dir, id);
    memcpy(a->key_path, key_path, sizeof key_path);
    save_key(a->keys, a->key_path);
    return a;
}

void net_add_agency(struct net *n, const char *id, const char *roles, const char *areas,
                    const char *jurisdiction)
{
    new_agency(n, id, roles, areas, jurisdiction);
}

static void write_clock(const char *path, long long offset)
{
    char text[32];
    snprintf(text, sizeof text, "%lld\n", offset);
    write_file(path, text); /* write, then rename: a new inode every time */
}

void net_clock_advance(struct net *n, int64_t ms)
{
    char text[32] = "0";
    read_text(n->clock_file, text, sizeof text);
    write_clock(n->clock_file, atoll(text) + ms);
}

uint64_t net_now(void)
{
    return cf_clock_now();
}

void net_create(struct net *n, const char *extra_ini)
{
    memset(n, 0, sizeof *n);
    snprintf(n->dir, sizeof n->dir, "/tmp/cf-net-XXXXXX");
    if (!mkdtemp(n->dir))
        fail_msg("mkdtemp: %s", strerror(errno));
    struct cf_error err = {0};
    if (cf_keys_generate(CF_KEYS_AUTHORITY, NULL, &n->authority, &err) != 0 ||
        cf_keys_generate(CF_KEYS_BROKER, NULL, &n->broker, &err) != 0 ||
        cf_keys_generate(CF_KEYS_AGENCY, "stranger", &n->stranger, &err) != 0)
        fail_msg("keygen: %s", err.text);

    for (size_t i = 0; i < sizeof cast / sizeof cast[0]; i++)
        new_agency(n, cast[i].id, cast[i].roles, cast[i].areas, NULL);
    /* One clock for the whole network: this process and every child it starts. */
    snprintf(n->clock_file, sizeof n->clock_file, "%s/clock", n->dir);
    write_clock(n->clock_file, 0);
    setenv("CF_TEST_CLOCK", n->clock_file, 1);
    net_sign_directory(n, 1);
    char path[600], policy[600];
    snprintf(path, sizeof path, "%s/agencies.ini", n->dir);
    snprintf(policy, sizeof policy, "%s/policy.ini", n->dir);

    snprintf(n->broker_key, sizeof n->broker_key, "%s/broker.key", n->dir);
    save_key(n->broker, n->broker_key);
    snprintf(n->state_dir, sizeof n->state_dir, "%s/state", n->dir);
    snprintf(n->broker_log, sizeof n->broker_log, "%s/broker.log", n->dir);
    snprintf(n->broker_ini, sizeof n->broker_ini, "%s/broker.ini", n->dir);
    snprintf(n->endpoint_file, sizeof n->endpoint_file, "%s/broker.endpoint", n->state_dir);
    char authority[CF_B64_KEY_LEN + 1], ini[4096];
    cf_keys_b64_encode(n->authority->sign_pk, authority);
    int used_ini = snprintf(ini, sizeof ini,
                            "[broker]\nendpoint = tcp://127.0.0.1:*\nstate_dir = %s\n"
                            "key_file = %s\nauthority_key = %s\ndirectory = %s\npolicy = %s\n"
                            "origin = test.childfirst/log\ncalendars = %s/deploy/calendars\n",
                            n->state_dir, n->broker_key, authority, path, policy, CF_SOURCE_DIR);
    static const char *const defaults[][2] = {
        {"map_size_mb", "16"}, {"min_free_mb", "0"}, {"log_level", "debug"}};
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        if (!ini_sets(extra_ini, defaults[i][0]))
            used_ini += snprintf(ini + used_ini, sizeof ini - (size_t)used_ini, "%s = %s\n",
                                 defaults[i][0], defaults[i][1]);
    snprintf(ini + used_ini, sizeof ini - (size_t)used_ini, "%s", extra_ini ? extra_ini : "");
    write_file(n->broker_ini, ini);
    n->zmq = zmq_ctx_new();
    n->broker_pid = 0;
}

void net_destroy(struct net *n)
{
    for (size_t i = 0; i < n->n; i++)
        if (n->agents[i].pid > 0) {
            kill(n->agents[i].pid, SIGKILL);
            waitpid(n->agents[i].pid, NULL, 0);
        }
    if (n->broker_pid > 0)
        net_broker_kill(n);
    for (size_t i = 0; i < n->n_sockets; i++)
        if (n->sockets[i])
            zmq_close(n->sockets[i]);
    if (n->zmq)
        zmq_ctx_term(n->zmq);
    cf_keys_destroy(&n->authority);
    cf_keys_destroy(&n->broker);
    cf_keys_destroy(&n->stranger);
    for (size_t i = 0; i < n->n; i++)
        cf_keys_destroy(&n->agencies[i].keys);
    if (!getenv("CF_KEEP_TEST_DIRS")) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", n->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", n->dir);
    }
}

struct net_agency *net_agency(struct net *n, const char *id)
{
    for (size_t i = 0; i < n->n; i++)
        if (strcmp(n->agencies[i].id, id) == 0)
            return &n->agencies[i];
    fail_msg("no agency %s in the test network", id);
    return NULL;
}

/* $CF_WRAP, split on spaces, goes before the broker and agent programs (for
 * bench/valgrind.sh: "valgrind --leak-check=full ..."); other programs run as
 * they are. Returns argv itself when there is nothing to add. */
static const char *const *wrap(const char *const *argv, const char **out, size_t cap)
{
    static char words[1024];
    const char *w = getenv("CF_WRAP");
    if (!w || !*w ||
        (!strstr(argv[0], "/childfirst-broker") && !strstr(argv[0], "/childfirst-agent")))
        return argv;
    snprintf(words, sizeof words, "%s", w);
    size_t k = 0;
    for (char *save, *t = strtok_r(words, " ", &save); t && k + 1 < cap;
         t = strtok_r(NULL, " ", &save))
        out[k++] = t;
    for (size_t i = 0; argv[i] && k + 1 < cap; i++)
        out[k++] = argv[i];
    out[k] = NULL;
    return out;
}

/* Starts argv with stdout appended to out_path and stderr to err_path (or to
 * out_path too when err_path is NULL); NULL paths inherit ours. */
static pid_t spawn_split(const char *const *argv, const char *out_path, const char *err_path)
{
    const char *wrapped[64];
    argv = wrap(argv, wrapped, sizeof wrapped / sizeof wrapped[0]);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out_path)
        posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (err_path)
        posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    else if (out_path)
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        fail_msg("cannot start %s: %s", argv[0], strerror(rc));
    return pid;
}

static pid_t spawn(const char *const *argv, const char *out_path)
{
    return spawn_split(argv, out_path, NULL);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A restarted broker keeps its first port, so running agents find it again. */
static void pin_endpoint(struct net *n)
{
    if (!n->endpoint[0])
        return;
    char ini[8192], out[8192];
    read_text(n->broker_ini, ini, sizeof ini);
    const char *wild = "endpoint = tcp://127.0.0.1:*\n";
    char *at = strstr(ini, wild);
    if (!at)
        return;
    snprintf(out, sizeof out, "%.*sendpoint = %s\n%s", (int)(at - ini), ini, n->endpoint,
             at + strlen(wild));
    write_file(n->broker_ini, out);
}

int net_broker_try_start(struct net *n)
{
    pin_endpoint(n);
    unlink(n->endpoint_file);
    const char *argv[] = {CF_BIN_DIR "/childfirst-broker", "-c", n->broker_ini, n->broker_flag,
                          NULL};
    n->broker_pid = spawn(argv, n->broker_log);
    for (int i = 0; i < 1000; i++) { /* up to 20 s: a sanitizer build starts slowly */
        if (access(n->endpoint_file, R_OK) == 0) {
            read_text(n->endpoint_file, n->endpoint, sizeof n->endpoint);
            return -1;
        }
        int status;
        if (waitpid(n->broker_pid, &status, WNOHANG) == n->broker_pid) {
            n->broker_pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        sleep_ms(20);
    }
    fail_msg("the broker neither listened nor exited within 20 s");
    return 0;
}

void net_broker_start(struct net *n)
{
    int status = net_broker_try_start(n);
    if (status >= 0) {
        char log[4096];
        read_text(n->broker_log, log, sizeof log);
        fail_msg("the broker exited at start (status %d):\n%s", status, log);
    }
}

void net_broker_stop(struct net *n)
{
    if (n->broker_pid <= 0)
        return;
    kill(n->broker_pid, SIGTERM);
    int status;
    waitpid(n->broker_pid, &status, 0);
    n->broker_pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char log[8192];
        read_text(n->broker_log, log, sizeof log);
        fail_msg("the broker did not stop cleanly (status %d):\n%s", status, log);
    }
}

void net_broker_kill(struct net *n)
{
    if (n->broker_pid <= 0)
        return;
    kill(n->broker_pid, SIGKILL);
    waitpid(n->broker_pid, NULL, 0);
    n->broker_pid = 0;
}

int net_broker_run(struct net *n, const char *const *args, const char *log)
{
    (void)n;
    pid_t pid = spawn(args, log);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool net_broker_listening(const struct net *n)
{
    return access(n->endpoint_file, F_OK) == 0;
}

static void keep_socket(struct net *n, void *s)
{
    assert_true(n->n_sockets < sizeof n->sockets / sizeof n->sockets[0]);
    n->sockets[n->n_sockets++] = s;
}

/* A CURVE DEALER as `who`, not yet connected. */
static void *curve_dealer(struct net *n, const struct cf_keys *who)
{
    void *s = zmq_socket(n->zmq, ZMQ_DEALER);
    int zero = 0;
    assert_non_null(s);
    assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, n->broker->curve_pk, 32), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, who->curve_pk, 32), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, who->curve_sk, 32), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), 0);
    keep_socket(n, s);
    return s;
}

void *net_connect_monitored(struct net *n, const struct cf_keys *who, void **monitor)
{
    static unsigned serial;
    char addr[64];
    int zero = 0;
    void *s = curve_dealer(n, who);
    snprintf(addr, sizeof addr, "inproc://net-monitor-%u", serial++);
    assert_int_equal(zmq_socket_monitor(s, addr, ZMQ_EVENT_ALL), 0);
    *monitor = zmq_socket(n->zmq, ZMQ_PAIR);
    assert_non_null(*monitor);
    assert_int_equal(zmq_setsockopt(*monitor, ZMQ_LINGER, &zero, sizeof zero), 0);
    assert_int_equal(zmq_connect(*monitor, addr), 0);
    keep_socket(n, *monitor);
    assert_int_equal(zmq_connect(s, n->endpoint), 0);
    return s;
}

int net_monitor_wait(void *monitor, int events, int timeout_ms, uint32_t *value)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = timeout_ms - ((now.tv_sec - start.tv_sec) * 1000L +
                                  (now.tv_nsec - start.tv_nsec) / 1000000L);
        zmq_pollitem_t item = {monitor, 0, ZMQ_POLLIN, 0};
        if (left <= 0 || zmq_poll(&item, 1, left) <= 0)
            return 0;
        /* An event is two parts: 16-bit event and 32-bit value, then the endpoint. */
        uint8_t head[6];
        char endpoint[256];
        int got = zmq_recv(monitor, head, sizeof head, 0);
        if (got != (int)sizeof head || zmq_recv(monitor, endpoint, sizeof endpoint, 0) < 0)
            fail_msg("a malformed monitor event");
        uint16_t event;
        uint32_t v;
        memcpy(&event, head, 2);
        memcpy(&v, head + 2, 4);
        if (event & events) {
            if (value)
                *value = v;
            return event;
        }
    }
}

void *net_connect(struct net *n, const struct cf_keys *who)
{
    void *s = curve_dealer(n, who);
    assert_int_equal(zmq_connect(s, n->endpoint), 0);
    return s;
}

void net_close(struct net *n, void *sock)
{
    for (size_t i = 0; i < n->n_sockets; i++)
        if (n->sockets[i] == sock)
            n->sockets[i] = NULL;
    zmq_close(sock);
}

void net_send_raw(void *sock, const void *buf, size_t len)
{
    if (zmq_send(sock, buf, len, 0) < 0)
        fail_msg("send: %s", zmq_strerror(zmq_errno()));
}

void net_send_parts(void *sock, const void *const *parts, const size_t *lens, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (zmq_send(sock, parts[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0) < 0)
            fail_msg("send: %s", zmq_strerror(zmq_errno()));
}

void net_send(void *sock, const struct cf_frame *f)
{
    uint8_t *buf;
    size_t len;
    assert_int_equal(cf_wire_frame_encode(f, &buf, &len), 0);
    net_send_raw(sock, buf, len);
    free(buf);
}

int net_recv(void *sock, struct cf_frame *f, int timeout_ms)
{
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    memset(f, 0, sizeof *f);
    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        return CF_ETIMEOUT;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, sock, 0) < 0)
        fail_msg("recv: %s", zmq_strerror(zmq_errno()));
    struct cf_error err = {0};
    int rc = cf_wire_frame_decode(zmq_msg_data(&m), zmq_msg_size(&m), f, &err);
    zmq_msg_close(&m);
    if (rc != 0)
        fail_msg("the broker sent a frame that does not decode: %s", err.text);
    return 0;
}

void net_expect(void *sock, enum cf_frame_kind kind, struct cf_frame *f, int timeout_ms)
{
    for (;;) {
        if (net_recv(sock, f, timeout_ms) != 0)
            fail_msg("no frame of kind %d within %d ms", kind, timeout_ms);
        if (f->kind == kind)
            return;
        if (f->kind == CF_FRAME_REJECTED && kind != CF_FRAME_REJECTED)
            fail_msg("rejected while waiting for kind %d: %s %s", kind, f->code, f->reason);
        cf_wire_frame_fini(f);
    }
}

void net_hello(void *sock, uint64_t last_checkpoint_size, struct cf_frame *welcome)
{
    struct cf_frame h = {.kind = CF_FRAME_HELLO,
                         .version = CF_PROTOCOL_VERSION,
                         .last_checkpoint_size = last_checkpoint_size};
    net_send(sock, &h);
    net_expect(sock, CF_FRAME_WELCOME, welcome, 10000);
}

void net_status(void *sock, struct cf_status *status)
{
    struct cf_frame f = {.kind = CF_FRAME_STATUS_REQUEST};
    net_send(sock, &f);
    net_expect(sock, CF_FRAME_STATUS, &f, 10000);
    *status = f.status;
    cf_wire_frame_fini(&f);
}

/* Headers are stamped by the network's clock, so a test that moved it ahead
 * still sends messages the broker finds fresh. */
static uint64_t now_ms(void)
{
    return cf_clock_now();
}

void net_seal_as(struct net *n, const struct cf_header *h, const uint8_t *payload, size_t plen,
                 const struct cf_keys *signer, uint8_t **env, size_t *len)
{
    uint8_t pks[CF_MAX_RECIPIENTS][CF_BOX_PK];
    for (size_t i = 0; i < h->n_recipients; i++) {
        const struct cf_keys *k = NULL;
        for (size_t j = 0; j < n->n; j++)
            if (strcmp(n->agencies[j].id, h->recipients[i]) == 0)
                k = n->agencies[j].keys;
        if (!k && strcmp(h->recipients[i], "stranger") == 0)
            k = n->stranger;
        if (!k)
            fail_msg("no keys for recipient %s", h->recipients[i]);
        memcpy(pks[i], k->box_pk, CF_BOX_PK);
    }
    struct cf_error err = {0};
    if (cf_envelope_seal(h, payload, plen, (const uint8_t(*)[CF_BOX_PK])pks, signer, env, len,
                         &err) != 0)
        fail_msg("seal: %s", err.text);
}

void net_seal(struct net *n, const struct cf_header *h, const uint8_t *payload, size_t plen,
              uint8_t **env, size_t *len)
{
    const struct cf_keys *sender =
        strcmp(h->sender, "stranger") == 0 ? n->stranger : net_agency(n, h->sender)->keys;
    net_seal_as(n, h, payload, plen, sender, env, len);
}

void net_referral_header(struct net *n, const char *sender, struct cf_header *h)
{
    (void)n;
    memset(h, 0, sizeof *h);
    h->version = CF_PROTOCOL_VERSION;
    randombytes_buf(h->message_id, sizeof h->message_id);
    cf_header_case_id_new(h->case_id);
    h->type = CF_TYPE_REFERRAL;
    snprintf(h->sender, sizeof h->sender, "%s", sender);
    h->n_recipients = 3;
    strcpy(h->recipients[0], "guardian-x");
    strcpy(h->recipients[1], "la-csc");
    strcpy(h->recipients[2], "la-duty");
    h->created_at = now_ms();
    strcpy(h->jurisdiction, "england-wales");
    strcpy(h->la_code, "E09000033");
    h->urgency = CF_URGENCY_IMMEDIATE;
    h->immediate_risk = true;
}

void net_referral(struct net *n, const char *sender, struct cf_header *h, uint8_t **env,
                  size_t *len)
{
    static const char payload[] = NET_PAYLOAD;
    net_referral_header(n, sender, h);
    net_seal(n, h, (const uint8_t *)payload, sizeof payload, env, len);
}

void net_submit(void *sock, const uint8_t *env, size_t len, struct cf_frame *answer)
{
    struct cf_frame f = {.kind = CF_FRAME_SUBMIT, .envelope = env, .envelope_len = len};
    net_send(sock, &f);
    for (;;) {
        if (net_recv(sock, answer, 20000) != 0)
            fail_msg("no answer to a Submit within 20 s");
        if (answer->kind == CF_FRAME_ACCEPTED || answer->kind == CF_FRAME_REJECTED)
            return;
        cf_wire_frame_fini(answer);
    }
}

void net_ack(void *sock, const struct cf_keys *who, const struct cf_frame *deliver)
{
    net_answer(sock, who, deliver, CF_ACK_OK);
}

void net_answer(void *sock, const struct cf_keys *who, const struct cf_frame *deliver,
                const char *code)
{
    uint8_t hash[CF_HASH_LEN];
    bool ack = strcmp(code, CF_ACK_OK) == 0;
    struct cf_frame a = {.kind = ack ? CF_FRAME_ACK : CF_FRAME_NACK,
                         .leaf_index = deliver->leaf_index};
    if (!ack)
        snprintf(a.code, sizeof a.code, "%s", code);
    if (deliver->determination) {
        struct cf_determination d;
        assert_int_equal(cf_wire_determination_decode(deliver->determination,
                                                      deliver->determination_len, &d, NULL),
                         0);
        memcpy(a.message_id, d.id, sizeof a.message_id);
        cf_wire_determination_fini(&d);
        cf_envelope_hash(deliver->determination, deliver->determination_len, hash);
    } else if (deliver->envelope) {
        struct cf_envelope env;
        struct cf_header h;
        assert_int_equal(
            cf_envelope_decode(deliver->envelope, deliver->envelope_len, &env, &h, NULL), 0);
        memcpy(a.message_id, h.message_id, sizeof a.message_id);
        cf_envelope_fini(&env);
        cf_envelope_hash(deliver->envelope, deliver->envelope_len, hash);
    } else {
        struct cf_notice nt;
        assert_int_equal(cf_wire_notice_decode(deliver->notice, deliver->notice_len, &nt, NULL), 0);
        memcpy(a.message_id, nt.notice_id, sizeof a.message_id);
        cf_envelope_hash(deliver->notice, deliver->notice_len, hash);
    }
    assert_int_equal(cf_envelope_ack_sign(a.message_id, hash, code, who, a.signature), 0);
    net_send(sock, &a);
}

static void temp_file(char path[32])
{
    snprintf(path, 32, "/tmp/cf-run-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        fail_msg("mkstemp: %s", strerror(errno));
    close(fd);
}

int net_run_split(const char *const *argv, char *out, size_t cap, char *err, size_t err_cap)
{
    char out_path[32], err_path[32];
    temp_file(out_path);
    if (err)
        temp_file(err_path);
    pid_t pid = spawn_split(argv, out_path, err ? err_path : NULL);
    int status;
    waitpid(pid, &status, 0);
    read_text(out_path, out, cap);
    unlink(out_path);
    if (err) {
        read_text(err_path, err, err_cap);
        unlink(err_path);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int net_run(const char *const *argv, char *out, size_t cap)
{
    return net_run_split(argv, out, cap, NULL, 0);
}

int net_audit_verify(struct net *n, const char *dir, char *out, size_t cap, char *err,
                     size_t err_cap)
{
    char key[CF_B64_KEY_LEN + 1];
    cf_keys_b64_encode(n->broker->sign_pk, key);
    const char *argv[] = {CF_BIN_DIR "/childfirst", "audit", "verify", dir,
                          "--broker-key",           key,     NULL};
    return net_run_split(argv, out, cap, err, err_cap);
}

bool net_file_contains(const char *path, const char *needle)
{
    uint8_t *buf;
    size_t len;
    if (cf_file_read(path, 1u << 30, &buf, &len, NULL) != 0)
        return false;
    bool found = memmem(buf, len, needle, strlen(needle)) != NULL;
    free(buf);
    return found;
}

size_t net_file_damage(const char *path, const void *needle, size_t len, size_t offset)
{
    uint8_t *buf;
    size_t size, changed = 0;
    struct cf_error err = {0};
    assert_true(offset < len);
    if (cf_file_read(path, 1u << 30, &buf, &size, &err) != 0)
        fail_msg("%s", err.text);
    for (uint8_t *p = buf; (p = memmem(p, size - (size_t)(p - buf), needle, len)) != NULL;
         p += len) {
        p[offset] ^= 0x01;
        changed++;
    }
    /* In place, not by rename: LMDB's file keeps its inode and mode. */
    FILE *f = fopen(path, "r+b");
    if (!f || fwrite(buf, 1, size, f) != size || fclose(f) != 0)
        fail_msg("cannot rewrite %s", path);
    free(buf);
    return changed;
}

void net_copy_dir(const char *from, const char *to)
{
    const char *argv[] = {"/bin/cp", "-R", from, to, NULL};
    char out[1024];
    if (net_run(argv, out, sizeof out) != 0)
        fail_msg("cp -R %s %s: %s", from, to, out);
}

static void log_open(struct net *n, struct cf_store *store, MDB_txn **txn)
{
    struct cf_error err = {0};
    if (cf_store_open(store, n->state_dir, 0, true, &err) != 0)
        fail_msg("%s", err.text);
    int rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, txn);
    if (rc != 0)
        fail_msg("%s: %s", n->state_dir, mdb_strerror(rc));
}

uint64_t net_log_size(struct net *n)
{
    struct cf_store store;
    MDB_txn *txn;
    uint64_t size;
    log_open(n, &store, &txn);
    assert_int_equal(cf_store_size(&store, txn, &size), 0);
    mdb_txn_abort(txn);
    cf_store_close(&store);
    return size;
}

void net_log_record(struct net *n, uint64_t index, uint8_t **rec, size_t *len)
{
    struct cf_store store;
    MDB_txn *txn;
    MDB_val v;
    log_open(n, &store, &txn);
    assert_int_equal(cf_store_record(&store, txn, index, &v), 0);
    *rec = malloc(v.mv_size);
    assert_non_null(*rec);
    memcpy(*rec, v.mv_data, v.mv_size);
    *len = v.mv_size;
    mdb_txn_abort(txn);
    cf_store_close(&store);
}

/* ---- Agents ---- */

struct net_agent *net_agent_of(struct net *n, const char *id)
{
    return &n->agents[net_agency(n, id) - n->agencies];
}

void net_agent_setup(struct net *n, const char *id, const char *extra_ini)
{
    struct net_agent *g = net_agent_of(n, id);
    struct net_agency *a = net_agency(n, id);
    char dir[400], sign[CF_B64_KEY_LEN + 1], curve[CF_Z85_KEY_LEN + 1],
        authority[CF_B64_KEY_LEN + 1], ini[4096];
    snprintf(dir, sizeof dir, "%s/%s", n->dir, id);
    mkdir(dir, 0700);
    snprintf(g->ini, sizeof g->ini, "%s/agent.ini", dir);
    snprintf(g->state, sizeof g->state, "%s/state", dir);
    snprintf(g->spool, sizeof g->spool, "%s/spool", dir);
    snprintf(g->log, sizeof g->log, "%s/agent.log", dir);
    cf_keys_b64_encode(n->broker->sign_pk, sign);
    cf_keys_z85_encode(n->broker->curve_pk, curve);
    cf_keys_b64_encode(n->authority->sign_pk, authority);
    snprintf(ini, sizeof ini,
             "[agent]\nid = %s\nkey_file = %s\nbroker = %s\nbroker_sign_key = %s\n"
             "broker_curve_key = %s\nauthority_key = %s\nstate_dir = %s\nspool_dir = %s\n"
             "control = %s/agent.sock\nspool_scan_ms = 50\nresend_s = 2\nlog_level = debug\n%s",
             id, a->key_path, n->endpoint, sign, curve, authority, g->state, g->spool, dir,
             extra_ini ? extra_ini : "");
    write_file(g->ini, ini);
}

/* Whether something accepts connections on the Unix socket at `path`. */
static bool control_answers(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path)
        fail_msg("control socket path too long: %s", path);
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fail_msg("socket: %s", strerror(errno));
    bool ok = connect(fd, (const struct sockaddr *)&sun, sizeof sun) == 0;
    close(fd);
    return ok;
}

void net_agent_spawn(struct net *n, const char *id, const char *fault)
{
    struct net_agent *g = net_agent_of(n, id);
    const char *plain[] = {CF_BIN_DIR "/childfirst-agent", "-c", g->ini, NULL}, *wrapped[64];
    const char *const *argv = wrap(plain, wrapped, sizeof wrapped / sizeof wrapped[0]);
    char fault_var[128];
    size_t count = 0;
    while (environ[count])
        count++;
    char **env = calloc(count + 2, sizeof *env);
    assert_non_null(env);
    size_t k = 0;
    for (size_t i = 0; i < count; i++)
        if (strncmp(environ[i], "CF_TEST_FAULT=", 14) != 0)
            env[k++] = environ[i];
    if (fault) {
        snprintf(fault_var, sizeof fault_var, "CF_TEST_FAULT=%s", fault);
        env[k++] = fault_var;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, g->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = posix_spawnp(&g->pid, argv[0], &fa, NULL, (char *const *)argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    if (rc != 0)
        fail_msg("cannot start the agent %s: %s", id, strerror(rc));
}

void net_agent_start(struct net *n, const char *id, const char *fault)
{
    struct net_agent *g = net_agent_of(n, id);
    /* An agent that never had a directory has none until it reaches the
     * broker: with the broker up, it is ready once it has loaded one. */
    bool fresh = !net_file_contains(g->log, "DIRECTORY-LOADED") && net_broker_listening(n);
    net_agent_spawn(n, id, fault);
    /* Ready when its control socket answers: a killed agent leaves its
     * socket file behind, so the file alone may still be the dead one's. */
    char sock[700];
    snprintf(sock, sizeof sock, "%s/%s/agent.sock", n->dir, id);
    bool answers = false;
    for (int i = 0; i < 1000 && !(answers = control_answers(sock)); i++)
        sleep_ms(20);
    if (!answers)
        fail_msg("the agent %s did not open its control socket within 20 s", id);
    /* Not a failure if it never does (a test may give it a broker it must
     * refuse): the test's own assertions say what should have happened. */
    for (int i = 0; fresh && i < 500 && !net_file_contains(g->log, "DIRECTORY-LOADED"); i++)
        sleep_ms(20);
}

void net_agent_stop(struct net *n, const char *id)
{
    struct net_agent *g = net_agent_of(n, id);
    if (g->pid <= 0)
        return;
    kill(g->pid, SIGTERM);
    int status;
    waitpid(g->pid, &status, 0);
    g->pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char log[8192];
        read_text(g->log, log, sizeof log);
        fail_msg("the agent %s did not stop cleanly (status %d):\n%s", id, status, log);
    }
}

void net_agent_kill(struct net *n, const char *id)
{
    struct net_agent *g = net_agent_of(n, id);
    if (g->pid <= 0)
        return;
    kill(g->pid, SIGKILL);
    waitpid(g->pid, NULL, 0);
    g->pid = 0;
}

int net_agent_wait_exit(struct net *n, const char *id, int timeout_ms)
{
    struct net_agent *g = net_agent_of(n, id);
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        int status;
        if (waitpid(g->pid, &status, WNOHANG) == g->pid) {
            g->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        sleep_ms(20);
    }
    return -1;
}

int net_cli(struct net *n, const char *id, const char *const *args, char *out, size_t cap,
            char *err, size_t err_cap)
{
    const char *argv[32] = {CF_BIN_DIR "/childfirst"};
    size_t k = 1;
    for (size_t i = 0; args[i] && k < 28; i++)
        argv[k++] = args[i];
    argv[k++] = "-c";
    argv[k++] = net_agent_of(n, id)->ini;
    argv[k] = NULL;
    return net_run_split(argv, out, cap, err, err_cap);
}

void net_agent_inbox_copy(struct net *n, const char *id, uint64_t from, uint64_t to)
{
    struct net_agent *g = net_agent_of(n, id);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi inbox;
    MDB_val v;
    uint8_t kf[8], kt[8];
    cf_store_put_u64(kf, from);
    cf_store_put_u64(kt, to);
    MDB_val key_from = {8, kf}, key_to = {8, kt};
    if (g->pid > 0)
        fail_msg("stop the agent %s before editing its store", id);
    int rc = mdb_env_create(&env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(env, 16);
    if (rc == 0)
        rc = mdb_env_open(env, g->state, 0, 0600);
    if (rc == 0 && (rc = mdb_txn_begin(env, NULL, 0, &txn)) == 0) {
        MDB_val present;
        if ((rc = mdb_dbi_open(txn, "inbox", 0, &inbox)) == 0 &&
            (rc = mdb_get(txn, inbox, &key_from, &v)) == 0 &&
            (rc = mdb_get(txn, inbox, &key_to, &present)) == 0 &&
            (rc = mdb_put(txn, inbox, &key_to, &v, 0)) == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    mdb_env_close(env);
    if (rc != 0)
        fail_msg("%s: cannot copy inbox leaf %llu over %llu: %s", g->state,
                 (unsigned long long)from, (unsigned long long)to, mdb_strerror(rc));
}

/* A folder glob could not read, other than one that is not there: without
 * this, glob skips it quietly and a count comes out short (an opendir that
 * fails for want of descriptors or memory would read as a lost file). */
static char glob_failed_path[1024];
static int glob_failed_errno;

static int glob_error(const char *path, int eerrno)
{
    if (eerrno == ENOENT || eerrno == ENOTDIR)
        return 0;
    snprintf(glob_failed_path, sizeof glob_failed_path, "%s", path);
    glob_failed_errno = eerrno;
    return 1;
}

/* glob(3) that fails the test on a read error; 0 or GLOB_NOMATCH otherwise. */
static int glob_checked(const char *pattern, glob_t *g)
{
    int rc = glob(pattern, 0, glob_error, g);
    if (rc == GLOB_ABORTED || rc == GLOB_NOSPACE) {
        globfree(g);
        fail_msg("glob %s: cannot read %s: %s", pattern,
                 rc == GLOB_NOSPACE ? "(memory)" : glob_failed_path,
                 rc == GLOB_NOSPACE ? "out of memory" : strerror(glob_failed_errno));
    }
    return rc;
}

bool net_wait_glob(const char *pattern, int timeout_ms, char *match, size_t cap)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        glob_t g;
        if (glob_checked(pattern, &g) == 0 && g.gl_pathc > 0) {
            if (match)
                snprintf(match, cap, "%s", g.gl_pathv[0]);
            globfree(&g);
            return true;
        }
        globfree(&g);
        sleep_ms(20);
    }
    return false;
}

size_t net_count_glob(const char *pattern)
{
    glob_t g;
    size_t n = glob_checked(pattern, &g) == 0 ? g.gl_pathc : 0;
    globfree(&g);
    return n;
}
