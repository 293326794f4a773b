/* Fuzz target: the case message JSON validator. An input is a type name, a newline and a
 * document. Properties: every refusal says why; what it accepts comes back from the header
 * and payloads it made as an equal document; and a proposal's NRM return reads back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "childfirst/message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < 32 ? size : 32);
    if (!nl)
        return 0;
    char name[32];
    memcpy(name, data, (size_t)(nl - data));
    name[nl - data] = 0;
    enum cf_type type = cf_header_type_parse(name);
    const char *text = (const char *)nl + 1;
    size_t len = size - (size_t)(nl - data) - 1;

    struct cf_header h;
    memset(&h, 0, sizeof h);
    h.type = type;
    uint8_t *payload, *nrm;
    size_t payload_len, nrm_len;
    struct cf_error err = {0};
    if (cf_message_from_json(type, text, len, "2026-11-25", "england-wales", &h, &payload,
                             &payload_len, &nrm, &nrm_len, &err) != 0) {
        if (err.text[0] == 0)
            abort(); /* every refusal says why */
        return 0;
    }
    json_t *back, *sent = json_loadb(text, len, 0, NULL);
    if (!sent || cf_message_to_json(&h, payload, payload_len, nrm, nrm_len, &back, &err) != 0 ||
        !json_equal(sent, back))
        abort();
    json_decref(back);
    if (nrm) {
        json_t *ret;
        if (cf_message_nrm_to_json(nrm, nrm_len, &ret, &err) != 0)
            abort();
        json_decref(ret);
    }
    json_decref(sent);
    free(payload);
    free(nrm);
    return 0;
}
