/* zs-explain --svg: one picture of how ZeRO shards a model — which flat elements each rank owns (one
 * row per rank, one colour per parameter tensor, padding grey) and the bytes one rank holds under each
 * stage. Deterministic output, so the guide's pictures can be checked to be regenerated. */
#ifndef ZS_TOOLS_EXPLAIN_SVG_H
#define ZS_TOOLS_EXPLAIN_SVG_H

#include <stdio.h>

#include "partition.h"
#include "predict.h"

typedef struct zs_svg_input {
    const zs_partition *part;            /* the configured stage's partition */
    const char *const *names;            /* parameter names, flat order */
    const size_t *sizes;                 /* parameter sizes, flat order */
    int n_params;
    zs_explain_bytes bytes[4];           /* one rank, stages 0..3 */
    const char *title;
} zs_svg_input;

void zs_svg_write(FILE *out, const zs_svg_input *in);
/* Writes to path through a temporary file and a rename. Returns 0, or -1 with errno set. */
int zs_svg_write_file(const char *path, const zs_svg_input *in);

#endif
