// AVX2 + FMA + F16C GEMM: inputs widened to float32 while packing, 6 x 16 FMA microkernel.
#include "x86/vec_avx2.h"
// (vec_avx2.h first: gemm_simd.h's templates name its types.)
#include "x86/gemm_simd.h"

namespace halfkit {
void fill_gemm_avx2(GemmTable& t) {
  t.kernel[num::kF16] = GemmF32<V256>::kernel();
  t.kernel[num::kBF16] = GemmF32<V256>::kernel();
}
}  // namespace halfkit
