/* Whole-file reads with a size limit, and durable replacement of a file
 * (temp, fsync, rename, fsync of the folder), so a crash leaves the old or the
 * new file, never half of one. */
#ifndef CHILDFIRST_FILE_H
#define CHILDFIRST_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "childfirst/error.h"

/* Reads all of `path`, failing with CF_ETOOBIG above `max` bytes. The buffer
 * has a NUL after the last byte (not counted in *len). Caller owns *out; free
 * with free(). */
CF_WUR int cf_file_read(const char *path, size_t max, uint8_t **out, size_t *len,
                        struct cf_error *err);

/* Writes `len` bytes to `path` durably and atomically with the given mode,
 * replacing any file there. */
CF_WUR int cf_file_write_atomic(const char *path, const void *buf, size_t len, unsigned mode,
                                struct cf_error *err);

/* fsync()s the folder holding `path`, making a rename or create durable. */
CF_WUR int cf_file_sync_parent(const char *path, struct cf_error *err);

/* One file for cf_file_write_many: what to write where, and what became of it. */
struct cf_file_out {
    const char *path;
    const void *buf;
    size_t len;
    int rc;              /* out: 0 once the file is durable under `path`, or a CF_E* code */
    struct cf_error err; /* out: why not */
};

/* Writes each of `n` files as cf_file_write_atomic does, with two syncs of each
 * file system involved instead of two for every file: each temp file is
 * written, its file system synced (syncfs), each renamed over its target, and
 * the file system synced again. So a crash leaves each file old or new, and a
 * file whose rc is 0 is durable. Returns how many failed. */
CF_WUR size_t cf_file_write_many(struct cf_file_out *files, size_t n, unsigned mode);

#endif
