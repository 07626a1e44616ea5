/* Internals of the DeepSpeed-config parser (private to zs_common).
 *
 * zs_ds_config_parse (ds_config.c) parses the text, then runs the section readers in dependency
 * order: top-level keys, batch triple, precision, ZeRO, optimizer (needs precision and ZeRO),
 * scheduler (needs the optimizer's lr), then the cross-section rules. Each reader records every
 * key it meets in the key report. docs/spec/config.md is the specification of all of them. */
#ifndef ZEROSPEC_DS_CONFIG_PARSE_H
#define ZEROSPEC_DS_CONFIG_PARSE_H

#include <stdarg.h>

#include "json_util.h"
#include "zerospec/ds_config.h"

typedef struct zs_ds_parse {
    const cJSON *root;               /* the config object */
    const zs_json_numforms *forms;   /* lexical forms of its numbers (may be NULL) */
    zs_ds_config *cfg;
    zs_error *err;
} zs_ds_parse;

/* Parses an already-parsed config object (the case parser uses this for inline configs). */
int zs_ds_config_parse_tree(const cJSON *root, const zs_json_numforms *forms, const char *source,
                            zs_ds_config *out, zs_error *err);

/* ---- key report (ds_key_report.c) ---- */
/* Records `path` with a status and note; a second call for the same path updates the entry. */
void zs_report_set(zs_key_report *r, const char *path, zs_key_status s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const zs_key_entry *zs_report_find(const zs_key_report *r, const char *path);
void zs_report_free(zs_key_report *r);

/* ---- strict sections: every key must be in the section's table ---- */
typedef enum zs_jkind {
    ZS_JK_ANY = 0,
    ZS_JK_BOOL,
    ZS_JK_BOOL_OR_NULL,
    ZS_JK_UINT,            /* integer >= 0 (pydantic int with ge=0) */
    ZS_JK_INT,
    ZS_JK_NUMBER,
    ZS_JK_STRING,
    ZS_JK_STRING_OR_NULL,
    ZS_JK_OBJECT_OR_NULL
} zs_jkind;

typedef struct zs_key_spec {
    const char *name;
    zs_jkind kind;
    zs_key_status status;
    const char *note;
} zs_key_spec;

/* Checks each key of `obj` (at `path`) against `specs`: checks its kind and records it with the
 * spec's status. An unknown key fails with "<path>.<key>: unknown key (<why>); did you mean ...". */
int zs_check_section(zs_ds_parse *p, const cJSON *obj, const char *path, const zs_key_spec *specs,
                     size_t n_specs, const char *why_strict);
/* Read a key of a section zs_check_section has accepted; return 1 when present (null counts as
 * absent), leaving *out unchanged otherwise. */
int zs_section_bool(const cJSON *obj, const char *key, int *out);
int zs_section_int(const cJSON *obj, const char *key, int64_t *out);
int zs_section_number(const cJSON *obj, const char *key, double *out);
/* Checks one value against a kind (message names `path`). */
int zs_check_kind(const cJSON *v, zs_jkind kind, const char *path, zs_error *err);

/* ---- section readers ---- */
int zs_ds_parse_top(zs_ds_parse *p);        /* ds_config_top.c */
int zs_ds_parse_batch(zs_ds_parse *p);      /* ds_config_batch.c */
int zs_ds_parse_precision(zs_ds_parse *p);  /* ds_config_precision.c */
int zs_ds_parse_zero(zs_ds_parse *p);       /* ds_config_zero.c */
int zs_ds_parse_optimizer(zs_ds_parse *p);  /* ds_config_optimizer.c */
int zs_ds_parse_scheduler(zs_ds_parse *p);  /* ds_config_scheduler.c */
int zs_ds_check_rules(zs_ds_parse *p);      /* ds_config_rules.c */

/* ---- canonical JSON (ds_config_canonical.c) ---- */
char *zs_ds_config_canonical(const zs_ds_config *cfg, zs_error *err);
/* Adds the optimizer's "params" object for the canonical form (ds_config_optimizer.c). */
int zs_optimizer_params_to_json(const zs_optimizer_config *opt, const zs_zero_config *zero, cJSON *params);
/* Adds the scheduler's "params" object for the canonical form (ds_config_scheduler.c). */
int zs_scheduler_params_to_json(const zs_scheduler_config *s, cJSON *params);

/* True when the optimizer's param groups carry "betas" (OneCycle cycles momentum only then). */
int zs_optimizer_has_betas(const zs_optimizer_config *opt);

#endif
