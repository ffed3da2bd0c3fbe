/* The emulated model's CPU-heavy stages in C: the same operations on the same values as the
 * numpy code in preprocess.py, network.py and bfp.py, so the same bits (tests/server compare
 * the two paths bit for bit). Loaded with ctypes by kernels.py; built by
 * scripts/build-kernels.sh (and the server image's builder stage).
 *
 * Why the bits are the same:
 *  - pre-processing does the numpy code's float64 multiplications and additions one by one,
 *    in the same order, each rounded to nearest; the build turns off contraction into fused
 *    multiply-adds (-ffp-contract=off) and never uses -ffast-math;
 *  - every block floating point product is a sum of integer products, which the numpy code
 *    computes in float32/float64 BLAS exactly (bfp.py says why) and this code in int32, exactly;
 *    the scalings are by powers of two, exact (ldexp) within the ranges the numpy float32 path
 *    also checks: outside them this code declines (returns KERNEL_DECLINED) and the caller takes
 *    the numpy float64 path;
 *  - rounding to integers is rint (to nearest, ties to even), as numpy's rint;
 *  - the softmax's exponentials are the C library's exp, the function Python's math.exp calls.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#define KERNELS_ABI 1
#define KERNEL_OK 0
#define KERNEL_DECLINED 1

#define CROP 224
#define MANTISSA_BITS 5
#define MANTISSA_LIMIT 31
#define SAFE_EXPONENT 60          /* bfp.FLOAT32_SAFE_EXPONENT */
#define POOL_SPAN 24              /* bfp.sum_rows_exact's span */
/* A float64 block exponent within this bound scales by a normal power of two both ways: the
 * numpy code then computes finite values only, which this code reproduces; beyond it (values
 * near float64's limits, from extreme float inputs) the caller takes the numpy path. */
#define FLOAT64_SAFE_EXPONENT 900

#define L1_ROWS 784               /* 28 x 28 patches of 8 x 8 x 3 */
#define L1_K 192
#define L1_N 128
#define L2_ROWS 196               /* 14 x 14 patches of 2 x 2 x 128 */
#define L2_K 512
#define L2_N 256
#define L3_K 256
#define FEATURES 2048
#define CLASSES 1000
#define CLASSIFIER_LIMIT 127      /* 7-bit mantissas */
#define CLASSIFIER_BITS 7

#ifdef __FAST_MATH__
#error "the kernels must be built without -ffast-math: it changes the bits"
#endif

#ifndef KERNELS_SOURCE_DIGEST
#define KERNELS_SOURCE_DIGEST "unknown"
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
/* Each entry point is compiled three times (AVX-512, AVX2, baseline x86-64) and picked for the
 * CPU when the library loads; the helpers below are inlined into each copy. */
#define HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HOT
#endif
#define INLINE static inline __attribute__((always_inline))

int fs_abi(void) { return KERNELS_ABI; }

const char *fs_source_digest(void) { return KERNELS_SOURCE_DIGEST; }

/* ---- pre-processing: bilinear resize taps, BGR reorder, mean subtraction ---------------- */

/* The source values one output row reads: at most 2 x 2 x 224 columns of 3 channels (the plan
 * gathers the columns it needs where their span is wider than that). */
#define MAX_READ_VALUES (2 * 2 * CROP * 3)

/* src: uint8 RGB rows of `width` pixels. Output row r interpolates source rows rows0[r] and
 * rows1[r] with weights row_keep[r] (1 - w) and row_take[r] (w), first over the values it reads
 * (`read_count` of them: those from `read_first` on, or at the offsets `read_values` when not
 * NULL), into `vertical`; then each output value j of the row (224 x 3, BGR) from the two
 * vertical values taps_left[j] and taps_right[j] with column_keep[j], column_take[j], minus
 * means_row[j]: the numpy code's two passes, the same operations. out: float32 [224, 224, 3].
 * Returns KERNEL_DECLINED where read_count exceeds MAX_READ_VALUES. */
