/* An example zerospec plugin for layer kernels: plain CPU LayerNorm and GELU, forward and backward,
 * written from docs/spec/model.md alone (it shares no code with reference/). Kernel authors copy
 * this file, replace a loop with a call into their kernel (copying to and from the device if needed),
 * and run `zs-check plugin their_plugin.so`: each pass is compared with the exact result under the
 * layer tolerance of docs/conformance.md. Layers it does not implement return ZS_PLUGIN_UNSUPPORTED.
 *
 * Build: cc -shared -fPIC -O2 -Iconformance/include example_layernorm.c -lm -o example_layernorm.so
 * (unlike the optimizer cases, layer cases do not need bit-exact results: FMA contraction, another
 * summation order or another tanh are within the tolerance.) */
#include <math.h>
#include <string.h>

#include "zerospec/plugin.h"

static float *buffer(const zs_plugin_buffer *b, int n, const char *name)
{
    const zs_plugin_buffer *x = zs_plugin_buffer_find(b, n, name);
    return x ? (float *)x->data : NULL;
}

/* LayerNorm over the last axis of [rows, C]: y = (x - mu) / sqrt(var + 1e-5) * w + b, var biased. */
static int layernorm_forward(const zs_plugin_layer *a)
{
    const float *x = buffer(a->in, a->n_in, "inp"), *w = buffer(a->in, a->n_in, "weight"),
                *b = buffer(a->in, a->n_in, "bias");
    float *y = buffer(a->out, a->n_out, "out"), *mean = buffer(a->out, a->n_out, "mean"),
          *rstd = buffer(a->out, a->n_out, "rstd");
    if (!x || !w || !b || !y || !mean || !rstd)
        return ZS_PLUGIN_UNSUPPORTED;
    const int C = a->C;
    for (int r = 0; r < a->B * a->T; r++) {
        const float *xr = x + (size_t)r * C;
        float sum = 0.0f;
        for (int c = 0; c < C; c++)
            sum += xr[c];
        const float mu = sum / (float)C;
        float sq = 0.0f;
        for (int c = 0; c < C; c++)
            sq += (xr[c] - mu) * (xr[c] - mu);
        const float var = sq / (float)C;
        const float s = 1.0f / sqrtf(var + 1e-5f);
        for (int c = 0; c < C; c++)
            y[(size_t)r * C + c] = (xr[c] - mu) * s * w[c] + b[c];
        mean[r] = mu;
        rstd[r] = s;
    }
    return ZS_PLUGIN_OK;
}

/* With xhat = (x - mu) s and g = w * dy (per row):
 *   dx = s (g - mean(g) - xhat mean(g xhat)),  dw = sum over rows of xhat dy,  db = sum of dy. */
static int layernorm_backward(const zs_plugin_layer *a)
{
    const float *dy = buffer(a->in, a->n_in, "dout"), *x = buffer(a->in, a->n_in, "inp"),
                *w = buffer(a->in, a->n_in, "weight"), *mean = buffer(a->in, a->n_in, "mean"),
                *rstd = buffer(a->in, a->n_in, "rstd");
    float *dx = buffer(a->out, a->n_out, "dinp"), *dw = buffer(a->out, a->n_out, "dweight"),
          *db = buffer(a->out, a->n_out, "dbias");
    if (!dy || !x || !w || !mean || !rstd || !dx || !dw || !db)
        return ZS_PLUGIN_UNSUPPORTED;
    const int C = a->C;
    for (int r = 0; r < a->B * a->T; r++) {
        const float *xr = x + (size_t)r * C, *dyr = dy + (size_t)r * C;
        const float mu = mean[r], s = rstd[r];
        float g_mean = 0.0f, gx_mean = 0.0f;
        for (int c = 0; c < C; c++) {
            const float xhat = (xr[c] - mu) * s;
            g_mean += w[c] * dyr[c];
            gx_mean += w[c] * dyr[c] * xhat;
        }
        g_mean /= (float)C;
        gx_mean /= (float)C;
        for (int c = 0; c < C; c++) {
            const float xhat = (xr[c] - mu) * s;
            dx[(size_t)r * C + c] = s * (w[c] * dyr[c] - g_mean - xhat * gx_mean);
            dw[c] += xhat * dyr[c];
            db[c] += dyr[c];
        }
    }
    return ZS_PLUGIN_OK;
}

/* GELU, tanh form: y = x/2 (1 + tanh(k (x + 0.044715 x^3))), k = sqrt(2/pi). */
#define GELU_K 0.7978845608028654f
#define GELU_A 0.044715f

static int gelu_forward(const zs_plugin_layer *a)
{
    const float *x = buffer(a->in, a->n_in, "inp");
    float *y = buffer(a->out, a->n_out, "out");
    if (!x || !y)
        return ZS_PLUGIN_UNSUPPORTED;
    for (size_t i = 0; i < (size_t)a->B * a->T * a->C; i++) {
        const float u = GELU_K * (x[i] + GELU_A * x[i] * x[i] * x[i]);
        y[i] = 0.5f * x[i] * (1.0f + tanhf(u));
    }
    return ZS_PLUGIN_OK;
}

/* dy/dx = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) k (1 + 3 * 0.044715 x^2) */
static int gelu_backward(const zs_plugin_layer *a)
{
    const float *x = buffer(a->in, a->n_in, "inp"), *dy = buffer(a->in, a->n_in, "dout");
    float *dx = buffer(a->out, a->n_out, "dinp");
    if (!x || !dy || !dx)
        return ZS_PLUGIN_UNSUPPORTED;
    for (size_t i = 0; i < (size_t)a->B * a->T * a->C; i++) {
        const float u = GELU_K * (x[i] + GELU_A * x[i] * x[i] * x[i]);
        const float t = tanhf(u);
        const float du = GELU_K * (1.0f + 3.0f * GELU_A * x[i] * x[i]);
        dx[i] = dy[i] * (0.5f * (1.0f + t) + 0.5f * x[i] * (1.0f - t * t) * du);
    }
    return ZS_PLUGIN_OK;
}

static int layer_forward(const zs_plugin_layer *a)
{
    if (!strcmp(a->layer, "layernorm"))
        return layernorm_forward(a);
    if (!strcmp(a->layer, "gelu"))
        return gelu_forward(a);
    return ZS_PLUGIN_UNSUPPORTED;
}

static int layer_backward(const zs_plugin_layer *a)
{
    if (!strcmp(a->layer, "layernorm"))
        return layernorm_backward(a);
    if (!strcmp(a->layer, "gelu"))
        return gelu_backward(a);
    return ZS_PLUGIN_UNSUPPORTED;
}

static const zs_plugin plugin = {
    .abi_version = ZS_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(zs_plugin),
    .name = "example-cpu-layernorm-gelu",
    .layer_forward = layer_forward,
    .layer_backward = layer_backward,
};

const zs_plugin *zerospec_plugin_v1(void)
{
    return &plugin;
}
