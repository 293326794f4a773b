/* Hostile input against the real broker (issue 8). One table: an authenticated
 * agency (police-b) sends every kind of garbage the issue names and each time
 * gets Rejected with a stable code and a sentence, on a connection that never
 * drops; in the same run, around every row, police-a's referrals are accepted
 * and reach la-csc, la-duty and guardian-x, once each. Strangers, plaintext
 * and PLAIN peers never get in. And after a whole case through real agents,
 * no child's detail is left in cleartext in any log or store.
 *
 * test_broker.c has one-shot versions of a few rows (random bytes, an oversize
 * frame, a sender that is not the connection, a forged signature, a repeat,
 * a stranger's key); here each row also proves the bystanders' traffic goes
 * on. */
#define _GNU_SOURCE /* memmem */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>
#include <zmq.h>

#include "childfirst/limits.h"
#include "childfirst/record.h"
#include "harness.h"

#define WAIT_MS 20000
#define ROUND 4 /* police-a's referrals in flight across each hostile row */

static const struct cf_keys *keys(struct net *n, const char *id)
{
    return net_agency(n, id)->keys;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Acknowledges a delivery report as `who`, so the sender's mailbox empties. */
static void ack_report(void *sock, const struct cf_keys *who, const struct cf_frame *r)
{
    struct cf_frame ack = {
        .kind = CF_FRAME_ACK, .leaf_index = r->report_leaf, .has_message_id = true};
    uint8_t hash[CF_HASH_LEN];
    memcpy(ack.message_id, r->message_id, CF_MESSAGE_ID_LEN);
    cf_envelope_hash(r->record, r->record_len, hash);
    assert_int_equal(cf_envelope_ack_sign(r->message_id, hash, CF_ACK_OK, who, ack.signature), 0);
    net_send(sock, &ack);
}

/* ---- The bystanders: police-a refers, three agencies receive ---- */

static const char *const receivers[] = {"la-csc", "la-duty", "guardian-x"};
#define N_RECEIVERS (sizeof receivers / sizeof receivers[0])

struct referral {
    uint8_t id[CF_MESSAGE_ID_LEN];
    uint8_t *env;
    size_t len;
    bool accepted;
    uint64_t leaf;
    unsigned delivered, reported;
};

struct bystanders {
    struct net *n;
    void *police, *to[N_RECEIVERS];
    struct referral m[ROUND];
    uint64_t seen[N_RECEIVERS][4096]; /* the leaves each receiver got, to catch a repeat */
    size_t n_seen[N_RECEIVERS];
    size_t total; /* police-a's referrals accepted and delivered everywhere so far */
};

static void *online(struct net *n, const char *id)
{
    void *s = net_connect(n, keys(n, id));
    struct cf_frame w;
    net_hello(s, 0, &w);
    cf_wire_frame_fini(&w);
    return s;
}

static void bystanders_start(struct net *n, struct bystanders *b)
{
    memset(b, 0, sizeof *b);
    b->n = n;
    b->police = online(n, "police-a");
    for (size_t i = 0; i < N_RECEIVERS; i++)
        b->to[i] = online(n, receivers[i]);
}

/* police-a puts ROUND fresh referrals in flight, unanswered. */
static void traffic_send(struct bystanders *b)
{
    for (size_t i = 0; i < ROUND; i++) {
        struct cf_header h;
        struct referral *m = &b->m[i];
        memset(m, 0, sizeof *m);
        net_referral(b->n, "police-a", &h, &m->env, &m->len);
        memcpy(m->id, h.message_id, sizeof m->id);
        struct cf_frame s = {.kind = CF_FRAME_SUBMIT, .envelope = m->env, .envelope_len = m->len};
        net_send(b->police, &s);
    }
}

static bool round_done(const struct bystanders *b)
{
    for (size_t i = 0; i < ROUND; i++)
        if (!b->m[i].accepted || b->m[i].delivered < N_RECEIVERS || b->m[i].reported < N_RECEIVERS)
            return false;
    return true;
}

static void at_police(struct bystanders *b, struct cf_frame *f, const char *row)
{
    if (f->kind == CF_FRAME_REJECTED)
        fail_msg("%s: police-a's referral was rejected: %s %s", row, f->code, f->reason);
    if (f->kind == CF_FRAME_DELIVER) /* a notice (a deadline, once the clock moves) */
        net_ack(b->police, keys(b->n, "police-a"), f);
    if (f->kind == CF_FRAME_ACCEPTED) {
        for (size_t i = 0; i < ROUND; i++)
            if (memcmp(b->m[i].id, f->message_id, CF_MESSAGE_ID_LEN) == 0) {
                if (b->m[i].accepted)
                    fail_msg("%s: police-a got two answers for one referral", row);
                b->m[i].accepted = true;
                b->m[i].leaf = f->leaf_index;
            }
    } else if (f->kind == CF_FRAME_REPORT) {
        size_t i = 0;
        while (i < ROUND && !(b->m[i].accepted && b->m[i].leaf == f->leaf_index))
            i++;
        if (i == ROUND)
            fail_msg("%s: a report about leaf %llu, which police-a did not send", row,
                     (unsigned long long)f->leaf_index);
        if (strcmp(f->outcome, "delivered") != 0)
            fail_msg("%s: %s answered police-a's referral with %s %s", row, f->recipient,
                     f->outcome, f->code);
        b->m[i].reported++;
        ack_report(b->police, keys(b->n, "police-a"), f);
    }
}

static void at_receiver(struct bystanders *b, size_t r, struct cf_frame *f, const char *row)
{
    if (f->kind != CF_FRAME_DELIVER)
        return;
    for (size_t k = 0; k < b->n_seen[r]; k++)
        if (b->seen[r][k] == f->leaf_index)
            fail_msg("%s: %s got leaf %llu twice", row, receivers[r],
                     (unsigned long long)f->leaf_index);
    assert_true(b->n_seen[r] < sizeof b->seen[r] / sizeof b->seen[r][0]);
    b->seen[r][b->n_seen[r]++] = f->leaf_index;
    for (size_t i = 0; i < ROUND; i++)
        if (f->envelope && f->envelope_len == b->m[i].len &&
            memcmp(f->envelope, b->m[i].env, b->m[i].len) == 0)
            b->m[i].delivered++;
    net_ack(b->to[r], keys(b->n, receivers[r]), f); /* anything else too: notices, police-b's */
}

/* Until every referral of the round is accepted, delivered to each receiver
 * and reported back to police-a; fails the row if that takes over WAIT_MS. */
static void traffic_settle(struct bystanders *b, const char *row)
{
    zmq_pollitem_t items[1 + N_RECEIVERS] = {{b->police, 0, ZMQ_POLLIN, 0}};
    for (size_t i = 0; i < N_RECEIVERS; i++)
        items[1 + i] = (zmq_pollitem_t){b->to[i], 0, ZMQ_POLLIN, 0};
    uint64_t deadline = mono_ms() + WAIT_MS;
    while (!round_done(b)) {
        if (mono_ms() > deadline) {
            unsigned accepted = 0, delivered = 0, reported = 0;
            for (size_t i = 0; i < ROUND; i++)
                accepted += b->m[i].accepted, delivered += b->m[i].delivered,
                    reported += b->m[i].reported;
            fail_msg("%s: police-a's traffic stopped: of %d referrals %u accepted, %u of %zu "
                     "deliveries and %u reports",
                     row, ROUND, accepted, delivered, ROUND * N_RECEIVERS, reported);
        }
        if (zmq_poll(items, 1 + N_RECEIVERS, 200) < 0)
            fail_msg("poll: %s", zmq_strerror(zmq_errno()));
        for (size_t i = 0; i < 1 + N_RECEIVERS; i++) {
            struct cf_frame f;
            if (!(items[i].revents & ZMQ_POLLIN) || net_recv(items[i].socket, &f, 0) != 0)
                continue;
            if (i == 0)
                at_police(b, &f, row);
            else
                at_receiver(b, i - 1, &f, row);
            cf_wire_frame_fini(&f);
        }
    }
    for (size_t i = 0; i < ROUND; i++)
        free(b->m[i].env);
    b->total += ROUND;
}

/* ---- The attacker: police-b, a real directory agency ---- */

struct attacker {
    struct net *n;
    void *sock, *monitor;
    const char *row;
};

/* The next answer to the attacker must be Rejected with `code` and a sentence. */
static void expect_rejected(struct attacker *a, const char *code)
{
    for (;;) {
        struct cf_frame f;
        if (net_recv(a->sock, &f, WAIT_MS) != 0)
            fail_msg("%s: no answer; expected Rejected %s", a->row, code);
        if (f.kind == CF_FRAME_REPORT) /* about its own accepted referral */
            ack_report(a->sock, keys(a->n, "police-b"), &f);
        if (f.kind == CF_FRAME_ACCEPTED)
            fail_msg("%s: accepted at leaf %llu; expected Rejected %s", a->row,
                     (unsigned long long)f.leaf_index, code);
        if (f.kind == CF_FRAME_WELCOME)
            fail_msg("%s: welcomed; expected Rejected %s", a->row, code);
        if (f.kind == CF_FRAME_REJECTED) {
            if (strcmp(f.code, code) != 0)
                fail_msg("%s: Rejected %s (%s); expected %s", a->row, f.code, f.reason, code);
            if (strlen(f.reason) <= 10)
                fail_msg("%s: Rejected %s without a sentence: '%s'", a->row, f.code, f.reason);
            cf_wire_frame_fini(&f);
            return;
        }
        cf_wire_frame_fini(&f);
    }
}

/* The attacker's next Submit answer: Accepted, at *leaf. */
static void expect_accepted(struct attacker *a, uint64_t *leaf)
{
    for (;;) {
        struct cf_frame f;
        if (net_recv(a->sock, &f, WAIT_MS) != 0)
            fail_msg("%s: no answer; expected Accepted", a->row);
        if (f.kind == CF_FRAME_REPORT)
            ack_report(a->sock, keys(a->n, "police-b"), &f);
        if (f.kind == CF_FRAME_REJECTED)
            fail_msg("%s: Rejected %s %s; expected Accepted", a->row, f.code, f.reason);
        bool done = f.kind == CF_FRAME_ACCEPTED;
        if (done && leaf)
            *leaf = f.leaf_index;
        cf_wire_frame_fini(&f);
        if (done)
            return;
    }
}

/* Its connection is the one it had: a Ping is answered, and the monitor has
 * seen no disconnection since the handshake. */
static void expect_alive(struct attacker *a)
{
    struct cf_frame f = {.kind = CF_FRAME_PING};
    randombytes_buf(&f.nonce, sizeof f.nonce);
    uint64_t nonce = f.nonce;
    net_send(a->sock, &f);
    for (;;) {
        if (net_recv(a->sock, &f, WAIT_MS) != 0)
            fail_msg("%s: police-b's Ping went unanswered", a->row);
        bool pong = f.kind == CF_FRAME_PONG && f.nonce == nonce;
        if (f.kind == CF_FRAME_REPORT)
            ack_report(a->sock, keys(a->n, "police-b"), &f);
        cf_wire_frame_fini(&f);
        if (pong)
            break;
    }
    const int dropped = ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED | ZMQ_EVENT_CONNECT_RETRIED;
    int event = net_monitor_wait(a->monitor, dropped, 1, NULL);
    if (event != 0)
        fail_msg("%s: police-b's connection dropped (monitor event %d)", a->row, event);
}

/* ---- Building hostile bytes ---- */

struct bytes {
    uint8_t *p;
    size_t len, cap;
};

static void put(struct bytes *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        b->cap = (b->len + len) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (len)
        memcpy(b->p + b->len, data, len);
    b->len += len;
}

static void put_varint(struct bytes *b, uint64_t v)
{
    uint8_t c;
    do {
        c = (uint8_t)(v & 0x7f) | (v > 0x7f ? 0x80 : 0);
        put(b, &c, 1);
        v >>= 7;
    } while (v);
}

/* A length-delimited field (wire type 2). */
static void put_field(struct bytes *b, unsigned field, const void *data, size_t len)
{
    put_varint(b, (uint64_t)field << 3 | 2);
    put_varint(b, len);
    put(b, data, len);
}

/* A varint field (wire type 0). */
static void put_uint(struct bytes *b, unsigned field, uint64_t v)
{
    put_varint(b, (uint64_t)field << 3);
    put_varint(b, v);
}

/* Frame{submit = Submit{envelope}}, by hand, so no encoder refuses it. */
static void submit_frame(const uint8_t *env, size_t len, struct bytes *out)
{
    struct bytes submit = {0};
    put_field(&submit, 1, env, len);
    put_field(out, 3, submit.p, submit.len);
    free(submit.p);
}

static void send_bytes(struct attacker *a, struct bytes *b)
{
    net_send_raw(a->sock, b->p, b->len);
    free(b->p);
    memset(b, 0, sizeof *b);
}

static void send_submit(struct attacker *a, const uint8_t *env, size_t len)
{
    struct bytes f = {0};
    submit_frame(env, len, &f);
    send_bytes(a, &f);
}

/* An envelope from police-b whose header is exactly `header` and whose
 * signature by `signer` is good: the broker's checks before the signature's
 * have to catch what is wrong with it. */
static void forge(struct net *n, const uint8_t *header, size_t header_len, const char *signer,
                  uint8_t **out, size_t *out_len)
{
    struct cf_header h;
    struct cf_envelope env;
    uint8_t *sealed;
    size_t sealed_len;
    net_referral(n, "police-b", &h, &sealed, &sealed_len);
    assert_int_equal(cf_envelope_decode(sealed, sealed_len, &env, &h, NULL), 0);
    uint8_t *kept = env.header;
    env.header = (uint8_t *)header;
    env.header_len = header_len;
    /* DESIGN.md section 4: "childfirst/v1/envelope\0" || B(header) ||
     * B(ciphertext) || B(keys bytes) || commit. */
    struct cf_envelope_digests d;
    cf_envelope_digests(&env, &d);
    uint8_t msg[23 + 4 * CF_HASH_LEN];
    memcpy(msg, "childfirst/v1/envelope", 23);
    memcpy(msg + 23, d.header, CF_HASH_LEN);
    memcpy(msg + 23 + CF_HASH_LEN, d.ciphertext, CF_HASH_LEN);
    memcpy(msg + 23 + 2 * CF_HASH_LEN, d.keys, CF_HASH_LEN);
    memcpy(msg + 23 + 3 * CF_HASH_LEN, d.commit, CF_HASH_LEN);
    crypto_sign_detached(env.signature, NULL, msg, sizeof msg, keys(n, signer)->sign_sk);
    assert_int_equal(cf_wire_envelope_encode(&env, out, out_len), 0);
    env.header = kept;
    cf_envelope_fini(&env);
    free(sealed);
}

/* A referral header from police-b with `edit` applied, sealed and signed by
 * `signer` through the library (so it must pass the library's own checks). */
static void sealed_as(struct net *n, const char *signer, void (*edit)(struct cf_header *),
                      uint8_t **env, size_t *len)
{
    struct cf_header h;
    net_referral_header(n, "police-b", &h);
    if (edit)
        edit(&h);
    net_seal_as(n, &h, (const uint8_t *)NET_PAYLOAD, sizeof NET_PAYLOAD, keys(n, signer), env, len);
}

/* A police-b referral header with `edit` applied, encoded without checks. */
static void header_bytes(struct net *n, void (*edit)(struct cf_header *), struct bytes *out)
{
    struct cf_header h;
    uint8_t *buf;
    size_t len;
    net_referral_header(n, "police-b", &h);
    if (edit)
        edit(&h);
    assert_int_equal(cf_wire_header_encode(&h, &buf, &len), 0);
    put(out, buf, len);
    free(buf);
}

/* ---- The rows ---- */

/* BLAKE2b-256 of frames some rows send whole, which the log's rejected
 * records must name: the audit trail says what was refused. */
static uint8_t rejected_hashes[16][CF_HASH_LEN];
static size_t n_rejected_hashes;

static void row_random_bytes(struct attacker *a)
{
    static const size_t sizes[] = {1, 256, 65536};
    uint8_t seed[randombytes_SEEDBYTES] = {8};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t *noise = malloc(sizes[i]);
        assert_non_null(noise);
        seed[1] = (uint8_t)i;
        randombytes_buf_deterministic(noise, sizes[i], seed);
        cf_envelope_hash(noise, sizes[i], rejected_hashes[n_rejected_hashes++]);
        net_send_raw(a->sock, noise, sizes[i]);
        free(noise);
        expect_rejected(a, "CF_EDECODE");
    }
    net_send_raw(a->sock, "", 0); /* and an empty frame */
    expect_rejected(a, "CF_EDECODE");
    /* Two parts in one message, each a valid Ping. */
    struct cf_frame ping = {.kind = CF_FRAME_PING, .nonce = 1};
    uint8_t *one;
    size_t one_len;
    assert_int_equal(cf_wire_frame_encode(&ping, &one, &one_len), 0);
    const void *parts[] = {one, one};
    const size_t lens[] = {one_len, one_len};
    net_send_parts(a->sock, parts, lens, 2);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, CF_HASH_LEN);
    crypto_generichash_update(&st, one, one_len);
    crypto_generichash_update(&st, one, one_len);
    crypto_generichash_final(&st, rejected_hashes[n_rejected_hashes++], CF_HASH_LEN);
    free(one);
    expect_rejected(a, "CF_EDECODE");
}