HOT int fs_preprocess(const uint8_t *src, int64_t width,
                      const int64_t *rows0, const int64_t *rows1, const double *row_keep, const double *row_take,
                      const int64_t *read_values, int64_t read_first, int64_t read_count,
                      const int64_t *taps_left, const int64_t *taps_right,
                      const double *column_keep, const double *column_take, const float *means_row, float *out) {
    double vertical[MAX_READ_VALUES];
    if (read_count > MAX_READ_VALUES || read_count < 0) return KERNEL_DECLINED;
    for (int r = 0; r < CROP; r++) {
        const uint8_t *top = src + rows0[r] * width * 3;
        const uint8_t *bottom = src + rows1[r] * width * 3;
        const double keep = row_keep[r], take = row_take[r];
        if (read_values == NULL) {
            const uint8_t *t = top + read_first, *b = bottom + read_first;
            for (int64_t i = 0; i < read_count; i++) vertical[i] = (double)t[i] * keep + (double)b[i] * take;
        } else {
            for (int64_t i = 0; i < read_count; i++)
                vertical[i] = (double)top[read_values[i]] * keep + (double)bottom[read_values[i]] * take;
        }
        float *row = out + (int64_t)r * CROP * 3;
        for (int j = 0; j < CROP * 3; j++) {
            const float value = (float)(vertical[taps_left[j]] * column_keep[j] + vertical[taps_right[j]] * column_take[j]);
            row[j] = value - means_row[j];
        }
    }
    return KERNEL_OK;
}

/* ---- block floating point helpers ------------------------------------------------------ */

/* The block exponent of a row whose largest magnitude is `largest` (bfp.quantize_rows). */
INLINE int block_exponent_f(float largest) {
    int top;
    if (!(largest > 0.0f)) return 0;
    frexpf(largest, &top);
    return top - MANTISSA_BITS;
}

INLINE float clip_f(float m, float limit) {
    return m > limit ? limit : (m < -limit ? -limit : m);
}

/* Quantizes `count` float32 values to 5-bit mantissas with the exponent of their largest
 * magnitude, as bfp.quantize_rows_float32; KERNEL_DECLINED when the exponent is outside the
 * safe range. */
INLINE int quantize_f(const float *values, int count, int16_t *mantissas, int *exponent) {
    /* The largest magnitude through the bit patterns: for finite floats without their sign,
     * the integer order is the numeric order (and an integer maximum vectorizes). */
    uint32_t largest_bits = 0;
    for (int i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, values + i, sizeof(bits));
        bits &= 0x7fffffffu;
        largest_bits = bits > largest_bits ? bits : largest_bits;
    }
    float largest;
    memcpy(&largest, &largest_bits, sizeof(largest));
    const int e = block_exponent_f(largest);
    if (e < -SAFE_EXPONENT || e > SAFE_EXPONENT) return KERNEL_DECLINED;
    const float scale = ldexpf(1.0f, -e);
    for (int i = 0; i < count; i++)
        mantissas[i] = (int16_t)clip_f(rintf(values[i] * scale), (float)MANTISSA_LIMIT);
    *exponent = e;
    return KERNEL_OK;
}

/* out[r, j] = sum_i a[r, i] * b[i, j], exactly in int32 (every sum is below 2**24). b comes as
 * pairs: bp[(i / 2) * n * 2 + j * 2 + i % 2] = b[i, j] (k even), so that one 32-bit lane holds
 * the two weights a pair of a's values meets (pmaddwd's operands). n is a multiple of 32. */
typedef void (*product_kernel)(const int16_t *a, const int16_t *bp, int rows, int k, int n, int32_t *out);

