/* dispatch.c — choose the kernel backend once per process: the best one this CPU runs, unless
 * R1_KERNELS names one (ref, scalar, avx2). The chosen table is the only global state of libr1:
 * it is written once (pthread_once) and read-only afterwards. */
#include "kernels/kernels.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static kern_backend_t backends[3];
static int n_backends;
static const kern_backend_t *chosen;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static bool cpu_has_avx2(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
#else
    return false;
#endif
}

static void init(void)
{
    kern_backend_init_ref(&backends[n_backends++]);
    kern_backend_init_scalar(&backends[n_backends++]);
#if defined(__x86_64__)
    if (cpu_has_avx2()) kern_backend_init_avx2(&backends[n_backends++]);
#endif
    chosen = &backends[n_backends - 1];
    const char *want = getenv("R1_KERNELS");
    if (want && *want && strcmp(want, "auto") != 0)
        for (int i = 0; i < n_backends; i++)
            if (!strcmp(backends[i].name, want)) chosen = &backends[i];
}

const kern_backend_t *kern_backend(void)
{
    pthread_once(&once, init);
    return chosen;
}

int kern_backends_available(const kern_backend_t **out, int cap)
{
    pthread_once(&once, init);
    int n = 0;
    for (int i = 0; i < n_backends && n < cap; i++) out[n++] = &backends[i];
    return n;
}
