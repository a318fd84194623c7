/* types.c — the element-type table: sizes, names, converters and dot kernels.
 *
 * One row per GGUF type id parley computes with. The static part (name, block
 * size, bytes, reference kernels) never changes; the vec_dot pointer is chosen
 * from the CPU level the first time the table is read, and again when a test
 * forces a level. Selection prefers the level's own kernel, then the next
 * lower x86 level, then the scalar reference, so a type without a SIMD twin
 * still works everywhere.
 *
 * Activation pairing (vec_dot_type): Q4_0/Q5_0/Q8_0 -> Q8_0, Q4_1/Q5_1 -> Q8_1
 * (its s = d*sum(q) folds the weight minimum in, as ggml does), K-quants ->
 * Q8_K, F32/F16/BF16 -> F32 (weights widened on the fly: no activation
 * rounding, so F16/BF16 matmuls are as exact as F32 ones).
 */
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "backend.h"
#include "cpu/cpu_impl.h"
#include "types.h"

/* SIMD kernel names where the ISA exists in this build, else NULL. */
#if defined(__x86_64__) || defined(__i386__)
#define A2(T) cpu_##T##_dot_avx2
#define A5(T) cpu_##T##_dot_avx512
#else
#define A2(T) NULL
#define A5(T) NULL
#endif
#if defined(__ARM_NEON) || defined(__aarch64__)
#define NE(T) cpu_##T##_dot_neon
#else
#define NE(T) NULL
#endif
#define NONE(T) NULL

/* One type's fixed facts plus its dot kernel per CPU level. */
typedef struct type_row {
    pl_type_traits t;
    pl_vec_dot_fn  avx2, avx512, neon;
} type_row;

