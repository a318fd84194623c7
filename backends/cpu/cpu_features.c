/* cpu_features.c — which SIMD path the kernels take on this machine.
 *
 * Detected once (cpuid feature bits, and XGETBV to check that the OS saves
 * the wide registers). PARLEY_CPU=scalar|avx2|avx512|neon picks a
 * lower path; a request above what the CPU has is clamped down, never trusted,
 * because running an AVX-512 kernel on a CPU without it is a crash.
 * pl_cpu_force_level does the same for tests and rebuilds the type table.
 * The AVX2 path needs AVX2+FMA+F16C, the AVX-512 path F+BW+VL+DQ+VNNI: those are
 * the flags the Makefile compiles *_avx2.c / *_avx512.c with; *_avx512vbmi.c
 * adds VBMI, and cpu_has_avx512vbmi says whether its kernel may run.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <strings.h>

#include "cpu_impl.h"

static const char *const k_level_names[] = { "scalar", "avx2", "avx512", "neon" };

static int g_detected = -1;
static bool g_vbmi;   /* AVX-512 VBMI too (one kernel needs it: gemv_r16_q5_avx512vbmi.c) */
static atomic_int g_level = -1;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* XCR0: which register states the OS saves (0 without OSXSAVE). */
static uint64_t cpu_xcr0(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0;
    __asm__ volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(0));
    return ((uint64_t)d << 32) | a;
}

/* Best x86 path: cpuid feature bits and the OS saving YMM (and ZMM) state. */
static int cpu_detect_x86(void)
{
    unsigned a, b, c1, d, b7 = 0, c7 = 0;
    if (!__get_cpuid(1, &a, &b, &c1, &d)) return PL_CPU_SCALAR;
    if (__get_cpuid_max(0, NULL) >= 7) __cpuid_count(7, 0, a, b7, c7, d);
    uint64_t xcr0 = cpu_xcr0();
    bool ymm = (xcr0 & 0x6) == 0x6, zmm = (xcr0 & 0xe6) == 0xe6;
    bool avx2 = ymm && (c1 & (1u << 12)) && (c1 & (1u << 29)) && (b7 & (1u << 5));   /* FMA F16C AVX2 */
    bool avx512 = avx2 && zmm && (b7 & (1u << 16)) && (b7 & (1u << 17)) &&             /* F DQ */
                  (b7 & (1u << 30)) && (b7 & (1u << 31)) && (c7 & (1u << 11));         /* BW VL VNNI */
    g_vbmi = avx512 && (c7 & (1u << 1));
    return avx512 ? PL_CPU_AVX512 : avx2 ? PL_CPU_AVX2 : PL_CPU_SCALAR;
}
#endif

/* Best path this CPU can run. */
static int cpu_detect(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return cpu_detect_x86();
#elif defined(__ARM_NEON) || defined(__aarch64__)
    return PL_CPU_NEON;
#else
    return PL_CPU_SCALAR;
#endif
}

/* Clamp a requested level to what the CPU has (NEON and x86 never mix). */
static int cpu_clamp(int want)
{
    if (want <= PL_CPU_SCALAR) return PL_CPU_SCALAR;
    if (g_detected == PL_CPU_NEON) return want == PL_CPU_NEON ? PL_CPU_NEON : PL_CPU_SCALAR;
    if (want == PL_CPU_NEON) return PL_CPU_SCALAR;
    return want < g_detected ? want : g_detected;
}

/* Detect, then apply PARLEY_CPU if set. */
static void cpu_init_once(void)
{
    g_detected = cpu_detect();
    int level = g_detected;
    const char *env = getenv("PARLEY_CPU");
    if (env && *env)
        for (int i = 0; i < 4; i++)
            if (strcasecmp(env, k_level_names[i]) == 0) level = cpu_clamp(i);
    int expect = -1;
    atomic_compare_exchange_strong(&g_level, &expect, level);
}

/* The path kernels use now. Called per attention row: once the level is
 * set, one acquire load and no pthread_once. */
int pl_cpu_level(void)
{
    int l = atomic_load_explicit(&g_level, memory_order_acquire);
    if (l >= 0) return l;
    pthread_once(&g_once, cpu_init_once);
    return atomic_load(&g_level);
}

/* "scalar", "avx2", "avx512", "neon". */
const char *pl_cpu_level_name(int level)
{
    if (level < 0 || level > 3) return "unknown";
    return k_level_names[level];
}

/* Tests: run on a lower path (clamped to the CPU); rebuilds the type table. */
void pl_cpu_force_level(int level)
{
    pthread_once(&g_once, cpu_init_once);
    if (level < 0) level = g_detected;
    atomic_store(&g_level, cpu_clamp(level));
    cpu_traits_reselect(atomic_load(&g_level));
}

/* The AVX-512 path is taken and the CPU has VBMI as well. */
bool cpu_has_avx512vbmi(void)
{
    return pl_cpu_level() == PL_CPU_AVX512 && g_vbmi;
}

/* Best path the CPU has, ignoring PARLEY_CPU and forcing. */
int pl_cpu_detected_level(void)
{
    pthread_once(&g_once, cpu_init_once);
    return g_detected;
}
