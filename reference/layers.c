/* The reference model's layers. Compiled twice: as float (the reference) and, with
 * -DZS_LAYERS_F64=1, as double (for finite-difference gradient checks) — one copy of the code.
 * docs/spec/model.md states every formula and summation order used here. */
#include "layers.h"

#include <math.h>

#if ZS_LAYERS_F64
typedef double real;
#define FN(name) name##_f64
#define SQRT sqrt
#define EXP exp
#define LOG log
#define TANH tanh
#define COSH cosh
#else
typedef float real;
#define FN(name) name##_f32
#define SQRT sqrtf
#define EXP expf
#define LOG logf
#define TANH tanhf
#define COSH coshf
#endif

/* ----------------------------------------------------------------------------------------------
 * encoder: out[B,T,C] = wte[inp[b,t]] + wpe[t] */

void FN(encoder_forward)(real *out, const int *inp, const real *wte, const real *wpe, int B, int T, int C)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            real *o = out + ((long)b * T + t) * C;
            const real *tok = wte + (long)inp[b * T + t] * C, *pos = wpe + (long)t * C;
            for (int c = 0; c < C; c++)
                o[c] = tok[c] + pos[c];
        }
}

void FN(encoder_backward)(real *dwte, real *dwpe, const real *dout, const int *inp, int B, int T, int C)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const real *d = dout + ((long)b * T + t) * C;
            real *dtok = dwte + (long)inp[b * T + t] * C, *dpos = dwpe + (long)t * C;
            for (int c = 0; c < C; c++) {
                dtok[c] += d[c];
                dpos[c] += d[c];
            }
        }
}

/* ----------------------------------------------------------------------------------------------
 * layernorm over C: out = (x - mean) * rstd * weight + bias, rstd = 1/sqrt(var + 1e-5), var biased.
 * mean, rstd: [B,T] (kept for the backward pass). */

void FN(layernorm_forward)(real *out, real *mean, real *rstd, const real *inp, const real *weight,
                           const real *bias, int B, int T, int C)
{
    const real eps = (real)1e-5;
    for (int bt = 0; bt < B * T; bt++) {
        const real *x = inp + (long)bt * C;
        real m = 0;
        for (int c = 0; c < C; c++)
            m += x[c];
        m = m / C;
        real v = 0;
        for (int c = 0; c < C; c++) {
            real dx = x[c] - m;
            v += dx * dx;
        }
        v = v / C;
        real s = 1 / SQRT(v + eps);
        real *o = out + (long)bt * C;
        for (int c = 0; c < C; c++)
            o[c] = ((x[c] - m) * s) * weight[c] + bias[c];
        mean[bt] = m;
        rstd[bt] = s;
    }
}

void FN(layernorm_backward)(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                            const real *weight, const real *mean, const real *rstd, int B, int T, int C)
{
    for (int bt = 0; bt < B * T; bt++) {
        const real *d = dout + (long)bt * C, *x = inp + (long)bt * C;
        real *dx = dinp + (long)bt * C;
        real m = mean[bt], s = rstd[bt];
        /* two reductions: mean of dnorm and mean of dnorm * norm */
        real dnorm_mean = 0, dnorm_norm_mean = 0;
        for (int c = 0; c < C; c++) {
            real norm = (x[c] - m) * s;
            real dnorm = weight[c] * d[c];
            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * norm;
        }
        dnorm_mean = dnorm_mean / C;
        dnorm_norm_mean = dnorm_norm_mean / C;
        for (int c = 0; c < C; c++) {
            real norm = (x[c] - m) * s;
            real dnorm = weight[c] * d[c];
            dbias[c] += d[c];
            dweight[c] += norm * d[c];
            dx[c] += ((dnorm - dnorm_mean) - norm * dnorm_norm_mean) * s;
        }
    }
}

/* ----------------------------------------------------------------------------------------------
 * matmul, Hugging Face Conv1D layout: out[BT,OC] = inp[BT,C] @ weight[C,OC] + bias[OC].
 * Each output sums over k = 0..C-1 in order, then adds the bias (as a GEMM with a bias epilogue). */

void FN(matmul_forward)(real *out, const real *inp, const real *weight, const real *bias, int BT, int C, int OC)
{
    for (int bt = 0; bt < BT; bt++) {
        const real *x = inp + (long)bt * C;
        for (int o = 0; o < OC; o++) {
            real acc = 0;
            for (int k = 0; k < C; k++)
                acc += x[k] * weight[(long)k * OC + o];
            out[(long)bt * OC + o] = bias ? acc + bias[o] : acc;
        }
    }
}

void FN(matmul_backward)(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                         const real *weight, int BT, int C, int OC)
{
    for (int bt = 0; bt < BT; bt++) {                   /* dinp = dout @ weight^T */
        const real *d = dout + (long)bt * OC;
        for (int k = 0; k < C; k++) {
            real acc = 0;
            for (int o = 0; o < OC; o++)
                acc += d[o] * weight[(long)k * OC + o];
            dinp[(long)bt * C + k] += acc;
        }
    }
    for (int k = 0; k < C; k++)                         /* dweight = inp^T @ dout, summed over bt */
        for (int o = 0; o < OC; o++) {
            real acc = 0;
            for (int bt = 0; bt < BT; bt++)
                acc += inp[(long)bt * C + k] * dout[(long)bt * OC + o];
            dweight[(long)k * OC + o] += acc;
        }
    if (dbias)
        for (int o = 0; o < OC; o++) {
            real acc = 0;
            for (int bt = 0; bt < BT; bt++)
                acc += dout[(long)bt * OC + o];
            dbias[o] += acc;
        }
}

