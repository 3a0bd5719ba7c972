// What the running CPU (and its OS) can execute. Compiled without ISA flags.
#pragma once

#include <string>
#include <vector>

namespace halfkit {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512bf16 = false, avx512fp16 = false, amx_bf16 = false;
  bool neon = false;
  std::vector<std::string> names() const;
};

// Detected once: cpuid for what the core implements, XGETBV for what the OS saves on a context
// switch (an AVX-512 core under an OS that does not enable ZMM state cannot use it).
const CpuFeatures& cpu_features();

}  // namespace halfkit
