"""Every float32 input (all 2^32 bit patterns, in chunks of 2^26): halfkit.round on every CPU
tier against round_one, the integer reference, element by element (the `reference` tier of the
kernel, which runs nothing vectorised and no FPU path), for a representative set of formats and
rounding modes; and astype to the small storage dtypes against ml_dtypes' own cast (0.7.0's
behaviour; the reference is also held to the exact model and to ml_dtypes on chosen inputs in
test_round.py and test_storage.py).

The default run (marked slow: about 2 minutes on two cores) takes the cases the fast paths
differ most in; the rest, every deterministic mode of float8_e4m3fn and more formats, another
6 minutes, run with `python -m pytest -m exhaustive tests/test_exhaustive.py`."""

import halfkit
import ml_dtypes
import numpy as np
import pytest
from conftest import TIERS
from halfkit import _core
from halfkit._formats import _round_plan

pytestmark = pytest.mark.slow

CHUNK = 1 << 26
EXTENDED = pytest.mark.exhaustive
# (format, rounding mode, subnormals): nearest-even (the FPU path) and toward zero (the common
# path) for float8_e4m3fn (no infinities, NaN at all ones) and bfloat16 (the widest float32
# format, whose subnormals are float32's); then every other mode, the narrowest format and one
# without subnormals.
CASES = [
    ("float8_e4m3fn", "nearest-even", True),
    ("float8_e4m3fn", "toward-zero", True),
    ("bfloat16", "nearest-even", True),
    pytest.param("bfloat16", "toward-zero", True, marks=EXTENDED),
    *(
        pytest.param("float8_e4m3fn", mode, True, marks=EXTENDED)
        for mode in ("nearest-away", "up", "down", "to-odd")
    ),
    pytest.param("float4_e2m1fn", "nearest-even", True, marks=EXTENDED),
    pytest.param("float4_e2m1fn", "up", True, marks=EXTENDED),
    pytest.param("float8_e5m2", "nearest-even", False, marks=EXTENDED),
]


def chunks():
    for start in range(0, 1 << 32, CHUNK):
        yield np.arange(start, start + CHUNK, dtype=np.uint64).astype(np.uint32).view(np.float32)


@pytest.mark.parametrize("fmt, mode, subnormals", CASES)
def test_every_float32_on_every_tier_is_the_reference(fmt, mode, subnormals):
    ref = np.empty(CHUNK, np.float32)
    got = np.empty(CHUNK, np.float32)
    plan = _round_plan(fmt, np.dtype(np.float32), mode, subnormals, False)
    for x in chunks():
        _core.round(x, ref, (*plan, 0), "reference", ())
        for tier in TIERS:
            _core.round(x, got, (*plan, 0), tier, ())
            bad = np.nonzero(got.view(np.uint32) != ref.view(np.uint32))[0]
            assert bad.size == 0, (
                tier,
                [(hex(x.view(np.uint32)[i]), hex(got.view(np.uint32)[i])) for i in bad[:4]],
            )


@pytest.mark.parametrize(
    "dt",
    [ml_dtypes.float8_e4m3fn, pytest.param(ml_dtypes.float4_e2m1fn, marks=EXTENDED)],
    ids=lambda t: np.dtype(t).name,
)
def test_every_float32_to_storage_is_ml_dtypes(dt):
    codes = np.empty(CHUNK, dt)
    for x in chunks():
        with np.errstate(all="ignore"):
            want = x.astype(dt)
        halfkit.astype(x, dt, out=codes)
        bad = np.nonzero(codes.view(np.uint8) != want.view(np.uint8))[0]
        assert bad.size == 0, [
            (hex(x.view(np.uint32)[i]), codes.view(np.uint8)[i]) for i in bad[:4]
        ]
