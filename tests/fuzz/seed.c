/* Writes the seed inputs of the fuzz corpora: valid headers, envelopes and
 * payloads made with the library itself, so each fuzzer starts from inputs
 * that reach deep code. Run by hand: fuzz_seed tests/fuzz/corpus */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "childfirst/envelope.h"
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

int main(int argc, char **argv)
{
    if (argc != 2 || sodium_init() < 0) {
        fprintf(stderr, "usage: fuzz_seed CORPUS_ROOT\n");
        return 2;
    }
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
