/* Audit record names and leaf hashing; the encoding itself is in wire.c. */
#include "childfirst/merkle.h"
#include "childfirst/record.h"

static const char *const names[CF_EVENT_COUNT] = {
    [CF_EVENT_ACCEPTED] = "accepted", [CF_EVENT_REJECTED] = "rejected",
    [CF_EVENT_DELIVERED] = "delivered", [CF_EVENT_NACKED] = "nacked",
    [CF_EVENT_NOTICE] = "notice",     [CF_EVENT_DEADLINE] = "deadline",
    [CF_EVENT_EXPIRED] = "expired",   [CF_EVENT_CONFIG] = "config",
    [CF_EVENT_PURGED] = "purged",
};

const char *cf_record_event_name(enum cf_event event)
{
    return (unsigned)event < CF_EVENT_COUNT ? names[event] : NULL;
}

void cf_record_leaf_hash(const uint8_t *bytes, size_t len, uint8_t out[32])
{
    cf_merkle_leaf_hash(bytes, len, out);
}
