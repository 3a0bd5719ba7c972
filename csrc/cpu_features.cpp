#include "cpu_features.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif

namespace halfkit {
namespace {

#if defined(__x86_64__) || defined(_M_X64)
unsigned long long xgetbv0() {
  unsigned eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1;
  const bool avx = (c >> 28) & 1;
  const bool fma = (c >> 12) & 1;
  const bool f16c = (c >> 29) & 1;
  if (!osxsave || !avx) return f;
  const unsigned long long xcr0 = xgetbv0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;          // SSE and AVX state
  const bool os_zmm = (xcr0 & 0xe6) == 0xe6;        // plus opmask, ZMM_Hi256, Hi16_ZMM
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;  // XTILECFG, XTILEDATA
  if (!os_ymm) return f;
  unsigned max_leaf = 0;
  __get_cpuid(0, &max_leaf, &b, &c, &d);
  if (max_leaf < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const unsigned ebx7 = b, edx7 = d;
  f.avx2 = (ebx7 >> 5) & 1;
  f.fma = fma;
  f.f16c = f16c;
  if (os_zmm) {
    f.avx512f = (ebx7 >> 16) & 1;
    f.avx512dq = (ebx7 >> 17) & 1;
    f.avx512bw = (ebx7 >> 30) & 1;
    f.avx512vl = (ebx7 >> 31) & 1;
    f.avx512fp16 = (edx7 >> 23) & 1;
    __cpuid_count(7, 1, a, b, c, d);
    f.avx512bf16 = (a >> 5) & 1;
    const char* assume = getenv("HALFKIT_ASSUME_CPU");
    if (!f.avx512bf16 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && assume &&
        strcmp(assume, "avx512_bf16") == 0) {
      f.avx512bf16 = f.avx512bf16_assumed = true;
    }
  }
  f.amx_bf16 = os_amx && ((edx7 >> 22) & 1);
  return f;
}
#else
CpuFeatures detect() {
  CpuFeatures f;
#if defined(__aarch64__)
  f.neon = true;  // Advanced SIMD is mandatory on AArch64.
#endif
  return f;
}
#endif

}  // namespace

std::vector<std::string> CpuFeatures::names() const {
  std::vector<std::string> out;
  const std::pair<bool, const char*> all[] = {{avx2, "avx2"},
                                              {fma, "fma"},
                                              {f16c, "f16c"},
                                              {avx512f, "avx512f"},
                                              {avx512bw, "avx512bw"},
                                              {avx512vl, "avx512vl"},
                                              {avx512dq, "avx512dq"},
                                              {avx512bf16, "avx512_bf16"},
                                              {avx512fp16, "avx512_fp16"},
                                              {amx_bf16, "amx_bf16"},
                                              {neon, "neon"}};
  for (const auto& [on, name] : all) {
    if (on) out.emplace_back(name);
  }
  return out;
}

bool vdpbf16ps_gemm(const CpuFeatures& f) { return !f.avx512fp16 && !f.amx_bf16; }

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace halfkit
