/* Fuzz target: the frame decoder, every kind. Property: a frame it accepts
 * encodes and decodes again to the same fields, so what the broker or an agent
 * acts on is what the peer's bytes said, and nothing crashes on the way. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "childfirst/wire.h"

static bool same_bytes(const void *a, size_t a_len, const void *b, size_t b_len)
{
    return (a != NULL) == (b != NULL) && a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

/* Compares the borrowed bytes by content, then every other field at once: both
 * frames come from the same decoder, which zeroes the struct before filling it. */
static bool same_frame(const struct cf_frame *a, const struct cf_frame *b)
{
    static struct cf_frame x, y;
    if (!same_bytes(a->envelope, a->envelope_len, b->envelope, b->envelope_len) ||
        !same_bytes(a->notice, a->notice_len, b->notice, b->notice_len) ||
        !same_bytes(a->determination, a->determination_len, b->determination,
                    b->determination_len) ||
        !same_bytes(a->checkpoint, a->checkpoint_len, b->checkpoint, b->checkpoint_len) ||
        !same_bytes(a->record, a->record_len, b->record, b->record_len) ||
        !same_bytes(a->agencies, a->agencies_len, b->agencies, b->agencies_len) ||
        !same_bytes(a->policy, a->policy_len, b->policy, b->policy_len) ||
        !same_bytes(a->sig, a->sig_len, b->sig, b->sig_len))
        return false;
    x = *a, y = *b;
    struct cf_frame *both[] = {&x, &y};
    for (size_t i = 0; i < 2; i++) {
        struct cf_frame *f = both[i];
        f->envelope = f->notice = f->determination = f->record = NULL;
        f->agencies = f->policy = f->sig = NULL;
        f->checkpoint = NULL;
        f->owner = NULL;
    }
    return memcmp(&x, &y, sizeof x) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cf_frame f, again;
    if (cf_wire_frame_decode(data, size, &f, NULL) == 0) {
        uint8_t *buf;
        size_t len;
        if (cf_wire_frame_encode(&f, &buf, &len) != 0)
            abort();
        /* Encoding writes every optional number, so a frame at the limit may grow past it. */
        if (len <= CF_MAX_FRAME) {
            if (cf_wire_frame_decode(buf, len, &again, NULL) != 0 || !same_frame(&f, &again))
                abort();
            cf_wire_frame_fini(&again);
        }
        free(buf);
    }
    cf_wire_frame_fini(&f);
    return 0;
}
