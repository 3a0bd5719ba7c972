// halfkit.patch_numpy's C side (numpy_patch.cpp). Each call needs the GIL and returns null on
// success or why it failed.
#pragma once

#include <stddef.h>

namespace halfkit {

const char* numpy_patch_init();                       // numpy's C API and np.matmul, once
const char* numpy_patch_f16(bool on);                 // swap numpy's float16 matmul loop in or out
const char* numpy_patch_bf16(int type_num, bool on);  // register (once) and enable or disable
long numpy_patch_bf16_calls();                        // products the bfloat16 loop ran with halfkit

// np.dot under the patch: c (m x n float32, C order) holds a @ b from the GEMM; rounds it into
// out (m x n, C order, a's 16-bit format) as numpy's dot would and returns the ConvertFlags it
// would raise. Needs no GIL.
unsigned numpy_patch_dot_finish(const char* a, ptrdiff_t a_rs, ptrdiff_t a_cs, const char* b,
                                ptrdiff_t b_rs, ptrdiff_t b_cs, float* c, char* out, ptrdiff_t m,
                                ptrdiff_t n, ptrdiff_t k, int fmt, bool underflow);

}  // namespace halfkit
