/* The signature-verification worker pool: a batch's Ed25519 checks, which
 * need no store, run on every core while the loop thread commits the batch
 * before it. One mutex guards the job; each index is claimed under it, which
 * costs nothing beside a 60 us signature check and keeps the code obvious. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "verify_pool.h"

#define POOL_MAX_THREADS 64

struct cf_verify_pool {
    pthread_mutex_t lock;
    pthread_cond_t work;     /* a job was started, or the pool stops */
    pthread_cond_t finished; /* the last index of the job has run */
    cf_verify_fn fn;
    void *ctx;
    size_t n, next, done; /* indexes in the job, claimed, and run */
    bool stop;
    unsigned threads;
    pthread_t tid[POOL_MAX_THREADS];
};

/* Claims and runs indexes until none is left; called and returns with the
 * lock held. */
static void run_some(struct cf_verify_pool *p)
{
    while (p->next < p->n) {
        size_t i = p->next++;
        cf_verify_fn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->lock);
        fn(ctx, i);
        pthread_mutex_lock(&p->lock);
        if (++p->done == p->n)
            pthread_cond_signal(&p->finished);
    }
}

static void *worker(void *arg)
{
    struct cf_verify_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        run_some(p);
        if (!p->stop)
            pthread_cond_wait(&p->work, &p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int cf_verify_pool_new(unsigned threads, struct cf_verify_pool **out)
{
    *out = NULL;
    if (threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > 0 ? (unsigned)cores : 1;
    }
    if (threads > POOL_MAX_THREADS)
        threads = POOL_MAX_THREADS;
    struct cf_verify_pool *p = calloc(1, sizeof *p);
    if (!p)
        return CF_ENOMEM;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->finished, NULL);
    for (; p->threads < threads; p->threads++) {
        if (pthread_create(&p->tid[p->threads], NULL, worker, p) != 0) {
            cf_verify_pool_destroy(&p);
            return CF_EIO;
        }
    }
    *out = p;
    return 0;
}

void cf_verify_pool_destroy(struct cf_verify_pool **pp)
{
    struct cf_verify_pool *p = pp ? *pp : NULL;
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->threads; i++)
        pthread_join(p->tid[i], NULL);
    pthread_cond_destroy(&p->finished);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    free(p);
    *pp = NULL;
}

void cf_verify_pool_start(struct cf_verify_pool *p, cf_verify_fn fn, void *ctx, size_t n)
{
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->next = p->done = 0;
    /* One index is left to the waiter: waking a worker for it costs more
     * than the check, and the waiter would wait for that worker. */
    if (n > 1)
        pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
}

void cf_verify_pool_wait(struct cf_verify_pool *p)
{
    pthread_mutex_lock(&p->lock);
    run_some(p);
    while (p->done < p->n)
        pthread_cond_wait(&p->finished, &p->lock);
    p->n = p->next = p->done = 0;
    pthread_mutex_unlock(&p->lock);
}

unsigned cf_verify_pool_threads(const struct cf_verify_pool *p)
{
    return p->threads;
}
