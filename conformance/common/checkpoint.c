/* Checkpoint files: manifest + one shard per rank (zerospec/checkpoint.h, docs/spec/checkpoint.md).
 * Every file is written atomically; the manifest, written last, records each shard's size and
 * sha256, so a reader sees a complete, consistent checkpoint or a clear refusal. */
#define _POSIX_C_SOURCE 200809L   /* mkdir */

#include "zerospec/checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "json_util.h"
#include "zerospec/atomic_file.h"

#define MANIFEST "manifest.json"

int zs_ckpt_alloc(zs_checkpoint *c, zs_error *err)
{
    if (c->world < 1 || c->world > ZS_CKPT_MAX_WORLD || c->n_state < 0 || c->n_state > ZS_CKPT_MAX_STATE)
        return zs_fail(err, "checkpoint: world %d or %d optimizer states out of range", c->world, c->n_state);
    c->master = calloc((size_t)c->world, sizeof(float *));
    for (int s = 0; s < c->n_state; s++)
        c->state[s] = calloc((size_t)c->world, sizeof(float *));
    for (int r = 0; c->master && r < c->world; r++) {
        if (!(c->master[r] = calloc(c->part_len ? c->part_len : 1, sizeof(float))))
            return zs_fail(err, "out of memory");
        for (int s = 0; s < c->n_state; s++)
            if (!c->state[s] || !(c->state[s][r] = calloc(c->part_len ? c->part_len : 1, sizeof(float))))
                return zs_fail(err, "out of memory");
    }
    return c->master ? 0 : zs_fail(err, "out of memory");
}

static void free_rows(float **rows, int n)
{
    for (int r = 0; rows && r < n; r++)
        free(rows[r]);
    free(rows);
}

void zs_ckpt_free(zs_checkpoint *c)
{
    free_rows(c->master, c->world);
    for (int s = 0; s < ZS_CKPT_MAX_STATE; s++)
        free_rows(c->state[s], c->world);
    free(c->config_json);
    memset(c, 0, sizeof *c);
}

/* ------------------------------------------------------------------------------------------------
 * sha256 (OpenSSL's EVP interface) as 64 lowercase hex digits. */

static int sha256_hex(const void *bytes, size_t len, char hex[65], zs_error *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(bytes, len, md, &n, EVP_sha256(), NULL) || n != 32)
        return zs_fail(err, "sha256 failed (OpenSSL EVP_Digest)");
    for (unsigned int i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* ------------------------------------------------------------------------------------------------
 * Writing. */

static int shard_bytes(const zs_checkpoint *c, int r, void **bytes, size_t *len, zs_error *err)
{
    zs_st_writer *w = zs_st_writer_new();
    if (!w)
        return zs_fail(err, "out of memory");
    int rc = zs_st_set_meta(w, "format", ZS_CKPT_FORMAT " shard", err);
    rc = rc ? rc : zs_st_set_meta_int(w, "rank", r, err);
    rc = rc ? rc : zs_st_set_meta_int(w, "world_size", c->world, err);
    rc = rc ? rc : zs_st_set_meta_int(w, "global_steps", c->global_steps, err);
    rc = rc ? rc : zs_st_add_f32(w, "master", c->master[r], c->part_len, err);
    for (int s = 0; !rc && s < c->n_state; s++)
        rc = zs_st_add_f32(w, c->state_names[s], c->state[s][r], c->part_len, err);
    rc = rc ? rc : zs_st_serialize(w, bytes, len, err);
    zs_st_writer_free(w);
    return rc;
}

static cJSON *manifest_json(const zs_checkpoint *c)
{
    cJSON *m = cJSON_CreateObject(), *model = cJSON_CreateObject(), *sc = cJSON_CreateObject();
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, c->seed);
    cJSON_AddStringToObject(m, "format", ZS_CKPT_FORMAT);
    cJSON_AddNumberToObject(m, "format_version", ZS_CKPT_FORMAT_VERSION);
    cJSON_AddStringToObject(m, "generator", c->generator);
    cJSON_AddStringToObject(m, "case", c->case_name);
    cJSON_AddStringToObject(m, "seed", seed);   /* a string: u64 does not fit a JSON double */
    cJSON_AddNumberToObject(model, "vocab", c->model.vocab);
    cJSON_AddNumberToObject(model, "seq", c->model.seq);
    cJSON_AddNumberToObject(model, "channels", c->model.channels);
    cJSON_AddNumberToObject(model, "layers", c->model.layers);
    cJSON_AddNumberToObject(model, "heads", c->model.heads);
    cJSON_AddItemToObject(m, "model", model);
    cJSON_AddStringToObject(m, "precision", c->precision);
    cJSON_AddNumberToObject(m, "world_size", c->world);
    cJSON_AddNumberToObject(m, "stage", c->stage);
    cJSON_AddNumberToObject(m, "numel", (double)c->numel);
    cJSON_AddNumberToObject(m, "partition_length", (double)c->part_len);
    cJSON_AddNumberToObject(m, "global_steps", (double)c->global_steps);
    cJSON_AddNumberToObject(m, "applied_steps", (double)c->applied_steps);
    cJSON_AddNumberToObject(m, "skipped_steps", (double)c->skipped_steps);
    cJSON_AddNumberToObject(sc, "cur_scale", c->scaler.cur_scale);
    cJSON_AddNumberToObject(sc, "cur_iter", (double)c->scaler.cur_iter);
    cJSON_AddNumberToObject(sc, "last_overflow_iter", (double)c->scaler.last_overflow_iter);
    cJSON_AddNumberToObject(sc, "cur_hysteresis", (double)c->scaler.cur_hysteresis);
    cJSON_AddItemToObject(m, "loss_scaler", sc);
    cJSON *names = cJSON_AddArrayToObject(m, "optimizer_states");
    for (int s = 0; s < c->n_state; s++)
        cJSON_AddItemToArray(names, cJSON_CreateString(c->state_names[s]));
    cJSON *cfg = c->config_json ? cJSON_Parse(c->config_json) : NULL;
    cJSON_AddItemToObject(m, "config", cfg ? cfg : cJSON_CreateObject());
    cJSON_AddArrayToObject(m, "shards");
    return m;
}

