/* Writes the seed inputs of the fuzz corpora: valid headers, envelopes and
 * payloads made with the library itself, so each fuzzer starts from inputs
 * that reach deep code. The case messages come from the examples in deploy/,
 * so the seeds follow them. Run by hand from the repository root:
 * fuzz_seed tests/fuzz/corpus [deploy/examples] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "childfirst/envelope.h"
#include "childfirst/limits.h"
#include "childfirst/message.h"
#include "childfirst/wire.h"

static void save(const char *root, const char *target, const char *name, const void *buf,
                 size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static const char referral_json[] =
    "{\"la_code\":\"E09000033\",\"urgency\":\"immediate\",\"immediate_risk\":true,"
    "\"child\":{\"given_name\":\"Seed\",\"aliases\":[],\"estimated_age\":15,"
    "\"languages\":[\"ti\"]},\"exploitation\":[\"criminal\"],\"narrative\":\"seed\","
    "\"first_concern_date\":\"2026-11-20\",\"referrer\":{\"name\":\"R\",\"email\":\"r@x.org\"},"
    "\"indicators\":[]}";

/* For each case message type: its example as a fuzz_message_json input ("type\n" then the
 * document) and the payloads it makes as fuzz_payload inputs. */
static int messages(const char *root, const char *examples)
{
    static char text[CF_MAX_JSON + 64];
    for (enum cf_type t = CF_TYPE_REFERRAL; t < CF_TYPE_COUNT; t++) {
        if (!cf_message_type_valid(t))
            continue;
        const char *name = cf_header_type_name(t);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.json", examples, name);
        FILE *f = fopen(path, "rb");
        size_t head = (size_t)snprintf(text, sizeof text, "%s\n", name);
        size_t len = f ? fread(text + head, 1, sizeof text - head, f) : 0;
        if (!f || ferror(f)) {
            perror(path);
            return 1;
        }
        fclose(f);
        save(root, "fuzz_message_json", name, text, head + len);

        struct cf_header h;
        memset(&h, 0, sizeof h);
        uint8_t *payload, *nrm;
        size_t payload_len, nrm_len;
        struct cf_error err;
        if (cf_message_from_json(t, text + head, len, "2026-11-25", "england-wales", &h, &payload,
                                 &payload_len, &nrm, &nrm_len, &err) != 0) {
            fprintf(stderr, "%s: %s\n", path, err.text);
            return 1;
        }
        save(root, "fuzz_payload", name, payload, payload_len);
        if (nrm)
            save(root, "fuzz_payload", "nrm_return", nrm, nrm_len);
        free(payload);
        free(nrm);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || sodium_init() < 0) {
        fprintf(stderr, "usage: fuzz_seed CORPUS_ROOT [EXAMPLES_DIR]\n");
        return 2;
    }
    if (messages(argv[1], argc == 3 ? argv[2] : "deploy/examples") != 0)
        return 1;
    struct cf_keys *police, *csc;
    if (cf_keys_generate(CF_KEYS_AGENCY, "police-seed", &police, NULL) != 0 ||
        cf_keys_generate(CF_KEYS_AGENCY, "la-csc", &csc, NULL) != 0)
        return 1;
    struct cf_header h;
    memset(&h, 0, sizeof h);
    h.version = CF_PROTOCOL_VERSION;
    randombytes_buf(h.message_id, sizeof h.message_id);
    cf_header_case_id_new(h.case_id);
    h.type = CF_TYPE_REFERRAL;
    strcpy(h.sender, "police-seed");
    h.n_recipients = 1;
    strcpy(h.recipients[0], "la-csc");
    h.created_at = 1795000000000ull;
    strcpy(h.jurisdiction, "england-wales");
    strcpy(h.la_code, "E09000033");
    h.urgency = CF_URGENCY_IMMEDIATE;
    h.immediate_risk = true;

    uint8_t *buf;
    size_t len;
    if (cf_wire_header_encode(&h, &buf, &len) != 0)
        return 1;
    save(argv[1], "fuzz_header", "referral", buf, len);
    free(buf);

    struct cf_referral r;
    struct cf_error err;
    if (cf_referral_from_json(referral_json, strlen(referral_json), "2026-11-25", &r, &err) != 0 ||
        cf_wire_referral_encode(&r, &buf, &len) != 0) {
        fprintf(stderr, "%s\n", err.text);
        return 1;
    }
    save(argv[1], "fuzz_payload", "referral", buf, len);
    uint8_t *env;
    size_t env_len;
    if (cf_envelope_seal(&h, buf, len, (const uint8_t(*)[CF_BOX_PK])csc->box_pk, police, &env,
                         &env_len, &err) != 0) {
        fprintf(stderr, "%s\n", err.text);
        return 1;
    }
    save(argv[1], "fuzz_envelope", "referral", env, env_len);
    free(env);
    free(buf);
    cf_referral_fini(&r);

    /* A header with every optional field. */
    h.type = CF_TYPE_VOTE;
    h.has_in_reply_to = true;
    h.decision = CF_DECISION_RG;
    strcpy(h.lead_staff_ref, "SW-1");
    h.n_members = 1;
    strcpy(h.members[0].agency, "la-csc");
    h.members[0].standing = CF_STANDING_VOTING;
    strcpy(h.chair_staff_ref, "CH-2");
    h.n_attendees = 1;
    strcpy(h.attendees[0], "la-csc");
    h.has_vote = true;
    if (cf_wire_header_encode(&h, &buf, &len) != 0)
        return 1;
    save(argv[1], "fuzz_header", "vote", buf, len);
    free(buf);
    cf_keys_destroy(&police);
    cf_keys_destroy(&csc);
    return 0;
}
