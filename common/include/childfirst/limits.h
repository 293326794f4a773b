/* Limits: every buffer, decoded message and file ChildFirst reads has a maximum
 * size, and they all live here so a reviewer can see them at once. */
#ifndef CHILDFIRST_LIMITS_H
#define CHILDFIRST_LIMITS_H

#define CF_PROTOCOL_VERSION 1u

#define CF_ID_MIN 3            /* agency id: [a-z0-9-]{3,64} */
#define CF_ID_MAX 64
#define CF_CASE_ID_LEN 29      /* "cf-" + 26 lowercase base32 characters (128 bits) */
#define CF_MESSAGE_ID_LEN 16
#define CF_LA_CODE_LEN 9       /* GSS code: a letter and eight digits, e.g. E09000033 */
#define CF_JURISDICTION_MAX 32
#define CF_STAFF_REF_MAX 64
#define CF_MAX_RECIPIENTS 64   /* per message; also the size of a key list */
#define CF_MAX_MEMBERS 32      /* conference members */

#define CF_MAX_HEADER 8192                   /* encoded Header bytes */
#define CF_MAX_PLAINTEXT (256u * 1024u)      /* largest padded payload bucket */
#define CF_MIN_BUCKET 1024u                  /* smallest padded payload bucket */
#define CF_MAX_ENVELOPE (512u * 1024u)       /* encoded Envelope bytes */
#define CF_MAX_FRAME (1024u * 1024u)         /* application limit for one frame */
#define CF_MAX_TRANSPORT (8u * 1024u * 1024u) /* ZMQ_MAXMSGSIZE: far above CF_MAX_FRAME */
#define CF_MAX_JSON (256u * 1024u)           /* a referral or message JSON document */
#define CF_MAX_INI_FILE (4u * 1024u * 1024u) /* agencies.ini (CF_MAX_AGENCIES entries), policy.ini, configs */
#define CF_MAX_KEY_FILE 4096u
#define CF_MAX_AGENCIES 4096
#define CF_MAX_AREAS 256                     /* LA codes served by one agency */
#define CF_MAX_JURISDICTIONS 8

/* protobuf-c has no size limit of its own: an unpack may allocate at most this
 * multiple of its input (plus a fixed slack) before it fails. */
#define CF_DECODE_ALLOC_FACTOR 8u
#define CF_DECODE_ALLOC_SLACK (64u * 1024u)

#endif