/* A good Submit cut short at every length that matters, then sent whole: the
 * cut ones were not taken for it. */
static void row_truncated(struct attacker *a)
{
    uint8_t *env;
    size_t len;
    struct cf_header h;
    net_referral(a->n, "police-b", &h, &env, &len);
    struct bytes f = {0};
    submit_frame(env, len, &f);
    const size_t cuts[] = {1, 2, 3, 5, f.len / 2, f.len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        net_send_raw(a->sock, f.p, cuts[i]);
        expect_rejected(a, "CF_EDECODE");
    }
    /* A whole frame around an envelope cut short. */
    send_submit(a, env, len - 1);
    expect_rejected(a, "CF_EDECODE");
    send_bytes(a, &f);
    expect_accepted(a, NULL);
    free(env);
}

/* Above the application limits, below the transport's (ZMQ_MAXMSGSIZE), so
 * the broker reads them and answers instead of dropping the connection. */
static void row_oversize(struct attacker *a)
{
    static const size_t frames[] = {CF_MAX_FRAME + 1, CF_MAX_TRANSPORT - 4096};
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
        uint8_t *big = calloc(1, frames[i]);
        assert_non_null(big);
        cf_envelope_hash(big, frames[i], rejected_hashes[n_rejected_hashes++]);
        net_send_raw(a->sock, big, frames[i]);
        free(big);
        expect_rejected(a, "CF_ETOOBIG");
    }
    /* A frame within its limit around an envelope over its own. */
    uint8_t *env = calloc(1, CF_MAX_ENVELOPE + 1);
    assert_non_null(env);
    send_submit(a, env, CF_MAX_ENVELOPE + 1);
    free(env);
    expect_rejected(a, "CF_ETOOBIG");
}