static int make_dir(const char *dir, zs_error *err)
{
    struct stat st;
    if (stat(dir, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0 : zs_fail(err, "%s: exists and is not a directory", dir);
    if (mkdir(dir, 0755) != 0)
        return zs_fail(err, "%s: cannot create the checkpoint directory: %s", dir, strerror(errno));
    return 0;
}

int zs_ckpt_save(const zs_checkpoint *c, const char *dir, zs_error *err)
{
    if (make_dir(dir, err))
        return -1;
    cJSON *m = manifest_json(c);
    if (!m)
        return zs_fail(err, "out of memory");
    cJSON *shards = cJSON_GetObjectItem(m, "shards");
    int rc = 0;
    for (int r = 0; !rc && r < c->world; r++) {
        void *bytes = NULL;
        size_t len = 0;
        char name[32], hex[65];
        snprintf(name, sizeof name, "rank%d.safetensors", r);
        char *path = path_join(dir, name);
        rc = path ? shard_bytes(c, r, &bytes, &len, err) : zs_fail(err, "out of memory");
        rc = rc ? rc : sha256_hex(bytes, len, hex, err);
        rc = rc ? rc : zs_write_file_atomic(path, bytes, len, err);
        if (!rc) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "rank", r);
            cJSON_AddStringToObject(e, "file", name);
            cJSON_AddNumberToObject(e, "bytes", (double)len);
            cJSON_AddStringToObject(e, "sha256", hex);
            cJSON_AddItemToArray(shards, e);
        }
        free(bytes);
        free(path);
    }
    char *text = rc ? NULL : cJSON_Print(m);
    char *path = path_join(dir, MANIFEST);
    if (!rc && (!text || !path))
        rc = zs_fail(err, "out of memory");
    char *line = NULL;
    if (!rc) {
        size_t n = strlen(text);
        if (!(line = malloc(n + 1)))
            rc = zs_fail(err, "out of memory");
        else {
            memcpy(line, text, n);
            line[n] = '\n';
            rc = zs_write_file_atomic(path, line, n + 1, err);
        }
    }
    free(line);
    free(text);
    free(path);
    cJSON_Delete(m);
    return rc;
}

static int same_dims(const zs_model_dims *a, const zs_model_dims *b)
{
    return a->vocab == b->vocab && a->seq == b->seq && a->channels == b->channels && a->layers == b->layers &&
           a->heads == b->heads;
}

