#include "json_util.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zerospec/ds_config.h"

/* ------------------------------------------------------------------------------------------------
 * Syntax errors: where, and a hint for the mistakes people make in hand-written configs. */

void zs_text_line_col(const char *text, size_t offset, int *line, int *col)
{
    int l = 1, c = 1;
    for (size_t i = 0; i < offset && text[i]; i++) {
        if (text[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
            c++; /* count characters, not UTF-8 continuation bytes (as Python's json does) */
        }
    }
    *line = l;
    *col = c;
}

static const char *syntax_hint(const char *text, size_t off)
{
    char c = text[off];
    size_t prev = off;
    while (prev > 0 && isspace((unsigned char)text[prev - 1]))
        prev--;
    char before = prev > 0 ? text[prev - 1] : '\0';
    if (c == '/' || c == '#')
        return "comments are not allowed in JSON";
    if ((c == '}' || c == ']') && before == ',')
        return "trailing comma before the closing bracket";
    if (strncmp(text + off, "True", 4) == 0 || strncmp(text + off, "False", 5) == 0 ||
        strncmp(text + off, "None", 4) == 0)
        return "Python literal; JSON spells it true, false or null";
    if (c == '\'')
        return "strings must be in double quotes";
    if (c == '\0')
        return "unexpected end of input";
    return "unexpected character";
}

/* The bracket ('{' or '[') enclosing position `pos`, or 0 (strings skipped; deep nesting gives up). */
static char enclosing_bracket(const char *text, size_t pos)
{
    char stack[256];
    size_t depth = 0;
    for (size_t i = 0; i < pos && text[i]; i++) {
        char c = text[i];
        if (c == '"') {
            for (i++; i < pos && text[i] && text[i] != '"'; i++)
                if (text[i] == '\\' && text[i + 1])
                    i++;
        } else if (c == '{' || c == '[') {
            if (depth == sizeof stack)
                return 0;
            stack[depth++] = c;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return depth ? stack[depth - 1] : 0;
}

/* cJSON reports a failed object key one character past the culprit (parse_string has already
 * stepped over it): step back when a key was expected, i.e. after '{' or ',' inside an object. */
static size_t culprit_offset(const char *text, size_t off)
{
    if (off == 0 || isspace((unsigned char)text[off - 1]) || text[off - 1] == '"')
        return off;
    size_t c = off - 1, prev = c;
    while (prev > 0 && isspace((unsigned char)text[prev - 1]))
        prev--;
    if (prev == 0 || (text[prev - 1] != '{' && text[prev - 1] != ','))
        return off;
    return enclosing_bracket(text, c) == '{' ? c : off;
}

cJSON *zs_json_parse(const char *text, const char *source, zs_error *err)
{
    size_t len = strlen(text);
    const char *end = NULL;
    /* the length includes the terminating NUL: cJSON's require_null_terminated check reads it */
    cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
    if (root)
        return root;
    size_t first = 0;
    while (first < len && isspace((unsigned char)text[first]))
        first++;
    if (first == len)
        return zs_fail(err, "%s: invalid JSON: the document is empty", source), NULL;
    size_t off = (end && end >= text && end <= text + len) ? (size_t)(end - text) : len;
    off = culprit_offset(text, off);
    int line, col;
    zs_text_line_col(text, off, &line, &col);
    zs_fail(err, "%s: invalid JSON at line %d, column %d: %s", source, line, col, syntax_hint(text, off));
    return NULL;
}

char *zs_json_read_file(const char *path, const char *what, zs_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return zs_fail(err, "%s: cannot open %s", path, what), NULL;
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 16384;
            char *t = realloc(text, cap);
            if (!t) {
                free(text);
                fclose(f);
                return zs_fail(err, "%s: out of memory", path), NULL;
            }
            text = t;
        }
        size_t got = fread(text + len, 1, 4096, f);
        len += got;
        if (got < 4096)
            break;
    }
    int read_error = ferror(f);
    fclose(f);
    if (read_error || memchr(text, '\0', len)) {
        free(text);
        return zs_fail(err, "%s: %s", path, read_error ? "read error" : "contains a NUL byte; not a JSON text"), NULL;
    }
    text[len] = '\0';
    return text;
}

/* ------------------------------------------------------------------------------------------------
 * Duplicate keys: cJSON keeps both; Python's json with DeepSpeed's object_pairs_hook rejects them
 * (config_utils.py dict_raise_error_on_duplicate_keys). */

static int check_dups(const cJSON *node, const char *path, zs_error *err)
{
    int index = 0;
    for (const cJSON *a = node->child; a; a = a->next, index++) {
        char sub[512];
        if (cJSON_IsObject(node)) {
            zs_json_path(sub, sizeof sub, path, a->string);
            for (const cJSON *b = a->next; b; b = b->next)
                if (strcmp(a->string, b->string) == 0)
                    return zs_fail(err, "%s: duplicate key (DeepSpeed rejects duplicate keys)", sub);
        } else {
            snprintf(sub, sizeof sub, "%s[%d]", path, index);
        }
        if ((cJSON_IsObject(a) || cJSON_IsArray(a)) && check_dups(a, sub, err))
            return -1;
    }
    return 0;
}

int zs_json_check_duplicates(const cJSON *root, zs_error *err)
{
    return check_dups(root, "", err);
}

/* ------------------------------------------------------------------------------------------------
 * Lexical form of numbers: number tokens appear in the text in the same order as a depth-first
 * walk of the parsed tree visits number nodes, so the two sequences can be zipped. */

static size_t scan_number_forms(const char *text, unsigned char *flags, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; text[i];) {
        char c = text[i];
        if (c == '"') {
            for (i++; text[i] && text[i] != '"'; i++)
                if (text[i] == '\\' && text[i + 1])
                    i++;
            if (text[i])
                i++;
        } else if (c == '-' || isdigit((unsigned char)c)) {
            int is_float = 0;
            for (; text[i] && strchr("0123456789+-.eE", text[i]); i++)
                is_float |= text[i] == '.' || text[i] == 'e' || text[i] == 'E';
            if (flags && n < cap)
                flags[n] = (unsigned char)is_float;
            n++;
        } else {
            i++;
        }
    }
    return n;
}

