#!/usr/bin/env bash
# What a session with a lent GPU machine runs, one stage per device call (each call may take at
# most 10 minutes; the machine keeps the build while it stays warm). Logs go to $OUT (the device
# tool brings that folder back), or to ./gpu_out elsewhere. Stages, in order:
#
#   build     install halfkit with its CUDA module into the machine's python3 (it has CuPy,
#             torch, ml_dtypes, pytest, scikit-build-core and pybind11), print kernel_info
#   test      the GPU tests: every GEMM kernel forced by name, conversions, CuPy routing
#   sanitize  compute-sanitizer memcheck, racecheck and synccheck over bench/gpu_sanitize.py
#   bench     bench/cuda_gemm.py against cublasGemmEx and cupy.matmul
#   cpu       the CPU GEMM on the host's AVX512-BF16 cores (issue 3's VDPBF16PS targets), with
#             the AVX-512F tier forced beside it
#
#   bash bench/gpu_session.sh build test      # several stages in one call, if they fit
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu_out}"
mkdir -p "$out"
py="${PYTHON:-python3}"
status=0

run() {  # run NAME COMMAND...: log to $out/NAME.log, print its tail and the exit status
  local name="$1"
  shift
  local t0=$SECONDS
  "$@" >"$out/$name.log" 2>&1
  local rc=$?
  tail -n 15 "$out/$name.log"
  echo "== $name: rc $rc in $((SECONDS - t0)) s"
  [ "$rc" -eq 0 ] || status=1
}

for stage in "$@"; do
  case "$stage" in
    build)
      { git log -1 --oneline 2>/dev/null; nvidia-smi -L; nvcc --version | tail -1; } >"$out/machine.txt" 2>&1
      cat "$out/machine.txt"
      run build "$py" -m pip install --no-build-isolation --no-deps -v .
      run kernel_info "$py" -c "import halfkit, pprint; pprint.pprint(halfkit.kernel_info())"
      ;;
    test)
      run gpu_tests "$py" -m pytest -q -p no:cacheprovider -rs tests/test_cuda_gemm.py \
        tests/test_cuda.py tests/test_cupy_host.py
      ;;
    sanitize)
      for tool in memcheck racecheck synccheck; do
        run "sanitize_$tool" timeout 180 compute-sanitizer --tool "$tool" --error-exitcode 1 \
          "$py" bench/gpu_sanitize.py
      done
      ;;
    bench)
      run cuda_gemm "$py" bench/cuda_gemm.py --json "$out/cuda_gemm.json"
      ;;
    cpu)
      shapes="256x256x256 1024x1024x1024 2048x2048x2048 1x4096x4096 128x4096x4096"
      # shellcheck disable=SC2086
      run cpu_gemm_bf16 "$py" bench/gemm_shapes.py --threads 2 --dtype bfloat16 $shapes
      # shellcheck disable=SC2086
      run cpu_gemm_bf16_avx512f env HALFKIT_FORCE_ISA=avx512 "$py" bench/gemm_shapes.py \
        --threads 2 --dtype bfloat16 $shapes
      ;;
    *)
      echo "unknown stage '$stage' (build, test, sanitize, bench, cpu)" >&2
      exit 2
      ;;
  esac
done
exit "$status"
