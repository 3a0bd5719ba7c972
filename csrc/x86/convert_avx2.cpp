// AVX2 + F16C + FMA tier. Compiled with -mavx2 -mfma -mf16c only.
#include "x86/vec_avx2.h"
// (vec_avx2.h first: convert_simd.h's templates name its types.)
#include "common/round.h"
#include "x86/convert_simd.h"

namespace halfkit {
void fill_convert_avx2(ConvertTable& t) {
  fill_table<SimdTier<V256>::Kernel>(t);
  fill_round(t);
}
}  // namespace halfkit
