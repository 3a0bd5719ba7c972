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


def test_softmax_precision_study():
    res = load("softmax_precision").main(["--rows", "300", "--classes", "200"])
    by = {(r["spread"], r["format"]): r for r in res}
    for spread in (1.0, 4.0, 16.0):
        # bfloat16 keeps 8 significant bits to float16's 11: its softmax moves more.
        assert by[(spread, "bfloat16")]["mean_kl"] > by[(spread, "float16")]["mean_kl"]
    assert all(0.0 <= r["argmax_changed"] <= r["top_tied"] <= 1.0 for r in res)
    # Narrow logits collapse into ties far more often in bfloat16.
    assert by[(0.25, "bfloat16")]["top_tied"] > by[(0.25, "float16")]["top_tied"]


def test_convert_checkpoint_on_a_local_cluster(tmp_path, capsys):
    pytest.importorskip("distributed", reason="distributed is not installed")
    res = load("convert_checkpoint").main(
        ["--size", "96", "--worker-memory", "256", "--dir", str(tmp_path)]
    )
    assert res["cluster_gb_s"] > 0 and res["process_gb_s"] > 0
    assert "matches halfkit.astype bit for bit" in capsys.readouterr().out
