// The numeric contract of halfkit as scalar integer code (see shared/numerics.md).
//
// This header is the specification: every SIMD tier and every CUDA kernel is tested bit for bit
// against these functions, and these functions are tested against numpy (float16) and
// ml_dtypes (bfloat16). Only integer arithmetic is used, so the results cannot depend on MXCSR,
// FTZ/DAZ, compiler flags or a compiler's idea of a bf16 cast.
//
// Every function has internal linkage (HK_FN is `static inline`): this header is included by
// translation units compiled with AVX-512 flags, and an inline function with external linkage
// could be merged by the linker with a copy that uses instructions a baseline CPU lacks.
#pragma once

#include <stdint.h>

#if defined(__CUDACC__)
#define HK_FN static __host__ __device__ __forceinline__
#else
#define HK_FN static inline
#endif

namespace halfkit {
namespace num {

// Storage formats, in the order used by the kernel tables.
enum Format : int { kF16 = 0, kBF16 = 1, kF32 = 2, kF64 = 3, kNumFormats = 4 };

// Round `m` right by `shift` bits (1 <= shift <= 63) to nearest, ties to even.
HK_FN uint64_t shift_rne64(uint64_t m, unsigned shift) {
  const uint64_t q = m >> shift;
  const uint64_t rem = m & ((uint64_t{1} << shift) - 1);
  const uint64_t half = uint64_t{1} << (shift - 1);
  return q + ((rem > half || (rem == half && (q & 1))) ? 1 : 0);
}

// Index of the highest set bit of a non-zero value.
HK_FN unsigned top_bit(uint64_t v) {
  unsigned p = 0;
  while (v >>= 1) ++p;
  return p;
}

// ---- to float16 ---------------------------------------------------------------------------

// numpy's float32 -> float16: RNE with full sticky bits; NaN payload truncated, never quieted,
// forced non-zero.
HK_FN uint16_t f32_to_f16(uint32_t u) {
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) {
    const uint32_t m = (a >> 13) & 0x3ffu;
    return static_cast<uint16_t>(sign | 0x7c00u | (m ? m : 1u));
  }
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 and inf
  if (a >= 0x38800000u) {                                              // f16 normal range
    const uint32_t r = a - (112u << 23);                               // rebias 127 -> 15
    return static_cast<uint16_t>(sign | ((r + 0xfffu + ((r >> 13) & 1u)) >> 13));
  }
  if (a <= 0x33000000u) return static_cast<uint16_t>(sign);  // <= 2^-25 (the tie goes to 0)
  const uint32_t e = a >> 23;
  const uint64_t m = (a & 0x7fffffu) | 0x800000u;
  return static_cast<uint16_t>(sign | shift_rne64(m, 126u - e));
}

// numpy's float64 -> float16: one RNE straight from 53 bits (never through float32).
HK_FN uint16_t f64_to_f16(uint64_t u) {
  const uint32_t sign = static_cast<uint32_t>(u >> 48) & 0x8000u;
  const uint64_t a = u & 0x7fffffffffffffffull;
  if (a > 0x7ff0000000000000ull) {
    const uint32_t m = static_cast<uint32_t>(a >> 42) & 0x3ffu;
    return static_cast<uint16_t>(sign | 0x7c00u | (m ? m : 1u));
  }
  if (a >= 0x40effe0000000000ull) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520
  if (a >= 0x3f10000000000000ull) {                                              // >= 2^-14
    const uint64_t r = a - (uint64_t{1008} << 52);                               // 1023 -> 15
    const uint64_t h = (r + ((uint64_t{1} << 41) - 1) + ((r >> 42) & 1)) >> 42;
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(h));
  }
  if (a <= 0x3e60000000000000ull) return static_cast<uint16_t>(sign);  // <= 2^-25
  const unsigned e = static_cast<unsigned>(a >> 52);
  const uint64_t m = (a & 0xfffffffffffffull) | (uint64_t{1} << 52);
  return static_cast<uint16_t>(sign | static_cast<uint32_t>(shift_rne64(m, 1051u - e)));
}

// ---- to bfloat16 --------------------------------------------------------------------------

// ml_dtypes' float32 -> bfloat16: RNE, subnormals kept, every NaN -> 0x7fc0 | sign.
HK_FN uint16_t f32_to_bf16(uint32_t u) {
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>(((u >> 16) & 0x8000u) | 0x7fc0u);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// float64 -> bfloat16, correctly rounded (one RNE from the exact value; ml_dtypes 0.6 rounds
// twice through float32 and differs near midpoints).
HK_FN uint16_t f64_to_bf16(uint64_t u) {
  const uint32_t sign = static_cast<uint32_t>(u >> 48) & 0x8000u;
  const uint64_t a = u & 0x7fffffffffffffffull;
  if (a > 0x7ff0000000000000ull) return static_cast<uint16_t>(sign | 0x7fc0u);
  if (a >= 0x47eff00000000000ull) return static_cast<uint16_t>(sign | 0x7f80u);  // >= max+ulp/2
  if (a >= 0x3810000000000000ull) {                                              // >= 2^-126
    const uint64_t r = a - (uint64_t{896} << 52);                                // 1023 -> 127
    const uint64_t h = (r + ((uint64_t{1} << 44) - 1) + ((r >> 45) & 1)) >> 45;
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(h));
  }
  if (a <= 0x3790000000000000ull) return static_cast<uint16_t>(sign);  // <= 2^-134
  const unsigned e = static_cast<unsigned>(a >> 52);
  const uint64_t m = (a & 0xfffffffffffffull) | (uint64_t{1} << 52);
  return static_cast<uint16_t>(sign | static_cast<uint32_t>(shift_rne64(m, 942u - e)));
}

