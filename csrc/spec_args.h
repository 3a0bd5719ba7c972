// The Python layer's tuples for common/kernels.h's specs, read the same way by the CPU module
// (bindings.cpp) and the CUDA one (cuda/bindings.cpp). Each throws ValueError on a tuple of the
// wrong length; the Python layer (halfkit/_formats.py, _fixed.py) builds them.
#pragma once

#include <pybind11/pybind11.h>
#include <stdint.h>

#include "common/kernels.h"

namespace halfkit {

// (mode, mantissa_bits, emin_sub, tiny_exp, tiny_bits, max_bits, over_bits, inf_bits,
// negative_zero, seed)
inline RoundSpec round_spec_from(const pybind11::tuple& t) {
  if (t.size() != 10) throw pybind11::value_error("a round spec has 10 fields");
  const auto i = [&](int k) { return t[k].cast<int>(); };
  const auto u = [&](int k) { return t[k].cast<uint64_t>(); };
  const uint64_t seed = u(9);
  if (i(0) < kRoundNearestEven || i(0) > kRoundStochastic) {
    throw pybind11::value_error("unknown rounding mode");
  }
  return {i(0),
          i(1),
          i(2),
          i(3),
          u(4),
          u(5),
          u(6),
          u(7),
          t[8].cast<bool>(),
          static_cast<uint32_t>(seed),
          static_cast<uint32_t>(seed >> 32)};
}

// (bits, bias, mantissa_bits, nan_pos, nan_neg, inf)
inline EncodeSpec encode_spec_from(const pybind11::tuple& t) {
  if (t.size() != 6) throw pybind11::value_error("an encode spec has 6 fields");
  const auto b = [&](int k) { return t[k].cast<int>(); };
  return {b(0),
          b(1),
          b(2),
          static_cast<uint8_t>(b(3)),
          static_cast<uint8_t>(b(4)),
          static_cast<uint8_t>(b(5))};
}

// (mode, fraction_bits, hi, lo_magnitude, mask, is_signed, wrap, scale) of halfkit._fixed's
// plan, the output's bytes per element (0: values) and the seed.
inline FixedSpec fixed_spec_from(const pybind11::tuple& t, int out_bytes, uint64_t seed) {
  if (t.size() != 8) throw pybind11::value_error("a fixed-point spec has 8 fields");
  const int mode = t[0].cast<int>();
  if (mode < kRoundNearestEven || mode > kRoundStochastic) {
    throw pybind11::value_error("unknown rounding mode");
  }
  return {mode,
          t[1].cast<int>(),
          t[2].cast<uint64_t>(),
          t[3].cast<uint64_t>(),
          t[4].cast<uint64_t>(),
          t[5].cast<bool>(),
          t[6].cast<bool>(),
          out_bytes,
          t[7].cast<double>(),
          static_cast<uint32_t>(seed),
          static_cast<uint32_t>(seed >> 32)};
}

}  // namespace halfkit
