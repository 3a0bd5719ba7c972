// The x86 SIMD conversion kernels, written once over a vector-traits type V (vec_avx2.h,
// vec_avx512.h) and included by each tier's translation unit, which compiles them with its own
// flags into its own anonymous namespace.
//
// Where an instruction disagrees with the contract on a rare class of lanes (signalling NaNs,
// NaN payloads of float64 sources), the block declines and the reference loop converts it: the
// common path stays short and the rare path is correct by construction.
#pragma once

#include <immintrin.h>

#include "common/convert_loop.h"

namespace halfkit {
namespace {

#define HK_INLINE inline __attribute__((always_inline))

// Kernels run with MXCSR in a known state whatever the caller's libraries did to it: all
// exceptions masked, no FTZ/DAZ (a float32 -> float64 widening must keep bf16 subnormals), and
// rounding toward zero, which float64 sources rely on (see V::to_f32_odd). Restoring the saved
// word also discards any exception flags the kernel raised.
struct MxcsrGuard {
  unsigned saved;
  MxcsrGuard() : saved(_mm_getcsr()) { _mm_setcsr(0x7f80u); }
  ~MxcsrGuard() { _mm_setcsr(saved); }
};

template <class V>
struct SimdTier {
  using U32 = typename V::U32;
  using U16 = typename V::U16;
  using M = typename V::M;

  // float32 bits -> bfloat16 bits, exactly f32_to_bf16.
  static HK_INLINE U16 to_bf16(U32 u) {
    const U32 a = V::and_(u, V::set1(0x7fffffffu));
    const M nan = V::gt(a, 0x7f800000u);
    if constexpr (V::kNativeBf16) {
      // VCVTNEPS2BF16 flushes subnormal inputs and keeps NaN payloads; it is exact elsewhere.
      if (!V::any(V::mor(nan, V::in_range(a, 1u, 0x800000u)))) return V::cvtne_bf16(u);
    }
    const U32 hi = V::template srli<16>(u);
    const U32 qnan = V::or_(V::and_(hi, V::set1(0x8000u)), V::set1(0x7fc0u));
    return V::narrow32(V::select(nan, qnan, V::template srli<16>(round_bf16(u))));
  }

  // Round to nearest even at bit 16 of non-NaN float32 bits: the bfloat16 is the high half.
  static HK_INLINE U32 round_bf16(U32 u) {
    return V::add(u, V::add(V::set1(0x7fffu), V::and_(V::template srli<16>(u), V::set1(1u))));
  }

  // Two full blocks to bfloat16 at once, when neither has a NaN (nor, for float64 sources, a
  // subnormal float32 result): one permute takes the high halves of both rounded vectors,
  // where the per-block path spends a shift, a NaN select and a narrowing on each (AVX-512,
  // float32 -> bfloat16: about 13 vector uops per 32 elements instead of 22). Returns false,
  // having written nothing, for the per-block path to take both.
  template <class C, bool kStream>
  static HK_INLINE bool pair_to_bf16(const typename C::Src* s, typename C::Dst* d) {
    using namespace num;
    constexpr int S = C::kSrc;
    U32 f[2];
    for (size_t h = 0; h < 2; ++h) {
      if constexpr (S == kF16) {
        f[h] = V::cvt_ph_ps(V::load16(s + h * V::N, V::N));
      } else if constexpr (S == kF32) {
        f[h] = V::load32(s + h * V::N, V::N);
      } else {
        f[h] = V::to_f32_odd_fast(V::load64(s + h * V::N, V::N));
      }
    }
    const M rare = S == kF64 ? V::mor(V::nan_or_subnormal(f[0]), V::nan_or_subnormal(f[1]))
                             : V::mor(V::nan(f[0]), V::nan(f[1]));
    if (V::any(rare)) return false;
    V::template store32<kStream>(d, V::pack_hi16(round_bf16(f[0]), round_bf16(f[1])), V::N);
    return true;
  }

