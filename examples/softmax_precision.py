"""How many bits does the softmax input need, in floating point or in fixed point?

The question a hardware designer asks before building a softmax unit. This study trains the
digits MLP of examples/mlp_digits.py in float32, takes its logits (the softmax input) in
float64, and rounds them to a grid of formats before the softmax:

- floating point: exponent bits x mantissa bits (IEEE-style, saturating at the largest finite
  value as hardware does rather than overflowing to inf), with halfkit.round;
- fixed point: signed Qi.f, integer bits x fraction bits, saturating, with halfkit.fixed_point;

each with round-to-nearest-even and with stochastic rounding. For each format it reports the
test set's top-1 accuracy, how often the argmax differs from the float64 softmax's (over every
sample of the data set), and the mean KL divergence from the float64 softmax. Rounding is
monotonic, so it never swaps two logits; it can only merge them into a tie (np.argmax then
takes the first index), and stochastic rounding can move either of two close logits.

`--shift` rounds the logits minus their row's maximum instead (what a softmax unit sees after
its first step, all values <= 0). `--plot FILE` draws the KL divergences as heat maps
(matplotlib).

    pip install scikit-learn matplotlib   # or: pip install ".[examples]"
    python examples/softmax_precision.py [--epochs 30] [--shift] [--plot softmax.png]
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import time

import halfkit
import numpy as np

EXPONENT_BITS = (2, 3, 4, 5, 8)
MANTISSA_BITS = (0, 1, 2, 3, 4, 5, 7, 10)
INTEGER_BITS = (2, 3, 4, 5, 6)
FRACTION_BITS = (0, 1, 2, 3, 4, 6, 8)
MODES = ("nearest-even", "stochastic")


def _mlp_digits():
    path = pathlib.Path(__file__).resolve().parent / "mlp_digits.py"
    spec = importlib.util.spec_from_file_location("mlp_digits", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def trained_logits(epochs: int, hidden: int, seed: int = 0):
    """float64 logits of every digit (the test rows last), their labels, and the test mask."""
    mlp = _mlp_digits()
    params, _, _ = mlp.fit("float32", epochs, hidden, seed)
    xtr, ytr, xte, yte = mlp.data(seed)
    x = np.concatenate([xtr, xte])
    p64 = {k: v.astype(np.float64) for k, v in params.items()}
    z = mlp.logits(p64, x.astype(np.float64), mlp.Storage("float32"))
    test = np.zeros(len(x), bool)
    test[len(xtr) :] = True
    return z, np.concatenate([ytr, yte]), test


def formats():
    """(kind, rows label, columns label, the function that rounds a float64 array)."""
    for e in EXPONENT_BITS:
        for m in MANTISSA_BITS:
            fmt = halfkit.Format(exponent_bits=e, mantissa_bits=m)
            for mode in MODES:
                yield (
                    "float",
                    e,
                    m,
                    mode,
                    lambda z, fmt=fmt, mode=mode: halfkit.round(
                        z, fmt, rounding=mode, saturate=True, seed=1
                    ),
                )
    for i in INTEGER_BITS:
        for f in FRACTION_BITS:
            for mode in MODES:
                yield (
                    "fixed",
                    i,
                    f,
                    mode,
                    lambda z, i=i, f=f, mode=mode: halfkit.fixed_point(
                        z, integer_bits=i, fraction_bits=f, rounding=mode, seed=1
                    ),
                )


def study(z: np.ndarray, labels: np.ndarray, test: np.ndarray, shift: bool = False) -> list[dict]:
    exact = softmax(z)
    winner = exact.argmax(axis=-1)
    x = z - z.max(axis=-1, keepdims=True) if shift else z
    out = [
        dict(
            kind="float64",
            rows=11,
            cols=52,
            rounding="-",
            accuracy=float((winner[test] == labels[test]).mean()),
            argmax_changed=0.0,
            mean_kl=0.0,
        )
    ]
    for kind, r, c, mode, rnd in formats():
        p = softmax(rnd(x))
        changed = p.argmax(axis=-1) != winner
        with np.errstate(divide="ignore"):
            kl = np.sum(exact * (np.log(exact) - np.log(p)), axis=-1)
        out.append(
            dict(
                kind=kind,
                rows=r,
                cols=c,
                rounding=mode,
                accuracy=float((p.argmax(axis=-1)[test] == labels[test]).mean()),
                argmax_changed=float(changed.mean()),
                mean_kl=float(kl.mean()),
            )
        )
    return out


def smallest(res: list[dict], kind: str, mode: str, kl_at_most: float | None = None) -> dict | None:
    """The format of the fewest bits (then the lowest KL) that changes no argmax of the float64
    softmax, and with kl_at_most, whose mean KL divergence is at most that too."""
    ok = [
        r
        for r in res
        if r["kind"] == kind
        and r["rounding"] == mode
        and r["argmax_changed"] == 0
        and (kl_at_most is None or r["mean_kl"] <= kl_at_most)
    ]
    # Bits: sign + exponent + mantissa for floats, sign + integer + fraction for fixed point.
    return min(ok, key=lambda r: (1 + r["rows"] + r["cols"], r["mean_kl"]), default=None)


def plot(res: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8), constrained_layout=True)
    grids = {
        "float": (EXPONENT_BITS, MANTISSA_BITS, "exponent bits", "mantissa bits"),
        "fixed": (INTEGER_BITS, FRACTION_BITS, "integer bits", "fraction bits"),
    }
    for row, kind in enumerate(("float", "fixed")):
        rows, cols, rl, cl = grids[kind]
        for col, mode in enumerate(MODES):
            kl = np.full((len(rows), len(cols)), np.nan)
            for r in res:
                if r["kind"] == kind and r["rounding"] == mode:
                    kl[rows.index(r["rows"]), cols.index(r["cols"])] = r["mean_kl"]
            ax = axes[row][col]
            im = ax.imshow(np.log10(kl + 1e-12), cmap="viridis_r", vmin=-12, vmax=1)
            ax.set_xticks(range(len(cols)), cols)
            ax.set_yticks(range(len(rows)), rows)
            ax.set_xlabel(cl)
            ax.set_ylabel(rl)
            ax.set_title(f"{kind} point, {mode}: log10 mean KL")
            fig.colorbar(im, ax=ax)
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--shift", action="store_true", help="round the logits minus their maximum")
    ap.add_argument("--plot", metavar="FILE", help="heat maps of the KL divergence (matplotlib)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    z, labels, test = trained_logits(args.epochs, args.hidden)
    res = study(z, labels, test, shift=args.shift)
    print(
        f"digits MLP, {len(z)} samples ({test.sum()} test), logits from {z.min():.1f} to "
        f"{z.max():.1f}{', shifted by the row maximum' if args.shift else ''}"
    )
    print(
        f"{'format':>8} {'rows x cols':>12} {'rounding':>13} {'test top-1':>11} "
        f"{'argmax changed':>15} {'mean KL':>10}"
    )
    for r in res:
        label = {"float64": "", "float": "e x m", "fixed": "Qi.f"}[r["kind"]]
        print(
            f"{r['kind']:>8} {label:>6}{r['rows']:>3}x{r['cols']:<3} {r['rounding']:>13} "
            f"{r['accuracy']:>11.2%} {r['argmax_changed']:>15.2%} {r['mean_kl']:>10.2e}"
        )
    for kl in (None, 1e-3, 1e-5):
        what = "no argmax changed" + ("" if kl is None else f" and mean KL <= {kl:g}")
        for kind in ("float", "fixed"):
            for mode in MODES:
                r = smallest(res, kind, mode, kl)
                name = "e x m" if kind == "float" else "Qi.f"
                found = (
                    "none in the grid"
                    if r is None
                    else f"{name} {r['rows']} x {r['cols']}, {1 + r['rows'] + r['cols']} bits "
                    f"(test top-1 {r['accuracy']:.2%}, mean KL {r['mean_kl']:.1e})"
                )
                print(f"fewest bits, {what}, {kind} point, {mode}: {found}")
    if args.plot:
        plot(res, args.plot)
        print(f"heat maps written to {args.plot}")
    print(f"{time.perf_counter() - t0:.1f} s")
    return res


if __name__ == "__main__":
    main()