/* A police-b referral header, by hand in canonical field order, with
 * `recipients` of them: the encoder's own limits cannot stop it. */
static void header_with(struct net *n, size_t recipients, struct bytes *out)
{
    struct cf_header h;
    net_referral_header(n, "police-b", &h);
    put_uint(out, 1, h.version);
    put_field(out, 2, h.message_id, sizeof h.message_id);
    put_field(out, 3, h.case_id, strlen(h.case_id));
    put_uint(out, 4, h.type);
    put_field(out, 5, h.sender, strlen(h.sender));
    for (size_t i = 0; i < recipients; i++) {
        char id[16];
        int len = i < 3 ? snprintf(id, sizeof id, "%s", h.recipients[i])
                        : snprintf(id, sizeof id, "agency-%05zu", i);
        put_field(out, 6, id, (size_t)len);
    }
    put_uint(out, 7, h.created_at);
    put_field(out, 8, h.jurisdiction, strlen(h.jurisdiction));
    put_field(out, 9, h.la_code, strlen(h.la_code));
    put_uint(out, 10, h.urgency);
    put_uint(out, 11, h.immediate_risk);
}

static void row_10000_recipients(struct attacker *a)
{
    /* 10,000 recipients, signed: past the header's size limit. Then one over
     * the count limit, within the size limit. */
    static const size_t counts[] = {10000, CF_MAX_RECIPIENTS + 1};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        struct bytes hdr = {0};
        uint8_t *env;
        size_t len;
        header_with(a->n, counts[i], &hdr);
        forge(a->n, hdr.p, hdr.len, "police-b", &env, &len);
        free(hdr.p);
        send_submit(a, env, len);
        free(env);
        expect_rejected(a, "CF_ETOOBIG");
    }
}

