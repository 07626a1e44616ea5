/* Tests of the safetensors reader and writer (zerospec/safetensors.h): round trips, the writer's
 * byte-exact layout, every rejection rule of the reader, and atomic file writes. */
#define _POSIX_C_SOURCE 200809L   /* mkdtemp, mkdir, getpid */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zerospec/safetensors.h"

/* ------------------------------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------------------------------- */

static char tmpdir[64];

static int make_tmpdir(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/zs_st_test.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

/* Removes everything the tests left (plain files and empty directories, one level). */
static int remove_tmpdir(void **state)
{
    DIR *d = opendir(tmpdir);
    struct dirent *ent;
    char path[512];
    while (d && (ent = readdir(d)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", tmpdir, ent->d_name);
        remove(path);
    }
    if (d)
        closedir(d);
    return rmdir(tmpdir);
}

static int count_dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL)
        n += strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* A file image: 8-byte LE length of `header`, `header` verbatim, then `data_len` bytes 0..255. */
static unsigned char *make_image(const char *header, size_t data_len, size_t *len)
{
    size_t n = strlen(header);
    *len = 8 + n + data_len;
    unsigned char *b = malloc(*len);
    assert_non_null(b);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(b + 8, header, n);
    for (size_t i = 0; i < data_len; i++)
        b[8 + n + i] = (unsigned char)i;
    return b;
}

/* Reads an image that must be rejected; returns the message (valid until the next call). */
static const char *reject_image(const unsigned char *bytes, size_t len)
{
    static zs_error err;
    zs_st_file f;
    err.msg[0] = '\0';
    assert_int_equal(zs_st_read_memory(bytes, len, "bad.safetensors", &f, &err), -1);
    assert_int_equal(f.count, 0);                 /* nothing half-built is handed back */
    assert_null(f.tensors);
    assert_true(strncmp(err.msg, "bad.safetensors: ", 17) == 0);
    return err.msg;
}

/* Builds an image from `header` + data_len bytes and checks the reader's message holds `phrase`. */
static void expect_reject(const char *header, size_t data_len, const char *phrase)
{
    size_t len;
    unsigned char *b = make_image(header, data_len, &len);
    const char *msg = reject_image(b, len);
    if (!strstr(msg, phrase))
        fail_msg("message \"%s\" lacks \"%s\" (header %s)", msg, phrase, header);
    free(b);
}

static void expect_accept(const char *header, size_t data_len, size_t count)
{
    size_t len;
    unsigned char *b = make_image(header, data_len, &len);
    zs_st_file f;
    zs_error err;
    if (zs_st_read_memory(b, len, "good.safetensors", &f, &err) != 0)
        fail_msg("rejected %s: %s", header, err.msg);
    assert_int_equal(f.count, count);
    zs_st_file_free(&f);
    free(b);
}

static void serialize(const zs_st_writer *w, unsigned char **bytes, size_t *len)
{
    zs_error err;
    if (zs_st_serialize(w, (void **)bytes, len, &err) != 0)
        fail_msg("%s", err.msg);
}

static void read_back(const unsigned char *bytes, size_t len, zs_st_file *f)
{
    zs_error err;
    if (zs_st_read_memory(bytes, len, "mem", f, &err) != 0)
        fail_msg("%s", err.msg);
}

static void add(zs_st_writer *w, const char *name, zs_dtype t, int ndim, const int64_t *shape, const void *data)
{
    zs_error err;
    if (zs_st_add(w, name, t, ndim, shape, data, &err) != 0)
        fail_msg("%s", err.msg);
}

static void set_meta(zs_st_writer *w, const char *key, const char *value)
{
    zs_error err;
    if (zs_st_set_meta(w, key, value, &err) != 0)
        fail_msg("%s", err.msg);
}

static void assert_tensor(const zs_st_file *f, const char *name, zs_dtype t, int ndim, const int64_t *shape,
                          const void *data, size_t nbytes)
{
    const zs_st_tensor *x = zs_st_find(f, name);
    if (!x)
        fail_msg("tensor '%s' missing", name);
    assert_int_equal(x->dtype, t);
    assert_int_equal(x->ndim, ndim);
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        assert_int_equal(x->shape[d], shape[d]);
        numel *= (size_t)shape[d];
    }
    assert_int_equal(x->numel, numel);
    assert_int_equal(x->nbytes, nbytes);
    assert_non_null(x->data);
    assert_int_equal((uintptr_t)x->data % zs_dtype_size(t), 0);
    if (nbytes)
        assert_memory_equal(x->data, data, nbytes);
}

static void path_in_tmpdir(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
}

/* ------------------------------------------------------------------------------------------------
 * Round trips
 * ---------------------------------------------------------------------------------------------- */

