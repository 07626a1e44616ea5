/* safetensors reader and writer; the contract (layout, ordering, validation) is in
 * zerospec/safetensors.h. Facts about the reference implementation come from
 * huggingface/safetensors safetensors/src/tensor.rs (read_metadata, Metadata::validate, prepare). */
#define _POSIX_C_SOURCE 200809L   /* fsync, getpid, open flags under -std=c11 */

#include "zerospec/safetensors.h"
#include "zerospec/atomic_file.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HEADER_LEN 100000000ull        /* the reference's MAX_HEADER_SIZE */
#define EXACT_INT_LIMIT (INT64_C(1) << 53) /* cJSON keeps numbers as doubles: integers below are exact */
#define METADATA_KEY "__metadata__"

/* ------------------------------------------------------------------------------------------------
 * Shared helpers
 * ---------------------------------------------------------------------------------------------- */

/* Data is stored little-endian and copied byte for byte, so a big-endian host would silently
 * misread every value. Cheap enough to check on every top-level call (no shared state). */
static int check_little_endian(zs_error *err)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    if (first == 1)
        return 0;
    return zs_fail(err, "safetensors: this host is big-endian; only little-endian hosts are supported");
}

/* Strict UTF-8 (no overlong forms, surrogates or code points above U+10FFFF), as Rust's
 * str::from_utf8 requires of the header. Returns the offset of the first bad byte, or len. */
static size_t utf8_valid_prefix(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t extra = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 9;
        if (extra == 9 || extra >= len - i)  /* not a lead byte, or cut short */
            return i;
        uint32_t cp = extra == 0 ? c : (uint32_t)(c & (0x3F >> extra));
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += extra + 1;
    }
    return len;
}

static bool utf8_valid(const char *s)
{
    size_t len = strlen(s);
    return utf8_valid_prefix((const unsigned char *)s, len) == len;
}

/* The reference writer's order: dtypes by descending "alignment", which is the declaration order
 * of its Dtype enum (BOOL < U8 < F16 < BF16 < I32 < F32 < F64 < I64 among ours), then by name. */
static int writer_rank(zs_dtype t)
{
    static const int rank[ZS_DTYPE_COUNT] = {
        [ZS_BOOL] = 0, [ZS_U8] = 1, [ZS_F16] = 2, [ZS_BF16] = 3,
        [ZS_I32] = 4,  [ZS_F32] = 5, [ZS_F64] = 6, [ZS_I64] = 7,
    };
    return rank[t];
}

/* "[2, 3]" (Python's spelling), for messages. */
static const char *format_shape(char *buf, size_t size, int ndim, const int64_t *shape)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < ndim && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, d ? ", %" PRId64 : "%" PRId64, shape[d]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

/* numel and nbytes of a shape, or -1 if either overflows 64 bits. */
static int shape_size(int ndim, const int64_t *shape, zs_dtype t, uint64_t *numel, uint64_t *nbytes)
{
    uint64_t n = 1;
    for (int d = 0; d < ndim; d++)
        if (__builtin_mul_overflow(n, (uint64_t)shape[d], &n))
            return -1;
    *numel = n;
    return __builtin_mul_overflow(n, (uint64_t)zs_dtype_size(t), nbytes) ? -1 : 0;
}

static void free_tensor(zs_st_tensor *t)
{
    free(t->name);
    free(t->data);
}

/* Copies `nbytes` into a fresh malloc'ed buffer (malloc's alignment suits every dtype). Never
 * returns NULL on success, even for an empty tensor, so callers may always pass t->data on. */
static void *copy_bytes(const void *src, size_t nbytes)
{
    void *p = malloc(nbytes ? nbytes : 1);
    if (p && nbytes)
        memcpy(p, src, nbytes);
    return p;
}

/* Grows *items (element size `elem`) so that it holds at least `need` elements. */
static int reserve(void **items, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 8;
    while (n < need)
        n *= 2;
    void *p = realloc(*items, n * elem);
    if (!p)
        return -1;
    *items = p;
    *cap = n;
    return 0;
}

/* ------------------------------------------------------------------------------------------------
 * Reading: header entries
 * ---------------------------------------------------------------------------------------------- */

/* One tensor entry of the header while it is being validated. */
typedef struct entry {
    const char *name;                /* points into the cJSON tree */
    zs_dtype dtype;
    int ndim;
    int64_t shape[ZS_ST_MAX_DIMS];
    uint64_t numel, nbytes;
    uint64_t begin, end;             /* data_offsets, relative to the data buffer */
} entry;

/* JSON numbers arrive as doubles; accept exact non-negative integers below 2^53 only (a larger
 * literal may have been rounded by the parse). */
