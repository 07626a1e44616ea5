/* Key accounting: the key report (every key met, with its status) and the strict-section check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_config_parse.h"

static zs_key_entry *find_entry(const zs_key_report *r, const char *path)
{
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->entries[i].path, path) == 0)
            return &r->entries[i];
    return NULL;
}

static zs_key_entry *new_entry(zs_key_report *r, const char *path)
{
    if (r->count == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 32;
        zs_key_entry *e = realloc(r->entries, cap * sizeof *e);
        if (!e) { /* a report of a few hundred entries: failing here is not a config error */
            fprintf(stderr, "zerospec: out of memory in the key report\n");
            abort();
        }
        r->entries = e;
        r->cap = cap;
    }
    zs_key_entry *e = &r->entries[r->count++];
    memset(e, 0, sizeof *e);
    snprintf(e->path, sizeof e->path, "%s", path);
    return e;
}

static void set_entry(zs_key_report *r, const char *path, zs_key_status s, const char *fmt, va_list ap)
{
    zs_key_entry *e = find_entry(r, path);
    if (!e)
        e = new_entry(r, path);
    e->status = s;
    vsnprintf(e->note, sizeof e->note, fmt, ap);
}

void zs_report_set(zs_key_report *r, const char *path, zs_key_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_entry(r, path, s, fmt, ap);
    va_end(ap);
}

const zs_key_entry *zs_report_find(const zs_key_report *r, const char *path)
{
    return find_entry(r, path);
}

void zs_report_free(zs_key_report *r)
{
    free(r->entries);
    memset(r, 0, sizeof *r);
}

int zs_check_kind(const cJSON *v, zs_jkind kind, const char *path, zs_error *err)
{
    int b;
    int64_t i;
    double d;
    const char *s;
    if (kind != ZS_JK_ANY && zs_json_is_auto(v)) /* "auto" is never a valid value of a key read here */
        return zs_json_fail_auto(path, err);
    switch (kind) {
    case ZS_JK_ANY:
        return 0;
    case ZS_JK_BOOL_OR_NULL:
        if (cJSON_IsNull(v))
            return 0;
        /* fall through */
    case ZS_JK_BOOL:
        return zs_json_bool(v, path, &b, err);
    case ZS_JK_UINT:
        return zs_json_int(v, path, 0, INT64_MAX, &i, err);
    case ZS_JK_INT:
        return zs_json_int(v, path, INT64_MIN, INT64_MAX, &i, err);
    case ZS_JK_NUMBER:
        return zs_json_number(v, path, &d, err);
    case ZS_JK_STRING_OR_NULL:
        if (cJSON_IsNull(v))
            return 0;
        /* fall through */
    case ZS_JK_STRING:
        return zs_json_string(v, path, &s, err);
    case ZS_JK_OBJECT_OR_NULL:
        if (cJSON_IsNull(v))
            return 0;
        return zs_json_object(v, path, err);
    }
    return 0;
}

int zs_check_section(zs_ds_parse *p, const cJSON *obj, const char *path, const zs_key_spec *specs,
                     size_t n_specs, const char *why_strict)
{
    for (const cJSON *c = obj->child; c; c = c->next) {
        char sub[256];
        zs_json_path(sub, sizeof sub, path, c->string);
        const zs_key_spec *spec = NULL;
        for (size_t i = 0; i < n_specs && !spec; i++)
            if (strcmp(specs[i].name, c->string) == 0)
                spec = &specs[i];
        if (!spec) {
            zs_report_set(&p->cfg->report, sub, ZS_KEY_UNKNOWN, "not a key of %s", path);
            const char *near = zs_closest_name(c->string, &specs[0].name, n_specs, sizeof specs[0], 3);
            if (near)
                return zs_fail(p->err, "%s: unknown key (%s); did you mean \"%s\"?", sub, why_strict, near);
            return zs_fail(p->err, "%s: unknown key (%s)", sub, why_strict);
        }
        if (zs_check_kind(c, spec->kind, sub, p->err)) {
            zs_report_set(&p->cfg->report, sub, ZS_KEY_INVALID, "wrong type");
            return -1;
        }
        zs_report_set(&p->cfg->report, sub, spec->status, "%s", spec->note ? spec->note : "");
    }
    return 0;
}

/* Readers of values zs_check_section has already checked: absent keys leave *out unchanged. */
int zs_section_bool(const cJSON *obj, const char *key, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v && cJSON_IsBool(v))
        *out = cJSON_IsTrue(v);
    return v && cJSON_IsBool(v);
}

int zs_section_int(const cJSON *obj, const char *key, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v && cJSON_IsNumber(v))
        *out = (int64_t)v->valuedouble;
    return v && cJSON_IsNumber(v);
}

int zs_section_number(const cJSON *obj, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v && cJSON_IsNumber(v))
        *out = v->valuedouble;
    return v && cJSON_IsNumber(v);
}
