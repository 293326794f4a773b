/* Whole-file reads bounded by a limit, and crash-safe replacement:
 * write a temp file beside the target, fsync it, rename it over, fsync the folder. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "childfirst/file.h"

int cf_file_read(const char *path, size_t max, uint8_t **out, size_t *len, struct cf_error *err)
{
    int rc = 0;
    uint8_t *buf = NULL;
    /* O_NONBLOCK: a FIFO or device in the way must not stall the caller; it is
     * refused below as not a regular file. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return cf_error_set(err, CF_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = cf_error_set(err, CF_EIO, "%s: not a regular file", path);
        goto out;
    }
    if ((unsigned long long)st.st_size > max) {
        rc = cf_error_set(err, CF_ETOOBIG, "%s: %lld bytes, more than the limit of %zu", path,
                          (long long)st.st_size, max);
        goto out;
    }
    /* Read until EOF rather than trusting st_size: the file may change under us. */
    size_t cap = (size_t)st.st_size + 1, n = 0;
    buf = malloc(cap + 1);
    if (!buf) {
        rc = cf_error_set(err, CF_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = cf_error_set(err, CF_EIO, "%s: read failed: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == cap) {
            rc = cf_error_set(err, CF_ETOOBIG, "%s: grew while being read", path);
            goto out;
        }
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return rc;
}

int cf_file_sync_parent(const char *path, struct cf_error *err)
{
    char copy[PATH_MAX];
    if (strlen(path) >= sizeof copy)
        return cf_error_set(err, CF_EINVAL, "%s: path too long", path);
    strcpy(copy, path);
    const char *dir = dirname(copy);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return cf_error_set(err, CF_EIO, "%s: cannot open folder: %s", dir, strerror(errno));
    int rc = 0;
    if (fsync(fd) != 0)
        rc = cf_error_set(err, CF_EIO, "%s: fsync failed: %s", dir, strerror(errno));
    close(fd);
    return rc;
}

int cf_file_write_atomic(const char *path, const void *buf, size_t len, unsigned mode,
                         struct cf_error *err)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return cf_error_set(err, CF_EINVAL, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    if (fd < 0)
        return cf_error_set(err, CF_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    int rc = 0;
    const uint8_t *p = buf;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = cf_error_set(err, errno == ENOSPC ? CF_ENOSPACE : CF_EIO, "%s: write failed: %s",
                              tmp, strerror(errno));
            goto fail;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0) {
        rc = cf_error_set(err, CF_EIO, "%s: fsync failed: %s", tmp, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = cf_error_set(err, CF_EIO, "%s: close failed: %s", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = cf_error_set(err, CF_EIO, "%s: rename failed: %s", path, strerror(errno));
        goto fail;
    }
    return cf_file_sync_parent(path, err);
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rc;
}