static int json_to_u64(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v))
        return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d < (double)EXACT_INT_LIMIT) || d != (double)(uint64_t)d)
        return -1;
    *out = (uint64_t)d;
    return 0;
}

/* "-2", "2.5", "\"x\"" ... for messages about a value that is not a non-negative integer. */
static const char *describe_json(const cJSON *v, char *buf, size_t size)
{
    if (cJSON_IsNumber(v))
        snprintf(buf, size, "%.17g", v->valuedouble);
    else if (cJSON_IsString(v))
        snprintf(buf, size, "a string");
    else if (cJSON_IsArray(v) || cJSON_IsObject(v))
        snprintf(buf, size, "%s", cJSON_IsArray(v) ? "an array" : "an object");
    else
        snprintf(buf, size, "%s", cJSON_IsNull(v) ? "null" : "a boolean");
    return buf;
}

static int parse_dtype(const cJSON *v, entry *e, const char *what, zs_error *err)
{
    if (!cJSON_IsString(v))
        return zs_fail(err, "%s: tensor '%s': dtype must be a string", what, e->name);
    if (zs_dtype_parse(v->valuestring, &e->dtype) != 0)
        return zs_fail(err, "%s: tensor '%s': dtype '%s' is not supported (supported: F64 F32 F16 BF16 I64 "
                       "I32 U8 BOOL)", what, e->name, v->valuestring);
    return 0;
}

static int parse_shape(const cJSON *v, entry *e, const char *what, zs_error *err)
{
    if (!cJSON_IsArray(v))
        return zs_fail(err, "%s: tensor '%s': shape must be an array of integers", what, e->name);
    int ndim = cJSON_GetArraySize(v);
    if (ndim > ZS_ST_MAX_DIMS)
        return zs_fail(err, "%s: tensor '%s': shape has %d dimensions, more than the %d supported", what,
                       e->name, ndim, ZS_ST_MAX_DIMS);
    e->ndim = 0;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, v) {
        uint64_t n;
        char desc[64];
        if (json_to_u64(dim, &n) != 0)
            return zs_fail(err, "%s: tensor '%s': shape[%d] is %s, not a non-negative integer", what, e->name,
                           e->ndim, describe_json(dim, desc, sizeof desc));
        e->shape[e->ndim++] = (int64_t)n;
    }
    return 0;
}

static int parse_offsets(const cJSON *v, entry *e, const char *what, zs_error *err)
{
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2)
        return zs_fail(err, "%s: tensor '%s': data_offsets must be an array [begin, end] of two integers", what,
                       e->name);
    char desc[64];
    const cJSON *b = cJSON_GetArrayItem(v, 0), *x = cJSON_GetArrayItem(v, 1);
    if (json_to_u64(b, &e->begin) != 0)
        return zs_fail(err, "%s: tensor '%s': data_offsets begin is %s, not a non-negative integer", what,
                       e->name, describe_json(b, desc, sizeof desc));
    if (json_to_u64(x, &e->end) != 0)
        return zs_fail(err, "%s: tensor '%s': data_offsets end is %s, not a non-negative integer", what,
                       e->name, describe_json(x, desc, sizeof desc));
    if (e->end < e->begin)
        return zs_fail(err, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] end before they begin",
                       what, e->name, e->begin, e->end);
    return 0;
}

/* end - begin must be exactly shape x dtype size (Metadata::validate). */
static int check_entry_size(entry *e, const char *what, zs_error *err)
{
    char shape[256];
    format_shape(shape, sizeof shape, e->ndim, e->shape);
    if (shape_size(e->ndim, e->shape, e->dtype, &e->numel, &e->nbytes) != 0)
        return zs_fail(err, "%s: tensor '%s': shape %s of %s overflows 64 bits", what, e->name, shape,
                       zs_dtype_name(e->dtype));
    if (e->end - e->begin != e->nbytes)
        return zs_fail(err, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64
                       " bytes but shape %s of %s needs %" PRIu64, what, e->name, e->begin, e->end,
                       e->end - e->begin, shape, zs_dtype_name(e->dtype), e->nbytes);
    return 0;
}

/* Finds the three fields, each exactly once, and nothing else. (The reference rejects repeated
 * fields; it ignores unknown ones, which no writer produces, so we reject them too.) */
