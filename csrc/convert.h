// The n-dimensional driver: simplifies the iteration space, splits it over the thread pool and
// feeds 1-D strided runs to a tier's kernel. Knows nothing of Python.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <functional>

#include "common/kernels.h"

namespace halfkit {

// Below this many elements a conversion stays on the calling thread. Measured (float32 ->
// float16, 2 threads against 1, on the CI machine, with the current pool): 0.73x at 32K
// elements, 0.77-0.91x at 64K, 1.04-1.12x at 128K, 1.5-1.8x at 256K, 2x and more from 512K.
constexpr size_t kParallelMinElements = size_t{1} << 17;

// From this many destination bytes on, kernels may write around the caches (see ConvertFn).
// Measured on the CI machine (2 cores, 2 MiB L2 each; the 260 MB L3 the VM reports gave little):
// 2 threads, float16 -> float64 / float32, ordinary against non-temporal stores: 84 / 98
// against 53 / 58 GB/s at 2 / 1 MB out, 48 / 57 against 56 / 65 at 8 / 4 MB, 27 / 54 against
// 56 / 63 at 16 / 8 MB. Outputs up to 8 MB stay in cache for whatever reads them next.
constexpr size_t kStreamMinBytes = size_t{8} << 20;

// Converts every element of an ndim-dimensional array (shape, byte strides of each side).
// Returns the ConvertFlags any element raised (underflow: see ConvertFn). may_stream: a large
// destination may be written around the caches (kStreamMinBytes).
unsigned convert_nd(ConvertFn fn, const char* src, const ptrdiff_t* src_strides, char* dst,
                    const ptrdiff_t* dst_strides, const ptrdiff_t* shape, int ndim, size_t src_size,
                    size_t dst_size, bool may_stream, bool underflow);

// Runs fn(first, len) over [0, n) in blocks of a fixed size, spread over the thread pool from
// kParallelMinElements on. Each block knows where it starts, so a result keyed by the element
// index (stochastic rounding) never depends on the spread.
void for_blocks(size_t n, const std::function<void(size_t first, size_t len)>& fn);

// The storage formats' decoding into 4- or 8-byte elements, by the active tier.
void decode_codes(const uint8_t* codes, void* y, size_t n, const DecodeSpec& d, size_t elem_size);

}  // namespace halfkit
