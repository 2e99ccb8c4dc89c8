/* mmap.h — map a whole file read-only, or read it into memory; one handle either way. */
#ifndef R1_BASE_MMAP_H
#define R1_BASE_MMAP_H

#include "r1.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct file_map {
    const void *data;
    size_t size;
    bool is_mapped; /* false: data is a malloc'd copy */
} file_map;

r1_status file_map_open(const char *path, bool use_mmap, file_map **out_map, char *err);
void file_map_close(file_map *map);

#endif
