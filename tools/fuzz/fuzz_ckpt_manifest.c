/* libFuzzer harness: the checkpoint manifest parser (tools/fuzz/run.sh). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zerospec/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    zs_checkpoint c;
    zs_error err;
    if (zs_ckpt_parse_manifest(text, "<fuzz>", &c, &err) == 0)
        zs_ckpt_free(&c);
    free(text);
    return 0;
}