static int find_fields(const cJSON *obj, const cJSON *fields[3], const char *name, const char *what,
                       zs_error *err)
{
    static const char *const field_names[3] = {"dtype", "shape", "data_offsets"};
    const cJSON *child;
    cJSON_ArrayForEach(child, obj) {
        int k = 0;
        while (k < 3 && strcmp(child->string, field_names[k]) != 0)
            k++;
        if (k == 3)
            return zs_fail(err, "%s: tensor '%s': unknown field '%s' (allowed: dtype, shape, data_offsets)",
                           what, name, child->string);
        if (fields[k])
            return zs_fail(err, "%s: tensor '%s': field '%s' appears twice", what, name, field_names[k]);
        fields[k] = child;
    }
    for (int k = 0; k < 3; k++)
        if (!fields[k])
            return zs_fail(err, "%s: tensor '%s': missing field '%s'", what, name, field_names[k]);
    return 0;
}

static int parse_entry(const cJSON *obj, entry *e, const char *what, zs_error *err)
{
    e->name = obj->string;
    if (!cJSON_IsObject(obj))
        return zs_fail(err, "%s: tensor '%s': entry must be an object with dtype, shape and data_offsets", what,
                       e->name);
    const cJSON *fields[3] = {NULL, NULL, NULL};
    if (find_fields(obj, fields, e->name, what, err) != 0 || parse_dtype(fields[0], e, what, err) != 0 ||
        parse_shape(fields[1], e, what, err) != 0 || parse_offsets(fields[2], e, what, err) != 0)
        return -1;
    return check_entry_size(e, what, err);
}

/* ------------------------------------------------------------------------------------------------
 * Reading: the header as a whole
 * ---------------------------------------------------------------------------------------------- */

/* cJSON is more lenient than the reference's serde_json: it takes raw control characters in
 * strings and any byte <= 0x20 as whitespace, "\u0000" would silently cut a name short, and it
 * reads every number as a double, so "4.0" or "1e3" would pass for integers. The first three are
 * rejected here; the offset of the first number written as a float goes to *float_at (len if
 * none) and is reported after the entries, whose own messages name the tensor. */
static int check_json_lexemes(const char *h, size_t n, size_t *float_at, const char *what, zs_error *err)
{
    bool in_string = false;
    *float_at = n;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (in_string && c < 0x20)
            return zs_fail(err, "%s: header has a raw control character (0x%02x) inside a string at byte %zu",
                           what, c, i);
        if (in_string && c == '\\') {
            if (i + 5 < n && memcmp(h + i + 1, "u0000", 5) == 0)
                return zs_fail(err, "%s: header has an escaped NUL (\\u0000) in a string at byte %zu", what, i);
            i++;                                  /* skip the escaped character */
        } else if (c == '"') {
            in_string = !in_string;
        } else if (!in_string && c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            return zs_fail(err, "%s: header has a control character (0x%02x) at byte %zu", what, c, i);
        } else if (!in_string && (c == '.' || c == 'e' || c == 'E') && i > 0 && h[i - 1] >= '0' &&
                   h[i - 1] <= '9' && *float_at == n) {
            *float_at = i;
        }
    }
    return 0;
}

/* Checks the text of the header and parses it; the caller deletes *root. */
static int parse_header_json(const char *h, size_t n, cJSON **root, size_t *float_at, const char *what,
                             zs_error *err)
{
    if (n == 0 || h[0] != '{')
        return zs_fail(err, "%s: header does not start with '{' (it must be a JSON object)", what);
    size_t bad = utf8_valid_prefix((const unsigned char *)h, n);
    if (bad != n)
        return zs_fail(err, "%s: header is not valid UTF-8 (byte %zu)", what, bad);
    if (check_json_lexemes(h, n, float_at, what, err) != 0)
        return -1;
    const char *end = NULL;
    *root = cJSON_ParseWithLengthOpts(h, n, &end, 0);
    if (!*root)
        return zs_fail(err, "%s: header is not valid JSON (error near byte %td)", what, end ? end - h : (ptrdiff_t)0);
    for (const char *p = end; p < h + n; p++)   /* padding may only be whitespace */
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return zs_fail(err, "%s: header has bytes after the JSON object (byte %td)", what, p - h);
    return 0;   /* starts with '{' and parsed whole: an object */
}