int zs_ckpt_check_run(const zs_checkpoint *c, const zs_model_dims *dims, size_t numel, uint64_t seed,
                      const char *precision, const char *const *state_names, int n_state, int *index,
                      zs_error *err)
{
    if (!same_dims(&c->model, dims) || c->numel != numel)
        return zs_fail(err, "checkpoint of another model (vocab %d, seq %d, channels %d, layers %d, heads %d; %zu "
                            "parameters), the case has vocab %d, seq %d, channels %d, layers %d, heads %d; %zu",
                       c->model.vocab, c->model.seq, c->model.channels, c->model.layers, c->model.heads, c->numel,
                       dims->vocab, dims->seq, dims->channels, dims->layers, dims->heads, numel);
    if (c->seed != seed)
        return zs_fail(err, "checkpoint seed %llu, the case's is %llu: the data stream is a function of (seed, step), "
                            "so the run would not continue the saved one",
                       (unsigned long long)c->seed, (unsigned long long)seed);
    if (strcmp(c->precision, precision))
        return zs_fail(err, "checkpoint precision %s, the config's is %s: zerospec resumes in the same precision",
                       c->precision, precision);
    if (c->n_state != n_state)
        return zs_fail(err, "checkpoint has %d optimizer state(s), the config's optimizer needs %d", c->n_state,
                       n_state);
    for (int k = 0; k < n_state; k++) {
        index[k] = -1;
        for (int j = 0; j < c->n_state; j++)
            if (!strcmp(c->state_names[j], state_names[k]))
                index[k] = j;
        if (index[k] < 0)
            return zs_fail(err, "checkpoint has no optimizer state \"%s\", which the config's optimizer needs",
                           state_names[k]);
    }
    return 0;
}

void zs_ckpt_remove(const char *dir)
{
    char name[32];
    for (int r = 0; r <= ZS_CKPT_MAX_WORLD; r++) {
        if (r < ZS_CKPT_MAX_WORLD)
            snprintf(name, sizeof name, "rank%d.safetensors", r);
        else
            snprintf(name, sizeof name, "%s", MANIFEST);
        char *path = path_join(dir, name);
        if (path)
            remove(path);
        free(path);
    }
    rmdir(dir);
}

/* ------------------------------------------------------------------------------------------------
 * Reading and validation. Messages name "<dir>/manifest.json" or the shard file and the rule. */

typedef struct manifest_reader {
    const cJSON *root;
    const char *source;   /* "<dir>/manifest.json" */
    zs_error *err;
} manifest_reader;

static const cJSON *field(const manifest_reader *m, const cJSON *obj, const char *key, const char *path)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        zs_fail(m->err, "%s: missing key \"%s\"", m->source, path);
    return v;
}

static int read_int(const manifest_reader *m, const cJSON *obj, const char *key, const char *path, int64_t lo,
                    int64_t hi, int64_t *out)
{
    const cJSON *v = field(m, obj, key, path);
    if (!v)
        return -1;
    return zs_json_int(v, path, lo, hi, out, m->err) ? zs_error_prefix(m->err, "%s", m->source) : 0;
}

static int read_string(const manifest_reader *m, const cJSON *obj, const char *key, char *dst, size_t cap)
{
    const cJSON *v = field(m, obj, key, key);
    const char *s;
    if (!v)
        return -1;
    if (zs_json_string(v, key, &s, m->err))
        return zs_error_prefix(m->err, "%s", m->source);
    if (strlen(s) >= cap)
        return zs_fail(m->err, "%s: \"%s\" is longer than %zu characters", m->source, key, cap - 1);
    snprintf(dst, cap, "%s", s);
    return 0;
}

