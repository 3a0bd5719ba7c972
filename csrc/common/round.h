// The CPU kernels of halfkit.round, the small storage formats and fixed point: vectorised
// loops over common/round_ref.h's reference, which answers the lanes they leave (docs/
// internals.md). The same code is compiled in every tier's translation unit and vectorised by
// the compiler: the mode is a template parameter, everything else is data, and each lane
// computes every path it may need, selected by masks.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmath>
#include <type_traits>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include "common/convert_loop.h"
#include "common/kernels.h"
#include "common/round_ref.h"

namespace halfkit {
// Internal linkage: each tier's translation unit keeps its own instances, compiled with its
// flags, which the linker must never merge with another tier's.
namespace {
namespace rnd {

// The floating-point state the kernels here assume, whatever the caller's libraries set (numpy
// never changes it; others set flush-to-zero or a rounding direction): round to nearest, no
// flush of subnormal results (FTZ) or inputs (DAZ), exceptions masked (MXCSR 0x1f80). Every
// entry point holds one; the caller's word comes back afterwards, which also discards the flags
// the kernel raised. Where the state cannot be set (kKnown false), the paths that round with
// the FPU (round_nearest, encode_nearest_f32) are not taken.
#if defined(__x86_64__) || defined(__i386__)
struct FpuGuard {
  static constexpr bool kKnown = true;
  unsigned saved;
  FpuGuard() : saved(_mm_getcsr()) { _mm_setcsr(0x1f80u); }
  ~FpuGuard() { _mm_setcsr(saved); }
  FpuGuard(const FpuGuard&) = delete;
  FpuGuard& operator=(const FpuGuard&) = delete;
  // Under a guard: the FPU's rounding direction for one of the modes it has (nearest-even,
  // toward zero, up, down), until the object goes.
  struct Direction {
    explicit Direction(int mode) {
      const unsigned rc = mode == kRoundDown         ? 1
                          : mode == kRoundUp         ? 2
                          : mode == kRoundTowardZero ? 3
                                                     : 0;
      _mm_setcsr(0x1f80u | rc << 13);
    }
    ~Direction() { _mm_setcsr(0x1f80u); }
    Direction(const Direction&) = delete;
    Direction& operator=(const Direction&) = delete;
  };
};
#else
struct FpuGuard {
  static constexpr bool kKnown = false;
  struct Direction {
    explicit Direction(int) {}
  };
};
#endif

// The common case, in fewer operations: a normal input whose result lies between T and the
// largest finite value, rounded as (a + add) & ~mask, the add chosen per mode to carry exactly
// where round_up says up (stochastic: the dropped bits plus the complement of the random
// bits' top drop bits carry exactly when those bits are below the dropped bits); with kTiny,
// also an input below T (zeros included), which gives 0 or T as round_one's tiny path decides.
// rare (0 or all ones) says where it does not answer (inputs below the smallest normal of
// either type, and below T with kTiny only; results past the largest finite value, infinities
// and NaNs), and round_one must answer instead.
template <class U>
struct CommonBounds {
  U lowest;     // the smallest input whose result round_common computes from its quantum
  U half_tiny;  // T / 2
  U zero_sign;  // all ones where a zero result keeps its sign: a mask, as GCC's vectoriser
                // gives up on a select of a loop-invariant bool (or of a 0/1 made from one)
  U one;        // 1, opaque to the compiler (opaque_one)
};

// 1, as a value the compiler cannot see: GCC 12 vectorises 64-bit lanes of x << n for a
// loop-invariant x, but turns the constant 1 << n into a form whose count is narrowed to 32
// bits, which no vector shift takes ("unusable type for last operand"), and leaves every
// float64 loop with one scalar.
template <class U>
inline U opaque_one() {
  U one = 1;
#if defined(__GNUC__)
  asm("" : "+r"(one));
#endif
  return one;
}

template <class T, int kMode, bool kTiny>
inline typename Src<T>::U round_common(typename Src<T>::U u, const BlockKey& key, uint32_t index_lo,
                                       const RoundSpec& s,
                                       const CommonBounds<typename Src<T>::U>& bounds,
                                       typename Src<T>::U& rare) {
  using U = typename Src<T>::U;
  using S = std::make_signed_t<U>;
  constexpr S W = Src<T>::kW, B = Src<T>::kBias;
  constexpr U kSign = U{1} << (8 * sizeof(U) - 1);
  const U sign = u & kSign;
  const U neg = u >> (8 * sizeof(U) - 1);
  const U a = u & ~kSign;
  const U tiny_bits = static_cast<U>(s.tiny_bits);
  const S E = static_cast<S>(a >> W);
  S below = static_cast<S>(s.emin_sub) + B - E;
  below = below > 0 ? below : 0;
  S drop = W - static_cast<S>(s.mantissa_bits) + below;
  drop = drop < W ? drop : W;
  const U mask = (bounds.one << drop) - 1;
  const uint32_t r32 = kMode == kRoundStochastic ? key.bits(index_lo) : 0;
  U r;
  if (kMode == kRoundToOdd) {
    // Inexact: set the last kept bit (where it is the implicit bit, it is set already).
    r = (a & ~mask) | ((a & mask) != 0 && drop < W ? mask + 1 : 0);
  } else {
    U add = 0;
    if (kMode == kRoundNearestEven) {
      const U odd = drop < W ? (a >> drop) & 1 : 1;
      add = ((mask >> 1) + odd) & mask;  // half - 1 + odd; nothing when drop is 0
    } else if (kMode == kRoundNearestAway) {
      add = (mask >> 1) + (drop > 0 ? 1 : 0);
    } else if (kMode == kRoundUp) {
      add = sign ? 0 : mask;
    } else if (kMode == kRoundDown) {
      add = sign ? mask : 0;
    } else if (kMode == kRoundStochastic) {
      const U flip = static_cast<U>(~r32);
      const S sl = drop > 32 ? drop - 32 : 0;
      const S sr = drop < 32 ? 32 - drop : 0;
      add = ((flip << sl) >> (sr >> 1)) >> (sr - (sr >> 1));
    }
    r = (a + add) & ~mask;
  }

  const auto m = [](bool c) { return U{0} - static_cast<U>(c); };
  if constexpr (!kTiny) {
    rare = m(a < bounds.lowest) | m(r > static_cast<U>(s.max_bits));
    return sign | r;
  }
  // Below T: T or 0 (a tie goes to 0, whose last bit is even). Patterns compare as values.
  // Lane conditions are masks (all ones or 0), as vector compares give them: with bools, or
  // 0/1 integers made from them, GCC 12 mixes boolean widths and gives up on the loop.
  const U nonzero = m(a != 0);
  U up_tiny = 0;
  switch (kMode) {
    case kRoundNearestEven:
      up_tiny = m(a > bounds.half_tiny);
      break;
    case kRoundNearestAway:
      up_tiny = m(a >= bounds.half_tiny) & nonzero;
      break;
    case kRoundTowardZero:
      break;
    case kRoundUp:
      up_tiny = nonzero & (neg - 1);
      break;
    case kRoundDown:
      up_tiny = nonzero & (U{0} - neg);
      break;
    case kRoundToOdd:
      up_tiny = nonzero;
      break;
    default: {  // stochastic: |x| / T = M / 2^k, k >= 1
      const U m_sig = E > 0 ? (a & ((U{1} << W) - 1)) | (U{1} << W) : a;
      S k = static_cast<S>(s.tiny_exp) - ((E > 0 ? E : 1) - B - W);
      k = k < W + 33 ? k : W + 33;
      k = k > 1 ? k : 1;  // lanes at or above T (k < 1) discard up_tiny: no negative shift
      up_tiny = m(r32 < scaled32(m_sig, k));
    }
  }
  const U tiny_lane = m(a < tiny_bits);
  r = (r & ~tiny_lane) | (tiny_lane & up_tiny & tiny_bits);
  rare = (m(a < bounds.lowest) & ~tiny_lane) | m(r > static_cast<U>(s.max_bits));
  // Formats without -0 give +0 for every zero result.
  return (sign & ((U{0} - static_cast<U>(r != 0)) | bounds.zero_sign)) | r;
}

// Nearest-even in one pass, through the FPU's own rounding for results below the format's
// smallest normal 2^emin: there the quantum is T, and |x| + 2^(tiny_exp + W) - 2^(tiny_exp + W)
// is |x| rounded to a multiple of T to nearest even (the magic number's last place is T, and
// |x| < 2^emin <= it), subnormals and the 0 / T choice without subnormals included; the rest
// is the pattern rounded at the format's last bit, a fixed drop of W - m. rare marks results
// past the largest finite value (infinite and NaN inputs among them).
template <class T>
struct NearestLanes {
  using U = typename Src<T>::U;
  int drop;      // W - m
  U half_m1;     // 2^(drop - 1) - 1 plus what lsb does not add: see nearest_lanes
  U lsb;         // 1 where the kept part's last bit is read from the pattern
  U keep;        // ~(2^drop - 1)
  U normal_min;  // 2^emin's pattern
  U max_bits;    // the largest finite value
  U zero_sign;   // all ones where a zero result keeps its sign
  T magic;       // 2^(tiny_exp + W)
};

template <class T>
inline NearestLanes<T> nearest_lanes(const RoundSpec& s) {
  using U = typename Src<T>::U;
  constexpr int W = Src<T>::kW, B = Src<T>::kBias;
  const int drop = W - s.mantissa_bits;
  const U mask = (U{1} << drop) - 1;
  // Without subnormals the Python layer puts emin_sub far below the source's range, and T is
  // 2^emin itself.
  const bool subnormals = s.emin_sub > -B - W;
  const int emin = subnormals ? s.emin_sub : s.tiny_exp;
  // Nothing to round for drop 0; for drop W (no fraction bits) the kept part's last bit is
  // the implicit bit, always 1 (round_one's parity), so half_m1 carries it and lsb is 0.
  return {drop,
          drop == W ? (mask >> 1) + 1 : mask >> 1,
          drop > 0 && drop < W ? U{1} : U{0},
          static_cast<U>(~mask),
          static_cast<U>(emin + B) << W,
          static_cast<U>(s.max_bits),
          s.negative_zero ? static_cast<U>(~U{0}) : U{0},
          static_cast<T>(std::ldexp(1.0, s.tiny_exp + W))};
}

template <class T>
inline typename Src<T>::U round_nearest(typename Src<T>::U u, const NearestLanes<T>& c,
                                        typename Src<T>::U& rare) {
  using U = typename Src<T>::U;
  constexpr U kSign = U{1} << (8 * sizeof(U) - 1);
  const auto m = [](bool b) { return U{0} - static_cast<U>(b); };
  const U a = u & ~kSign;
  const U normal = (a + c.half_m1 + ((a >> c.drop) & c.lsb)) & c.keep;
  T v;
  memcpy(&v, &a, sizeof v);
  const T t = (v + c.magic) - c.magic;
  U sub;
  memcpy(&sub, &t, sizeof sub);
  const U below = m(a < c.normal_min);
  const U r = (sub & below) | (normal & ~below);
  rare = m(r > c.max_bits);
  return (u & kSign & (m(r != 0) | c.zero_sign)) | r;
}

template <class T, int kMode>
void round_run(const T* x, T* y, size_t n, uint64_t index0, const RoundSpec& spec) {
  using U = typename Src<T>::U;
  constexpr int W = Src<T>::kW;
  // A local copy: the stores to y could otherwise alias the spec, which the compiler would
  // then reload for every element instead of keeping in registers.
  const RoundSpec s = spec;
  const U* xs = reinterpret_cast<const U*>(x);
  U* ys = reinterpret_cast<U*>(y);
  // Blocks of 128 (64 ran 10-20% slower on Zen 3, 256 sent more float8 blocks to the second
  // pass): the rare lanes of a block are rounded again from x by the full function, one
  // by one. In place (y is x), through a buffer, so that x is still there for them.
  constexpr size_t kBlock = 128;
  U buf[kBlock], rare[kBlock];
  const bool in_place = static_cast<const void*>(xs) == static_cast<const void*>(ys);
  if constexpr (kMode == kRoundNearestEven && FpuGuard::kKnown) {
    const NearestLanes<T> c = nearest_lanes<T>(s);
    for (size_t i0 = 0; i0 < n; i0 += kBlock) {
      const size_t len = n - i0 < kBlock ? n - i0 : kBlock;
      const U* xb = xs + i0;
      U* yb = in_place ? buf : ys + i0;
      U any = 0;
      for (size_t j = 0; j < len; ++j) {
        yb[j] = round_nearest<T>(xb[j], c, rare[j]);
        any |= rare[j];
      }
      for (size_t j = 0; any && j < len; ++j) {
        if (rare[j]) yb[j] = round_one<T, kMode>(xb[j], 0, s);
      }
      if (in_place) memcpy(ys + i0, buf, len * sizeof(U));
    }
    return;
  }
  // T / 2: T is a power of two, normal (one binade down) or a subnormal (half the pattern);
  // where it is the smallest subnormal, 0, as nothing nonzero lies below T then.
  const U tb = static_cast<U>(s.tiny_bits);
  const CommonBounds<U> bounds{tb > (U{1} << W) ? tb : U{1} << W,
                               tb >= (U{2} << W) ? tb - (U{1} << W) : tb >> 1,
                               s.negative_zero ? static_cast<U>(~U{0}) : U{0}, opaque_one<U>()};
  // Inputs below T (zeros included) are common in some data and formats (float4_e2m1fn's T is
  // 0.5) and need a second, still vectorised, pass of the block with them. After a block that
  // needed it, the next kTinyRun blocks take that pass alone, then the short one is tried again.
  constexpr int kTinyRun = 16;
  int tiny_first = 0;
  size_t len;
  for (size_t i0 = 0; i0 < n; i0 += len) {
    const uint64_t first = index0 + i0;
    len = block_len(n - i0, first, kBlock);
    const BlockKey key = block_key(first, s.key0, s.key1);
    const U* xb = xs + i0;
    U* yb = in_place ? buf : ys + i0;
    U any = 1;
    if (tiny_first == 0) {
      any = 0;
      uint32_t lo = key.lo;
      for (size_t j = 0; j < len; ++j, ++lo) {
        yb[j] = round_common<T, kMode, false>(xb[j], key, lo, s, bounds, rare[j]);
        any |= rare[j];
      }
      if (any) tiny_first = kTinyRun + 1;
    }
    if (tiny_first > 0) --tiny_first;
    if (any) {
      any = 0;
      uint32_t lo = key.lo;
      for (size_t j = 0; j < len; ++j, ++lo) {
        yb[j] = round_common<T, kMode, true>(xb[j], key, lo, s, bounds, rare[j]);
        any |= rare[j];
      }
    }
    if (any) {
      for (size_t j = 0; j < len; ++j) {
        if (rare[j]) yb[j] = round_one<T, kMode>(xb[j], first + j, s);
      }
    }
    if (in_place) memcpy(ys + i0, buf, len * sizeof(U));
  }
}

template <class T>
void round_modes(const void* x, void* y, size_t n, uint64_t index0, const RoundSpec& s) {
  with_mode(s.mode, [&](auto mode) {
    round_run<T, decltype(mode)::value>(static_cast<const T*>(x), static_cast<T*>(y), n, index0, s);
  });
}

template <class T>
void round_any(const void* x, void* y, size_t n, uint64_t index0, const RoundSpec& s) {
  const FpuGuard fpu;
  round_modes<T>(x, y, n, index0, s);
}

// float32 to a small format's codes, to nearest even, in one pass: a result among the format's
// normals is the pattern rounded at the format's last bit with its exponent rebiased; below
// them, the value scaled to units of the smallest subnormal and rounded to an integer by the
// FPU (adding 2^23, under FpuGuard), which is exact and ties to even. rare marks the lanes it
// does not answer (NaN, infinities, results past the largest finite value), which the caller
// rounds and encodes again one by one. NearestCodes: the format's constants.
struct NearestCodes {
  int mantissa_bits;
  uint32_t rebias;      // (127 - bias) << m: the source's exponent field moved to the format's
  uint32_t normal_min;  // the format's smallest normal's pattern
  uint32_t max_code;    // the largest finite code's magnitude
  float sub_scale;      // 2^(bias - 1 + m): a value in units of the smallest subnormal
  int sign_shift;       // 32 - bits: the source's sign moved to the code's
  uint32_t sign_bit;    // the code's
};

// kM: the format's mantissa bits, so that the shifts are immediates (the formats of ml_dtypes
// have 1 to 4), or 0 for any, read from c. kNegZero: the format has -0. The result's bits
// above the code's are left as they fall (the caller keeps the low byte): the subnormal lanes'
// pattern of 2^23 + k is k there. rare needs no test of its own for infinities and NaN: their
// pattern rounds past every finite code.
template <int kM, bool kNegZero>
inline uint32_t encode_nearest_f32(uint32_t u, const NearestCodes& c, uint32_t& rare) {
  const auto m = [](bool b) { return uint32_t{0} - static_cast<uint32_t>(b); };
  const int mb = kM > 0 ? kM : c.mantissa_bits;
  const uint32_t a = u & 0x7fffffffu;
  const int drop = 23 - mb;
  const uint32_t odd = (a >> drop) & 1;
  const uint32_t rounded = (a + ((1u << drop) >> 1) - 1 + odd) >> drop;
  const uint32_t normal = rounded - c.rebias;
  float v;
  memcpy(&v, &a, sizeof v);
  const float t = v * c.sub_scale + 8388608.0f;
  uint32_t sub;
  memcpy(&sub, &t, sizeof sub);
  const uint32_t below = m(a < c.normal_min);
  const uint32_t mag = (sub & below) | (normal & ~below);
  rare = m(normal > c.max_code) & ~below;
  const uint32_t sign = (u >> c.sign_shift) & c.sign_bit;
  if constexpr (kNegZero) return mag | sign;
  // A zero code takes no sign.
  return mag | (sign & m((mag & (c.sign_bit - 1)) != 0));
}

template <int kM, bool kNegZero>
void encode_nearest_run(const uint32_t* x, uint8_t* codes, size_t n, const RoundSpec& s,
                        const EncodeSpec& e, const NearestCodes& c) {
  // Only whether a block has rare lanes is kept: which ones, the second loop finds again.
  constexpr size_t kBlock = 256;
  for (size_t i0 = 0; i0 < n; i0 += kBlock) {
    const size_t len = n - i0 < kBlock ? n - i0 : kBlock;
    uint32_t any = 0;
    for (size_t j = 0; j < len; ++j) {
      uint32_t rare;
      codes[i0 + j] = static_cast<uint8_t>(encode_nearest_f32<kM, kNegZero>(x[i0 + j], c, rare));
      any |= rare;
    }
    for (size_t j = 0; any && j < len; ++j) {
      uint32_t rare;
      encode_nearest_f32<kM, kNegZero>(x[i0 + j], c, rare);
      if (rare) {
        codes[i0 + j] = encode_one<float>(round_one<float, kRoundNearestEven>(x[i0 + j], 0, s), e);
      }
    }
  }
}

template <class T>
unsigned encode_any(const void* x, uint8_t* codes, size_t n, uint64_t index0, const RoundSpec& s,
                    const EncodeSpec& spec) {
  using U = typename Src<T>::U;
  const FpuGuard fpu;
  // A local copy: a store through uint8_t* may alias anything, so the compiler would reload
  // the spec's fields after every code written.
  const EncodeSpec e = spec;
  const T* xs = static_cast<const T*>(x);
  constexpr size_t kBlock = 256;
  U buf[kBlock];
  unsigned flags = 0;
  if constexpr (sizeof(U) == 4) {
    if (s.mode == kRoundNearestEven && FpuGuard::kKnown) {
      const RoundSpec rs = s;
      const uint32_t* xu = reinterpret_cast<const uint32_t*>(xs);
      const int mb = rs.mantissa_bits;
      const uint32_t max_bits = static_cast<uint32_t>(rs.max_bits);
      const NearestCodes c{
          mb,
          static_cast<uint32_t>(127 - e.bias) << mb,
          static_cast<uint32_t>(127 + 1 - e.bias) << 23,
          ((max_bits >> 23) - 127 + e.bias) << mb | ((max_bits >> (23 - mb)) & ((1u << mb) - 1)),
          std::ldexp(1.0f, e.bias - 1 + mb),
          32 - e.bits,
          1u << (e.bits - 1)};
      const auto run = [&](auto negative_zero) {
        constexpr bool kNz = decltype(negative_zero)::value;
        switch (mb) {
          case 1:
            return encode_nearest_run<1, kNz>(xu, codes, n, rs, e, c);
          case 2:
            return encode_nearest_run<2, kNz>(xu, codes, n, rs, e, c);
          case 3:
            return encode_nearest_run<3, kNz>(xu, codes, n, rs, e, c);
          case 4:
            return encode_nearest_run<4, kNz>(xu, codes, n, rs, e, c);
          default:
            return encode_nearest_run<0, kNz>(xu, codes, n, rs, e, c);
        }
      };
      if (rs.negative_zero) {
        run(std::true_type{});
      } else {
        run(std::false_type{});
      }
      return 0;
    }
  }
  for (size_t i0 = 0; i0 < n; i0 += kBlock) {
    const size_t len = n - i0 < kBlock ? n - i0 : kBlock;
    round_modes<T>(xs + i0, buf, len, index0 + i0, s);
    for (size_t j = 0; j < len; ++j) codes[i0 + j] = encode_one<T>(buf[j], e);
    if constexpr (sizeof(U) == 8) {
      // ml_dtypes casts a float64 through a hardware float64 -> float32 conversion on the way
      // (it then rounds from the float64 value): its flags are that conversion's.
      const U* xb = reinterpret_cast<const U*>(xs + i0);
      U any = 0;
      for (size_t j = 0; j < len; ++j) {
        const U a = xb[j] & 0x7fffffffffffffffull;
        any |= static_cast<U>(a - 1 < 0x380ffffff0000000ull - 1) |
               static_cast<U>(a >= 0x47effffff0000000ull && a < 0x7ff0000000000000ull);
      }
      if (any) {
        for (size_t j = 0; j < len; ++j) {
          flags |= Conv<num::kF64, num::kBF16>::f64_to_f32_flags(xb[j]);
        }
      }
    }
  }
  return flags;
}

// ---- storage formats' codes, read --------------------------------------------------------

// A normal code's bits are its fields moved under the result type's (the exponent rebiased); a
// subnormal's value is its magnitude, converted exactly, times 2^(emin - m), a normal number
// of the result type: no subnormal operand, which flush modes (DAZ) would zero and which costs
// a microcode assist on x86 (placing every magnitude under the result's fields and scaling all
// by one product was 1.5x slower on Zen 3 for that reason). Special codes (NaN, inf) come from
// the table, in a second pass over the blocks that have them. Masks, not selects: with
// -ftrapping-math GCC will not if-convert a select of a floating-point product, and the loop
// would not vectorise.
template <class T>
void decode_any(const uint8_t* codes, void* y, size_t n, const DecodeSpec& spec) {
  using U = typename Src<T>::U;
  const FpuGuard fpu;
  constexpr int W = Src<T>::kW, B = Src<T>::kBias;
  const DecodeSpec d = spec;  // a local copy: the stores to y could otherwise alias it
  const U* table = static_cast<const U*>(d.table);
  U* ys = static_cast<U*>(y);
  const U top = U{1} << (d.bits - 1);
  const U frac_mask = (U{1} << d.mantissa_bits) - 1;
  const U rebias = static_cast<U>(B - d.bias);
  const int frac_shift = W - d.mantissa_bits;
  const T sub_scale = static_cast<T>(std::ldexp(1.0, 1 - d.bias - d.mantissa_bits));
  const U special_mag = static_cast<U>(d.special_mag);
  const U special_code = static_cast<U>(d.special_code);
  constexpr size_t kBlock = 256;
  for (size_t i0 = 0; i0 < n; i0 += kBlock) {
    const size_t len = n - i0 < kBlock ? n - i0 : kBlock;
    const uint8_t* cb = codes + i0;
    U* yb = ys + i0;
    U any = 0;
    for (size_t j = 0; j < len; ++j) {
      const U c = cb[j];
      const U sign = static_cast<U>(c >= top) << (8 * sizeof(U) - 1);
      const U mag = c & (top - 1);
      const U field = mag >> d.mantissa_bits;
      const U normal = ((field + rebias) << W) | ((mag & frac_mask) << frac_shift);
      U sub;
      const T v = static_cast<T>(static_cast<std::make_signed_t<U>>(mag)) * sub_scale;
      memcpy(&sub, &v, sizeof(U));
      const U is_normal = U{0} - static_cast<U>(field != 0);
      yb[j] = sign | (normal & is_normal) | (sub & ~is_normal);
      any |=
          (U{0} - static_cast<U>(mag >= special_mag)) | (U{0} - static_cast<U>(c == special_code));
    }
    if (any) {
      for (size_t j = 0; j < len; ++j) {
        const U mag = cb[j] & (top - 1);
        if (mag >= special_mag || cb[j] == special_code) yb[j] = table[cb[j]];
      }
    }
  }
}

// ---- fixed point ----------------------------------------------------------------------------

// Saturating words of at most W bits in the modes the FPU has, with the FPU: x * 2^n, rounded in
// the mode's direction (FpuGuard::Direction), clamped to the word's range, then rounded to an
// integer by adding 1.5 * 2^W (to nearest even, up or down as the direction says; toward zero
// on the magnitude), whose pattern's low bits are then the code. The scaling's own rounding
// cannot move the result: it is exact unless the product is below the smallest normal or past
// the largest, where the code is 0 or +-1 in the mode's direction (a directed product keeps
// its side of 0) or the saturated one. rare marks NaN, which fixed_code answers.
template <class T>
struct FixedFpu {
  T scale_up;  // 2^n
  T lo, hi;    // the smallest and largest codes
};

template <class T>
inline bool fixed_fpu_fits(const FixedSpec& f) {
  constexpr uint64_t kHalf = uint64_t{1} << (Src<T>::kW - 1);
  // |code| <= 2^(W - 1) keeps every sum with 1.5 * 2^W in one binade, whose last place is 1.
  return !f.wrap && f.hi < kHalf && f.lo_magnitude <= kHalf &&
         (f.mode == kRoundNearestEven || f.mode == kRoundTowardZero || f.mode == kRoundUp ||
          f.mode == kRoundDown);
}

template <class T, int kMode>
inline typename Src<T>::U fixed_fpu(typename Src<T>::U u, const FixedFpu<T>& c,
                                    typename Src<T>::U& rare) {
  using U = typename Src<T>::U;
  constexpr int W = Src<T>::kW;
  constexpr U kSign = U{1} << (8 * sizeof(U) - 1);
  constexpr U kInf = ((U{1} << (8 * sizeof(U) - 1 - W)) - 1) << W;
  constexpr T kMagic = static_cast<T>(3) * static_cast<T>(U{1} << (W - 1));
  constexpr U kMagicBits = (U{Src<T>::kBias + W} << W) | (U{1} << (W - 1));
  const auto m = [](bool b) { return U{0} - static_cast<U>(b); };
  T v;
  memcpy(&v, &u, sizeof v);
  T t = v * c.scale_up;
  t = t > c.lo ? t : c.lo;
  t = t < c.hi ? t : c.hi;
  U tb;
  memcpy(&tb, &t, sizeof tb);
  const U neg = m((tb & kSign) != 0);
  if constexpr (kMode == kRoundTowardZero) {
    tb &= ~kSign;
    memcpy(&t, &tb, sizeof t);
  }
  const T sum = t + kMagic;
  U k;
  memcpy(&k, &sum, sizeof k);
  k -= kMagicBits;
  if constexpr (kMode == kRoundTowardZero) k = (k ^ neg) - neg;
  rare = m((u & ~kSign) > kInf);
  return k;
}

// Blocks of codes in L, the rare lanes of a block answered again in 64 bits, then written as
// codes or values.
template <class T, int kMode, class L>
unsigned fixed_blocks(const T* x, void* y, size_t n, uint64_t index0, const FixedSpec& spec) {
  using U = typename Src<T>::U;
  using SL = std::make_signed_t<L>;
  constexpr int W = Src<T>::kW;
  constexpr U kSign = U{1} << (8 * sizeof(U) - 1);
  constexpr U kInf = ((U{1} << (8 * sizeof(U) - 1 - W)) - 1) << W;
  constexpr U kQuiet = U{1} << (W - 1);
  // Local copies: stores to y could otherwise alias the spec.
  const FixedLanes<L> f = fixed_lanes<L>(spec);
  const FixedLanes<uint64_t> f64 = fixed_lanes<uint64_t>(spec);
  const int out_bytes = spec.out_bytes;
  const T scale = static_cast<T>(spec.scale);
  const U* xs = reinterpret_cast<const U*>(x);
  constexpr size_t kBlock = 256;
  L codes[kBlock], rare[kBlock], none[kBlock];
  unsigned flags = 0;
  constexpr bool kFpuMode = kMode == kRoundNearestEven || kMode == kRoundTowardZero ||
                            kMode == kRoundUp || kMode == kRoundDown;
  const bool fpu =
      FpuGuard::kKnown && kFpuMode && sizeof(L) == sizeof(U) && fixed_fpu_fits<T>(spec);
  const FpuGuard::Direction direction(fpu ? kMode : kRoundNearestEven);
  const FixedFpu<T> c{static_cast<T>(std::ldexp(1.0, spec.fraction_bits)),
                      -static_cast<T>(spec.lo_magnitude), static_cast<T>(spec.hi)};
  size_t len;
  for (size_t i0 = 0; i0 < n; i0 += len) {
    len = block_len(n - i0, index0 + i0, kBlock);
    const BlockKey key = block_key(index0 + i0, f.key0, f.key1);
    const U* xb = xs + i0;
    L any = 0, any_none = 0;
    if constexpr (kFpuMode && sizeof(L) == sizeof(U)) {
      if (fpu) {
        for (size_t j = 0; j < len; ++j) {
          codes[j] = fixed_fpu<T, kMode>(xb[j], c, rare[j]);
          any |= rare[j];
          none[j] = 0;
        }
      }
    }
    if (!fpu) {
      uint32_t lo = key.lo;
      for (size_t j = 0; j < len; ++j, ++lo) {
        codes[j] = fixed_code<T, kMode, L>(xb[j], key, lo, f, rare[j], none[j]);
        any |= rare[j];
        any_none |= none[j];
      }
    }
    // Rare lanes (fixed_code's past 2^31 in 32-bit lanes, fixed_fpu's NaNs) again in 64 bits.
    for (size_t j = 0; any && j < len; ++j) {
      if (!rare[j]) continue;
      uint64_t unused, none64;
      codes[j] = static_cast<L>(fixed_code<T, kMode, uint64_t>(
          xb[j], key, key.lo + static_cast<uint32_t>(j), f64, unused, none64));
      none[j] = static_cast<L>(none64);
      any_none |= none[j];
    }
    switch (out_bytes) {
      case 1:
        for (size_t j = 0; j < len; ++j) static_cast<uint8_t*>(y)[i0 + j] = codes[j];
        break;
      case 2:
        for (size_t j = 0; j < len; ++j) static_cast<uint16_t*>(y)[i0 + j] = codes[j];
        break;
      case 4:
        for (size_t j = 0; j < len; ++j) static_cast<uint32_t*>(y)[i0 + j] = codes[j];
        break;
      case 8:
        for (size_t j = 0; j < len; ++j) static_cast<uint64_t*>(y)[i0 + j] = codes[j];
        break;
      default: {
        // Values: a code has at most the source's significand bits (the Python layer checks),
        // so the conversion and the power-of-two scale are exact.
        T* ys = static_cast<T*>(y) + i0;
        for (size_t j = 0; j < len; ++j) ys[j] = static_cast<T>(static_cast<SL>(codes[j])) * scale;
        if (any_none) {
          // NaN stays NaN (quieted, its sign kept); an infinity that wraps becomes NaN.
          U* yu = reinterpret_cast<U*>(ys);
          for (size_t j = 0; j < len; ++j) {
            if (none[j]) yu[j] = xb[j] | kInf | kQuiet;
          }
        }
      }
    }
    for (size_t j = 0; any_none && j < len; ++j) {
      // A NaN's value is NaN without a flag, as arithmetic propagates it; a NaN's code and a
      // wrapped infinity have no answer, as numpy's float -> int casts report.
      if (none[j] && (out_bytes != 0 || (xb[j] & ~kSign) == kInf)) flags |= kFlagInvalid;
    }
  }
  return flags;
}

template <class T, int kMode>
unsigned fixed_run(const T* x, void* y, size_t n, uint64_t index0, const FixedSpec& f) {
  // float32 sources and words of up to 32 bits: 32-bit lanes, eight to an AVX2 register.
  if constexpr (sizeof(T) == 4) {
    if (f.mask <= 0xffffffffu) return fixed_blocks<T, kMode, uint32_t>(x, y, n, index0, f);
  }
  return fixed_blocks<T, kMode, uint64_t>(x, y, n, index0, f);
}

template <class T>
unsigned fixed_any(const void* x, void* y, size_t n, uint64_t index0, const FixedSpec& f) {
  const FpuGuard fpu;
  return with_mode(f.mode, [&](auto mode) {
    return fixed_run<T, decltype(mode)::value>(static_cast<const T*>(x), y, n, index0, f);
  });
}

}  // namespace rnd

// Every tier's translation unit calls this with its own compiler flags.
inline void fill_round(ConvertTable& t) {
  t.round[0] = &rnd::round_any<float>;
  t.round[1] = &rnd::round_any<double>;
  t.encode[0] = &rnd::encode_any<float>;
  t.encode[1] = &rnd::encode_any<double>;
  t.decode[0] = &rnd::decode_any<float>;
  t.decode[1] = &rnd::decode_any<double>;
  t.fixed[0] = &rnd::fixed_any<float>;
  t.fixed[1] = &rnd::fixed_any<double>;
}

}  // namespace
}  // namespace halfkit