static void row_repeated_fields(struct attacker *a)
{
    /* A header whose version field comes again: a non-canonical header
     * cannot be signed once and read two ways. 3,000 times, and protobuf-c's
     * scan of it outgrows the decoder's memory budget first. */
    static const struct {
        int repeats;
        const char *code;
    } versions[] = {{10, "CF_ECANON"}, {3000, "CF_EDECODE"}};
    uint8_t *env;
    size_t len;
    for (size_t k = 0; k < sizeof versions / sizeof versions[0]; k++) {
        struct bytes hdr = {0};
        header_bytes(a->n, NULL, &hdr);
        for (int i = 0; i < versions[k].repeats; i++)
            put_uint(&hdr, 1, 1);
        forge(a->n, hdr.p, hdr.len, "police-b", &env, &len);
        free(hdr.p);
        send_submit(a, env, len);
        free(env);
        expect_rejected(a, versions[k].code);
    }

    /* A frame whose submit field comes 100,000 times, each around a broken
     * envelope: one allocation per repeat would be 100,000. */
    struct bytes f = {0}, one = {0};
    submit_frame((const uint8_t *)"\x0a\x01", 2, &one);
    for (int i = 0; i < 100000; i++)
        put(&f, one.p, one.len);
    free(one.p);
    send_bytes(a, &f);
    expect_rejected(a, "CF_EDECODE");

    /* Groups nested 200,000 deep (wire type 3), which no ChildFirst message
     * has: refused, not recursed into. */
    for (int i = 0; i < 200000; i++)
        put_varint(&f, 3u << 3 | 3);
    send_bytes(a, &f);
    expect_rejected(a, "CF_EDECODE");

    /* An envelope whose key list is 10,000 entries long. */
    net_referral(a->n, "police-b", &(struct cf_header){0}, &env, &len);
    put(&f, env, len);
    free(env);
    struct bytes entry = {0};
    uint8_t sealed[80] = {0};
    put_field(&entry, 1, "la-csc", 6);
    put_field(&entry, 2, sealed, sizeof sealed);
    for (int i = 0; i < 10000; i++)
        put_field(&f, 3, entry.p, entry.len);
    free(entry.p);
    send_submit(a, f.p, f.len);
    free(f.p);
    expect_rejected(a, "CF_ETOOBIG");
}

static void version_2(struct cf_header *h)
{
    h->version = 2;
}

static void row_wrong_version(struct attacker *a)
{
    struct bytes hdr = {0};
    header_bytes(a->n, version_2, &hdr);
    uint8_t *env;
    size_t len;
    forge(a->n, hdr.p, hdr.len, "police-b", &env, &len);
    free(hdr.p);
    send_submit(a, env, len);
    free(env);
    expect_rejected(a, "CF_EVERSION");
    /* A Hello from an agent of another protocol version is not welcomed. */
    static const uint32_t versions[] = {0, 2, UINT32_MAX};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        struct cf_frame hello = {.kind = CF_FRAME_HELLO, .version = versions[i]};
        net_send(a->sock, &hello);
        expect_rejected(a, "CF_EVERSION");
    }
}

/* police-b's own referral, accepted once, sent again as it was: the original
 * receipt, no new leaf, and no second delivery (the bystanders' receivers
 * would fail on it). police-a's envelope replayed by police-b is not its. */
static uint8_t *replay_env;
static size_t replay_len;
static uint64_t replay_leaf;

static void row_replay(struct attacker *a)
{
    struct cf_header h;
    struct cf_status before, after;
    net_referral(a->n, "police-b", &h, &replay_env, &replay_len);
    send_submit(a, replay_env, replay_len);
    expect_accepted(a, &replay_leaf);
    net_status(a->sock, &before);
    for (int i = 0; i < 3; i++) {
        uint64_t leaf;
        send_submit(a, replay_env, replay_len);
        expect_accepted(a, &leaf);
        assert_int_equal(leaf, replay_leaf);
    }
    net_status(a->sock, &after);
    assert_int_equal(after.tree_size, before.tree_size);

    uint8_t *theirs;
    size_t theirs_len;
    net_referral(a->n, "police-a", &h, &theirs, &theirs_len);
    send_submit(a, theirs, theirs_len);
    free(theirs);
    expect_rejected(a, "CF_ESENDER");
}

static uint64_t stamp;
static void created_at(struct cf_header *h)
{
    h->created_at = stamp;
}

