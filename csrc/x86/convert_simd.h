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
  bool invalid() const { return _mm_getcsr() & 1u; }  // raised since construction
  ~MxcsrGuard() { _mm_setcsr(saved); }
};

template <class V>
struct SimdTier {
  using U32 = typename V::U32;
  using U16 = typename V::U16;
  using M = typename V::M;

  // float32 bits -> bfloat16 bits, exactly f32_to_bf16, into r. kSnan: lanes may be signalling
  // NaNs (float32 sources), whose invalid flag ml_dtypes raises and only the reference reports:
  // returns false, having computed nothing, for a block with one.
  template <bool kSnan>
  static HK_INLINE bool to_bf16(U32 u, U16& r) {
    const U32 a = V::and_(u, V::set1(0x7fffffffu));
    const M nan = V::gt_mag(a, 0x7f800000u);
    if constexpr (V::kNativeBf16) {
      // VCVTNEPS2BF16 flushes subnormal inputs and keeps NaN payloads; it is exact elsewhere.
      if (!V::any(V::mor(nan, V::in_range(a, 1u, 0x800000u)))) {
        r = V::cvtne_bf16(u);
        return true;
      }
    }
    if (kSnan && V::any(nan) && V::any(V::in_range(a, 0x7f800001u, 0x7fc00000u))) return false;
    r = V::narrow32(V::select(nan, qnan_bf16(u), V::template srli<16>(round_bf16(u))));
    return true;
  }

  // The bfloat16 quiet NaN of u's sign, in the low half of each lane.
  static HK_INLINE U32 qnan_bf16(U32 u) {
    return V::or_(V::and_(V::template srli<16>(u), V::set1(0x8000u)), V::set1(0x7fc0u));
  }

