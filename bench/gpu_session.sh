#!/usr/bin/env bash
# What a session with a lent GPU machine runs, one stage per device call (each call may take at
# most 10 minutes; the machine keeps the build while it stays warm). Logs go to $OUT (the device
# tool brings that folder back), or to ./gpu_out elsewhere. Stages, in order:
#
#   build     install halfkit with its CUDA module into the machine's python3 (it has CuPy,
#             torch, ml_dtypes, pytest, scikit-build-core and pybind11), print kernel_info.
#             Machine code for CUDA_ARCHS only (default 90a-real: an H100/H200 runs every
#             kernel from it, sm80's mma.sync ones too), a third of the full build's time
#   test      the GPU tests: every GEMM kernel forced by name (sm90 last, in its own process,
#             so that a hang there costs only its time limit), conversions, CuPy routing,
#             round/fixed_point/storage dtypes against the CPU
#   cputest   the whole CPU test suite on the host's cores (pytest-xdist), which run the
#             AVX512-BF16 tier natively where they have it
#   sanitize  compute-sanitizer memcheck, racecheck and synccheck over bench/gpu_sanitize.py
#   bench     bench/cuda_gemm.py against cublasGemmEx and cupy.matmul; bench/cuda_round.py
#             against a device copy
#   tune      bench/micro/sm80_tune.cu: block-tile configurations of the mma.sync kernel timed
#             side by side, each checked bit for bit against the shipped one (not yet run)
#   cpu       the host CPU's model, VDPBF16PS's issue rate against FMA's
#             (bench/micro/dpbf16_rate.cpp), and the CPU GEMM on the host's cores (issue 3),
#             with the AVX-512F tier forced beside it
#
#   bash bench/gpu_session.sh build test      # several stages in one call, if they fit
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu_out}"
mkdir -p "$out"
py="${PYTHON:-python3}"
status=0

run() {  # run NAME SECONDS COMMAND...: log to $out/NAME.log, print its tail and the exit status
  local name="$1" limit="$2"
  shift 2
  local t0=$SECONDS
  timeout -k 10 "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  tail -n 15 "$out/$name.log"
  echo "== $name: rc $rc in $((SECONDS - t0)) s"
  [ "$rc" -eq 0 ] || status=1
}

for stage in "$@"; do
  case "$stage" in
    build)
      { git log -1 --oneline 2>/dev/null; nvidia-smi -L; nvcc --version | tail -1; } >"$out/machine.txt" 2>&1
      grep -o -m1 'avx512_bf16' /proc/cpuinfo >>"$out/machine.txt"
      cat "$out/machine.txt"
      run build 400 "$py" -m pip install --no-build-isolation --no-deps -v . \
        -Ccmake.define.CMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-90a-real}"
      run kernel_info 60 "$py" -c "import halfkit, pprint; pprint.pprint(halfkit.kernel_info())"
      ;;
    test)
      run gpu_tests 240 "$py" -m pytest -q -p no:cacheprovider -rs -k "not sm90" \
        tests/test_cuda_gemm.py tests/test_cuda.py tests/test_cupy_host.py tests/test_cuda_round.py
      run gpu_tests_sm90 150 "$py" -m pytest -q -p no:cacheprovider -rs -k sm90 \
        tests/test_cuda_gemm.py
      ;;
    cputest)
      run cpu_tests 400 "$py" -m pytest -q -p no:cacheprovider -p no:benchmark -n 12 \
        -m "not slow" tests \
        --ignore=tests/test_cuda_gemm.py --ignore=tests/test_cuda.py \
        --ignore=tests/test_cuda_round.py
      ;;
    sanitize)
      for tool in memcheck racecheck synccheck; do
        run "sanitize_$tool" 180 compute-sanitizer --tool "$tool" --error-exitcode 1 \
          "$py" bench/gpu_sanitize.py
      done
      ;;
    bench)
      run cuda_gemm 400 "$py" bench/cuda_gemm.py --json "$out/cuda_gemm.json" ${BENCH_ARGS:-}
      run cuda_round 200 "$py" bench/cuda_round.py --json "$out/cuda_round.json"
      ;;
    tune)
      run sm80_tune_build 300 nvcc -O3 -std=c++17 --expt-relaxed-constexpr \
        -gencode=arch=compute_90a,code=sm_90a -Icsrc -Icuda -o /tmp/sm80_tune \
        bench/micro/sm80_tune.cu
      run sm80_tune 300 /tmp/sm80_tune 4096 8192
      ;;
    cpu)
      { grep -m1 "model name" /proc/cpuinfo; g++ -O2 -mavx512f -mavx512bf16 \
        bench/micro/dpbf16_rate.cpp -o /tmp/dpbf16_rate && /tmp/dpbf16_rate; } 2>&1 |
        tee "$out/cpu_rates.txt"
      shapes="256x256x256 1024x1024x1024 2048x2048x2048 1x4096x4096 128x4096x4096"
      # shellcheck disable=SC2086
      run cpu_gemm_bf16 200 "$py" bench/gemm_shapes.py --threads 2 --dtype bfloat16 $shapes
      # shellcheck disable=SC2086
      run cpu_gemm_bf16_avx512f 200 env HALFKIT_FORCE_ISA=avx512 "$py" bench/gemm_shapes.py \
        --threads 2 --dtype bfloat16 $shapes
      ;;
    *)
      echo "unknown stage '$stage' (build, test, cputest, sanitize, bench, tune, cpu)" >&2
      exit 2
      ;;
  esac
done
exit "$status"