static void row_created_at(struct attacker *a)
{
    const uint64_t day = 24ull * 3600 * 1000, now = net_now();
    const struct {
        uint64_t at;
        const char *code;
    } cases[] = {
        {0, "CF_ESTALE"},              /* 1970 */
        {now - 15 * day, "CF_ESTALE"}, /* past max_message_age_hours = 336 */
        {now + day, "CF_EFUTURE"},     /* past max_clock_skew_seconds = 300 */
        {UINT64_MAX, "CF_EFUTURE"},    /* no wrap-around into the past */
        {UINT64_MAX - 1000, "CF_EFUTURE"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *env;
        size_t len;
        stamp = cases[i].at;
        sealed_as(a->n, "police-b", created_at, &env, &len);
        send_submit(a, env, len);
        free(env);
        expect_rejected(a, cases[i].code);
    }
}

static void as_police_a(struct cf_header *h)
{
    strcpy(h->sender, "police-a");
}

static void as_nobody(struct cf_header *h)
{
    strcpy(h->sender, "nobody-x");
}

static void row_spoofed_sender(struct attacker *a)
{
    /* The library will not seal these, so they are signed by hand. */
    static const struct {
        void (*edit)(struct cf_header *);
        const char *signer, *code;
    } spoofs[] = {
        {as_police_a, "police-b", "CF_ESENDER"}, /* claims police-a, signed by itself */
        {as_police_a, "police-a",
         "CF_ESENDER"},                        /* police-a's in every byte, but sent by police-b */
        {as_nobody, "police-b", "CF_ESENDER"}, /* an agency no directory has */
        {NULL, "police-a", "CF_ESIG"},         /* its own name, another agency's key */
    };
    for (size_t i = 0; i < sizeof spoofs / sizeof spoofs[0]; i++) {
        struct bytes hdr = {0};
        uint8_t *env;
        size_t len;
        header_bytes(a->n, spoofs[i].edit, &hdr);
        forge(a->n, hdr.p, hdr.len, spoofs[i].signer, &env, &len);
        free(hdr.p);
        send_submit(a, env, len);
        free(env);
        expect_rejected(a, spoofs[i].code);
    }
}

/* The replayed referral again once it is older than max_message_age_hours:
 * stale, however genuine. Last, since it moves the network's clock. */
static void past_the_age_limit(struct attacker *a)
{
    net_clock_advance(a->n, (336 + 1) * 3600000ll);
}

static void row_replay_when_stale(struct attacker *a)
{
    send_submit(a, replay_env, replay_len);
    expect_rejected(a, "CF_ESTALE");
    free(replay_env);
    replay_env = NULL;
}

static const struct row {
    const char *name;
    void (*run)(struct attacker *);
    void (*before)(struct attacker *); /* before the bystanders' round starts */
} rows[] = {
    {"random bytes", row_random_bytes, NULL},
    {"truncated frames", row_truncated, NULL},
    {"oversize frames", row_oversize, NULL},
    {"10,000 recipients", row_10000_recipients, NULL},
    {"deeply repeated fields", row_repeated_fields, NULL},
    {"wrong protocol version", row_wrong_version, NULL},
    {"a replayed old message", row_replay, NULL},
    {"created_at far in the past or future", row_created_at, NULL},
    {"a spoofed sender", row_spoofed_sender, NULL},
    {"a replay past the message age limit", row_replay_when_stale, past_the_age_limit},
};

/* ---- Tests ---- */

static int setup(void **state)
{
    struct net *n = calloc(1, sizeof *n);
    net_create(n, NULL);
    net_add_agency(n, "police-b", "first_responder police", "E09000033", NULL);
    net_sign_directory(n, 1);
    net_broker_start(n);
    *state = n;
    return 0;
}

static int teardown(void **state)
{
    struct net *n = *state;
    for (size_t i = 0; i < n->n; i++)
        if (n->agents[i].pid > 0)
            net_agent_stop(n, n->agencies[i].id);
    net_broker_stop(n); /* asserts a clean exit: a sanitizer report fails the test */
    net_destroy(n);
    free(n);
    return 0;
}

static void test_garbage_is_rejected_and_traffic_continues(void **state)
{
    struct net *n = *state;
    static struct bystanders b;
    struct attacker a = {.n = n, .row = "hello"};
    bystanders_start(n, &b);
    const int done = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    a.sock = net_connect_monitored(n, keys(n, "police-b"), &a.monitor);
    assert_int_equal(net_monitor_wait(a.monitor, done, WAIT_MS, NULL),
                     ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    struct cf_frame w;
    net_hello(a.sock, 0, &w);
    cf_wire_frame_fini(&w);

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        a.row = rows[i].name;
        print_message("row: %s\n", a.row);
        if (rows[i].before)
            rows[i].before(&a);
        traffic_send(&b);
        rows[i].run(&a);
        traffic_settle(&b, a.row);
        expect_alive(&a);
    }
    /* And police-b, still on its first connection, is heard as before. */
    a.row = "a good referral after all that";
    uint8_t *env;
    size_t len;
    sealed_as(n, "police-b", NULL, &env, &len);
    traffic_send(&b);
    send_submit(&a, env, len);
    expect_accepted(&a, NULL);
    free(env);
    traffic_settle(&b, a.row);
    expect_alive(&a);
    assert_int_equal(b.total, ROUND * (1 + sizeof rows / sizeof rows[0]));

    /* Every rejection was logged with its code, and the log still verifies. */
    net_broker_stop(n);
    static const char *const logged[] = {
        "MESSAGE-REJECTED sender=police-b code=CF_EDECODE",
        "MESSAGE-REJECTED sender=police-b code=CF_ETOOBIG",
        "MESSAGE-REJECTED sender=police-b code=CF_ECANON",
        "MESSAGE-REJECTED sender=police-b code=CF_EVERSION",
        "HELLO-REFUSED agency=police-b",
        "MESSAGE-REJECTED sender=police-b code=CF_ESENDER",
        "MESSAGE-REJECTED sender=police-b code=CF_ESTALE",
        "MESSAGE-REJECTED sender=police-b code=CF_EFUTURE",
        "MESSAGE-REJECTED sender=police-b code=CF_ESIG",
        "MESSAGE-REPEATED",
    };
    for (size_t i = 0; i < sizeof logged / sizeof logged[0]; i++)
        if (!net_file_contains(n->broker_log, logged[i]))
            fail_msg("the broker's log lacks '%s'", logged[i]);
    char out[4096], err[4096];
    if (net_audit_verify(n, n->state_dir, out, sizeof out, err, sizeof err) != 0)
        fail_msg("audit verify after the hostile run:\n%s%s", out, err);

    /* Each rejected leaf holds the hash of the frame it refused: the ones
     * sent whole are all there, and none is a placeholder. */
    static const uint8_t zero[CF_HASH_LEN];
    bool named[16] = {false};
    size_t rejected = 0;
    for (uint64_t i = 0, size = net_log_size(n); i < size; i++) {
        uint8_t *bytes;
        size_t bytes_len;
        struct cf_record r;
        net_log_record(n, i, &bytes, &bytes_len);
        assert_int_equal(cf_wire_record_decode(bytes, bytes_len, &r, NULL), 0);
        if (r.event == CF_EVENT_REJECTED && strcmp(r.actor, "police-b") == 0) {
            rejected++;
            if (!r.has_frame_hash || memcmp(r.frame_hash, zero, sizeof zero) == 0)
                fail_msg("rejected leaf %llu (%s) names no frame", (unsigned long long)i, r.code);
            for (size_t k = 0; k < n_rejected_hashes; k++)
                named[k] = named[k] || memcmp(r.frame_hash, rejected_hashes[k], CF_HASH_LEN) == 0;
        }
        cf_wire_record_fini(&r);
        free(bytes);
    }
    assert_true(rejected >= 30);
    for (size_t k = 0; k < n_rejected_hashes; k++)
        if (!named[k])
            fail_msg("no rejected leaf names hostile frame %zu of the random, multi-part or "
                     "oversize rows",
                     k);
}

/* A peer whose handshake must fail: the monitor says so, nothing it sends is
 * answered, and police-a's traffic carries on meanwhile. */
static void refused(struct net *n, struct bystanders *b, void *s, void *monitor, const char *who,
                    int want)
{
    const int done = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    traffic_send(b);
    int event = net_monitor_wait(monitor, done, WAIT_MS, NULL);
    if (!(event & want)) /* libzmq reports a mismatch with or without the detail */
        fail_msg("%s: handshake event %d, expected one of %#x", who, event, want);
    struct cf_frame ping = {.kind = CF_FRAME_PING, .nonce = 1}, f;
    uint8_t *buf;
    size_t len;
    assert_int_equal(cf_wire_frame_encode(&ping, &buf, &len), 0);
    zmq_send(s, buf, len, ZMQ_DONTWAIT); /* queued at most: there is no connection */
    free(buf);
    if (net_recv(s, &f, 500) == 0)
        fail_msg("%s: got an answer (frame kind %d)", who, f.kind);
    traffic_settle(b, who);
    net_close(n, s);
}

static void *monitored(struct net *n, void *s, void **monitor)
{
    static unsigned serial;
    char addr[64];
    int zero = 0;
    snprintf(addr, sizeof addr, "inproc://hostile-monitor-%u", serial++);
    assert_int_equal(zmq_socket_monitor(s, addr, ZMQ_EVENT_ALL), 0);
    *monitor = zmq_socket(n->zmq, ZMQ_PAIR);
    assert_non_null(*monitor);
    assert_int_equal(zmq_setsockopt(*monitor, ZMQ_LINGER, &zero, sizeof zero), 0);
    assert_int_equal(zmq_connect(*monitor, addr), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), 0);
    assert_int_equal(zmq_connect(s, n->endpoint), 0);
    return s;
}

