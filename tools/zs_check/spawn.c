/* Running one implementation process: posix_spawnp (no shell), its own process group so a timeout
 * can kill everything it started (launchers fork ranks), output captured to files. */
#define _POSIX_C_SOURCE 200809L   /* posix_spawn attributes, kill, nanosleep, clock_gettime */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zs_check.h"

extern char **environ;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void nap(void)
{
    struct timespec ts = {0, 10 * 1000 * 1000};   /* 10 ms between polls */
    nanosleep(&ts, NULL);
}

/* Polls until pid has exited or `until` passes. WNOWAIT leaves it unreaped, so its pid (= the
 * process group id) cannot be reused while we still signal the group. */
static int exited_by(pid_t pid, double until)
{
    for (;;) {
        siginfo_t info;
        memset(&info, 0, sizeof info);
        int rc = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT);
        if ((rc == 0 && info.si_pid == pid) || (rc < 0 && errno != EINTR))
            return 1;
        if (now_s() >= until)
            return 0;
        nap();
    }
}

int zs_spawn_wait(char *const argv[], const char *stdout_path, const char *stderr_path, double timeout_s,
                  zs_proc_result *res, zs_error *err)
{
    *res = (zs_proc_result){0};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);   /* a new group led by the child */
    pid_t pid;
    double start = now_s();
    int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
        return zs_fail(err, "cannot start '%s': %s", argv[0], strerror(rc));

    if (!exited_by(pid, start + timeout_s)) {
        res->timed_out = 1;
        kill(-pid, SIGTERM);
        if (!exited_by(pid, now_s() + 2.0))
            kill(-pid, SIGKILL);
    }
    double end = now_s();
    kill(-pid, SIGKILL);   /* whatever it left running in its group */
    int status = 0;
    waitpid(pid, &status, 0);
    res->seconds = end - start;
    if (WIFEXITED(status))
        res->exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        res->signal = WTERMSIG(status);
    return 0;
}

void zs_print_file_tail(FILE *out, const char *path, int lines, const char *indent)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    /* Read at most the last 16 KiB: enough for `lines` lines of an error. */
    char buf[16384 + 1];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long from = size > 16384 ? size - 16384 : 0;
    fseek(f, from, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    size_t start = n;
    for (int seen = 0; start > 0; start--)
        if (buf[start - 1] == '\n' && ++seen == lines)
            break;
    for (char *line = buf + start; n > 0 && line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        fprintf(out, "%s%s\n", indent, line);
        line = nl ? nl + 1 : NULL;
    }
}
