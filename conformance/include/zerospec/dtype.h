/* Element types used in traces and configs, with their safetensors names and sizes. */
#ifndef ZEROSPEC_DTYPE_H
#define ZEROSPEC_DTYPE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum zs_dtype {
    ZS_F32 = 0,
    ZS_F16,
    ZS_BF16,
    ZS_F64,
    ZS_I64,
    ZS_I32,
    ZS_U8,
    ZS_BOOL,
    ZS_DTYPE_COUNT
} zs_dtype;

/* "F32", "F16", "BF16", "F64", "I64", "I32", "U8", "BOOL" (safetensors spelling). */
const char *zs_dtype_name(zs_dtype t);
/* Parses the safetensors spelling; returns 0 and sets *out, or -1 for an unknown name. */
int zs_dtype_parse(const char *name, zs_dtype *out);
/* Bytes per element. */
size_t zs_dtype_size(zs_dtype t);

#ifdef __cplusplus
}
#endif
#endif
