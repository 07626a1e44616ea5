/* Causal multi-head self-attention. qkv[B,T,3C] holds q | k | v; head h uses channels
 * [h*hs, (h+1)*hs) of each (hs = C/NH). att[B,NH,T,T] keeps the softmax for the backward pass
 * (entries above the diagonal are 0). out[B,T,C] = att @ v per head.
 * Simple kernels, one thread per output row or element, each summing in the reference's order;
 * fine for the small models of the conformance cases (a flash-style kernel can replace them). */
#ifndef ZS_FAST_KERNELS_ATTENTION_CUH
#define ZS_FAST_KERNELS_ATTENTION_CUH

#include "common.cuh"

#define QKV(b, t, part, h, i) qkv[(((size_t)(b) * T + (t)) * 3 + (part)) * C + (size_t)(h) * hs + (i)]
#define ROW(buf, b, h, t) ((buf) + (((size_t)(b) * NH + (h)) * T + (t)) * T)

/* One thread per (b, h, t): scores q.k * scale for t2 <= t, softmax with the max subtracted, then the
 * weighted sum of v. */
__global__ static void attention_forward_kernel(float *out, float *att, const float *qkv, int B, int T, int C,
                                                int NH, zsf_dtype dt)
{
    size_t row = zsf_tid();   /* over B*NH*T, ordered (b, h, t) */
    if (row >= (size_t)B * NH * T)
        return;
    int t = (int)(row % T), h = (int)((row / T) % NH), b = (int)(row / ((size_t)T * NH));
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    float *a = ROW(att, b, h, t);
    float maxv = 0.0f;
    for (int t2 = 0; t2 <= t; t2++) {
        float acc = 0.0f;
        for (int i = 0; i < hs; i++)
            acc = acc + QKV(b, t, 0, h, i) * QKV(b, t2, 1, h, i);
        a[t2] = zsf_round(dt, acc * scale);   /* the scores are a rounding point */
        maxv = t2 == 0 || a[t2] > maxv ? a[t2] : maxv;
    }
    float sum = 0.0f;
    for (int t2 = 0; t2 <= t; t2++) {
        a[t2] = expf(a[t2] - maxv);
        sum = sum + a[t2];
    }
    float inv = 1.0f / sum;
    for (int t2 = 0; t2 < T; t2++)
        a[t2] = t2 <= t ? zsf_round(dt, a[t2] * inv) : 0.0f;
    float *o = out + ((size_t)b * T + t) * C + (size_t)h * hs;
    for (int i = 0; i < hs; i++) {
        float acc = 0.0f;
        for (int t2 = 0; t2 <= t; t2++)
            acc = acc + a[t2] * QKV(b, t2, 2, h, i);
        o[i] = zsf_round(dt, acc);
    }
}

/* datt[b,h,t,t2] = v[t2] . dout[t] for t2 <= t (0 above). One thread per (b, h, t). */
__global__ static void attention_datt_kernel(float *datt, const float *dout, const float *qkv, int B, int T, int C,
                                             int NH)
{
    size_t row = zsf_tid();
    if (row >= (size_t)B * NH * T)
        return;
    int t = (int)(row % T), h = (int)((row / T) % NH), b = (int)(row / ((size_t)T * NH));
    int hs = C / NH;
    const float *d = dout + ((size_t)b * T + t) * C + (size_t)h * hs;
    float *da = ROW(datt, b, h, t);
    for (int t2 = 0; t2 < T; t2++) {
        float acc = 0.0f;
        if (t2 <= t)
            for (int i = 0; i < hs; i++)
                acc = acc + QKV(b, t2, 2, h, i) * d[i];
        da[t2] = acc;
    }
}

/* dv[b,t2,h,i] = sum over t >= t2 (ascending) of att[t,t2] * dout[t,i]. One thread per (b, t2, h, i). */
__global__ static void attention_dv_kernel(float *dqkv, const float *dout, const float *att, int B, int T, int C,
                                           int NH)
{
    size_t idx = zsf_tid();   /* over B*T*C, ordered (b, t2, h*hs + i) */
    if (idx >= (size_t)B * T * C)
        return;
    int hs = C / NH;
    int c = (int)(idx % C), t2 = (int)((idx / C) % T), b = (int)(idx / ((size_t)C * T));
    int h = c / hs;
    float acc = 0.0f;
    for (int t = t2; t < T; t++)
        acc = acc + ROW(att, b, h, t)[t2] * dout[((size_t)b * T + t) * C + c];
    dqkv[(((size_t)b * T + t2) * 3 + 2) * C + c] = acc;
}

