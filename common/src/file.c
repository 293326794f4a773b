/* Whole-file reads bounded by a limit, and crash-safe replacement:
 * write a temp file beside the target, fsync it, rename it over, fsync the folder;
 * or, for many files at once, two syncs of the file system for all of them. */
#define _GNU_SOURCE /* syncfs */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
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

/* The temporary name beside `path` that a replacement is written under. */
static int temp_name(char *tmp, size_t cap, const char *path, struct cf_error *err)
{
    if (snprintf(tmp, cap, "%s.tmp.%ld", path, (long)getpid()) >= (int)cap)
        return cf_error_set(err, CF_EINVAL, "a path of %zu bytes is too long: %.200s...",
                            strlen(path), path);
    return 0;
}

/* Creates `tmp` holding the bytes with the given mode, fsync()ed when `sync`,
 * and fills *dev with its file system; on failure nothing is left there. */
static int write_temp(const char *tmp, const void *buf, size_t len, unsigned mode, bool sync,
                      dev_t *dev, struct cf_error *err)
{
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
    struct stat st;
    if (fchmod(fd, (mode_t)mode) != 0 || fstat(fd, &st) != 0 || (sync && fsync(fd) != 0)) {
        rc = cf_error_set(err, CF_EIO, "%s: fsync failed: %s", tmp, strerror(errno));
        goto fail;
    }
    *dev = st.st_dev;
    if (close(fd) != 0) {
        fd = -1;
        rc = cf_error_set(err, CF_EIO, "%s: close failed: %s", tmp, strerror(errno));
        goto fail;
    }
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rc;
}

int cf_file_write_atomic(const char *path, const void *buf, size_t len, unsigned mode,
                         struct cf_error *err)
{
    char tmp[PATH_MAX];
    dev_t dev;
    int rc = temp_name(tmp, sizeof tmp, path, err);
    if (rc == 0)
        rc = write_temp(tmp, buf, len, mode, true, &dev, err);
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = cf_error_set(err, CF_EIO, "%s: rename failed: %s", path, strerror(errno));
        unlink(tmp);
    }
    return rc != 0 ? rc : cf_file_sync_parent(path, err);
}

/* syncfs() once for each file system that a file still in the running is
 * on; a failure fails every file on that one. */
static void sync_each_fs(struct cf_file_out *files, const dev_t *devs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = files[j].rc == 0 && devs[j] == devs[i];
        if (files[i].rc != 0 || seen)
            continue;
        char dir[PATH_MAX];
        strcpy(dir, files[i].path); /* temp_name bounded it */
        int fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int e = fd < 0 ? errno : syncfs(fd) != 0 ? errno : 0;
        if (fd >= 0)
            close(fd);
        for (size_t j = i; e != 0 && j < n; j++)
            if (files[j].rc == 0 && devs[j] == devs[i])
                files[j].rc = cf_error_set(&files[j].err, CF_EIO, "%s: syncfs failed: %s",
                                           files[j].path, strerror(e));
    }
}

size_t cf_file_write_many(struct cf_file_out *files, size_t n, unsigned mode)
{
    dev_t *devs = calloc(n ? n : 1, sizeof *devs);
    char tmp[PATH_MAX];
    for (size_t i = 0; i < n; i++) {
        struct cf_file_out *o = &files[i];
        o->err = (struct cf_error){0};
        o->rc = !devs ? cf_error_set(&o->err, CF_ENOMEM, "%s: out of memory", o->path)
                      : temp_name(tmp, sizeof tmp, o->path, &o->err);
        if (o->rc == 0)
            o->rc = write_temp(tmp, o->buf, o->len, mode, false, &devs[i], &o->err);
    }
    if (!devs)
        return n;
    sync_each_fs(files, devs, n); /* the contents, before any name points at them */
    for (size_t i = 0; i < n; i++) {
        struct cf_file_out *o = &files[i];
        if (o->rc != 0 || temp_name(tmp, sizeof tmp, o->path, &o->err) != 0)
            continue;
        if (rename(tmp, o->path) != 0) {
            o->rc =
                cf_error_set(&o->err, CF_EIO, "%s: rename failed: %s", o->path, strerror(errno));
            unlink(tmp);
        }
    }
    sync_each_fs(files, devs, n); /* the names */
    free(devs);
    size_t failed = 0;
    for (size_t i = 0; i < n; i++)
        failed += files[i].rc != 0;
    return failed;
}
