/* Reading trace elements as double, ULP distances in the format a value lives in, and printing
 * values so that neighbouring floats are told apart (decimal plus exact hex float). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "zs_check.h"

static const char *const ulp_names[] = {"fp64", "fp32", "fp16", "bf16", "int"};

const char *zs_ulp_format_name(zs_ulp_format f)
{
    return f >= ZS_ULP_F64 && f <= ZS_ULP_INT ? ulp_names[f] : "?";
}

/* IEEE binary16: 1 sign, 5 exponent (bias 15), 10 fraction bits. Widening is exact. */
static double half_value(uint16_t h)
{
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return (h & 0x8000) ? -v : v;
}

double zs_element(const void *data, zs_dtype dtype, size_t i)
{
    const unsigned char *p = (const unsigned char *)data + i * zs_dtype_size(dtype);
    switch (dtype) {
    case ZS_F32: { float v; memcpy(&v, p, 4); return v; }
    case ZS_F64: { double v; memcpy(&v, p, 8); return v; }
    case ZS_F16: { uint16_t h; memcpy(&h, p, 2); return half_value(h); }
    case ZS_BF16: {   /* the top half of an fp32 */
        uint16_t h;
        memcpy(&h, p, 2);
        uint32_t bits = (uint32_t)h << 16;
        float v;
        memcpy(&v, &bits, 4);
        return v;
    }
    case ZS_I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    case ZS_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case ZS_U8:
    case ZS_BOOL: return *p;
    default: return NAN;
    }
}

/* Position of |x| among the non-negative values of a binary format with p significand bits and
 * smallest normal exponent emin: an integer at representable values, linear in between. Exact in
 * double for fp32 and narrower (positions < 2^32). */
static double position(double x, int p, int emin)
{
    double ax = fabs(x);
    if (ax < ldexp(1, emin))                      /* subnormal: spacing 2^(emin-p+1) */
        return ax * ldexp(1, p - 1 - emin);
    int e;
    double frac = frexp(ax, &e);                  /* ax = frac * 2^e, frac in [0.5, 1) */
    return ((double)(e - emin) + (2 * frac - 1)) * ldexp(1, p - 1);
}

/* fp64 positions need 63 bits: order the bit patterns instead. */
static double f64_distance(double a, double b)
{
    int64_t ia, ib;
    memcpy(&ia, &a, 8);
    memcpy(&ib, &b, 8);
    if (ia < 0) ia = -(ia & INT64_MAX);           /* -0 and +0 both map to 0 */
    if (ib < 0) ib = -(ib & INT64_MAX);
    if ((ia < 0) == (ib < 0))                      /* same sign: the difference fits in 64 bits */
        return ia > ib ? (double)(ia - ib) : (double)(ib - ia);
    return fabs((double)ia - (double)ib);
}

double zs_ulp_distance(double a, double b, zs_ulp_format f)
{
    int p, emin;
    switch (f) {
    case ZS_ULP_F64: return f64_distance(a, b);
    case ZS_ULP_F32: p = 24, emin = -126; break;
    case ZS_ULP_F16: p = 11, emin = -14; break;
    case ZS_ULP_BF16: p = 8, emin = -126; break;
    default: return fabs(a - b);
    }
    return fabs(copysign(position(a, p, emin), a) - copysign(position(b, p, emin), b));
}

double zs_ulp_spacing(double x, zs_ulp_format f)
{
    int p = f == ZS_ULP_F16 ? 11 : f == ZS_ULP_BF16 ? 8 : f == ZS_ULP_F64 ? 53 : 24;
    int emin = f == ZS_ULP_F16 ? -14 : f == ZS_ULP_F64 ? -1022 : -126, e;
    frexp(fabs(x), &e);   /* |x| = m 2^e, m in [0.5, 1): spacing 2^(e-p), at least 2^(emin+1-p) */
    return ldexp(1.0, (x != 0 && e - 1 >= emin ? e : emin + 1) - p);
}

void zs_format_value(char *buf, size_t n, double v, zs_dtype dtype)
{
    if (isnan(v) || isinf(v)) {
        snprintf(buf, n, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
        return;
    }
    switch (dtype) {
    case ZS_F64: snprintf(buf, n, "%.17g (%a)", v, v); break;
    case ZS_F32: snprintf(buf, n, "%.9g (%a)", v, v); break;
    case ZS_F16:
    case ZS_BF16: snprintf(buf, n, "%.5g (%a)", v, v); break;
    default: snprintf(buf, n, "%.0f", v); break;
    }
}

void zs_format_shape(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < ndim && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}