static void product_portable(const int16_t *a, const int16_t *bp, int rows, int k, int n, int32_t *out) {
    for (int r = 0; r < rows; r++) {
        int32_t *o = out + (int64_t)r * n;
        memset(o, 0, (size_t)n * sizeof(int32_t));
        for (int p = 0; p < k / 2; p++) {
            const int32_t x0 = a[(int64_t)r * k + 2 * p], x1 = a[(int64_t)r * k + 2 * p + 1];
            const int16_t *w = bp + (int64_t)p * n * 2;
            for (int j = 0; j < n; j++) o[j] += x0 * w[2 * j] + x1 * w[2 * j + 1];
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
static int32_t pair_at(const int16_t *a, int64_t index) {
    int32_t pair;
    memcpy(&pair, a + index, sizeof(pair));
    return pair;
}

/* 4 rows x 16 columns of accumulators per block (8 registers), one pmaddwd per row, column
 * group and pair of k. */
__attribute__((target("avx2")))
static void product_avx2(const int16_t *a, const int16_t *bp, int rows, int k, int n, int32_t *out) {
    int r = 0;
    for (; r + 4 <= rows; r += 4) {
        for (int j = 0; j < n; j += 16) {
            __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00;
            __m256i c20 = c00, c21 = c00, c30 = c00, c31 = c00;
            for (int p = 0; p < k / 2; p++) {
                const int16_t *w = bp + ((int64_t)p * n + j) * 2;
                const __m256i w0 = _mm256_loadu_si256((const __m256i *)w);
                const __m256i w1 = _mm256_loadu_si256((const __m256i *)(w + 16));
                __m256i x = _mm256_set1_epi32(pair_at(a, (int64_t)r * k + 2 * p));
                c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(x, w0));
                c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(x, w1));
                x = _mm256_set1_epi32(pair_at(a, (int64_t)(r + 1) * k + 2 * p));
                c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(x, w0));
                c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(x, w1));
                x = _mm256_set1_epi32(pair_at(a, (int64_t)(r + 2) * k + 2 * p));
                c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(x, w0));
                c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(x, w1));
                x = _mm256_set1_epi32(pair_at(a, (int64_t)(r + 3) * k + 2 * p));
                c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(x, w0));
                c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(x, w1));
            }
            int32_t *o = out + (int64_t)r * n + j;
            _mm256_storeu_si256((__m256i *)o, c00);
            _mm256_storeu_si256((__m256i *)(o + 8), c01);
            _mm256_storeu_si256((__m256i *)(o + n), c10);
            _mm256_storeu_si256((__m256i *)(o + n + 8), c11);
            _mm256_storeu_si256((__m256i *)(o + 2 * n), c20);
            _mm256_storeu_si256((__m256i *)(o + 2 * n + 8), c21);
            _mm256_storeu_si256((__m256i *)(o + 3 * n), c30);
            _mm256_storeu_si256((__m256i *)(o + 3 * n + 8), c31);
        }
    }
    for (; r < rows; r++) {  /* the rows left, one at a time (the last layer has one) */
        for (int j = 0; j < n; j += 16) {
            __m256i c0 = _mm256_setzero_si256(), c1 = c0;
            for (int p = 0; p < k / 2; p++) {
                const int16_t *w = bp + ((int64_t)p * n + j) * 2;
                const __m256i x = _mm256_set1_epi32(pair_at(a, (int64_t)r * k + 2 * p));
                c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(x, _mm256_loadu_si256((const __m256i *)w)));
                c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(x, _mm256_loadu_si256((const __m256i *)(w + 16))));
            }
            _mm256_storeu_si256((__m256i *)(out + (int64_t)r * n + j), c0);
            _mm256_storeu_si256((__m256i *)(out + (int64_t)r * n + j + 8), c1);
        }
    }
}

/* The same with 512-bit registers and vpdpwssd (multiply, add pairs and accumulate in one):
 * 4 rows x 32 columns per block. */
