// halfkit.round, the small storage formats and fixed point on the GPU. The arithmetic is
// common/round_ref.h, the integer reference the CPU tiers are tested against, run for every
// element, so the GPU gives the CPU's bits by construction, stochastic rounding included (its
// random bits are a hash of the seed and the element's index, not a device generator).
//
// v1: contiguous arrays, one 16-byte load of the source per thread and step (4 float32 or 2
//     float64 elements) and one store of their results, grid-stride loop; a tail (or an
//     unaligned array) one element per thread.
#include <string.h>

#include "common/round_ref.h"
#include "kernels.h"

namespace halfkit {
namespace cuda {
namespace {

constexpr int kThreads = 256;

template <class T>
using Bits = typename rnd::Src<T>::U;

// The source elements one 16-byte load brings.
template <class T>
constexpr int kLanes = 16 / sizeof(T);

// A load's elements, or the results they give, in one access of their whole size (at most 16
// bytes).
template <class E, int N>
struct alignas(sizeof(E) * N < 16 ? sizeof(E) * N : 16) Pack {
  E v[N];
};

unsigned blocks_for(size_t work) {
  const size_t b = (work + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < (size_t{1} << 31) - 1 ? b : (size_t{1} << 31) - 1);
}

// op(element, its index in the whole array) -> the result's element, for every element of x,
// written to y[i]: whole packs where both sides are aligned to them, then the rest one by one.
template <class T, class Out, class Op>
__global__ void map_packs(const Pack<Bits<T>, kLanes<T>>* __restrict__ x,
                          Pack<Out, kLanes<T>>* __restrict__ y, size_t packs, uint64_t index0,
                          Op op) {
  const size_t step = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < packs;
       i += step) {
    const Pack<Bits<T>, kLanes<T>> in = x[i];
    Pack<Out, kLanes<T>> out;
#pragma unroll
    for (int k = 0; k < kLanes<T>; ++k) out.v[k] = op(in.v[k], index0 + i * kLanes<T> + k);
    y[i] = out;
  }
}

template <class T, class Out, class Op>
__global__ void map_each(const Bits<T>* __restrict__ x, Out* __restrict__ y, size_t n,
                         uint64_t index0, Op op) {
  const size_t step = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    y[i] = op(x[i], index0 + i);
  }
}

template <class T, class Out, class Op>
cudaError_t map(const void* x, void* y, size_t n, uint64_t index0, const Op& op,
                cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  const auto* xs = static_cast<const Bits<T>*>(x);
  auto* ys = static_cast<Out*>(y);
  using InPack = Pack<Bits<T>, kLanes<T>>;
  using OutPack = Pack<Out, kLanes<T>>;
  size_t done = 0;
  if (reinterpret_cast<uintptr_t>(x) % alignof(InPack) == 0 &&
      reinterpret_cast<uintptr_t>(y) % alignof(OutPack) == 0) {
    const size_t packs = n / kLanes<T>;
    if (packs > 0) {
      map_packs<T, Out, Op><<<blocks_for(packs), kThreads, 0, stream>>>(
          reinterpret_cast<const InPack*>(xs), reinterpret_cast<OutPack*>(ys), packs, index0, op);
      done = packs * kLanes<T>;
    }
  }
  if (done < n) {
    map_each<T, Out, Op><<<blocks_for(n - done), kThreads, 0, stream>>>(
        xs + done, ys + done, n - done, index0 + done, op);
  }
  return cudaGetLastError();
}

template <class T, int kMode>
struct RoundOp {
  RoundSpec s;
  __device__ Bits<T> operator()(Bits<T> u, uint64_t i) const {
    return rnd::round_one<T, kMode>(u, i, s);
  }
};

template <class T, int kMode>
struct EncodeOp {
  RoundSpec s;
  EncodeSpec e;
  __device__ uint8_t operator()(Bits<T> u, uint64_t i) const {
    return rnd::encode_one<T>(rnd::round_one<T, kMode>(u, i, s), e);
  }
};

// A code or a value of fixed point, in the form out_bytes asks for (1, 2, 4, 8: codes; 0:
// values code * 2^-n, NaN where there is no code), as one 8-byte word whose low bytes the
// store keeps.
template <class T, int kMode>
struct FixedOp {
  rnd::FixedLanes<uint64_t> f;
  T scale;
  bool values;
  __device__ uint64_t operator()(Bits<T> u, uint64_t i) const {
    using U = Bits<T>;
    constexpr int W = rnd::Src<T>::kW;
    constexpr U kInf = ((U{1} << (8 * sizeof(U) - 1 - W)) - 1) << W;
    uint64_t rare, none;
    const uint64_t code = rnd::fixed_code<T, kMode, uint64_t>(
        u, rnd::block_key(i, f.key0, f.key1), static_cast<uint32_t>(i), f, rare, none);
    if (!values) return code;
    if (none) return u | kInf | (U{1} << (W - 1));  // NaN, quieted, its sign kept
    const T v = static_cast<T>(static_cast<int64_t>(code)) * scale;
    U r;
    memcpy(&r, &v, sizeof r);
    return r;
  }
};

// The fixed-point results narrowed to out_bytes.
template <class Out, class Op>
struct Narrow {
  Op op;
  template <class U>
  __device__ Out operator()(U u, uint64_t i) const {
    return static_cast<Out>(op(u, i));
  }
};

// The decoding table in shared memory, each block's threads loading one entry each.
template <class U>
struct Table {
  U v[256];
};

template <class U>
__global__ void decode_codes(const uint8_t* __restrict__ codes, U* __restrict__ y, size_t n,
                             Table<U> table) {
  __shared__ U t[256];
  for (int k = threadIdx.x; k < 256; k += blockDim.x) t[k] = table.v[k];
  __syncthreads();
  const size_t step = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    y[i] = t[codes[i]];
  }
}

