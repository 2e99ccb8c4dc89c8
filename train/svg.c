/* svg.c — line charts for training curves (see svg.h). */
#include "train/svg.h"

#include "base/err.h"

#include <math.h>
#include <stdio.h>

enum { W = 720, PH = 200, MARGIN_L = 70, MARGIN_R = 20, TOP = 40, GAP = 40 };

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else
            fputc(*s, f);
    }
}

r1_status svg_write(const char *path, const char *title, const svg_panel *panels, int n_panels,
                    char *err)
{
    FILE *f = fopen(path, "w");
    if (!f) return err_set(err, R1_ERR_IO, "cannot write %s", path);
    int height = TOP + n_panels * (PH + GAP);
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
            "fill=\"white\"/>\n<text x=\"%d\" y=\"22\" font-size=\"15\">",
            W, height, MARGIN_L);
    esc(f, title);
    fputs("</text>\n", f);
    for (int p = 0; p < n_panels; p++) {
        const svg_panel *pn = &panels[p];
        double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
        for (int s = 0; s < pn->n_series; s++)
            for (int i = 0; i < pn->series[s].n; i++) {
                double x = pn->series[s].x[i], y = pn->series[s].y[i];
                if (!isfinite(x) || !isfinite(y)) continue;
                x0 = fmin(x0, x);
                x1 = fmax(x1, x);
                y0 = fmin(y0, y);
                y1 = fmax(y1, y);
            }
        if (!(x1 >= x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
        if (x1 == x0) x1 = x0 + 1;
        if (y1 == y0) y1 = y0 + 1;
        double pad = 0.05 * (y1 - y0);
        y0 -= pad;
        y1 += pad;
        int top = TOP + p * (PH + GAP) + 16, pw = W - MARGIN_L - MARGIN_R, ph = PH - 16;
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">", MARGIN_L, top - 4);
        esc(f, pn->title);
        fputs("</text>\n", f);
        fprintf(f,
                "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                "stroke=\"#999\"/>\n",
                MARGIN_L, top, pw, ph);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.4g</text>\n", MARGIN_L - 4,
                top + 10, y1);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.4g</text>\n", MARGIN_L - 4,
                top + ph, y0);
        fprintf(f, "<text x=\"%d\" y=\"%d\">%.0f</text>\n", MARGIN_L, top + ph + 14, x0);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">step %.0f</text>\n", MARGIN_L + pw,
                top + ph + 14, x1);
        for (int s = 0; s < pn->n_series; s++) {
            const svg_series *se = &pn->series[s];
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
                    se->color);
            for (int i = 0; i < se->n; i++) {
                if (!isfinite(se->y[i]) || !isfinite(se->x[i])) continue;
                double px = MARGIN_L + (se->x[i] - x0) / (x1 - x0) * pw;
                double py = top + (y1 - se->y[i]) / (y1 - y0) * ph;
                fprintf(f, "%.1f,%.1f ", px, py);
            }
            fputs("\"/>\n", f);
            fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"%s\">", MARGIN_L + pw - 150,
                    top + 16 + 14 * s, se->color);
            esc(f, se->name);
            fputs("</text>\n", f);
        }
    }
    fputs("</svg>\n", f);
    if (fclose(f) != 0) return err_set(err, R1_ERR_IO, "cannot write %s", path);
    return R1_OK;
}