__attribute__((target("avx512f,avx512vnni")))
static void product_avx512vnni(const int16_t *a, const int16_t *bp, int rows, int k, int n, int32_t *out) {
    int r = 0;
    for (; r + 4 <= rows; r += 4) {
        for (int j = 0; j < n; j += 32) {
            __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00;
            __m512i c20 = c00, c21 = c00, c30 = c00, c31 = c00;
            for (int p = 0; p < k / 2; p++) {
                const int16_t *w = bp + ((int64_t)p * n + j) * 2;
                const __m512i w0 = _mm512_loadu_si512((const void *)w);
                const __m512i w1 = _mm512_loadu_si512((const void *)(w + 32));
                __m512i x = _mm512_set1_epi32(pair_at(a, (int64_t)r * k + 2 * p));
                c00 = _mm512_dpwssd_epi32(c00, x, w0);
                c01 = _mm512_dpwssd_epi32(c01, x, w1);
                x = _mm512_set1_epi32(pair_at(a, (int64_t)(r + 1) * k + 2 * p));
                c10 = _mm512_dpwssd_epi32(c10, x, w0);
                c11 = _mm512_dpwssd_epi32(c11, x, w1);
                x = _mm512_set1_epi32(pair_at(a, (int64_t)(r + 2) * k + 2 * p));
                c20 = _mm512_dpwssd_epi32(c20, x, w0);
                c21 = _mm512_dpwssd_epi32(c21, x, w1);
                x = _mm512_set1_epi32(pair_at(a, (int64_t)(r + 3) * k + 2 * p));
                c30 = _mm512_dpwssd_epi32(c30, x, w0);
                c31 = _mm512_dpwssd_epi32(c31, x, w1);
            }
            int32_t *o = out + (int64_t)r * n + j;
            _mm512_storeu_si512((void *)o, c00);
            _mm512_storeu_si512((void *)(o + 16), c01);
            _mm512_storeu_si512((void *)(o + n), c10);
            _mm512_storeu_si512((void *)(o + n + 16), c11);
            _mm512_storeu_si512((void *)(o + 2 * n), c20);
            _mm512_storeu_si512((void *)(o + 2 * n + 16), c21);
            _mm512_storeu_si512((void *)(o + 3 * n), c30);
            _mm512_storeu_si512((void *)(o + 3 * n + 16), c31);
        }
    }
    for (; r < rows; r++) {  /* the rows left, one at a time (the last layer has one) */
        for (int j = 0; j < n; j += 32) {
            __m512i c0 = _mm512_setzero_si512(), c1 = c0;
            for (int p = 0; p < k / 2; p++) {
                const int16_t *w = bp + ((int64_t)p * n + j) * 2;
                const __m512i x = _mm512_set1_epi32(pair_at(a, (int64_t)r * k + 2 * p));
                c0 = _mm512_dpwssd_epi32(c0, x, _mm512_loadu_si512((const void *)w));
                c1 = _mm512_dpwssd_epi32(c1, x, _mm512_loadu_si512((const void *)(w + 32)));
            }
            _mm512_storeu_si512((void *)(out + (int64_t)r * n + j), c0);
            _mm512_storeu_si512((void *)(out + (int64_t)r * n + j + 16), c1);
        }
    }
}
#endif

/* The product kernels, best first; fs_use_variant picks one (tests run each this CPU has). */
typedef struct {
    const char *name;
    product_kernel kernel;
} variant;

static const variant VARIANTS[] = {
#if defined(__x86_64__) && defined(__GNUC__)
    {"avx512vnni", product_avx512vnni},
    {"avx2", product_avx2},
#endif
    {"portable", product_portable},
};
#define VARIANT_COUNT ((int)(sizeof(VARIANTS) / sizeof(VARIANTS[0])))

static int variant_supported(int index) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    const char *name = VARIANTS[index].name;
    if (strcmp(name, "avx512vnni") == 0) return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vnni");
    if (strcmp(name, "avx2") == 0) return __builtin_cpu_supports("avx2");
#endif
    (void)index;
    return 1;
}

static int chosen_variant = -1;

static int best_variant(void) {
    for (int i = 0; i < VARIANT_COUNT; i++)
        if (variant_supported(i)) return i;
    return VARIANT_COUNT - 1;
}

static const variant *current_variant(void) {
    if (chosen_variant < 0) chosen_variant = best_variant();
    return &VARIANTS[chosen_variant];
}

/* The variant in use, by name. */
const char *fs_variant(void) { return current_variant()->name; }

/* Uses the named variant from now on: 0, or -1 when this CPU or build has no such variant. */
int fs_use_variant(const char *name) {
    for (int i = 0; i < VARIANT_COUNT; i++)
        if (strcmp(VARIANTS[i].name, name) == 0 && variant_supported(i)) {
            chosen_variant = i;
            return 0;
        }
    return -1;
}

static void integer_product(const int16_t *a, const int16_t *bp, int rows, int k, int n, int32_t *out) {
    current_variant()->kernel(a, bp, rows, k, n, out);
}

/* float32 ReLU(sums * 2**exponent) of one row: the numpy path's scaled product and maximum. */
INLINE void scaled_relu_row(const int32_t *sums, int n, int exponent, float *out) {
    const float scale = ldexpf(1.0f, exponent);
    for (int j = 0; j < n; j++) {
        const float v = (float)sums[j] * scale;
        out[j] = v > 0.0f ? v : 0.0f;
    }
}

