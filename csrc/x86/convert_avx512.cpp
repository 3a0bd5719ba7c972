// AVX-512 F/BW/VL/DQ tier.
#include "common/round.h"
#include "x86/convert_simd.h"
#include "x86/vec_avx512.h"

namespace halfkit {
void fill_convert_avx512(ConvertTable& t) {
  fill_table<SimdTier<V512>::Kernel>(t);
  fill_round(t);
}
}  // namespace halfkit
