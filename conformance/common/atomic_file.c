#define _POSIX_C_SOURCE 200809L   /* fsync, getpid, open flags under -std=c11 */

#include "zerospec/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = write(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Writes, flushes to disk and closes tmp; on failure reports errno with the path. */
static int write_temp_file(const char *tmp, const void *bytes, size_t len, const char *path, zs_error *err)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return zs_fail(err, "%s: cannot create temporary file '%s': %s", path, tmp, strerror(errno));
    int failed = write_all(fd, bytes, len) != 0 || fsync(fd) != 0;
    int e = errno;
    if (close(fd) != 0 && !failed) {
        failed = 1;
        e = errno;
    }
    if (failed)
        return zs_fail(err, "%s: cannot write temporary file '%s': %s", path, tmp, strerror(e));
    return 0;
}

int zs_write_file_atomic(const char *path, const void *bytes, size_t len, zs_error *err)
{
    size_t tmp_size = strlen(path) + 32;
    char *tmp = malloc(tmp_size);
    if (!tmp)
        return zs_fail(err, "%s: out of memory", path);
    snprintf(tmp, tmp_size, "%s.tmp.%ld", path, (long)getpid());
    int rc = write_temp_file(tmp, bytes, len, path, err);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = zs_fail(err, "%s: cannot rename '%s' over it: %s", path, tmp, strerror(errno));
    if (rc != 0)
        unlink(tmp);             /* never leave a partial file behind */
    free(tmp);
    return rc;
}