/* matmul with a transposed weight, no bias (the tied LM head): out[BT,OC] = inp[BT,C] @ weight[OC,C]^T */

void FN(matmul_wt_forward)(real *out, const real *inp, const real *weight, int BT, int C, int OC)
{
    for (int bt = 0; bt < BT; bt++) {
        const real *x = inp + (long)bt * C;
        for (int o = 0; o < OC; o++) {
            const real *w = weight + (long)o * C;
            real acc = 0;
            for (int k = 0; k < C; k++)
                acc += x[k] * w[k];
            out[(long)bt * OC + o] = acc;
        }
    }
}

void FN(matmul_wt_backward)(real *dinp, real *dweight, const real *dout, const real *inp, const real *weight,
                            int BT, int C, int OC)
{
    for (int bt = 0; bt < BT; bt++) {                   /* dinp = dout @ weight */
        const real *d = dout + (long)bt * OC;
        for (int k = 0; k < C; k++) {
            real acc = 0;
            for (int o = 0; o < OC; o++)
                acc += d[o] * weight[(long)o * C + k];
            dinp[(long)bt * C + k] += acc;
        }
    }
    for (int o = 0; o < OC; o++)                        /* dweight = dout^T @ inp, summed over bt */
        for (int k = 0; k < C; k++) {
            real acc = 0;
            for (int bt = 0; bt < BT; bt++)
                acc += dout[(long)bt * OC + o] * inp[(long)bt * C + k];
            dweight[(long)o * C + k] += acc;
        }
}

/* ----------------------------------------------------------------------------------------------
 * causal self-attention in three steps, so low-precision modes can round between them.
 * qkv[B,T,3C] holds q | k | v; head h uses channels [h*hs, (h+1)*hs) of each (hs = C/NH).
 * preatt, att: [B,NH,T,T]; only t2 <= t is used (entries above the diagonal are set to 0). */

void FN(attention_scores_forward)(real *preatt, const real *qkv, int B, int T, int C, int NH)
{
    int hs = C / NH;
    real scale = 1 / SQRT((real)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const real *q = qkv + ((long)b * T + t) * 3 * C + h * hs;
                real *row = preatt + (((long)b * NH + h) * T + t) * T;
                for (int t2 = 0; t2 < T; t2++) {
                    if (t2 > t) {
                        row[t2] = 0;
                        continue;
                    }
                    const real *k = qkv + ((long)b * T + t2) * 3 * C + C + h * hs;
                    real acc = 0;
                    for (int i = 0; i < hs; i++)
                        acc += q[i] * k[i];
                    row[t2] = acc * scale;
                }
            }
}

void FN(attention_scores_backward)(real *dqkv, const real *dpreatt, const real *qkv, int B, int T, int C, int NH)
{
    int hs = C / NH;
    real scale = 1 / SQRT((real)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const real *q = qkv + ((long)b * T + t) * 3 * C + h * hs;
                real *dq = dqkv + ((long)b * T + t) * 3 * C + h * hs;
                const real *drow = dpreatt + (((long)b * NH + h) * T + t) * T;
                for (int t2 = 0; t2 <= t; t2++) {
                    const real *k = qkv + ((long)b * T + t2) * 3 * C + C + h * hs;
                    real *dk = dqkv + ((long)b * T + t2) * 3 * C + C + h * hs;
                    real ds = drow[t2] * scale;
                    for (int i = 0; i < hs; i++) {
                        dq[i] += k[i] * ds;
                        dk[i] += q[i] * ds;
                    }
                }
            }
}

/* Softmax over t2 <= t of each row, with the row maximum subtracted first. */
void FN(softmax_causal_forward)(real *att, const real *preatt, int B, int T, int NH)
{
    for (long row = 0; row < (long)B * NH * T; row++) {
        int t = (int)(row % T);
        const real *p = preatt + row * T;
        real *a = att + row * T;
        real maxv = p[0];
        for (int t2 = 1; t2 <= t; t2++)
            maxv = p[t2] > maxv ? p[t2] : maxv;
        real sum = 0;
        for (int t2 = 0; t2 <= t; t2++) {
            a[t2] = EXP(p[t2] - maxv);
            sum += a[t2];
        }
        real inv = 1 / sum;
        for (int t2 = 0; t2 < T; t2++)
            a[t2] = t2 <= t ? a[t2] * inv : 0;
    }
}

