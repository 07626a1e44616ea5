/* Case files (format in zerospec/case.h; rules in docs/spec/config.md "Case files"). */
#include "zerospec/case.h"
#include "zerospec/ds_auto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_config_parse.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_STEPS 1000000
#define MAX_EXACT_SEED 9007199254740992.0 /* 2^53: larger integers do not survive a JSON double */

zs_model_dims zs_model_dims_default(void)
{
    zs_model_dims d = {.vocab = 97, .seq = 16, .channels = 32, .layers = 2, .heads = 4};
    return d;
}

static const char *const case_keys[] = {"name",  "description", "model",     "seed",
                                        "steps", "world_sizes", "ds_config", "ds_config_file"};
static const char *const model_keys[] = {"vocab", "seq", "channels", "layers", "heads"};

static int check_keys(const cJSON *obj, const char *path, const char *const *keys, size_t n, zs_error *err)
{
    for (const cJSON *c = obj->child; c; c = c->next) {
        size_t i = 0;
        while (i < n && strcmp(keys[i], c->string))
            i++;
        if (i < n)
            continue;
        char sub[160];
        zs_json_path(sub, sizeof sub, path, c->string);
        const char *near = zs_closest_name(c->string, keys, n, sizeof keys[0], 2);
        if (near)
            return zs_fail(err, "%s: unknown key; did you mean \"%s\"?", sub, near);
        return zs_fail(err, "%s: unknown key", sub);
    }
    return 0;
}

static int valid_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                 c == '.' || c == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

static int read_model(const cJSON *m, zs_model_dims *d, zs_error *err)
{
    if (zs_json_object(m, "model", err) || check_keys(m, "model", model_keys, N_OF(model_keys), err))
        return -1;
    int *fields[] = {&d->vocab, &d->seq, &d->channels, &d->layers, &d->heads};
    for (size_t i = 0; i < N_OF(model_keys); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, model_keys[i]);
        char path[32];
        int64_t x;
        snprintf(path, sizeof path, "model.%s", model_keys[i]);
        if (v) {
            if (zs_json_int(v, path, 1, INT32_MAX, &x, err))
                return -1;
            *fields[i] = (int)x;
        }
    }
    if (d->channels % d->heads != 0)
        return zs_fail(err, "model: channels (%d) must be divisible by heads (%d)", d->channels, d->heads);
    return 0;
}

static int read_world_sizes(const cJSON *v, zs_case *c, zs_error *err)
{
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0) {
        char got[96];
        zs_json_describe(v, got, sizeof got);
        return zs_fail(err, "world_sizes: expected a non-empty list of integers 1..64, got %s", got);
    }
    if (cJSON_GetArraySize(v) > ZS_MAX_WORLD_SIZES)
        return zs_fail(err, "world_sizes: at most %d entries, got %d", ZS_MAX_WORLD_SIZES, cJSON_GetArraySize(v));
    c->n_world_sizes = 0;
    for (const cJSON *e = v->child; e; e = e->next) {
        char path[32];
        int64_t w;
        snprintf(path, sizeof path, "world_sizes[%d]", c->n_world_sizes);
        if (zs_json_int(e, path, 1, 64, &w, err))
            return -1;
        for (int i = 0; i < c->n_world_sizes; i++)
            if (c->world_sizes[i] == (int)w)
                return zs_fail(err, "%s: %d is listed twice", path, (int)w);
        c->world_sizes[c->n_world_sizes++] = (int)w;
    }
    return 0;
}

static int read_scalars(const cJSON *root, zs_case *c, zs_error *err)
{
    const cJSON *v;
    const char *s;
    int64_t x;
    if (!(v = cJSON_GetObjectItemCaseSensitive(root, "name")))
        return zs_fail(err, "name is required");
    if (zs_json_string(v, "name", &s, err))
        return -1;
    if (!valid_name(s) || strlen(s) >= sizeof c->name)
        return zs_fail(err, "name: \"%.60s\" must be 1..%zu characters of [A-Za-z0-9_.-]", s, sizeof c->name - 1);
    snprintf(c->name, sizeof c->name, "%s", s);
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "description"))) {
        if (zs_json_string(v, "description", &s, err))
            return -1;
        if (strlen(s) >= sizeof c->description)
            return zs_fail(err, "description: at most %zu bytes", sizeof c->description - 1);
        snprintf(c->description, sizeof c->description, "%s", s);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "model")) && read_model(v, &c->model, err))
        return -1;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "seed"))) {
        if (zs_json_int(v, "seed", 0, INT64_MAX, &x, err))
            return -1;
        if ((double)x > MAX_EXACT_SEED)
            return zs_fail(err, "seed: %lld is above 2^53 and cannot be read exactly from JSON", (long long)x);
        c->seed = (uint64_t)x;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "steps"))) {
        if (zs_json_int(v, "steps", 1, MAX_STEPS, &x, err))
            return -1;
        c->steps = (int)x;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "world_sizes")) && read_world_sizes(v, c, err))
        return -1;
    return 0;
}

static int is_absolute(const char *path)
{
    return path[0] == '/';
}

