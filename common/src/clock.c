/* The wall clock, with the shared test offset of clock.h. The offset file is
 * re-read only when its modification time changes, so a test's jump reaches
 * a busy process within one call and costs one stat() otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "childfirst/clock.h"

static uint64_t ms_of(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#ifdef CF_TEST_HOOKS
/* The offset in the CF_TEST_CLOCK file; 0 without one or when it cannot be read. */
static int64_t test_offset(void)
{
    static struct timespec seen;
    static ino_t seen_ino;
    static int64_t offset;
    const char *path = getenv("CF_TEST_CLOCK");
    struct stat st;
    if (!path || stat(path, &st) != 0)
        return 0;
    /* Tests replace the file (write, rename), so a new inode means a new
     * offset even within one tick of the file system's clock. */
    if (st.st_ino == seen_ino && st.st_mtim.tv_sec == seen.tv_sec &&
        st.st_mtim.tv_nsec == seen.tv_nsec)
        return offset;
    FILE *f = fopen(path, "r");
    long long v;
    if (!f)
        return 0;
    if (fscanf(f, "%lld", &v) == 1) {
        offset = v;
        seen = st.st_mtim;
        seen_ino = st.st_ino;
    }
    fclose(f);
    return offset;
}
#endif

uint64_t cf_clock_now(void)
{
    uint64_t now = ms_of(CLOCK_REALTIME);
#ifdef CF_TEST_HOOKS
    int64_t off = test_offset();
    if (off < 0 && (uint64_t)-off > now)
        return 0;
    now = (uint64_t)((int64_t)now + off);
#endif
    return now;
}

uint64_t cf_clock_monotonic_ms(void)
{
    return ms_of(CLOCK_MONOTONIC);
}
