// The n-dimensional driver: simplifies the iteration space, splits it over the thread pool and
// feeds 1-D strided runs to a tier's kernel. Knows nothing of Python.
#pragma once

#include <stddef.h>

#include "common/kernels.h"

namespace halfkit {

// Below this many elements a conversion stays on the calling thread. Measured (float32 ->
// float16, 2 threads against 1, on the CI machine): 0.61x at 128K elements, 0.88x at 256K,
// 0.95x at 512K, 1.39x at 1M, 1.95x at 4M; waking the pool costs several microseconds.
constexpr size_t kParallelMinElements = size_t{1} << 20;

// Converts every element of an ndim-dimensional array (shape, byte strides of each side).
// Returns true when a float16 destination received an infinity from a finite value.
bool convert_nd(ConvertFn fn, const char* src, const ptrdiff_t* src_strides, char* dst,
                const ptrdiff_t* dst_strides, const ptrdiff_t* shape, int ndim, size_t src_size,
                size_t dst_size);

}  // namespace halfkit