/* ---- the featurizer ---------------------------------------------------------------------- */

typedef struct {
    int16_t m1[L1_ROWS * L1_K];
    int e1[L1_ROWS];
    int32_t s1[L1_ROWS * L1_N];
    float v1[L1_ROWS * L1_N];
    int16_t m2[L2_ROWS * L2_K];
    int e2[L2_ROWS];
    int32_t s2[L2_ROWS * L2_N];
    float v2[L2_ROWS * L2_N];
    float patch[L2_K];  /* one patch of layer 1 (192 values) or layer 2 (512) */
} workspace;

int64_t fs_featurize_workspace_bytes(void) { return (int64_t)sizeof(workspace); }

/* image: float32 [224, 224, 3]; w1p [96, 128, 2], w2p [256, 256, 2], w3p [128, 2048, 2]: the
 * layers' 5-bit weight mantissas as pairs (see integer_product; their column exponents are all
 * 0, checked by the caller);
 * features: float32 [2048]; ws: fs_featurize_workspace_bytes() bytes, 16-byte aligned. */
HOT int fs_featurize(const float *image, const int16_t *w1p, const int16_t *w2p, const int16_t *w3p,
                 float *features, void *ws_memory) {
    workspace *ws = (workspace *)ws_memory;
    /* layer 1: 8 x 8 x 3 patches, row-major (dy, dx, channel) within a patch */
    for (int py = 0; py < 28; py++) {
        for (int px = 0; px < 28; px++) {
            const int p = py * 28 + px;
            for (int dy = 0; dy < 8; dy++)
                memcpy(ws->patch + dy * 24, image + ((int64_t)(py * 8 + dy) * CROP + px * 8) * 3, 24 * sizeof(float));
            if (quantize_f(ws->patch, L1_K, ws->m1 + p * L1_K, &ws->e1[p]) != KERNEL_OK) return KERNEL_DECLINED;
        }
    }
    integer_product(ws->m1, w1p, L1_ROWS, L1_K, L1_N, ws->s1);
    for (int p = 0; p < L1_ROWS; p++) scaled_relu_row(ws->s1 + p * L1_N, L1_N, ws->e1[p], ws->v1 + p * L1_N);
    /* layer 2: 2 x 2 x 128 patches of layer 1's 28 x 28 x 128 output */
    for (int qy = 0; qy < 14; qy++) {
        for (int qx = 0; qx < 14; qx++) {
            const int q = qy * 14 + qx;
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++)
                    memcpy(ws->patch + (dy * 2 + dx) * L1_N, ws->v1 + ((2 * qy + dy) * 28 + 2 * qx + dx) * L1_N,
                           L1_N * sizeof(float));
            if (quantize_f(ws->patch, L2_K, ws->m2 + q * L2_K, &ws->e2[q]) != KERNEL_OK) return KERNEL_DECLINED;
        }
    }
    integer_product(ws->m2, w2p, L2_ROWS, L2_K, L2_N, ws->s2);
    for (int q = 0; q < L2_ROWS; q++) scaled_relu_row(ws->s2 + q * L2_N, L2_N, ws->e2[q], ws->v2 + q * L2_N);
    /* the pool: each row of layer 2's output quantized (its own exponent), summed exactly in
     * integers with rows more than POOL_SPAN below the top exponent flushed, then the mean */
    int16_t *m3 = ws->m2;  /* reused: 196 x 256 fits in 196 x 512 */
    int *e3 = ws->e2;
    int top = INT32_MIN;
    for (int q = 0; q < L2_ROWS; q++) {
        if (quantize_f(ws->v2 + q * L2_N, L2_N, m3 + q * L2_N, &e3[q]) != KERNEL_OK) return KERNEL_DECLINED;
        if (e3[q] > top) top = e3[q];
    }
    const int floor_exponent = top - POOL_SPAN;
    int64_t sums[L3_K];
    memset(sums, 0, sizeof(sums));
    for (int q = 0; q < L2_ROWS; q++) {
        if (e3[q] < floor_exponent) continue;
        const int shift = e3[q] - floor_exponent;
        const int16_t *row = m3 + q * L2_N;
        for (int j = 0; j < L3_K; j++) sums[j] += (int64_t)row[j] * ((int64_t)1 << shift);
    }
    double pooled[L3_K];
    double largest = 0.0;
    for (int j = 0; j < L3_K; j++) {
        pooled[j] = ldexp((double)sums[j], floor_exponent) / (double)L2_ROWS;
        if (fabs(pooled[j]) > largest) largest = fabs(pooled[j]);
    }
    /* layer 3: the pooled vector quantized in float64 (bfp.quantize_rows), times w3 */
    if (!isfinite(largest)) return KERNEL_DECLINED;
    int e = 0;
    if (largest > 0.0) {
        frexp(largest, &e);
        e -= MANTISSA_BITS;
    }
    if (e < -FLOAT64_SAFE_EXPONENT || e > FLOAT64_SAFE_EXPONENT) return KERNEL_DECLINED;
    const double scale = ldexp(1.0, -e);
    int16_t m[L3_K];
    for (int j = 0; j < L3_K; j++) {
        double v = rint(pooled[j] * scale);
        m[j] = (int16_t)(v > MANTISSA_LIMIT ? MANTISSA_LIMIT : (v < -MANTISSA_LIMIT ? -MANTISSA_LIMIT : v));
    }
    int32_t s3[FEATURES];
    integer_product(m, w3p, 1, L3_K, FEATURES, s3);
    const double feature_scale = ldexp(1.0, e);
    for (int j = 0; j < FEATURES; j++) {
        const double v = (double)s3[j] * feature_scale;
        features[j] = (float)(v > 0.0 ? v : 0.0);
    }
    return KERNEL_OK;
}