/* Softmax backward: dpreatt[t3] = att[t3] * (datt[t3] - sum_{t2<=t} att[t2] * datt[t2]). */
__global__ static void attention_softmax_backward_kernel(float *dpreatt, const float *datt, const float *att,
                                                         int B, int T, int NH)
{
    size_t row = zsf_tid();
    if (row >= (size_t)B * NH * T)
        return;
    int t = (int)(row % T);
    const float *a = att + row * T, *da = datt + row * T;
    float *dp = dpreatt + row * T;
    float dot = 0.0f;
    for (int t2 = 0; t2 <= t; t2++)
        dot = dot + a[t2] * da[t2];
    for (int t3 = 0; t3 < T; t3++)
        dp[t3] = t3 <= t ? a[t3] * (da[t3] - dot) : 0.0f;
}

/* dq[b,t,h,i] = sum_{t2<=t} k[t2,i] * (dpreatt[t,t2] * scale);
 * dk[b,t2,h,i] = sum_{t>=t2} q[t,i] * (dpreatt[t,t2] * scale). One thread per element of each. */
__global__ static void attention_dqk_kernel(float *dqkv, const float *dpreatt, const float *qkv, int B, int T, int C,
                                            int NH)
{
    size_t idx = zsf_tid();   /* over 2*B*T*C: first half dq, second half dk */
    size_t n = (size_t)B * T * C;
    if (idx >= 2 * n)
        return;
    int is_k = idx >= n;
    size_t e = is_k ? idx - n : idx;
    int hs = C / NH;
    int c = (int)(e % C), t = (int)((e / C) % T), b = (int)(e / ((size_t)C * T));
    int h = c / hs, i = c % hs;
    float scale = 1.0f / sqrtf((float)hs);
    float acc = 0.0f;
    if (!is_k) {
        for (int t2 = 0; t2 <= t; t2++)
            acc = acc + QKV(b, t2, 1, h, i) * (ROW(dpreatt, b, h, t)[t2] * scale);
        dqkv[(((size_t)b * T + t) * 3 + 0) * C + c] = acc;
    } else {   /* here t plays t2: the key position */
        for (int tq = t; tq < T; tq++)
            acc = acc + QKV(b, tq, 0, h, i) * (ROW(dpreatt, b, h, tq)[t] * scale);
        dqkv[(((size_t)b * T + t) * 3 + 1) * C + c] = acc;
    }
}

#undef QKV
#undef ROW

static void attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH, zsf_dtype dt,
                              cudaStream_t s)
{
    ZSF_LAUNCH(attention_forward_kernel, (size_t)B * NH * T, s, out, att, qkv, B, T, C, NH, dt);
}

/* dqkv[B,T,3C] (written) from dout[B,T,C]; datt, dpreatt: [B,NH,T,T] scratch. In fp16/bf16 datt,
 * dpreatt and the finished dqkv are rounding points. */
static void attention_backward(float *dqkv, float *datt, float *dpreatt, const float *dout, const float *att,
                               const float *qkv, int B, int T, int C, int NH, zsf_dtype dt, cudaStream_t s)
{
    const size_t natt = (size_t)B * NH * T * T;
    ZSF_LAUNCH(attention_datt_kernel, (size_t)B * NH * T, s, datt, dout, qkv, B, T, C, NH);
    round_inplace(datt, natt, dt, s);
    ZSF_LAUNCH(attention_dv_kernel, (size_t)B * T * C, s, dqkv, dout, att, B, T, C, NH);
    ZSF_LAUNCH(attention_softmax_backward_kernel, (size_t)B * NH * T, s, dpreatt, datt, att, B, T, NH);
    round_inplace(dpreatt, natt, dt, s);
    ZSF_LAUNCH(attention_dqk_kernel, 2 * (size_t)B * T * C, s, dqkv, dpreatt, qkv, B, T, C, NH);
    round_inplace(dqkv, 3 * (size_t)B * T * C, dt, s);
}

#endif
