// Host-side entry points of the CUDA kernels. No CUDA types beyond cudaStream_t leak from here.
#pragma once

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

namespace halfkit {
namespace cuda {

constexpr int kMaxDims = 32;

// Converts n elements from src (format sf) to dst (format df) on `stream`, asynchronously.
// contiguous: both sides are dense with the same element order (flat index i is element i of
// each); otherwise the elements are addressed through shape and byte strides (nd <= kMaxDims).
// Returns the launch's error code.
cudaError_t convert(int sf, int df, const void* src, void* dst, size_t n, bool contiguous, int nd,
                    const int64_t* shape, const int64_t* src_strides, const int64_t* dst_strides,
                    cudaStream_t stream);

}  // namespace cuda
}  // namespace halfkit
