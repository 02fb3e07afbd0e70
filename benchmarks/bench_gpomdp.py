"""Benchmark: ``logel.gpomdp_jacobian`` against a naive reference on the same data.

The naive reference follows the estimator's formula literally and materialises the
``(N, T, d, q)`` outer products (as the official code does). Both run side by side on the same
random arrays; the script checks they agree and prints time and peak-memory ratios.

Run: ``.venv/bin/python benchmarks/bench_gpomdp.py`` (or ``make benchmark``).
"""

from __future__ import annotations

import sys
import time
import tracemalloc

import numpy as np

from logel import gpomdp_jacobian


def naive_gpomdp_jacobian(scores: np.ndarray, features: np.ndarray, gamma: float,
                          baseline_eps: float = 1e-3) -> np.ndarray:
    """The formula of spec Sec. 3.1 with explicit (N, T, d, q) temporaries."""
    N, T, _ = scores.shape
    G = np.cumsum(scores, axis=1)
    F = features * (gamma ** np.arange(T))[None, :, None]
    G2 = G**2
    outer_sq = G2[..., :, None] * F[..., None, :]  # (N, T, d, q)
    baseline = outer_sq.mean(axis=0) / (G2.mean(axis=0)[..., None] + baseline_eps)
    del outer_sq
    terms = G[..., :, None] * (F[..., None, :] - baseline[None])  # (N, T, d, q)
    return terms.sum(axis=1).mean(axis=0)


def measure(fn, *args, repeats: int = 3) -> tuple[float, float, np.ndarray]:
    """Best wall time over ``repeats`` and peak traced memory (bytes) of one call."""
    tracemalloc.start()
    out = fn(*args)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return min(times), peak, out


def main() -> None:
    import results_io

    rng = np.random.default_rng(0)
    rows = []
    cases = [("gridworld (N=50, T=20, d=75, q=5)", 50, 20, 75, 5, 0.96, 3),
             ("MuJoCo Hopper (N=40, T=50, d=4928, q=3)", 40, 50, 4928, 3, 0.99, 2),
             ("MuJoCo Reacher (N=40, T=50, d=4928, q=26)", 40, 50, 4928, 26, 0.99, 1)]
    if "--quick" in sys.argv:  # skip the 4 GB naive Reacher case
        cases = cases[:2]
    print(f"{'case':45s} {'ours s':>9s} {'naive s':>9s} {'speed-up':>9s} "
          f"{'ours MB':>9s} {'naive MB':>9s} {'mem ratio':>9s} {'max |diff|':>11s}")
    for name, N, T, d, q, gamma, repeats in cases:
        scores = rng.normal(size=(N, T, d)) * 0.1
        features = rng.random((N, T, q))
        t_ours, m_ours, ours = measure(gpomdp_jacobian, scores, features, gamma, 1e-3,
                                       repeats=repeats)
        t_naive, m_naive, naive = measure(naive_gpomdp_jacobian, scores, features, gamma, 1e-3,
                                          repeats=repeats)
        diff = float(np.abs(ours - naive).max())
        assert np.allclose(ours, naive, rtol=1e-9, atol=1e-9 * np.abs(naive).max()), diff
        print(f"{name:45s} {t_ours:9.4f} {t_naive:9.4f} {t_naive / t_ours:8.1f}x "
              f"{m_ours / 2**20:9.1f} {m_naive / 2**20:9.1f} {m_naive / m_ours:8.1f}x "
              f"{diff:11.2e}")
        rows.append(results_io.row(name, t_ours, t_naive, memory_ratio=m_naive / m_ours,
                                   ours_peak_bytes=m_ours, baseline_peak_bytes=m_naive,
                                   max_abs_difference=diff))
    print(f"wrote {results_io.write('gpomdp', rows, baseline='naive (N, T, d, q) outer products')}")


if __name__ == "__main__":
    main()
