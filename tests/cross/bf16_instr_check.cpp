// HALFKIT_EMULATE_BF16's stand-ins for VCVTNEPS2BF16 and VDPBF16PS (csrc/x86/bf16_instr.h)
// against the instructions themselves, on a core that executes them. Inputs are random bit
// patterns weighted toward the cases the emulation has to get right: zero exponents (flushed),
// NaN and infinity, float32 values near a bfloat16 tie, and dot products whose exact sum lies
// near the smallest normal (products of two
// values below 2^-62 against an accumulator at 2^-126). NaN results only have to be NaN: which
// operand's payload survives is not documented, and the compiler is free to swap a product's
// operands.
//
// The file is compiled three times: with HK_SIDE=1 (the emulation), HK_SIDE=2 (the
// instructions), and without HK_SIDE (the driver). tests/cross/bf16_instr_check.sh does that.
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if defined(HK_SIDE)
#if HK_SIDE == 1
#define HALFKIT_EMULATE_BF16 1
#define HK_NAME(x) emu_##x
#else
#define HK_NAME(x) real_##x
#endif
#include "x86/bf16_instr.h"

__m256i HK_NAME(cvt)(__m512 f) { return halfkit::cvtne_ps_bf16(f); }
__m512 HK_NAME(dp)(__m512 acc, __m512i a, __m512i b) { return halfkit::dot_bf16_pairs(acc, a, b); }

#else

#include <random>

__m256i emu_cvt(__m512 f);
__m256i real_cvt(__m512 f);
__m512 emu_dp(__m512 acc, __m512i a, __m512i b);
__m512 real_dp(__m512 acc, __m512i a, __m512i b);

namespace {

std::mt19937_64 rng(20261123);

// clang-format off
uint32_t pick32() {
  const uint32_t x = static_cast<uint32_t>(rng());
  switch (rng() % 6) {
    case 0: return x & 0x807fffffu;                                       // zero exponent
    case 1: return x | 0x7f800000u;                                       // NaN or infinity
    case 2: return (x & 0xffff0000u) | (rng() % 2 ? 0x8000u : 0x7fffu);  // at or next to a tie
    case 3: return (x & 0x80ffffffu) | 0x00800000u;                       // exponent 1
    case 4: return (x & 0x80000003u) | 0x00800000u;                       // 2^-126 and up
    default: return x;
  }
}

uint16_t pick16() {
  const uint16_t x = static_cast<uint16_t>(rng());
  switch (rng() % 5) {
    case 0: return x & 0x807f;                                                 // zero exponent
    case 1: return x | 0x7f80;                                                 // NaN or infinity
    case 2: return (x & 0x80ff) | 0x3f00;                                      // about 1
    case 3: return (x & 0x807f) | static_cast<uint16_t>((1 + rng() % 64) << 7);  // below 2^-62
    default: return x;
  }
}
// clang-format on

bool is_nan(uint32_t x) { return (x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffffu) != 0; }

}  // namespace

int main() {
  const long vectors = 2000000;
  long cvt_bad = 0, dp_bad = 0;
  for (long it = 0; it < vectors; ++it) {
    uint32_t f[16], c[16];
    uint16_t a[32], b[32];
    for (int i = 0; i < 16; ++i) f[i] = pick32();
    for (int i = 0; i < 16; ++i) c[i] = pick32();
    for (int i = 0; i < 32; ++i) a[i] = pick16();
    for (int i = 0; i < 32; ++i) b[i] = pick16();
    __m512 fv, cv;
    __m512i av, bv;
    memcpy(&fv, f, 64);
    memcpy(&cv, c, 64);
    memcpy(&av, a, 64);
    memcpy(&bv, b, 64);

    const __m256i ce = emu_cvt(fv), cr = real_cvt(fv);
    uint16_t e16[16], r16[16];
    memcpy(e16, &ce, 32);
    memcpy(r16, &cr, 32);
    for (int i = 0; i < 16; ++i) {
      if (e16[i] != r16[i] && cvt_bad++ < 10) {
        printf("VCVTNEPS2BF16 %08x: emulated %04x, instruction %04x\n", f[i], e16[i], r16[i]);
      }
    }

    const __m512 de = emu_dp(cv, av, bv), dr = real_dp(cv, av, bv);
    uint32_t e32[16], r32[16];
    memcpy(e32, &de, 64);
    memcpy(r32, &dr, 64);
    for (int i = 0; i < 16; ++i) {
      if (e32[i] != r32[i] && !(is_nan(e32[i]) && is_nan(r32[i])) && dp_bad++ < 10) {
        printf("VDPBF16PS acc %08x a %04x:%04x b %04x:%04x: emulated %08x, instruction %08x\n",
               c[i], a[2 * i + 1], a[2 * i], b[2 * i + 1], b[2 * i], e32[i], r32[i]);
      }
    }
  }
  printf("%ld lanes of each: VCVTNEPS2BF16 %ld differ, VDPBF16PS %ld differ (NaN payloads aside)\n",
         vectors * 16, cvt_bad, dp_bad);
  return cvt_bad || dp_bad ? 1 : 0;
}

#endif
