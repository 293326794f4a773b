/* Broker notices: short, broker-signed messages to duty teams and senders
 * ("new_referral", "undelivered", ...). They travel through the same durable
 * mailboxes as case messages and carry header metadata only, never a child's
 * details. Signed as Ed25519("childfirst/v1/notice\0" || notice bytes). */
#ifndef CHILDFIRST_NOTICE_H
#define CHILDFIRST_NOTICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "childfirst/error.h"
#include "childfirst/header.h"
#include "childfirst/keys.h"

#define CF_NOTICE_KIND_MAX 32

enum cf_notice_kind {
    CF_NOTICE_NONE = 0,
    CF_NOTICE_NEW_REFERRAL,
    CF_NOTICE_UNDELIVERED,
    CF_NOTICE_DEADLINE_NEAR,
    CF_NOTICE_DEADLINE_BREACHED,
    CF_NOTICE_INQUORATE,
    CF_NOTICE_CONVENED,
    CF_NOTICE_DETERMINATION,
    CF_NOTICE_TRANSFER_IN,
    CF_NOTICE_NON_DELIVERY,
    CF_NOTICE_DETERMINATION_REJECTED,
    CF_NOTICE_KIND_COUNT
};

struct cf_notice {
    uint32_t version;
    uint8_t notice_id[CF_MESSAGE_ID_LEN];
    char kind[CF_NOTICE_KIND_MAX + 1];
    char case_id[CF_CASE_ID_LEN + 1];
    size_t n_recipients;
    cf_id recipients[CF_MAX_RECIPIENTS];
    uint64_t created_at;             /* broker time, ms */
    enum cf_urgency urgency;         /* NONE when absent */
    bool has_immediate_risk, immediate_risk;
    cf_id referring_agency;          /* "" when absent */
    bool has_about_leaf;
    uint64_t about_leaf;
    char deadline[CF_NOTICE_KIND_MAX + 1]; /* deadline notices: "acknowledgement", ...; "" */
    bool has_due;
    uint64_t due;                          /* ms */
    size_t n_outstanding;                  /* undelivered, non_delivery */
    cf_id outstanding[CF_MAX_RECIPIENTS];
    char code[48];                         /* undelivered after a nack: its CF_E* name; "" */
    char state[CF_NOTICE_KIND_MAX + 1];    /* the case's state after the event; "" */
};

/* A kind's name ("new_referral", ...) or NULL; and the kind for a name, or
 * CF_NOTICE_NONE. */
const char *cf_notice_kind_name(enum cf_notice_kind kind);
enum cf_notice_kind cf_notice_kind_parse(const char *name);

/* Signs encoded notice bytes with the broker's key. */
void cf_notice_sign(const uint8_t *notice, size_t len, const struct cf_keys *broker,
                    uint8_t sig[CF_SIG_LEN]);

/* 0, or CF_ESIG. */
CF_WUR int cf_notice_verify(const uint8_t *notice, size_t len, const uint8_t sig[CF_SIG_LEN],
                            const uint8_t broker_pk[CF_SIGN_PK]);

#endif
