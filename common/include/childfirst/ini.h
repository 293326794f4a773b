/* INI reading on top of inih, with what inih lacks: line numbers for every
 * callback, and refusal of over-long lines (inih cuts them at 200 characters
 * without a word). Every config file of ChildFirst is read through here.
 */
#ifndef CHILDFIRST_INI_H
#define CHILDFIRST_INI_H

#include <stddef.h>

#include "childfirst/error.h"

/* Called once per key. `section` is "" before the first [section]. Return 0 to
 * go on, or a negative CF_E* code after filling err with a sentence; the reader
 * then prefixes err->text with "name:line: " and stops. */
typedef int (*cf_ini_handler)(void *user, const char *section, const char *key,
                              const char *value, unsigned line, struct cf_error *err);

/* Also called for each section header, with key == NULL and value == NULL, so a
 * reader can refuse unknown or repeated sections at their own line. */

/* Parses `len` bytes named `name` (for messages). Fails with CF_ELINE on a line
 * longer than inih can hold, CF_ESYNTAX on a line inih cannot parse, or the
 * handler's code. Every failure's text starts "name:line: ". */
CF_WUR int cf_ini_parse(const char *name, const char *buf, size_t len, cf_ini_handler handler,
                        void *user, struct cf_error *err);

/* Reads the file at `path` (at most CF_MAX_INI_FILE bytes) and parses it. */
CF_WUR int cf_ini_parse_file(const char *path, cf_ini_handler handler, void *user,
                             struct cf_error *err);

/* Value helpers for handlers. Each returns 0 or CF_EVALUE with err naming the key. */
CF_WUR int cf_ini_bool(const char *key, const char *value, int *out, struct cf_error *err);
CF_WUR int cf_ini_uint(const char *key, const char *value, unsigned long long max,
                       unsigned long long *out, struct cf_error *err);

#endif
