#!/usr/bin/env bash
# The avx512bf16 tier on an AVX-512 CPU without AVX512-BF16: builds halfkit with its two BF16
# instructions emulated (CMake option HALFKIT_EMULATE_BF16, csrc/x86/bf16_instr.h) into a
# scratch folder, then runs `python -m halfkit verify --quick` and the test suite there, which
# now counts avx512bf16 among the tiers it forces. The emulation assumes only what Intel
# documents the instructions to do; everything around them (packing, blocking, tails, the lane
# fix-ups of the conversions) runs as on real hardware. Extra pytest arguments are passed on
# (default: -m "not slow"). Not part of the pytest run: it builds a second copy (~20 s) and
# the suite takes a few minutes.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
site=$(mktemp -d)
python -m pip install --no-build-isolation --no-deps -q --target "$site" \
    -C cmake.define.HALFKIT_EMULATE_BF16=ON -C cmake.define.HALFKIT_CUDA=OFF \
    -C build-dir=build/emulated-bf16 .
export PYTHONPATH="$site"
python -m halfkit info | grep -q "avx512bf16 emulates" || {
  echo "the scratch build is not the emulating one" >&2
  exit 1
}
HALFKIT_FORCE_ISA=avx512bf16 python -m halfkit verify --quick
if [ $# -eq 0 ]; then set -- -m "not slow"; fi
python -m pytest -p no:cacheprovider "$@"