/* Every dtype as a 2x3 matrix, a scalar and an empty [0, 4] tensor. */
static void test_round_trip_every_dtype_matrix_scalar_and_empty(void **state)
{
    unsigned char pattern[6 * 8];
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (unsigned char)(3 * i + 1);
    const int64_t mat[2] = {2, 3}, empty[2] = {0, 4};
    zs_st_writer *w = zs_st_writer_new();
    char name[64];
    for (int t = 0; t < ZS_DTYPE_COUNT; t++) {
        snprintf(name, sizeof name, "%s/matrix", zs_dtype_name(t));
        add(w, name, t, 2, mat, pattern);
        snprintf(name, sizeof name, "%s/scalar", zs_dtype_name(t));
        add(w, name, t, 0, NULL, pattern + 5);
        snprintf(name, sizeof name, "%s/empty", zs_dtype_name(t));
        add(w, name, t, 2, empty, NULL);
    }
    unsigned char *bytes;
    size_t len;
    serialize(w, &bytes, &len);
    zs_st_file f;
    read_back(bytes, len, &f);
    assert_int_equal(f.count, 3 * ZS_DTYPE_COUNT);
    for (int t = 0; t < ZS_DTYPE_COUNT; t++) {
        size_t size = zs_dtype_size(t);
        snprintf(name, sizeof name, "%s/matrix", zs_dtype_name(t));
        assert_tensor(&f, name, t, 2, mat, pattern, 6 * size);
        snprintf(name, sizeof name, "%s/scalar", zs_dtype_name(t));
        assert_tensor(&f, name, t, 0, NULL, pattern + 5, size);
        snprintf(name, sizeof name, "%s/empty", zs_dtype_name(t));
        assert_tensor(&f, name, t, 2, empty, NULL, 0);
    }
    zs_st_file_free(&f);
    free(bytes);
    zs_st_writer_free(w);
}

static void test_round_trip_eight_dims_and_wrappers(void **state)
{
    const int64_t shape8[ZS_ST_MAX_DIMS] = {1, 2, 1, 3, 1, 1, 2, 1};
    double d12[12];
    for (int i = 0; i < 12; i++)
        d12[i] = -1.5 * i;
    const float v[3] = {0.25f, -2.0f, 1e30f};
    zs_st_writer *w = zs_st_writer_new();
    zs_error err;
    add(w, "eight", ZS_F64, ZS_ST_MAX_DIMS, shape8, d12);
    assert_int_equal(zs_st_add_f32(w, "vec", v, 3, &err), 0);
    assert_int_equal(zs_st_add_scalar_f32(w, "s32", 3.5f, &err), 0);
    assert_int_equal(zs_st_add_scalar_f64(w, "s64", -0.125, &err), 0);
    assert_int_equal(zs_st_add_scalar_i64(w, "i64", INT64_MIN, &err), 0);
    unsigned char *bytes;
    size_t len;
    serialize(w, &bytes, &len);
    zs_st_file f;
    read_back(bytes, len, &f);
    const int64_t three[1] = {3};
    const float s32 = 3.5f;
    const double s64 = -0.125;
    const int64_t i64 = INT64_MIN;
    assert_tensor(&f, "eight", ZS_F64, ZS_ST_MAX_DIMS, shape8, d12, sizeof d12);
    assert_tensor(&f, "vec", ZS_F32, 1, three, v, sizeof v);
    assert_tensor(&f, "s32", ZS_F32, 0, NULL, &s32, 4);
    assert_tensor(&f, "s64", ZS_F64, 0, NULL, &s64, 8);
    assert_tensor(&f, "i64", ZS_I64, 0, NULL, &i64, 8);
    assert_null(zs_st_find(&f, "absent"));
    assert_null(zs_st_meta(&f, "absent"));
    zs_st_file_free(&f);
    free(bytes);
    zs_st_writer_free(w);
}

static void test_metadata_round_trips_sorted_and_last_value_wins(void **state)
{
    zs_st_writer *w = zs_st_writer_new();
    set_meta(w, "zeta", "last");
    set_meta(w, "alpha", "first");
    set_meta(w, "mid", "old");
    set_meta(w, "mid", "new \"quoted\"\n");
    zs_error err;
    assert_int_equal(zs_st_add_scalar_f32(w, "x", 1.0f, &err), 0);
    unsigned char *bytes;
    size_t len;
    serialize(w, &bytes, &len);
    const char *want = "{\"__metadata__\":{\"alpha\":\"first\",\"mid\":\"new \\\"quoted\\\"\\n\",\"zeta\":\"last\"},";
    assert_memory_equal(bytes + 8, want, strlen(want));
    zs_st_file f;
    read_back(bytes, len, &f);
    assert_int_equal(f.meta_count, 3);
    assert_string_equal(f.meta_keys[0], "alpha");
    assert_string_equal(f.meta_keys[1], "mid");
    assert_string_equal(f.meta_keys[2], "zeta");
    assert_string_equal(zs_st_meta(&f, "mid"), "new \"quoted\"\n");
    assert_string_equal(zs_st_meta(&f, "zeta"), "last");
    zs_st_file_free(&f);
    free(bytes);
    zs_st_writer_free(w);
}