  // Whether float64 lanes x may raise an underflow only the reference tells apart: to
  // bfloat16, float32's (Conv::f64_to_f32_flags); to float16, non-zero values that round to a
  // float32 zero here (RZ), which would hide theirs. Called only for blocks whose float32 lanes
  // hold candidates (one compare finds them): on every block these float64 compares had cost
  // float64 -> bfloat16 40% (AVX-512, 64K elements, 4.7 -> 2.8 Gelem/s).
  template <int D>
  [[gnu::noinline]] static bool f64_underflow_lanes(const typename V::F64& x) {
    return V::any_abs64(x, 1, D == num::kBF16 ? 0x380ffffff0000000ull : 0x3810000000000000ull);
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
  template <class C, bool kUnder, bool kStream>
  static HK_INLINE bool pair_to_bf16(const typename C::Src* s, typename C::Dst* d) {
    using namespace num;
    constexpr int S = C::kSrc;
    U32 f[2];
    for (size_t h = 0; h < 2; ++h) {
      if constexpr (S == kF16) {
        f[h] = V::cvt_ph_ps(V::load16(s + h * V::N, V::N));
      } else if constexpr (S == kF32) {
        f[h] = V::load32(s + h * V::N, V::N);
      } else if constexpr (V::kCheapSticky) {
        f[h] = V::to_f32_odd_fast(V::load64(s + h * V::N, V::N));
      } else {
        // Without the sticky bit, which changes a lane only where the float32 lies halfway
        // between two bfloat16s (low half 0x8000); a pair with such a lane takes it.
        f[h] = V::to_f32_rz(V::load64(s + h * V::N, V::N));
      }
    }
    if constexpr (S == kF64 && !V::kCheapSticky) {
      const U32 low = V::set1(0xffffu);
      if (__builtin_expect(V::any(V::mor(V::eq(V::and_(f[0], low), 0x8000u),
                                         V::eq(V::and_(f[1], low), 0x8000u))),
                           0)) {
        for (size_t h = 0; h < 2; ++h) f[h] = V::to_f32_odd_fast(V::load64(s + h * V::N, V::N));
      }
    }
    const U32 packed = V::pack_hi16(round_bf16(f[0]), round_bf16(f[1]));
    // float64 sources: also FLT_MAX, where ml_dtypes' overflow hides, and with kUnder zeros
    // (see block).
    const bool rare = S == kF64 ? V::f64_bf16_pair_rare(f[0], f[1], packed)
                                : V::any(V::mor(V::nan(f[0]), V::nan(f[1])));
    if (__builtin_expect(rare, 0)) return false;
    if constexpr (S == kF64 && kUnder) {
      const U32 mag = V::set1(0x7fffffffu);
      if (V::any(V::mor(V::eq(V::and_(f[0], mag), 0u), V::eq(V::and_(f[1], mag), 0u)))) {
        return false;
      }
    }
    V::template store32<kStream>(d, packed, V::N);
    return true;
  }

  // Two full blocks between float32 (or float64, rounded to odd) and float16, or from float16
  // to float64, at once, when no value is an infinity or a NaN on the float16 side (for wider
  // sources: no overflow either, since exactly the values from 65520 up round to an infinity):
  // one test on the 16-bit values of both blocks instead of a compare on each block's float32
  // lanes, and one store or load for both (AVX2, Zen 3, 64K elements, one thread,
  // astype(out=): float32 -> float16 6.9 -> 9.2-9.6 Gelem/s, float16 -> float32 7.5 ->
  // 9.2-9.4). Only without kUnder, whose tiny lanes the per-block path tells apart. Returns
  // false, having written nothing, for the per-block path to take both.
  template <class C, bool kStream>
  static HK_INLINE bool pair_f16(const typename C::Src* s, typename C::Dst* d) {
    if constexpr (C::kSrc == num::kF32) {
      const U32 w =
          V::join16(V::cvt_ps_ph(V::load32(s, V::N)), V::cvt_ps_ph(V::load32(s + V::N, V::N)));
      if (V::any_inf_nan16(w)) return false;
      V::template store32<kStream>(d, w, V::N);
    } else if constexpr (C::kSrc == num::kF64 && V::kCheapSticky) {
      const U32 w = V::join16(V::cvt_ps_ph(V::to_f32_odd_fast(V::load64(s, V::N))),
                              V::cvt_ps_ph(V::to_f32_odd_fast(V::load64(s + V::N, V::N))));
      if (V::any_inf_nan16(w)) return false;
      V::template store32<kStream>(d, w, V::N);
    } else if constexpr (C::kSrc == num::kF64) {
      // Without the sticky bit, which changes a lane only where the float32 lies halfway
      // between two float16s: those lanes convert differently with bit 0 set, and a pair with
      // one takes the sticky bit after all. Where bit 0 is already set, the float32 is its own
      // round to odd. A halfway float32 has its low 12 bits clear (13 or more dropped bits,
      // the top one set), so only pairs with such a lane pay for the second conversion
      // (Zen 5, 64K elements, one thread: 6.9 -> 7.8-8.4 Gelem/s).
      const U32 f0 = V::to_f32_rz(V::load64(s, V::N));
      const U32 f1 = V::to_f32_rz(V::load64(s + V::N, V::N));
      const U32 one = V::set1(1u), low = V::set1(0xfffu);
      U32 w = V::join16(V::cvt_ps_ph(f0), V::cvt_ps_ph(f1));
      if (V::any(V::mor(V::eq(V::and_(f0, low), 0u), V::eq(V::and_(f1, low), 0u))) &&
          V::differ(w, V::join16(V::cvt_ps_ph(V::or_(f0, one)), V::cvt_ps_ph(V::or_(f1, one))))) {
        w = V::join16(V::cvt_ps_ph(V::to_f32_odd_fast(V::load64(s, V::N))),
                      V::cvt_ps_ph(V::to_f32_odd_fast(V::load64(s + V::N, V::N))));
      }
      if (V::any_inf_nan16(w)) return false;
      V::template store32<kStream>(d, w, V::N);
    } else {
      if (V::any_inf_nan16(V::load32(s, V::N))) return false;
      // Each half is loaded again rather than taken from the tested vector: on Zen 5 (forced
      // avx2, float16 -> float64, the loop alone) VCVTPH2PS from memory ran 70 ps an element
      // where the extract and the register form ran 98.
      const U32 lo = V::cvt_ph_ps(V::load16(s, V::N)), hi = V::cvt_ph_ps(V::load16(s + V::N, V::N));
      if constexpr (C::kDst == num::kF32) {
        V::template store32<kStream>(d, lo, V::N);
        V::template store32<kStream>(d + V::N, hi, V::N);
      } else {
        V::template store64<kStream>(d, V::widen_f64(lo), V::N);
        V::template store64<kStream>(d + V::N, V::widen_f64(hi), V::N);
      }
    }
    return true;
  }
  // float32 -> float16, float16 -> float32 and float32 -> bfloat16 without underflow reports
  // convert a stretch of pairs with no test at all, then look back: a stretch that met a lane
  // the plain conversion gets wrong is converted again by the checked pairs, which hand that
  // block to the reference. Between float16 and float32 the instruction is the contract on every
  // lane but signalling NaNs (which it quiets), and it tells both exceptions itself, in MXCSR:
  // invalid on exactly the signalling NaN lanes, overflow on exactly the finite float32 values
  // that became infinities (numpy's overflow). To bfloat16 the rounding is wrong on NaNs only,
  // and the stretch keeps the largest magnitude it saw. Measured on Zen 5, 64K elements, one
  // thread, the kernel alone: float32 -> float16 on avx512 28-31 ps an element wherever the
  // linker placed the checked loop badly (18 instructions for 32 elements), 23-25 here (9, as
  // torch's loop) wherever it lands; on avx2, unrolled twice, 26-28 ps against 32-33; float32 ->
  // bfloat16 on avx2 12.1 -> 14.7 Gelem/s, on avx512bf16 26.9 -> 30.3.
  template <class C, bool kUnder>
  static constexpr bool kUncheckedPath =
      !kUnder && ((C::kSrc == num::kF32 && C::kDst == num::kF16) ||
                  (C::kSrc == num::kF16 && C::kDst == num::kF32) ||
                  (C::kSrc == num::kF32 && C::kDst == num::kBF16));
  // Whether the stretch's exceptions are read from MXCSR (else from the largest magnitude).
  template <class C>
  static constexpr bool kMxcsrChecked = C::kDst != num::kBF16;
  static constexpr unsigned kMxcsrInvalid = 1u, kMxcsrOverflow = 8u;
  // Elements a stretch: its source (16 KB of float32) is still in L1 when it is redone.
  static constexpr size_t kStretch = 4096;

  template <class C, bool kStream>
  static HK_INLINE void unchecked_pair(const typename C::Src* s, typename C::Dst* d, U32& big) {
    if constexpr (C::kDst == num::kBF16) {
      const U32 u0 = V::load32(s, V::N), u1 = V::load32(s + V::N, V::N);
      V::template store32<kStream>(d, V::pack_hi16(round_bf16(u0), round_bf16(u1)), V::N);
      const U32 mag = V::set1(0x7fffffffu);
      big = V::max_u32(big, V::max_u32(V::and_(u0, mag), V::and_(u1, mag)));
    } else if constexpr (C::kSrc == num::kF32) {
      V::template store16<kStream>(d, V::cvt_ps_ph(V::load32(s, V::N)), V::N);
      V::template store16<kStream>(d + V::N, V::cvt_ps_ph(V::load32(s + V::N, V::N)), V::N);
    } else {
      V::template store32<kStream>(d, V::cvt_ph_ps(V::load16(s, V::N)), V::N);
      V::template store32<kStream>(d + V::N, V::cvt_ph_ps(V::load16(s + V::N, V::N)), V::N);
    }
  }

  template <class C, bool kUnder>
  static constexpr bool kPairF16 =
      !kUnder && (((C::kSrc == num::kF32 || C::kSrc == num::kF64) && C::kDst == num::kF16) ||
                  (C::kSrc == num::kF16 && (C::kDst == num::kF32 || C::kDst == num::kF64)));

  // Converts n <= V::N elements; returns false (having written nothing) to hand the block to
  // the reference loop. ovf and unf gather the lanes that raise the overflow and underflow flags
  // (unf only with kUnder); a block with lanes whose flags only the reference can tell apart
  // is handed to it.
  template <class C, bool kUnder, bool kStream = false>
  static HK_INLINE bool block(const typename C::Src* s, typename C::Dst* d, size_t n, M& ovf,
                              M& unf) {
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
    } else if constexpr (S == kBF16 && D == kF64) {
      V::template store64<kStream>(d, V::bf16_to_f64(V::load16(s, n)), n);
      return true;
    } else if constexpr (S == kBF16) {
      f = V::template slli<16>(V::widen16(V::load16(s, n)));
    } else if constexpr (S == kF32) {
      f = V::load32(s, n);
    } else {
      const auto x = V::load64(s, n);
      f = V::to_f32_odd_fast(x);
      const U32 a = V::and_(f, V::set1(0x7fffffffu));
      if constexpr (D == kBF16) {
        // One test finds the blocks whose lanes need more than rounding a normal float32
        // (V::f64_bf16_rare): NaNs; subnormal float32s, which dropped more than the 29 bits the
        // sticky bit was taken from; FLT_MAX, where every float64 from just below it up lands
        // (rounded toward zero, odd), among them those ml_dtypes reports as overflow (from
        // 2^128 - 2^103); with kUnder, zeros, which may come from non-zero inputs
        // (f64_underflow_lanes).
        M rare = V::f64_bf16_rare(f);
        if constexpr (kUnder) rare = V::mor(rare, V::eq(a, 0u));
        if (!V::any(rare)) {
          if constexpr (V::kNativeBf16) {
            V::template store16<kStream>(d, V::cvtne_bf16(f), n);
          } else {
            V::template store16<kStream>(d, V::narrow32(V::template srli<16>(round_bf16(f))), n);
          }
          return true;
        }
        if (V::any(V::eq(a, 0x7f7fffffu))) return false;
        if (kUnder && f64_underflow_lanes<D>(x)) return false;
        if (V::any(V::in_range(a, 1u, 0x800000u))) f = V::to_f32_odd(x);
      } else if constexpr (kUnder) {
        if (V::any(V::eq(a, 0u)) && f64_underflow_lanes<D>(x)) return false;
      }
    }

    if constexpr (D == kF32) {
      V::template store32<kStream>(d, f, n);
    } else if constexpr (D == kF64) {
      V::template store64<kStream>(d, V::widen_f64(f), n);
    } else if constexpr (D == kBF16) {
      U16 r;
      if (!to_bf16<S == kF32>(f, r)) return false;
      V::template store16<kStream>(d, r, n);
    } else {
      const U32 a = V::and_(f, V::set1(0x7fffffffu));
      // One compare finds every lane at or above 65520 (overflow, inf, NaN), and with kUnder a
      // second every non-zero one below 2^-14 (underflow candidates); only blocks that have
      // one pay for telling them apart, in one branch.
      const M big = V::gt_mag(a, 0x477fefffu);
      const M tiny = kUnder && S != kBF16 ? V::in_range(a, 1u, 0x38800000u) : V::mnone();
      if (V::any(V::mor(big, tiny))) {
        if constexpr (S == kF32) {
          // VCVTPS2PH quiets signalling NaNs; everything else matches numpy.
          if (V::any(V::in_range(a, 0x7f800001u, 0x7fc00000u))) return false;
        }
        if constexpr (S == kF64) {
          // The float16 NaN keeps the float64 payload unquieted; the narrowing quieted it.
          if (V::any(V::gt_mag(a, 0x7f800000u))) return false;
        }
        ovf = V::mor(ovf, V::in_range(a, 0x477ff000u, 0x7f800000u));
        // numpy's underflow: a non-zero value below 2^-14 whose float16 is inexact (f is exact,
        // or rounded to odd, so the round trip tells).
        if constexpr (kUnder) {
          unf = V::mor(unf, V::mand(tiny, V::ne(V::cvt_ph_ps(V::cvt_ps_ph(f)), f)));
        }
      }
      const U16 h = V::cvt_ps_ph(f);
      if constexpr (S == kBF16) {
        // ml_dtypes gives every NaN the canonical float16 NaN.
        const U32 qnan =
            V::or_(V::and_(V::template srli<16>(f), V::set1(0x8000u)), V::set1(0x7e00u));
        V::template store16<kStream>(
            d, V::narrow32(V::select(V::gt_mag(a, 0x7f800000u), qnan, V::widen16(h))), n);
      } else {
        V::template store16<kStream>(d, h, n);
      }
    }
    return true;
  }

