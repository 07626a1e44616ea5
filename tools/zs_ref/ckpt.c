/* `zs-ref ckpt`: inspect a checkpoint, or consolidate its ZeRO shards into one safetensors file of
 * full fp32 tensors (DeepSpeed's zero_to_fp32.py, for zerospec checkpoints). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_checkpoint.h"
#include "gpt2.h"
#include "trace.h"
#include "zs_ref.h"

static const char usage[] =
    "usage: zs-ref ckpt info DIR\n"
    "       zs-ref ckpt consolidate DIR --out FILE\n"
    "\n"
    "info         validates the checkpoint (manifest, every shard's size, sha256, metadata and values)\n"
    "             and prints what it holds\n"
    "consolidate  writes FILE (safetensors): every parameter as a full fp32 tensor under its Hugging Face\n"
    "             GPT2Model name (load with safetensors.torch.load_file + GPT2Model.load_state_dict), and\n"
    "             each optimizer state as optimizer/<state>/<name>; step counters and the loss scale\n"
    "             go to the metadata\n"
    "\n"
    "Exit status: 0 success, 2 bad usage or a checkpoint that fails validation.\n";

static void print_info(const char *dir, const zs_checkpoint *c)
{
    printf("%s: zerospec checkpoint of case %s after step %lld (%lld applied, %lld skipped), written by %s\n", dir,
           c->case_name, (long long)c->global_steps, (long long)c->applied_steps, (long long)c->skipped_steps,
           c->generator);
    printf("  model vocab %d seq %d channels %d layers %d heads %d (%zu parameters), seed %llu, %s\n",
           c->model.vocab, c->model.seq, c->model.channels, c->model.layers, c->model.heads, c->numel,
           (unsigned long long)c->seed, c->precision);
    printf("  ZeRO stage %d, %d rank(s), partitions of %zu elements; optimizer states:", c->stage, c->world,
           c->part_len);
    for (int s = 0; s < c->n_state; s++)
        printf(" %s", c->state_names[s]);
    printf("%s\n", c->n_state ? "" : " none");
    printf("  loss scaler: scale %g, iter %lld, last overflow %lld, hysteresis %lld\n", c->scaler.cur_scale,
           (long long)c->scaler.cur_iter, (long long)c->scaler.last_overflow_iter,
           (long long)c->scaler.cur_hysteresis);
}

static int consolidate(const zs_checkpoint *c, const char *out, zs_error *err)
{
    zs_gpt2 model;
    if (zs_gpt2_init(&model, c->model, err))
        return -1;
    float *full = malloc((size_t)(1 + c->n_state) * model.numel * sizeof(float));
    float *states[ZS_CKPT_MAX_STATE] = {0};
    zs_st_writer *w = zs_st_writer_new();
    int rc = full && w ? 0 : zs_fail(err, "out of memory");
    for (int s = 0; !rc && s < c->n_state; s++)
        states[s] = full + (size_t)(1 + s) * model.numel;
    rc = rc ? rc : zs_checkpoint_consolidate(c, &model, full, states, err);
    char scale[32], prefix[64];
    snprintf(scale, sizeof scale, "%.17g", c->scaler.cur_scale);
    rc = rc ? rc : zs_st_set_meta(w, "format", "zerospec.consolidated", err);
    rc = rc ? rc : zs_st_set_meta(w, "spec_version", ZS_SPEC_VERSION, err);
    rc = rc ? rc : zs_st_set_meta(w, "case", c->case_name, err);
    rc = rc ? rc : zs_st_set_meta(w, "precision", c->precision, err);
    rc = rc ? rc : zs_st_set_meta(w, "config", c->config_json, err);
    rc = rc ? rc : zs_st_set_meta(w, "loss_scale", scale, err);
    rc = rc ? rc : zs_st_set_meta_int(w, "global_steps", c->global_steps, err);
    rc = rc ? rc : zs_st_set_meta_int(w, "applied_steps", c->applied_steps, err);
    rc = rc ? rc : zs_st_add_model_params(w, &model, "", full, err);
    for (int s = 0; !rc && s < c->n_state; s++) {
        snprintf(prefix, sizeof prefix, "optimizer/%s/", c->state_names[s]);
        rc = zs_st_add_model_params(w, &model, prefix, states[s], err);
    }
    rc = rc ? rc : zs_st_write_file(w, out, err);
    zs_st_writer_free(w);
    free(full);
    zs_gpt2_free(&model);
    return rc;
}

int zs_ref_ckpt(int argc, char **argv)
{
    if (argc >= 1 && (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"))) {
        fputs(usage, stdout);
        return 0;
    }
    int is_info = argc == 2 && !strcmp(argv[0], "info");
    int is_consolidate = argc == 4 && !strcmp(argv[0], "consolidate") && !strcmp(argv[2], "--out");
    if (!is_info && !is_consolidate) {
        fprintf(stderr, "zs-ref: error: expected 'ckpt info DIR' or 'ckpt consolidate DIR --out FILE' "
                        "(see zs-ref ckpt --help)\n");
        return 2;
    }
    zs_checkpoint c;
    zs_error err = {{0}};
    int rc = zs_ckpt_load(argv[1], &c, &err);
    if (!rc && is_info)
        print_info(argv[1], &c);
    if (!rc && is_consolidate && !(rc = consolidate(&c, argv[3], &err)))
        printf("consolidated %zu parameters of %s (step %lld) into %s\n", c.numel, argv[1],
               (long long)c.global_steps, argv[3]);
    if (rc)
        fprintf(stderr, "zs-ref: error: %s\n", err.msg);
    zs_ckpt_free(&c);
    return rc ? 2 : 0;
}
