/* dispatch.c — choose the kernel backend once per process: the best one this CPU runs, unless
 * R1_KERNELS names one (ref, scalar, avx2, neon). The chosen table is the only global state of
 * libr1: it is written once (pthread_once) and read-only afterwards. */
#include "kernels/kernels.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static kern_backend_t backends[3]; /* ref, scalar, and the best this CPU runs */
static int n_backends;
static const kern_backend_t *chosen;
static pthread_once_t once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__)
#include <cpuid.h>

/* AVX2 + FMA + F16C, and the OS saves the YMM registers (XCR0 bits 1-2). */
static bool cpu_has_avx2(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28),
         f16c = c & (1u << 29);
    if (!(fma && osxsave && avx && f16c)) return false;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6) != 6) return false;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    return b & (1u << 5);
}

/* vpdpbusd on 256-bit registers: 2 = AVX512-VNNI + VL + BW (EVEX; CPUID.(7,0):ECX bit 11, EBX bits
 * 31, 30, and the OS saving the AVX-512 state, XCR0 bits 5-7), 1 = AVX-VNNI (VEX; CPUID.(7,1):EAX
 * bit 4), 0 = neither. R1_REPACK=0 turns the repacked path off (for comparisons). */
static int cpu_vnni_level(void)
{
    const char *env = getenv("R1_REPACK");
    if (env && !strcmp(env, "0")) return 0;
    unsigned a, b, c, d, lo, hi;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1u << 11)) && (b & (1u << 31)) &&
        (b & (1u << 30))) {
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        if ((lo & 0xe6) == 0xe6) return 2;
    }
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 4))) return 1;
    return 0;
}

/* AVX-512F + VL, and the OS saves the AVX-512 state (XCR0 bits 5-7). */
static bool cpu_has_avx512vl(void)
{
    unsigned a, b, c, d, lo, hi;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 16)) || !(b & (1u << 31)))
        return false;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0xe6) == 0xe6;
}

/* AVX512-BF16 (CPUID.(7,1):EAX bit 5) with AVX-512BW for the interleaving; R1_ATTN_BF16=0 turns
 * the bf16 attention kernels off (comparisons against the fp32 arithmetic). */
static bool cpu_has_avx512bf16(void)
{
    const char *env = getenv("R1_ATTN_BF16");
    if (env && !strcmp(env, "0")) return false;
    unsigned a, b, c, d;
    if (!cpu_has_avx512vl() || !__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 30)))
        return false;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5));
}
#endif

static void init(void)
{
    kern_backend_init_ref(&backends[n_backends++]);
    kern_backend_init_scalar(&backends[n_backends++]);
#if defined(__x86_64__)
    if (cpu_has_avx2()) {
        kern_backend_init_avx2(&backends[n_backends]);
        if (cpu_has_avx512vl()) {
            kern_backend_add_attn_avx512(&backends[n_backends]);
            kern_backend_add_gemm_float_avx512(&backends[n_backends]);
            kern_backend_add_prefill_avx512(&backends[n_backends]);
            if (cpu_has_avx512bf16()) kern_backend_add_attn_bf16(&backends[n_backends]);
        } else {
            kern_backend_add_attn_avx2(&backends[n_backends]);
            kern_backend_add_gemm_float_avx2(&backends[n_backends]);
            kern_backend_add_prefill_avx2(&backends[n_backends]);
        }
        int vnni = cpu_vnni_level();
        if (vnni == 2)
            kern_backend_add_vnni_evex(&backends[n_backends]);
        else if (vnni == 1)
            kern_backend_add_vnni_vex(&backends[n_backends]);
        n_backends++;
    }
#elif defined(__aarch64__)
    kern_backend_init_neon(&backends[n_backends++]); /* Advanced SIMD: part of every AArch64 CPU */
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
