/* Fuzz target: the cleartext header decoder. Property: whatever it accepts
 * re-encodes to exactly the bytes it was given (the canonical rule). */
#include <stdlib.h>
#include <string.h>

#include "childfirst/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cf_header h;
    if (cf_wire_header_decode(data, size, &h, NULL) != 0)
        return 0;
    uint8_t *again;
    size_t len;
    if (cf_wire_header_encode(&h, &again, &len) != 0 || len != size ||
        memcmp(again, data, size) != 0)
        abort();
    free(again);
    return 0;
}
