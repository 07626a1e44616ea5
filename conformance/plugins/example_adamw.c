/* An example zerospec plugin: a plain CPU Adam/AdamW with DeepSpeed FusedAdam semantics, written
 * from docs/spec/optimizers.md alone (it shares no code with reference/). Kernel authors copy this
 * file, replace the loop with a call into their kernel (copying to and from the device if needed),
 * and run `zs-check plugin their_plugin.so`. Entries left NULL are reported as skipped.
 *
 * Build: cc -shared -fPIC -O2 -ffp-contract=off example_adamw.c -lm -o example_adamw.so
 * (-ffp-contract=off keeps a*b+c from being fused, so the result matches the golden values bit for
 * bit; a fused kernel is still within the suite's tolerance.) */
#include <math.h>
#include <string.h>

#include "zerospec/plugin.h"

/* FusedAdam (deepspeed/ops/adam/multi_tensor_adam.cu), per element, fp32 arithmetic:
 *   bc1 = 1 - beta1^t, bc2 = 1 - beta2^t        (1 when bias_correction is off)
 *   L2 mode: g += wd * p
 *   m = beta1 m + (1 - beta1) g ;  v = beta2 v + (1 - beta2) g^2
 *   denom = sqrt(v / bc2) + eps
 *   AdamW:  p -= lr * ((m / bc1) / denom + wd * p)      L2:  p -= lr * ((m / bc1) / denom) */
static int adam_step(const zs_plugin_optimizer_step *a)
{
    const zs_plugin_hparams *hp = a->hp;
    int adamw = !strcmp(a->optimizer, "AdamW") || hp->adam_w_mode;
    if ((strcmp(a->optimizer, "Adam") && strcmp(a->optimizer, "AdamW")) || hp->torch_adam || a->n_state != 2)
        return ZS_PLUGIN_UNSUPPORTED;   /* only FusedAdam semantics here */
    float lr = (float)hp->lr, b1 = (float)hp->beta1, b2 = (float)hp->beta2;
    float eps = (float)hp->eps, wd = (float)hp->weight_decay;
    float bc1 = 1.0f, bc2 = 1.0f;
    if (hp->bias_correction) {
        bc1 = (float)(1.0 - pow((double)b1, (double)a->step));
        bc2 = (float)(1.0 - pow((double)b2, (double)a->step));
    }
    float *m = a->state[0], *v = a->state[1];
    for (size_t i = 0; i < a->n; i++) {
        float p = a->param[i], g = a->grad[i];
        if (!adamw)
            g = g + wd * p;
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        float denom = sqrtf(v[i] / bc2) + eps;
        float update = (m[i] / bc1) / denom;
        if (adamw)
            update = update + wd * p;
        a->param[i] = p - lr * update;
    }
    return ZS_PLUGIN_OK;
}

static const zs_plugin plugin = {
    .abi_version = ZS_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(zs_plugin),
    .name = "example-cpu-adamw",
    .optimizer_step = adam_step,
};

const zs_plugin *zerospec_plugin_v1(void)
{
    return &plugin;
}