#define ROW(ID, NAME, BS, SZ, Q, VT, T, AVX2, AVX512, NEON)                        \
    [ID] = { { NAME, BS, SZ, Q, VT, cpu_##T##_to_float, cpu_##T##_from_float,      \
               cpu_##T##_dot_ref, cpu_##T##_dot_ref }, AVX2(T), AVX512(T), NEON(T) }
#define ROW_ACT(ID, NAME, BS, SZ, T)                                              \
    [ID] = { { NAME, BS, SZ, true, ID, cpu_##T##_to_float, cpu_##T##_from_float,   \
               NULL, NULL }, NULL, NULL, NULL }

static const type_row k_rows[PL_TYPE_COUNT] = {
    ROW(PL_TYPE_F32,  "f32",  1, 4, false, PL_TYPE_F32, f32, A2, NONE, NE),
    ROW(PL_TYPE_F16,  "f16",  1, 2, false, PL_TYPE_F32, f16, A2, NONE, NE),
    ROW(PL_TYPE_BF16, "bf16", 1, 2, false, PL_TYPE_F32, bf16, A2, NONE, NONE),
    ROW(PL_TYPE_Q4_0, "q4_0", QK4_0, sizeof(block_q4_0), true, PL_TYPE_Q8_0, q4_0, A2, A5, NE),
    ROW(PL_TYPE_Q4_1, "q4_1", QK4_1, sizeof(block_q4_1), true, PL_TYPE_Q8_1, q4_1, A2, A5, NE),
    ROW(PL_TYPE_Q5_0, "q5_0", QK5_0, sizeof(block_q5_0), true, PL_TYPE_Q8_0, q5_0, A2, A5, NE),
    ROW(PL_TYPE_Q5_1, "q5_1", QK5_1, sizeof(block_q5_1), true, PL_TYPE_Q8_1, q5_1, A2, A5, NE),
    ROW(PL_TYPE_Q8_0, "q8_0", QK8_0, sizeof(block_q8_0), true, PL_TYPE_Q8_0, q8_0, A2, A5, NE),
    ROW_ACT(PL_TYPE_Q8_1, "q8_1", QK8_1, sizeof(block_q8_1), q8_1),
    ROW(PL_TYPE_Q2_K, "q2_K", QK_K, sizeof(block_q2_K), true, PL_TYPE_Q8_K, q2_K, A2, NONE, NONE),
    ROW(PL_TYPE_Q3_K, "q3_K", QK_K, sizeof(block_q3_K), true, PL_TYPE_Q8_K, q3_K, A2, NONE, NONE),
    ROW(PL_TYPE_Q4_K, "q4_K", QK_K, sizeof(block_q4_K), true, PL_TYPE_Q8_K, q4_K, A2, A5, NONE),
    ROW(PL_TYPE_Q5_K, "q5_K", QK_K, sizeof(block_q5_K), true, PL_TYPE_Q8_K, q5_K, A2, A5, NONE),
    ROW(PL_TYPE_Q6_K, "q6_K", QK_K, sizeof(block_q6_K), true, PL_TYPE_Q8_K, q6_K, A2, A5, NONE),
    ROW_ACT(PL_TYPE_Q8_K, "q8_K", QK_K, sizeof(block_q8_K), q8_K),
};

static pl_type_traits g_traits[PL_TYPE_COUNT];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* Pick the dot kernel of one row for a CPU level (falls back downwards). */
static pl_vec_dot_fn type_row_pick(const type_row *r, int level)
{
    if (level == PL_CPU_AVX512 && r->avx512) return r->avx512;
    if ((level == PL_CPU_AVX512 || level == PL_CPU_AVX2) && r->avx2) return r->avx2;
    if (level == PL_CPU_NEON && r->neon) return r->neon;
    return r->t.vec_dot_ref;
}

/* Rebuild the live table for a level; called at first use and by tests. */
void cpu_traits_reselect(int level)
{
    for (int i = 0; i < PL_TYPE_COUNT; i++) {
        g_traits[i] = k_rows[i].t;
        g_traits[i].vec_dot = type_row_pick(&k_rows[i], level);
    }
}

static void types_init_once(void) { cpu_traits_reselect(pl_cpu_level()); }

/* The traits of t, or NULL for an id parley cannot compute with. */
const pl_type_traits *pl_type_traits_get(pl_type t)
{
    if ((unsigned)t >= PL_TYPE_COUNT || !k_rows[t].t.name) return NULL;
    pthread_once(&g_once, types_init_once);
    return &g_traits[t];
}

/* Bytes of a row of n elements; 0 for an unknown type or a ragged n. */
size_t pl_row_size(pl_type t, int64_t n)
{
    if ((unsigned)t >= PL_TYPE_COUNT || !k_rows[t].t.name || n < 0) return 0;
    const pl_type_traits *tr = &k_rows[t].t;
    if (n % tr->block_size) return 0;
    return (size_t)(n / tr->block_size) * tr->type_size;
}

/* Short lower-case name ("q4_0", "q4_K"), NULL if parley does not know t. */
const char *pl_type_name(pl_type t)
{
    if ((unsigned)t >= PL_TYPE_COUNT) return NULL;
    return k_rows[t].t.name;
}

/* Type id from its name, case-insensitive ("Q8_0", "q4_k"); -1 if unknown. */
int pl_type_from_name(const char *s)
{
    if (!s) return -1;
    for (int i = 0; i < PL_TYPE_COUNT; i++)
        if (k_rows[i].t.name && strcasecmp(k_rows[i].t.name, s) == 0) return i;
    return -1;
}

/* ---- half and bfloat16 ----------------------------------------------- */

/* IEEE half bits to float (exact: every half is a float). */
float pl_f16_to_f32(pl_f16 h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        float f = (float)mant * 0x1p-24f;   /* zero or subnormal */
        return sign ? -f : f;
    }
    if (exp == 31) bits = sign | 0x7f800000u | (mant << 13);
    else bits = sign | ((exp + 112) << 23) | (mant << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Float to IEEE half, round to nearest even; overflow gives inf, NaN stays NaN. */
pl_f16 pl_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) return sign | 0x7e00;     /* NaN */
    if (x >= 0x477ff000u) return sign | 0x7c00;    /* >= 65520: inf */
    if (x < 0x38800000u) {                         /* below 2^-14: subnormal */
        float a;
        memcpy(&a, &x, 4);
        return sign | (uint16_t)rintf(a * 0x1p24f);
    }
    uint32_t r = (x + 0xfffu + ((x >> 13) & 1u)) >> 13;
    return sign | (uint16_t)(r - (112u << 10));
}

/* bfloat16 bits to float (exact). */
float pl_bf16_to_f32(pl_bf16 h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Float to bfloat16, round to nearest even; NaN stays a quiet NaN. */
pl_bf16 pl_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (pl_bf16)((x >> 16) | 0x40);
    return (pl_bf16)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}