static int compare_json_keys(const void *a, const void *b)
{
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* The members of a JSON object sorted by key, after checking that no key repeats (cJSON keeps
 * repeated keys as separate members). `kind` names the keys in the message. Caller frees. */
static const cJSON **sorted_members(const cJSON *obj, size_t *n, const char *kind, const char *what,
                                    zs_error *err)
{
    *n = (size_t)cJSON_GetArraySize(obj);
    const cJSON **kids = malloc((*n ? *n : 1) * sizeof *kids);
    if (!kids) {
        zs_fail(err, "%s: out of memory", what);
        return NULL;
    }
    size_t i = 0;
    const cJSON *child;
    cJSON_ArrayForEach(child, obj)
        kids[i++] = child;
    qsort(kids, *n, sizeof *kids, compare_json_keys);
    for (i = 1; i < *n; i++)
        if (strcmp(kids[i - 1]->string, kids[i]->string) == 0) {
            zs_fail(err, "%s: duplicate %s '%s'", what, kind, kids[i]->string);
            free(kids);
            return NULL;
        }
    return kids;
}

static int compare_entries_by_offset(const void *pa, const void *pb)
{
    const entry *a = pa, *b = pb;
    if (a->begin != b->begin)
        return a->begin < b->begin ? -1 : 1;
    if (a->end != b->end)
        return a->end < b->end ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Sorts by offset and checks that the tensors tile [0, data_end) with no hole and no overlap
 * (the reference's InvalidOffset, which also rules out polyglot files). */
static int check_tiling(entry *es, size_t n, uint64_t *data_end, const char *what, zs_error *err)
{
    qsort(es, n, sizeof *es, compare_entries_by_offset);
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const entry *e = &es[i];
        const char *kind = e->begin > pos ? "a hole" : "an overlap";
        if (e->begin != pos && i == 0)
            return zs_fail(err, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] begin at %" PRIu64
                           " but the data buffer starts at 0 (%s)", what, e->name, e->begin, e->end, e->begin, kind);
        if (e->begin != pos)
            return zs_fail(err, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] begin at %" PRIu64
                           " but the previous tensor '%s' ends at %" PRIu64 " (%s)", what, e->name, e->begin,
                           e->end, e->begin, es[i - 1].name, pos, kind);
        pos = e->end;
    }
    *data_end = pos;
    return 0;
}

/* __metadata__ must map strings to strings; copies it into out, sorted by key. */
static int parse_metadata(const cJSON *meta, zs_st_file *out, const char *what, zs_error *err)
{
    if (!cJSON_IsObject(meta))
        return zs_fail(err, "%s: __metadata__ must be an object of strings", what);
    size_t n;
    const cJSON **kvs = sorted_members(meta, &n, "__metadata__ key", what, err);
    if (!kvs)
        return -1;
    int rc = 0;
    out->meta_keys = calloc(n ? n : 1, sizeof *out->meta_keys);
    out->meta_values = calloc(n ? n : 1, sizeof *out->meta_values);
    if (!out->meta_keys || !out->meta_values)
        rc = zs_fail(err, "%s: out of memory", what);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!cJSON_IsString(kvs[i])) {
            rc = zs_fail(err, "%s: __metadata__ value of '%s' must be a string", what, kvs[i]->string);
            break;
        }
        out->meta_keys[i] = strdup(kvs[i]->string);
        out->meta_values[i] = strdup(kvs[i]->valuestring);
        out->meta_count++;
        if (!out->meta_keys[i] || !out->meta_values[i])
            rc = zs_fail(err, "%s: out of memory", what);
    }
    free(kvs);
    return rc;
}

/* Validates every entry of the header into es (room for all members) and sets *n. */
static int parse_entries(const cJSON *root, entry *es, size_t *n, zs_st_file *out, const char *what,
                         zs_error *err)
{
    *n = 0;
    const cJSON *child;
    cJSON_ArrayForEach(child, root) {
        if (strcmp(child->string, METADATA_KEY) == 0) {
            if (parse_metadata(child, out, what, err) != 0)
                return -1;
        } else if (parse_entry(child, &es[(*n)++], what, err) != 0) {
            return -1;
        }
    }
    return 0;
}

/* The file must end exactly where the last tensor ends (the reference's MetadataIncompleteBuffer). */
static int check_file_length(size_t len, uint64_t header_len, uint64_t data_end, const char *what,
                             zs_error *err)
{
    uint64_t data_len = (uint64_t)len - 8 - header_len;
    if (data_end > data_len)
        return zs_fail(err, "%s: truncated: file has %zu bytes, header says the data ends at %" PRIu64, what, len,
                       8 + header_len + data_end);
    if (data_end < data_len)
        return zs_fail(err, "%s: %" PRIu64 " trailing bytes after the last tensor (file has %zu bytes, header says "
                       "the data ends at %" PRIu64 ")", what, data_len - data_end, len, 8 + header_len + data_end);
    return 0;
}

