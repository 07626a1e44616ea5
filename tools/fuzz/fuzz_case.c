/* libFuzzer harness: the case-file parser (tools/fuzz/run.sh). */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_text.h"
#include "zerospec/case.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    zs_case c;
    zs_error err;
    if (zs_case_parse(text, "<fuzz>", "/nonexistent", &c, &err) == 0)
        zs_case_free(&c);
    free(text);
    return 0;
}