  // With stream set (a destination far larger than the caches), full blocks are written with
  // non-temporal stores: ordinary stores first read every destination line they fill, which
  // costs as much memory traffic as the conversion itself where the destination is the wider
  // side (64M elements, 2 threads: float16 -> float64 22 -> 50 GB/s, float16 -> float32 22 ->
  // 46 GB/s). Narrowing saves less, the destination's share of the traffic, and had measured
  // nothing on the first machine; on Zen 5 (64M elements, 2 threads, against torch in the same
  // rounds) float32 -> float16 went 0.97-1.02x -> 1.22-1.29x, float32 -> bfloat16 1.0x ->
  // 1.18x, float64 -> float16/bfloat16 0.94-0.99x -> 1.00-1.09x.
  template <class C, bool kUnder>
  static unsigned contig(const typename C::Src* s, typename C::Dst* d, size_t n, bool stream) {
    if (stream) {
      const unsigned flags = contig_blocks<C, kUnder, true>(s, d, n);
      _mm_sfence();  // non-temporal stores are weakly ordered: finish them before returning
      return flags;
    }
    return contig_blocks<C, kUnder, false>(s, d, n);
  }

  // Two full blocks, each by block() or else the reference; returns the reference's flags.
  template <class C, bool kUnder, bool kStream>
  static HK_INLINE unsigned two_blocks(const typename C::Src* s, typename C::Dst* d, M& ovf,
                                       M& unf) {
    unsigned ref_flags = 0;
    for (size_t h = 0; h < 2 * V::N; h += V::N) {
      if (__builtin_expect(!block<C, kUnder, kStream>(s + h, d + h, V::N, ovf, unf), 0)) {
        ref_flags |= ref_contig<C>(s + h, d + h, V::N);
      }
    }
    return ref_flags;
  }
  // The same, out of line, for the pairs a pair path declined: inlined, its branches kept so
  // many values live across the pair loop that the compiler rebuilt its constants on every
  // iteration and spilled vectors to the stack (AVX2, float64 -> bfloat16: about 75
  // instructions per 16 elements instead of 55; 2.3 -> 2.7 Gelem/s at 64K, one thread).
  template <class C, bool kUnder, bool kStream>
  [[gnu::noinline]] static unsigned two_blocks_cold(const typename C::Src* s, typename C::Dst* d,
                                                    M& ovf, M& unf) {
    return two_blocks<C, kUnder, kStream>(s, d, ovf, unf);
  }

