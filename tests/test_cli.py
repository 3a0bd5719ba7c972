"""python -m halfkit: info, bench, verify, and their errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
from halfkit import __main__ as cli
from halfkit import _verify


def run(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "halfkit", *args], capture_output=True, text=True, timeout=timeout
    )


def test_info():
    r = run("info")
    assert r.returncode == 0, r.stderr
    assert "CPU tier in use:" in r.stdout and "threads:" in r.stdout and "CUDA" in r.stdout


@pytest.mark.parametrize("args", [["--help"], ["bench", "--help"], ["verify", "--help"]])
def test_help(args):
    r = run(*args)
    assert r.returncode == 0 and "usage:" in r.stdout


def test_bad_usage_is_one_clear_error():
    r = run("frobnicate")
    assert r.returncode == 2 and "invalid choice" in r.stderr and "Traceback" not in r.stderr


def test_bench_quick_json(tmp_path):
    path = tmp_path / "bench.json"
    r = run("bench", "--quick", "--json", str(path))
    assert r.returncode == 0, r.stderr
    assert "float32->bfloat16" in r.stdout and "matmul bfloat16" in r.stdout
    assert "round float8_e4m3fn nearest-even" in r.stdout
    assert "size: elements for conversions" in r.stdout and "numpy np.copyto" in r.stdout
    rows = json.loads(path.read_text())["rows"]
    assert all(row["rates"]["halfkit"] > 0 for row in rows)
    for row in rows:
        assert row["ratio_range"].keys() == row["rates"].keys() - {"halfkit"}
        for peer, (lo, hi) in row["ratio_range"].items():
            assert 0 < lo <= hi, (row["op"], peer)
    assert any("numpy" in k or "ml_dtypes" in k for row in rows for k in row["rates"])


def test_plot_without_matplotlib_is_a_clear_message(tmp_path):
    try:
        import matplotlib  # noqa: F401

        pytest.skip("matplotlib is installed")
    except ImportError:
        pass
    r = run("bench", "--quick", "--plot", str(tmp_path / "p.png"))
    assert r.returncode != 0 and "pip install matplotlib" in r.stderr
    assert "Traceback" not in r.stderr


def test_verify_steps_pass_on_this_machine():
    # The full run walks all 2^32 float32 inputs (minutes); here: the 16-bit and float64 steps
    # and one chunk of float32 inputs.
    steps = dict(_verify.steps(quick=True))
    for name in ("every 16-bit input", "float64 sources", "float32 inputs 0/64"):
        steps[name]()


def test_verify_reports_mismatches(monkeypatch, capsys):
    real = _verify._convert

    def broken(tier, x, dst):
        y = real(tier, x, dst)
        if tier != "scalar" and y.size > 100:
            y.view(np.uint8)[6] ^= 1
        return y

    monkeypatch.setattr(_verify, "_convert", broken)
    monkeypatch.setattr(_verify, "CHUNK", 1 << 12)
    if len(_verify._core.isa_supported()) == 1:
        pytest.skip("only the scalar tier runs here")
    assert _verify.run(quick=True) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "mismatches" in out and "input 0x" in out


def test_cli_errors_are_one_line(monkeypatch, capsys):
    def boom(*a, **k):
        raise RuntimeError("no such thing")

    monkeypatch.setattr(_verify, "run", boom)
    assert cli.main(["verify"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "halfkit: error: RuntimeError: no such thing"
