// Pieces every GEMM kernel shares: the output store (float32, or rounded once by the contract),
// the order in which thread blocks walk the output tiles, and launch checks.
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>

#include "common/numerics.h"
#include "kernels.h"

namespace halfkit {
namespace cuda {
namespace gemm_detail {

// Writes the float32 results v[0..count) (count 1 or 2) to C at element (i, j), j and j + 1 in
// the same row; the caller has checked the row and the columns.
template <int OutFormat>
__device__ __forceinline__ void store_c(void* c, int64_t off, const float* v, int count) {
  if constexpr (OutFormat == num::kF32) {
    float* p = static_cast<float*>(c) + off;
    // C may be any view CuPy calls C-contiguous: check the address, not the offset.
    if (count == 2 && reinterpret_cast<uintptr_t>(p) % 8 == 0) {
      *reinterpret_cast<float2*>(p) = make_float2(v[0], v[1]);
    } else {
      for (int q = 0; q < count; ++q) p[q] = v[q];
    }
  } else {
    uint16_t* p = static_cast<uint16_t*>(c) + off;
    uint16_t h[2];
    for (int q = 0; q < count; ++q) {
      h[q] = num::convert_bits<num::kF32, OutFormat>(__float_as_uint(v[q]));
    }
    if (count == 2 && reinterpret_cast<uintptr_t>(p) % 4 == 0) {
      *reinterpret_cast<uint32_t*>(p) = static_cast<uint32_t>(h[0]) | (uint32_t{h[1]} << 16);
    } else {
      for (int q = 0; q < count; ++q) p[q] = h[q];
    }
  }
}

// Output tile (tm, tn) of block `pid`: blocks run in groups of kGroup tile rows so that the
// blocks resident at one time share their A rows and B columns in L2.
__device__ __forceinline__ void tile_of(int64_t pid, int64_t tiles_m, int64_t tiles_n, int64_t* tm,
                                        int64_t* tn) {
  constexpr int64_t kGroup = 8;
  const int64_t per_group = kGroup * tiles_n;
  const int64_t first = (pid / per_group) * kGroup;
  const int64_t rows = tiles_m - first < kGroup ? tiles_m - first : kGroup;
  *tm = first + (pid % per_group) % rows;
  *tn = (pid % per_group) / rows;
}

// Largest batch a launch takes in gridDim.z; longer batches are launched in slices.
constexpr int64_t kMaxBatchPerLaunch = 65535;

}  // namespace gemm_detail

// The tensor-core launchers (one batch slice; layouts already checked by gemm()). *_kmajor: the
// operand's unit stride runs along k.
cudaError_t gemm_sm80(const GemmArgs& g, bool a_kmajor, bool b_kmajor, cudaStream_t stream);
cudaError_t gemm_sm90(const GemmArgs& g, bool a_kmajor, bool b_kmajor, cudaStream_t stream);
// Whether this build holds sm_90a machine code for gemm_sm90.
bool gemm_sm90_compiled();
// Whether gemm_sm90 takes these operands (beyond gemm()'s layout rules): one matrix, not a
// batch, and strides a 2-D TMA tensor map can describe.
bool gemm_sm90_takes(const GemmArgs& g, bool a_kmajor, bool b_kmajor);

}  // namespace cuda
}  // namespace halfkit
