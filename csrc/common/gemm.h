// GEMM building blocks each tier provides, and the flag-free driver's entry point. The driver
// (gemm.cpp) owns blocking, buffers and threads; a tier owns only what its instructions force:
// how panels are packed and the register-blocked microkernel.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/kernels.h"

namespace halfkit {

// The deepest k GemmKernel::small takes (the driver's KC block), and the distance in floats
// between the rows of A it widens (see GemmF32::small): 16 past kSmallMaxK, off a power of two
// (512: a stack of 32^3 products 3% slower).
constexpr int kSmallMaxK = 512;
constexpr int kSmallLda = kSmallMaxK + 16;

struct GemmKernel {
  int mr = 0, nr = 0;  // register tile
  int ku = 1;          // k granularity of the packed panels (2: bf16 pairs for VDPBF16PS)
  // A (m x k, 16-bit elements of format fmt, byte strides rs/cs) -> ceil(m/mr) panels, each
  // (k_padded / ku) x mr packed elements of 4 bytes (a float, or a pair of bf16 k steps),
  // stored one after another; rows past m and k past k are zero.
  void (*pack_a)(const char* a, ptrdiff_t rs, ptrdiff_t cs, int m, int k, int fmt,
                 void* dst) = nullptr;
  // B (k x n) -> ceil(n/nr) panels, each (k_padded / ku) x nr packed elements.
  void (*pack_b)(const char* b, ptrdiff_t rs, ptrdiff_t cs, int k, int n, int fmt,
                 void* dst) = nullptr;
  // C[m x n] (row stride ldc floats) = (accumulate ? C : 0) + A panel * B panel over kc packed
  // k steps (kc a multiple of ku); m <= mr, n <= nr (edges are masked).
  void (*micro)(int kc, const void* a, const void* b, float* c, ptrdiff_t ldc, int m, int n,
                bool accumulate) = nullptr;
  // A few rows of A (up to 4; up to 8 with B's rows contiguous) times B without packing
  // (memory-bound shapes, where packing B would cost as much as the product): C[i, 0:n] (row stride
  // ldc) = (accumulate ? C : 0) + A[i, 0:k] (byte strides a_rs, a_cs) * B (k x n), i < m. Fast when
  // B's rows (b_cs == 2) or columns (b_rs == 2) are contiguous. With rows contiguous, each row's
  // sum runs down k in order, four rows of B at a time onto C: a product split into calls at
  // multiples of 4 k steps gives the same bits as one call. With columns contiguous, B is read once
  // for all m rows. work: 64-byte aligned scratch of gemv_work_floats(m, k, b_cs) floats.
  void (*gemv)(const char* a, ptrdiff_t a_rs, ptrdiff_t a_cs, int m, const char* b, ptrdiff_t b_rs,
               ptrdiff_t b_cs, int k, int n, int fmt, float* c, ptrdiff_t ldc, bool accumulate,
               float* work) = nullptr;
  // Unless B's rows are contiguous, A's m rows widened, each rounded up to 16 floats so that
  // every row starts on a cache line.
  static size_t gemv_work_floats(int m, int k, ptrdiff_t b_cs) {
    return b_cs == 2 ? 0 : static_cast<size_t>(m) * ((k + 15) / 16 * 16);
  }
  // C (m x n, row stride ldc) = A (m x k, rows contiguous, byte row stride a_rs) * B (k x n,
  // any byte strides) without packing A into panels, for small products, whose packing costs
  // about as much as their multiplication (B is packed whole: k x n rounded up to nr floats).
  // Each element sums its k steps in order from zero, as one micro call does: up to one KC
  // block of k, the bits of the packed path. k <= kSmallMaxK; work: 64-byte aligned scratch of
  // small_work_floats(k, n) floats. Optional (nullptr: the packed path).
  void (*small)(const char* a, ptrdiff_t a_rs, int m, const char* b, ptrdiff_t b_rs, ptrdiff_t b_cs,
                int k, int n, int fmt, float* c, ptrdiff_t ldc, float* work) = nullptr;
  // B packed whole (k x n rounded up to nr) and a tile of A's rows, kSmallLda floats apart.
  size_t small_work_floats(int k, int n) const {
    return static_cast<size_t>(k) * ((n + nr - 1) / nr * nr) + static_cast<size_t>(mr) * kSmallLda;
  }
};

struct GemmTable {
  GemmKernel kernel[2];  // [num::kF16], [num::kBF16]
};

void fill_gemm_scalar(GemmTable& t);
#if defined(HALFKIT_X86)
void fill_gemm_avx2(GemmTable& t);
void fill_gemm_avx512(GemmTable& t);
void fill_gemm_avx512bf16(GemmTable& t);
#endif

// The driver's blocking for a kernel on the data caches in effect (cache_sizes()): kc, the k
// steps summed from zero before they are added to C, is fixed (it decides the bits); the rest
// only decides the order in which tiles are computed.
struct GemmBlocking {
  int kc = 0;
  int mc_panels = 0;       // row panels of A packed per block
  int nc = 0;              // columns of the B block all threads share
  int few_row_panels = 0;  // up to this many row panels, A is packed whole for each KC step
};
GemmBlocking gemm_blocking(const GemmKernel& kern);

// The driver counts rows, columns and k steps in int and steps up to a block (4096) past the
// end of each: every dimension must be below this.
constexpr ptrdiff_t kMaxGemmDim = (ptrdiff_t{1} << 31) - (ptrdiff_t{1} << 20);

// A stack of GEMMs: for each t < batch, C + t m n (m x n float32, C order) = the matrix at byte
// offset a_off[t] from a (m x k, byte strides a_rs, a_cs) times the one at b_off[t] from b
// (k x n), 16-bit inputs. Spreads the work over the thread pool unless it is busy (then runs on
// the caller).
void gemm_batch(const GemmKernel& kern, int fmt, const char* a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                const int64_t* a_off, const char* b, ptrdiff_t b_rs, ptrdiff_t b_cs,
                const int64_t* b_off, float* c, int m, int n, int k, size_t batch);

}  // namespace halfkit
