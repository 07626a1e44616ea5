#define _POSIX_C_SOURCE 200809L  /* fsync, getpid */
#include "svg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WIDTH 900
#define LEFT 80
#define BAR 620            /* width of a rank's partition bar / a stage's memory bar */
#define ROW 22

/* A colour per parameter tensor: hues spread by the golden angle, so neighbours differ. */
static void colour(int index, char *buf, size_t n)
{
    int hue = (int)((index * 137.508) - 360.0 * (int)((index * 137.508) / 360.0));
    snprintf(buf, n, "hsl(%d,60%%,%d%%)", hue, 55 + (index % 3) * 8);
}

/* Index of the parameter holding flat element idx (or -1 for padding). */
static int param_of(const zs_svg_input *in, int64_t idx)
{
    size_t within;
    return zs_partition_param_at(in->sizes, in->n_params, idx, &within);
}

static void partition_rows(FILE *out, const zs_svg_input *in, int y0)
{
    const zs_partition *pt = in->part;
    int ranks = pt->stage == 0 ? 1 : pt->world;
    double scale = (double)BAR / (double)pt->len;
    for (int r = 0; r < ranks; r++) {
        int y = y0 + r * ROW;
        fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"end\">%s %d</text>\n", LEFT - 8,
                y + 14, pt->stage == 0 ? "every rank" : "rank", pt->stage == 0 ? pt->world : r);
        size_t j = 0;
        while (j < pt->len) {   /* one rectangle per run of one parameter (or of padding) */
            int64_t idx = zs_partition_model_index(pt, r, j);
            int p = idx < 0 ? -1 : param_of(in, idx);
            size_t run = 1;
            while (j + run < pt->len) {
                int64_t next = zs_partition_model_index(pt, r, j + run);
                if ((next < 0) != (idx < 0) || (next >= 0 && param_of(in, next) != p))
                    break;
                run++;
            }
            char fill[32];
            if (p < 0)
                snprintf(fill, sizeof fill, "#bbbbbb");
            else
                colour(p, fill, sizeof fill);
            fprintf(out, "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" fill=\"%s\"><title>%s "
                         "[%zu elements]</title></rect>\n",
                    LEFT + j * scale, y, run * scale, ROW - 4, fill, p < 0 ? "padding" : in->names[p], run);
            j += run;
        }
    }
}

static void memory_bars(FILE *out, const zs_svg_input *in, int y0)
{
    int64_t max = 1;
    for (int s = 0; s < 4; s++) {
        const zs_explain_bytes *b = &in->bytes[s];
        int64_t t = b->params + b->grads + b->optimizer + b->host_params + b->host_optimizer;
        max = t > max ? t : max;
    }
    const char *fills[3] = {"#4e79a7", "#f28e2b", "#59a14f"};
    for (int s = 0; s < 4; s++) {
        const zs_explain_bytes *b = &in->bytes[s];
        int64_t parts[3] = {b->params, b->grads, b->optimizer};
        int y = y0 + s * ROW;
        double x = LEFT;
        fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"end\">ZeRO-%d</text>\n", LEFT - 8, y + 14, s);
        for (int k = 0; k < 3; k++) {
            double w = (double)BAR * (double)parts[k] / (double)max;
            fprintf(out, "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" fill=\"%s\"/>\n", x, y, w, ROW - 4, fills[k]);
            x += w;
        }
        fprintf(out, "<text x=\"%.2f\" y=\"%d\" font-size=\"11\">%lld bytes</text>\n", x + 6, y + 14,
                (long long)(b->params + b->grads + b->optimizer));
    }
    int ly = y0 + 4 * ROW + 6;
    const char *labels[3] = {"parameters", "gradients", "optimizer state (fp32 master + moments)"};
    for (int k = 0, x = LEFT; k < 3; k++, x += 170) {
        fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", x, ly, fills[k]);
        fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>\n", x + 16, ly + 10, labels[k]);
    }
}

void zs_svg_write(FILE *out, const zs_svg_input *in)
{
    int ranks = in->part->stage == 0 ? 1 : in->part->world;
    int map_y = 50, mem_title_y = map_y + ranks * ROW + 30, mem_y = mem_title_y + 12;
    int height = mem_y + 4 * ROW + 30;
    fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\">\n",
            WIDTH, height);
    fprintf(out, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(out, "<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">%s</text>\n", in->title);
    fprintf(out, "<text x=\"10\" y=\"%d\" font-size=\"12\">Partitions, ZeRO stage %d: each rank's flat slice, "
                 "coloured by parameter tensor, padding grey</text>\n", map_y - 10, in->part->stage);
    partition_rows(out, in, map_y);
    fprintf(out, "<text x=\"10\" y=\"%d\" font-size=\"12\">Model-state bytes one rank holds, by stage</text>\n",
            mem_title_y);
    memory_bars(out, in, mem_y);
    fprintf(out, "</svg>\n");
}

int zs_svg_write_file(const char *path, const zs_svg_input *in)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    zs_svg_write(f, in);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}