/* Metadata is read back sorted even when the file lists it unsorted. */
static void test_reader_sorts_metadata_keys(void **state)
{
    size_t len;
    unsigned char *b = make_image("{\"__metadata__\":{\"b\":\"2\",\"c\":\"3\",\"a\":\"1\"}}", 0, &len);
    zs_st_file f;
    read_back(b, len, &f);
    assert_int_equal(f.meta_count, 3);
    assert_string_equal(f.meta_keys[0], "a");
    assert_string_equal(f.meta_values[0], "1");
    assert_string_equal(f.meta_keys[2], "c");
    assert_string_equal(f.meta_values[2], "3");
    zs_st_file_free(&f);
    free(b);
}

/* ------------------------------------------------------------------------------------------------
 * Byte-exact writer output
 * ---------------------------------------------------------------------------------------------- */

static void fill_writer(zs_st_writer *w, int reversed)
{
    const uint16_t h[2] = {0x3c00, 0xbc00};
    const int32_t i[3] = {1, -2, 3};
    const float f[2] = {1.0f, 2.0f};
    const int64_t two[1] = {2}, three[1] = {3};
    for (int k = 0; k < 5; k++) {
        switch (reversed ? 4 - k : k) {
        case 0: add(w, "b", ZS_F32, 1, two, f); break;
        case 1: add(w, "a", ZS_I32, 1, three, i); break;
        case 2: add(w, "c", ZS_BF16, 1, two, h); break;
        case 3: set_meta(w, reversed ? "k2" : "k1", "v"); break;
        case 4: set_meta(w, reversed ? "k1" : "k2", "w"); break;
        }
    }
    if (reversed) {        /* the same final content: k1 = "v", k2 = "w" */
        set_meta(w, "k1", "v");
        set_meta(w, "k2", "w");
    }
}