/* Copies the validated entries (already in offset order) and their data into out. */
static int copy_tensors(const entry *es, size_t n, const unsigned char *data, zs_st_file *out, const char *what,
                        zs_error *err)
{
    out->tensors = calloc(n ? n : 1, sizeof *out->tensors);
    if (!out->tensors)
        return zs_fail(err, "%s: out of memory", what);
    for (size_t i = 0; i < n; i++) {
        zs_st_tensor *t = &out->tensors[i];
        t->dtype = es[i].dtype;
        t->ndim = es[i].ndim;
        memcpy(t->shape, es[i].shape, sizeof t->shape);
        t->numel = (size_t)es[i].numel;
        t->nbytes = (size_t)es[i].nbytes;
        t->name = strdup(es[i].name);
        t->data = copy_bytes(data + es[i].begin, t->nbytes);
        out->count++;
        if (!t->name || !t->data)
            return zs_fail(err, "%s: out of memory", what);
    }
    return 0;
}

static uint64_t read_u64_le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Checks the length prefix; the header is then bytes [8, 8 + *header_len). */
static int check_header_length(size_t len, const unsigned char *b, uint64_t *header_len, const char *what,
                               zs_error *err)
{
    if (len < 8)
        return zs_fail(err, "%s: truncated: file has %zu bytes, fewer than the 8-byte header length", what, len);
    *header_len = read_u64_le(b);
    if (*header_len > MAX_HEADER_LEN)
        return zs_fail(err, "%s: header length %" PRIu64 " is over the 100000000-byte limit", what, *header_len);
    if (*header_len > (uint64_t)len - 8)
        return zs_fail(err, "%s: truncated: file has %zu bytes, header length %" PRIu64 " says the header ends at "
                       "%" PRIu64, what, len, *header_len, 8 + *header_len);
    return 0;
}

/* Everything after the length check; the caller frees *root and *es. Nothing is allocated in
 * proportion to what the header claims until every rule has passed. */
static int read_header_and_data(const unsigned char *b, size_t len, uint64_t hlen, cJSON **root, entry **es,
                                const char *what, zs_st_file *out, zs_error *err)
{
    size_t n = 0, float_at = 0;   /* both set by the parsers before use; zeroed for -Wmaybe-uninitialized */
    const char *header = (const char *)b + 8;
    if (parse_header_json(header, (size_t)hlen, root, &float_at, what, err) != 0)
        return -1;
    const cJSON **members = sorted_members(*root, &n, "tensor name", what, err);
    free(members);                     /* only the duplicate check was needed */
    *es = members ? calloc(n ? n : 1, sizeof **es) : NULL;
    if (!members || !*es)
        return members ? zs_fail(err, "%s: out of memory", what) : -1;
    uint64_t data_end = 0;
    if (parse_entries(*root, *es, &n, out, what, err) != 0)
        return -1;
    if (float_at < hlen)
        return zs_fail(err, "%s: header has a number written with a fraction or exponent at byte %zu (shape "
                       "and data_offsets must be plain integers)", what, float_at);
    if (check_tiling(*es, n, &data_end, what, err) != 0 || check_file_length(len, hlen, data_end, what, err) != 0)
        return -1;
    return copy_tensors(*es, n, b + 8 + hlen, out, what, err);
}

int zs_st_read_memory(const void *bytes, size_t len, const char *what, zs_st_file *out, zs_error *err)
{
    memset(out, 0, sizeof *out);
    what = what ? what : "<memory>";
    uint64_t hlen = 0;
    if (check_little_endian(err) != 0 || check_header_length(len, bytes, &hlen, what, err) != 0)
        return -1;
    cJSON *root = NULL;
    entry *es = NULL;
    int rc = read_header_and_data(bytes, len, hlen, &root, &es, what, out, err);
    cJSON_Delete(root);
    free(es);
    if (rc != 0)
        zs_st_file_free(out);
    return rc;
}

/* Reads all `size` bytes of fd into buf; returns 0 or an errno value. */
static int read_fd(int fd, unsigned char *buf, size_t size)
{
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno;
        if (r == 0)
            return EIO;                  /* the file shrank while we read it */
        got += (size_t)r;
    }
    return 0;
}

/* Reads a whole regular file into a malloc'ed buffer. */
static int slurp(const char *path, unsigned char **buf, size_t *len, zs_error *err)
{
    *buf = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return zs_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    int e = fstat(fd, &st) != 0 ? errno : 0;
    bool regular = e == 0 && S_ISREG(st.st_mode);    /* st_size means the length only for files */
    if (regular) {
        *len = (size_t)st.st_size;
        *buf = malloc(*len ? *len : 1);
        e = *buf ? read_fd(fd, *buf, *len) : ENOMEM;
    }
    close(fd);
    if (regular && e == 0)
        return 0;
    free(*buf);
    *buf = NULL;
    return zs_fail(err, "%s: cannot read: %s", path, e ? strerror(e) : "not a regular file");
}

