"""Tables and figures of the MuJoCo chapter, from verified artifacts.

Every function takes what :func:`logel.experiments.mujoco.load_results` (or
:func:`logel.experiments.mujoco_diagnostics.load_results`) returns: ``{seed: {file stem: ...}}``
for seeds whose manifests verified.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from logel.envs.mujoco_features import RBF_VARIANCE, rbf_centres
from logel.evaluation import mean_ci
from logel.plotting import ci_band

CURVES = {"learner": "learner (PPO, true reward)",
          "observer_logel": "observer on LOGEL's reward",
          "observer_lfl": "observer on LfL's reward"}
"""Artifact stem -> legend label of the three true-return curves."""


def curve_matrix(results: Mapping[int, Mapping[str, Any]], name: str) -> np.ndarray:
    """``(n_seeds, n_updates)`` true-return curve ``name`` (a key of :data:`CURVES`)."""
    rows = [np.asarray(results[s][name]["curve"], dtype=float) for s in sorted(results)]
    if not rows:
        raise ValueError("no seeds")
    return np.stack(rows)


def final_returns(results: Mapping[int, Mapping[str, Any]]) -> dict[str, tuple[float, float]]:
    """Mean and 95% CI half-width over seeds of each curve's last value (the final return)."""
    return {name: mean_ci(curve_matrix(results, name)[:, -1]) for name in CURVES
            if all(name in r for r in results.values())}


def final_values(results: Mapping[int, Mapping[str, Any]], name: str) -> np.ndarray:
    """``(n_seeds,)`` last value of curve ``name``."""
    return curve_matrix(results, name)[:, -1]


def plot_curves(ax: Any, results: Mapping[int, Mapping[str, Any]], title: str) -> None:
    """Mean ± 95% CI of the three true-return curves against environment steps (millions)."""
    for name, label in CURVES.items():
        if not all(name in r for r in results.values()):
            continue
        first = results[min(results)][name]
        x = np.asarray(first["env_steps"], dtype=float) / 1e6
        ci_band(ax, x, curve_matrix(results, name), label=label, markersize=3)
    ax.set_xlabel("environment steps (millions)")
    ax.set_ylabel("true episode return")
    ax.set_title(title)


def weights_matrix(results: Mapping[int, Mapping[str, Any]]) -> np.ndarray:
    """``(n_seeds, q)`` LOGEL's recovered :math:`\\hat\\omega` per seed."""
    return np.stack([np.asarray(results[s]["logel"]["weights"]) for s in sorted(results)])


def cosines(weights: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Cosine of each row of ``weights`` ``(n, q)`` with ``reference`` ``(q,)``."""
    w = np.asarray(weights, dtype=float)
    ref = np.asarray(reference, dtype=float)
    return w @ ref / (np.linalg.norm(w, axis=1) * np.linalg.norm(ref))


def rbf_reward_map(weights: np.ndarray, half_width: float = 0.25, n: int = 101
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The RBF part of a Reacher reward, :math:`\\sum_k\\omega_k\\phi_k(d)`, on a grid of
    ``fingertip - target`` vectors ``d``.

    Returns:
        ``(grid, values)``: ``grid`` ``(n,)`` coordinates and ``values`` ``(n, n)`` with
        ``values[i, j]`` at ``d = (grid[j], grid[i])``.
    """
    w = np.asarray(weights, dtype=float)[:25]
    grid = np.linspace(-half_width, half_width, n)
    xs, ys = np.meshgrid(grid, grid)
    d = np.stack([xs.ravel(), ys.ravel()], axis=1)
    sq = np.sum((d[:, None, :] - rbf_centres()[None]) ** 2, axis=-1)
    return grid, (np.exp(-sq / (2 * RBF_VARIANCE)) @ w).reshape(n, n)


def diagnostics_table(diag: Mapping[int, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per observer: mean explained motion, mean reward correlation and mean cosine with the
    reference weights over the seeds; plus the reference reward's own figures.

    Works on both analyses of :mod:`logel.experiments.mujoco_diagnostics` (``diagnostics`` and
    ``data_choices``).

    Returns:
        ``{row: {"explained": (mean, ci), "correlation": (mean, ci), "cosine": (mean, ci),
        "cosine_min": float, "trajectories": float}}`` (trajectories per step, where
        recorded); the reference row (only where the analysis measured it) has its
        explained motion at the true :math:`\\theta_t`.
    """
    seeds = sorted(diag)
    names = list(diag[seeds[0]]["observers"])
    rows: dict[str, dict[str, Any]] = {}
    for name in names:
        obs = [diag[s]["observers"][name] for s in seeds]
        cos = [o["cosine_to_reference"] if "cosine_to_reference" in o
               else diag[s]["reference"]["cosine_to_recovered"][name]
               for s, o in zip(seeds, obs, strict=True)]
        rows[name] = {
            "explained": mean_ci([o["explained_motion"] for o in obs]),
            "correlation": mean_ci([o["reward_correlation"] for o in obs]),
            "cosine": mean_ci(cos),
            "cosine_min": float(np.min(cos)),
        }
        if all("n_trajectories" in o for o in obs):
            rows[name]["trajectories"] = float(np.mean([np.mean(o["n_trajectories"])
                                                        for o in obs]))
    ref = [diag[s]["reference"] for s in seeds]
    if all("explained_motion_true_theta" in r for r in ref):
        rows["reference reward"] = {
            "explained": mean_ci([r["explained_motion_true_theta"] for r in ref]),
            "correlation": mean_ci([r["reward_correlation"] for r in ref]),
            "cosine": (1.0, 0.0),
            "cosine_min": 1.0,
        }
    return rows


def step_cosines(diag: Mapping[int, Mapping[str, Any]], key: str) -> np.ndarray:
    """``(n_seeds, m)`` per-step cosines ``reference[key]`` (``"step_cosine_true_theta"`` or
    ``"split_half_cosine"``)."""
    return np.stack([np.asarray(diag[s]["reference"][key], dtype=float) for s in sorted(diag)])
