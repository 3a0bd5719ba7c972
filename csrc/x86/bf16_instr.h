// The two AVX512-BF16 instructions the avx512bf16 tier uses. A build with HALFKIT_EMULATE_BF16
// (CMake option of that name; never for release) replaces them with AVX-512F code that does
// what Intel documents them to do, so that the tier's packing, blocking, tails and lane fix-ups
// can be tested on CPUs without the instructions (tests/cross/emulated_bf16.sh). Only the
// instructions' own results are assumed there; the tier has passed its tests on real
// AVX512-BF16 hardware.
#pragma once

#include <immintrin.h>

namespace halfkit {
namespace {

#if defined(HALFKIT_EMULATE_BF16)

// Lanes whose exponent field is zero (zeros and subnormals) become zeros of their sign: how
// both instructions read their float32 and bfloat16 inputs, and how VDPBF16PS writes results.
inline __m512i flush_subnormals(__m512i x) {
  const __mmask16 tiny = _mm512_testn_epi32_mask(x, _mm512_set1_epi32(0x7f800000));
  return _mm512_mask_and_epi32(x, tiny, x, _mm512_set1_epi32(static_cast<int>(0x80000000u)));
}

// VCVTNEPS2BF16: round to nearest even; subnormal inputs read as zero whatever MXCSR says; a
// NaN keeps its upper 16 bits with the quiet bit set.
inline __m256i cvtne_ps_bf16(__m512 f) {
  const __m512i x = flush_subnormals(_mm512_castps_si512(f));
  const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
  __m512i r =
      _mm512_srli_epi32(_mm512_add_epi32(x, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff))), 16);
  const __mmask16 nan = _mm512_cmp_ps_mask(f, f, _CMP_UNORD_Q);
  r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(x, 16), _mm512_set1_epi32(0x40));
  return _mm512_cvtepi32_epi16(r);
}

// VDPBF16PS: acc += a.odd * b.odd, then acc += a.even * b.even, per 32-bit lane of bf16 pairs;
// each step one rounding to nearest even (a product of two bf16 is exact in float32), with
// subnormal inputs flushed to zero, and results too when tiny after rounding in IEEE 754's
// sense: rounded to 24 bits as if the exponent were unbounded, below 2^-126. A plain FMA rounds
// to the subnormal grid instead, and the two disagree just below 2^-126: 2^-126 - 2^-150 is
// tiny (flushed to zero) but rounds to the subnormal grid's 2^-126. Both instructions were
// checked against an Emerald Rapids core with tests/cross/bf16_instr_check.sh.
inline __m512 dot_bf16_pairs(__m512 acc, __m512i a, __m512i b) {
  const __m512i hi = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
  const auto in = [](__m512i v) { return _mm512_castsi512_ps(flush_subnormals(v)); };
  const auto step = [](__m512 x, __m512 y, __m512 c) {
    // The sum scaled by 4 rounds as the unbounded exponent would wherever the unscaled one is
    // within a factor of 2 of 2^-126; further below it is tiny either way. Neither scaling
    // overflows where the sum can be tiny: an operand that large leaves no sum but 0 below
    // 2^-126.
    const __m512 four = _mm512_set1_ps(4.0f);
    const __m512 scaled = _mm512_fmadd_ps(_mm512_mul_ps(x, four), y, _mm512_mul_ps(c, four));
    const __mmask16 tiny =
        _mm512_cmp_ps_mask(_mm512_abs_ps(scaled), _mm512_set1_ps(0x1p-124f), _CMP_LT_OQ);
    return _mm512_mask_and_ps(
        _mm512_fmadd_ps(x, y, c), tiny, scaled,
        _mm512_castsi512_ps(_mm512_set1_epi32(static_cast<int>(0x80000000u))));
  };
  const __m512 c = in(_mm512_castps_si512(acc));
  const __m512 t = step(in(_mm512_and_si512(a, hi)), in(_mm512_and_si512(b, hi)), c);
  return step(in(_mm512_slli_epi32(a, 16)), in(_mm512_slli_epi32(b, 16)), t);
}

#else

inline __m256i cvtne_ps_bf16(__m512 f) { return reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(f)); }

inline __m512 dot_bf16_pairs(__m512 acc, __m512i a, __m512i b) {
  return _mm512_dpbf16_ps(acc, reinterpret_cast<__m512bh>(a), reinterpret_cast<__m512bh>(b));
}

#endif

}  // namespace
}  // namespace halfkit
