/* Fuzz target: the INI reader. Properties: line numbers start at 1, never go
 * back, and never pass the number of lines in the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "childfirst/ini.h"

struct lines {
    unsigned last, max;
};

static int check(void *user, const char *section, const char *key, const char *value,
                 unsigned line, struct cf_error *err)
{
    struct lines *l = user;
    (void)err;
    if (!section || (key && !value) || line < 1 || line < l->last || line > l->max)
        abort();
    l->last = line;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lines l = {0, 1};
    for (size_t i = 0; i < size; i++)
        l.max += data[i] == '\n';
    struct cf_error err;
    int rc = cf_ini_parse("fuzz.ini", (const char *)data, size, check, &l, &err);
    if (rc != 0 && strncmp(err.text, "fuzz.ini:", 9) != 0)
        abort(); /* every failure names the file */
    return 0;
}
