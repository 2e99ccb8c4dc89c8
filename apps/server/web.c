/* web.c — find one of the chat page's embedded files by its URL path. */
#include "web.h"

#include <string.h>

const web_file *web_find(const char *url)
{
    if (!strcmp(url, "/")) url = "/index.html";
    for (size_t i = 0; i < web_n_files; i++)
        if (!strcmp(web_files[i].path, url)) return &web_files[i];
    return NULL;
}