  template <class C, bool kUnder, bool kStream>
  static unsigned contig_blocks(const typename C::Src* s, typename C::Dst* d, size_t n) {
    M ovf = V::mnone(), unf = V::mnone();
    unsigned ref_flags = 0;
    // numpy's large buffers start 16 bytes past a page boundary, so full-width accesses would
    // split cache lines. A partial first block aligns the side with the wider accesses (the
    // larger element), which measured best: +25-30% at 64K elements for float32 -> float16.
    // Streaming stores need the destination aligned to their width: a whole line, here,
    // whichever side is wider.
    constexpr bool kAlignSrc = sizeof(*s) > sizeof(*d) && !kStream;
    constexpr size_t kElem = kAlignSrc ? sizeof(*s) : sizeof(*d);
    constexpr size_t kAlign = kStream || V::N * kElem >= 64 ? 64 : V::N * kElem;
    const uintptr_t addr =
        kAlignSrc ? reinterpret_cast<uintptr_t>(s) : reinterpret_cast<uintptr_t>(d);
    size_t head = (kAlign - (addr & (kAlign - 1))) % kAlign / kElem;
    if (head > n) head = n;
    size_t i = 0;
    while (i < head) {
      const size_t len = head - i < V::N ? head - i : V::N;
      if (!block<C, kUnder>(s + i, d + i, len, ovf, unf))
        ref_flags |= ref_contig<C>(s + i, d + i, len);
      i += len;
    }
    // Two blocks per iteration: the blocks are independent, and the wider loop body lets the
    // core overlap their conversions (measured on AVX-512: +20% for float64 sources, a few
    // percent elsewhere).
    // The native tier too takes the integer pair path from float32 and float16: on Zen 5,
    // 64K elements, one thread, VCVTNEPS2BF16 ran float32 -> bfloat16 at 16.3 Gelem/s and the
    // pairs at 28.2 (float16 -> bfloat16 21.4 and 23.0); on the Emerald Rapids Xeon the two were
    // within 5% (11.8 and 11.3). From float64 the instruction stays ahead (11.2 against 10.3).
    constexpr bool kPair =
        (C::kDst == num::kBF16 && (!V::kNativeBf16 || C::kSrc != num::kF64)) || kPairF16<C, kUnder>;
    const auto checked_pairs = [&](size_t end) {
      for (; i + 2 * V::N <= end; i += 2 * V::N) {
        if constexpr (kPair) {
          const bool done = C::kDst == num::kBF16 ? pair_to_bf16<C, kUnder, kStream>(s + i, d + i)
                                                  : pair_f16<C, kStream>(s + i, d + i);
          if (!done) ref_flags |= two_blocks_cold<C, kUnder, kStream>(s + i, d + i, ovf, unf);
        } else {
          ref_flags |= two_blocks<C, kUnder, kStream>(s + i, d + i, ovf, unf);
        }
      }
    };
    if constexpr (kUncheckedPath<C, kUnder>) {
      // Clears invalid, keeping the overflow raised so far.
      const auto clear_invalid = [] { _mm_setcsr(_mm_getcsr() & ~kMxcsrInvalid); };
      if (kMxcsrChecked<C> && (_mm_getcsr() & kMxcsrInvalid)) clear_invalid();
      while (i + 2 * V::N <= n) {
        const size_t start = i;
        const size_t len = n - start < kStretch ? n - start : kStretch;
        const size_t end = start + len / (2 * V::N) * (2 * V::N);  // at least one pair on
        U32 big = V::zero();
        // Unrolled: avx2's loop of 9 instructions for 16 elements ran at the decoders' pace.
#pragma GCC unroll 2
        do {
          unchecked_pair<C, kStream>(s + i, d + i, big);
          i += 2 * V::N;
        } while (i < end);
        const bool redo = kMxcsrChecked<C> ? (_mm_getcsr() & kMxcsrInvalid) != 0
                                           : V::any(V::gt_mag(big, 0x7f800000u));
        if (redo) {
          i = start;
          checked_pairs(end);
          if constexpr (kMxcsrChecked<C>) clear_invalid();
        }
      }
      if (C::kDst == num::kF16 && (_mm_getcsr() & kMxcsrOverflow)) ref_flags |= kFlagOverflow;
    } else {
      checked_pairs(n);
    }
    for (; i + V::N <= n; i += V::N) {
      if (!block<C, kUnder, kStream>(s + i, d + i, V::N, ovf, unf)) {
        ref_flags |= ref_contig<C>(s + i, d + i, V::N);
      }
    }
    if (i < n && !block<C, kUnder>(s + i, d + i, n - i, ovf, unf)) {
      ref_flags |= ref_contig<C>(s + i, d + i, n - i);
    }
    return ref_flags | (V::any(ovf) ? kFlagOverflow : 0u) | (V::any(unf) ? kFlagUnderflow : 0u);
  }

  template <class C>
  struct Kernel {
    static unsigned run(const char* src, ptrdiff_t ss, char* dst, ptrdiff_t ds, size_t n,
                        bool stream, bool underflow) {
      MxcsrGuard guard;
      unsigned flags;
      if (C::kCanUnderflow && underflow) {
        flags = run_strided<C, &SimdTier::contig<C, C::kCanUnderflow>>(src, ss, dst, ds, n, stream);
      } else {
        flags = run_strided<C, &SimdTier::contig<C, false>>(src, ss, dst, ds, n, stream) &
                ~unsigned{kFlagUnderflow};
      }
      if constexpr (C::kHardwareInvalid) {
        if (guard.invalid()) flags |= kFlagInvalid;
      }
      return flags;
    }
  };
};

}  // namespace
}  // namespace halfkit