static int read_header(const manifest_reader *m, zs_checkpoint *c)
{
    const cJSON *root = m->root;
    char format[64], seed[32];
    int64_t version, x[8];
    if (read_string(m, root, "format", format, sizeof format))
        return -1;
    if (strcmp(format, ZS_CKPT_FORMAT))
        return zs_fail(m->err, "%s: format is \"%s\", not \"%s\"", m->source, format, ZS_CKPT_FORMAT);
    if (read_int(m, root, "format_version", "format_version", 1, INT64_MAX, &version))
        return -1;
    if (version != ZS_CKPT_FORMAT_VERSION)
        return zs_fail(m->err, "%s: format_version %" PRId64 " is not one this build reads (%d)", m->source,
                       version, ZS_CKPT_FORMAT_VERSION);
    if (read_string(m, root, "generator", c->generator, sizeof c->generator) ||
        read_string(m, root, "case", c->case_name, sizeof c->case_name) ||
        read_string(m, root, "seed", seed, sizeof seed) ||
        read_string(m, root, "precision", c->precision, sizeof c->precision))
        return -1;
    char *end;
    errno = 0;
    c->seed = strtoull(seed, &end, 10);
    if (errno || *end || end == seed)
        return zs_fail(m->err, "%s: seed \"%s\" is not an unsigned 64-bit integer", m->source, seed);
    if (strcmp(c->precision, "fp32") && strcmp(c->precision, "fp16") && strcmp(c->precision, "bf16"))
        return zs_fail(m->err, "%s: precision \"%s\" is not fp32, fp16 or bf16", m->source, c->precision);
    const cJSON *model = field(m, root, "model", "model");
    if (!model || read_int(m, model, "vocab", "model.vocab", 1, INT32_MAX, &x[0]) ||
        read_int(m, model, "seq", "model.seq", 1, INT32_MAX, &x[1]) ||
        read_int(m, model, "channels", "model.channels", 1, INT32_MAX, &x[2]) ||
        read_int(m, model, "layers", "model.layers", 1, INT32_MAX, &x[3]) ||
        read_int(m, model, "heads", "model.heads", 1, INT32_MAX, &x[4]))
        return -1;
    c->model = (zs_model_dims){(int)x[0], (int)x[1], (int)x[2], (int)x[3], (int)x[4]};
    if (read_int(m, root, "world_size", "world_size", 1, ZS_CKPT_MAX_WORLD, &x[0]) ||
        read_int(m, root, "stage", "stage", 0, 3, &x[1]) ||
        read_int(m, root, "numel", "numel", 1, INT64_MAX, &x[2]) ||
        read_int(m, root, "partition_length", "partition_length", 1, INT64_MAX, &x[3]) ||
        read_int(m, root, "global_steps", "global_steps", 0, INT64_MAX, &c->global_steps) ||
        read_int(m, root, "applied_steps", "applied_steps", 0, INT64_MAX, &c->applied_steps) ||
        read_int(m, root, "skipped_steps", "skipped_steps", 0, INT64_MAX, &c->skipped_steps))
        return -1;
    c->world = (int)x[0];
    c->stage = (int)x[1];
    c->numel = (size_t)x[2];
    c->part_len = (size_t)x[3];
    if (c->applied_steps + c->skipped_steps != c->global_steps)
        return zs_fail(m->err, "%s: applied_steps %" PRId64 " + skipped_steps %" PRId64 " != global_steps %" PRId64,
                       m->source, c->applied_steps, c->skipped_steps, c->global_steps);
    if ((uint64_t)c->part_len * (uint64_t)c->world < (uint64_t)c->numel)
        return zs_fail(m->err, "%s: %d partitions of %zu elements cannot hold %zu parameters", m->source, c->world,
                       c->part_len, c->numel);
    const cJSON *sc = field(m, root, "loss_scaler", "loss_scaler");
    const cJSON *scale = sc ? field(m, sc, "cur_scale", "loss_scaler.cur_scale") : NULL;
    if (!scale || zs_json_number(scale, "loss_scaler.cur_scale", &c->scaler.cur_scale, m->err))
        return scale ? zs_error_prefix(m->err, "%s", m->source) : -1;
    if (!(c->scaler.cur_scale > 0))
        return zs_fail(m->err, "%s: loss_scaler.cur_scale must be positive, got %g", m->source, c->scaler.cur_scale);
    if (read_int(m, sc, "cur_iter", "loss_scaler.cur_iter", 0, INT64_MAX, &c->scaler.cur_iter) ||
        read_int(m, sc, "last_overflow_iter", "loss_scaler.last_overflow_iter", -1, INT64_MAX,
                 &c->scaler.last_overflow_iter) ||
        read_int(m, sc, "cur_hysteresis", "loss_scaler.cur_hysteresis", INT64_MIN, INT64_MAX,
                 &c->scaler.cur_hysteresis))
        return -1;
    const cJSON *names = field(m, root, "optimizer_states", "optimizer_states");
    if (!names)
        return -1;
    if (!cJSON_IsArray(names) || cJSON_GetArraySize(names) > ZS_CKPT_MAX_STATE)
        return zs_fail(m->err, "%s: optimizer_states must be an array of at most %d names", m->source,
                       ZS_CKPT_MAX_STATE);
    const cJSON *n;
    cJSON_ArrayForEach(n, names) {
        if (!cJSON_IsString(n) || !n->valuestring[0] || strlen(n->valuestring) >= sizeof c->state_names[0] ||
            !strcmp(n->valuestring, "master"))
            return zs_fail(m->err, "%s: optimizer_states[%d] must be a short name other than \"master\"", m->source,
                           c->n_state);
        snprintf(c->state_names[c->n_state++], sizeof c->state_names[0], "%s", n->valuestring);
    }
    const cJSON *cfg = field(m, root, "config", "config");
    if (!cfg || !cJSON_IsObject(cfg))
        return cfg ? zs_fail(m->err, "%s: config must be an object", m->source) : -1;
    c->config_json = cJSON_PrintUnformatted(cfg);
    return c->config_json ? 0 : zs_fail(m->err, "out of memory");
}

