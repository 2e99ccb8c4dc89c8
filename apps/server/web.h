/* web.h — the chat page's files (apps/web: the page, its script and style, the vendored libraries
 * and their licences), compiled into the binary by apps/server/embed.cmake as web_files[], and the
 * lookup of a URL among them (web.c). http.c serves them; api.c routes their URLs to ROUTE_WEB. */
#ifndef R1_SERVER_WEB_H
#define R1_SERVER_WEB_H

#include <stddef.h>

typedef struct web_file {
    const char *path; /* URL path: "/index.html", "/vendor/katex-0.19.1/katex.min.js" */
    const char *type; /* Content-Type */
    const char *etag; /* quoted, from the start of the content's SHA-256 */
    const unsigned char *data;
    size_t size;
    int immutable; /* a file under a versioned vendor folder: its content never changes */
} web_file;

extern const web_file web_files[];
extern const size_t web_n_files;

/* The file at URL path url ("/" is "/index.html"), or NULL. */
const web_file *web_find(const char *url);

#endif
