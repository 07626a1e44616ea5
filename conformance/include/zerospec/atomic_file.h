/* Writing a file so that readers see either the old file or the complete new one, never a prefix:
 * the bytes go to "<path>.tmp.<pid>", are fsync'ed, and the temporary file is renamed over <path>.
 * On failure the temporary file is removed and <path> is untouched. */
#ifndef ZEROSPEC_ATOMIC_FILE_H
#define ZEROSPEC_ATOMIC_FILE_H

#include <stddef.h>

#include "zerospec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

int zs_write_file_atomic(const char *path, const void *bytes, size_t len, zs_error *err);

#ifdef __cplusplus
}
#endif
#endif
