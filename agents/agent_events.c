/* The agent's live feed: a bounded ring of what it has just kept, each a
 * header-level summary with a sequence number. `childfirst watch` and the
 * dashboard's live feed read from the sequence they last saw; a reader that
 * falls more than the ring behind is told how many it missed, and can read
 * the rest from the inbox. The ring is memory only: what is kept is in LMDB. */
#include <stdlib.h>
#include <string.h>

#include "agent.h"

#define EVENTS_RING 256

struct agent_events {
    uint64_t next; /* the sequence number of the next event */
    json_t *ring[EVENTS_RING];
};

void agent_events_push(struct agent *a, const json_t *summary)
{
    if (!a->events && !(a->events = calloc(1, sizeof *a->events)))
        return;
    struct agent_events *e = a->events;
    json_t *copy = json_deep_copy(summary);
    if (!copy)
        return;
    json_object_set_new(copy, "seq", json_integer((json_int_t)e->next));
    json_t **slot = &e->ring[e->next % EVENTS_RING];
    json_decref(*slot);
    *slot = copy;
    e->next++;
}

json_t *agent_events_since(struct agent *a, uint64_t seq, size_t max, uint64_t *next,
                           uint64_t *missed)
{
    struct agent_events *e = a->events;
    uint64_t end = e ? e->next : 0, first = end > EVENTS_RING ? end - EVENTS_RING : 0;
    *missed = seq < first ? first - seq : 0;
    if (seq < first)
        seq = first;
    json_t *list = json_array();
    for (; list && seq < end && json_array_size(list) < max; seq++)
        json_array_append(list, e->ring[seq % EVENTS_RING]);
    *next = seq;
    return list;
}

uint64_t agent_events_next(const struct agent *a)
{
    return a->events ? a->events->next : 0;
}

void agent_events_close(struct agent *a)
{
    if (!a->events)
        return;
    for (size_t i = 0; i < EVENTS_RING; i++)
        json_decref(a->events->ring[i]);
    free(a->events);
    a->events = NULL;
}