#define NOT_CURVE (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)

static void test_unauthenticated_peers_are_refused(void **state)
{
    struct net *n = *state;
    static struct bystanders b;
    void *monitor, *s;
    bystanders_start(n, &b);

    /* No security at all (ZMQ_NULL): the CURVE server will not talk to it. */
    s = monitored(n, zmq_socket(n->zmq, ZMQ_DEALER), &monitor);
    refused(n, &b, s, monitor, "a plaintext (NULL) peer", NOT_CURVE);
    zmq_close(monitor);

    /* PLAIN, naming an agency and any password. */
    s = zmq_socket(n->zmq, ZMQ_DEALER);
    assert_int_equal(zmq_setsockopt(s, ZMQ_PLAIN_USERNAME, "police-a", 8), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_PLAIN_PASSWORD, "police-a", 8), 0);
    monitored(n, s, &monitor);
    refused(n, &b, s, monitor, "a PLAIN peer", NOT_CURVE);
    zmq_close(monitor);

    /* CURVE with a key no directory has. */
    s = net_connect_monitored(n, n->stranger, &monitor);
    refused(n, &b, s, monitor, "a stranger's CURVE key", ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);

    /* CURVE with la-csc's public key but not its secret. */
    struct cf_keys *fake;
    assert_int_equal(cf_keys_generate(CF_KEYS_AGENCY, "la-csc", &fake, NULL), 0);
    memcpy(fake->curve_pk, keys(n, "la-csc")->curve_pk, sizeof fake->curve_pk);
    s = net_connect_monitored(n, fake, &monitor);
    cf_keys_destroy(&fake);
    refused(n, &b, s, monitor, "la-csc's public CURVE key without its secret", NOT_CURVE);

    net_broker_stop(n);
    assert_true(net_file_contains(n->broker_log, "ZAP-DENIED"));
    assert_false(net_file_contains(n->broker_log, "FRAME-UNATTRIBUTED"));
}

/* ---- Secrets stay secret: a whole case through real agents ---- */

static const char *const cast[] = {"police-a", "la-csc",     "la-duty",
                                   "health-x", "guardian-x", "home-office-ew"};
#define N_CAST (sizeof cast / sizeof cast[0])

static int setup_agents(void **state)
{
    struct net *n = calloc(1, sizeof *n);
    net_create(n, NULL);
    net_add_agency(n, "home-office-ew", "home_office", "", "england-wales");
    net_sign_directory(n, 1);
    net_broker_start(n);
    for (size_t i = 0; i < N_CAST; i++) {
        net_agent_setup(n, cast[i], NULL);
        net_agent_start(n, cast[i], NULL);
    }
    *state = n;
    return 0;
}

/* What the deploy/examples documents say, which no log or store may hold in
 * cleartext: the referral's child, referrer and narrative, and the text of
 * every conference message after it. */
static const char *const secrets[] = {
    "Amanuel",                                      /* referral: the child */
    "Testchild",                                    /* referral: family name */
    "Emmanuel T",                                   /* referral: an alias */
    "PC Jordan Example",                            /* referral: the referrer */
    "jordan.example@example.org",                   /* referral: the referrer's email */
    "Victoria Coach Station",                       /* referral: location and narrative */
    "a man he calls 'the uncle'",                   /* referral: narrative */
    "340 pounds in cash",                           /* referral: indicators */
    "FICTIONAL EXAMPLE",                            /* every message's text */
    "told not to let him leave",                    /* acknowledgement */
    "Assessment Team 2",                            /* acknowledgement */
    "check the two phones under warrant",           /* strategy_record */
    "Westminster City Hall, Room 4.2",              /* conference_convened */
    "gathered with his guardian",                   /* conference_convened: agenda */
    "a line supplying drugs in two towns",          /* contribution */
    "no further action on the possession offences", /* contribution */
    "recruited, moved and harboured",               /* determination_proposed: reasons */
    "to go to school",                              /* determination_proposed: child's views */
    "Guardian to visit weekly",                     /* determination_proposed: plan */
    "Police agree the reasonable grounds decision", /* vote: comment */
};
#define N_SECRETS (sizeof secrets / sizeof secrets[0])

/* The examples' deployment ids, and the test network's agencies in their place. */
static const char *const example_ids[][2] = {
    {"la-e09000033-csc", "la-csc"},
    {"police-met", "police-a"},
    {"health-nwl", "health-x"},
    {"guardian-ictg", "guardian-x"},
    {"home-office-liaison", "home-office-ew"},
};

