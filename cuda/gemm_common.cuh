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

// The contract's rounding of two float32 results to out_format (kF16 or kBF16), packed low
// first. Out of line on purpose: inlined at each of a tile's unrolled store sites (64 a thread
// in sm80's large tile) for each 16-bit format, it made up most of gemm_sm80.cu's compile time
// (sm_80 alone: 12.7 s in cicc and 15.4 s in ptxas, 2.2 s and 2.0 s without it). It runs once
// per pair of outputs, after the k loop; float32 outputs never call it.
static __device__ __noinline__ uint32_t round_pair(float v0, float v1, int out_format) {
  const uint32_t a = __float_as_uint(v0), b = __float_as_uint(v1);
  if (out_format == num::kF16) return num::f32_to_f16(a) | (uint32_t{num::f32_to_f16(b)} << 16);
  return num::f32_to_bf16(a) | (uint32_t{num::f32_to_bf16(b)} << 16);
}

// Writes the float32 results v[0..count) (count 1 or 2) to C, of format out_format, at element
// (i, j), j and j + 1 in the same row; the caller has checked the row and the columns.
__device__ __forceinline__ void store_c(void* c, int out_format, int64_t off, const float* v,
                                        int count) {
  if (out_format == num::kF32) {
    float* p = static_cast<float*>(c) + off;
    // C may be any view CuPy calls C-contiguous: check the address, not the offset.
    if (count == 2 && reinterpret_cast<uintptr_t>(p) % 8 == 0) {
      *reinterpret_cast<float2*>(p) = make_float2(v[0], v[1]);
    } else {
      for (int q = 0; q < count; ++q) p[q] = v[q];
    }
  } else {
    uint16_t* p = static_cast<uint16_t*>(c) + off;
    const uint32_t h = round_pair(v[0], count == 2 ? v[1] : 0.0f, out_format);
    if (count == 2 && reinterpret_cast<uintptr_t>(p) % 4 == 0) {
      *reinterpret_cast<uint32_t*>(p) = h;
    } else {
      p[0] = static_cast<uint16_t>(h);
      if (count == 2) p[1] = static_cast<uint16_t>(h >> 16);
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
