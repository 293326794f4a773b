/* Small text helpers shared by the agent and the childfirst command: one
 * spelling of a time and of an id everywhere a person or a script reads them. */
#ifndef CF_AGENT_TEXT_H
#define CF_AGENT_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define AGENT_TEXT_TIME_MAX 64
#define AGENT_TEXT_DATE_MAX 11 /* "YYYY-MM-DD" and its NUL */

/* Today's date in Europe/London (by the shared clock), as "YYYY-MM-DD": the
 * day no date in a document may be after. */
void agent_text_today(char out[AGENT_TEXT_DATE_MAX]);

/* Milliseconds since the Unix epoch as ISO-8601 UTC with milliseconds
 * ("2026-11-18T05:40:00.000Z"), or "<n> ms" when the year is past 9999. */
void agent_text_time(uint64_t ms, char out[AGENT_TEXT_TIME_MAX]);

/* The same as a JSON string. Caller owns the result (json_decref); NULL when
 * out of memory, which json_pack's "o" turns into a failed pack. */
json_t *agent_text_time_json(uint64_t ms);

/* `n` bytes (at most 64) as lower-case hex in a JSON string. Caller owns the
 * result (json_decref); NULL when out of memory or n is over 64. */
json_t *agent_text_hex(const uint8_t *b, size_t n);

#endif