/* Reads the inline ds_config or the ds_config_file into c->config_json / c->config. */
static int read_ds_config(const cJSON *root, const zs_json_numforms *forms, const char *source, const char *base_dir,
                          zs_case *c, zs_error *err)
{
    const cJSON *inline_cfg = cJSON_GetObjectItemCaseSensitive(root, "ds_config");
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(root, "ds_config_file");
    if (inline_cfg && file)
        return zs_fail(err, "give either ds_config or ds_config_file, not both");
    if (!inline_cfg && !file)
        return zs_fail(err, "one of ds_config (inline) or ds_config_file is required");
    if (inline_cfg) {
        if (zs_json_object(inline_cfg, "ds_config", err))
            return -1;
        snprintf(c->config_source, sizeof c->config_source, "%s:ds_config", source);
        if (!(c->config_json = cJSON_PrintUnformatted(inline_cfg)))
            return zs_fail(err, "out of memory");
        return zs_ds_config_parse_tree(inline_cfg, forms, c->config_source, &c->config, err);
    }
    const char *rel;
    if (zs_json_string(file, "ds_config_file", &rel, err))
        return -1;
    int n;
    if (is_absolute(rel) || !base_dir || !base_dir[0])
        n = snprintf(c->config_source, sizeof c->config_source, "%s", rel);
    else
        n = snprintf(c->config_source, sizeof c->config_source, "%s/%s", base_dir, rel);
    if (n < 0 || (size_t)n >= sizeof c->config_source)
        return zs_fail(err, "ds_config_file: the path is too long");
    if (!(c->config_json = zs_json_read_file(c->config_source, "the DeepSpeed config", err)))
        return -1;
    return zs_ds_config_parse(c->config_json, c->config_source, &c->config, err);
}

/* A case is run: the config needs an optimizer and a valid batch at every world size. */
static int check_runnable(zs_case *c, zs_error *err)
{
    if (!c->config.has_optimizer)
        return zs_fail(err, "%s: no optimizer block; a case needs one (zerospec has no client optimizer)",
                       c->config_source);
    for (int i = 0; i < c->n_world_sizes; i++) {
        zs_batch b;
        if (zs_ds_config_resolve_batch(&c->config, c->world_sizes[i], &b, err))
            return zs_error_prefix(err, "%s: at world size %d", c->config_source, c->world_sizes[i]);
    }
    return 0;
}

static void set_defaults(zs_case *c)
{
    memset(c, 0, sizeof *c);
    c->model = zs_model_dims_default();
    c->seed = 1234;
    c->steps = 5;
    c->world_sizes[0] = 1;
    c->n_world_sizes = 1;
}

int zs_case_parse(const char *json_text, const char *source, const char *base_dir, zs_case *out, zs_error *err)
{
    set_defaults(out);
    cJSON *root = zs_json_parse(json_text, source, err);
    if (!root)
        return -1;
    zs_json_numforms forms = {0};
    int rc = zs_json_numforms_build(json_text, root, &forms, err);
    if (!rc && !cJSON_IsObject(root))
        rc = zs_fail(err, "a case file must be a JSON object");
    if (!rc)
        rc = zs_json_check_duplicates(root, err);
    if (!rc)
        rc = check_keys(root, "", case_keys, N_OF(case_keys), err);
    if (!rc)
        rc = read_scalars(root, out, err);
    if (!rc) {
        rc = read_ds_config(root, &forms, source, base_dir, out, err);
        if (!rc)
            rc = check_runnable(out, err);
        else if (!out->config_source[0] || strncmp(err->msg, out->config_source, strlen(out->config_source)))
            zs_error_prefix(err, "%s", source); /* errors in the DeepSpeed config name it already */
    } else {
        zs_error_prefix(err, "%s", source);
    }
    zs_json_numforms_free(&forms);
    cJSON_Delete(root);
    if (rc)
        zs_case_free(out);
    return rc;
}

int zs_case_load(const char *path, zs_case *out, zs_error *err)
{
    set_defaults(out);
    char *text = zs_json_read_file(path, "the case file", err);
    if (!text)
        return -1;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int rc = zs_case_parse(text, path, dir, out, err);
    free(text);
    return rc;
}

int zs_case_from_config_file(const char *config_path, zs_case *out, zs_error *err)
{
    return zs_case_from_config_file_resolved(config_path, NULL, 0, 0, out, err);
}

int zs_case_from_config_file_resolved(const char *config_path, const char *const *sets, int n_sets, int world,
                                      zs_case *out, zs_error *err)
{
    set_defaults(out);
    if (world > 0)
        out->world_sizes[0] = world;
    /* name: the file's base name without ".json", other characters replaced by '_' */
    const char *base = strrchr(config_path, '/');
    base = base ? base + 1 : config_path;
    snprintf(out->name, sizeof out->name, "%s", base);
    size_t len = strlen(out->name);
    if (len > 5 && !strcmp(out->name + len - 5, ".json"))
        out->name[len - 5] = '\0';
    for (char *p = out->name; *p; p++)
        if (!valid_name((char[]){*p, '\0'}))
            *p = '_';
    if (!out->name[0])
        snprintf(out->name, sizeof out->name, "config");
    snprintf(out->config_source, sizeof out->config_source, "%s", config_path);
    int rc = -1;
    if ((out->config_json = zs_json_read_file(config_path, "the DeepSpeed config", err)))
        rc = n_sets > 0 ? zs_ds_config_parse_resolved(out->config_json, config_path, sets, n_sets, &out->config, err)
                        : zs_ds_config_parse(out->config_json, config_path, &out->config, err);
    if (!rc)
        rc = check_runnable(out, err);
    if (rc)
        zs_case_free(out);
    return rc;
}

void zs_case_free(zs_case *c)
{
    if (!c)
        return;
    free(c->config_json);
    c->config_json = NULL;
    zs_ds_config_free(&c->config);
}