int zs_st_read_file(const char *path, zs_st_file *out, zs_error *err)
{
    memset(out, 0, sizeof *out);
    unsigned char *buf;
    size_t len = 0;
    if (slurp(path, &buf, &len, err) != 0)
        return -1;
    int rc = zs_st_read_memory(buf, len, path, out, err);
    free(buf);
    return rc;
}

const zs_st_tensor *zs_st_find(const zs_st_file *f, const char *name)
{
    for (size_t i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

const char *zs_st_meta(const zs_st_file *f, const char *key)
{
    for (size_t i = 0; i < f->meta_count; i++)
        if (strcmp(f->meta_keys[i], key) == 0)
            return f->meta_values[i];
    return NULL;
}

void zs_st_file_free(zs_st_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->count; i++)
        free_tensor(&f->tensors[i]);
    for (size_t i = 0; i < f->meta_count; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->tensors);
    free(f->meta_keys);
    free(f->meta_values);
    memset(f, 0, sizeof *f);
}

/* ------------------------------------------------------------------------------------------------
 * Writing: collecting tensors and metadata
 * ---------------------------------------------------------------------------------------------- */

typedef struct meta_pair {
    char *key, *value;
} meta_pair;

struct zs_st_writer {
    zs_st_tensor *tensors;           /* in the order added; serialization sorts */
    size_t count, cap;
    meta_pair *meta;                 /* likewise */
    size_t meta_count, meta_cap;
};

zs_st_writer *zs_st_writer_new(void)
{
    return calloc(1, sizeof(zs_st_writer));
}

void zs_st_writer_free(zs_st_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->count; i++)
        free_tensor(&w->tensors[i]);
    for (size_t i = 0; i < w->meta_count; i++) {
        free(w->meta[i].key);
        free(w->meta[i].value);
    }
    free(w->tensors);
    free(w->meta);
    free(w);
}

/* Checks a tensor's name, dtype and shape before it is added; fills numel/nbytes. */
static int check_new_tensor(const zs_st_writer *w, zs_st_tensor *t, const void *data, zs_error *err)
{
    if (strcmp(t->name, METADATA_KEY) == 0)
        return zs_fail(err, "safetensors: tensor name '" METADATA_KEY "' is reserved for the metadata");
    if (!utf8_valid(t->name))
        return zs_fail(err, "safetensors: tensor name '%s' is not valid UTF-8", t->name);
    for (size_t i = 0; i < w->count; i++)
        if (strcmp(w->tensors[i].name, t->name) == 0)
            return zs_fail(err, "safetensors: duplicate tensor name '%s'", t->name);
    if ((int)t->dtype < 0 || t->dtype >= ZS_DTYPE_COUNT)
        return zs_fail(err, "safetensors: tensor '%s': invalid dtype %d", t->name, (int)t->dtype);
    if (t->ndim < 0 || t->ndim > ZS_ST_MAX_DIMS)
        return zs_fail(err, "safetensors: tensor '%s': ndim %d is outside 0..%d", t->name, t->ndim, ZS_ST_MAX_DIMS);
    for (int d = 0; d < t->ndim; d++)       /* readers see dims as JSON numbers: keep them exact */
        if (t->shape[d] < 0 || t->shape[d] >= EXACT_INT_LIMIT)
            return zs_fail(err, "safetensors: tensor '%s': shape[%d] = %" PRId64 " is out of range (0 .. 2^53 - 1)",
                           t->name, d, t->shape[d]);
    uint64_t numel, nbytes;
    if (shape_size(t->ndim, t->shape, t->dtype, &numel, &nbytes) != 0 || nbytes > SIZE_MAX)
        return zs_fail(err, "safetensors: tensor '%s': shape overflows the address space", t->name);
    t->numel = (size_t)numel;
    t->nbytes = (size_t)nbytes;
    if (!data && nbytes)
        return zs_fail(err, "safetensors: tensor '%s': data is NULL", t->name);
    return 0;
}

int zs_st_add(zs_st_writer *w, const char *name, zs_dtype dtype, int ndim, const int64_t *shape,
              const void *data, zs_error *err)
{
    if (!w || !name || (ndim > 0 && !shape))
        return zs_fail(err, "safetensors: zs_st_add needs a writer, a name and a shape");
    zs_st_tensor t = {.name = (char *)name, .dtype = dtype, .ndim = ndim};
    if (ndim > 0 && ndim <= ZS_ST_MAX_DIMS)
        memcpy(t.shape, shape, (size_t)ndim * sizeof *shape);
    if (check_new_tensor(w, &t, data, err) != 0)
        return -1;
    if (reserve((void **)&w->tensors, &w->cap, w->count + 1, sizeof *w->tensors) != 0)
        return zs_fail(err, "safetensors: out of memory adding tensor '%s'", name);
    t.name = strdup(name);
    t.data = copy_bytes(data, t.nbytes);
    if (!t.name || !t.data) {
        free_tensor(&t);
        return zs_fail(err, "safetensors: out of memory adding tensor '%s'", name);
    }
    w->tensors[w->count++] = t;
    return 0;
}

