// The scalar GEMM tier: the same driver and packing layout as the SIMD tiers, plain C++ for
// the microkernel (float32 multiply-add, in the same k order). It runs on any CPU.
#include <string.h>

#include "common/gemm.h"
#include "common/numerics.h"

namespace halfkit {
namespace {

constexpr int MR = 4, NR = 8;

float widen(const char* p, int fmt) {
  uint16_t h;
  memcpy(&h, p, 2);
  const uint32_t u = fmt == num::kBF16 ? static_cast<uint32_t>(h) << 16 : num::f16_to_f32(h);
  float f;
  memcpy(&f, &u, 4);
  return f;
}

void pack_a(const char* a, ptrdiff_t rs, ptrdiff_t cs, int m, int k, int fmt, void* dst) {
  float* d = static_cast<float*>(dst);
  for (int p = 0; p * MR < m; ++p) {
    for (int kk = 0; kk < k; ++kk) {
      for (int i = 0; i < MR; ++i) {
        const int row = p * MR + i;
        d[(static_cast<size_t>(p) * k + kk) * MR + i] =
            row < m ? widen(a + row * rs + kk * cs, fmt) : 0.0f;
      }
    }
  }
}

void pack_b(const char* b, ptrdiff_t rs, ptrdiff_t cs, int k, int n, int fmt, void* dst) {
  float* d = static_cast<float*>(dst);
  for (int p = 0; p * NR < n; ++p) {
    for (int kk = 0; kk < k; ++kk) {
      for (int j = 0; j < NR; ++j) {
        const int col = p * NR + j;
        d[(static_cast<size_t>(p) * k + kk) * NR + j] =
            col < n ? widen(b + kk * rs + col * cs, fmt) : 0.0f;
      }
    }
  }
}

void micro(int kc, const void* ap, const void* bp, float* c, ptrdiff_t ldc, int m, int n,
           bool accumulate) {
  const float* a = static_cast<const float*>(ap);
  const float* b = static_cast<const float*>(bp);
  float r[MR][NR] = {};
  for (int kk = 0; kk < kc; ++kk, a += MR, b += NR) {
    for (int i = 0; i < MR; ++i) {
      for (int j = 0; j < NR; ++j) r[i][j] += a[i] * b[j];
    }
  }
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.0f) + r[i][j];
  }
}

void gemv(const char* a, ptrdiff_t a_rs, ptrdiff_t a_cs, int m, const char* b, ptrdiff_t b_rs,
          ptrdiff_t b_cs, int k, int n, int fmt, float* c, ptrdiff_t ldc, bool accumulate,
          float* /*work*/) {
  for (int i = 0; i < m; ++i) {
    float* ci = c + i * ldc;
    if (!accumulate) {
      for (int j = 0; j < n; ++j) ci[j] = 0.0f;
    }
    for (int kk = 0; kk < k; ++kk) {
      const float ak = widen(a + i * a_rs + kk * a_cs, fmt);
      for (int j = 0; j < n; ++j) ci[j] += ak * widen(b + kk * b_rs + j * b_cs, fmt);
    }
  }
}

}  // namespace

void fill_gemm_scalar(GemmTable& t) {
  const GemmKernel g{MR, NR, 1, &pack_a, &pack_b, &micro, &gemv};
  t.kernel[num::kF16] = g;
  t.kernel[num::kBF16] = g;
}

}  // namespace halfkit
