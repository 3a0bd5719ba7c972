// Conversions on the GPU. The arithmetic is csrc/common/numerics.h, the same integer code as
// the CPU reference, so the GPU gives the contract's bits by construction (CUDA's own cvt
// instructions return a canonical NaN and quiet signalling ones; they are not used).
//
// v1: contiguous arrays: one 8-element pack per thread and step (the 16-bit side is one 16-byte
//     access, the wider side two or four), grid-stride loop; the rest (tails, unaligned or
//     strided views) one element per thread with per-element index arithmetic.
// v2: packs sized so each thread stores exactly 16 bytes (8 elements into 16-bit formats, 4
//     into float32, 2 into float64): v1's 32- and 64-byte stores per thread left widening to
//     float64 at 55% of copy bandwidth on an H100 (64M elements), float32 at 90%.
// v3: the strided kernel indexes in 32 bits when it can and loads typed elements when aligned
//     (v2's 64-bit division and byte-wise copies ran a transposed float32 -> float16 at 370
//     GB/s on an H100, half of CuPy's 714).
#include <string.h>

#include "common/numerics.h"
#include "kernels.h"

namespace halfkit {
namespace cuda {
namespace {

constexpr int kThreads = 256;

// Elements per thread and step: one 16-byte store.
template <int D>
constexpr int kPack = 16 / sizeof(typename num::Bits<D>::type);

// A pack's alignment is its size, capped at the 16 bytes one vector access moves.
template <class T, int N>
struct alignas(sizeof(T) * N < 16 ? sizeof(T) * N : 16) Pack {
  T v[N];
};

template <int S, int D>
using SrcPack = Pack<typename num::Bits<S>::type, kPack<D>>;
template <int D>
using DstPack = Pack<typename num::Bits<D>::type, kPack<D>>;

template <int S, int D>
__global__ void convert_packs(const SrcPack<S, D>* __restrict__ src, DstPack<D>* __restrict__ dst,
                              size_t packs) {
  const size_t step = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < packs;
       i += step) {
    const SrcPack<S, D> in = src[i];
    DstPack<D> out;
#pragma unroll
    for (int k = 0; k < kPack<D>; ++k) out.v[k] = num::convert_bits<S, D>(in.v[k]);
    dst[i] = out;
  }
}

struct Strides {
  int nd;
  int64_t shape[kMaxDims];
  int64_t src[kMaxDims];
  int64_t dst[kMaxDims];
};

// Any layout: one element per thread and step, its offsets from the flat index. I is the index
// type (32-bit whenever the element count allows: 64-bit division costs several times more);
// Aligned says every element address is a multiple of its size, else bytes are copied.
template <int S, int D, class I, bool Aligned>
__global__ void convert_strided(const char* __restrict__ src, char* __restrict__ dst, Strides st,
                                I n) {
  using Src = typename num::Bits<S>::type;
  using Dst = typename num::Bits<D>::type;
  const I step = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    I rest = i;
    int64_t so = 0, doff = 0;
    for (int k = st.nd - 1; k >= 0; --k) {
      const I extent = static_cast<I>(st.shape[k]);
      const I idx = rest % extent;
      rest /= extent;
      so += static_cast<int64_t>(idx) * st.src[k];
      doff += static_cast<int64_t>(idx) * st.dst[k];
    }
    if constexpr (Aligned) {
      *reinterpret_cast<Dst*>(dst + doff) =
          num::convert_bits<S, D>(*reinterpret_cast<const Src*>(src + so));
    } else {
      Src x;
      memcpy(&x, src + so, sizeof(Src));
      const Dst y = num::convert_bits<S, D>(x);
      memcpy(dst + doff, &y, sizeof(Dst));
    }
  }
}

unsigned blocks_for(size_t work) {
  const size_t b = (work + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < (size_t{1} << 31) - 1 ? b : (size_t{1} << 31) - 1);
}

template <int S, int D>
void launch_strided(const char* src, char* dst, const Strides& st, size_t n, cudaStream_t stream) {
  bool aligned = reinterpret_cast<uintptr_t>(src) % sizeof(typename num::Bits<S>::type) == 0 &&
                 reinterpret_cast<uintptr_t>(dst) % sizeof(typename num::Bits<D>::type) == 0;
  for (int k = 0; k < st.nd; ++k) {
    aligned = aligned &&
              st.src[k] % static_cast<int64_t>(sizeof(typename num::Bits<S>::type)) == 0 &&
              st.dst[k] % static_cast<int64_t>(sizeof(typename num::Bits<D>::type)) == 0;
  }
  const unsigned blocks = blocks_for(n);
  if (n < (size_t{1} << 31)) {
    const uint32_t n32 = static_cast<uint32_t>(n);
    if (aligned) {
      convert_strided<S, D, uint32_t, true><<<blocks, kThreads, 0, stream>>>(src, dst, st, n32);
    } else {
      convert_strided<S, D, uint32_t, false><<<blocks, kThreads, 0, stream>>>(src, dst, st, n32);
    }
  } else if (aligned) {
    convert_strided<S, D, size_t, true><<<blocks, kThreads, 0, stream>>>(src, dst, st, n);
  } else {
    convert_strided<S, D, size_t, false><<<blocks, kThreads, 0, stream>>>(src, dst, st, n);
  }
}

template <int S, int D>
cudaError_t launch(const void* src, void* dst, size_t n, bool contiguous, const Strides& st,
                   cudaStream_t stream) {
  using Src = typename num::Bits<S>::type;
  using Dst = typename num::Bits<D>::type;
  size_t done = 0;
  if (contiguous) {
    const bool aligned =
        reinterpret_cast<uintptr_t>(src) % 16 == 0 && reinterpret_cast<uintptr_t>(dst) % 16 == 0;
    const size_t packs = aligned ? n / kPack<D> : 0;
    if (packs > 0) {
      convert_packs<S, D><<<blocks_for(packs), kThreads, 0, stream>>>(
          static_cast<const SrcPack<S, D>*>(src), static_cast<DstPack<D>*>(dst), packs);
      done = packs * kPack<D>;
    }
    if (done < n) {
      Strides flat{};
      flat.nd = 1;
      flat.shape[0] = static_cast<int64_t>(n - done);
      flat.src[0] = sizeof(Src);
      flat.dst[0] = sizeof(Dst);
      launch_strided<S, D>(static_cast<const char*>(src) + done * sizeof(Src),
                           static_cast<char*>(dst) + done * sizeof(Dst), flat, n - done, stream);
    }
  } else {
    launch_strided<S, D>(static_cast<const char*>(src), static_cast<char*>(dst), st, n, stream);
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t convert(int sf, int df, const void* src, void* dst, size_t n, bool contiguous, int nd,
                    const int64_t* shape, const int64_t* src_strides, const int64_t* dst_strides,
                    cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  Strides st{};
  if (!contiguous) {
    if (nd > kMaxDims) return cudaErrorInvalidValue;
    st.nd = nd;
    for (int i = 0; i < nd; ++i) {
      st.shape[i] = shape[i];
      st.src[i] = src_strides[i];
      st.dst[i] = dst_strides[i];
    }
  }
  using namespace num;
#define HK_CASE(S, D) \
  if (sf == S && df == D) return launch<S, D>(src, dst, n, contiguous, st, stream);
  HK_CASE(kF32, kF16)
  HK_CASE(kF64, kF16)
  HK_CASE(kBF16, kF16)
  HK_CASE(kF32, kBF16)
  HK_CASE(kF64, kBF16)
  HK_CASE(kF16, kBF16)
  HK_CASE(kF16, kF32)
  HK_CASE(kF16, kF64)
  HK_CASE(kBF16, kF32)
  HK_CASE(kBF16, kF64)
#undef HK_CASE
  return cudaErrorInvalidValue;
}

}  // namespace cuda
}  // namespace halfkit
