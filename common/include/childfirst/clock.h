/* Time for the broker and the agents. Every timestamp ChildFirst signs or
 * counts a deadline from comes from cf_clock_now(); timeouts that must not
 * jump with it use cf_clock_monotonic_ms().
 *
 * In test builds (CF_TEST_HOOKS) the environment variable CF_TEST_CLOCK may
 * name a file holding a signed number of milliseconds that is added to the
 * real clock. Every process of a test network reads the same file, so a test
 * moves the whole network days ahead at once, without sleeping and without
 * tripping the broker's created_at check. Production builds ignore it.
 */
#ifndef CHILDFIRST_CLOCK_H
#define CHILDFIRST_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch, UTC, plus the test offset if any. */
uint64_t cf_clock_now(void);

/* Milliseconds on a clock that never jumps; only differences mean anything. */
uint64_t cf_clock_monotonic_ms(void);

#endif
