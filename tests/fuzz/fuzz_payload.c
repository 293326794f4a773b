/* Fuzz target: the decrypted referral payload decoder. Property: what it
 * accepts encodes and decodes again to the same referral. */
#include <stdlib.h>
#include <string.h>

#include "childfirst/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cf_referral r, back;
    memset(&r, 0, sizeof r);
    memset(&back, 0, sizeof back);
    if (cf_wire_referral_decode(data, size, &r, NULL) != 0)
        return 0;
    uint8_t *again;
    size_t len;
    if (cf_wire_referral_encode(&r, &again, &len) != 0 ||
        cf_wire_referral_decode(again, len, &back, NULL) != 0)
        abort();
    json_t *a = cf_referral_to_json(&r), *b = cf_referral_to_json(&back);
    if (!a || !b || !json_equal(a, b))
        abort();
    json_decref(a);
    json_decref(b);
    free(again);
    cf_referral_fini(&r);
    cf_referral_fini(&back);
    return 0;
}
