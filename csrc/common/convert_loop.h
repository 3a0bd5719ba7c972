// The conversion loop shared by every tier: the reference element loop, and the strided walk
// that feeds a tier's contiguous kernel. Everything here lives in an anonymous namespace, so each
// tier's translation unit (compiled with its own ISA flags) gets a private copy.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/kernels.h"
#include "common/numerics.h"

namespace halfkit {
namespace {

template <int S, int D>
struct Conv {
  static constexpr int kSrc = S;
  static constexpr int kDst = D;
  using Src = typename num::Bits<S>::type;
  using Dst = typename num::Bits<D>::type;

  static Dst ref(Src x) { return num::convert_bits<S, D>(x); }

  // numpy's overflow condition: a finite value that became inf in a float16 destination.
  static bool overflowed(Src x, Dst r) {
    if constexpr (D != num::kF16) {
      return false;
    } else if constexpr (S == num::kF64) {
      return num::f64_is_finite(x) && num::f16_is_inf(r);
    } else if constexpr (S == num::kF32) {
      return num::f32_is_finite(x) && num::f16_is_inf(r);
    } else {
      return (x & 0x7fffu) != 0x7f80u && num::f16_is_inf(r);  // bf16 source; NaN is not inf
    }
  }
};

// The reference loop: the scalar tier, and the blocks a SIMD path hands back (rare lanes such as
// signalling NaNs, where the instruction differs from the contract).
template <class C>
bool ref_contig(const typename C::Src* s, typename C::Dst* d, size_t n) {
  bool ovf = false;
  for (size_t i = 0; i < n; ++i) {
    const typename C::Dst r = C::ref(s[i]);
    ovf |= C::overflowed(s[i], r);
    d[i] = r;
  }
  return ovf;
}

// The reference loop with a tier kernel's signature (it has no other way to store).
template <class C>
bool ref_contig_kernel(const typename C::Src* s, typename C::Dst* d, size_t n, bool) {
  return ref_contig<C>(s, d, n);
}

// Walks a strided (or unaligned) run in chunks: elements are gathered into aligned buffers with
// memcpy, converted by the tier's contiguous kernel, and scattered back. Contiguous, aligned
// runs go straight to the kernel. stream is passed on only where the kernel writes the
// destination itself (never into the scatter buffer, which is meant to stay in L1).
template <class C, bool (*Contig)(const typename C::Src*, typename C::Dst*, size_t, bool)>
bool run_strided(const char* src, ptrdiff_t ss, char* dst, ptrdiff_t ds, size_t n, bool stream) {
  using Src = typename C::Src;
  using Dst = typename C::Dst;
  const bool src_direct = ss == static_cast<ptrdiff_t>(sizeof(Src)) &&
                          reinterpret_cast<uintptr_t>(src) % sizeof(Src) == 0;
  const bool dst_direct = ds == static_cast<ptrdiff_t>(sizeof(Dst)) &&
                          reinterpret_cast<uintptr_t>(dst) % sizeof(Dst) == 0;
  if (src_direct && dst_direct) {
    return Contig(reinterpret_cast<const Src*>(src), reinterpret_cast<Dst*>(dst), n, stream);
  }
  constexpr size_t kChunk = 512;
  alignas(64) Src sbuf[kChunk];
  alignas(64) Dst dbuf[kChunk];
  bool ovf = false;
  for (size_t off = 0; off < n; off += kChunk) {
    const size_t k = n - off < kChunk ? n - off : kChunk;
    const char* sp = src + static_cast<ptrdiff_t>(off) * ss;
    char* dp = dst + static_cast<ptrdiff_t>(off) * ds;
    if (!src_direct) {
      for (size_t i = 0; i < k; ++i)
        memcpy(&sbuf[i], sp + static_cast<ptrdiff_t>(i) * ss, sizeof(Src));
    }
    Dst* out = dst_direct ? reinterpret_cast<Dst*>(dp) : dbuf;
    ovf |=
        Contig(src_direct ? reinterpret_cast<const Src*>(sp) : sbuf, out, k, stream && dst_direct);
    if (!dst_direct) {
      for (size_t i = 0; i < k; ++i)
        memcpy(dp + static_cast<ptrdiff_t>(i) * ds, &dbuf[i], sizeof(Dst));
    }
  }
  return ovf;
}

// Fills a table with Kernel<Conv<S, D>>::run for the ten 16-bit conversions.
template <template <class> class Kernel>
void fill_table(ConvertTable& t) {
  using namespace num;
  t.fn[kF32][kF16] = &Kernel<Conv<kF32, kF16>>::run;
  t.fn[kF64][kF16] = &Kernel<Conv<kF64, kF16>>::run;
  t.fn[kBF16][kF16] = &Kernel<Conv<kBF16, kF16>>::run;
  t.fn[kF32][kBF16] = &Kernel<Conv<kF32, kBF16>>::run;
  t.fn[kF64][kBF16] = &Kernel<Conv<kF64, kBF16>>::run;
  t.fn[kF16][kBF16] = &Kernel<Conv<kF16, kBF16>>::run;
  t.fn[kF16][kF32] = &Kernel<Conv<kF16, kF32>>::run;
  t.fn[kF16][kF64] = &Kernel<Conv<kF16, kF64>>::run;
  t.fn[kBF16][kF32] = &Kernel<Conv<kBF16, kF32>>::run;
  t.fn[kBF16][kF64] = &Kernel<Conv<kBF16, kF64>>::run;
}

}  // namespace
}  // namespace halfkit
