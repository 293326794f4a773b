/* Fuzz target: the Merkle proof verifiers, fed sizes, indexes, roots and
 * proofs straight from the input. Property: only 0, CF_EPROOF or CF_ERANGE
 * ever comes back, and an index at or past the size is always CF_ERANGE. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "childfirst/merkle.h"

static uint64_t take64(const uint8_t **p, size_t *left)
{
    uint64_t v = 0;
    for (int i = 0; i < 8 && *left; i++, (*p)++, (*left)--)
        v = v << 8 | **p;
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 + 16 + 64)
        return 0;
    const uint8_t *p = data + 1;
    size_t left = size - 1;
    uint64_t a = take64(&p, &left), b = take64(&p, &left);
    /* Small sizes reach the interesting paths far more often. */
    if (data[0] & 1) {
        a %= 1024;
        b %= 1024;
    }
    uint8_t h1[32], h2[32];
    memcpy(h1, p, 32);
    memcpy(h2, p + 32, 32);
    p += 64, left -= 64;
    size_t n = left / 32;
    const uint8_t(*proof)[CF_MERKLE_HASH] = (const uint8_t(*)[CF_MERKLE_HASH])p;
    int rc = (data[0] & 2) ? cf_merkle_verify_consistency(a, b, h1, h2, proof, n)
                           : cf_merkle_verify_inclusion(a, b, h1, proof, n, h2);
    if (rc != 0 && rc != CF_EPROOF && rc != CF_ERANGE)
        abort();
    if (!(data[0] & 2) && a >= b && rc != CF_ERANGE)
        abort();
    return 0;
}
