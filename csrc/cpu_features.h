// What the running CPU (and its OS) can execute. Compiled without ISA flags.
#pragma once

#include <stddef.h>

#include <string>
#include <vector>

namespace halfkit {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512bf16 = false, avx512fp16 = false, amx_bf16 = false;
  bool neon = false;
  bool avx512bf16_assumed = false;  // from HALFKIT_ASSUME_CPU, not from cpuid
  std::vector<std::string> names() const;
};

// Detected once: cpuid for what the core implements, XGETBV for what the OS saves on a context
// switch (an AVX-512 core under an OS that does not enable ZMM state cannot use it).
// HALFKIT_ASSUME_CPU=avx512_bf16 adds AVX512-BF16 where cpuid denies it but AVX-512 is there:
// virtual machines hide features their cores execute (this project's development and CI
// machines, Emerald Rapids cores, run VDPBF16PS while cpuid says no), and the test suite sets it
// after a child process has run the instructions (tests/conftest.py). Wrongly assumed, the
// instructions end the process with SIGILL.
const CpuFeatures& cpu_features();

// Whether the avx512bf16 tier multiplies bfloat16 with VDPBF16PS (else it widens to float32 and
// uses FMA, as the avx512 tier does). Not on cores with AVX512-FP16 or AMX (Sapphire Rapids and
// later): on one, a lent H100's host on 2026-11-23, the VDPBF16PS kernel ran bfloat16 products at
// about half the FMA kernel's rate (two threads: 1024^3 82 against 160 GFLOP/s, 2048^3 107
// against 203, 128 x 4096 x 4096 108 against 173). It stays elsewhere: on Zen 4 its peak is
// twice the FMA kernel's (issue 3's figures: about 226 against 112 GFLOP/s per core), and no
// other AVX512-BF16 core has been measured. The instruction itself explains it: on an Emerald
// Rapids core (bench/micro/dpbf16_rate.cpp) one VDPBF16PS issues every 2.2 cycles, one 512-bit
// FMA every 0.54, so VDPBF16PS does 29 flops a cycle where FMA does 59.
bool vdpbf16ps_gemm(const CpuFeatures& f);

// The data caches one core sees, in bytes (0: not known), and how many logical CPUs share each
// level. Read from cpuid (leaf 4 on Intel, 0x8000001D on AMD), else from sysconf, else assumed
// (source "default"): the GEMM driver derives its blocking from them, the conversions their
// streaming threshold (stream_min_bytes).
struct CacheSizes {
  size_t l1d = 0, l2 = 0, l3 = 0;
  int l2_shared_by = 1, l3_shared_by = 1;
  const char* source = "default";
};
const CacheSizes& detected_caches();
// The sizes in effect: detected, or those of set_cache_sizes (HALFKIT_CACHE_SIZES, for testing
// how the blocking behaves on another cache hierarchy). A zero leaves that level detected.
CacheSizes cache_sizes();
void set_cache_sizes(size_t l1d, size_t l2, size_t l3);

}  // namespace halfkit
