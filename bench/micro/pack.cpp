// Packing on its own: the median time (TSC ticks) of packing a 64 x k block of A, and a k x 64
// block of B stored k-contiguous (x @ W.T), while it sits in L1, for the AVX-512 float32
// kernel (float16 and bfloat16 widened) and the avx512bf16 tier's pair layout, and a hash of
// each packed block so that two builds can be compared for layout. The pair layout's packing runs
// no BF16 instruction, so it can be timed on any AVX-512 CPU. End-to-end timings on the CI machine
// swing by 10-20%; this does not.
//
//   g++ -O3 -std=c++17 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512bf16 -mfma -mf16c
//       -Icsrc bench/micro/pack.cpp -o /tmp/pack && /tmp/pack 64 63 512
#include <stdio.h>
#include <stdlib.h>
#include <x86intrin.h>

#include <algorithm>
#include <vector>

#include "x86/gemm_avx512bf16.cpp"

namespace {

using halfkit::GemmBf16Pairs;
using halfkit::GemmF32;
using halfkit::V512;

template <class Pack>
void report(const char* name, int k, size_t words, Pack pack) {
  alignas(64) static uint32_t buf[64 * 1024];
  std::vector<double> t;
  for (int rep = 0; rep < 3000; ++rep) {
    const uint64_t t0 = __rdtsc();
    pack(buf);
    t.push_back(static_cast<double>(__rdtsc() - t0));
  }
  std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < words; ++i) h = (h ^ buf[i]) * 1099511628211ull;
  printf("%-28s k = %-5d %8.0f ticks   layout %016llx\n", name, k, t[t.size() / 2],
         static_cast<unsigned long long>(h));
}

}  // namespace

int main(int argc, char** argv) {
  constexpr int m = 64;
  for (int arg = 1; arg < std::max(argc, 2); ++arg) {
    const int k = argc > 1 ? atoi(argv[arg]) : 64;
    if (k < 1 || k > 512) {
      fprintf(stderr, "k must be 1..512 (one KC block)\n");
      return 1;
    }
    std::vector<uint16_t> a(static_cast<size_t>(m) * k);
    for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint16_t>(0x3c00 + i % 1000);
    const char* src = reinterpret_cast<const char*>(a.data());
    using F32 = GemmF32<V512>;
    using Pairs = GemmBf16Pairs;
    const int kp = (k + 1) / 2;
    const size_t panels = (m + F32::MR - 1) / F32::MR, b_panels = (m + F32::NR - 1) / F32::NR;
    for (int fmt : {halfkit::num::kF16, halfkit::num::kBF16}) {
      const bool f16 = fmt == halfkit::num::kF16;
      report(f16 ? "A, f32 kernel, float16" : "A, f32 kernel, bfloat16", k, panels * k * F32::MR,
             [&](void* d) { F32::pack_a(src, 2 * k, 2, m, k, fmt, d); });
      report(f16 ? "B = W.T, f32 kernel, float16" : "B = W.T, f32 kernel, bfloat16", k,
             b_panels * k * F32::NR, [&](void* d) { F32::pack_b(src, 2, 2 * k, k, m, fmt, d); });
    }
    report("A, bf16 pairs", k, panels * kp * Pairs::MR,
           [&](void* d) { Pairs::pack_a(src, 2 * k, 2, m, k, halfkit::num::kBF16, d); });
    report("B = W.T, bf16 pairs", k, b_panels * kp * Pairs::NR,
           [&](void* d) { Pairs::pack_b(src, 2, 2 * k, k, m, halfkit::num::kBF16, d); });
  }
  return 0;
}