static int meta_equals(const zs_st_file *f, const char *key, long long want)
{
    const char *v = zs_st_meta(f, key);
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", want);
    return v && !strcmp(v, buf);
}

/* Copies tensor `name` of a shard into dst after checking its dtype, length and values. */
static int take_tensor(const zs_st_file *f, const char *file, const char *name, size_t len, float *dst,
                       zs_error *err)
{
    const zs_st_tensor *t = zs_st_find(f, name);
    if (!t)
        return zs_fail(err, "%s: tensor \"%s\" is missing", file, name);
    if (t->dtype != ZS_F32 || t->ndim != 1 || t->numel != len)
        return zs_fail(err, "%s: tensor \"%s\" must be F32 of shape [%zu] (the manifest's partition_length), got %s "
                            "with %zu elements", file, name, len, zs_dtype_name(t->dtype), t->numel);
    const float *v = t->data;
    for (size_t i = 0; i < len; i++)
        if (!isfinite(v[i]))
            return zs_fail(err, "%s: tensor \"%s\" holds a non-finite value (%g) at element %zu", file, name,
                           (double)v[i], i);
    memcpy(dst, v, len * sizeof(float));
    return 0;
}

/* The whole file in a malloc'ed buffer, or NULL with errno set. */
static char *read_whole_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    char *data = NULL;
    long n = fseek(fp, 0, SEEK_END) == 0 ? ftell(fp) : -1;
    if (n >= 0 && fseek(fp, 0, SEEK_SET) == 0 && (data = malloc(n ? (size_t)n : 1)) &&
        fread(data, 1, (size_t)n, fp) != (size_t)n) {
        free(data);
        data = NULL;
        errno = EIO;
    }
    fclose(fp);
    *len = (size_t)n;
    return data;
}

static int load_shard(const manifest_reader *m, const char *dir, const cJSON *entry, int r, zs_checkpoint *c)
{
    char file[256], want_sha[65], got_sha[65];
    int64_t rank, bytes;
    if (read_int(m, entry, "rank", "shards[].rank", 0, c->world - 1, &rank) ||
        read_string(m, entry, "file", file, sizeof file) || read_string(m, entry, "sha256", want_sha, sizeof want_sha) ||
        read_int(m, entry, "bytes", "shards[].bytes", 0, INT64_MAX, &bytes))
        return -1;
    if (rank != r)
        return zs_fail(m->err, "%s: shards[%d] is for rank %" PRId64 "; list one shard per rank, in rank order",
                       m->source, r, rank);
    if (strchr(file, '/'))
        return zs_fail(m->err, "%s: shard file \"%s\" must be a plain name inside the checkpoint directory",
                       m->source, file);
    char *path = path_join(dir, file);
    zs_error *err = m->err;
    size_t len = 0;
    char *data = path ? read_whole_file(path, &len) : NULL;
    int rc = -1;
    zs_st_file f = {0};
    if (!path)
        zs_fail(err, "out of memory");
    else if (!data)
        zs_fail(err, "%s: shard of rank %d is missing or unreadable: %s: %s", m->source, r, path, strerror(errno));
    else if ((int64_t)len != bytes)
        zs_fail(err, "%s: %zu bytes, the manifest says %" PRId64 ": the shard is truncated or from another checkpoint",
                path, len, bytes);
    else if (sha256_hex(data, len, got_sha, err))
        ;
    else if (strcmp(got_sha, want_sha))
        zs_fail(err, "%s: sha256 %s does not match the manifest's %s: the shard was modified or belongs to "
                     "another checkpoint", path, got_sha, want_sha);
    else if (zs_st_read_memory(data, len, path, &f, err))
        ;
    else if (!meta_equals(&f, "rank", r) || !meta_equals(&f, "world_size", c->world) ||
             !meta_equals(&f, "global_steps", c->global_steps))
        zs_fail(err, "%s: shard metadata (rank, world_size, global_steps) does not match the manifest "
                     "(rank %d, world_size %d, global_steps %" PRId64 ")", path, r, c->world, c->global_steps);
    else {
        rc = take_tensor(&f, path, "master", c->part_len, c->master[r], err);
        for (int s = 0; !rc && s < c->n_state; s++)
            rc = take_tensor(&f, path, c->state_names[s], c->part_len, c->state[s][r], err);
    }
    zs_st_file_free(&f);
    free(data);
    free(path);
    return rc;
}

