/* mmap.c — whole-file read-only mapping (POSIX), with a read-into-memory fallback. */
#include "base/mmap.h"

#include "base/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *file_kind(mode_t m)
{
    return S_ISDIR(m)    ? "a directory"
           : S_ISFIFO(m) ? "a FIFO (named pipe)"
           : S_ISSOCK(m) ? "a socket"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
                         : "not a regular file";
}

r1_status file_open_regular(const char *path, int *out_fd, char *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return err_set(err, R1_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return err_set(err, R1_ERR_IO, "%s: %s, not a regular file", path, file_kind(sb.st_mode));
    /* O_NONBLOCK: should the path be swapped for a FIFO after the stat, open() still returns */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return err_set(err, R1_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return err_set(err, R1_ERR_IO, "%s: not a regular file", path);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    *out_fd = fd;
    return R1_OK;
}

FILE *file_fopen_regular(const char *path, char *err)
{
    int fd;
    if (file_open_regular(path, &fd, err)) return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        err_set(err, R1_ERR_NOMEM, "%s: cannot open a stream", path);
    }
    return f;
}

r1_status file_map_open(const char *path, bool use_mmap, file_map **out_map, char *err)
{
    int fd;
    r1_status st = file_open_regular(path, &fd, err);
    if (st) return st;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return err_set(err, R1_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    file_map *m = calloc(1, sizeof *m);
    if (!m) {
        close(fd);
        return err_set(err, R1_ERR_NOMEM, "%s: out of memory", path);
    }
    m->size = (size_t)sb.st_size;
    if (m->size == 0) {
        m->data = m; /* any non-NULL pointer; zero bytes are readable */
    } else if (use_mmap) {
        void *p = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            free(m);
            close(fd);
            return err_set(err, R1_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
        }
        m->data = p;
        m->is_mapped = true;
    } else {
        /* anonymous pages of our own (page-aligned, so file_map_release can map file pages
         * over parts of the copy) */
        void *p = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            size_t size = m->size;
            free(m);
            close(fd);
            return err_set(err, R1_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, size);
        }
#ifdef MADV_HUGEPAGE
        madvise(p, m->size, MADV_HUGEPAGE); /* weights are streamed: fewer TLB misses */
#endif
        uint8_t *buf = p;
        size_t got = 0;
        while (got < m->size) {
            ssize_t r = read(fd, buf + got, m->size - got);
            if (r <= 0) {
                if (r < 0 && errno == EINTR) continue;
                munmap(p, m->size);
                free(m);
                close(fd);
                return err_set(err, R1_ERR_IO, "%s: read failed", path);
            }
            got += (size_t)r;
        }
        m->data = buf;
        m->fd = fd;
        *out_map = m;
        return R1_OK;
    }
    close(fd);
    m->fd = -1;
    *out_map = m;
    return R1_OK;
}

void file_map_close(file_map *m)
{
    if (!m) return;
    if (m->data != m) munmap((void *)m->data, m->size);
    if (m->fd >= 0) close(m->fd);
    free(m);
}

void file_map_release(const file_map *m, const void *p, size_t n)
{
    if (!m || !n || m->data == m) return;
    /* only the map's own bytes: weights converted or transposed at load live in owned heap
     * memory, whose pages must neither be dropped nor replaced by file bytes */
    uintptr_t base = (uintptr_t)m->data;
    if ((uintptr_t)p < base || (uintptr_t)p - base > m->size || n > m->size - ((uintptr_t)p - base))
        return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1), hi = ((uintptr_t)p + n) & ~(page - 1);
    if (hi <= lo) return;
    if (m->is_mapped) {
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
        return;
    }
    /* a copy: map the same bytes of the file (data is page-aligned, so lo - data is a valid
     * file offset), then move that mapping over the copy's pages in one step; if either step
     * fails the copy simply stays */
#ifdef MREMAP_FIXED /* Linux */
    off_t off = (off_t)(lo - (uintptr_t)m->data);
    void *f = mmap(NULL, hi - lo, PROT_READ, MAP_PRIVATE, m->fd, off);
    if (f == MAP_FAILED) return;
    if (mremap(f, hi - lo, hi - lo, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)lo) == MAP_FAILED)
        munmap(f, hi - lo);
#endif
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define R1_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(R1_ASAN)
/* AddressSanitizer builds keep heap memory, whose bounds it checks */
void *mem_huge_alloc(size_t n)
{
    return n ? calloc(1, n) : NULL;
}

void mem_huge_free(void *p, size_t n)
{
    (void)n;
    free(p);
}
#else
void *mem_huge_alloc(size_t n)
{
    size_t huge = (size_t)2 << 20, len = (n + huge - 1) / huge * huge;
    if (!n || len < n) return NULL;
    void *p = mmap(NULL, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    uintptr_t a = ((uintptr_t)p + huge - 1) & ~(uintptr_t)(huge - 1);
    if (a > (uintptr_t)p) munmap(p, a - (uintptr_t)p);
    size_t tail = (uintptr_t)p + len + huge - (a + len);
    if (tail) munmap((void *)(a + len), tail);
#ifdef MADV_HUGEPAGE
    madvise((void *)a, len, MADV_HUGEPAGE);
#endif
    return (void *)a;
}

void mem_huge_free(void *p, size_t n)
{
    size_t huge = (size_t)2 << 20;
    if (p) munmap(p, (n + huge - 1) / huge * huge);
}
#endif
