/* test_mmap.c — base/mmap: a mapped file and a copy in memory read the same bytes, and
 * file_map_release keeps them readable: a mapping refaults from the file, and a copy's released
 * pages become a mapping of the file (checked in /proc/self/maps), so repacked weights do not
 * stay in memory twice with --no-mmap. */
#include "base/mmap.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Is the page at p mapped from a file whose path ends in `name`? */
static int maps_file_at(const void *p, const char *name)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return -1;
    char line[4096];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) != 2) continue;
        if ((uintptr_t)p < lo || (uintptr_t)p >= hi) continue;
        line[strcspn(line, "\n")] = 0;
        size_t n = strlen(line), k = strlen(name);
        found = n >= k && !strcmp(line + n - k, name);
    }
    fclose(f);
    return found;
}

int main(void)
{
    char path[] = "/tmp/r1_test_mmap_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    size_t page = (size_t)sysconf(_SC_PAGESIZE), size = 64 * page + 123;
    uint8_t *want = malloc(size);
    for (size_t i = 0; i < size; i++) want[i] = (uint8_t)(i * 2654435761u >> 13);
    CHECK(write(fd, want, size) == (ssize_t)size);
    close(fd);
    const char *name = strrchr(path, '/');
    for (int use_mmap = 0; use_mmap < 2; use_mmap++) {
        file_map *m = NULL;
        char err[256];
        CHECK(file_map_open(path, use_mmap, &m, err) == R1_OK);
        if (!m) continue;
        CHECK(m->size == size && !memcmp(m->data, want, size));
        const uint8_t *d = m->data;
        /* a range less than a page: nothing to release; then most of the file, unaligned */
        file_map_release(m, d + 10, page / 2);
        file_map_release(m, d + page + 77, 40 * page);
        CHECKF(!memcmp(m->data, want, size), "contents after release (mmap %d)", use_mmap);
        /* memory that is not the map's (weights converted at load) is left alone */
        size_t own_n = 8 * page;
        uint8_t *own = aligned_alloc(page, own_n);
        CHECK(own != NULL);
        if (own) {
            memset(own, 0x5a, own_n);
            file_map_release(m, own, own_n);
            file_map_release(m, d + size - page, 2 * page); /* runs past the map's end */
            size_t bad = 0;
            for (size_t i = 0; i < own_n; i++) bad += own[i] != 0x5a;
            CHECKF(bad == 0, "release of memory outside the map changed %zu bytes (mmap %d)", bad,
                   use_mmap);
            CHECKF(!memcmp(m->data, want, size), "contents after outside releases (mmap %d)",
                   use_mmap);
            free(own);
        }
        if (!use_mmap && maps_file_at(d, name) >= 0) { /* Linux: /proc/self/maps */
            CHECKF(maps_file_at(d + 2 * page, name) == 1,
                   "released pages of the copy map the file");
            CHECKF(maps_file_at(d, name) == 0, "the first (partial) page stays a copy");
            CHECKF(maps_file_at(d + 50 * page, name) == 0, "pages after the range stay a copy");
        }
        file_map_close(m);
    }
    unlink(path);
    free(want);
    return test_finish();
}