static void test_bytes_do_not_depend_on_insertion_order(void **state)
{
    zs_st_writer *a = zs_st_writer_new(), *b = zs_st_writer_new();
    fill_writer(a, 0);
    fill_writer(b, 1);
    unsigned char *ba, *bb;
    size_t la, lb;
    serialize(a, &ba, &la);
    serialize(b, &bb, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
    free(ba);
    free(bb);
    zs_st_writer_free(a);
    zs_st_writer_free(b);
}

/* The reference writer's order: I64, F64, F32, I32, BF16, F16, U8, BOOL, then names. */
static void test_writer_orders_tensors_by_dtype_rank_then_name(void **state)
{
    static const zs_dtype order[ZS_DTYPE_COUNT] = {ZS_I64, ZS_F64, ZS_F32, ZS_I32, ZS_BF16, ZS_F16, ZS_U8, ZS_BOOL};
    const unsigned char zeros[8] = {0};
    zs_st_writer *w = zs_st_writer_new();
    for (int t = ZS_DTYPE_COUNT - 1; t >= 0; t--) {
        char name[16];
        snprintf(name, sizeof name, "y%d", t);
        add(w, name, t, 0, NULL, zeros);
        snprintf(name, sizeof name, "x%d", t);
        add(w, name, t, 0, NULL, zeros);
    }
    unsigned char *bytes;
    size_t len;
    serialize(w, &bytes, &len);
    zs_st_file f;
    read_back(bytes, len, &f);      /* the reader lists tensors in data-offset order */
    for (int k = 0; k < ZS_DTYPE_COUNT; k++) {
        assert_int_equal(f.tensors[2 * k].dtype, order[k]);
        assert_int_equal(f.tensors[2 * k].name[0], 'x');
        assert_int_equal(f.tensors[2 * k + 1].dtype, order[k]);
        assert_int_equal(f.tensors[2 * k + 1].name[0], 'y');
    }
    zs_st_file_free(&f);
    free(bytes);
    zs_st_writer_free(w);
}

/* Hand-computed: the header is 139 bytes of JSON + 5 spaces = 144 = 0x90; I64 sorts before F32. */
static void test_known_answer_bytes_of_a_tiny_file(void **state)
{
    static const char header[] = "{\"__metadata__\":{\"run\":\"a\"},"
                                 "\"step\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
                                 "\"loss\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[8,12]}}     ";
    static const unsigned char prefix[8] = {0x90, 0, 0, 0, 0, 0, 0, 0};
    static const unsigned char data[12] = {7, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x80, 0x3f};   /* 7, 1.0f */
    assert_int_equal(strlen(header), 144);
    zs_st_writer *w = zs_st_writer_new();
    zs_error err;
    assert_int_equal(zs_st_add_scalar_f32(w, "loss", 1.0f, &err), 0);
    assert_int_equal(zs_st_add_scalar_i64(w, "step", 7, &err), 0);
    set_meta(w, "run", "a");
    unsigned char *bytes;
    size_t len;
    serialize(w, &bytes, &len);
    assert_int_equal(len, 8 + 144 + 12);
    assert_memory_equal(bytes, prefix, 8);
    assert_memory_equal(bytes + 8, header, 144);
    assert_memory_equal(bytes + 152, data, 12);
    free(bytes);
    zs_st_writer_free(w);
}

/* No tensors, no metadata: "{}" padded to 8 bytes, no "__metadata__" key. */
static void test_known_answer_bytes_of_an_empty_file(void **state)
{
    static const unsigned char want[16] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    zs_st_writer *w = zs_st_writer_new();
    unsigned char *bytes;
    size_t len;
    serialize(w, &bytes, &len);
    assert_int_equal(len, 16);
    assert_memory_equal(bytes, want, 16);
    zs_st_file f;
    read_back(bytes, len, &f);
    assert_int_equal(f.count, 0);
    assert_int_equal(f.meta_count, 0);
    zs_st_file_free(&f);
    free(bytes);
    zs_st_writer_free(w);
}

/* Quotes, backslashes and control characters are escaped as serde_json does; UTF-8 is kept. */
static void test_names_are_json_escaped_and_round_trip(void **state)
{
    const char *name = "a\"b\\c\n\x01/\xc3\xa9";
    zs_st_writer *w = zs_st_writer_new();
    zs_error err;
    assert_int_equal(zs_st_add_scalar_f32(w, name, 2.0f, &err), 0);
    unsigned char *bytes;
    size_t len;
    serialize(w, &bytes, &len);
    const char *want = "{\"a\\\"b\\\\c\\n\\u0001/\xc3\xa9\":{";
    assert_memory_equal(bytes + 8, want, strlen(want));
    zs_st_file f;
    read_back(bytes, len, &f);
    assert_non_null(zs_st_find(&f, name));
    zs_st_file_free(&f);
    free(bytes);
    zs_st_writer_free(w);
}

/* ------------------------------------------------------------------------------------------------
 * What the reader accepts beyond the writer's own output
 * ---------------------------------------------------------------------------------------------- */

static void test_reader_accepts_unpadded_headers_whitespace_and_same_offset_empties(void **state)
{
    expect_accept("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, 1);
    expect_accept("{ \"a\" : { \"dtype\" : \"U8\", \"shape\" : [ 2 ], \"data_offsets\" : [ 0, 2 ] } }\n\t\r ", 2, 1);
    expect_accept("{\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                  "\"d\":{\"dtype\":\"F32\",\"shape\":[3,0],\"data_offsets\":[0,0]}}", 0, 2);
    expect_accept("{\"__metadata__\":{}}", 0, 0);
}

/* ------------------------------------------------------------------------------------------------
 * Rejections: framing
 * ---------------------------------------------------------------------------------------------- */

static void test_rejects_file_shorter_than_8_bytes(void **state)
{
    const unsigned char b[7] = {2, 0, 0, 0, 0, 0, 0};
    assert_string_equal(reject_image(b, 0), "bad.safetensors: truncated: file has 0 bytes, fewer than the 8-byte "
                        "header length");
    assert_non_null(strstr(reject_image(b, 7), "truncated: file has 7 bytes"));
}

static void test_rejects_header_length_over_100MB(void **state)
{
    unsigned char b[16] = {0x01, 0xe1, 0xf5, 0x05, 0, 0, 0, 0, '{', '}'};     /* 100000001 */
    assert_non_null(strstr(reject_image(b, 16), "header length 100000001 is over the 100000000-byte limit"));
    memset(b, 0xff, 8);                                                          /* 2^64 - 1 */
    assert_non_null(strstr(reject_image(b, 16), "over the 100000000-byte limit"));
}

static void test_rejects_header_beyond_end_of_file(void **state)
{
    const unsigned char b[12] = {9, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
    assert_string_equal(reject_image(b, 12), "bad.safetensors: truncated: file has 12 bytes, header length 9 says "
                        "the header ends at 17");
}

static void test_rejects_header_not_starting_with_brace(void **state)
{
    expect_reject(" {}", 0, "header does not start with '{'");
    expect_reject("[]", 0, "header does not start with '{'");
    expect_reject("", 0, "header does not start with '{'");
}

static void test_rejects_header_that_is_not_json(void **state)
{
    expect_reject("{", 0, "header is not valid JSON");
    expect_reject("{\"a\":}", 0, "header is not valid JSON");
    expect_reject("{}x", 0, "header has bytes after the JSON object (byte 2)");
    expect_reject("{}{}", 0, "bytes after the JSON object");
}

static void test_rejects_header_that_is_not_utf8(void **state)
{
    expect_reject("{\"\xff\":1}", 0, "header is not valid UTF-8 (byte 2)");
    expect_reject("{\"\xc0\xaf\":1}", 0, "not valid UTF-8");       /* overlong '/' */
    expect_reject("{\"\xed\xa0\x80\":1}", 0, "not valid UTF-8");   /* surrogate */
    expect_reject("{\"\xf4\x90\x80\x80\":1}", 0, "not valid UTF-8");   /* above U+10FFFF */
    expect_reject("{\"\xe2\x82\":1}", 0, "not valid UTF-8");       /* cut short */
    expect_accept("{\"\xe2\x82\xac\xf0\x9f\x98\x80\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}",
                  1, 1);   /* euro sign and an emoji are fine */
}

/* Raw control characters are not JSON; an escaped NUL would cut a C string short. */
static void test_rejects_control_characters_and_escaped_nul(void **state)
{
    expect_reject("{\"a\x01\":1}", 0, "raw control character (0x01) inside a string at byte 3");
    expect_reject("{\x01}", 0, "control character (0x01) at byte 1");
    expect_reject("{\"a\\u0000b\":1}", 0, "escaped NUL");
}

/* ------------------------------------------------------------------------------------------------
 * Rejections: tensor entries
 * ---------------------------------------------------------------------------------------------- */

static void test_rejects_entry_that_is_not_an_object(void **state)
{
    expect_reject("{\"w\":[1]}", 0, "tensor 'w': entry must be an object");
    expect_reject("{\"w\":\"F32\"}", 0, "tensor 'w': entry must be an object");
}

static void test_rejects_entries_missing_a_field(void **state)
{
    expect_reject("{\"w\":{\"shape\":[],\"data_offsets\":[0,4]}}", 4, "tensor 'w': missing field 'dtype'");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor 'w': missing field 'shape'");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[]}}", 4, "tensor 'w': missing field 'data_offsets'");
}

static void test_rejects_unknown_and_repeated_fields(void **state)
{
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],\"x\":1}}", 4,
                  "tensor 'w': unknown field 'x'");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4,
                  "tensor 'w': field 'dtype' appears twice");
}