int zs_st_add_f32(zs_st_writer *w, const char *name, const float *data, size_t n, zs_error *err)
{
    if (n > INT64_MAX)
        return zs_fail(err, "safetensors: tensor '%s': %zu elements is too many", name ? name : "?", n);
    const int64_t shape[1] = {(int64_t)n};
    return zs_st_add(w, name, ZS_F32, 1, shape, data, err);
}

int zs_st_add_scalar_f32(zs_st_writer *w, const char *name, float v, zs_error *err)
{
    return zs_st_add(w, name, ZS_F32, 0, NULL, &v, err);
}

int zs_st_add_scalar_f64(zs_st_writer *w, const char *name, double v, zs_error *err)
{
    return zs_st_add(w, name, ZS_F64, 0, NULL, &v, err);
}

int zs_st_add_scalar_i64(zs_st_writer *w, const char *name, int64_t v, zs_error *err)
{
    return zs_st_add(w, name, ZS_I64, 0, NULL, &v, err);
}

int zs_st_set_meta(zs_st_writer *w, const char *key, const char *value, zs_error *err)
{
    if (!w || !key || !value)
        return zs_fail(err, "safetensors: zs_st_set_meta needs a writer, a key and a value");
    if (!utf8_valid(key) || !utf8_valid(value))
        return zs_fail(err, "safetensors: metadata '%s' is not valid UTF-8", key);
    char *v = strdup(value);
    if (!v)
        return zs_fail(err, "safetensors: out of memory setting metadata '%s'", key);
    for (size_t i = 0; i < w->meta_count; i++)
        if (strcmp(w->meta[i].key, key) == 0) {
            free(w->meta[i].value);
            w->meta[i].value = v;
            return 0;
        }
    meta_pair p = {strdup(key), v};
    if (!p.key || reserve((void **)&w->meta, &w->meta_cap, w->meta_count + 1, sizeof *w->meta) != 0) {
        free(p.key);
        free(v);
        return zs_fail(err, "safetensors: out of memory setting metadata '%s'", key);
    }
    w->meta[w->meta_count++] = p;
    return 0;
}

int zs_st_set_meta_int(zs_st_writer *w, const char *key, int64_t value, zs_error *err)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, value);
    return zs_st_set_meta(w, key, buf, err);
}

/* ------------------------------------------------------------------------------------------------
 * Writing: the header text
 * ---------------------------------------------------------------------------------------------- */

/* A growable string; `failed` latches the first allocation failure so appends need no checks. */
typedef struct strbuf {
    char *p;
    size_t len, cap;
    bool failed;
} strbuf;

