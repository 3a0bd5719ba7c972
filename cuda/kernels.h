// Host-side entry points of the CUDA kernels. No CUDA types beyond cudaStream_t leak from here.
#pragma once

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "common/kernels.h"

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

// halfkit.round, the storage formats' codes and fixed point (common/round_ref.h, element by
// element) on n contiguous elements of elem_size bytes (4: float32, 8: float64) on `stream`,
// asynchronously; index0 is the first element's index in the whole array (stochastic
// rounding's key). codes: one byte per element. fixed_point writes f.out_bytes per element
// (codes), or elem_size (values). decode's table: 256 results' bits, copied at the launch.
// Each returns the launch's error code; none reports floating-point flags.
cudaError_t round(const void* x, void* y, size_t n, int elem_size, uint64_t index0,
                  const RoundSpec& s, cudaStream_t stream);
cudaError_t encode(const void* x, uint8_t* codes, size_t n, int elem_size, uint64_t index0,
                   const RoundSpec& s, const EncodeSpec& e, cudaStream_t stream);
cudaError_t decode(const uint8_t* codes, void* y, size_t n, int elem_size, const void* table,
                   cudaStream_t stream);
cudaError_t fixed_point(const void* x, void* y, size_t n, int elem_size, uint64_t index0,
                        const FixedSpec& f, cudaStream_t stream);

// One batched product C = A B, float16 or bfloat16 inputs (in_format), float32 accumulation,
// C float32 or rounded once to in the contract's way to float16/bfloat16 (out_format).
// Strides and offsets count elements. Element (i, p) of matrix t of A is at
// a + a_off[t] + i * a_rs + p * a_cs (a_off null: every matrix at offset 0); B likewise with
// (p, j); C is dense rows: c + t * c_bs + i * ldc + j.
struct GemmArgs {
  int64_t m, n, k, batch;
  int in_format, out_format;
  const void* a;
  int64_t a_rs, a_cs;
  const int64_t* a_off;  // device memory, batch entries, or null
  const void* b;
  int64_t b_rs, b_cs;
  const int64_t* b_off;
  void* c;
  int64_t ldc, c_bs;
};

// The kernels gemm() can run, weakest first; kAuto picks the fastest one the device and the
// operands allow.
enum class GemmKernel : int { kAuto = -1, kReference = 0, kSm80 = 1, kSm90 = 2 };

const char* gemm_kernel_name(GemmKernel k);

// Whether `kernel` can run these operands on a device of compute capability cc (major * 10 +
// minor): the tensor-core kernels need each operand to have a unit stride along one of its two
// axes, the other stride a multiple of 8 elements, and 16-byte aligned bases. The batch
// offsets (a_off, b_off) live on the device, where this cannot see them: a caller of the
// tensor-core kernels must make every offset a multiple of 8 elements (the Python layer does,
// through the batch strides it accepts; see halfkit._gpu.tensor_friendly).
bool gemm_supported(GemmKernel kernel, int cc, const GemmArgs& args);

// Queues the product on `stream`; *used is the kernel that ran. cudaErrorInvalidValue when
// `kernel` cannot take these operands (see gemm_supported).
cudaError_t gemm(const GemmArgs& args, GemmKernel kernel, cudaStream_t stream, GemmKernel* used);

}  // namespace cuda
}  // namespace halfkit