static void map_ids(json_t *v)
{
    size_t i;
    const char *key;
    json_t *x;
    if (json_is_object(v)) {
        json_object_foreach(v, key, x) map_ids(x);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x) map_ids(x);
    } else if (json_is_string(v)) {
        for (size_t k = 0; k < sizeof example_ids / sizeof example_ids[0]; k++)
            if (strcmp(json_string_value(v), example_ids[k][0]) == 0)
                json_string_set(v, example_ids[k][1]);
    }
}

static char cli_out[1 << 16], cli_err[1 << 14];

/* `childfirst send TYPE --case ID` with deploy/examples/TYPE.json, its ids
 * mapped (and a vote's proposal_id set), as `id`: it must be accepted. */
static void send_example(struct net *n, const char *id, const char *type, const char *case_id,
                         const char *proposal_id)
{
    char path[700], file[700];
    json_error_t je;
    snprintf(path, sizeof path, "%s/deploy/examples/%s.json", CF_SOURCE_DIR, type);
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        fail_msg("%s: %s", path, je.text);
    map_ids(doc);
    if (proposal_id)
        json_object_set_new(doc, "proposal_id", json_string(proposal_id));
    snprintf(file, sizeof file, "%s/input", n->dir);
    mkdir(file, 0700); /* skipped by the scan: it is the agencies' own input */
    snprintf(file, sizeof file, "%s/input/%s-%s.json", n->dir, id, type);
    assert_int_equal(json_dump_file(doc, file, 0), 0);
    json_decref(doc);
    const char *args[] = {"send", type, "--case", case_id, file, NULL};
    int rc = net_cli(n, id, args, cli_out, sizeof cli_out, cli_err, sizeof cli_err);
    if (rc != 0 || !strstr(cli_out, "\"accepted\""))
        fail_msg("childfirst send %s as %s exited %d:\n%s%s", type, id, rc, cli_out, cli_err);
}

/* The decrypted spool file `id` wrote for the case's first `type`. */
static json_t *spooled(struct net *n, const char *id, const char *case_id, const char *type)
{
    char pattern[900], match[900];
    json_error_t je;
    snprintf(pattern, sizeof pattern, "%s/inbox/%s/*-%s.json", net_agent_of(n, id)->spool, case_id,
             type);
    if (!net_wait_glob(pattern, WAIT_MS, match, sizeof match))
        fail_msg("%s received no %s in %s within %d ms", id, type, case_id, WAIT_MS);
    json_t *doc = json_load_file(match, 0, &je);
    if (!doc)
        fail_msg("%s: %s", match, je.text);
    return doc;
}

/* Every regular file under `dir`, recursively, but for the folders in `skip`:
 * none may hold a secret. With `found` set, marks instead which secrets the
 * files do hold. Returns how many files it read. */
static size_t scan(const char *dir, const char *const *skip, size_t n_skip, bool *found)
{
    size_t files = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        fail_msg("cannot read %s", dir);
    while ((e = readdir(d)) != NULL) {
        char path[2048];
        struct stat st;
        bool skipped = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        for (size_t i = 0; i < n_skip; i++)
            skipped = skipped || strcmp(path, skip[i]) == 0;
        if (skipped || lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            files += scan(path, skip, n_skip, found);
            continue;
        }
        if (!S_ISREG(st.st_mode))
            continue;
        files++;
        for (size_t i = 0; i < N_SECRETS; i++) {
            bool here = net_file_contains(path, secrets[i]);
            if (found)
                found[i] = found[i] || here;
            else if (here)
                fail_msg("%s holds \"%s\" in cleartext", path, secrets[i]);
        }
    }
    closedir(d);
    return files;
}

static void test_no_secret_in_any_log_or_store(void **state)
{
    struct net *n = *state;
    const char *args[] = {"refer", CF_SOURCE_DIR "/deploy/examples/referral.json", NULL};
    if (net_cli(n, "police-a", args, cli_out, sizeof cli_out, cli_err, sizeof cli_err) != 0)
        fail_msg("childfirst refer: %s%s", cli_out, cli_err);
    json_t *receipt = json_loads(cli_out, 0, NULL);
    assert_non_null(receipt);
    char case_id[64], proposal[64];
    snprintf(case_id, sizeof case_id, "%s", json_string_value(json_object_get(receipt, "case_id")));
    json_decref(receipt);

    /* The case as the examples tell it, to the sealed determination. */
    json_decref(spooled(n, "la-csc", case_id, "referral"));
    send_example(n, "la-csc", "acknowledgement", case_id, NULL);
    json_decref(spooled(n, "police-a", case_id, "acknowledgement"));
    send_example(n, "la-csc", "strategy_record", case_id, NULL);
    json_decref(spooled(n, "health-x", case_id, "strategy_record"));
    send_example(n, "la-csc", "conference_convened", case_id, NULL);
    json_decref(spooled(n, "home-office-ew", case_id, "conference_convened"));
    send_example(n, "police-a", "contribution", case_id, NULL);
    json_decref(spooled(n, "guardian-x", case_id, "contribution"));
    send_example(n, "la-csc", "determination_proposed", case_id, NULL);
    static const char *const voters[] = {"la-csc", "police-a", "health-x"};
    for (size_t i = 0; i < sizeof voters / sizeof voters[0]; i++) {
        json_t *p = spooled(n, voters[i], case_id, "determination_proposed");
        snprintf(proposal, sizeof proposal, "%s",
                 json_string_value(json_object_get(p, "message_id")));
        json_decref(p);
        send_example(n, voters[i], "vote", case_id, proposal);
    }
    static const char *const readers[] = {"la-csc",     "police-a", "health-x",
                                          "guardian-x", "la-duty",  "home-office-ew"};
    for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++)
        json_decref(spooled(n, readers[i], case_id, "determination"));

    for (size_t i = 0; i < N_CAST; i++)
        net_agent_stop(n, cast[i]);
    net_broker_stop(n);

    /* The needles are real: each secret reached some recipient's spool. */
    bool found[N_SECRETS] = {false};
    for (size_t i = 0; i < N_CAST; i++)
        scan(net_agent_of(n, cast[i])->spool, NULL, 0, found);
    for (size_t i = 0; i < N_SECRETS; i++)
        if (!found[i])
            fail_msg("no recipient's spool holds \"%s\": the scan would prove nothing", secrets[i]);

    /* Everything else the network wrote: the broker's store (data.mdb) and
     * log, each agent's store and log. Only the spools hold decrypted text,
     * and the input folder the agencies' own documents. */
    const char *skip[N_CAST + 1];
    char input[700];
    for (size_t i = 0; i < N_CAST; i++)
        skip[i] = net_agent_of(n, cast[i])->spool;
    snprintf(input, sizeof input, "%s/input", n->dir);
    skip[N_CAST] = input;
    size_t files = scan(n->dir, skip, N_CAST + 1, NULL);
    char path[700];
    snprintf(path, sizeof path, "%s/data.mdb", n->state_dir);
    assert_true(net_file_contains(path, case_id)); /* the broker's store was read, and holds it */
    for (size_t i = 0; i < N_CAST; i++) {
        snprintf(path, sizeof path, "%s/data.mdb", net_agent_of(n, cast[i])->state);
        assert_int_equal(access(path, R_OK), 0);
        assert_int_equal(access(net_agent_of(n, cast[i])->log, R_OK), 0);
    }
    assert_true(files >= 2 + 2 * N_CAST);
}