/* The manifest's JSON, its header read into c (NULL, with c freed, on any error). */
static cJSON *parse_header(const char *text, const char *source, zs_checkpoint *c, zs_error *err)
{
    memset(c, 0, sizeof *c);
    cJSON *root = zs_json_parse(text, source, err);
    if (!root)
        return NULL;
    manifest_reader m = {root, source, err};
    if (cJSON_IsObject(root) ? read_header(&m, c) : zs_fail(err, "%s: must be a JSON object", source)) {
        cJSON_Delete(root);
        zs_ckpt_free(c);
        return NULL;
    }
    return root;
}

int zs_ckpt_parse_manifest(const char *text, const char *source, zs_checkpoint *c, zs_error *err)
{
    cJSON *root = parse_header(text, source, c, err);
    cJSON_Delete(root);
    return root ? 0 : -1;
}

int zs_ckpt_load(const char *dir, zs_checkpoint *c, zs_error *err)
{
    memset(c, 0, sizeof *c);
    char *source = path_join(dir, MANIFEST);
    if (!source)
        return zs_fail(err, "out of memory");
    struct stat st;
    int rc = -1;
    char *text = NULL;
    cJSON *root = NULL;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        zs_fail(err, "%s: not a checkpoint directory (%s)", dir, stat(dir, &st) ? strerror(errno) : "not a directory");
    else if (stat(source, &st) != 0)
        zs_fail(err, "%s: not a zerospec checkpoint: no %s (an interrupted save writes it last)", dir, MANIFEST);
    else if ((text = zs_json_read_file(source, "checkpoint manifest", err)) &&
             (root = parse_header(text, source, c, err)) && !zs_ckpt_alloc(c, err)) {
        manifest_reader m = {root, source, err};   /* the header is read; now the shards */
        const cJSON *shards = field(&m, root, "shards", "shards");
        if (shards && (!cJSON_IsArray(shards) || cJSON_GetArraySize(shards) != c->world))
            zs_fail(err, "%s: \"shards\" lists %d file(s) for world_size %d: every rank needs exactly one", source,
                    cJSON_IsArray(shards) ? cJSON_GetArraySize(shards) : -1, c->world);
        else if (shards) {
            rc = 0;
            for (int r = 0; !rc && r < c->world; r++)
                rc = load_shard(&m, dir, cJSON_GetArrayItem(shards, r), r, c);
        }
    }
    cJSON_Delete(root);
    free(text);
    free(source);
    if (rc)
        zs_ckpt_free(c);
    return rc;
}

/* ------------------------------------------------------------------------------------------------
 * From a golden trace (teacher forcing). */

static int trace_meta_int(const zs_st_file *t, const char *name, const char *key, long long lo, long long hi,
                          long long *out, zs_error *err)
{
    const char *v = zs_st_meta(t, key);
    char *end;
    errno = 0;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || errno || *end || end == v || x < lo || x > hi)
        return zs_fail(err, "%s: metadata \"%s\" must be an integer %lld..%lld", name, key, lo, hi);
    *out = x;
    return 0;
}

static int trace_scalar(const zs_st_file *t, const char *name, const char *tensor, zs_dtype dtype, double *out,
                        zs_error *err)
{
    const zs_st_tensor *x = zs_st_find(t, tensor);
    if (!x || x->dtype != dtype || x->numel != 1)
        return zs_fail(err, "%s: needs the %s scalar \"%s\"", name, zs_dtype_name(dtype), tensor);
    *out = dtype == ZS_U8 ? (double)*(const uint8_t *)x->data
         : dtype == ZS_F64 ? *(const double *)x->data : (double)*(const float *)x->data;
    return 0;
}