static void sb_append(strbuf *b, const char *s, size_t n)
{
    if (b->failed || reserve((void **)&b->p, &b->cap, b->len + n + 1, 1) != 0) {
        b->failed = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(strbuf *b, const char *s)
{
    sb_append(b, s, strlen(s));
}

static void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(strbuf *b, const char *fmt, ...)
{
    char tmp[64];                    /* only used for numbers */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_puts(b, tmp);
}

/* A JSON string literal; cJSON does the escaping (same escapes as serde_json: \" \\ \b \f \n \r \t
 * and \u00xx for other control characters, nothing else). */
static void sb_json_string(strbuf *b, const char *s)
{
    cJSON *item = cJSON_CreateString(s);
    char *text = item ? cJSON_PrintUnformatted(item) : NULL;
    if (text)
        sb_puts(b, text);
    else
        b->failed = true;
    cJSON_free(text);
    cJSON_Delete(item);
}

static void put_tensor_entry(strbuf *b, const zs_st_tensor *t, uint64_t begin)
{
    sb_json_string(b, t->name);
    sb_puts(b, ":{\"dtype\":\"");
    sb_puts(b, zs_dtype_name(t->dtype));
    sb_puts(b, "\",\"shape\":[");
    for (int d = 0; d < t->ndim; d++)
        sb_printf(b, d ? ",%" PRId64 : "%" PRId64, t->shape[d]);
    sb_printf(b, "],\"data_offsets\":[%" PRIu64 ",", begin);
    sb_printf(b, "%" PRIu64 "]}", begin + (uint64_t)t->nbytes);
}

static int compare_meta_keys(const void *a, const void *b)
{
    return strcmp(((const meta_pair *)a)->key, ((const meta_pair *)b)->key);
}

/* "__metadata__":{"a":"1","b":"2"}, keys sorted (the reference uses a hash map, so its order is
 * not defined; sorting makes ours deterministic). */
static void put_metadata(strbuf *b, const zs_st_writer *w)
{
    meta_pair *sorted = malloc(w->meta_count * sizeof *sorted);
    if (!sorted) {
        b->failed = true;
        return;
    }
    memcpy(sorted, w->meta, w->meta_count * sizeof *sorted);
    qsort(sorted, w->meta_count, sizeof *sorted, compare_meta_keys);
    sb_puts(b, "\"" METADATA_KEY "\":{");
    for (size_t i = 0; i < w->meta_count; i++) {
        sb_puts(b, i ? "," : "");
        sb_json_string(b, sorted[i].key);
        sb_puts(b, ":");
        sb_json_string(b, sorted[i].value);
    }
    sb_puts(b, "}");
    free(sorted);
}

static int compare_tensors_for_writing(const void *pa, const void *pb)
{
    const zs_st_tensor *a = *(const zs_st_tensor *const *)pa, *b = *(const zs_st_tensor *const *)pb;
    int ra = writer_rank(a->dtype), rb = writer_rank(b->dtype);
    if (ra != rb)
        return ra > rb ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Builds the padded header for the tensors in `sorted` order; returns the data size in *data_len. */
static int build_header(const zs_st_writer *w, zs_st_tensor *const *sorted, strbuf *b, uint64_t *data_len,
                        zs_error *err)
{
    sb_puts(b, "{");
    if (w->meta_count)
        put_metadata(b, w);
    uint64_t offset = 0;
    for (size_t i = 0; i < w->count; i++) {
        if (i || w->meta_count)
            sb_puts(b, ",");
        put_tensor_entry(b, sorted[i], offset);
        offset += sorted[i]->nbytes;     /* cannot overflow: every tensor is already in memory */
    }
    sb_puts(b, "}");
    while (b->len % 8)                   /* 8-byte alignment of the data buffer, as the reference */
        sb_puts(b, " ");
    if (b->failed)
        return zs_fail(err, "safetensors: out of memory building the header");
    if (b->len > MAX_HEADER_LEN)
        return zs_fail(err, "safetensors: header would be %zu bytes, over the 100000000-byte limit readers accept",
                       b->len);
    *data_len = offset;
    return 0;
}

/* Header length, header, then each tensor's bytes. */
static int assemble(const strbuf *h, zs_st_tensor *const *sorted, size_t count, uint64_t data_len, void **bytes,
                    size_t *len, zs_error *err)
{
    uint64_t total = 8 + (uint64_t)h->len + data_len;
    unsigned char *out = total <= SIZE_MAX ? malloc((size_t)total) : NULL;
    if (!out)
        return zs_fail(err, "safetensors: out of memory serializing %" PRIu64 " bytes", total);
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)((uint64_t)h->len >> (8 * i));
    memcpy(out + 8, h->p, h->len);
    size_t pos = 8 + h->len;
    for (size_t i = 0; i < count; i++) {
        memcpy(out + pos, sorted[i]->data, sorted[i]->nbytes);
        pos += sorted[i]->nbytes;
    }
    *bytes = out;
    *len = (size_t)total;
    return 0;
}

int zs_st_serialize(const zs_st_writer *w, void **bytes, size_t *len, zs_error *err)
{
    *bytes = NULL;
    *len = 0;
    if (!w)
        return zs_fail(err, "safetensors: zs_st_serialize needs a writer");
    if (check_little_endian(err) != 0)
        return -1;
    zs_st_tensor **sorted = malloc((w->count ? w->count : 1) * sizeof *sorted);
    if (!sorted)
        return zs_fail(err, "safetensors: out of memory");
    for (size_t i = 0; i < w->count; i++)
        sorted[i] = &w->tensors[i];
    qsort(sorted, w->count, sizeof *sorted, compare_tensors_for_writing);
    strbuf header = {0};
    uint64_t data_len = 0;
    int rc = build_header(w, sorted, &header, &data_len, err);
    if (rc == 0)
        rc = assemble(&header, sorted, w->count, data_len, bytes, len, err);
    free(header.p);
    free(sorted);
    return rc;
}

int zs_st_write_file(const zs_st_writer *w, const char *path, zs_error *err)
{
    void *bytes;
    size_t len;
    if (zs_st_serialize(w, &bytes, &len, err) != 0)
        return zs_error_prefix(err, "%s", path);
    int rc = zs_write_file_atomic(path, bytes, len, err);
    free(bytes);
    return rc;
}