// ---- widening -----------------------------------------------------------------------------

// numpy's float16 -> float32: exact; NaN payload and signalling state kept.
HK_FN uint32_t f16_to_f32(uint16_t h) {
  const uint32_t sign = (static_cast<uint32_t>(h) & 0x8000u) << 16;
  const uint32_t a = h & 0x7fffu;
  if (a >= 0x7c00u) return sign | 0x7f800000u | ((a & 0x3ffu) << 13);
  if (a >= 0x0400u) return sign | ((a << 13) + (112u << 23));
  if (a == 0) return sign;
  const unsigned p = top_bit(a);  // value = a * 2^-24
  return sign | ((p + 103u) << 23) | ((a << (23u - p)) & 0x7fffffu);
}

// numpy's float16 -> float64: exact; NaN payload and signalling state kept.
HK_FN uint64_t f16_to_f64(uint16_t h) {
  const uint64_t sign = (static_cast<uint64_t>(h) & 0x8000u) << 48;
  const uint64_t a = h & 0x7fffu;
  if (a >= 0x7c00u) return sign | 0x7ff0000000000000ull | ((a & 0x3ffu) << 42);
  if (a >= 0x0400u) return sign | ((a << 42) + (uint64_t{1008} << 52));
  if (a == 0) return sign;
  const unsigned p = top_bit(a);
  return sign | (uint64_t{p + 999u} << 52) | ((a << (52u - p)) & 0xfffffffffffffull);
}

// ml_dtypes' bfloat16 -> float32: the bits, shifted.
HK_FN uint32_t bf16_to_f32(uint16_t h) { return static_cast<uint32_t>(h) << 16; }

// ml_dtypes' bfloat16 -> float64 goes through a float -> double cast, which is exact except
// that the hardware quiets a signalling NaN (sets the top mantissa bit).
HK_FN uint64_t bf16_to_f64(uint16_t h) {
  const uint64_t sign = (static_cast<uint64_t>(h) & 0x8000u) << 48;
  const uint64_t a = h & 0x7fffu;
  if (a > 0x7f80u) return sign | 0x7ff8000000000000ull | ((a & 0x7fu) << 45);
  if (a == 0x7f80u) return sign | 0x7ff0000000000000ull;
  if (a >= 0x0080u) return sign | ((a << 45) + (uint64_t{896} << 52));
  if (a == 0) return sign;
  const unsigned p = top_bit(a);  // value = a * 2^-133
  return sign | (uint64_t{p + 890u} << 52) | ((a << (52u - p)) & 0xfffffffffffffull);
}

// ---- between the 16-bit formats (ml_dtypes: through float32, one rounding) ------------------

HK_FN uint16_t f16_to_bf16(uint16_t h) { return f32_to_bf16(f16_to_f32(h)); }

HK_FN uint16_t bf16_to_f16(uint16_t h) {
  if ((h & 0x7fffu) > 0x7f80u) return static_cast<uint16_t>((h & 0x8000u) | 0x7e00u);
  return f32_to_f16(bf16_to_f32(h));
}

// ---- floating-point flags (what the peers report: see Conv::flags) -----------------------

HK_FN bool f16_is_inf(uint16_t h) { return (h & 0x7fffu) == 0x7c00u; }
HK_FN bool f32_is_finite(uint32_t u) { return (u & 0x7f800000u) != 0x7f800000u; }
HK_FN bool f64_is_finite(uint64_t u) {
  return (u & 0x7ff0000000000000ull) != 0x7ff0000000000000ull;
}

HK_FN bool f32_is_snan(uint32_t u) {
  const uint32_t a = u & 0x7fffffffu;
  return a > 0x7f800000u && a < 0x7fc00000u;
}
HK_FN bool f16_is_snan(uint16_t h) {
  const uint32_t a = h & 0x7fffu;
  return a > 0x7c00u && a < 0x7e00u;
}
HK_FN bool bf16_is_snan(uint16_t h) {
  const uint32_t a = h & 0x7fffu;
  return a > 0x7f80u && a < 0x7fc0u;
}

// Whether the peer's cast from format S to format D can raise underflow for some input.
constexpr bool can_underflow(int s, int d) {
  return (d == kF16 && (s == kF32 || s == kF64)) || (s == kF64 && d == kBF16);
}

// ---- by format code ------------------------------------------------------------------------

template <int F>
struct Bits;
template <>
struct Bits<kF16> {
  using type = uint16_t;
};
template <>
struct Bits<kBF16> {
  using type = uint16_t;
};
template <>
struct Bits<kF32> {
  using type = uint32_t;
};
template <>
struct Bits<kF64> {
  using type = uint64_t;
};

// The conversion from format S to format D (one of the ten with a 16-bit side).
template <int S, int D>
HK_FN typename Bits<D>::type convert_bits(typename Bits<S>::type x) {
  if constexpr (S == kF32 && D == kF16) return f32_to_f16(x);
  if constexpr (S == kF64 && D == kF16) return f64_to_f16(x);
  if constexpr (S == kBF16 && D == kF16) return bf16_to_f16(x);
  if constexpr (S == kF32 && D == kBF16) return f32_to_bf16(x);
  if constexpr (S == kF64 && D == kBF16) return f64_to_bf16(x);
  if constexpr (S == kF16 && D == kBF16) return f16_to_bf16(x);
  if constexpr (S == kF16 && D == kF32) return f16_to_f32(x);
  if constexpr (S == kF16 && D == kF64) return f16_to_f64(x);
  if constexpr (S == kBF16 && D == kF32) return bf16_to_f32(x);
  if constexpr (S == kBF16 && D == kF64) return bf16_to_f64(x);
}

}  // namespace num
}  // namespace halfkit
