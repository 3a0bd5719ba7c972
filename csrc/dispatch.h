// Which tier runs: decided once (the best supported), changeable for tests and by
// HALFKIT_FORCE_ISA (read by the Python package at import).
#pragma once

#include <string>
#include <vector>

#include "common/gemm.h"
#include "common/kernels.h"

namespace halfkit {

bool isa_compiled(Isa isa);
bool isa_supported(Isa isa);  // compiled in, and this CPU and OS can run it
Isa active_isa();
void set_active_isa(Isa isa);                // precondition: isa_supported(isa)
const ConvertTable& convert_table(Isa isa);  // precondition: isa_supported(isa)
const GemmTable& gemm_table(Isa isa);        // precondition: isa_supported(isa)
bool parse_isa(const std::string& name, Isa* out);

// A test build (CMake option HALFKIT_EMULATE_BF16) whose avx512bf16 tier emulates its BF16
// instructions with AVX-512F and therefore runs on any AVX-512 CPU.
#if defined(HALFKIT_EMULATE_BF16)
constexpr bool kEmulatedBf16 = true;
#else
constexpr bool kEmulatedBf16 = false;
#endif

}  // namespace halfkit
