// The n-dimensional driver: simplifies the iteration space, splits it over the thread pool and
// feeds 1-D strided runs to a tier's kernel. Knows nothing of Python.
#pragma once

#include <stddef.h>

#include "common/kernels.h"

namespace halfkit {

// Below this many elements a conversion stays on the calling thread (measured: see
// bench/README.md); above it the pool splits the work.
constexpr size_t kParallelMinElements = size_t{1} << 17;

// Converts every element of an ndim-dimensional array (shape, byte strides of each side).
// Returns true when a float16 destination received an infinity from a finite value.
bool convert_nd(ConvertFn fn, const char* src, const ptrdiff_t* src_strides, char* dst,
                const ptrdiff_t* dst_strides, const ptrdiff_t* shape, int ndim, size_t src_size,
                size_t dst_size);

}  // namespace halfkit
