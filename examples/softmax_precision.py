"""How much does rounding the logits that feed a softmax to float16 or bfloat16 change it?

The question a hardware designer asks before storing activations in 16 bits: for logits of a
given spread, how often does the argmax change, and how far do the probabilities move (largest
absolute change, KL divergence from the float64 softmax)? Rounding is monotonic, so it never
swaps two logits: it can only merge them into a tie, and then np.argmax (first index wins) may
pick another class. Both the ties at the top and the changed argmaxes are counted.

    python examples/softmax_precision.py [--rows 2000] [--classes 1000]
"""

from __future__ import annotations

import argparse

import halfkit
import numpy as np


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def study(rows: int, classes: int, spreads=(0.25, 1.0, 4.0, 16.0), seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for spread in spreads:
        logits = rng.standard_normal((rows, classes)) * spread + rng.uniform(-20, 20, (rows, 1))
        exact = softmax(logits)
        winner = exact.argmax(axis=-1)
        for fmt in ("float16", "bfloat16"):
            rounded = halfkit.astype(halfkit.astype(logits, fmt), np.float64)
            p = softmax(rounded)
            top = rounded.max(axis=-1, keepdims=True)
            tied = (rounded == top).sum(axis=-1) > 1
            changed = p.argmax(axis=-1) != winner
            kl = np.sum(exact * (np.log(exact + 1e-300) - np.log(p + 1e-300)), axis=-1)
            out.append(
                dict(
                    spread=spread,
                    format=fmt,
                    argmax_changed=float(changed.mean()),
                    top_tied=float(tied.mean()),
                    max_abs_prob_change=float(np.abs(p - exact).max()),
                    mean_kl=float(kl.mean()),
                )
            )
    return out


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--classes", type=int, default=1000)
    args = ap.parse_args(argv)
    res = study(args.rows, args.classes)
    print(
        f"{'logit spread':>12} {'format':>9} {'top-1 tied':>11} {'argmax changed':>15} "
        f"{'max |dp|':>10} {'mean KL':>10}"
    )
    for r in res:
        print(
            f"{r['spread']:>12.2f} {r['format']:>9} {r['top_tied']:>11.2%} "
            f"{r['argmax_changed']:>15.2%} {r['max_abs_prob_change']:>10.2e} {r['mean_kl']:>10.2e}"
        )
    return res


if __name__ == "__main__":
    main()
