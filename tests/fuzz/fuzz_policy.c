/* Fuzz target: the policy.ini reader. Properties: every refusal names the file
 * and a line, and an accepted policy routes no LA code to a jurisdiction whose
 * prefixes do not include its first letter. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "childfirst/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cf_policy *p = NULL;
    struct cf_error err;
    if (cf_policy_parse("policy.ini", (const char *)data, size, &p, &err) != 0) {
        if (strncmp(err.text, "policy.ini:", 11) != 0)
            abort();
        return 0;
    }
    for (char c = 'A'; c <= 'Z'; c++) {
        char code[10] = {c, '0', '9', '0', '0', '0', '0', '3', '3', 0};
        const struct cf_jurisdiction *j;
        if (cf_policy_jurisdiction_of(p, code, &j) == 0 && !strchr(j->la_prefixes, c))
            abort();
    }
    cf_policy_destroy(&p);
    return 0;
}
