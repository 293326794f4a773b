/* Fuzz target: the referral JSON validator. Property: a document it accepts,
 * written back out, is accepted again as the same referral. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "childfirst/referral.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cf_referral r, again;
    struct cf_error err;
    if (cf_referral_from_json((const char *)data, size, "2026-11-25", &r, &err) != 0) {
        if (err.text[0] == 0)
            abort(); /* every refusal says why */
        return 0;
    }
    json_t *doc = cf_referral_to_json(&r);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (!text || cf_referral_from_json(text, strlen(text), "2026-11-25", &again, &err) != 0)
        abort();
    json_t *doc2 = cf_referral_to_json(&again);
    if (!doc2 || !json_equal(doc, doc2))
        abort();
    json_decref(doc);
    json_decref(doc2);
    free(text);
    cf_referral_fini(&r);
    cf_referral_fini(&again);
    return 0;
}
