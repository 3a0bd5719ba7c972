// AVX-512F GEMM: inputs widened to float32 while packing, 14 x 32 FMA microkernel.
#include "x86/gemm_simd.h"
#include "x86/vec_avx512.h"

namespace halfkit {
void fill_gemm_avx512(GemmTable& t) {
  t.kernel[num::kF16] = GemmF32<V512>::kernel();
  t.kernel[num::kBF16] = GemmF32<V512>::kernel();
}
}  // namespace halfkit
