/* Error reporting for every zerospec library function.
 * Convention: functions return 0 on success and -1 on failure, filling a caller-owned zs_error
 * with one human-readable line (no trailing newline) that names the file, key or rule at fault.
 * CLIs print "<tool>: error: <msg>" and exit non-zero. Nothing aborts on bad input. */
#ifndef ZEROSPEC_ERROR_H
#define ZEROSPEC_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zs_error {
    char msg[1024];
} zs_error;

/* Formats msg into err (if err is non-NULL) and returns -1, so callers can `return zs_fail(...)`. */
int zs_fail(zs_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "<prefix>: " to an existing message (adds context while unwinding). Returns -1. */
int zs_error_prefix(zs_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif
