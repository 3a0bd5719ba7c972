#!/usr/bin/env bash
# Checks HALFKIT_EMULATE_BF16's emulated instructions against the real ones
# (tests/cross/bf16_instr_check.cpp). Needs a core that executes AVX512-BF16; CPUID need not
# say so (this project's development machines hide it, and run it). Not part of the pytest run.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d)
# gcc 12 takes the intrinsics' own _mm512_undefined_* for uninitialised reads.
flags=(-std=c++17 -O2 -Wall -Wextra -Wno-uninitialized -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512bf16
       -I"$root/csrc")
src="$root/tests/cross/bf16_instr_check.cpp"
g++ "${flags[@]}" -DHK_SIDE=1 -c "$src" -o "$out/emu.o"
g++ "${flags[@]}" -DHK_SIDE=2 -c "$src" -o "$out/real.o"
g++ "${flags[@]}" "$src" "$out/emu.o" "$out/real.o" -o "$out/check"
"$out/check"
