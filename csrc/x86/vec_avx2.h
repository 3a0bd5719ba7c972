// Vector traits for the AVX2 tier (AVX2, F16C, FMA): 8 lanes, lane-wide masks, tails through a
// small buffer (AVX2 has no 16-bit masked loads).
#pragma once

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

namespace halfkit {
namespace {

struct V256 {
  static constexpr size_t N = 8;
  static constexpr bool kNativeBf16 = false;
  // The sticky bit of a float64 -> float32 narrowing costs four integer operations on the
  // float64 lanes here (one masked test with AVX-512); the float64 pair paths narrow without
  // it and find the lanes it would have changed instead.
  static constexpr bool kCheapSticky = false;
  using U32 = __m256i;
  using U16 = __m128i;
  using M = __m256i;
  struct F64 {
    __m256d lo, hi;
  };

  template <class T>
  static T load_part(const void* p, size_t bytes) {
    alignas(32) unsigned char buf[sizeof(T)] = {};
    memcpy(buf, p, bytes);
    T v;
    memcpy(&v, buf, sizeof(T));
    return v;
  }
  template <class T>
  static void store_part(void* p, const T& v, size_t bytes) {
    memcpy(p, &v, bytes);
  }

  static U32 load32(const void* p, size_t n) {
    return n == N ? _mm256_loadu_si256(static_cast<const __m256i*>(p)) : load_part<U32>(p, 4 * n);
  }
  static U16 load16(const void* p, size_t n) {
    return n == N ? _mm_loadu_si128(static_cast<const __m128i*>(p)) : load_part<U16>(p, 2 * n);
  }
  // kStream: a non-temporal store for a full block (p aligned to the store's width).
  template <bool kStream = false>
  static void store32(void* p, U32 v, size_t n) {
    if (n != N) {
      store_part(p, v, 4 * n);
    } else if constexpr (kStream) {
      _mm256_stream_si256(static_cast<__m256i*>(p), v);
    } else {
      _mm256_storeu_si256(static_cast<__m256i*>(p), v);
    }
  }
  template <bool kStream = false>
  static void store16(void* p, U16 v, size_t n) {
    if (n != N) {
      store_part(p, v, 2 * n);
    } else if constexpr (kStream) {
      _mm_stream_si128(static_cast<__m128i*>(p), v);
    } else {
      _mm_storeu_si128(static_cast<__m128i*>(p), v);
    }
  }
  static F64 load64(const void* p, size_t n) {
    const double* d = static_cast<const double*>(p);
    if (n == N) return {_mm256_loadu_pd(d), _mm256_loadu_pd(d + 4)};
    return load_part<F64>(p, 8 * n);
  }
  // Rounded to odd, as in vec_avx512.h (MXCSR rounds toward zero inside kernels).
  static __m128i odd_half(__m256d x) {
    const __m128 f = _mm256_cvtpd_ps(x);
    const __m256i inexact = _mm256_castpd_si256(_mm256_cmp_pd(_mm256_cvtps_pd(f), x, _CMP_NEQ_UQ));
    const __m128i low_words = _mm256_castsi256_si128(
        _mm256_permutevar8x32_epi32(inexact, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6)));
    return _mm_or_si128(_mm_castps_si128(f), _mm_and_si128(low_words, _mm_set1_epi32(1)));
  }
  static U32 to_f32_odd(F64 x) { return _mm256_set_m128i(odd_half(x.hi), odd_half(x.lo)); }
  // Sticky bit from the 29 dropped mantissa bits, as in vec_avx512.h, but set in the float64
  // before the narrowing: (x & m) + m carries into bit 29 exactly when a dropped bit is set and
  // leaves nothing above it; its low bits are cleared, or they would turn an infinity into a
  // NaN (the narrowing, toward zero, drops them from every finite value). Four integer
  // operations on the float64 lanes, where a compare on them needed a lane-crossing permute to
  // reach the float32 lanes. With the cheaper rare-lane test below and the two-block float16
  // path (Zen 3, 64K elements, one thread, best of 200): float64 -> float16 2.6 -> 4.0 Gelem/s,
  // float64 -> bfloat16 1.8 -> 2.3.
  static __m128i odd_half_fast(__m256d x) {
    const __m256i m = _mm256_set1_epi64x(0x1fffffff);
    const __m256i b = _mm256_castpd_si256(x);
    const __m256i sticky =
        _mm256_or_si256(b, _mm256_andnot_si256(m, _mm256_add_epi64(_mm256_and_si256(b, m), m)));
    return _mm_castps_si128(_mm256_cvtpd_ps(_mm256_castsi256_pd(sticky)));
  }
  // Toward zero (MXCSR's direction inside kernels), with no sticky bit: see kCheapSticky.
  static U32 to_f32_rz(F64 x) {
    return _mm256_set_m128i(_mm_castps_si128(_mm256_cvtpd_ps(x.hi)),
                            _mm_castps_si128(_mm256_cvtpd_ps(x.lo)));
  }
  static U32 to_f32_odd_fast(F64 x) {
    return _mm256_set_m128i(odd_half_fast(x.hi), odd_half_fast(x.lo));
  }
  static F64 widen_f64(U32 f) {
    return {_mm256_cvtps_pd(_mm_castsi128_ps(_mm256_castsi256_si128(f))),
            _mm256_cvtps_pd(_mm_castsi128_ps(_mm256_extracti128_si256(f, 1)))};
  }
  // Each half of the bfloat16s interleaved with zeros is already its float32s: no widening to
  // 256 bits and back (Zen 5, forced avx2, the loop alone: 80 -> 60 ps an element).
  static F64 bf16_to_f64(U16 h) {
    const __m128i z = _mm_setzero_si128();
    return {_mm256_cvtps_pd(_mm_castsi128_ps(_mm_unpacklo_epi16(z, h))),
            _mm256_cvtps_pd(_mm_castsi128_ps(_mm_unpackhi_epi16(z, h)))};
  }
  template <bool kStream = false>
  static void store64(void* p, F64 r, size_t n) {
    double* d = static_cast<double*>(p);
    if (n == N && kStream) {
      _mm256_stream_pd(d, r.lo);
      _mm256_stream_pd(d + 4, r.hi);
    } else if (n == N) {
      _mm256_storeu_pd(d, r.lo);
      _mm256_storeu_pd(d + 4, r.hi);
    } else {
      store_part(p, r, 8 * n);
    }
  }

