/* Fuzz target: the agencies.ini reader behind the signature. The harness signs
 * each input as an authority would, so the parser itself is reached. Property:
 * every refusal names agencies.ini and a line; every accepted agency is findable
 * by id and by CURVE key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "childfirst/buf.h"
#include "childfirst/directory.h"

static const char policy[] = "[policy]\nmax_clock_skew_seconds = 300\nmax_message_age_hours = 336\n"
                             "undelivered.immediate = 15 minutes\nundelivered.urgent = 4 hours\n"
                             "undelivered.routine = 1 working_days\n"
                             "non_delivery_report = 5 calendar_days\n"
                             "[message.referral]\nsenders = first_responder\n"
                             "recipients = area:children_services\n"
                             "[england-wales]\nla_prefixes = E W\ncalendar = england-wales\n"
                             "voting_roles = children_services police health\nquorum = all\n"
                             "chair_not_lead = yes\ncg_min_days_after_rg = 0\n";

static struct cf_keys *authority;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!authority &&
        (sodium_init() < 0 || cf_keys_generate(CF_KEYS_AUTHORITY, NULL, &authority, NULL) != 0))
        abort();
    uint8_t msg[24 + 8 + 64];
    memcpy(msg, "childfirst/v1/directory", 24);
    for (int i = 0; i < 8; i++)
        msg[24 + i] = i == 7 ? 1 : 0;
    crypto_generichash(msg + 32, 32, data, size, NULL, 0);
    crypto_generichash(msg + 64, 32, (const uint8_t *)policy, sizeof policy - 1, NULL, 0);
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, msg, sizeof msg, authority->sign_sk);
    char b64[100], sig_text[160];
    sodium_bin2base64(b64, sizeof b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(sig_text, sizeof sig_text, "serial = 1\nsignature = %s\n", b64);

    struct cf_bundle in = {(uint8_t *)data, (uint8_t *)policy, (uint8_t *)sig_text,
                           size, sizeof policy - 1, (size_t)n};
    struct cf_directory *dir = NULL;
    struct cf_error err;
    if (cf_directory_load_mem(&in, authority->sign_pk, 0, &dir, &err) != 0) {
        if (strncmp(err.text, "agencies.ini:", 13) != 0 && strncmp(err.text, "policy.ini:", 11))
            abort();
        return 0;
    }
    for (size_t i = 0; i < dir->n_agencies; i++) {
        const struct cf_agency *a = &dir->agencies[i];
        if (cf_directory_find(dir, a->id) != a || cf_directory_find_curve(dir, a->curve_pk) != a)
            abort();
    }
    cf_directory_destroy(&dir);
    return 0;
}
