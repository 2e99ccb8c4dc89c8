/* mmap.h — map a whole file read-only, or read it into memory; one handle either way. */
#ifndef R1_BASE_MMAP_H
#define R1_BASE_MMAP_H

#include "r1.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct file_map {
    const void *data;
    size_t size;
    bool is_mapped; /* false: data is a copy in anonymous memory (page-aligned) */
    int fd;         /* the file, kept open for file_map_release of a copy; -1 if none */
} file_map;

/* Open a regular file for reading, without blocking: the type is checked before the open and the
 * open is non-blocking (a FIFO given as a model would otherwise block in open() forever; a socket,
 * device or directory is refused too). The fd is blocking again on return. file_fopen_regular:
 * the same as a stdio stream ("rb"); NULL with err set. */
r1_status file_open_regular(const char *path, int *out_fd, char *err);
FILE *file_fopen_regular(const char *path, char *err);

r1_status file_map_open(const char *path, bool use_mmap, file_map **out_map, char *err);
void file_map_close(file_map *map);
/* [p, p + n) will not be read soon: its whole pages leave memory, and a later read faults them
 * back in from the file. For a mapping that is a hint to the kernel; for a copy in memory the
 * copy's pages are replaced by a lazy private mapping of the same bytes of the file (so repacked
 * weights do not cost their memory twice with --no-mmap). A range outside the map is ignored. */
void file_map_release(const file_map *map, const void *p, size_t n);

/* Zeroed anonymous memory of n bytes, 2 MB-aligned and advised into transparent huge pages
 * (memory streamed every token — weights, KV caches — then costs no TLB miss per 4 KB), or NULL.
 * Pages are committed when first touched. Free with mem_huge_free(p, n). */
void *mem_huge_alloc(size_t n);
void mem_huge_free(void *p, size_t n);

#endif
