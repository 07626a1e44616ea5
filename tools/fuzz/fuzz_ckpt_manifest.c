/* libFuzzer harness: the checkpoint manifest parser (tools/fuzz/run.sh). */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_text.h"
#include "zerospec/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    zs_checkpoint c;
    zs_error err;
    if (zs_ckpt_parse_manifest(text, "<fuzz>", &c, &err) == 0)
        zs_ckpt_free(&c);
    free(text);
    return 0;
}