static int trace_run_description(const zs_st_file *t, const char *name, zs_checkpoint *c, zs_error *err)
{
    long long world = 0, stage = 0;
    const char *s;
    if (trace_meta_int(t, name, "world_size", 1, ZS_CKPT_MAX_WORLD, &world, err) ||
        trace_meta_int(t, name, "stage", 0, 3, &stage, err))
        return -1;
    c->world = (int)world;
    c->stage = (int)stage;
    snprintf(c->generator, sizeof c->generator, "%s", (s = zs_st_meta(t, "generator")) ? s : "?");
    snprintf(c->case_name, sizeof c->case_name, "%s", (s = zs_st_meta(t, "case")) ? s : "?");
    snprintf(c->precision, sizeof c->precision, "%s", (s = zs_st_meta(t, "precision")) ? s : "?");
    const char *seed = zs_st_meta(t, "seed"), *model = zs_st_meta(t, "model");
    cJSON *dims = model ? cJSON_Parse(model) : NULL;
    const char *keys[5] = {"vocab", "seq", "channels", "layers", "heads"};
    int v[5] = {0};
    for (int i = 0; dims && i < 5; i++) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(dims, keys[i]);
        v[i] = cJSON_IsNumber(d) ? d->valueint : 0;
    }
    cJSON_Delete(dims);
    if (!seed || !v[0] || !v[1] || !v[2] || !v[3] || !v[4])
        return zs_fail(err, "%s: metadata \"seed\" and \"model\" (vocab, seq, channels, layers, heads) are required",
                       name);
    c->seed = strtoull(seed, NULL, 10);
    c->model = (zs_model_dims){v[0], v[1], v[2], v[3], v[4]};
    const char *cfg = zs_st_meta(t, "config");
    c->config_json = malloc(strlen(cfg ? cfg : "{}") + 1);
    if (!c->config_json)
        return zs_fail(err, "out of memory");
    strcpy(c->config_json, cfg ? cfg : "{}");
    for (size_t i = 0; i < t->count; i++)
        if (!strncmp(t->tensors[i].name, "init/param/", 11))
            c->numel += t->tensors[i].numel;
    return 0;
}

int zs_trace_optimizer_is(const zs_st_file *t, const char *type)
{
    cJSON *cfg = cJSON_Parse(zs_st_meta(t, "config") ? zs_st_meta(t, "config") : "{}");
    const cJSON *opt = cJSON_GetObjectItemCaseSensitive(cfg, "optimizer");
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(opt, "type");
    int is = cJSON_IsString(ty) && !strcasecmp(ty->valuestring, type);
    cJSON_Delete(cfg);
    return is;
}

int zs_ckpt_trace_restartable(const zs_st_file *t, zs_error *why)
{
    if (zs_trace_optimizer_is(t, "muon"))
        return zs_fail(why, "Muon's two param groups reorder the flat layout (docs/spec/optimizers.md §8b), which "
                            "the checkpoint format does not describe"), 0;
    const zs_st_tensor *m0 = zs_st_find(t, "step1/rank0/master");
    if (!m0)
        return zs_fail(why, "the trace has no step 1"), 0;
    int n = 0;
    for (size_t i = 0; i < t->count; i++) {
        const char *tn = t->tensors[i].name;
        if (strncmp(tn, "step1/rank0/", 12) || !strcmp(tn + 12, "loss") || !strcmp(tn + 12, "grad") ||
            !strcmp(tn + 12, "master"))
            continue;
        if (t->tensors[i].numel != m0->numel)
            return zs_fail(why, "per-rank state \"%s\" is not partition-shaped (%zu elements, the partition has "
                                "%zu): a zerospec checkpoint cannot hold it", tn + 12, t->tensors[i].numel, m0->numel), 0;
        if (++n > ZS_CKPT_MAX_STATE)
            return zs_fail(why, "more than %d per-rank optimizer states", ZS_CKPT_MAX_STATE), 0;
    }
    return 1;
}

/* The optimizer-state names recorded for rank 0 at step k: every step<k>/rank0/<x> but loss, grad and
 * master. */
