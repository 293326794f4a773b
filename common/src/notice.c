/* Broker notices: the kinds the broker may issue, and the signature over a
 * notice's exact bytes. The wording a person sees is the agent's business. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "childfirst/notice.h"

static const char tag[] = "childfirst/v1/notice"; /* signed with its NUL */

static const char *const kinds[CF_NOTICE_KIND_COUNT] = {
    [CF_NOTICE_NEW_REFERRAL] = "new_referral",
    [CF_NOTICE_UNDELIVERED] = "undelivered",
    [CF_NOTICE_DEADLINE_NEAR] = "deadline_near",
    [CF_NOTICE_DEADLINE_BREACHED] = "deadline_breached",
    [CF_NOTICE_INQUORATE] = "inquorate",
    [CF_NOTICE_CONVENED] = "convened",
    [CF_NOTICE_DETERMINATION] = "determination",
    [CF_NOTICE_TRANSFER_IN] = "transfer_in",
    [CF_NOTICE_NON_DELIVERY] = "non_delivery",
    [CF_NOTICE_DETERMINATION_REJECTED] = "determination_rejected",
};

const char *cf_notice_kind_name(enum cf_notice_kind kind)
{
    return (unsigned)kind < CF_NOTICE_KIND_COUNT ? kinds[kind] : NULL;
}

enum cf_notice_kind cf_notice_kind_parse(const char *name)
{
    for (int i = 1; i < CF_NOTICE_KIND_COUNT; i++)
        if (strcmp(name, kinds[i]) == 0)
            return (enum cf_notice_kind)i;
    return CF_NOTICE_NONE;
}

/* The signed bytes: the tag with its NUL, then the notice. Caller frees. */
static uint8_t *signed_bytes(const uint8_t *notice, size_t len)
{
    uint8_t *msg = malloc(sizeof tag + len);
    if (msg) {
        memcpy(msg, tag, sizeof tag);
        memcpy(msg + sizeof tag, notice, len);
    }
    return msg;
}

void cf_notice_sign(const uint8_t *notice, size_t len, const struct cf_keys *broker,
                    uint8_t sig[CF_SIG_LEN])
{
    uint8_t *msg = signed_bytes(notice, len);
    if (!msg) { /* a signature nobody accepts rather than a wrong one */
        memset(sig, 0, CF_SIG_LEN);
        return;
    }
    crypto_sign_detached(sig, NULL, msg, sizeof tag + len, broker->sign_sk);
    free(msg);
}

int cf_notice_verify(const uint8_t *notice, size_t len, const uint8_t sig[CF_SIG_LEN],
                     const uint8_t broker_pk[CF_SIGN_PK])
{
    uint8_t *msg = signed_bytes(notice, len);
    if (!msg)
        return CF_ENOMEM;
    int ok = crypto_sign_verify_detached(sig, msg, sizeof tag + len, broker_pk) == 0;
    free(msg);
    return ok ? 0 : CF_ESIG;
}
