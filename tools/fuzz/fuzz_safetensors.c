/* libFuzzer harness: the safetensors reader must reject any malformed image with one message and
 * read any valid one (tools/fuzz/run.sh). */
#include <stdint.h>
#include <stdlib.h>

#include "zerospec/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zs_st_file f;
    zs_error err;
    if (zs_st_read_memory(data, size, "<fuzz>", &f, &err) == 0) {
        for (size_t i = 0; i < f.count; i++)
            zs_st_find(&f, f.tensors[i].name);
        zs_st_meta(&f, "format");
        zs_st_file_free(&f);
    }
    return 0;
}
