"""The examples run, on small sizes, and say something sensible."""

import importlib.util
import pathlib

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_mlp_digits_trains_in_every_storage_format(capsys):
    pytest.importorskip("sklearn")
    acc = load("mlp_digits").main(["--epochs", "3", "--hidden", "32"])
    assert set(acc) == {"float32", "bfloat16", "float16"}
    assert all(a > 0.8 for a in acc.values()), acc
    assert "test accuracy" in capsys.readouterr().out


def test_softmax_precision_study(tmp_path, capsys):
    pytest.importorskip("sklearn")
    mod = load("softmax_precision")
    argv = ["--epochs", "3", "--hidden", "32"]
    if importlib.util.find_spec("matplotlib") is not None:
        argv += ["--plot", str(tmp_path / "kl.png")]
    res = mod.main(argv)
    by = {(r["kind"], r["rows"], r["cols"], r["rounding"]): r for r in res}
    assert by[("float64", 11, 52, "-")]["accuracy"] > 0.8
    assert len(res) == 1 + 2 * (
        len(mod.EXPONENT_BITS) * len(mod.MANTISSA_BITS)
        + len(mod.INTEGER_BITS) * len(mod.FRACTION_BITS)
    )
    assert all(0.0 <= r["argmax_changed"] <= 1.0 and r["mean_kl"] >= 0 for r in res)
    for mode in mod.MODES:
        # More precision moves the softmax less; too little range (2 exponent bits, 2 integer
        # bits, both saturating) moves it most.
        kl = lambda *k, mode=mode: by[(*k, mode)]["mean_kl"]  # noqa: E731
        assert kl("float", 5, 10) < kl("float", 5, 3) < kl("float", 5, 0)
        assert kl("float", 5, 3) < kl("float", 2, 3)
        assert kl("fixed", 6, 8) < kl("fixed", 6, 3) < kl("fixed", 6, 0)
        assert kl("fixed", 6, 3) < kl("fixed", 2, 3)
    out = capsys.readouterr().out
    assert "fewest bits, no argmax changed" in out
    # Stochastic rounding is seeded: the same study gives the same numbers.
    z, labels, test = mod.trained_logits(3, 32)
    assert mod.study(z, labels, test) == mod.study(z, labels, test)


def test_convert_checkpoint_on_a_local_cluster(tmp_path, capsys):
    pytest.importorskip("distributed", reason="distributed is not installed")
    res = load("convert_checkpoint").main(
        ["--size", "96", "--worker-memory", "256", "--dir", str(tmp_path)]
    )
    assert res["cluster_gb_s"] > 0 and res["process_gb_s"] > 0
    assert "matches halfkit.astype bit for bit" in capsys.readouterr().out
