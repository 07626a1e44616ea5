/* Helpers for the DeepSpeed-config tests. Configs are written with single quotes for readability
 * (q2d turns them into JSON's double quotes); none of the test texts contains an apostrophe. */
#ifndef ZEROSPEC_DS_CONFIG_TEST_UTIL_H
#define ZEROSPEC_DS_CONFIG_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zerospec/ds_config.h"

static inline char *dup_text(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    assert_non_null(d);
    memcpy(d, s, n);
    return d;
}

static inline char *q2d(const char *single_quoted)
{
    char *s = dup_text(single_quoted);
    for (char *c = s; *c; c++)
        if (*c == '\'')
            *c = '"';
    return s;
}

/* Parses a config that must be valid; the caller frees it with zs_ds_config_free. */
static inline zs_ds_config parse_ok(const char *single_quoted)
{
    char *json = q2d(single_quoted);
    zs_ds_config cfg;
    zs_error err = {{0}};
    int rc = zs_ds_config_parse(json, "<test>", &cfg, &err);
    free(json);
    if (rc)
        fail_msg("unexpected error: %s", err.msg);
    return cfg;
}

/* Parses a config that must fail with a message containing `needle`. */
static inline void expect_error(const char *single_quoted, const char *needle)
{
    char *json = q2d(single_quoted);
    zs_ds_config cfg;
    zs_error err = {{0}};
    int rc = zs_ds_config_parse(json, "<test>", &cfg, &err);
    free(json);
    if (rc == 0) {
        zs_ds_config_free(&cfg);
        fail_msg("expected an error containing \"%s\", but the config parsed", needle);
    }
    if (!strstr(err.msg, needle))
        fail_msg("error \"%s\" does not contain \"%s\"", err.msg, needle);
    assert_null(cfg.canonical_json); /* a failed parse leaves nothing to free */
    assert_null(cfg.report.entries);
}

static inline const zs_key_entry *entry_of(const zs_ds_config *cfg, const char *path)
{
    for (size_t i = 0; i < cfg->report.count; i++)
        if (strcmp(cfg->report.entries[i].path, path) == 0)
            return &cfg->report.entries[i];
    fail_msg("key %s is not in the report", path);
    return NULL;
}

static inline void expect_status(const zs_ds_config *cfg, const char *path, zs_key_status status)
{
    const zs_key_entry *e = entry_of(cfg, path);
    if (e->status != status)
        fail_msg("%s: status %s, expected %s (note: %s)", path, zs_key_status_name(e->status),
                 zs_key_status_name(status), e->note);
}

#endif