static int trace_state_names(const zs_st_file *t, const char *name, int64_t k, zs_checkpoint *c, zs_error *err)
{
    char prefix[64];
    int n = snprintf(prefix, sizeof prefix, "step%" PRId64 "/rank0/", k);
    for (size_t i = 0; i < t->count; i++) {
        const char *tn = t->tensors[i].name;
        if (strncmp(tn, prefix, (size_t)n) || !strcmp(tn + n, "loss") || !strcmp(tn + n, "grad") ||
            !strcmp(tn + n, "master"))
            continue;
        if (c->n_state == ZS_CKPT_MAX_STATE || strlen(tn + n) >= sizeof c->state_names[0])
            return zs_fail(err, "%s: more than %d optimizer states (or a name too long) under %s", name,
                           ZS_CKPT_MAX_STATE, prefix);
        snprintf(c->state_names[c->n_state++], sizeof c->state_names[0], "%s", tn + n);
    }
    return 0;
}

static int trace_partition(const zs_st_file *t, const char *name, int64_t k, int r, const char *what, float *dst,
                           size_t len, zs_error *err)
{
    char tensor[128];
    snprintf(tensor, sizeof tensor, "step%" PRId64 "/rank%d/%s", k, r, what);
    const zs_st_tensor *x = zs_st_find(t, tensor);
    if (!x || x->dtype != ZS_F32 || x->numel != len)
        return zs_fail(err, "%s: needs F32 tensor \"%s\" of %zu elements", name, tensor, len);
    memcpy(dst, x->data, len * sizeof(float));
    return 0;
}

int zs_ckpt_from_trace(const zs_st_file *t, const char *name, int64_t k, zs_checkpoint *c, zs_error *err)
{
    memset(c, 0, sizeof *c);
    char tensor[128];
    double v = 0;
    int rc = trace_run_description(t, name, c, err);
    if (!rc && k < 1)
        rc = zs_fail(err, "%s: teacher forcing starts after a step (k >= 1), got %" PRId64, name, k);
    snprintf(tensor, sizeof tensor, "step%" PRId64 "/rank0/master", k);
    const zs_st_tensor *m0 = rc ? NULL : zs_st_find(t, tensor);
    if (!rc && !m0)
        rc = zs_fail(err, "%s: has no step %" PRId64 " (tensor \"%s\")", name, k, tensor);
    if (!rc) {
        c->part_len = m0->numel;
        rc = trace_state_names(t, name, k, c, err);
    }
    rc = rc ? rc : zs_ckpt_alloc(c, err);
    for (int r = 0; !rc && r < c->world; r++) {
        rc = trace_partition(t, name, k, r, "master", c->master[r], c->part_len, err);
        for (int s = 0; !rc && s < c->n_state; s++)
            rc = trace_partition(t, name, k, r, c->state_names[s], c->state[s][r], c->part_len, err);
    }
    for (int64_t j = 1; !rc && j <= k; j++) {
        snprintf(tensor, sizeof tensor, "step%" PRId64 "/skipped", j);
        rc = trace_scalar(t, name, tensor, ZS_U8, &v, err);
        c->skipped_steps += !rc && v != 0;
    }
    c->global_steps = k;
    c->applied_steps = k - c->skipped_steps;
    snprintf(tensor, sizeof tensor, "step%" PRId64 "/loss_scaler", k);
    const zs_st_tensor *ls = zs_st_find(t, tensor);
    if (!rc && ls) {   /* fp16: the scaler's whole state after step k */
        if (ls->dtype != ZS_F64 || ls->numel != 4)
            rc = zs_fail(err, "%s: \"%s\" must be F64 [4]", name, tensor);
        else {
            const double *d = ls->data;
            c->scaler = (zs_ckpt_scaler){d[0], (int64_t)d[1], (int64_t)d[2], (int64_t)d[3]};
        }
    } else if (!rc && !strcmp(c->precision, "fp16")) {
        rc = zs_fail(err, "%s: an fp16 trace needs \"%s\" to restart after step %" PRId64 " (traces of spec 0.2.0 "
                          "and later record it)", name, tensor, k);
    } else if (!rc) {   /* fp32/bf16: a static scale, the one every step used */
        snprintf(tensor, sizeof tensor, "step%" PRId64 "/loss_scale", k);
        rc = trace_scalar(t, name, tensor, ZS_F64, &v, err);
        c->scaler = (zs_ckpt_scaler){v, 0, -1, 0};
    }
    if (rc)
        zs_ckpt_free(c);
    return rc;
}
