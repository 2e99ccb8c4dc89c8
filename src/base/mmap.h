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
/* Tell the kernel that [p, p + n) of a mapped file will not be read soon: its whole pages leave
 * memory (a later read faults them back in from the file). No-op for a copy in memory. */
void file_map_release(const file_map *map, const void *p, size_t n);

#endif
