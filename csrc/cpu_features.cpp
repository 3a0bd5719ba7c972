#include "cpu_features.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>

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
// Walks a deterministic cache parameters leaf (4 on Intel, 0x8000001D on AMD: the same layout)
// for the level 1 data, level 2 and level 3 caches. False if it described none.
bool caches_from_leaf(unsigned leaf, CacheSizes& out) {
  bool any = false;
  for (unsigned sub = 0; sub < 16; ++sub) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    __cpuid_count(leaf, sub, a, b, c, d);
    const unsigned type = a & 0x1f;  // 0: no more caches; 1 data, 2 instruction, 3 unified
    if (type == 0) break;
    if (type == 2) continue;
    const unsigned level = (a >> 5) & 7;
    const int shared_by = static_cast<int>(((a >> 14) & 0xfff) + 1);
    const size_t bytes = static_cast<size_t>((b >> 22) + 1) * (((b >> 12) & 0x3ff) + 1) *
                         ((b & 0xfff) + 1) * (static_cast<size_t>(c) + 1);
    if (level == 1) {
      out.l1d = bytes;
    } else if (level == 2) {
      out.l2 = bytes;
      out.l2_shared_by = shared_by;
    } else if (level == 3) {
      out.l3 = bytes;
      out.l3_shared_by = shared_by;
    } else {
      continue;
    }
    any = true;
  }
  return any;
}

bool caches_from_cpuid(CacheSizes& out) {
  unsigned max_leaf = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0, &max_leaf, &b, &c, &d)) return false;
  const bool amd = (b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u) ||  // AuthenticAMD
                   (b == 0x6f677948u && d == 0x6e65476eu && c == 0x656e6975u);    // HygonGenuine
  if (amd) {
    unsigned max_ext = 0, a = 0;
    __get_cpuid(0x80000000u, &max_ext, &b, &c, &d);
    if (max_ext < 0x8000001Du || !__get_cpuid(0x80000001u, &a, &b, &c, &d)) return false;
    if (!((c >> 22) & 1)) return false;  // TopologyExtensions: leaf 0x8000001D is there
    return caches_from_leaf(0x8000001Du, out);
  }
  return max_leaf >= 4 && caches_from_leaf(4, out);
}
#else
bool caches_from_cpuid(CacheSizes&) { return false; }

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

namespace {

CacheSizes detect_caches() {
  CacheSizes c;
  if (caches_from_cpuid(c) && c.l1d && c.l2) {
    c.source = "cpuid";
    return c;
  }
  c = CacheSizes{};
#if defined(_SC_LEVEL2_CACHE_SIZE)
  const long l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE),
             l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (l1 > 0 && l2 > 0) {
    c.l1d = static_cast<size_t>(l1);
    c.l2 = static_cast<size_t>(l2);
    c.l3 = l3 > 0 ? static_cast<size_t>(l3) : 0;
    c.source = "sysconf";
    return c;
  }
#endif
  // Nothing says: a common client core's (32 KiB, 1 MiB, 8 MiB shared).
  c.l1d = size_t{32} << 10;
  c.l2 = size_t{1} << 20;
  c.l3 = size_t{8} << 20;
  return c;
}

std::atomic<size_t> g_cache_override[3] = {0, 0, 0};

}  // namespace

const CacheSizes& detected_caches() {
  static const CacheSizes c = detect_caches();
  return c;
}

CacheSizes cache_sizes() {
  CacheSizes c = detected_caches();
  size_t* level[3] = {&c.l1d, &c.l2, &c.l3};
  bool overridden = false;
  for (int i = 0; i < 3; ++i) {
    const size_t v = g_cache_override[i].load(std::memory_order_relaxed);
    if (v) {
      *level[i] = v;
      overridden = true;
    }
  }
  if (overridden) c.source = "override";
  return c;
}

void set_cache_sizes(size_t l1d, size_t l2, size_t l3) {
  g_cache_override[0].store(l1d, std::memory_order_relaxed);
  g_cache_override[1].store(l2, std::memory_order_relaxed);
  g_cache_override[2].store(l3, std::memory_order_relaxed);
}

}  // namespace halfkit
