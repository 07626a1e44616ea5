/* JSON helpers shared by the DeepSpeed-config and case-file parsers (private to zs_common).
 *
 * Every reader names the value by its JSON path ("zero_optimization.stage") and says what was
 * expected and what was found, so a bad config gives one clear line (docs/spec/config.md,
 * "Types"). cJSON does the parsing; these add what cJSON does not: line/column of a syntax error,
 * duplicate-key detection, the lexical form of numbers, and typed reads. */
#ifndef ZEROSPEC_JSON_UTIL_H
#define ZEROSPEC_JSON_UTIL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "zerospec/error.h"

/* Parses strict JSON (RFC 8259). On failure returns NULL and fills err with
 * "<source>: invalid JSON at line L, column C: <hint>". */
cJSON *zs_json_parse(const char *text, const char *source, zs_error *err);

/* Reads a whole text file (NUL bytes refused); `what` names it in messages. Caller frees. */
char *zs_json_read_file(const char *path, const char *what, zs_error *err);

/* Fails naming the path of the first key that appears twice in one object. */
int zs_json_check_duplicates(const cJSON *root, zs_error *err);

/* The number nodes written with a fraction or an exponent ("1e3", "1000.0"). cJSON keeps only the
 * value; Python's json keeps the type, and a few DeepSpeed checks are isinstance(x, int). */
typedef struct zs_json_numforms {
    const cJSON **float_written;
    size_t count;
} zs_json_numforms;

int zs_json_numforms_build(const char *text, const cJSON *root, zs_json_numforms *out, zs_error *err);
int zs_json_numforms_is_float(const zs_json_numforms *forms, const cJSON *node);
void zs_json_numforms_free(zs_json_numforms *forms);

/* "<parent>.<key>", or "<key>" when parent is empty. */
void zs_json_path(char *buf, size_t n, const char *parent, const char *key);

/* Describes a value for messages: "two" (quoted), 1.5, true, null, an object, a list. */
void zs_json_describe(const cJSON *v, char *buf, size_t n);

/* True for the string "auto" (the Hugging Face Trainer's placeholder). */
int zs_json_is_auto(const cJSON *v);
int zs_json_fail_auto(const char *path, zs_error *err);

/* Typed reads of a present value. Each returns 0, or -1 with a message naming `path`; the string
 * "auto" gets the message of zs_json_fail_auto. Integers may be written as integral floats (5e8). */
int zs_json_int(const cJSON *v, const char *path, int64_t lo, int64_t hi, int64_t *out, zs_error *err);
int zs_json_number(const cJSON *v, const char *path, double *out, zs_error *err);
int zs_json_bool(const cJSON *v, const char *path, int *out, zs_error *err);
int zs_json_string(const cJSON *v, const char *path, const char **out, zs_error *err);
int zs_json_object(const cJSON *v, const char *path, zs_error *err);
int zs_json_number_pair(const cJSON *v, const char *path, double out[2], zs_error *err);

/* Case-insensitive Levenshtein distance, for "did you mean" suggestions. */
int zs_edit_distance(const char *a, const char *b);

/* The closest of `count` names (read at names[i * stride bytes]) within max_dist edits of `key`,
 * or NULL. Lets tables of structs whose first field is the name be searched directly. */
const char *zs_closest_name(const char *key, const char *const *names, size_t count, size_t stride,
                            int max_dist);

#endif
