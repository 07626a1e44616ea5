#include "zerospec/dtype.h"

#include <string.h>

static const struct {
    const char *name;
    size_t size;
} dtype_table[ZS_DTYPE_COUNT] = {
    [ZS_F32] = {"F32", 4}, [ZS_F16] = {"F16", 2}, [ZS_BF16] = {"BF16", 2}, [ZS_F64] = {"F64", 8},
    [ZS_I64] = {"I64", 8}, [ZS_I32] = {"I32", 4}, [ZS_U8] = {"U8", 1},    [ZS_BOOL] = {"BOOL", 1},
};

const char *zs_dtype_name(zs_dtype t)
{
    return (t >= 0 && t < ZS_DTYPE_COUNT) ? dtype_table[t].name : "?";
}

size_t zs_dtype_size(zs_dtype t)
{
    return (t >= 0 && t < ZS_DTYPE_COUNT) ? dtype_table[t].size : 0;
}

int zs_dtype_parse(const char *name, zs_dtype *out)
{
    for (int t = 0; t < ZS_DTYPE_COUNT; t++) {
        if (strcmp(name, dtype_table[t].name) == 0) {
            *out = (zs_dtype)t;
            return 0;
        }
    }
    return -1;
}
