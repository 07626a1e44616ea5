/* libFuzzer harness: the DeepSpeed config parser must answer any byte string with success or one
 * error message — never a crash, a leak or undefined behaviour (tools/fuzz/run.sh). */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_text.h"
#include "zerospec/ds_auto.h"
#include "zerospec/ds_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    zs_ds_config cfg;
    zs_error err;
    if (zs_ds_config_parse(text, "<fuzz>", &cfg, &err) == 0) {
        zs_batch b;
        for (int w = 1; w <= 8; w++)
            zs_ds_config_resolve_batch(&cfg, w, &b, &err);
        zs_ds_config_free(&cfg);
    }
    const char *sets[] = {"learning_rate=3e-4", "per_device_train_batch_size=4", "world_size=2", "warmup_steps=10"};
    if (zs_ds_config_parse_resolved(text, "<fuzz>", sets, 4, &cfg, &err) == 0)
        zs_ds_config_free(&cfg);
    free(text);
    return 0;
}
