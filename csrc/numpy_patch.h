// halfkit.patch_numpy's C side (numpy_patch.cpp). Each call needs the GIL and returns null on
// success or why it failed.
#pragma once

namespace halfkit {

const char* numpy_patch_init();                       // numpy's C API and np.matmul, once
const char* numpy_patch_f16(bool on);                 // swap numpy's float16 matmul loop in or out
const char* numpy_patch_bf16(int type_num, bool on);  // register (once) and enable or disable
long numpy_patch_bf16_calls();                        // products the bfloat16 loop ran with halfkit

}  // namespace halfkit
