#!/usr/bin/env bash
# Builds tests/cross/core_check.cpp for this machine (scalar tier only) and for aarch64, runs
# the aarch64 build under qemu-user, and compares the two outputs line by line.
# Needs: g++, aarch64-linux-gnu-g++ and qemu-aarch64 (Debian: apt-get install g++-aarch64-linux-gnu
# qemu-user); not part of the pytest run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(mktemp -d)
srcs=(csrc/convert.cpp csrc/convert_scalar.cpp csrc/gemm.cpp csrc/gemm_scalar.cpp
      csrc/threads.cpp csrc/dispatch.cpp csrc/cpu_features.cpp tests/cross/core_check.cpp)
cd "$root"
# Without HALFKIT_X86 the host build has the scalar tier only, like the aarch64 one.
g++ -std=c++17 -O2 -Wall -Wextra -Icsrc "${srcs[@]}" -o "$out/host" -pthread
aarch64-linux-gnu-g++ -std=c++17 -O2 -Wall -Wextra -Icsrc -static "${srcs[@]}" \
    -o "$out/aarch64" -pthread
"$out/host" > "$out/host.txt"
qemu-aarch64 "$out/aarch64" > "$out/aarch64.txt"
if diff "$out/host.txt" "$out/aarch64.txt"; then
  echo "aarch64 matches the host's scalar reference: $(wc -l < "$out/host.txt") cases"
else
  echo "aarch64 differs from the host's scalar reference" >&2
  exit 1
fi
