// Function types shared by the dispatcher and every tier. Nothing here depends on an ISA.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/numerics.h"

namespace halfkit {

enum class Isa : int { kScalar = 0, kAvx2, kAvx512, kAvx512Bf16, kCount };

const char* isa_name(Isa isa);

// The floating-point flags a conversion raises, as the contract's peer raises them for the same
// inputs (numpy for float16 results, ml_dtypes for float64 -> bfloat16; docs/numerics.md).
enum ConvertFlags : unsigned { kFlagOverflow = 1, kFlagUnderflow = 2, kFlagInvalid = 4 };

// Converts n elements from src to dst. Strides are in bytes and may be negative or unaligned.
// Returns the ConvertFlags raised by any element; kFlagUnderflow only when underflow is set,
// since finding it costs the SIMD paths 3-30% and numpy ignores it unless asked (np.errstate).
// stream: the whole destination is far larger than the caches, so a kernel may write it around
// them (non-temporal stores).
using ConvertFn = unsigned (*)(const char* src, ptrdiff_t src_stride, char* dst,
                               ptrdiff_t dst_stride, size_t n, bool stream, bool underflow);

// halfkit.round's rounding modes (the Python names: nearest-even, nearest-away, toward-zero,
// up, down, to-odd, stochastic).
enum RoundMode : int {
  kRoundNearestEven = 0,
  kRoundNearestAway,
  kRoundTowardZero,
  kRoundUp,
  kRoundDown,
  kRoundToOdd,
  kRoundStochastic,
};

// A target format as common/round.h uses it, magnitudes as bit patterns of the source type
// (float32 or float64), all derived by the Python layer (halfkit/_formats.py).
struct RoundSpec {
  int mode;             // RoundMode
  int mantissa_bits;    // m, at most the source's
  int emin_sub;         // the smallest normal's exponent; far below the source's without subnormals
  int tiny_exp;         // log2 of tiny_bits' value
  uint64_t tiny_bits;   // T: the smallest nonzero result (a quantum, or the smallest normal)
  uint64_t max_bits;    // the largest finite value
  uint64_t over_bits;   // an overflow's result in the nearest modes: inf, NaN or max_bits
  uint64_t inf_bits;    // an infinite input's result
  bool negative_zero;   // whether a zero result keeps its sign
  uint32_t key0, key1;  // stochastic rounding's seed
};

// Rounds n contiguous elements of the source type; index0 is the first one's index in C order.
using RoundFn = void (*)(const void* x, void* y, size_t n, uint64_t index0, const RoundSpec& s);

// The codes of an 8-bit (or narrower) storage format, for a value already rounded to it
// (halfkit.astype to ml_dtypes' float8/float6/float4 dtypes; docs/numerics.md).
struct EncodeSpec {
  int bits;                  // 8, 6 or 4: the sign is bit bits - 1
  int bias;                  // the format's exponent bias
  int mantissa_bits;         // m
  uint8_t nan_pos, nan_neg;  // the codes of a NaN, by its sign
  uint8_t inf;               // the code of +inf (formats with infinities)
};

// Rounds n contiguous elements of the source type by s and writes their codes. Returns the
// ConvertFlags ml_dtypes' cast raises: for float64 sources those of a hardware float64 ->
// float32 cast (underflow included: the caller masks it), none for float32.
using EncodeFn = unsigned (*)(const void* x, uint8_t* codes, size_t n, uint64_t index0,
                              const RoundSpec& s, const EncodeSpec& e);

// How a storage format's codes read as float32 or float64 (halfkit.astype from ml_dtypes'
// float8/float6/float4 dtypes): the arithmetic for the finite codes, the table of every code's
// bits (python/halfkit/_formats.py, decode_table) for the special ones.
struct DecodeSpec {
  int bits;           // 8, 6 or 4: a code at or above 2^(bits - 1) is negative
  int mantissa_bits;  // m
  int bias;           // the format's exponent bias
  int special_mag;    // magnitudes from this one on are NaN or inf (256: none)
  int special_code;   // one more code that is NaN (the fnuz formats' 0x80; 256: none)
  const void* table;  // 256 elements of the result's bits
};

using DecodeFn = void (*)(const uint8_t* codes, void* y, size_t n, const DecodeSpec& d);

// A fixed-point format as common/round.h uses it (halfkit.fixed_point; docs/numerics.md,
// "Fixed point"): codes of w bits, two's complement or unsigned, worth code * 2^-n.
struct FixedSpec {
  int mode;               // RoundMode
  int fraction_bits;      // n (negative: a quantum above 1)
  uint64_t hi;            // the largest code
  uint64_t lo_magnitude;  // the magnitude of the smallest code: 2^(w-1) signed, 0 unsigned
  uint64_t mask;          // the word's w bits, for wrap
  bool is_signed;
  bool wrap;            // overflow wraps modulo 2^w; otherwise it saturates
  int out_bytes;        // 1, 2, 4 or 8: integer codes; 0: values code * 2^-n in x's type
  double scale;         // 2^-n, exact in x's type when out_bytes is 0
  uint32_t key0, key1;  // stochastic rounding's seed
};

// n contiguous elements of the source type as fixed-point codes or values; index0 is the first
// one's index in C order. Returns kFlagInvalid where an element has no code (NaN, and
// infinities that wrap); its code is then 0 and its value NaN.
using FixedFn = unsigned (*)(const void* x, void* y, size_t n, uint64_t index0, const FixedSpec& f);

struct ConvertTable {
  // [src][dst]; null where the pair is not a 16-bit conversion (float32 <-> float64 and
  // same-format copies are left to numpy).
  ConvertFn fn[num::kNumFormats][num::kNumFormats] = {};
  RoundFn round[2] = {};    // float32, float64 sources
  EncodeFn encode[2] = {};  // float32, float64 sources
  FixedFn fixed[2] = {};    // float32, float64 sources
  DecodeFn decode[2] = {};  // float32, float64 results
};

// round_one of common/round_ref.h for each element, nothing vectorised, no FPU path: what every
// tier's RoundFn is tested against over all float32 inputs (tests/test_exhaustive.py). f64:
// float64 elements, else float32. Defined in the scalar tier's translation unit.
void round_reference(const void* x, void* y, size_t n, uint64_t index0, const RoundSpec& s,
                     bool f64);

// Each tier fills the table with its own kernels. Defined in that tier's translation unit; the
// caller must have checked that the CPU supports the tier.
void fill_convert_scalar(ConvertTable& t);
#if defined(HALFKIT_X86)
void fill_convert_avx2(ConvertTable& t);
void fill_convert_avx512(ConvertTable& t);
void fill_convert_avx512bf16(ConvertTable& t);
#endif

}  // namespace halfkit