  // Converts n <= V::N elements; returns false (having written nothing) to hand the block to
  // the reference loop.
  template <class C, bool kStream = false>
  static HK_INLINE bool block(const typename C::Src* s, typename C::Dst* d, size_t n, M& ovf) {
    using namespace num;
    constexpr int S = C::kSrc;
    constexpr int D = C::kDst;
    U32 f;  // the source as float32 bits (exact, or rounded to odd from float64)
    if constexpr (S == kF16) {
      const U16 h = V::load16(s, n);
      if constexpr (D != kBF16) {
        // VCVTPH2PS quiets signalling NaNs (and VCVTPS2PD would too): leave NaN blocks to the
        // reference, tested on the 16-bit lanes, where the test is cheapest.
        if (V::any_nan16(h)) return false;
      }
      f = V::cvt_ph_ps(h);
    } else if constexpr (S == kBF16) {
      f = V::template slli<16>(V::widen16(V::load16(s, n)));
    } else if constexpr (S == kF32) {
      f = V::load32(s, n);
    } else {
      const auto x = V::load64(s, n);
      f = V::to_f32_odd_fast(x);
      if constexpr (D == kBF16) {
        // Where the float32 result is subnormal, float32 dropped more than 29 bits: take the
        // sticky bit from a round trip instead. (Float16 results there are zero either way.)
        const U32 a = V::and_(f, V::set1(0x7fffffffu));
        if (V::any(V::in_range(a, 1u, 0x800000u))) f = V::to_f32_odd(x);
      }
    }

    if constexpr (D == kF32) {
      V::template store32<kStream>(d, f, n);
    } else if constexpr (D == kF64) {
      V::template store_f64<kStream>(d, f, n);
    } else if constexpr (D == kBF16) {
      V::template store16<kStream>(d, to_bf16(f), n);
    } else {
      const U32 a = V::and_(f, V::set1(0x7fffffffu));
      // One compare finds every lane at or above 65520 (overflow, inf, NaN); only blocks that
      // have one pay for telling them apart.
      if (V::any(V::gt(a, 0x477fefffu))) {
        if constexpr (S == kF32) {
          // VCVTPS2PH quiets signalling NaNs; everything else matches numpy.
          if (V::any(V::in_range(a, 0x7f800001u, 0x7fc00000u))) return false;
        }
        if constexpr (S == kF64) {
          // The float16 NaN keeps the float64 payload unquieted; the narrowing quieted it.
          if (V::any(V::gt(a, 0x7f800000u))) return false;
        }
        ovf = V::mor(ovf, V::in_range(a, 0x477ff000u, 0x7f800000u));
      }
      const U16 h = V::cvt_ps_ph(f);
      if constexpr (S == kBF16) {
        // ml_dtypes gives every NaN the canonical float16 NaN.
        const U32 qnan =
            V::or_(V::and_(V::template srli<16>(f), V::set1(0x8000u)), V::set1(0x7e00u));
        V::template store16<kStream>(
            d, V::narrow32(V::select(V::gt(a, 0x7f800000u), qnan, V::widen16(h))), n);
      } else {
        V::template store16<kStream>(d, h, n);
      }
    }
    return true;
  }

  // With stream set (a destination far larger than the caches), full blocks are written with
  // non-temporal stores where the destination is at least as wide as the source: ordinary
  // stores first read every destination line they fill, which costs as much memory traffic as
  // the conversion itself there (64M elements, 2 threads: float16 -> float64 22 -> 50 GB/s,
  // float16 -> float32 22 -> 46 GB/s; narrowing conversions gained nothing).
  template <class C>
  static bool contig(const typename C::Src* s, typename C::Dst* d, size_t n, bool stream) {
    if constexpr (sizeof(typename C::Dst) >= sizeof(typename C::Src)) {
      if (stream) {
        const bool ovf = contig_blocks<C, true>(s, d, n);
        _mm_sfence();  // non-temporal stores are weakly ordered: finish them before returning
        return ovf;
      }
    }
    return contig_blocks<C, false>(s, d, n);
  }

  template <class C, bool kStream>
  static bool contig_blocks(const typename C::Src* s, typename C::Dst* d, size_t n) {
    M ovf = V::mnone();
    bool ref_ovf = false;
    // numpy's large buffers start 16 bytes past a page boundary, so full-width accesses would
    // split cache lines. A partial first block aligns the side with the wider accesses (the
    // larger element), which measured best: +25-30% at 64K elements for float32 -> float16.
    // Streaming stores need the destination aligned to their width: a whole line, here.
    constexpr bool kAlignSrc = sizeof(*s) > sizeof(*d);
    constexpr size_t kElem = kAlignSrc ? sizeof(*s) : sizeof(*d);
    constexpr size_t kAlign = kStream || V::N * kElem >= 64 ? 64 : V::N * kElem;
    const uintptr_t addr =
        kAlignSrc ? reinterpret_cast<uintptr_t>(s) : reinterpret_cast<uintptr_t>(d);
    size_t head = (kAlign - (addr & (kAlign - 1))) % kAlign / kElem;
    if (head > n) head = n;
    size_t i = 0;
    while (i < head) {
      const size_t len = head - i < V::N ? head - i : V::N;
      if (!block<C>(s + i, d + i, len, ovf)) ref_ovf |= ref_contig<C>(s + i, d + i, len);
      i += len;
    }
    // Two blocks per iteration: the blocks are independent, and the wider loop body lets the
    // core overlap their conversions (measured on AVX-512: +20% for float64 sources, a few
    // percent elsewhere).
    for (; i + 2 * V::N <= n; i += 2 * V::N) {
      if constexpr (C::kDst == num::kBF16 && !V::kNativeBf16) {
        if (pair_to_bf16<C, kStream>(s + i, d + i)) continue;
      }
      if (!block<C, kStream>(s + i, d + i, V::N, ovf)) {
        ref_ovf |= ref_contig<C>(s + i, d + i, V::N);
      }
      if (!block<C, kStream>(s + i + V::N, d + i + V::N, V::N, ovf)) {
        ref_ovf |= ref_contig<C>(s + i + V::N, d + i + V::N, V::N);
      }
    }
    for (; i + V::N <= n; i += V::N) {
      if (!block<C, kStream>(s + i, d + i, V::N, ovf)) {
        ref_ovf |= ref_contig<C>(s + i, d + i, V::N);
      }
    }
    if (i < n && !block<C>(s + i, d + i, n - i, ovf)) ref_ovf |= ref_contig<C>(s + i, d + i, n - i);
    return ref_ovf || V::any(ovf);
  }

  template <class C>
  struct Kernel {
    static bool run(const char* src, ptrdiff_t ss, char* dst, ptrdiff_t ds, size_t n, bool stream) {
      MxcsrGuard guard;
      return run_strided<C, &SimdTier::contig<C>>(src, ss, dst, ds, n, stream);
    }
  };
};

}  // namespace
}  // namespace halfkit