  static U32 set1(uint32_t v) { return _mm256_set1_epi32(static_cast<int>(v)); }
  static U32 max_u32(U32 a, U32 b) { return _mm256_max_epu32(a, b); }
  static U32 and_(U32 a, U32 b) { return _mm256_and_si256(a, b); }
  static U32 or_(U32 a, U32 b) { return _mm256_or_si256(a, b); }
  static U32 add(U32 a, U32 b) { return _mm256_add_epi32(a, b); }
  template <int k>
  static U32 srli(U32 a) {
    return _mm256_srli_epi32(a, k);
  }
  template <int k>
  static U32 slli(U32 a) {
    return _mm256_slli_epi32(a, k);
  }
  // AVX2 compares are signed: biasing both sides by 2^31 makes them unsigned.
  static U32 bias(U32 a) { return _mm256_xor_si256(a, set1(0x80000000u)); }
  static M in_range(U32 a, uint32_t lo, uint32_t hi) {
    return _mm256_cmpgt_epi32(bias(set1(hi - lo)), bias(_mm256_sub_epi32(a, set1(lo))));
  }
  // a > b for magnitudes (sign bits clear, below 2^31), which the signed compare orders.
  static M gt_mag(U32 a, uint32_t b) { return _mm256_cmpgt_epi32(a, set1(b)); }
  static M eq(U32 a, uint32_t b) { return _mm256_cmpeq_epi32(a, set1(b)); }
  static bool any_nan16(U16 h) {
    const __m128i a = _mm_and_si128(h, _mm_set1_epi16(0x7fff));
    const __m128i nan = _mm_cmpgt_epi16(a, _mm_set1_epi16(0x7c00));  // a < 2^15: signed is fine
    return !_mm_testz_si128(nan, nan);
  }
  static M nan(U32 f) {
    const __m256 x = _mm256_castsi256_ps(f);
    return _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  }
  // The lanes of a float64 -> bfloat16 block that plain rounding cannot take (see
  // convert_simd.h): NaN, subnormal, or at least FLT_MAX in magnitude (infinities too).
  static M f64_bf16_rare(U32 f) {
    const U32 a = and_(f, set1(0x7fffffffu));
    return mor(gt_mag(a, 0x7f7ffffeu), in_range(a, 1u, 0x800000u));
  }
  // Whether two such blocks (and packed, their rounded bfloat16s) have any. Zeros are let
  // through the first test with the subnormals, so that the common block pays three operations
  // a vector and only blocks with a zero or a rare lane pay for the exact test. The first test
  // is |f| >= 0x7f7fffff or |f| < 0x800000: with u = 2|f| (f + f drops the sign), u - 2^24
  // taken unsigned is at least 0xfdfffffe exactly for those, and adding 0x7f000000 is that
  // subtraction with the top bit flipped, for a signed compare.
  static bool f64_bf16_pair_rare(U32 f0, U32 f1, U32) {
    const auto candidates = [](U32 f) {
      return _mm256_cmpgt_epi32(add(add(f, f), set1(0x7f000000u)), set1(0x7dfffffdu));
    };
    if (!any(mor(candidates(f0), candidates(f1)))) return false;
    return any(mor(f64_bf16_rare(f0), f64_bf16_rare(f1)));
  }
  // The high 16 bits of every lane of a, then of b: 2N 16-bit values. packus works inside
  // 128-bit lanes, so the 64-bit quarters come out as a0 b0 a1 b1 and are put back in order.
  static U32 pack_hi16(U32 a, U32 b) {
    return _mm256_permute4x64_epi64(_mm256_packus_epi32(srli<16>(a), srli<16>(b)), 0xd8);
  }
  static M mor(M a, M b) { return _mm256_or_si256(a, b); }
  static M mand(M a, M b) { return _mm256_and_si256(a, b); }
  static M ne(U32 a, U32 b) {
    return _mm256_xor_si256(_mm256_cmpeq_epi32(a, b), _mm256_set1_epi32(-1));
  }
  // Whether any lane's magnitude bits (sign cleared) lie in [lo, hi): below 2^63, so the signed
  // 64-bit compares order them.
  static bool any_abs64(const F64& x, uint64_t lo, uint64_t hi) {
    const __m256i mag = _mm256_set1_epi64x(0x7fffffffffffffffll);
    const __m256i below = _mm256_set1_epi64x(static_cast<long long>(lo - 1));
    const __m256i top = _mm256_set1_epi64x(static_cast<long long>(hi));
    const auto in = [&](__m256d v) {
      const __m256i a = _mm256_and_si256(_mm256_castpd_si256(v), mag);
      return _mm256_and_si256(_mm256_cmpgt_epi64(a, below), _mm256_cmpgt_epi64(top, a));
    };
    const __m256i m = _mm256_or_si256(in(x.lo), in(x.hi));
    return !_mm256_testz_si256(m, m);
  }
  static M mnone() { return _mm256_setzero_si256(); }
  static bool any(M m) { return !_mm256_testz_si256(m, m); }
  static bool differ(U32 a, U32 b) {
    return !_mm256_testz_si256(_mm256_xor_si256(a, b), set1(~0u));
  }
  static U32 select(M m, U32 if_set, U32 if_clear) {
    return _mm256_blendv_epi8(if_clear, if_set, m);
  }

