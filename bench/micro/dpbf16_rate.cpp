// The issue rate of VDPBF16PS against VFMADD231PS (512-bit, 24 independent accumulators, so
// latency does not count), in core cycles per instruction, the clock read off a chain of
// dependent integer multiplies (three cycles each; Golden Cove and later execute chains of adds
// of an immediate faster than one a cycle, which read this core at 11.8 GHz). This decides
// vdpbf16ps_gemm (csrc/cpu_features.h): the avx512bf16 tier's VDPBF16PS kernel pays where one
// VDPBF16PS (64 flops) costs less than two FMAs (32 flops each). It runs on this project's machines
// (their cores execute AVX512-BF16 although cpuid denies it) and in `bash bench/gpu_session.sh
// cpu`.
//
//   g++ -O2 -mavx512f -mavx512bf16 bench/micro/dpbf16_rate.cpp -o /tmp/dpbf16_rate
#include <stdio.h>
#include <time.h>

namespace {

double now() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

}  // namespace

#define HK_R24(op)                                                                               \
  op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7) op(8) op(9) op(10) op(11) op(12) op(13) op(14) \
      op(15) op(16) op(17) op(18) op(19) op(20) op(21) op(22) op(23)
#define HK_FMA(i) "vfmadd231ps %%zmm30, %%zmm31, %%zmm" #i "\n"
#define HK_DP(i) "vdpbf16ps %%zmm30, %%zmm31, %%zmm" #i "\n"

int main() {
  const long n = 20000000;
  for (int rep = 0; rep < 3; ++rep) {
    const double t0 = now();
    for (long i = 0; i < n; ++i) asm volatile(HK_R24(HK_FMA)::: "memory");
    const double t1 = now();
    for (long i = 0; i < n; ++i) asm volatile(HK_R24(HK_DP)::: "memory");
    const double t2 = now();
    long x = 1;
    for (long i = 0; i < n; ++i) {
      asm volatile(
          "imul %0, %0\n imul %0, %0\n imul %0, %0\n imul %0, %0\n"
          "imul %0, %0\n imul %0, %0\n imul %0, %0\n imul %0, %0\n"
          : "+r"(x));
    }
    const double t3 = now();
    const double cycle = (t3 - t2) / (3.0 * 8.0 * n);
    printf("clock %.2f GHz; vfmadd231ps zmm %.3f cycles each; vdpbf16ps zmm %.3f cycles each\n",
           1e-9 / cycle, (t1 - t0) / (24.0 * n) / cycle, (t2 - t1) / (24.0 * n) / cycle);
  }
  return 0;
}