static void test_rejects_fields_of_the_wrong_type(void **state)
{
    expect_reject("{\"w\":{\"dtype\":4,\"shape\":[],\"data_offsets\":[0,4]}}", 4, "tensor 'w': dtype must be a string");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,4]}}", 4,
                  "tensor 'w': shape must be an array of integers");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4,
                  "tensor 'w': shape[0] is a string, not a non-negative integer");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[[1]],\"data_offsets\":[0,4]}}", 4,
                  "tensor 'w': shape[0] is an array, not a non-negative integer");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[true],\"data_offsets\":[0,4]}}", 4,
                  "tensor 'w': shape[0] is a boolean, not a non-negative integer");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4,4]}}", 4,
                  "tensor 'w': data_offsets must be an array [begin, end] of two integers");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":{}}}", 4, "data_offsets must be an array");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[null,4]}}", 4,
                  "tensor 'w': data_offsets begin is null, not a non-negative integer");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,-4]}}", 4,
                  "tensor 'w': data_offsets end is -4, not a non-negative integer");
}

static void test_rejects_unsupported_dtype_naming_it_and_the_tensor(void **state)
{
    expect_reject("{\"h.0.w\":{\"dtype\":\"I8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4,
                  "tensor 'h.0.w': dtype 'I8' is not supported");
    expect_reject("{\"w\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                  "dtype 'f32' is not supported");   /* spelling is case-sensitive */
}

static void test_rejects_negative_and_non_integer_dims(void **state)
{
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]}}", 8,
                  "tensor 'w': shape[1] is -1, not a non-negative integer");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,10]}}", 10,
                  "tensor 'w': shape[0] is 2.5, not a non-negative integer");
    /* integral values written as floats: the reference's serde rejects them as well */
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8,
                  "number written with a fraction or exponent at byte 30");
    expect_reject("{\"w\":{\"dtype\":\"U8\",\"shape\":[1e1],\"data_offsets\":[0,10]}}", 10,
                  "fraction or exponent");
    expect_reject("{\"w\":{\"dtype\":\"U8\",\"shape\":[9007199254740993],\"data_offsets\":[0,1]}}", 1,
                  "tensor 'w': shape[0] is 9007199254740992, not a non-negative integer");
}

static void test_rejects_more_than_max_dims(void **state)
{
    expect_reject("{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
                  "tensor 'w': shape has 9 dimensions, more than the 8 supported");
}

/* A hostile header must not make the reader allocate what it claims. */
static void test_rejects_oversized_shapes_without_allocating(void **state)
{
    expect_reject("{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 0,
                  "tensor 'w': shape [4294967296, 4294967296] of F64 overflows 64 bits");
    expect_reject("{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296,0],\"data_offsets\":[0,0]}}", 0,
                  "overflows 64 bits");     /* like the reference: the running product overflows first */
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[4503599627370496,1024],\"data_offsets\":[0,0]}}", 0,
                  "overflows 64 bits");     /* 2^62 elements fit, 2^64 bytes do not */
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[1000000000000],\"data_offsets\":[0,4000000000000]}}", 4,
                  "truncated: file has 90 bytes, header says the data ends at 4000000000086");
}

