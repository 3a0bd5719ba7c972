#include "dispatch.h"

#include <atomic>

#include "cpu_features.h"

namespace halfkit {
namespace {

constexpr int kIsaCount = static_cast<int>(Isa::kCount);
const char* const kIsaNames[kIsaCount] = {"scalar", "avx2", "avx512", "avx512bf16"};

struct Tables {
  bool supported[kIsaCount] = {};
  ConvertTable convert[kIsaCount];
  GemmTable gemm[kIsaCount];
  std::atomic<int> active{0};

  Tables() {
    const CpuFeatures& f = cpu_features();
    supported[0] = true;
    fill_convert_scalar(convert[0]);
    fill_gemm_scalar(gemm[0]);
#if defined(HALFKIT_X86)
    // A tier's fill function is itself compiled with that tier's flags: call it only when the
    // CPU can run them.
    const bool avx2 = f.avx2 && f.fma && f.f16c;
    const bool avx512 = avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
    if (avx2) {
      fill_convert_avx2(convert[1]);
      fill_gemm_avx2(gemm[1]);
    }
    if (avx512) {
      fill_convert_avx512(convert[2]);
      fill_gemm_avx512(gemm[2]);
    }
    const bool avx512bf16 = avx512 && (f.avx512bf16 || kEmulatedBf16);
    if (avx512bf16) {
      fill_convert_avx512bf16(convert[3]);
      fill_gemm_avx512bf16(gemm[3]);
    }
    supported[1] = avx2;
    supported[2] = avx512;
    supported[3] = avx512bf16;
#else
    (void)f;
#endif
    for (int i = kIsaCount - 1; i >= 0; --i) {
      if (supported[i]) {
        active = i;
        break;
      }
    }
  }
};

Tables& tables() {
  static Tables t;
  return t;
}

}  // namespace

const char* isa_name(Isa isa) { return kIsaNames[static_cast<int>(isa)]; }

bool isa_compiled(Isa isa) {
#if defined(HALFKIT_X86)
  (void)isa;
  return true;
#else
  return isa == Isa::kScalar;
#endif
}

bool isa_supported(Isa isa) { return tables().supported[static_cast<int>(isa)]; }
Isa active_isa() { return static_cast<Isa>(tables().active.load(std::memory_order_relaxed)); }
void set_active_isa(Isa isa) { tables().active = static_cast<int>(isa); }
const ConvertTable& convert_table(Isa isa) { return tables().convert[static_cast<int>(isa)]; }
const GemmTable& gemm_table(Isa isa) { return tables().gemm[static_cast<int>(isa)]; }

bool parse_isa(const std::string& name, Isa* out) {
  for (int i = 0; i < kIsaCount; ++i) {
    if (name == kIsaNames[i]) {
      *out = static_cast<Isa>(i);
      return true;
    }
  }
  return false;
}

}  // namespace halfkit