template <class T>
cudaError_t round_typed(const void* x, void* y, size_t n, uint64_t index0, const RoundSpec& s,
                        cudaStream_t stream) {
  return rnd::with_mode(s.mode, [&](auto mode) {
    return map<T, Bits<T>>(x, y, n, index0, RoundOp<T, decltype(mode)::value>{s}, stream);
  });
}

template <class T>
cudaError_t encode_typed(const void* x, uint8_t* codes, size_t n, uint64_t index0,
                         const RoundSpec& s, const EncodeSpec& e, cudaStream_t stream) {
  return rnd::with_mode(s.mode, [&](auto mode) {
    return map<T, uint8_t>(x, codes, n, index0, EncodeOp<T, decltype(mode)::value>{s, e}, stream);
  });
}

template <class T>
cudaError_t fixed_typed(const void* x, void* y, size_t n, uint64_t index0, const FixedSpec& f,
                        cudaStream_t stream) {
  return rnd::with_mode(f.mode, [&](auto mode) {
    const FixedOp<T, decltype(mode)::value> op{rnd::fixed_lanes<uint64_t>(f),
                                               static_cast<T>(f.scale), f.out_bytes == 0};
    switch (f.out_bytes) {
      case 1:
        return map<T, uint8_t>(x, y, n, index0, Narrow<uint8_t, decltype(op)>{op}, stream);
      case 2:
        return map<T, uint16_t>(x, y, n, index0, Narrow<uint16_t, decltype(op)>{op}, stream);
      case 4:
        return map<T, uint32_t>(x, y, n, index0, Narrow<uint32_t, decltype(op)>{op}, stream);
      case 8:
        return map<T, uint64_t>(x, y, n, index0, Narrow<uint64_t, decltype(op)>{op}, stream);
      default:
        return map<T, Bits<T>>(x, y, n, index0, Narrow<Bits<T>, decltype(op)>{op}, stream);
    }
  });
}

template <class U>
cudaError_t decode_typed(const uint8_t* codes, void* y, size_t n, const void* table,
                         cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  Table<U> t;
  memcpy(t.v, table, sizeof t.v);
  decode_codes<U><<<blocks_for(n), kThreads, 0, stream>>>(codes, static_cast<U*>(y), n, t);
  return cudaGetLastError();
}

}  // namespace

cudaError_t round(const void* x, void* y, size_t n, int elem_size, uint64_t index0,
                  const RoundSpec& s, cudaStream_t stream) {
  if (elem_size == 4) return round_typed<float>(x, y, n, index0, s, stream);
  if (elem_size == 8) return round_typed<double>(x, y, n, index0, s, stream);
  return cudaErrorInvalidValue;
}

cudaError_t encode(const void* x, uint8_t* codes, size_t n, int elem_size, uint64_t index0,
                   const RoundSpec& s, const EncodeSpec& e, cudaStream_t stream) {
  if (elem_size == 4) return encode_typed<float>(x, codes, n, index0, s, e, stream);
  if (elem_size == 8) return encode_typed<double>(x, codes, n, index0, s, e, stream);
  return cudaErrorInvalidValue;
}

cudaError_t decode(const uint8_t* codes, void* y, size_t n, int elem_size, const void* table,
                   cudaStream_t stream) {
  if (elem_size == 4) return decode_typed<uint32_t>(codes, y, n, table, stream);
  if (elem_size == 8) return decode_typed<uint64_t>(codes, y, n, table, stream);
  return cudaErrorInvalidValue;
}

cudaError_t fixed_point(const void* x, void* y, size_t n, int elem_size, uint64_t index0,
                        const FixedSpec& f, cudaStream_t stream) {
  if (elem_size == 4) return fixed_typed<float>(x, y, n, index0, f, stream);
  if (elem_size == 8) return fixed_typed<double>(x, y, n, index0, f, stream);
  return cudaErrorInvalidValue;
}

}  // namespace cuda
}  // namespace halfkit