static void test_rejects_offsets_disagreeing_with_shape_and_dtype(void **state)
{
    size_t len;
    unsigned char *b = make_image("{\"step1/loss\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,8]}}", 8, &len);
    assert_string_equal(reject_image(b, len), "bad.safetensors: tensor 'step1/loss': data_offsets [0, 8] hold 8 "
                        "bytes but shape [] of F32 needs 4");
    free(b);
    expect_reject("{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,6]}}", 6,
                  "data_offsets [0, 6] hold 6 bytes but shape [2, 3] of BF16 needs 12");
    expect_reject("{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,0]}}", 4,
                  "tensor 'w': data_offsets [4, 0] end before they begin");
}

/* ------------------------------------------------------------------------------------------------
 * Rejections: layout of the data buffer
 * ---------------------------------------------------------------------------------------------- */

static void test_rejects_hole_at_start_of_data(void **state)
{
    expect_reject("{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", 4,
                  "tensor 'w': data_offsets [2, 4] begin at 2 but the data buffer starts at 0 (a hole)");
}

static void test_rejects_hole_between_tensors(void **state)
{
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                  "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[3,5]}}", 5,
                  "tensor 'b': data_offsets [3, 5] begin at 3 but the previous tensor 'a' ends at 2 (a hole)");
}

static void test_rejects_overlapping_tensors(void **state)
{
    expect_reject("{\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]},"
                  "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 3,
                  "tensor 'b': data_offsets [1, 3] begin at 1 but the previous tensor 'a' ends at 2 (an overlap)");
    /* two tensors over the same bytes */
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                  "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, "(an overlap)");
}

static void test_rejects_trailing_bytes_after_last_tensor(void **state)
{
    expect_reject("{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 3,
                  "1 trailing bytes after the last tensor");
    expect_reject("{}", 1, "1 trailing bytes after the last tensor");
}

static void test_rejects_truncated_data_saying_so(void **state)
{
    const char *h = "{\"w\":{\"dtype\":\"U8\",\"shape\":[10],\"data_offsets\":[0,10]}}";   /* 55 bytes */
    size_t len;
    unsigned char *b = make_image(h, 3, &len);
    assert_string_equal(reject_image(b, len),
                        "bad.safetensors: truncated: file has 66 bytes, header says the data ends at 73");
    free(b);
}

/* Every proper prefix of a valid file is rejected as truncated; extra bytes are trailing bytes.
 * Each prefix lives in its own exact-size allocation so that an over-read would be caught by
 * the sanitizer build. */
static void test_rejects_every_prefix_and_extension_of_a_valid_file(void **state)
{
    zs_st_writer *w = zs_st_writer_new();
    const float v[3] = {1, 2, 3};
    const uint16_t h[2] = {1, 2};
    const int64_t two[1] = {2};
    zs_error err;
    assert_int_equal(zs_st_add_f32(w, "v", v, 3, &err), 0);
    add(w, "h", ZS_F16, 1, two, h);
    set_meta(w, "format", "pt");
    unsigned char *bytes;
    size_t len;
    serialize(w, &bytes, &len);
    for (size_t cut = 0; cut < len + 8; cut++) {
        unsigned char *copy = malloc(cut ? cut : 1);
        assert_non_null(copy);
        memcpy(copy, bytes, cut < len ? cut : len);
        if (cut > len)
            memset(copy + len, ' ', cut - len);
        if (cut == len) {
            free(copy);
            continue;
        }
        const char *msg = reject_image(copy, cut);
        if (!strstr(msg, cut < len ? "truncated" : "trailing bytes"))
            fail_msg("cut at %zu of %zu: %s", cut, len, msg);
        free(copy);
    }
    free(bytes);
    zs_st_writer_free(w);
}

/* ------------------------------------------------------------------------------------------------
 * Rejections: names and metadata
 * ---------------------------------------------------------------------------------------------- */

static void test_rejects_duplicate_tensor_names_at_read(void **state)
{
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                  "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, "duplicate tensor name 'a'");
    expect_reject("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate tensor name '__metadata__'");
}