static void collect_numbers(const cJSON *node, const cJSON **nodes, size_t *n)
{
    if (cJSON_IsNumber(node)) {
        if (nodes)
            nodes[*n] = node;
        (*n)++;
    }
    for (const cJSON *c = node->child; c; c = c->next)
        collect_numbers(c, nodes, n);
}

int zs_json_numforms_build(const char *text, const cJSON *root, zs_json_numforms *out, zs_error *err)
{
    out->float_written = NULL;
    out->count = 0;
    size_t n_tree = 0;
    collect_numbers(root, NULL, &n_tree);
    if (n_tree == 0)
        return 0;
    const cJSON **nodes = malloc(n_tree * sizeof *nodes);
    unsigned char *flags = malloc(n_tree);
    if (!nodes || !flags) {
        free(nodes);
        free(flags);
        return zs_fail(err, "out of memory");
    }
    size_t k = 0;
    collect_numbers(root, nodes, &k);
    size_t n_text = scan_number_forms(text, flags, n_tree);
    if (n_text == n_tree) { /* always true for text cJSON accepted; otherwise keep no forms */
        for (size_t i = 0; i < n_tree; i++)
            if (flags[i])
                nodes[out->count++] = nodes[i];
    }
    free(flags);
    if (out->count == 0) {
        free(nodes);
        return 0;
    }
    out->float_written = nodes;
    return 0;
}

int zs_json_numforms_is_float(const zs_json_numforms *forms, const cJSON *node)
{
    if (!forms)
        return 0;
    for (size_t i = 0; i < forms->count; i++)
        if (forms->float_written[i] == node)
            return 1;
    return 0;
}

void zs_json_numforms_free(zs_json_numforms *forms)
{
    free(forms->float_written);
    forms->float_written = NULL;
    forms->count = 0;
}

/* ------------------------------------------------------------------------------------------------
 * Typed reads. */

void zs_json_path(char *buf, size_t n, const char *parent, const char *key)
{
    if (parent && parent[0])
        snprintf(buf, n, "%s.%s", parent, key);
    else
        snprintf(buf, n, "%s", key);
}

