/* Errors: one table of negative CF_E* codes, their stable names and sentences.
 *
 * Functions that can fail return 0 or a negative code from this table. Where a
 * person must act on the failure (a config line, a JSON field, a rejected
 * message), the function also fills a struct cf_error with a sentence that names
 * the file and line or the field. The code is for programs; the text is for people.
 */
#ifndef CHILDFIRST_ERROR_H
#define CHILDFIRST_ERROR_H

#include <stddef.h>

#define CF_WUR __attribute__((warn_unused_result))

/* X(name, value, sentence). Values are stable: they appear in logs, audit
 * records and Rejected frames. Append new codes; never renumber. */
#define CF_ERRORS(X)                                                                               \
    X(CF_OK, 0, "success")                                                                         \
    X(CF_ENOMEM, -1, "out of memory")                                                              \
    X(CF_EIO, -2, "input/output error")                                                            \
    X(CF_EINVAL, -3, "invalid argument")                                                           \
    X(CF_ETOOBIG, -4, "a size or count limit was exceeded")                                        \
    X(CF_EDECODE, -5, "the message does not decode")                                               \
    X(CF_ECANON, -6, "the encoding is not canonical")                                              \
    X(CF_EUNKNOWNFIELD, -7, "the message carries fields this version does not know")               \
    X(CF_EVERSION, -8, "unsupported protocol version")                                             \
    X(CF_ESIG, -9, "the signature does not verify")                                                \
    X(CF_ENOTRECIPIENT, -10, "this agency is not a recipient of the envelope")                     \
    X(CF_EKEYLIST, -11, "the key list does not name the recipients in order")                      \
    X(CF_ESEAL, -12, "the content key cannot be unsealed")                                         \
    X(CF_ECOMMIT, -13, "the content key does not match the key commitment")                        \
    X(CF_EDECRYPT, -14, "the payload does not decrypt")                                            \
    X(CF_EPAD, -15, "the payload padding is malformed")                                            \
    X(CF_EKEYFILE, -16, "the key file is malformed")                                               \
    X(CF_EKEYMODE, -17, "the secret key file is readable by others")                               \
    X(CF_EID, -18, "an agency id is malformed")                                                    \
    X(CF_ESYNTAX, -19, "configuration syntax error")                                               \
    X(CF_ELINE, -20, "a line is too long")                                                         \
    X(CF_EUNKNOWNKEY, -21, "unknown configuration key or section")                                 \
    X(CF_EDUPKEY, -22, "a configuration key or section is repeated")                               \
    X(CF_EKEYREUSE, -23, "a public key is used more than once")                                    \
    X(CF_EVALUE, -24, "a configuration value is invalid")                                          \
    X(CF_ESERIAL, -25, "the directory serial is lower than one already seen")                      \
    X(CF_EUNKNOWNAGENCY, -26, "the agency is not in the directory")                                \
    X(CF_EROLE, -27, "the sender's role may not send this message type")                           \
    X(CF_ENOROUTE, -28, "the policy routes this message to nobody in the area")                    \
    X(CF_EJURISDICTION, -29, "the local authority code belongs to no jurisdiction")                \
    X(CF_EJSON, -30, "the JSON is malformed")                                                      \
    X(CF_EFIELD, -31, "a field is missing or invalid")                                             \
    X(CF_EPROOF, -32, "the Merkle proof does not verify")                                          \
    X(CF_ERANGE, -33, "an index or tree size is out of range")                                     \
    X(CF_ESTORE, -34, "storage error")                                                             \
    X(CF_ENOSPACE, -35, "storage is full")                                                         \
    X(CF_ECONFIG, -36, "the configuration is invalid")                                             \
    X(CF_ESENDER, -37, "the header's sender is not the authenticated agency")                      \
    X(CF_EFUTURE, -38, "created_at is in the future")                                              \
    X(CF_ESTALE, -39, "created_at is too old")                                                     \
    X(CF_EDUPLICATE, -40, "the message id was already used for different bytes")                   \
    X(CF_ESTATE, -41, "the case state does not allow this message")                                \
    X(CF_ERECIPIENTS, -42, "the recipients differ from the policy's routing")                      \
    X(CF_ECASEEXISTS, -43, "a referral names a case id that already exists")                       \
    X(CF_ENOTFOUND, -44, "not found")                                                              \
    X(CF_ECORRUPT, -45, "stored data fails its integrity check")                                   \
    X(CF_ETIMEOUT, -46, "timed out")                                                               \
    X(CF_ETYPE, -47, "unknown message type")                                                       \
    X(CF_EMAPFULL, -48, "the storage map is full")                                                 \
    X(CF_ENOTPARTY, -49, "the sender does not hold the part in the case this message needs")       \
    X(CF_EINQUORATE, -50, "a voting or required role is missing from the meeting's attendees")     \
    X(CF_ECHAIR, -51, "the chair may not be the case's lead social worker")                        \
    X(CF_EMISMATCH, -52, "the decrypted content disagrees with the signed header")

enum cf_error_code {
#define CF_ERROR_ENUM(name, value, text) name = value,
    CF_ERRORS(CF_ERROR_ENUM)
#undef CF_ERROR_ENUM
};

/* A person-readable account of one failure. Fixed size: filling it never fails. */
struct cf_error {
    int code;
    char text[512];
};

/* The sentence for a code; never NULL. Borrowed, static. */
const char *cf_strerror(int code);

/* The stable name of a code ("CF_ESIG"), for logs and Rejected frames; never NULL. */
const char *cf_error_name(int code);

/* The negative code for a failure's stable name ("CF_ESIG" gives CF_ESIG), or
 * 0 for a name that is no failure: an unknown one, or "CF_OK". 0 can never be
 * mistaken for a failure, as CF_EINVAL, the name of a real one, could. */
int cf_error_from_name(const char *name);

/* Fills err (which may be NULL) and returns code, so callers can write
 * `return cf_error_set(err, CF_EFIELD, "child.sex: ...");`. */
int cf_error_set(struct cf_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes err->text with "prefix: " (for adding a file name to a parser's text). */
void cf_error_prefix(struct cf_error *err, const char *prefix);

#endif