/* dpreatt[t3] += att[t3] * (datt[t3] - sum_{t2<=t} att[t2] * datt[t2]) */
void FN(softmax_causal_backward)(real *dpreatt, const real *datt, const real *att, int B, int T, int NH)
{
    for (long row = 0; row < (long)B * NH * T; row++) {
        int t = (int)(row % T);
        const real *a = att + row * T, *da = datt + row * T;
        real *dp = dpreatt + row * T;
        real dot = 0;
        for (int t2 = 0; t2 <= t; t2++)
            dot += a[t2] * da[t2];
        for (int t3 = 0; t3 <= t; t3++)
            dp[t3] += a[t3] * (da[t3] - dot);
    }
}

/* out[b,t,h*hs+i] = sum_{t2<=t} att[b,h,t,t2] * v[b,t2,h*hs+i] */
void FN(attention_values_forward)(real *out, const real *att, const real *qkv, int B, int T, int C, int NH)
{
    int hs = C / NH;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) {
                const real *a = att + (((long)b * NH + h) * T + t) * T;
                real *o = out + ((long)b * T + t) * C + h * hs;
                for (int i = 0; i < hs; i++) {
                    real acc = 0;
                    for (int t2 = 0; t2 <= t; t2++)
                        acc += a[t2] * qkv[((long)b * T + t2) * 3 * C + 2 * C + h * hs + i];
                    o[i] = acc;
                }
            }
}

void FN(attention_values_backward)(real *datt, real *dqkv, const real *dout, const real *att, const real *qkv,
                                   int B, int T, int C, int NH)
{
    int hs = C / NH;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) {
                const real *a = att + (((long)b * NH + h) * T + t) * T;
                real *da = datt + (((long)b * NH + h) * T + t) * T;
                const real *d = dout + ((long)b * T + t) * C + h * hs;
                for (int t2 = 0; t2 <= t; t2++) {
                    const real *v = qkv + ((long)b * T + t2) * 3 * C + 2 * C + h * hs;
                    real *dv = dqkv + ((long)b * T + t2) * 3 * C + 2 * C + h * hs;
                    real acc = 0;
                    for (int i = 0; i < hs; i++) {
                        acc += v[i] * d[i];
                        dv[i] += a[t2] * d[i];
                    }
                    da[t2] += acc;
                }
            }
}

/* ----------------------------------------------------------------------------------------------
 * GELU, tanh approximation (Hugging Face "gelu_new"): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */

#define GELU_SCALE ((real)0.7978845608028654) /* sqrt(2/pi) */

void FN(gelu_forward)(real *out, const real *inp, int N)
{
    for (int i = 0; i < N; i++) {
        real x = inp[i];
        real cube = (real)0.044715 * x * x * x;
        out[i] = (real)0.5 * x * (1 + TANH(GELU_SCALE * (x + cube)));
    }
}

void FN(gelu_backward)(real *dinp, const real *inp, const real *dout, int N)
{
    for (int i = 0; i < N; i++) {
        real x = inp[i];
        real cube = (real)0.044715 * x * x * x;
        real arg = GELU_SCALE * (x + cube);
        real th = TANH(arg);
        real ch = COSH(arg);
        real sech2 = 1 / (ch * ch);
        real local = (real)0.5 * (1 + th) +
                     x * (real)0.5 * sech2 * GELU_SCALE * (1 + (real)3.0 * (real)0.044715 * x * x);
        dinp[i] += local * dout[i];
    }
}

/* ----------------------------------------------------------------------------------------------
 * residual: out = inp1 + inp2 */

void FN(residual_forward)(real *out, const real *inp1, const real *inp2, int N)
{
    for (int i = 0; i < N; i++)
        out[i] = inp1[i] + inp2[i];
}

void FN(residual_backward)(real *dinp1, real *dinp2, const real *dout, int N)
{
    for (int i = 0; i < N; i++) {
        dinp1[i] += dout[i];
        dinp2[i] += dout[i];
    }
}

/* ----------------------------------------------------------------------------------------------
 * softmax cross-entropy per position: probs = softmax(logits) (max subtracted), loss = -log(probs[target]).
 * The backward pass starts from dloss_per_position = dloss / (B*T) (the loss is the mean). */

void FN(crossentropy_forward)(real *losses, real *probs, const real *logits, const int *targets, int BT, int V)
{
    for (int bt = 0; bt < BT; bt++) {
        const real *z = logits + (long)bt * V;
        real *p = probs + (long)bt * V;
        real maxv = z[0];
        for (int v = 1; v < V; v++)
            maxv = z[v] > maxv ? z[v] : maxv;
        real sum = 0;
        for (int v = 0; v < V; v++) {
            p[v] = EXP(z[v] - maxv);
            sum += p[v];
        }
        real inv = 1 / sum;
        for (int v = 0; v < V; v++)
            p[v] = p[v] * inv;
        losses[bt] = -LOG(p[targets[bt]]);
    }
}

void FN(crossentropy_backward)(real *dlogits, const real *probs, const int *targets, real dloss_per_position,
                               int BT, int V)
{
    for (int bt = 0; bt < BT; bt++) {
        const real *p = probs + (long)bt * V;
        real *d = dlogits + (long)bt * V;
        for (int v = 0; v < V; v++) {
            real indicator = v == targets[bt] ? 1 : 0;
            d[v] += (p[v] - indicator) * dloss_per_position;
        }
    }
}
