/* Fuzz target: envelope decoding, signature check and opening. Properties: an
 * accepted envelope re-encodes to its input, and nothing forged verifies. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "childfirst/envelope.h"
#include "childfirst/wire.h"

static struct cf_keys *reader;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!reader) {
        if (sodium_init() < 0 || cf_keys_generate(CF_KEYS_AGENCY, "la-csc", &reader, NULL) != 0)
            abort();
    }
    struct cf_envelope env;
    struct cf_header h;
    if (cf_envelope_decode(data, size, &env, &h, NULL) == 0) {
        uint8_t *again, *plain;
        size_t len;
        if (cf_wire_envelope_encode(&env, &again, &len) != 0 || len != size ||
            memcmp(again, data, size) != 0)
            abort();
        free(again);
        /* The fuzzer cannot know this fresh key: a pass would be a forgery. */
        if (cf_envelope_verify(&env, reader->sign_pk) == 0)
            abort();
        if (cf_envelope_open(&env, reader, &plain, &len) == 0)
            abort();
    }
    cf_envelope_fini(&env);
    return 0;
}
