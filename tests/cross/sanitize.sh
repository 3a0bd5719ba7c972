#!/usr/bin/env bash
# The test suite under AddressSanitizer and UndefinedBehaviorSanitizer: builds halfkit's CPU
# module with -fsanitize=address,undefined (CMake option HALFKIT_SANITIZE) into a scratch
# folder and runs pytest against it with the ASan runtime preloaded (CPython itself is not
# instrumented). Any report fails the run (halt_on_error, and UBSan made fatal). Leak checking
# is off: CPython and numpy keep memory until exit on purpose. Extra pytest arguments are passed
# on (default: -m "not slow" -x). Needs gcc's libasan and libubsan (Debian: libgcc-12-dev, which
# g++ brings); `HALFKIT_FORCE_ISA` and `HALFKIT_NUM_THREADS` choose the tier and threads as
# usual. Not part of the pytest run: the instrumented suite takes several times as long.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
site=$(mktemp -d)
python -m pip install --no-build-isolation --no-deps -q --target "$site" \
    -C cmake.define.HALFKIT_SANITIZE=ON -C cmake.define.HALFKIT_CUDA=OFF \
    -C cmake.build-type=RelWithDebInfo -C build-dir=build/sanitize .
export PYTHONPATH="$site"
LD_PRELOAD="$(${CXX:-g++} -print-file-name=libasan.so):$(${CXX:-g++} -print-file-name=libubsan.so)"
export LD_PRELOAD
# allocator_may_return_null: the tests ask for a 4 TiB result to see the MemoryError.
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
python -c "import halfkit; assert halfkit._core.sanitized, 'not the sanitized build'"
if [ $# -eq 0 ]; then set -- -m "not slow" -x; fi
python -m pytest -p no:cacheprovider "$@"
