/* childfirst audit prove: checks a receipt with the broker's public key alone
 * and says what it proves. The checks are common/src/receipt.c's; a failure
 * names its CF_E* code, so a script can tell a forged proof (CF_EPROOF) from
 * another broker's checkpoint (CF_ESIG) or an index past the tree (CF_ERANGE). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "childfirst/file.h"
#include "childfirst/receipt.h"
#include "agent_text.h"
#include "cli.h"
#include "cli_audit.h"

static const char help[] =
    "usage: childfirst audit prove RECEIPT.json\n"
    "                              (--broker-key BASE64 | --broker-key-file FILE)\n"
    "\n"
    "Checks a receipt ('childfirst refer' prints one; the spool keeps one beside\n"
    "each sent file) offline: its checkpoint is signed by the broker key given\n"
    "here; its record is leaf leaf_index of that tree by its inclusion proof,\n"
    "every hash of which must be used; the record is the receipt's message and\n"
    "case. A \"later\" part (a later checkpoint, the leaf's inclusion proof in it\n"
    "and a consistency proof to it) is checked too: the record is still in the\n"
    "log, which only grew. Then prints what was proven: leaf, tree size, root,\n"
    "event, sender, type, case and time.\n"
    "\n"
    "Exit status: 0 proven; 1 not proven (stderr names the CF_E* code: CF_ESIG\n"
    "another key signed it, CF_EPROOF a proof does not verify, CF_ERANGE the\n"
    "index is past the tree, CF_EMISMATCH the record is another message's) or\n"
    "the receipt cannot be read; 2 bad usage or an unusable key.\n";

static const char prog[] = "childfirst audit prove";

static void print_root(const char *label, const struct cf_checkpoint *cp)
{
    char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, cp->root, sizeof cp->root, sodium_base64_VARIANT_ORIGINAL);
    printf("%s: %s (size %" PRIu64 ", origin %s)\n", label, b64, cp->size, cp->origin);
}

static void print_result(const struct cf_receipt *r, const struct cf_receipt_result *res)
{
    char t[AGENT_TEXT_TIME_MAX], id[2 * CF_MESSAGE_ID_LEN + 1];
    printf("proven: leaf %" PRIu64 " is in the broker's signed tree of size %" PRIu64 "\n",
           r->leaf_index, res->cp.size);
    print_root("root", &res->cp);
    printf("event: %s\n",
           cf_record_event_name(res->event) ? cf_record_event_name(res->event) : "unknown");
    if (res->has_header) {
        printf("sender: %s\n", res->header.sender);
        printf("type: %s\n", cf_header_type_name(res->header.type));
        printf("case: %s\n", res->header.case_id);
        sodium_bin2hex(id, sizeof id, res->header.message_id, CF_MESSAGE_ID_LEN);
        printf("message: %s\n", id);
    } else if (res->actor[0]) {
        printf("actor: %s\n", res->actor);
    }
    agent_text_time(res->time, t);
    printf("time: %s\n", t);
    if (res->has_later) {
        printf("later: leaf %" PRIu64 " is still in the tree of size %" PRIu64
               ", which extends size %" PRIu64 " (consistency proof verified)\n",
               r->leaf_index, res->later.size, res->cp.size);
        print_root("later root", &res->later);
    }
}

int cli_audit_prove(int argc, char **argv)
{
    static const struct option opts[] = {{"broker-key", required_argument, NULL, 'k'},
                                         {"broker-key-file", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *key = NULL, *key_file = NULL;
    int c, repeated = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:f:h", opts, NULL)) != -1) {
        if (c == 'k')
            repeated += key != NULL, key = optarg;
        else if (c == 'f')
            repeated += key_file != NULL, key_file = optarg;
        else if (c == 'h')
            return fputs(help, stdout), CLI_OK;
        else
            return fputs(help, stderr), CLI_USAGE;
    }
    if (optind != argc - 1)
        return fputs(help, stderr), CLI_USAGE;
    if (repeated) {
        fprintf(stderr, "%s: give each option once\n", prog);
        return CLI_USAGE;
    }
    uint8_t pk[CF_SIGN_PK];
    int rc = cli_audit_broker_key(prog, key, key_file, pk);
    if (rc != CLI_OK)
        return rc;
    uint8_t *text = NULL;
    size_t len;
    struct cf_error err = {0};
    if (cf_file_read(argv[optind], CF_MAX_JSON, &text, &len, &err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err.text);
        return CLI_FAIL;
    }
    struct cf_receipt r;
    struct cf_receipt_result res;
    rc = cf_receipt_parse((const char *)text, len, &r, &err);
    free(text);
    if (rc == 0)
        rc = cf_receipt_verify(&r, pk, &res, &err);
    if (rc == 0)
        print_result(&r, &res);
    else
        fprintf(stderr, "%s: NOT PROVEN: %s: %s\n", prog, cf_error_name(rc), err.text);
    cf_receipt_fini(&r);
    return rc == 0 ? CLI_OK : CLI_FAIL;
}
