// Tuning harness for the mma.sync GEMM (cuda/gemm_sm80.cu): times block-tile configurations
// side by side on one GPU and checks that each gives the bits of the first (the k order of the
// sums does not depend on the tiling, so they must agree exactly). Row-major A and B, the
// layout of a plain numpy/CuPy product. Written after the lent H100 had gone back: it compiles,
// and has not run yet (`bash bench/gpu_session.sh tune`). The shipped configurations ran at
// 0.26-0.36x cuBLAS there; the candidates are deeper k stages, two resident blocks of 128x128,
// and 256-row tiles.
//
//   nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a \
//        -Icsrc -Icuda -o sm80_tune bench/micro/sm80_tune.cu && ./sm80_tune [n ...]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include "../../cuda/gemm_sm80.cu"

namespace hc = halfkit::cuda;

#define CHECK(x)                                                                         \
  do {                                                                                   \
    cudaError_t e_ = (x);                                                                \
    if (e_ != cudaSuccess) {                                                             \
      fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
      exit(1);                                                                           \
    }                                                                                    \
  } while (0)

using Launch = cudaError_t (*)(const hc::GemmArgs&, cudaStream_t);

struct Variant {
  const char* name;
  Launch bf16, f16;
};

template <class C>
Variant variant(const char* name) {
  return {name, &hc::launch<C, true, false, halfkit::num::kBF16>,
          &hc::launch<C, true, false, halfkit::num::kF16>};
}

int main(int argc, char** argv) {
  using hc::Config;
  const std::vector<Variant> variants = {
      variant<Config<128, 256, 2, 4, 32, 4, 1>>("128x256 w2x4 k32 s4"),
      variant<Config<128, 256, 2, 4, 64, 3, 1>>("128x256 w2x4 k64 s3"),
      variant<Config<128, 256, 2, 4, 64, 4, 1>>("128x256 w2x4 k64 s4"),
      variant<Config<256, 128, 4, 2, 32, 4, 1>>("256x128 w4x2 k32 s4"),
      variant<Config<256, 128, 4, 2, 64, 3, 1>>("256x128 w4x2 k64 s3"),
      variant<Config<128, 256, 4, 2, 32, 4, 1>>("128x256 w4x2 k32 s4"),
      variant<Config<128, 128, 2, 2, 32, 4, 2>>("128x128 w2x2 k32 s4 x2"),
      variant<Config<128, 128, 2, 2, 64, 3, 2>>("128x128 w2x2 k64 s3 x2"),
      variant<Config<128, 128, 2, 2, 32, 5, 2>>("128x128 w2x2 k32 s5 x2"),
  };
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(atoi(argv[i]));
  if (sizes.empty()) sizes = {4096, 8192};
  cudaEvent_t e0, e1;
  CHECK(cudaEventCreate(&e0));
  CHECK(cudaEventCreate(&e1));
  for (int fmt : {halfkit::num::kBF16, halfkit::num::kF16}) {
    for (int n : sizes) {
      const size_t elems = static_cast<size_t>(n) * n;
      std::vector<uint16_t> h(2 * elems);
      uint32_t state = 12345u + n;
      for (auto& x : h) {
        state = state * 1664525u + 1013904223u;
        // Values in [1, 2) with random low bits, and random signs: never zeros.
        const float f =
            (1.0f + static_cast<float>(state >> 9) / 8388608.0f) * ((state & 1) ? -1.0f : 1.0f);
        x = static_cast<uint16_t>(
            fmt == halfkit::num::kBF16
                ? halfkit::num::convert_bits<halfkit::num::kF32, halfkit::num::kBF16>(
                      *reinterpret_cast<const uint32_t*>(&f))
                : halfkit::num::convert_bits<halfkit::num::kF32, halfkit::num::kF16>(
                      *reinterpret_cast<const uint32_t*>(&f)));
      }
      uint16_t *a, *b;
      float *c, *ref;
      CHECK(cudaMalloc(&a, elems * 2));
      CHECK(cudaMalloc(&b, elems * 2));
      CHECK(cudaMalloc(&c, elems * 4));
      CHECK(cudaMalloc(&ref, elems * 4));
      CHECK(cudaMemcpy(a, h.data(), elems * 2, cudaMemcpyHostToDevice));
      CHECK(cudaMemcpy(b, h.data() + elems, elems * 2, cudaMemcpyHostToDevice));
      hc::GemmArgs g{};
      g.m = g.n = g.k = n;
      g.batch = 1;
      g.in_format = fmt;
      g.out_format = halfkit::num::kF32;
      g.a = a;
      g.a_rs = n;
      g.a_cs = 1;
      g.b = b;
      g.b_rs = n;
      g.b_cs = 1;
      g.ldc = n;
      g.c_bs = 0;
      for (size_t v = 0; v < variants.size(); ++v) {
        const Launch fn = fmt == halfkit::num::kBF16 ? variants[v].bf16 : variants[v].f16;
        g.c = v == 0 ? ref : c;
        CHECK(cudaMemset(g.c, 0xff, elems * 4));
        CHECK(fn(g, 0));
        CHECK(cudaDeviceSynchronize());
        long bad = -1;
        if (v > 0) {
          std::vector<float> x(elems), y(elems);
          CHECK(cudaMemcpy(x.data(), c, elems * 4, cudaMemcpyDeviceToHost));
          CHECK(cudaMemcpy(y.data(), ref, elems * 4, cudaMemcpyDeviceToHost));
          bad = 0;
          for (size_t i = 0; i < elems; ++i) bad += memcmp(&x[i], &y[i], 4) != 0;
        }
        for (int w = 0; w < 3; ++w) CHECK(fn(g, 0));
        std::vector<float> ms;
        for (int r = 0; r < 15; ++r) {
          CHECK(cudaEventRecord(e0));
          CHECK(fn(g, 0));
          CHECK(cudaEventRecord(e1));
          CHECK(cudaEventSynchronize(e1));
          float t;
          CHECK(cudaEventElapsedTime(&t, e0, e1));
          ms.push_back(t);
        }
        std::sort(ms.begin(), ms.end());
        const double tf = 2.0 * n * n * static_cast<double>(n) / (ms[ms.size() / 2] * 1e-3) / 1e12;
        printf("%-5s %5d  %-26s %6.0f TFLOP/s  %s\n", fmt == halfkit::num::kBF16 ? "bf16" : "f16",
               n, variants[v].name, tf,
               bad < 0    ? "(reference)"
               : bad == 0 ? "bits equal"
                          : "BITS DIFFER");
        fflush(stdout);
      }
      CHECK(cudaFree(a));
      CHECK(cudaFree(b));
      CHECK(cudaFree(c));
      CHECK(cudaFree(ref));
    }
  }
  return 0;
}
