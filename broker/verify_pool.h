/* A small pool of worker threads that runs one function over the indexes of
 * one batch, so the broker's signature checks use every core while its loop
 * thread commits the batch before. One job at a time; the thread that waits
 * works on the job too. */
#ifndef CF_BROKER_VERIFY_POOL_H
#define CF_BROKER_VERIFY_POOL_H

#include <stddef.h>

#include "childfirst/error.h"

struct cf_verify_pool;

/* Runs for one index of a job; must touch only what that index owns. */
typedef void (*cf_verify_fn)(void *ctx, size_t index);

/* Starts `threads` workers (0: one per online core).
 * @param out caller owns the result; free with cf_verify_pool_destroy.
 * @return 0, CF_ENOMEM, or CF_EIO when a thread cannot be started. */
CF_WUR int cf_verify_pool_new(unsigned threads, struct cf_verify_pool **out);

/* Stops and joins the workers; accepts NULL and clears the pointer. No job may
 * be running (call cf_verify_pool_wait first). */
void cf_verify_pool_destroy(struct cf_verify_pool **p);

/* Hands the workers fn(ctx, 0) .. fn(ctx, n - 1), in any order and on any
 * thread, and returns at once (a job of one index waits for the waiter). `ctx` is borrowed until
 * cf_verify_pool_wait returns. The previous job must have been waited for. */
void cf_verify_pool_start(struct cf_verify_pool *p, cf_verify_fn fn, void *ctx, size_t n);

/* Works on the current job until every index has run, then returns. Whatever
 * the job wrote is visible to the caller afterwards. */
void cf_verify_pool_wait(struct cf_verify_pool *p);

/* The number of worker threads. */
unsigned cf_verify_pool_threads(const struct cf_verify_pool *p);

#endif
