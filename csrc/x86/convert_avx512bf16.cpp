// AVX-512 BF16 tier: the AVX-512 kernels, with VCVTNEPS2BF16 for float32 -> bfloat16 on blocks
// free of subnormals and NaNs (the two lane classes where it differs from the contract).
#include "common/round.h"
#include "x86/bf16_instr.h"
#include "x86/convert_simd.h"
#include "x86/vec_avx512.h"

namespace halfkit {
namespace {

struct V512Bf16 : V512 {
  static constexpr bool kNativeBf16 = true;
  static U16 cvtne_bf16(U32 f) { return cvtne_ps_bf16(_mm512_castsi512_ps(f)); }
};

}  // namespace

void fill_convert_avx512bf16(ConvertTable& t) {
  fill_table<SimdTier<V512Bf16>::Kernel>(t);
  fill_round(t);
}
}  // namespace halfkit
