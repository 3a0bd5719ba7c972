// The rounding reference of halfkit.round, the small storage formats and fixed point: one
// element at a time, in integers only, compiled for the CPU (common/round.h runs it for the lanes
// its vectorised paths leave, and the scalar tier) and for the GPU (cuda/round.cu runs it for
// every element), so that both give the contract's bits by construction (docs/numerics.md,
// "Rounding to any format", "Storage in 8, 6 and 4 bits", "Fixed point").
//
// round_one works on the source's bit pattern, whose magnitude order is the value order. Where
// the result is at least the smallest nonzero value T of the target (a quantum with
// subnormals, the smallest normal without), the result's quantum is 2^drop units of the
// source's pattern, with drop = (W - m) + max(0, emin - e) for a source binade e: rounding the
// pattern to a multiple of 2^drop is rounding the value, a carry into the exponent field
// included, because the target's exponent range lies inside the source's (the Python layer
// refuses wider formats). Below T the result is 0 or T, chosen from |x| / T = M / 2^k with M the
// source's significand.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <type_traits>
#include <utility>

#include "common/kernels.h"

#if defined(__CUDACC__)
#define HK_HD __host__ __device__
#else
#define HK_HD
#endif

namespace halfkit {
// Internal linkage: each tier's translation unit keeps its own instances, compiled with its
// flags, which the linker must never merge with another tier's.
namespace {
namespace rnd {

// Stochastic rounding's random bits: a counter-based hash of the element's index in C order
// and the seed (two rounds of a 32-bit integer hash, lowbias32 by Chris Wellons), so that a
// given seed gives the same bits on every tier, thread count and device.
HK_HD inline uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

HK_HD inline uint32_t random32(uint64_t index, uint32_t key0, uint32_t key1) {
  return mix32(mix32(static_cast<uint32_t>(index) ^ key0) ^ static_cast<uint32_t>(index >> 32) ^
               key1);
}

// The vectorised loops count indices in 32 bits (a vector of 64-bit indices halves the lanes
// per register and costs a narrowing for the hash): a block never spans a multiple of 2^32, so
// its indices share their high half, which folds into the second key once per block. The loops
// keep the low half as a 32-bit counter of their own: one derived from the 64-bit loop index is
// a vector of 64-bit lanes again.
struct BlockKey {
  uint32_t lo, key0, key1;  // the block's first index's low half; the keys, key1 ^ high half
  HK_HD uint32_t bits(uint32_t index_lo) const { return mix32(mix32(index_lo ^ key0) ^ key1); }
};

HK_HD inline BlockKey block_key(uint64_t first, uint32_t key0, uint32_t key1) {
  return {static_cast<uint32_t>(first), key0, key1 ^ static_cast<uint32_t>(first >> 32)};
}

// A block's length from element index `first`: at most `block` and `left`, and up to the next
// multiple of 2^32 (BlockKey).
inline size_t block_len(size_t left, uint64_t first, size_t block) {
  const uint64_t to_wrap = (uint64_t{1} << 32) - (first & 0xffffffffu);
  const size_t len = left < block ? left : block;
  return len < to_wrap ? len : static_cast<size_t>(to_wrap);
}

template <class T>
struct Src;
template <>
struct Src<float> {
  using U = uint32_t;
  static constexpr int kW = 23, kBias = 127;
};
template <>
struct Src<double> {
  using U = uint64_t;
  static constexpr int kW = 52, kBias = 1023;
};

// floor(v * 2^32 / 2^d) for v < 2^d: the distance to the lower neighbour in units of 2^-32 of
// a quantum. The left shift goes in two steps, as a shift by a type's full width is undefined.
template <class U, class S>
HK_HD inline U scaled32(U v, S d) {
  const S sl = d < 32 ? 32 - d : 0;
  const S sr = d > 32 ? d - 32 : 0;
  return ((v << (sl >> 1)) << (sl - (sl >> 1))) >> sr;
}

// The up/down choice of one mode: above_half/at_half of the dropped part, odd_below whether the
// lower neighbour is odd, p the distance in 2^-32 units against the random bits r.
template <int kMode, class U>
HK_HD inline bool round_up(bool inexact, bool above_half, bool at_half, bool odd_below,
                           bool negative, U r, U p) {
  switch (kMode) {
    case kRoundNearestEven:
      return above_half || (at_half && odd_below);
    case kRoundNearestAway:
      return above_half || at_half;
    case kRoundTowardZero:
      return false;
    case kRoundUp:
      return inexact && !negative;
    case kRoundDown:
      return inexact && negative;
    case kRoundToOdd:
      return inexact && !odd_below;
    default:  // stochastic
      return r < p;
  }
}

// Integer arithmetic of the source's width throughout (S signed, U unsigned), so that a vector
// of float32 lanes stays 32-bit wide.
template <class T, int kMode>
HK_HD inline typename Src<T>::U round_one(typename Src<T>::U u, uint64_t index,
                                          const RoundSpec& s) {
  using U = typename Src<T>::U;
  using S = std::make_signed_t<U>;
  constexpr S W = Src<T>::kW, B = Src<T>::kBias;
  constexpr U kSign = U{1} << (8 * sizeof(U) - 1);
  constexpr U kInf = ((U{1} << (8 * sizeof(U) - 1 - W)) - 1) << W;
  constexpr U kFrac = (U{1} << W) - 1;
  const U sign = u & kSign;
  const U a = u & ~kSign;
  const bool negative = sign != 0;
  const S E = static_cast<S>(a >> W);
  const S e = (E > 0 ? E : 1) - B;
  const uint32_t r32 = kMode == kRoundStochastic ? random32(index, s.key0, s.key1) : 0;

  // At or above T: a multiple of 2^drop of the pattern.
  S below = static_cast<S>(s.emin_sub) - e;
  below = below > 0 ? below : 0;
  S drop = W - static_cast<S>(s.mantissa_bits) + below;
  drop = drop < W ? drop : W;
  const U one = U{1} << drop;
  const U rem = a & (one - 1);
  const U half = one >> 1;
  const U base = a - rem;
  // The lower neighbour's parity: its last kept bit, or where every fraction bit is dropped
  // (one quantum is the binade's leading bit), the implicit bit.
  const bool odd = drop < W ? (base & one) != 0 : E > 0;
  const bool up_big = round_up<kMode, U>(rem != 0, rem > half, rem == half && rem != 0, odd,
                                         negative, r32, scaled32(rem, drop));
  const U big = base + (up_big ? one : 0);

  // Below T: 0 or T, from |x| / T = M / 2^k (k >= 1). Past W + 2, M / 2^k is below a half;
  // past W + 33, its 2^-32 units are 0. Lanes at or above T have k < 1 and take big; their k is
  // clamped all the same, since a negative shift count is undefined (UBSan found it).
  const U m_sig = E > 0 ? (a & kFrac) | (U{1} << W) : a;
  S k = static_cast<S>(s.tiny_exp) - (e - W);
  k = k < W + 33 ? k : W + 33;
  k = k > 1 ? k : 1;
  const S kh = k < W + 2 ? k : W + 2;
  const U half_t = U{1} << (kh - 1);
  const bool up_tiny =
      a != 0 && round_up<kMode, U>(true, m_sig > half_t, m_sig == half_t && k < W + 2, false,
                                   negative, r32, scaled32(m_sig, k));
  const U tiny = up_tiny ? static_cast<U>(s.tiny_bits) : 0;

  U r = a < static_cast<U>(s.tiny_bits) ? tiny : big;
  // Overflow: toward zero (and to odd, which never rounds up past the largest) gives the
  // largest finite value, as does the other direction of a directed mode.
  const bool to_max = kMode == kRoundTowardZero || kMode == kRoundToOdd ||
                      (kMode == kRoundUp && negative) || (kMode == kRoundDown && !negative);
  const U over = static_cast<U>(to_max ? s.max_bits : s.over_bits);
  r = r > static_cast<U>(s.max_bits) ? over : r;
  const U special = a > kInf ? a | (U{1} << (W - 1)) : static_cast<U>(s.inf_bits);
  r = a >= kInf ? special : r;
  const U out_sign = (r == 0 && !s.negative_zero) ? 0 : sign;
  return out_sign | r;
}

// f(std::integral_constant<int, mode>{}): a run-time mode as the template parameter of the
// kernels, one instance per mode.
template <class F>
inline decltype(auto) with_mode(int mode, F&& f) {
  using std::integral_constant;
  switch (mode) {
    case kRoundNearestEven:
      return f(integral_constant<int, kRoundNearestEven>{});
    case kRoundNearestAway:
      return f(integral_constant<int, kRoundNearestAway>{});
    case kRoundTowardZero:
      return f(integral_constant<int, kRoundTowardZero>{});
    case kRoundUp:
      return f(integral_constant<int, kRoundUp>{});
    case kRoundDown:
      return f(integral_constant<int, kRoundDown>{});
    case kRoundToOdd:
      return f(integral_constant<int, kRoundToOdd>{});
    default:
      return f(integral_constant<int, kRoundStochastic>{});
  }
}

// The code of r, a value of the storage format (the result of round_one for it) held in the
// source type: a normal or subnormal of the format, a zero, an infinity or a NaN.
// In integers of the source's width throughout, so that the compiler keeps a vector of
// float32 lanes 32 bits wide.
template <class T>
HK_HD inline uint8_t encode_one(typename Src<T>::U r, const EncodeSpec& e) {
  using U = typename Src<T>::U;
  using S = std::make_signed_t<U>;
  constexpr S W = Src<T>::kW, B = Src<T>::kBias;
  constexpr U kSign = U{1} << (8 * sizeof(U) - 1);
  constexpr U kInf = ((U{1} << (8 * sizeof(U) - 1 - W)) - 1) << W;
  const U neg = r >> (8 * sizeof(U) - 1);
  const U a = r & ~kSign;
  const S m = e.mantissa_bits;
  const S exp_t = static_cast<S>(a >> W) - B + e.bias;
  // A normal of the format: the source's exponent field rebiased, its top m fraction bits.
  const U normal = (a >> (W - m)) - (static_cast<U>(B - e.bias) << m);
  // A subnormal of the format: its quanta. A zero's shift is past W, which gives 0 (the small
  // formats' biases lie far below the source's).
  S shift = W - m + 1 - exp_t;
  shift = shift < W + 1 ? (shift > 0 ? shift : 0) : W + 1;
  const U sub = ((a & ((U{1} << W) - 1)) | (U{1} << W)) >> shift;
  U code = exp_t >= 1 ? normal : sub;
  code = a == kInf ? U{e.inf} : code;
  code |= neg << (e.bits - 1);
  const U nan = neg ? U{e.nan_neg} : U{e.nan_pos};
  return static_cast<uint8_t>(a > kInf ? nan : code);
}

// A word's constants in the integer width L of a kernel's lanes.
template <class L>
struct FixedLanes {
  L hi, lo_magnitude, mask;
  L top, extend;  // a signed word's sign bit, and the bits above the word set when it is set
  L wrap_mask;    // all ones for wrap: a select of the loop-invariant flag defeats GCC's vectoriser
  int fraction_bits;
  uint32_t key0, key1;
};

template <class L>
HK_HD inline FixedLanes<L> fixed_lanes(const FixedSpec& f) {
  const L lmax = static_cast<L>(~L{0});
  const auto clamp = [&](uint64_t v) { return v < lmax ? static_cast<L>(v) : lmax; };
  const L mask = static_cast<L>(f.mask);
  return {clamp(f.hi),
          clamp(f.lo_magnitude),
          mask,
          static_cast<L>((f.mask >> 1) + 1),
          f.is_signed ? static_cast<L>(~mask) : L{0},
          f.wrap ? static_cast<L>(~L{0}) : L{0},
          f.fraction_bits,
          f.key0,
          f.key1};
}

// The code of one element, in integers of L: x * 2^n = M * 2^s for the source's significand M,
// rounded to an integer by the mode when s < 0 (exact otherwise), then saturated to or wrapped
// into the word. With L of 64 bits every element is answered: M * 2^s modulo 2^64 is exact for
// any s, which is all wrap needs, and a 53-bit M never carries out. With L of the float32
// source's 32 bits (words of up to 32 bits), rare says the element is not answered: NaN, an
// infinity, or M * 2^s past 2^31. none says the element has no code (NaN, a wrapped infinity).
template <class T, int kMode, class L>
HK_HD inline L fixed_code(typename Src<T>::U u, const BlockKey& key, uint32_t index_lo,
                          const FixedLanes<L>& f, L& rare, L& none) {
  using U = typename Src<T>::U;
  using S = std::make_signed_t<U>;
  constexpr S W = Src<T>::kW, B = Src<T>::kBias;
  constexpr int kBits = 8 * sizeof(L);
  constexpr U kSign = U{1} << (8 * sizeof(U) - 1);
  constexpr U kInf = ((U{1} << (8 * sizeof(U) - 1 - W)) - 1) << W;
  // Conditions are integers of L (0 or 1), not bools, so that the compiler keeps every lane in
  // one vector width.
  const L neg = static_cast<L>(u >> (8 * sizeof(U) - 1));
  const U a = u & ~kSign;
  const S E = static_cast<S>(a >> W);
  const L M = static_cast<L>(E > 0 ? (a & ((U{1} << W) - 1)) | (U{1} << W) : a);
  const S s = (E > 0 ? E : 1) - B - W + static_cast<S>(f.fraction_bits);

  // s >= 0: exact; huge when M * 2^s does not fit in L.
  const S sh = s < kBits - 1 ? (s > 0 ? s : 0) : kBits - 1;
  const L shifted = M << sh;
  const L huge = static_cast<L>(s >= kBits) | static_cast<L>((shifted >> sh) != M);
  const L exact = shifted & (L{0} - static_cast<L>(s < kBits));

  // s < 0: d bits dropped. Past kBits - 1 every bit of M is dropped, and the mask, the half
  // and the shift of kBits - 1 give that already (M has at most kBits - 11 bits); past W + 33
  // the dropped part's 2^-32 units are 0, so d is clamped there for the stochastic comparison.
  S d = s < 0 ? -s : 1;
  d = d < W + 34 ? d : W + 34;
  const S dm = d < kBits ? d : kBits - 1;
  const L q0 = M >> dm;
  const L rem = M & ((L{1} << dm) - 1);
  const L half = L{1} << (dm - 1);
  const L odd = q0 & 1;
  const L inexact = static_cast<L>(rem != 0);
  L up = 0;
  switch (kMode) {
    case kRoundNearestEven:
      up = static_cast<L>(rem + odd > half);
      break;
    case kRoundNearestAway:
      up = static_cast<L>(rem >= half);
      break;
    case kRoundTowardZero:
      break;
    case kRoundUp:
      up = inexact & (neg ^ 1);
      break;
    case kRoundDown:
      up = inexact & neg;
      break;
    case kRoundToOdd:
      up = inexact & (odd ^ 1);
      break;
    default:  // stochastic
      up = static_cast<L>(L{key.bits(index_lo)} < scaled32<L, S>(rem, d));
  }
  const L q = s >= 0 ? exact : q0 + up;
  const L big = static_cast<L>(s >= 0) & huge;

  L wrapped = (neg ? L{0} - q : q) & f.mask;
  wrapped |= (wrapped & f.top) != 0 ? f.extend : 0;
  const L saturated =
      neg ? ((big | static_cast<L>(q > f.lo_magnitude)) ? L{0} - f.lo_magnitude : L{0} - q)
          : ((big | static_cast<L>(q > f.hi)) ? f.hi : q);
  L code = (wrapped & f.wrap_mask) | (saturated & ~f.wrap_mask);
  if constexpr (kBits == 32) {
    rare = static_cast<L>(a >= kInf) | big |
           (static_cast<L>(s >= 0) & static_cast<L>(q > (L{1} << 31)));
    none = 0;
    return code;
  } else {
    rare = 0;
    none = static_cast<L>(a > kInf) | (static_cast<L>(a == kInf) & f.wrap_mask & 1);
    const L inf_code = neg ? L{0} - f.lo_magnitude : f.hi;
    code = a == kInf ? inf_code : code;
    return none ? 0 : code;
  }
}

}  // namespace rnd
}  // namespace
}  // namespace halfkit
