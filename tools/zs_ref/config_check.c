/* zs-ref config check FILE [--set key=value ...]: parse a DeepSpeed config the way zs-ref would and
 * report every key: used (modelled by zerospec), accepted (valid, does not change the numerics),
 * ignored (DeepSpeed itself ignores it here), unknown (not a DeepSpeed key at this place). Exits
 * non-zero only for errors (invalid JSON, invalid values, unsupported combinations). */
#include "zs_ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zerospec/case.h"
#include "zerospec/ds_auto.h"
#include "zerospec/ds_config.h"

static const char check_usage[] =
    "usage: zs-ref config check FILE [--set key=value ...]\n"
    "Reports each key of a DeepSpeed JSON config as used, accepted (not modelled), ignored (DeepSpeed\n"
    "ignores it) or unknown; --set resolves Hugging Face \"auto\" values from TrainingArguments names\n"
    "(learning_rate, per_device_train_batch_size, world_size, ...; docs/spec/config.md).\n"
    "Exit status: 0 when the config is valid (warnings allowed), 2 on any error.\n";

int zs_ref_config_check(int argc, char **argv)
{
    const char *path = NULL;
    const char *sets[64];
    int n_sets = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(check_usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--set") && i + 1 < argc && n_sets < 64) {
            sets[n_sets++] = argv[++i];
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            fprintf(stderr, "zs-ref: error: config check: unexpected argument '%s'\n%s", argv[i], check_usage);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "zs-ref: error: config check needs a FILE\n%s", check_usage);
        return 2;
    }
    int world = 0;   /* the batch triple is checked at the world size given with --set, else 1 */
    for (int i = 0; i < n_sets; i++)
        if (!strncmp(sets[i], "world_size=", 11))
            world = atoi(sets[i] + 11);
    zs_case kase;
    zs_error err = {{0}};
    if (zs_case_from_config_file_resolved(path, sets, n_sets, world, &kase, &err)) {
        fprintf(stderr, "zs-ref: error: %s\n", err.msg);
        return 2;
    }
    const zs_ds_config *c = &kase.config;
    int counts[ZS_KEY_INVALID + 1] = {0};
    printf("%-56s %-9s %s\n", "key", "status", "note");
    for (size_t i = 0; i < c->report.count; i++) {
        const zs_key_entry *k = &c->report.entries[i];
        counts[k->status]++;
        printf("%-56s %-9s %s\n", k->path, zs_key_status_name(k->status), k->note);
    }
    printf("%s: valid: %d used, %d accepted (not modelled), %d ignored by DeepSpeed, %d unknown\n", path,
           counts[ZS_KEY_USED], counts[ZS_KEY_ACCEPTED], counts[ZS_KEY_IGNORED], counts[ZS_KEY_UNKNOWN]);
    if (n_sets)
        printf("resolved config: %s\n", c->canonical_json);
    zs_case_free(&kase);
    return 0;
}