/* ---- The agent's control socket: any local caller's bytes ---- */

/* Writes `len` bytes on id's control socket, then ends its writing side if
 * `hang_up`; the agent's one answer frame as JSON, or NULL if it closed
 * without one. */
static json_t *control_raw(struct net *n, const char *id, const void *bytes, size_t len,
                           bool hang_up)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    char path[700];
    snprintf(path, sizeof path, "%s/%s/agent.sock", n->dir, id);
    assert_true(strlen(path) < sizeof addr.sun_path);
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
        fail_msg("connect %s: %s", addr.sun_path, strerror(errno));
    assert_int_equal(send(fd, bytes, len, MSG_NOSIGNAL), (ssize_t)len);
    if (hang_up)
        shutdown(fd, SHUT_WR);
    static uint8_t buf[1 << 16];
    size_t got = 0;
    uint64_t deadline = mono_ms() + WAIT_MS;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (mono_ms() > deadline || poll(&p, 1, 200) < 0)
            fail_msg("%s: the control socket neither answered nor closed", id);
        ssize_t r = recv(fd, buf + got, sizeof buf - got, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
            break;
        if (r > 0)
            got += (size_t)r;
        if (got >= 4 &&
            got >= 4 + ((size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 | buf[3]))
            break;
    }
    close(fd);
    if (got == 0)
        return NULL;
    assert_true(got > 4);
    json_t *ans = json_loadb((const char *)buf + 4, got - 4, 0, NULL);
    assert_non_null(ans);
    return ans;
}

static json_t *control_json(struct net *n, const char *id, const char *body)
{
    uint8_t frame[4096];
    size_t len = strlen(body);
    assert_true(len + 4 <= sizeof frame);
    frame[0] = (uint8_t)(len >> 24), frame[1] = (uint8_t)(len >> 16);
    frame[2] = (uint8_t)(len >> 8), frame[3] = (uint8_t)len;
    memcpy(frame + 4, body, len);
    return control_raw(n, id, frame, len + 4, false);
}

static void expect_refusal(json_t *ans, const char *code, const char *what)
{
    if (!ans)
        fail_msg("%s: the agent closed without an answer", what);
    const char *got = json_string_value(json_object_get(ans, "code"));
    const char *reason = json_string_value(json_object_get(ans, "reason"));
    if (!json_is_false(json_object_get(ans, "ok")) || !got || (code && strcmp(got, code) != 0) ||
        !reason || strlen(reason) <= 10)
        fail_msg("%s: answered %s, expected ok false with %s and a reason", what,
                 json_dumps(ans, JSON_COMPACT), code ? code : "a code");
    json_decref(ans);
}

static void test_agent_control_socket_refuses_garbage(void **state)
{
    struct net *n = *state;
    static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, '{'}, empty[] = {0, 0, 0, 0},
                         cut[] = {0, 0, 0, 100, '{', '"', 'c', 'm', 'd'};
    expect_refusal(control_raw(n, "police-a", huge, sizeof huge, false), "CF_ETOOBIG",
                   "a 4 GiB length");
    expect_refusal(control_raw(n, "police-a", empty, sizeof empty, false), "CF_EJSON",
                   "an empty frame");
    assert_null(control_raw(n, "police-a", cut, sizeof cut, true)); /* cut short, then gone */
    static const struct {
        const char *body, *code;
    } bad[] = {
        {"not json!!", "CF_EJSON"},
        {"[\"status\"]", "CF_EJSON"},
        {"{\"cmd\":\"status\",\"cmd\":\"inbox\"}", "CF_EJSON"},
        {"{\"cmd\":\"sta\\u0000tus\"}", "CF_EJSON"},
        {"{}", "CF_EFIELD"},
        {"{\"cmd\":\"rm -rf /\"}", "CF_EINVAL"},
        {"{\"cmd\":\"status\",\"as\":\"root\"}", "CF_EFIELD"},
        {"{\"cmd\":\"show\",\"message_id\":42}", NULL},
        {"{\"cmd\":\"show\",\"message_id\":\"zz\"}", NULL},
        {"{\"cmd\":\"inbox\",\"case_id\":\"../../../etc\"}", NULL},
        {"{\"cmd\":\"refer\",\"text\":\"{}\",\"wait_s\":1}", NULL},
        {"{\"cmd\":\"refer\",\"text\":\"{}\",\"wait_s\":-1}", NULL},
        {"{\"cmd\":\"send\",\"type\":\"determination\",\"case_id\":\"cf-"
         "aaaaaaaaaaaaaaaaaaaaaaaaaa\","
         "\"text\":\"{}\"}",
         NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_refusal(control_json(n, "police-a", bad[i].body), bad[i].code, bad[i].body);

    /* The agent still serves its own: a referral goes through it to la-csc. */
    const char *args[] = {"refer", CF_SOURCE_DIR "/deploy/examples/referral.json", NULL};
    if (net_cli(n, "police-a", args, cli_out, sizeof cli_out, cli_err, sizeof cli_err) != 0)
        fail_msg("childfirst refer after the garbage: %s%s", cli_out, cli_err);
    json_t *receipt = json_loads(cli_out, 0, NULL);
    assert_non_null(receipt);
    json_decref(
        spooled(n, "la-csc", json_string_value(json_object_get(receipt, "case_id")), "referral"));
    json_decref(receipt);
    assert_true(net_file_contains(net_agent_of(n, "police-a")->log, "CONTROL-BAD-REQUEST"));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_garbage_is_rejected_and_traffic_continues, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unauthenticated_peers_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_secret_in_any_log_or_store, setup_agents, teardown),
        cmocka_unit_test_setup_teardown(test_agent_control_socket_refuses_garbage, setup_agents,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
