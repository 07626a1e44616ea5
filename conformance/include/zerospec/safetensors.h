/* safetensors reader and writer (https://github.com/huggingface/safetensors format).
 *
 * Layout: 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON, then the data buffer.
 * The writer follows the reference writer's conventions so files are byte-deterministic:
 *   - "__metadata__" first (string -> string, keys sorted), then tensors in data-offset order;
 *   - tensors laid out back to back in the reference writer's order: descending dtype rank
 *     (I64, F64, F32, I32, BF16, F16, U8, BOOL), then by name — byte-identical to safetensors.numpy.save;
 *   - compact JSON, fields in the order dtype, shape, data_offsets;
 *   - header padded with spaces to a multiple of 8 bytes;
 *   - written to "<path>.tmp.<pid>", fsync'ed, then renamed over <path> (never half-written).
 * The reader applies every validation rule of the reference reader and rejects anything else with
 * one clear message: short file, header length beyond the file or > 100 MB, header not a JSON
 * object, unknown dtype, duplicate names, offsets that overlap / leave holes / disagree with
 * shape x dtype size, trailing bytes, non-string metadata values.
 * Data is stored little-endian (the host must be little-endian; checked at run time). */
#ifndef ZEROSPEC_SAFETENSORS_H
#define ZEROSPEC_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "zerospec/dtype.h"
#include "zerospec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZS_ST_MAX_DIMS 8

typedef struct zs_st_tensor {
    char *name;
    zs_dtype dtype;
    int ndim;                        /* 0 for a scalar */
    int64_t shape[ZS_ST_MAX_DIMS];
    size_t numel;                    /* product of shape (1 for a scalar) */
    size_t nbytes;                   /* numel * zs_dtype_size(dtype) */
    void *data;                      /* owned; aligned for the dtype */
} zs_st_tensor;

typedef struct zs_st_file {
    zs_st_tensor *tensors;           /* in data-offset order */
    size_t count;
    char **meta_keys;                /* sorted */
    char **meta_values;
    size_t meta_count;
} zs_st_file;

/* ---- reading ---- */
int zs_st_read_file(const char *path, zs_st_file *out, zs_error *err);
/* Parses an in-memory image (same rules); `what` names it in messages. */
int zs_st_read_memory(const void *bytes, size_t len, const char *what, zs_st_file *out, zs_error *err);
const zs_st_tensor *zs_st_find(const zs_st_file *f, const char *name);   /* NULL if absent */
const char *zs_st_meta(const zs_st_file *f, const char *key);           /* NULL if absent */
void zs_st_file_free(zs_st_file *f);

/* ---- writing ---- */
typedef struct zs_st_writer zs_st_writer;

zs_st_writer *zs_st_writer_new(void);
void zs_st_writer_free(zs_st_writer *w);
/* Copies `data` (numel x dtype size bytes). Fails on a duplicate name or ndim > ZS_ST_MAX_DIMS. */
int zs_st_add(zs_st_writer *w, const char *name, zs_dtype dtype, int ndim, const int64_t *shape,
              const void *data, zs_error *err);
/* Convenience wrappers. */
int zs_st_add_f32(zs_st_writer *w, const char *name, const float *data, size_t n, zs_error *err);   /* 1-D */
int zs_st_add_scalar_f32(zs_st_writer *w, const char *name, float v, zs_error *err);               /* shape [] */
int zs_st_add_scalar_f64(zs_st_writer *w, const char *name, double v, zs_error *err);
int zs_st_add_scalar_i64(zs_st_writer *w, const char *name, int64_t v, zs_error *err);
/* Sets (or replaces) a metadata entry. */
int zs_st_set_meta(zs_st_writer *w, const char *key, const char *value, zs_error *err);
int zs_st_set_meta_int(zs_st_writer *w, const char *key, int64_t value, zs_error *err);   /* decimal */
/* Serializes to memory (caller frees *bytes) or writes atomically to a file. */
int zs_st_serialize(const zs_st_writer *w, void **bytes, size_t *len, zs_error *err);
int zs_st_write_file(const zs_st_writer *w, const char *path, zs_error *err);

#ifdef __cplusplus
}
#endif
#endif
