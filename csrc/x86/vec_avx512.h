// Vector traits for the AVX-512 tiers (F, BW, VL, DQ): 16 lanes, opmask predicates, masked tails.
#pragma once

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "x86/vec_avx2.h"

namespace halfkit {
namespace {

struct V512 {
  static constexpr size_t N = 16;
  static constexpr bool kNativeBf16 = false;
  static constexpr bool kCheapSticky = true;  // see vec_avx2.h
  using U32 = __m512i;
  using U16 = __m256i;
  using M = __mmask16;
  struct F64 {
    __m512d lo, hi;
  };

  static M tail(size_t n) { return n >= N ? M(0xffff) : M((1u << n) - 1); }

  static U32 load32(const void* p, size_t n) {
    return n == N ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi32(tail(n), p);
  }
  static U16 load16(const void* p, size_t n) {
    return n == N ? _mm256_loadu_si256(static_cast<const __m256i*>(p))
                  : _mm256_maskz_loadu_epi16(tail(n), p);
  }
  // kStream: a non-temporal store for a full block (p aligned to the store's width).
  template <bool kStream = false>
  static void store32(void* p, U32 v, size_t n) {
    if (n != N) {
      _mm512_mask_storeu_epi32(p, tail(n), v);
    } else if constexpr (kStream) {
      _mm512_stream_si512(static_cast<__m512i*>(p), v);
    } else {
      _mm512_storeu_si512(p, v);
    }
  }
  template <bool kStream = false>
  static void store16(void* p, U16 v, size_t n) {
    if (n != N) {
      _mm256_mask_storeu_epi16(p, tail(n), v);
    } else if constexpr (kStream) {
      _mm256_stream_si256(static_cast<__m256i*>(p), v);
    } else {
      _mm256_storeu_si256(static_cast<__m256i*>(p), v);
    }
  }
  static F64 load64(const void* p, size_t n) {
    const double* d = static_cast<const double*>(p);
    if (n == N) return {_mm512_loadu_pd(d), _mm512_loadu_pd(d + 8)};
    const M m = tail(n);
    return {_mm512_maskz_loadu_pd(__mmask8(m), d), _mm512_maskz_loadu_pd(__mmask8(m >> 8), d + 8)};
  }
  // With MXCSR rounding toward zero, setting the last bit of an inexact result gives float64 ->
  // float32 rounded to odd; one later RNE to a 16-bit format from it is then correctly rounded
  // (float32 keeps more than two bits beyond float16's and bfloat16's significands).
  static __m256i odd_half(__m512d x) {
    const __m256i f = _mm256_castps_si256(_mm512_cvtpd_ps(x));
    const __mmask8 inexact =
        _mm512_cmp_pd_mask(_mm512_cvtps_pd(_mm256_castsi256_ps(f)), x, _CMP_NEQ_UQ);
    return _mm256_mask_or_epi32(f, inexact, f, _mm256_set1_epi32(1));
  }
  static U32 to_f32_odd(F64 x) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(odd_half(x.lo)), odd_half(x.hi), 1);
  }
  // The same, with the sticky bit taken from the 29 mantissa bits float32 drops: exact wherever
  // the float32 result is normal, infinite or NaN, and one test instead of a round trip.
  static __m256i odd_half_fast(__m512d x) {
    const __m256i f = _mm256_castps_si256(_mm512_cvtpd_ps(x));
    const __mmask8 inexact =
        _mm512_test_epi64_mask(_mm512_castpd_si512(x), _mm512_set1_epi64(0x1fffffff));
    return _mm256_mask_or_epi32(f, inexact, f, _mm256_set1_epi32(1));
  }
  static U32 to_f32_odd_fast(F64 x) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(odd_half_fast(x.lo)), odd_half_fast(x.hi), 1);
  }
  static F64 widen_f64(U32 f) {
    return {_mm512_cvtps_pd(_mm256_castsi256_ps(_mm512_castsi512_si256(f))),
            _mm512_cvtps_pd(_mm256_castsi256_ps(_mm512_extracti64x4_epi64(f, 1)))};
  }
  static F64 bf16_to_f64(U16 h) { return widen_f64(slli<16>(widen16(h))); }
  template <bool kStream = false>
  static void store64(void* p, F64 r, size_t n) {
    double* d = static_cast<double*>(p);
    if (n == N && kStream) {
      _mm512_stream_pd(d, r.lo);
      _mm512_stream_pd(d + 8, r.hi);
    } else if (n == N) {
      _mm512_storeu_pd(d, r.lo);
      _mm512_storeu_pd(d + 8, r.hi);
    } else {
      const M m = tail(n);
      _mm512_mask_storeu_pd(d, __mmask8(m), r.lo);
      _mm512_mask_storeu_pd(d + 8, __mmask8(m >> 8), r.hi);
    }
  }

  static U32 set1(uint32_t v) { return _mm512_set1_epi32(static_cast<int>(v)); }
  static U32 max_u32(U32 a, U32 b) { return _mm512_max_epu32(a, b); }
  static U32 and_(U32 a, U32 b) { return _mm512_and_si512(a, b); }
  static U32 or_(U32 a, U32 b) { return _mm512_or_si512(a, b); }
  static U32 add(U32 a, U32 b) { return _mm512_add_epi32(a, b); }
  template <int k>
  static U32 srli(U32 a) {
    return _mm512_srli_epi32(a, k);
  }
  template <int k>
  static U32 slli(U32 a) {
    return _mm512_slli_epi32(a, k);
  }
  // lo <= a < hi, unsigned.
  static M in_range(U32 a, uint32_t lo, uint32_t hi) {
    return _mm512_cmplt_epu32_mask(_mm512_sub_epi32(a, set1(lo)), set1(hi - lo));
  }
  static M gt_mag(U32 a, uint32_t b) { return _mm512_cmpgt_epu32_mask(a, set1(b)); }
  static M eq(U32 a, uint32_t b) { return _mm512_cmpeq_epi32_mask(a, set1(b)); }
  static bool any_nan16(U16 h) {
    const __m256i a = _mm256_and_si256(h, _mm256_set1_epi16(0x7fff));
    return _mm256_cmpgt_epu16_mask(a, _mm256_set1_epi16(0x7c00)) != 0;
  }
  static M nan(U32 f) {
    const __m512 x = _mm512_castsi512_ps(f);
    return _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  }
  // One VFPCLASSPS: quiet NaN (0x01), denormal (0x20), signalling NaN (0x80).
  static M nan_or_subnormal(U32 f) { return _mm512_fpclass_ps_mask(_mm512_castsi512_ps(f), 0xa1); }
  // The lanes of a float64 -> bfloat16 block that plain rounding cannot take (see
  // convert_simd.h): NaN, subnormal, or FLT_MAX in magnitude.
  static M f64_bf16_rare(U32 f) {
    return M(nan_or_subnormal(f) | eq(and_(f, set1(0x7fffffffu)), 0x7f7fffffu));
  }
  // Whether two such blocks (and packed, their rounded bfloat16s) have any: FLT_MAX lanes are
  // found as bfloat16 infinities (with infinite inputs), one test for both blocks. Measured
  // (64K elements, one thread): float64 -> bfloat16 at 0.86x the speed without the test;
  // f64_bf16_rare on each block instead, 0.79x.
  static bool f64_bf16_pair_rare(U32 f0, U32 f1, U32 packed) {
    const __mmask32 inf = _mm512_cmpeq_epi16_mask(
        _mm512_and_si512(packed, _mm512_set1_epi16(0x7fff)), _mm512_set1_epi16(0x7f80));
    return (static_cast<__mmask32>(nan_or_subnormal(f0) | nan_or_subnormal(f1)) | inf) != 0;
  }
  // The high 16 bits of every lane of a, then of b: 2N 16-bit values.
  static U32 pack_hi16(U32 a, U32 b) {
    const __m512i odd =
        _mm512_set_epi16(63, 61, 59, 57, 55, 53, 51, 49, 47, 45, 43, 41, 39, 37, 35, 33, 31, 29, 27,
                         25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    return _mm512_permutex2var_epi16(a, odd, b);
  }
  static M mor(M a, M b) { return M(a | b); }
  static M mand(M a, M b) { return M(a & b); }
  static M ne(U32 a, U32 b) { return _mm512_cmpneq_epu32_mask(a, b); }
  // Whether any lane's magnitude bits (sign cleared) lie in [lo, hi).
  static bool any_abs64(const F64& x, uint64_t lo, uint64_t hi) {
    const __m512i mag = _mm512_set1_epi64(0x7fffffffffffffffll);
    const __m512i l = _mm512_set1_epi64(static_cast<long long>(lo));
    const __m512i w = _mm512_set1_epi64(static_cast<long long>(hi - lo));
    const auto in = [&](__m512d v) {
      const __m512i a = _mm512_and_si512(_mm512_castpd_si512(v), mag);
      return _mm512_cmplt_epu64_mask(_mm512_sub_epi64(a, l), w);
    };
    return (in(x.lo) | in(x.hi)) != 0;
  }
  static M mnone() { return 0; }
  static bool any(M m) { return m != 0; }
  static U32 select(M m, U32 if_set, U32 if_clear) {
    return _mm512_mask_blend_epi32(m, if_clear, if_set);
  }

  // float32 arithmetic, for the GEMM microkernels.
  using F = __m512;
  static F fzero() { return _mm512_setzero_ps(); }
  static F fload(const float* p) { return _mm512_loadu_ps(p); }
  static F fload_n(const float* p, size_t n) { return _mm512_maskz_loadu_ps(tail(n), p); }
  static F fbcast(const float* p) { return _mm512_set1_ps(*p); }
  static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F fadd(F a, F b) { return _mm512_add_ps(a, b); }
  // The sum of the lanes, halving: lane l + lane l + 8, then as V256::fsum (+ 4, + 2, + 1).
  static float fsum(F v) {
    return V256::fsum(
        _mm256_add_ps(_mm512_castps512_ps256(v),
                      _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
  }
  static void fstore(float* p, F v) { _mm512_storeu_ps(p, v); }
  static void fstore_n(float* p, F v, size_t n) { _mm512_mask_storeu_ps(p, tail(n), v); }
  static F as_float(U32 u) { return _mm512_castsi512_ps(u); }
  static U32 zero() { return _mm512_setzero_si512(); }

  // r[i][j] -> r[j][i] for a 16 x 16 block: 32-bit, then 64-bit interleaves inside 128-bit
  // lanes, then a 4 x 4 transpose of the lanes.
  static void transpose(F (&r)[16]) {
    F t[16], u[16];
    for (int i = 0; i < 8; ++i) {
      t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // u[4 i + q], lane L: column 4 L + q of rows 4 i .. 4 i + 3.
    for (int i = 0; i < 4; ++i) {
      u[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
      u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xee);
      u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
      u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xee);
    }
    for (int q = 0; q < 4; ++q) {
      const F w0 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0x44);
      const F w1 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0xee);
      const F w2 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0x44);
      const F w3 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0xee);
      r[q] = _mm512_shuffle_f32x4(w0, w2, 0x88);
      r[4 + q] = _mm512_shuffle_f32x4(w0, w2, 0xdd);
      r[8 + q] = _mm512_shuffle_f32x4(w1, w3, 0x88);
      r[12 + q] = _mm512_shuffle_f32x4(w1, w3, 0xdd);
    }
  }

  // Nearest-even, raising MXCSR's flags: the float32 -> float16 loop reads overflow and invalid
  // from them (on Zen 5 the EVEX form with _MM_FROUND_NO_EXC raised none).
  static U16 cvt_ps_ph(U32 f) {
    return _mm512_cvtps_ph(_mm512_castsi512_ps(f), _MM_FROUND_TO_NEAREST_INT);
  }
  static U32 cvt_ph_ps(U16 h) { return _mm512_castps_si512(_mm512_cvtph_ps(h)); }
  static U32 widen16(U16 h) { return _mm512_cvtepu16_epi32(h); }
  // 2N 16-bit values as one vector (lo first), and back.
  static U32 join16(U16 lo, U16 hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
  }
  static U16 lo16(U32 w) { return _mm512_castsi512_si256(w); }
  static U16 hi16(U32 w) { return _mm512_extracti64x4_epi64(w, 1); }
  // Whether any of the 2N float16 values is an infinity or a NaN.
  static bool any_inf_nan16(U32 w) {
    const __m512i e = _mm512_set1_epi16(0x7c00);
    return _mm512_cmpeq_epi16_mask(_mm512_and_si512(w, e), e) != 0;
  }
  static U16 narrow32(U32 v) { return _mm512_cvtepi32_epi16(v); }
};

}  // namespace
}  // namespace halfkit