/* ---- the classifier ------------------------------------------------------------------------ */

/* out[j] = sum_i x[i] * wt[j, i] for int16 x and int8 weights (exact in int32: 2048 x 127 x 127). */
INLINE void classifier_product(const int16_t *x, const int8_t *wt, int32_t *out) {
    for (int j = 0; j < CLASSES; j++) {
        const int8_t *w = wt + (int64_t)j * FEATURES;
        int32_t s = 0;
        for (int i = 0; i < FEATURES; i++) s += (int32_t)x[i] * w[i];
        out[j] = s;
    }
}

/* features: float32 [n, 2048]; wt: int8 [1000, 2048] (7-bit weights, class-major); column_sums:
 * int64 [1000]; exps: float64 [n, 1000], each row exp(logit - its largest logit). The caller
 * divides each row by its correctly rounded sum (math.fsum), as network._softmax does. */
HOT int fs_classify(const float *features, int64_t n, const int8_t *wt, const int64_t *column_sums,
                int logit_exponent, double *exps) {
    int16_t m[FEATURES];
    int32_t products[CLASSES];
    for (int64_t r = 0; r < n; r++) {
        const float *f = features + r * FEATURES;
        double largest = 0.0;
        for (int i = 0; i < FEATURES; i++)
            if (fabs((double)f[i]) > largest) largest = fabs((double)f[i]);
        if (!isfinite(largest)) return KERNEL_DECLINED;
        int e = 0;
        if (largest > 0.0) {
            frexp(largest, &e);
            e -= CLASSIFIER_BITS;
        }
        if (e < -FLOAT64_SAFE_EXPONENT || e > FLOAT64_SAFE_EXPONENT) return KERNEL_DECLINED;
        const double scale = ldexp(1.0, -e);
        int64_t total = 0;
        for (int i = 0; i < FEATURES; i++) {
            double v = rint((double)f[i] * scale);
            v = v > CLASSIFIER_LIMIT ? CLASSIFIER_LIMIT : (v < -CLASSIFIER_LIMIT ? -CLASSIFIER_LIMIT : v);
            m[i] = (int16_t)v;
            total += m[i];
        }
        classifier_product(m, wt, products);
        double *row = exps + r * CLASSES;
        double top = -INFINITY;
        for (int j = 0; j < CLASSES; j++) {
            const int64_t centred = (int64_t)products[j] * FEATURES - total * column_sums[j];
            row[j] = ldexp((double)centred, logit_exponent);
            if (row[j] > top) top = row[j];
        }
        for (int j = 0; j < CLASSES; j++) row[j] = exp(row[j] - top);
    }
    return KERNEL_OK;
}
