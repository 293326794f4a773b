/* One table-driven reader for the daemons' INI files (broker.ini, agent.ini):
 * each option's name, kind, default and limits in one row, so a file and its
 * README table say the same thing. Unknown sections or keys, repeats and bad
 * values are errors naming the file and line. */
#ifndef CHILDFIRST_OPTIONS_H
#define CHILDFIRST_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "childfirst/error.h"

enum cf_option_kind { CF_OPTION_TEXT, CF_OPTION_NUMBER };

struct cf_option {
    const char *name;
    enum cf_option_kind kind;
    size_t offset; /* of the field in the caller's struct */
    size_t size;   /* TEXT: the char buffer's size; NUMBER: unused (unsigned long long) */
    const char *def;
    unsigned long long min, max; /* NUMBER only */
    bool required;
};

/* A text field of `type`, and an unsigned long long one. */
#define CF_OPTION_TEXT_FIELD(type, field, def, required)                                           \
    {#field, CF_OPTION_TEXT, offsetof(type, field), sizeof(((type *)0)->field), def, 0, 0, required}
#define CF_OPTION_NUMBER_FIELD(type, field, def, lo, hi)                                           \
    {#field, CF_OPTION_NUMBER, offsetof(type, field), 0, def, lo, hi, false}

/* Zeroes `base`, fills every default, then reads `path`, whose only section
 * must be [section]. A required option must be set in the file. */
CF_WUR int cf_options_load(const char *path, const char *section, const struct cf_option *options,
                           size_t n, void *base, struct cf_error *err);

#endif
