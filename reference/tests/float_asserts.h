/* Float comparisons for the reference's tests that print both values on failure.
 * Include after <cmocka.h>. */
#ifndef ZS_TESTS_FLOAT_ASSERTS_H
#define ZS_TESTS_FLOAT_ASSERTS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t float_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* Bit-for-bit equality (so -0 != +0 and NaN == the same NaN). */
#define assert_same_float(expected, actual) \
    float_assert_same((expected), (actual), #actual, __FILE__, __LINE__)

static inline void float_assert_same(float expected, float actual, const char *what, const char *file,
                                     int line)
{
    if (float_bits(expected) != float_bits(actual)) {
        print_error("%s:%d: %s: expected %.9g (0x%08x), got %.9g (0x%08x)\n", file, line, what,
                    (double)expected, float_bits(expected), (double)actual, float_bits(actual));
        _fail(file, line);
    }
}

/* |actual - expected| <= rel * |expected| (+ a tiny absolute floor for expected == 0). */
#define assert_close(expected, actual, rel) \
    float_assert_close((expected), (actual), (rel), #actual, __FILE__, __LINE__)

static inline void float_assert_close(double expected, double actual, double rel, const char *what,
                                      const char *file, int line)
{
    const double tol = rel * fabs(expected) + 1e-300;
    if (!(fabs(actual - expected) <= tol)) {
        print_error("%s:%d: %s: expected %.17g, got %.17g (rel tol %g)\n", file, line, what, expected,
                    actual, rel);
        _fail(file, line);
    }
}

/* Bit-for-bit equality of doubles (the schedulers promise DeepSpeed's exact Python arithmetic). */
#define assert_same_double(expected, actual) \
    float_assert_same_double((expected), (actual), #actual, __FILE__, __LINE__)

static inline void float_assert_same_double(double expected, double actual, const char *what,
                                            const char *file, int line)
{
    if (memcmp(&expected, &actual, sizeof expected) != 0) {
        print_error("%s:%d: %s: expected %.17g, got %.17g\n", file, line, what, expected, actual);
        _fail(file, line);
    }
}

#endif