  // float32 arithmetic, for the GEMM microkernels.
  using F = __m256;
  static F fzero() { return _mm256_setzero_ps(); }
  static F fload(const float* p) { return _mm256_loadu_ps(p); }
  static F fload_n(const float* p, size_t n) { return load_part<F>(p, 4 * n); }
  static F fbcast(const float* p) { return _mm256_broadcast_ss(p); }
  static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F fadd(F a, F b) { return _mm256_add_ps(a, b); }
  // The sum of the lanes, halving: lane l + lane l + 4, then + 2, + 1.
  static float fsum(F v) {
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    return _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
  }
  static void fstore(float* p, F v) { _mm256_storeu_ps(p, v); }
  static void fstore_n(float* p, F v, size_t n) { store_part(p, v, 4 * n); }
  static F as_float(U32 u) { return _mm256_castsi256_ps(u); }
  static U32 zero() { return _mm256_setzero_si256(); }

  // r[i][j] -> r[j][i] for an 8 x 8 block: 32-bit, then 64-bit interleaves inside 128-bit
  // lanes, then the lanes swapped across.
  static void transpose(F (&r)[8]) {
    F t[8], u[8];
    for (int i = 0; i < 4; ++i) {
      t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; ++i) {
      u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
      u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xee);
      u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
      u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xee);
    }
    for (int q = 0; q < 4; ++q) {
      r[q] = _mm256_permute2f128_ps(u[q], u[4 + q], 0x20);
      r[4 + q] = _mm256_permute2f128_ps(u[q], u[4 + q], 0x31);
    }
  }

  // Nearest-even, raising MXCSR's flags: the float32 -> float16 loop reads overflow and invalid
  // from them (as in vec_avx512.h, no _MM_FROUND_NO_EXC: there it suppressed them).
  static U16 cvt_ps_ph(U32 f) {
    return _mm256_cvtps_ph(_mm256_castsi256_ps(f), _MM_FROUND_TO_NEAREST_INT);
  }
  static U32 cvt_ph_ps(U16 h) { return _mm256_castps_si256(_mm256_cvtph_ps(h)); }
  static U32 widen16(U16 h) { return _mm256_cvtepu16_epi32(h); }
  // 2N 16-bit values as one vector (lo first), and back.
  static U32 join16(U16 lo, U16 hi) { return _mm256_set_m128i(hi, lo); }
  static U16 lo16(U32 w) { return _mm256_castsi256_si128(w); }
  static U16 hi16(U32 w) { return _mm256_extracti128_si256(w, 1); }
  // Whether any of the 2N float16 values is an infinity or a NaN.
  static bool any_inf_nan16(U32 w) {
    const __m256i e = _mm256_set1_epi16(0x7c00);
    const __m256i m = _mm256_cmpeq_epi16(_mm256_and_si256(w, e), e);
    return !_mm256_testz_si256(m, m);
  }
  // Lanes hold values below 2^16, so the saturating pack is a plain truncation.
  static U16 narrow32(U32 v) {
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packus_epi32(v, v), 0x08));
  }
};

}  // namespace
}  // namespace halfkit
