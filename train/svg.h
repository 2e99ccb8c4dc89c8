/* svg.h — training curves as a standalone SVG: a column of panels, each a few line series
 * against the step, with min/max labels. No dependencies; the file opens in any browser.
 */
#ifndef R1_TRAIN_SVG_H
#define R1_TRAIN_SVG_H

#include "r1.h"

typedef struct svg_series {
    const char *name;
    const char *color; /* "#1f77b4" */
    const double *x, *y;
    int n; /* points; NaN y values are gaps */
} svg_series;

typedef struct svg_panel {
    const char *title;
    const svg_series *series;
    int n_series;
} svg_panel;

r1_status svg_write(const char *path, const char *title, const svg_panel *panels, int n_panels,
                    char *err);

#endif
