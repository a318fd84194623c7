/* test_kernels.cpp — every GPU kernel, run on the CPU through tests/gpu/emu.h,
 * against the CPU backend (libparley) on random inputs.
 *
 * This compiles backends/cuda/gpu.cu itself (launchers included) with
 * -DPL_GPU_EMU, so what is tested is the source nvcc and hipcc build.
 * Tolerances: the kernels sum in a different order than the CPU, so results
 * agree to float rounding: relative 1e-5 for norms, 1e-4 of the row's scale
 * for dot products over a few thousand terms.
 */
#include <criterion/criterion.h>

#include <cmath>
#include <random>
#include <vector>

extern "C" {
#include "backends/backend.h"
}
#include "backends/cuda/gpu.h"

static std::mt19937 rng(1234);

/* n normal floats, none zero. */
static std::vector<float> randn(size_t n, float scale = 1.0f)
{
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (auto &x : v) { x = d(rng); if (x == 0.0f) x = 1e-3f; }
    return v;
}

/* Device copy of a host vector (host memory under the emulator, but through the API). */
template <class T> static T *to_device(const std::vector<T> &v)
{
    T *d = (T *)pl_gpu_alloc(v.size() * sizeof(T));
    cr_assert_not_null(d, "%s", pl_gpu_last_error());
    cr_assert_eq(pl_gpu_upload(d, v.data(), v.size() * sizeof(T)), 0);
    return d;
}

template <class T> static std::vector<T> from_device(const T *d, size_t n)
{
    std::vector<T> v(n);
    cr_assert_eq(pl_gpu_download(v.data(), d, n * sizeof(T)), 0);
    return v;
}

Test(gpu, probe_reports_the_emulator)
{
    pl_gpu_info info;
    cr_assert_eq(pl_gpu_probe(&info), 0, "%s", pl_gpu_last_error());
    cr_expect_str_eq(pl_gpu_backend_name(), "emu");
    cr_expect_eq(info.n_devices, 1);
}

Test(gpu, rms_norm_matches_cpu)
{
    const int rows = 3, n = 576;
    auto x = randn((size_t)rows * n), w = randn(n);
    float *dx = to_device(x), *dw = to_device(w), *dy = (float *)pl_gpu_alloc(sizeof(float) * rows * n);
    cr_assert_eq(pl_gpu_rms_norm(dx, dw, dy, rows, n, 1e-5f), 0, "%s", pl_gpu_last_error());
    auto y = from_device(dy, (size_t)rows * n);
    std::vector<float> ref(n);
    for (int r = 0; r < rows; r++) {
        pl_cpu_rms_norm(&x[(size_t)r * n], w.data(), n, 1e-5f, ref.data());
        for (int i = 0; i < n; i++)
            cr_assert_float_eq(y[(size_t)r * n + i], ref[i], 1e-5f * (1 + fabsf(ref[i])), "row %d col %d", r, i);
    }
    pl_gpu_free(dx); pl_gpu_free(dw); pl_gpu_free(dy);
}

Test(gpu, softmax_matches_cpu)
{
    const int rows = 2, n = 1000;
    auto x = randn((size_t)rows * n, 4.0f);
    float *dx = to_device(x);
    cr_assert_eq(pl_gpu_softmax(dx, rows, n), 0);
    auto y = from_device(dx, (size_t)rows * n);
    for (int r = 0; r < rows; r++) {
        std::vector<float> ref(x.begin() + (long)r * n, x.begin() + (long)(r + 1) * n);
        pl_cpu_softmax_inplace(ref.data(), n);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            cr_assert_float_eq(y[(size_t)r * n + i], ref[i], 1e-6f + 1e-5f * ref[i]);
            sum += y[(size_t)r * n + i];
        }
        cr_expect_float_eq(sum, 1.0, 1e-4);
    }
    pl_gpu_free(dx);
}

Test(gpu, silu_mul_matches_cpu)
{
    const int n = 1537;  /* not a multiple of the block size */
    auto g = randn(n, 3.0f), u = randn(n);
    float *dg = to_device(g), *du = to_device(u), *dout = (float *)pl_gpu_alloc(sizeof(float) * n);
    cr_assert_eq(pl_gpu_silu_mul(dg, du, dout, n), 0);
    auto out = from_device(dout, n);
    std::vector<float> ref(n);
    pl_cpu_silu_mul(g.data(), u.data(), n, ref.data());
    for (int i = 0; i < n; i++) cr_assert_float_eq(out[i], ref[i], 1e-5f * (1 + fabsf(ref[i])), "i=%d", i);
    pl_gpu_free(dg); pl_gpu_free(du); pl_gpu_free(dout);
}

/* Quantize a random matrix with the CPU's reference quantizer, multiply on
 * the "GPU", compare with the dequantized matrix times x in double. */
static void check_matvec(pl_type t, int rows, int cols)
{
    const pl_type_traits *tr = pl_type_traits_get(t);
    cr_assert_not_null(tr);
    auto wf = randn((size_t)rows * cols), x = randn(cols);
    size_t rs = pl_row_size(t, cols);
    std::vector<uint8_t> wq(rs * rows);
    for (int r = 0; r < rows; r++) tr->from_float(&wf[(size_t)r * cols], &wq[rs * r], cols);
    uint8_t *dW = to_device(wq);
    float *dx = to_device(x), *dy = (float *)pl_gpu_alloc(sizeof(float) * rows);
    cr_assert_eq(pl_gpu_matvec(dW, t, dx, dy, rows, cols), 0, "%s", pl_gpu_last_error());
    auto y = from_device(dy, rows);
    std::vector<float> deq(cols);
    for (int r = 0; r < rows; r++) {
        tr->to_float(&wq[rs * r], deq.data(), cols);
        double ref = 0, mag = 0;
        for (int c = 0; c < cols; c++) { ref += (double)deq[c] * x[c]; mag += fabs((double)deq[c] * x[c]); }
        cr_assert(fabs(y[r] - ref) <= 1e-5 * mag + 1e-6, "%s row %d: gpu %g vs cpu %g", tr->name, r, y[r], ref);
    }
    pl_gpu_free(dW); pl_gpu_free(dx); pl_gpu_free(dy);
}

Test(gpu, matvec_q8_0_matches_cpu) { check_matvec(PL_TYPE_Q8_0, 37, 576); }
Test(gpu, matvec_q4_0_matches_cpu) { check_matvec(PL_TYPE_Q4_0, 29, 1536); }

Test(gpu, unsupported_weight_type_is_an_error_not_a_crash)
{
    cr_expect_eq(pl_gpu_matvec(nullptr, PL_TYPE_Q6_K, nullptr, nullptr, 4, 256), -1);
    cr_expect(strstr(pl_gpu_last_error(), "not supported on the GPU") != nullptr);
}