void zs_json_describe(const cJSON *v, char *buf, size_t n)
{
    if (!v)
        snprintf(buf, n, "nothing");
    else if (cJSON_IsString(v))
        snprintf(buf, n, "\"%.60s\"", v->valuestring);
    else if (cJSON_IsNumber(v))
        snprintf(buf, n, "%.17g", v->valuedouble);
    else if (cJSON_IsTrue(v))
        snprintf(buf, n, "true");
    else if (cJSON_IsFalse(v))
        snprintf(buf, n, "false");
    else if (cJSON_IsNull(v))
        snprintf(buf, n, "null");
    else if (cJSON_IsObject(v))
        snprintf(buf, n, "an object");
    else if (cJSON_IsArray(v))
        snprintf(buf, n, "a list");
    else
        snprintf(buf, n, "an invalid value");
}

int zs_json_is_auto(const cJSON *v)
{
    return cJSON_IsString(v) && strcmp(v->valuestring, "auto") == 0;
}

int zs_json_fail_auto(const char *path, zs_error *err)
{
    return zs_fail(err,
                   "%s is \"auto\": only the Hugging Face Trainer fills \"auto\" values; give a value or "
                   "resolve it with --set (see docs/spec/config.md)",
                   path);
}

static int fail_expected(const cJSON *v, const char *path, const char *expected, zs_error *err)
{
    if (zs_json_is_auto(v))
        return zs_json_fail_auto(path, err);
    char got[96];
    zs_json_describe(v, got, sizeof got);
    return zs_fail(err, "%s: expected %s, got %s", path, expected, got);
}

int zs_json_int(const cJSON *v, const char *path, int64_t lo, int64_t hi, int64_t *out, zs_error *err)
{
    char expected[96];
    if (lo == INT64_MIN && hi == INT64_MAX)
        snprintf(expected, sizeof expected, "an integer");
    else if (hi == INT64_MAX)
        snprintf(expected, sizeof expected, "an integer >= %lld", (long long)lo);
    else
        snprintf(expected, sizeof expected, "an integer %lld..%lld", (long long)lo, (long long)hi);
    if (!cJSON_IsNumber(v))
        return fail_expected(v, path, expected, err);
    double d = v->valuedouble;
    /* 2^63 is exactly representable; anything at or beyond it does not fit an int64 */
    if (!isfinite(d) || d != floor(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0)
        return fail_expected(v, path, expected, err);
    int64_t x = (int64_t)d;
    if (x < lo || x > hi)
        return fail_expected(v, path, expected, err);
    *out = x;
    return 0;
}

int zs_json_number(const cJSON *v, const char *path, double *out, zs_error *err)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return fail_expected(v, path, "a finite number", err);
    *out = v->valuedouble;
    return 0;
}

int zs_json_bool(const cJSON *v, const char *path, int *out, zs_error *err)
{
    if (!cJSON_IsBool(v))
        return fail_expected(v, path, "true or false", err);
    *out = cJSON_IsTrue(v);
    return 0;
}

int zs_json_string(const cJSON *v, const char *path, const char **out, zs_error *err)
{
    if (!cJSON_IsString(v))
        return fail_expected(v, path, "a string", err);
    *out = v->valuestring;
    return 0;
}

int zs_json_object(const cJSON *v, const char *path, zs_error *err)
{
    if (!cJSON_IsObject(v))
        return fail_expected(v, path, "an object", err);
    return 0;
}

int zs_json_number_pair(const cJSON *v, const char *path, double out[2], zs_error *err)
{
    const char *expected = "a list of two numbers";
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2)
        return fail_expected(v, path, expected, err);
    for (int i = 0; i < 2; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) {
            char got[96];
            zs_json_describe(e, got, sizeof got);
            return zs_fail(err, "%s[%d]: expected a finite number, got %s", path, i, got);
        }
        out[i] = e->valuedouble;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------------
 * Suggestions. */

int zs_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) /* keys are short; long strings are never "a typo of" a key */
        return 1000;
    int row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *zs_closest_name(const char *key, const char *const *names, size_t count, size_t stride,
                            int max_dist)
{
    const char *best = NULL;
    int best_d = max_dist + 1;
    for (size_t i = 0; i < count; i++) {
        const char *name = *(const char *const *)((const char *)names + i * stride);
        int d = zs_edit_distance(key, name);
        if (d < best_d) {
            best_d = d;
            best = name;
        }
    }
    return best;
}
