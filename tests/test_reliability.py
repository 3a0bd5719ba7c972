"""What a reliability attack found: a pool that cannot start its threads, subinterpreters, the
thread-count limits, and overlapping outputs. The hazardous cases run in a child process with a
timeout and a resource limit, so that a failure cannot hang or take down the test run."""

import subprocess
import sys
import textwrap

import halfkit
import numpy as np
import pytest
from conftest import BF16, F16, F32, F64, bits

TIMEOUT = 120


def run_child(code, env=None):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs RLIMIT_AS and /proc")
@pytest.mark.skipif(
    halfkit._core.sanitized, reason="AddressSanitizer's shadow memory needs RLIMIT_AS"
)
@pytest.mark.parametrize("threads", [2, 64])
def test_pool_runs_with_the_threads_the_os_allows(threads):
    """Thread creation fails part-way (an address-space limit leaves room for a few 8 MiB
    stacks): the call still returns the right bits, and the pool says once what it got. Before,
    the constructor's unwinding destroyed the condition variable the started workers waited on
    and the first call hung."""
    r = run_child(
        f"""
        import hashlib, resource, numpy as np, halfkit
        x = np.random.default_rng(1).standard_normal(1 << 22).astype(np.float32)
        halfkit.set_num_threads(1)
        want = hashlib.sha1(halfkit.to_bfloat16(x).view(np.uint8)).digest()
        y = np.empty(x.shape, halfkit.bfloat16)
        vm = int(next(l for l in open("/proc/self/status") if l.startswith("VmSize")).split()[1])
        # Room for about two more thread stacks (8 MiB each, the default) and little else.
        limit = (vm << 10) + (18 << 20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        halfkit._core.set_num_threads({threads})  # past the CPU count, to ask for many
        for _ in range(3):
            halfkit.to_bfloat16(x, out=y)
            assert hashlib.sha1(y.view(np.uint8)).digest() == want  # allocates nothing
        print("ok")
        """
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
    if threads > 2:
        assert r.stderr.count("the OS refused a thread") == 1, r.stderr


def test_subinterpreter_import_is_a_clean_import_error():
    r = run_child(
        """
        try:
            import _interpreters as interp
        except ImportError:
            try:
                import _xxsubinterpreters as interp
            except ImportError:
                raise SystemExit(77)
        i = interp.create()
        run = getattr(interp, "run_string", None) or interp.exec
        try:
            res = run(i, "import halfkit")
        except Exception as e:
            print(type(e).__name__, e)
        else:
            print(res)
        """
    )
    if r.returncode == 77:
        pytest.skip("this Python has no subinterpreter module")
    assert r.returncode == 0, r.stderr
    assert "ImportError" in r.stdout and "subinterpreter" in r.stdout, r.stdout


def test_num_threads_environment_variable_is_capped():
    import os

    env = dict(os.environ, HALFKIT_NUM_THREADS="1000")
    r = run_child("import halfkit; print(halfkit.get_num_threads())", env=env)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) == halfkit._core.cpus_available()
    assert "1000 threads asked for" in r.stderr


PAIRS = [(s, d) for s in (F16, BF16, F32, F64) for d in (F16, BF16, F32, F64)]


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{p[0].name}->{p[1].name}")
@pytest.mark.parametrize("shift", [0, 1, 3, -2, 7])
def test_out_overlapping_the_input_at_an_offset(pair, shift):
    """Every pair, the same format and float32 <-> float64 included (np.copyto gave wrong bits
    for the latter, and reached memcpy with overlapping buffers for the former): the result is
    what a copy of the input would give."""
    src, dst = pair
    rng = np.random.default_rng(abs(shift) + 11 * src.itemsize + dst.itemsize)
    n = 300
    item = max(src.itemsize, dst.itemsize)
    buf = np.zeros((n + 16) * item, np.uint8)
    xs = np.ndarray(n, src, buf, offset=8 * item)
    xs[...] = (rng.standard_normal(n) * 100).astype(src)
    want = halfkit.astype(xs.copy(), dst)
    o = np.ndarray(n, dst, buf, offset=8 * item + shift * dst.itemsize)
    halfkit.astype(xs, dst, out=o)
    assert np.array_equal(bits(o), bits(want))


@pytest.mark.parametrize("pair", [(F32, F64), (F64, F32), (BF16, BF16), (F16, F16)])
def test_out_overlapping_strided_both_sides(pair):
    src, dst = pair
    rng = np.random.default_rng(5)
    buf = np.zeros(4096, np.uint8)
    xs = np.ndarray((20, 10), src, buf, offset=1024, strides=(16 * src.itemsize, -src.itemsize))
    xs[...] = (rng.standard_normal((20, 10)) * 10).astype(src)
    want = halfkit.astype(xs.copy(), dst)
    o = np.ndarray((20, 10), dst, buf, offset=3900, strides=(-24 * dst.itemsize, 2 * dst.itemsize))
    halfkit.astype(xs, dst, out=o)
    assert np.array_equal(bits(o), bits(want))


INTERRUPT = """
import os, signal, threading, time, numpy as np, halfkit
halfkit.set_num_threads({threads})
{setup}
def call():
    {call}
call()  # warm: the pool, the pages of the output
t0 = time.perf_counter(); call(); full = time.perf_counter() - t0
threading.Timer(full / 5, os.kill, (os.getpid(), signal.SIGINT)).start()
t0 = time.perf_counter()
try:
    call()
except KeyboardInterrupt:
    after = time.perf_counter() - t0
    {check}
    print("interrupted", full, after)
else:
    print("not interrupted", full)
"""

LONG_CALLS = {
    "gemm": (
        "a = np.ones((4096, 4096), np.float16); c = np.empty((4096, 4096), np.float32)",
        "halfkit.matmul(a, a, out=c)",
        "assert np.array_equal(halfkit.matmul(a[:64], a[:, :64]), np.full((64, 64), 4096.0))",
    ),
    "gemm stack": (
        "a = np.ones((384, 512, 512), np.float16)",
        "halfkit.matmul(a, a)",
        "assert (halfkit.matmul(a[:2], a[:2]) == 512).all()",
    ),
    "conversion": (
        "x = np.ones(1 << 27, np.float64); y = np.empty(1 << 27, np.float16)",
        "halfkit.astype(x[::2], np.float16, out=y[::2])",
        "assert (halfkit.to_float16(x[:1000]) == 1).all()",
    ),
}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="POSIX signals")
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", sorted(LONG_CALLS))
def test_ctrl_c_stops_a_long_call(case, threads):
    """SIGINT a fifth of the way into a long call raises KeyboardInterrupt well before the call
    would have finished (it used to arrive only after), and the next calls give right results.
    The time bound is relative to the same call's full duration in the same process."""
    setup, call, check = LONG_CALLS[case]
    code = INTERRUPT.format(threads=threads, setup=setup, call=call, check=check)
    r = run_child(code)
    assert r.returncode == 0, r.stderr
    words = r.stdout.split()
    assert words[0] == "interrupted", r.stdout
    full, after = float(words[1]), float(words[2])
    assert after < 0.8 * full, r.stdout