static void test_rejects_metadata_that_is_not_an_object_of_strings(void **state)
{
    expect_reject("{\"__metadata__\":[]}", 0, "__metadata__ must be an object of strings");
    expect_reject("{\"__metadata__\":null}", 0, "__metadata__ must be an object of strings");
    expect_reject("{\"__metadata__\":{\"a\":\"1\",\"n\":1}}", 0, "__metadata__ value of 'n' must be a string");
    expect_reject("{\"__metadata__\":{\"o\":{}}}", 0, "__metadata__ value of 'o' must be a string");
    expect_reject("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "duplicate __metadata__ key 'k'");
}

/* ------------------------------------------------------------------------------------------------
 * Writer argument checks
 * ---------------------------------------------------------------------------------------------- */

static void test_add_rejects_duplicate_names(void **state)
{
    zs_st_writer *w = zs_st_writer_new();
    zs_error err;
    assert_int_equal(zs_st_add_scalar_f32(w, "x", 1.0f, &err), 0);
    assert_int_equal(zs_st_add_scalar_i64(w, "x", 1, &err), -1);
    assert_string_equal(err.msg, "safetensors: duplicate tensor name 'x'");
    zs_st_writer_free(w);
}

static void test_add_rejects_bad_arguments(void **state)
{
    zs_st_writer *w = zs_st_writer_new();
    zs_error err;
    const int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, neg[1] = {-1}, huge[1] = {INT64_C(1) << 53},
                  big2[2] = {INT64_C(1) << 40, INT64_C(1) << 40}, one[1] = {1};
    const float x = 0;
    assert_int_equal(zs_st_add(w, "n", ZS_F32, 9, nine, &x, &err), -1);
    assert_non_null(strstr(err.msg, "tensor 'n': ndim 9 is outside 0..8"));
    assert_int_equal(zs_st_add(w, "n", ZS_F32, 1, neg, &x, &err), -1);
    assert_non_null(strstr(err.msg, "tensor 'n': shape[0] = -1 is out of range"));
    assert_int_equal(zs_st_add(w, "n", ZS_U8, 1, huge, &x, &err), -1);
    assert_non_null(strstr(err.msg, "is out of range"));
    assert_int_equal(zs_st_add(w, "n", ZS_F64, 2, big2, &x, &err), -1);
    assert_non_null(strstr(err.msg, "shape overflows"));
    assert_int_equal(zs_st_add(w, "n", ZS_F32, 1, one, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "data is NULL"));
    assert_int_equal(zs_st_add(w, "n", ZS_DTYPE_COUNT, 1, one, &x, &err), -1);
    assert_non_null(strstr(err.msg, "invalid dtype"));
    assert_int_equal(zs_st_add(w, "__metadata__", ZS_F32, 0, NULL, &x, &err), -1);
    assert_non_null(strstr(err.msg, "reserved"));
    assert_int_equal(zs_st_add(w, "bad\xff", ZS_F32, 0, NULL, &x, &err), -1);
    assert_non_null(strstr(err.msg, "not valid UTF-8"));
    assert_int_equal(zs_st_set_meta(w, "k", "\xc3", &err), -1);
    assert_non_null(strstr(err.msg, "metadata 'k' is not valid UTF-8"));
    assert_int_equal(zs_st_add(w, NULL, ZS_F32, 0, NULL, &x, &err), -1);
    assert_int_equal(zs_st_add_f32(w, "n", &x, SIZE_MAX, &err), -1);
    assert_non_null(strstr(err.msg, "is too many"));
    assert_int_equal(zs_st_set_meta(w, NULL, "v", &err), -1);
    void *bytes_out;
    size_t len_out;
    assert_int_equal(zs_st_serialize(NULL, &bytes_out, &len_out, &err), -1);
    /* nothing was added by the failures */
    unsigned char *bytes;
    size_t len;
    serialize(w, &bytes, &len);
    assert_int_equal(len, 16);
    free(bytes);
    zs_st_writer_free(w);
}

/* ------------------------------------------------------------------------------------------------
 * Files
 * ---------------------------------------------------------------------------------------------- */

static void write_scalar_file(const char *path, float v)
{
    zs_st_writer *w = zs_st_writer_new();
    zs_error err;
    assert_int_equal(zs_st_add_scalar_f32(w, "v", v, &err), 0);
    if (zs_st_write_file(w, path, &err) != 0)
        fail_msg("%s", err.msg);
    zs_st_writer_free(w);
}

static float read_scalar_file(const char *path)
{
    zs_st_file f;
    zs_error err;
    if (zs_st_read_file(path, &f, &err) != 0)
        fail_msg("%s", err.msg);
    float v;
    memcpy(&v, zs_st_find(&f, "v")->data, sizeof v);
    zs_st_file_free(&f);
    return v;
}

static void test_write_file_then_read_file_round_trips(void **state)
{
    char path[256];
    path_in_tmpdir(path, sizeof path, "rt.safetensors");
    write_scalar_file(path, 42.0f);
    assert_true(read_scalar_file(path) == 42.0f);
    assert_int_equal(count_dir_entries(tmpdir), 1);        /* no temporary file left */
    remove(path);
}

static void test_write_file_replaces_an_existing_file(void **state)
{
    char path[256];
    path_in_tmpdir(path, sizeof path, "over.safetensors");
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("not a safetensors file, and longer than the new one will be ..........................", fp);
    fclose(fp);
    write_scalar_file(path, 1.0f);
    write_scalar_file(path, 2.0f);
    assert_true(read_scalar_file(path) == 2.0f);
    assert_int_equal(count_dir_entries(tmpdir), 1);
    remove(path);
}

static void test_write_into_missing_directory_fails_and_leaves_nothing(void **state)
{
    char path[256];
    path_in_tmpdir(path, sizeof path, "no/such/dir/x.safetensors");
    zs_st_writer *w = zs_st_writer_new();
    zs_error err;
    assert_int_equal(zs_st_write_file(w, path, &err), -1);
    assert_true(strncmp(err.msg, path, strlen(path)) == 0);
    assert_non_null(strstr(err.msg, "No such file or directory"));
    assert_int_equal(count_dir_entries(tmpdir), 0);
    zs_st_writer_free(w);
}

/* rename() over a directory fails after the temporary file was written: it must be removed. */
static void test_write_failing_at_rename_removes_the_temporary_file(void **state)
{
    char path[256];
    path_in_tmpdir(path, sizeof path, "a_directory");
    assert_int_equal(mkdir(path, 0755), 0);
    zs_st_writer *w = zs_st_writer_new();
    zs_error err;
    assert_int_equal(zs_st_write_file(w, path, &err), -1);
    assert_non_null(strstr(err.msg, "cannot rename"));
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(count_dir_entries(tmpdir), 1);        /* just the directory */
    zs_st_writer_free(w);
    rmdir(path);
}

static void test_read_file_errors_name_the_path(void **state)
{
    char path[256];
    zs_st_file f;
    zs_error err;
    path_in_tmpdir(path, sizeof path, "missing.safetensors");
    assert_int_equal(zs_st_read_file(path, &f, &err), -1);
    assert_true(strncmp(err.msg, path, strlen(path)) == 0);
    assert_non_null(strstr(err.msg, "cannot open: No such file or directory"));

    path_in_tmpdir(path, sizeof path, "short.safetensors");
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("abc", fp);
    fclose(fp);
    assert_int_equal(zs_st_read_file(path, &f, &err), -1);
    char want[300];
    snprintf(want, sizeof want, "%s: truncated: file has 3 bytes", path);
    assert_true(strncmp(err.msg, want, strlen(want)) == 0);
    remove(path);

    assert_int_equal(zs_st_read_file(tmpdir, &f, &err), -1);      /* opens, but is no file */
    assert_non_null(strstr(err.msg, "cannot read: not a regular file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_dtype_matrix_scalar_and_empty),
        cmocka_unit_test(test_round_trip_eight_dims_and_wrappers),
        cmocka_unit_test(test_metadata_round_trips_sorted_and_last_value_wins),
        cmocka_unit_test(test_reader_sorts_metadata_keys),
        cmocka_unit_test(test_bytes_do_not_depend_on_insertion_order),
        cmocka_unit_test(test_writer_orders_tensors_by_dtype_rank_then_name),
        cmocka_unit_test(test_known_answer_bytes_of_a_tiny_file),
        cmocka_unit_test(test_known_answer_bytes_of_an_empty_file),
        cmocka_unit_test(test_names_are_json_escaped_and_round_trip),
        cmocka_unit_test(test_reader_accepts_unpadded_headers_whitespace_and_same_offset_empties),
        cmocka_unit_test(test_rejects_file_shorter_than_8_bytes),
        cmocka_unit_test(test_rejects_header_length_over_100MB),
        cmocka_unit_test(test_rejects_header_beyond_end_of_file),
        cmocka_unit_test(test_rejects_header_not_starting_with_brace),
        cmocka_unit_test(test_rejects_header_that_is_not_json),
        cmocka_unit_test(test_rejects_header_that_is_not_utf8),
        cmocka_unit_test(test_rejects_control_characters_and_escaped_nul),
        cmocka_unit_test(test_rejects_entry_that_is_not_an_object),
        cmocka_unit_test(test_rejects_entries_missing_a_field),
        cmocka_unit_test(test_rejects_unknown_and_repeated_fields),
        cmocka_unit_test(test_rejects_fields_of_the_wrong_type),
        cmocka_unit_test(test_rejects_unsupported_dtype_naming_it_and_the_tensor),
        cmocka_unit_test(test_rejects_negative_and_non_integer_dims),
        cmocka_unit_test(test_rejects_more_than_max_dims),
        cmocka_unit_test(test_rejects_oversized_shapes_without_allocating),
        cmocka_unit_test(test_rejects_offsets_disagreeing_with_shape_and_dtype),
        cmocka_unit_test(test_rejects_hole_at_start_of_data),
        cmocka_unit_test(test_rejects_hole_between_tensors),
        cmocka_unit_test(test_rejects_overlapping_tensors),
        cmocka_unit_test(test_rejects_trailing_bytes_after_last_tensor),
        cmocka_unit_test(test_rejects_truncated_data_saying_so),
        cmocka_unit_test(test_rejects_every_prefix_and_extension_of_a_valid_file),
        cmocka_unit_test(test_rejects_duplicate_tensor_names_at_read),
        cmocka_unit_test(test_rejects_metadata_that_is_not_an_object_of_strings),
        cmocka_unit_test(test_add_rejects_duplicate_names),
        cmocka_unit_test(test_add_rejects_bad_arguments),
        cmocka_unit_test(test_write_file_then_read_file_round_trips),
        cmocka_unit_test(test_write_file_replaces_an_existing_file),
        cmocka_unit_test(test_write_into_missing_directory_fails_and_leaves_nothing),
        cmocka_unit_test(test_write_failing_at_rename_removes_the_temporary_file),
        cmocka_unit_test(test_read_file_errors_name_the_path),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
