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

  // Which flags this pair can raise (the peer raises no others for any input).
  static constexpr bool kCanUnderflow = num::can_underflow(S, D);
  static constexpr bool kCanInvalid = (S == num::kF32 && D == num::kBF16) ||
                                      (S == num::kF16 && D == num::kBF16) ||
                                      (S == num::kBF16 && D == num::kF64);
  // The pairs whose invalid flag the SIMD tiers read from MXCSR: their one floating-point
  // instruction (VCVTPH2PS, VCVTPS2PD) raises it on exactly the signalling NaN lanes, as the
  // peer's own cast does.
  static constexpr bool kHardwareInvalid = kCanInvalid && S != num::kF32;

  // The flags the peer raises converting x to r (measured with numpy 2.4 and ml_dtypes 0.7;
  // docs/numerics.md). float16 results: overflow where a finite value became inf; underflow
  // (float32 and float64 sources: numpy's software cast) where a non-zero value below 2^-14
  // lost bits. float64 -> bfloat16: ml_dtypes' flags are those of a hardware float64 -> float32
  // cast, whatever bfloat16 then makes of it. Invalid: ml_dtypes' casts that go through a
  // hardware float conversion, on signalling NaNs.
  static unsigned flags(Src x, Dst r) {
    using namespace num;
    if constexpr (D == kF16) {
      unsigned f = 0;
      if constexpr (S == kF64) {
        if (f64_is_finite(x) && f16_is_inf(r)) f |= kFlagOverflow;
        const uint64_t a = x & 0x7fffffffffffffffull;
        if (a != 0 && a < 0x3f10000000000000ull && f16_to_f64(r) != x) f |= kFlagUnderflow;
      } else if constexpr (S == kF32) {
        if (f32_is_finite(x) && f16_is_inf(r)) f |= kFlagOverflow;
        const uint32_t a = x & 0x7fffffffu;
        if (a != 0 && a < 0x38800000u && f16_to_f32(r) != x) f |= kFlagUnderflow;
      } else {
        if ((x & 0x7fffu) != 0x7f80u && f16_is_inf(r)) f |= kFlagOverflow;  // NaN is not inf
      }
      return f;
    } else if constexpr (S == kF64 && D == kBF16) {
      return f64_to_f32_flags(x);
    } else if constexpr (S == kF32 && D == kBF16) {
      return f32_is_snan(x) ? kFlagInvalid : 0u;
    } else if constexpr (S == kF16 && D == kBF16) {
      return f16_is_snan(x) ? kFlagInvalid : 0u;
    } else if constexpr (S == kBF16 && D == kF64) {
      return bf16_is_snan(x) ? kFlagInvalid : 0u;
    } else {
      return 0;
    }
  }

  // The flags of a float64 -> float32 cast on x86 (RNE): overflow where the result is inf from
  // a finite value (|x| >= 2^128 - 2^103); underflow where it is inexact and tiny after
  // rounding at an unbounded exponent, i.e. |x| < 2^-126 - 2^-151, and not a multiple of
  // 2^-149.
  static unsigned f64_to_f32_flags(uint64_t x) {
    const uint64_t a = x & 0x7fffffffffffffffull;
    if (a >= 0x47effffff0000000ull && a < 0x7ff0000000000000ull) {
      return kFlagOverflow;
    }
    if (a == 0 || a >= 0x380ffffff0000000ull) return 0;
    const int e = static_cast<int>(a >> 52);
    const int drop = 926 - e;  // float64 significand bits below 2^-149
    if (e == 0 || drop > 52) return kFlagUnderflow;
    return (a & ((uint64_t{1} << drop) - 1)) != 0 ? unsigned{kFlagUnderflow} : 0u;
  }
};

// The reference loop: the scalar tier, and the blocks a SIMD path hands back (rare lanes such as
// signalling NaNs, where the instruction differs from the contract).
template <class C>
unsigned ref_contig(const typename C::Src* s, typename C::Dst* d, size_t n) {
  unsigned flags = 0;
  for (size_t i = 0; i < n; ++i) {
    const typename C::Dst r = C::ref(s[i]);
    flags |= C::flags(s[i], r);
    d[i] = r;
  }
  return flags;
}

// The reference loop with a tier kernel's signature (it has no other way to store).
template <class C>
unsigned ref_contig_kernel(const typename C::Src* s, typename C::Dst* d, size_t n, bool) {
  return ref_contig<C>(s, d, n);
}

// Walks a strided (or unaligned) run in chunks: elements are gathered into aligned buffers with
// memcpy, converted by the tier's contiguous kernel, and scattered back. Contiguous, aligned
// runs go straight to the kernel. stream is passed on only where the kernel writes the
// destination itself (never into the scatter buffer, which is meant to stay in L1).
template <class C, unsigned (*Contig)(const typename C::Src*, typename C::Dst*, size_t, bool)>
unsigned run_strided(const char* src, ptrdiff_t ss, char* dst, ptrdiff_t ds, size_t n,
                     bool stream) {
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
  unsigned flags = 0;
  for (size_t off = 0; off < n; off += kChunk) {
    const size_t k = n - off < kChunk ? n - off : kChunk;
    const char* sp = src + static_cast<ptrdiff_t>(off) * ss;
    char* dp = dst + static_cast<ptrdiff_t>(off) * ds;
    if (!src_direct) {
      for (size_t i = 0; i < k; ++i)
        memcpy(&sbuf[i], sp + static_cast<ptrdiff_t>(i) * ss, sizeof(Src));
    }
    Dst* out = dst_direct ? reinterpret_cast<Dst*>(dp) : dbuf;
    flags |=
        Contig(src_direct ? reinterpret_cast<const Src*>(sp) : sbuf, out, k, stream && dst_direct);
    if (!dst_direct) {
      for (size_t i = 0; i < k; ++i)
        memcpy(dp + static_cast<ptrdiff_t>(i) * ds, &dbuf[i], sizeof(Dst));
    }
  }
  return flags;
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
