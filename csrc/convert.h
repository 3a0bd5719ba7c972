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

// Past this many destination bytes, for a conversion on `threads` threads, kernels may write
// around the caches (see ConvertFn): the larger of twice the L2 of those threads' cores and the
// part of L3 they share. Below it the output stays in cache, for the conversion's own stores and
// for whatever reads it next, and ordinary stores win; past it, non-temporal ones. Measured with
// 2 threads, float16 -> float32 / float64, ordinary against non-temporal stores (GB/s moved):
// on the Emerald Rapids CI machine (2 MiB L2 a core; the 260 MB L3 its VM reports gave little)
// 98 / 84 against 58 / 53 at 1 / 2 MB out, 57 / 48 against 65 / 56 at 4 / 8 MB, 54 / 27 against
// 63 / 56 at 8 / 16 MB; on Zen 5 (1 MiB L2 a core, 32 MiB L3 for the two) 196 / 193 against
// 62 / 52 at 8 MB, 153 / 170 against 63 / 53 at 16, 81 / 82 against 64 / 53 at 32 and 50 / 47
// against 60 / 53 at 64 MB.
size_t stream_min_bytes(int threads);

// Converts every element of an ndim-dimensional array (shape, byte strides of each side).
// Returns the ConvertFlags any element raised (underflow: see ConvertFn). may_stream: a large
// destination may be written around the caches (stream_min_bytes).
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
