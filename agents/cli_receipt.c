/* childfirst receipt: brings a receipt up to date. It asks the broker, as
 * this agency, for the receipt's leaf against the newest checkpoint
 * (ProofRequest), checks everything it is given, and prints the receipt with
 * a "later" member: the newest checkpoint, the leaf's inclusion proof in it,
 * and the consistency proof from the receipt's own checkpoint. `childfirst
 * audit prove` checks both, offline. Nothing is taken on trust: the record
 * must be the receipt's byte for byte, and both proofs must verify under the
 * pinned broker key, or the command fails and prints nothing. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>
#include <zmq.h>

#include "agent.h"
#include "agent_text.h"
#include "childfirst/checkpoint.h"
#include "childfirst/merkle.h"
#include "childfirst/record.h"
#include "cli.h"
#include "curve_client.h"

#define ANSWER_MS 15000

static const char receipt_help[] =
    "usage: childfirst receipt RECEIPT.json -c agent.ini\n"
    "\n"
    "Asks the broker to prove RECEIPT.json's leaf in its newest checkpoint, and\n"
    "prints the receipt with \"later\": that checkpoint, the inclusion proof and\n"
    "the consistency proof from the receipt's checkpoint. Both are checked first\n"
    "against the broker key pinned in agent.ini. The agency must be a party to\n"
    "the leaf (an auditor may ask for any). `childfirst audit prove` checks the\n"
    "result offline.\n"
    "\n"
    "  -c FILE   this agency's agent.ini (the agent need not be running)\n"
    "\n"
    "Exit status: 0 proven; 1 refused, unreachable or not proven (the reason on\n"
    "stderr); 2 usage.\n";

struct held {
    uint64_t leaf;
    uint8_t *record;
    size_t record_len;
    struct cf_checkpoint cp;
};

/* The leaf, record and checkpoint of a receipt, the checkpoint checked. */
static int read_receipt(const json_t *doc, const uint8_t broker_pk[32], struct held *h,
                        struct cf_error *err)
{
    const json_t *leaf = json_object_get(doc, "leaf_index");
    const char *note = json_string_value(json_object_get(doc, "checkpoint"));
    const char *b64 = json_string_value(json_object_get(doc, "record"));
    if (!json_is_integer(leaf) || json_integer_value(leaf) < 0 || !note || !b64)
        return cf_error_set(err, CF_EFIELD,
                            "a receipt needs leaf_index, checkpoint and record (base64)");
    h->leaf = (uint64_t)json_integer_value(leaf);
    size_t cap = strlen(b64);
    h->record = malloc(cap ? cap : 1);
    if (!h->record)
        return cf_error_set(err, CF_ENOMEM, "out of memory");
    if (sodium_base642bin(h->record, cap, b64, strlen(b64), NULL, &h->record_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return cf_error_set(err, CF_EFIELD, "record: not base64");
    int rc = cf_checkpoint_open(note, strlen(note), broker_pk, &h->cp, err);
    if (rc != 0)
        cf_error_prefix(err, "the receipt's checkpoint");
    return rc;
}

static json_t *hex_list(const uint8_t (*hashes)[CF_MERKLE_HASH], size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++)
        json_array_append_new(list, agent_text_hex(hashes[i], CF_MERKLE_HASH));
    return list;
}

/* Checks the broker's Proof against what the receipt holds; the "later"
 * member on success. */
static int check_proof(const struct held *h, const struct cf_frame *p, const uint8_t broker_pk[32],
                       json_t **later, struct cf_error *err)
{
    struct cf_checkpoint now;
    if (p->leaf_index != h->leaf || p->record_len != h->record_len ||
        memcmp(p->record, h->record, h->record_len) != 0)
        return cf_error_set(err, CF_EMISMATCH,
                            "the broker's record for leaf %" PRIu64 " is not the receipt's",
                            h->leaf);
    int rc = cf_record_prove(p->record, p->record_len, p->leaf_index,
                             (const uint8_t(*)[CF_MERKLE_HASH])p->proof, p->n_proof, p->checkpoint,
                             p->checkpoint_len, broker_pk, &now, err);
    if (rc != 0)
        return rc;
    if (strcmp(now.origin, h->cp.origin) != 0)
        return cf_error_set(err, CF_EPROOF,
                            "the newest checkpoint is of origin %s, the receipt's of %s: the log "
                            "was restored; prove the receipt with its own checkpoint",
                            now.origin, h->cp.origin);
    if (p->consistency_from != h->cp.size ||
        cf_merkle_verify_consistency(h->cp.size, now.size, h->cp.root, now.root,
                                     (const uint8_t(*)[CF_MERKLE_HASH])p->consistency,
                                     p->n_consistency) != 0)
        return cf_error_set(err, CF_EPROOF,
                            "the newest checkpoint (size %" PRIu64
                            ") does not extend the receipt's (size %" PRIu64 ")",
                            now.size, h->cp.size);
    *later = json_pack(
        "{s:s#, s:o, s:o}", "checkpoint", p->checkpoint, (int)p->checkpoint_len, "inclusion_proof",
        hex_list((const uint8_t(*)[CF_MERKLE_HASH])p->proof, p->n_proof), "consistency_proof",
        hex_list((const uint8_t(*)[CF_MERKLE_HASH])p->consistency, p->n_consistency));
    return *later ? 0 : cf_error_set(err, CF_ENOMEM, "out of memory");
}

int cli_receipt(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'}, {0}};
    const char *config = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'h')
            return fputs(receipt_help, stdout), CLI_OK;
        else
            return fputs(receipt_help, stderr), CLI_USAGE;
    }
    if (!config || optind != argc - 1)
        return fputs(receipt_help, stderr), CLI_USAGE;
    const char *path = argv[optind];

    struct agent_config cfg;
    struct cf_keys *keys = NULL;
    struct cf_error err = {0};
    struct held h = {0};
    uint8_t broker_pk[32], broker_curve[CF_CURVE_KEY];
    void *zmq = NULL, *sock = NULL;
    json_t *later = NULL;
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    int rc = doc ? 0 : cf_error_set(&err, CF_EDECODE, "%s: %s (line %d)", path, je.text, je.line);
    if (rc == 0)
        rc = agent_config_load(config, &cfg, &err);
    if (rc == 0 && (cf_keys_b64_decode(cfg.broker_sign_key, broker_pk) != 0 ||
                    cf_keys_z85_decode(cfg.broker_curve_key, broker_curve) != 0))
        rc = cf_error_set(&err, CF_ECONFIG, "%s: broker_sign_key or broker_curve_key is not a key",
                          config);
    if (rc == 0 && (rc = read_receipt(doc, broker_pk, &h, &err)) != 0)
        cf_error_prefix(&err, path);
    if (rc == 0)
        rc = cf_keys_load(cfg.key_file, &keys, &err);
    if (rc == 0 && !(zmq = zmq_ctx_new()))
        rc = cf_error_set(&err, CF_ENOMEM, "cannot start ZeroMQ");
    if (rc == 0)
        rc = cf_curve_client_new(zmq, keys, broker_curve, (unsigned)cfg.heartbeat_ms, &sock, &err);
    if (rc == 0 && zmq_connect(sock, cfg.broker) != 0)
        rc = cf_error_set(&err, CF_ECONFIG, "cannot connect to %s: %s", cfg.broker,
                          zmq_strerror(zmq_errno()));
    if (rc == 0) {
        struct cf_frame q = {
            .kind = CF_FRAME_PROOF_REQUEST, .leaf_index = h.leaf, .from_size = h.cp.size};
        struct cf_frame p;
        uint8_t *bytes;
        rc = cf_curve_ask(sock, &q, CF_FRAME_PROOF, ANSWER_MS, NULL, &p, &bytes, &err);
        if (rc == 0) {
            rc = check_proof(&h, &p, broker_pk, &later, &err);
            cf_wire_frame_fini(&p);
            free(bytes);
        }
    }
    if (rc == 0) {
        json_object_set_new(doc, "later", later);
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
    } else {
        fprintf(stderr, "childfirst receipt: %s\n", err.text);
    }
    json_decref(doc);
    free(h.record);
    if (sock)
        zmq_close(sock);
    if (zmq)
        zmq_ctx_term(zmq);
    cf_keys_destroy(&keys);
    return rc == 0 ? CLI_OK : CLI_FAIL;
}
