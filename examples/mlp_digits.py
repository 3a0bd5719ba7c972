"""A numpy multilayer perceptron on scikit-learn's digits, trained three ways:

- float32 throughout;
- bfloat16 storage: weights and activations rounded to bfloat16 for every matrix product
  (halfkit.matmul: bf16 inputs, fp32 accumulation), fp32 master weights and Adam state;
- float16 storage with dynamic loss scaling: the loss is scaled before the backward pass so
  small gradients survive float16; a step whose gradients overflowed is skipped and the scale
  halved, and the scale doubles again after a run of good steps.

    pip install scikit-learn   # for the digits data set (or: pip install ".[examples]")
    python examples/mlp_digits.py [--epochs 30] [--hidden 128]
"""

from __future__ import annotations

import argparse
import time

import halfkit
import numpy as np
from sklearn.datasets import load_digits


def data(seed: int = 0):
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    idx = np.random.default_rng(seed).permutation(len(x))
    x, y = x[idx], y[idx]
    cut = int(0.8 * len(x))
    return x[:cut], y[:cut], x[cut:], y[cut:]


class Storage:
    """How a matrix product's inputs are stored: the only thing that differs between modes."""

    def __init__(self, mode: str):
        self.mode = mode
        self.dtype = {"float32": None, "bfloat16": halfkit.bfloat16, "float16": np.float16}[mode]

    def mm(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if self.dtype is None:
            return a @ b
        return halfkit.matmul(halfkit.astype(a, self.dtype), halfkit.astype(b, self.dtype))


def train(mode: str, epochs: int, hidden: int, seed: int = 0) -> tuple[float, float, int]:
    """Test accuracy, seconds of training and skipped steps of one storage mode."""
    params, seconds, skipped = fit(mode, epochs, hidden, seed)
    _, _, xte, yte = data(seed)
    acc = float((np.argmax(logits(params, xte, Storage(mode)), 1) == yte).mean())
    return acc, seconds, skipped


def logits(params: dict, x: np.ndarray, st: Storage) -> np.ndarray:
    h = np.maximum(st.mm(x, params["w1"]) + params["b1"], 0)
    return st.mm(h, params["w2"]) + params["b2"]


def fit(mode: str, epochs: int, hidden: int, seed: int = 0) -> tuple[dict, float, int]:
    """The trained parameters (float32 master weights), seconds, skipped steps."""
    xtr, ytr, _, _ = data(seed)
    rng = np.random.default_rng(seed)
    params = {
        "w1": (rng.standard_normal((64, hidden)) * np.sqrt(2 / 64)).astype(np.float32),
        "b1": np.zeros(hidden, np.float32),
        "w2": (rng.standard_normal((hidden, 10)) * np.sqrt(2 / hidden)).astype(np.float32),
        "b2": np.zeros(10, np.float32),
    }
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(v) for k, v in params.items()}
    st = Storage(mode)
    scale, good, skipped, step = 2.0**12, 0, 0, 0
    lr, b1, b2, eps, batch = 3e-3, 0.9, 0.999, 1e-8, 32
    t0 = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(len(xtr))
        for s in range(0, len(order), batch):
            xb, yb = xtr[order[s : s + batch]], ytr[order[s : s + batch]]
            h = st.mm(xb, params["w1"]) + params["b1"]
            a = np.maximum(h, 0)
            logits = st.mm(a, params["w2"]) + params["b2"]
            p = np.exp(logits - logits.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            dlogits = p
            dlogits[np.arange(len(yb)), yb] -= 1
            dlogits /= len(yb)
            loss_scale = scale if mode == "float16" else 1.0
            dlogits = dlogits * loss_scale
            grads = {"w2": st.mm(a.T, dlogits), "b2": dlogits.sum(0)}
            da = st.mm(dlogits, params["w2"].T) * (h > 0)
            grads["w1"] = st.mm(xb.T, da)
            grads["b1"] = da.sum(0)
            if mode == "float16":
                # float16 storage of the scaled gradients overflowed: skip, and scale down.
                g16_ok = all(
                    np.isfinite(halfkit.astype(g, np.float16)).all() for g in grads.values()
                )
                if not g16_ok or not all(np.isfinite(g).all() for g in grads.values()):
                    scale /= 2
                    skipped += 1
                    good = 0
                    continue
                good += 1
                if good == 200:
                    scale *= 2
                    good = 0
            step += 1
            for k in params:
                g = grads[k] / loss_scale
                m[k] = b1 * m[k] + (1 - b1) * g
                v[k] = b2 * v[k] + (1 - b2) * g * g
                mh = m[k] / (1 - b1**step)
                vh = v[k] / (1 - b2**step)
                params[k] -= (lr * mh / (np.sqrt(vh) + eps)).astype(np.float32)
    return params, time.perf_counter() - t0, skipped


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--hidden", type=int, default=128)
    args = ap.parse_args(argv)
    results = {}
    print(f"{'storage':<10}{'test accuracy':>15}{'seconds':>10}{'skipped steps':>15}")
    with np.errstate(over="ignore"):  # float16 overflow is the loss scaler's business here
        for mode in ("float32", "bfloat16", "float16"):
            acc, secs, skipped = train(mode, args.epochs, args.hidden)
            results[mode] = acc
            print(f"{mode:<10}{acc:>15.3f}{secs:>10.2f}{skipped:>15}")
    return results


if __name__ == "__main__":
    main()
