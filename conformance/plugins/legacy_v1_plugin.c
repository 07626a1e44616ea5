/* Test-only: a plugin as built against the first release of ABI v1, before the layer entries. Its
 * struct_size stops at last_error, so zs-check must not read the later entries — they are filled
 * here with one that fails, and the layer cases must still be reported as skipped, not failed. */
#include <stddef.h>

#include "zerospec/plugin.h"

static int must_not_be_called(const zs_plugin_layer *args)
{
    (void)args;
    return ZS_PLUGIN_ERROR;
}

static const zs_plugin plugin = {
    .abi_version = ZS_PLUGIN_ABI_VERSION,
    .struct_size = ZS_PLUGIN_V1_MIN_SIZE,
    .name = "legacy-v1",
    .layer_forward = must_not_be_called,
    .layer_backward = must_not_be_called,
};

const zs_plugin *zerospec_plugin_v1(void)
{
    return &plugin;
}
