"""Tables, figures and verdicts of the MuJoCo chapter, from verified artifacts.

Every function takes what ``logel.experiments.mujoco.load_results`` (or
``logel.experiments.mujoco_diagnostics.load_results``) returns: ``{seed: {file stem: ...}}``
for seeds whose manifests verified.

The observers' claims (:func:`observer_claims`) compare final true returns *paired by seed*:
the learner of seed :math:`k`, the observer trained on LOGEL's reward from that learner and the
observer trained on LfL's reward from it. Returns are put on one scale per seed by
:func:`normalised_returns` (0: the learner's first update, 1: its last), so that "reaches the
learner" has a threshold that means the same on Reacher and on Hopper. Thresholds are module
constants (:data:`REACH_FRACTION`, :data:`FAIL_FRACTION`, :data:`FORWARD_FRACTION`), stated
in the chapter before the results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from logel.envs.mujoco_features import RBF_VARIANCE, env_family, rbf_centres
from logel.plotting import ci_band, count_interval, markdown_table, plus_minus
from logel.statistics import (
    Claim,
    Interval,
    mean_ci,
    probability_of_improvement,
    stratified_iqm_ci,
)

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

    Works on both analyses of ``logel.experiments.mujoco_diagnostics`` (``diagnostics`` and
    ``data_choices``).

    Returns:
        ``{row: stats}``, where ``stats`` holds ``"explained"``, ``"correlation"`` and
        ``"cosine"`` as ``(mean, ci)`` pairs and ``"cosine_min"`` and ``"trajectories"``
        (trajectories per step, where recorded) as floats; the reference row (only where the
        analysis measured it) has its explained motion at the true :math:`\\theta_t`.
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


# ---------------------------------------------------------- final returns, episodes and verdicts

REACH_FRACTION = 0.9
"""An observer *reaches the learner* if its normalised final return (:func:`normalised_returns`)
is above 0.9: it ends with at least 90% of the learner's own gain, from the learner's first
update to its last."""

FAIL_FRACTION = 0.1
"""An observer *fails* if its normalised final return is below 0.1: less than 10% of the
learner's gain."""

FORWARD_FRACTION = 0.5
"""A Hopper observer *hops forward* if its final forward distance per episode is above half the
learner's (the mean over seeds of the per-seed ratio). A Hopper that stands upright for the
1000 steps of an episode collects the alive bonus, and a return near 1000, without moving."""

N_RESAMPLES = 10_000
"""Bootstrap resamples of every interval of this module (each with its own generator, seed 0)."""

DISTANCE = {"Hopper": ("forward_distance", "forward distance"),
            "Reacher": ("final_distance", "final fingertip distance")}
"""Per environment family: the episode statistic (``episode_<key>`` in the artifacts) that says
where an agent went, and its name. Hopper: how far the torso moved forward during an episode
(metres); Reacher: the distance from fingertip to target at the episode's last step (metres)."""


def has_episode_stat(results: Mapping[int, Mapping[str, Any]], name: str, stat: str) -> bool:
    """Whether every seed's agent ``name`` recorded the episode statistic ``stat`` (the ``sb3``
    runs of result version 1 recorded none)."""
    return bool(results) and all(f"episode_{stat}" in r.get(name, {}) for r in results.values())


def episode_matrix(results: Mapping[int, Mapping[str, Any]], name: str, stat: str
                   ) -> np.ndarray:
    """``(n_seeds, n_updates)`` episode statistic ``stat`` of agent ``name`` (a key of
    :data:`CURVES`) after each update: the mean over the last 10 finished episodes, as the
    return curve. ``stat`` is ``"length"``, a key of :data:`DISTANCE` or a reward term
    (``"reward_forward"``, ...)."""
    if not results:
        raise ValueError("no seeds")
    return np.stack([np.asarray(results[s][name][f"episode_{stat}"], dtype=float)
                     for s in sorted(results)])


def episode_values(results: Mapping[int, Mapping[str, Any]], name: str, stat: str
                   ) -> np.ndarray:
    """``(n_seeds,)`` final value (after the last update) of :func:`episode_matrix`; NaN for
    every seed if some seed did not record ``stat``."""
    if not has_episode_stat(results, name, stat):
        return np.full(len(results), np.nan)
    return episode_matrix(results, name, stat)[:, -1]


def normalised_returns(results: Mapping[int, Mapping[str, Any]], name: str) -> np.ndarray:
    """``(n_seeds,)`` final true return of agent ``name`` on its seed's learner scale.

    With :math:`R^{L}_{1}` and :math:`R^{L}_{N}` the learner's return after its first and its
    last update on the same seed, an agent's final return :math:`R` becomes

    .. math:: \\tilde R=\\frac{R-R^{L}_{1}}{R^{L}_{N}-R^{L}_{1}},

    0 at the learner's (nearly random) start, 1 at its end; the learner's own is 1.

    Raises:
        ValueError: if some seed's learner did not improve (:math:`R^{L}_{N}\\le R^{L}_{1}`).
    """
    learner = curve_matrix(results, "learner")
    first, last = learner[:, 0], learner[:, -1]
    if np.any(last <= first):
        raise ValueError("a learner did not improve; its seed has no scale")
    return (final_values(results, name) - first) / (last - first)


def _t_interval(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and its t-interval; the whole line with fewer than two values (no interval)."""
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return float(np.mean(values)), -np.inf, np.inf
    mean, half = mean_ci(values)
    return mean, mean - half, mean + half


def _iqm(values: np.ndarray, task: str, n_resamples: int, seed: int) -> Interval:
    """IQM with its bootstrap interval (one stratum); the whole line with fewer than 2 values."""
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return Interval(float(np.mean(values)), -np.inf, np.inf)
    return stratified_iqm_ci({task: values}, n_resamples=n_resamples, seed=seed)


def return_statistics(results: Mapping[int, Mapping[str, Any]], n_resamples: int = N_RESAMPLES,
                      seed: int = 0) -> dict[str, dict[str, Any]]:
    """Final true returns over seeds, per agent (key of :data:`CURVES`).

    Returns:
        ``{name: {"values": (n,), "mean": (mean, half-width), "iqm": Interval}}``: the per-seed
        final returns (seeds in sorted order), their mean with the 95% t-interval
        (:func:`logel.statistics.mean_ci`) and their interquartile mean with the 95%
        percentile-bootstrap interval (:func:`logel.statistics.stratified_iqm_ci`, the seeds of
        one environment as the one stratum; interval :math:`(-\\infty,\\infty)` for one seed).
    """
    out = {}
    for name in CURVES:
        if not all(name in r for r in results.values()):
            continue
        values = final_values(results, name)
        out[name] = {"values": values, "mean": mean_ci(values),
                     "iqm": _iqm(values, name, n_resamples, seed)}
    return out


def normalised_iqm(results_by_env: Mapping[str, Mapping[int, Mapping[str, Any]]], name: str,
                   n_resamples: int = N_RESAMPLES, seed: int = 0) -> Interval:
    """IQM over environments and seeds of :func:`normalised_returns` of agent ``name``, with
    the stratified bootstrap interval of Agarwal et al. (2021)
    (:func:`logel.statistics.stratified_iqm_ci`: each environment's seeds resampled on their
    own)."""
    return stratified_iqm_ci({env: normalised_returns(res, name)
                              for env, res in results_by_env.items()},
                             n_resamples=n_resamples, seed=seed)


def _fmt(value: float, digits: int) -> str:
    return "—" if not np.isfinite(value) else f"{value:.{digits}f}"


def _interval_text(stat: Interval, digits: int) -> str:
    return f"{_fmt(stat[0], digits)} [{_fmt(stat[1], digits)}, {_fmt(stat[2], digits)}]"


def mean_text(values: np.ndarray, digits: int) -> str:
    """Mean ± 95% t-interval of ``values`` for a table cell; the mean alone for one value;
    "—" if a value is missing (not finite)."""
    values = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(values)):
        return "—"
    if values.size < 2:
        return f"{float(np.mean(values)):.{digits}f}"
    return plus_minus(mean_ci(values), digits)


def per_seed_table(results: Mapping[int, Mapping[str, Any]], env_id: str,
                   digits: int = 1) -> str:
    """Markdown table, one row per seed: the final true return of the learner, the LOGEL
    observer and the LfL observer, then each one's final episode length and distance
    (:data:`DISTANCE`: forward distance for Hopper, final fingertip distance for Reacher), all
    after each agent's last update (means over its last 10 episodes). "—" where the artifacts
    did not record a statistic."""
    key, label = DISTANCE[env_family(env_id)]
    names = [n for n in CURVES if all(n in r for r in results.values())]
    short = {"learner": "learner", "observer_logel": "LOGEL obs.", "observer_lfl": "LfL obs."}
    header = (["seed"] + [f"return: {short[n]}" for n in names]
              + [f"length: {short[n]}" for n in names]
              + [f"{label} (m): {short[n]}" for n in names])
    ret = {n: final_values(results, n) for n in names}
    length = {n: episode_values(results, n, "length") for n in names}
    dist = {n: episode_values(results, n, key) for n in names}
    rows = []
    for i, seed in enumerate(sorted(results)):
        rows.append([seed] + [_fmt(ret[n][i], digits) for n in names]
                    + [_fmt(length[n][i], 0) for n in names]
                    + [_fmt(dist[n][i], 3) for n in names])
    return markdown_table(header, rows)


def statistics_table(results: Mapping[int, Mapping[str, Any]], env_id: str, digits: int = 1,
                     n_resamples: int = N_RESAMPLES, seed: int = 0) -> str:
    """Markdown table, one row per agent: final true return as mean ± 95% t-interval and as
    IQM [95% bootstrap interval] (:func:`return_statistics`), normalised final return
    (:func:`normalised_returns`), final episode length and distance (:data:`DISTANCE`), each
    as mean ± 95% t-interval; a last row gives the learner after its *first* update (a nearly
    random policy: normalised return 0), the start every agent is measured from."""
    key, label = DISTANCE[env_family(env_id)]
    stats = return_statistics(results, n_resamples, seed)
    header = ["agent", "final return, mean ± 95% CI", "final return, IQM [95% CI]",
              "normalised return, mean ± 95% CI", "episode length, mean ± 95% CI",
              f"{label} (m), mean ± 95% CI"]
    rows = []
    for name, st in stats.items():
        rows.append([CURVES[name], plus_minus(st["mean"], digits),
                     _interval_text(st["iqm"], digits),
                     mean_text(normalised_returns(results, name), 2),
                     mean_text(episode_values(results, name, "length"), 0),
                     mean_text(episode_values(results, name, key), 3)])
    first = curve_matrix(results, "learner")[:, 0]

    def start(stat: str) -> np.ndarray:
        if not has_episode_stat(results, "learner", stat):
            return np.full(len(results), np.nan)
        return episode_matrix(results, "learner", stat)[:, 0]

    rows.append(["learner after its first update", plus_minus(mean_ci(first), digits),
                 _interval_text(_iqm(first, "learner", n_resamples, seed), digits),
                 mean_text(np.zeros(len(first)), 2), mean_text(start("length"), 0),
                 mean_text(start(key), 3)])
    return markdown_table(header, rows)


def _poi(x: np.ndarray, y: np.ndarray, n_resamples: int, seed: int
         ) -> tuple[float, float, float]:
    """:math:`P(X>Y)` paired by seed with its interval; ``(0.5, 0, 1)`` with one seed."""
    if len(x) < 2:
        return 0.5, 0.0, 1.0
    c = probability_of_improvement(x, y, paired=True, n_resamples=n_resamples, seed=seed)
    return c.probability, c.low, c.high


POI_KIND = "paired bootstrap"
"""The interval kind of the :math:`P(X>Y)` claims."""


def _beats(text: str, x: np.ndarray, y: np.ndarray, n_resamples: int, seed: int
           ) -> tuple[Claim, Claim]:
    """"X beats Y", paired by seed, twice: :math:`P(X>Y)>1/2` (bootstrap interval) and mean
    :math:`X-Y>0` (t-interval)."""
    return (Claim.of(f"{text}: P(X > Y) > 0.5", *_poi(x, y, n_resamples, seed), 0.5, ">",
                     POI_KIND),
            Claim.of(f"{text}: mean X − Y > 0", *_t_interval(x - y), 0.0, ">", "paired t"))


def beats_claims(text: str, x: np.ndarray, y: np.ndarray, n_resamples: int = N_RESAMPLES,
                 seed: int = 0) -> tuple[Claim, Claim]:
    """"X beats Y", paired by seed, as :func:`observer_claims`' ``beats_lfl`` and
    ``beats_lfl_diff``: :math:`P(X>Y)>1/2` (bootstrap interval) and mean :math:`X-Y>0`
    (t-interval); ``text`` names X and Y."""
    return _beats(text, np.asarray(x, dtype=float), np.asarray(y, dtype=float), n_resamples,
                  seed)


def reaches_claim(text: str, merged: Mapping[int, Mapping[str, Any]], name: str) -> Claim:
    """"Agent ``name`` reaches the learner", as :func:`observer_claims`' ``reaches``: its mean
    normalised final return (:func:`normalised_returns`) above :data:`REACH_FRACTION`
    (t-interval; unbounded with one seed)."""
    return Claim.of(text, *_t_interval(normalised_returns(merged, name)), REACH_FRACTION, ">",
                    "t")


def observer_claims(results: Mapping[int, Mapping[str, Any]], env_id: str,
                    n_resamples: int = N_RESAMPLES, seed: int = 0) -> dict[str, Claim]:
    """The observers' claims on one environment, each with its verdict computed from its
    interval (:meth:`logel.statistics.Claim.of`), all paired by seed.

    An "X beats Y" comparison gives two claims, ``<key>`` on the probability of improvement,
    :math:`P(X>Y)>1/2` (:func:`logel.statistics.probability_of_improvement`, bootstrap
    interval), and ``<key>_diff`` on the mean paired difference, :math:`\\overline{X-Y}>0`
    (t-interval); :func:`joint_verdict` joins them. Both are needed with few seeds: when every
    seed of X beats every seed of Y, each bootstrap resample does too, and the interval of
    :math:`P` collapses to the point 1 however few the seeds are.

    Keys, on every environment:

    * ``beats_lfl``, ``beats_lfl_diff``: the LOGEL observer beats the LfL observer (final true
      return);
    * ``reaches``: the LOGEL observer reaches the learner, its mean normalised final return
      (:func:`normalised_returns`) above :data:`REACH_FRACTION` (t-interval);
    * ``exceeds``, ``exceeds_diff``: the LOGEL observer beats the learner (final true return);

    on Reacher, where the artifacts record the episodes,

    * ``learner_closer``: the learner's fingertip ends closer to the target than after its first
      update, the mean of its final minus its first final fingertip distance below 0
      (t-interval): whether the learner the observers are measured against learned to reach;

    and on Hopper, where the artifacts record the episodes,

    * ``forward``: the LOGEL observer hops forward, the mean over seeds of the ratio of its final
      forward distance to the learner's above :data:`FORWARD_FRACTION` (t-interval,
      :func:`forward_ratios`);
    * ``longer``, ``longer_diff``: its episodes last longer than the learner's (final episode
      length);
    * ``lfl_fails``: LfL fails (the paper's claim 2), the LfL observer's mean normalised final
      return below :data:`FAIL_FRACTION` (t-interval);
    * ``lfl_below_start``: the LfL observer ends below its own first update, the mean of its
      final minus its first return below 0 (t-interval).

    With one seed every interval is unbounded and every verdict inconclusive.

    Returns:
        ``{key: Claim}`` in display order.
    """
    family = env_family(env_id)
    ret = {name: final_values(results, name) for name in CURVES}
    claims: dict[str, Claim] = {}
    claims["beats_lfl"], claims["beats_lfl_diff"] = _beats(
        f"{env_id}: the LOGEL observer (X) beats the LfL observer (Y), final return",
        ret["observer_logel"], ret["observer_lfl"], n_resamples, seed)
    claims["reaches"] = Claim.of(
        f"{env_id}: the LOGEL observer reaches the learner: normalised final return "
        f"> {REACH_FRACTION}", *_t_interval(normalised_returns(results, "observer_logel")),
        REACH_FRACTION, ">", "t")
    claims["exceeds"], claims["exceeds_diff"] = _beats(
        f"{env_id}: the LOGEL observer (X) beats the learner (Y), final return",
        ret["observer_logel"], ret["learner"], n_resamples, seed)
    if family == "Reacher":
        if has_episode_stat(results, "learner", "final_distance"):
            dist = episode_matrix(results, "learner", "final_distance")
            claims["learner_closer"] = Claim.of(
                f"{env_id}: the learner ends closer to the target than after its first update: "
                "final − first fingertip distance < 0", *_t_interval(dist[:, -1] - dist[:, 0]),
                0.0, "<", "t")
        return claims
    length = {n: episode_values(results, n, "length") for n in ("learner", "observer_logel")}
    if has_episode_stat(results, "observer_logel", "forward_distance") and has_episode_stat(
            results, "learner", "forward_distance"):
        claims["forward"] = Claim.of(
            f"{env_id}: the LOGEL observer hops forward: forward distance / the learner's "
            f"> {FORWARD_FRACTION}", *_t_interval(forward_ratios(results)), FORWARD_FRACTION,
            ">", "t")
    if np.all(np.isfinite(length["observer_logel"])) and np.all(np.isfinite(length["learner"])):
        claims["longer"], claims["longer_diff"] = _beats(
            f"{env_id}: the LOGEL observer's episodes (X) last longer than the learner's (Y)",
            length["observer_logel"], length["learner"], n_resamples, seed)
    claims["lfl_fails"] = Claim.of(
        f"{env_id}: LfL fails: the LfL observer's normalised final return < {FAIL_FRACTION}",
        *_t_interval(normalised_returns(results, "observer_lfl")), FAIL_FRACTION, "<", "t")
    lfl = curve_matrix(results, "observer_lfl")
    claims["lfl_below_start"] = Claim.of(
        f"{env_id}: the LfL observer ends below its own first update: final − first return "
        "< 0", *_t_interval(lfl[:, -1] - lfl[:, 0]), 0.0, "<", "t")
    return claims


def forward_ratios(results: Mapping[int, Mapping[str, Any]]) -> np.ndarray:
    """``(n_seeds,)`` Hopper: the LOGEL observer's final forward distance per episode divided by
    its seed's learner's (:func:`episode_values`)."""
    return (episode_values(results, "observer_logel", "forward_distance")
            / episode_values(results, "learner", "forward_distance"))


def joint_verdict(claims: Mapping[str, Claim], key: str) -> str:
    """The verdict of claim ``key`` with its paired-difference twin ``<key>_diff`` (if any):
    ``"holds"`` if both hold, ``"fails"`` if both fail, ``"inconclusive"`` otherwise."""
    verdicts = {claims[key].verdict} | ({claims[f"{key}_diff"].verdict}
                                         if f"{key}_diff" in claims else set())
    return verdicts.pop() if len(verdicts) == 1 else "inconclusive"


def plot_episode_stat(ax: Any, results: Mapping[int, Mapping[str, Any]], stat: str,
                      ylabel: str, title: str) -> None:
    """Mean ± 95% CI over seeds of episode statistic ``stat`` (:func:`episode_matrix`) of the
    learner and both observers against environment steps (millions); agents that did not
    record it are left out."""
    for name, label in CURVES.items():
        if not has_episode_stat(results, name, stat):
            continue
        x = np.asarray(results[min(results)][name]["env_steps"], dtype=float) / 1e6
        ci_band(ax, x, episode_matrix(results, name, stat), label=label, markersize=3)
    ax.set_xlabel("environment steps (millions)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)


# ---------------------------------------------------------------------------------------------
# E2 (head gain x control cost) and E3 (the PPO ladder): the premise at the true parameters
# ---------------------------------------------------------------------------------------------

def premise_values(results: Mapping[int, Mapping[str, Any]], variant: str, key: str
                   ) -> np.ndarray:
    """Per seed (sorted), one statistic of one learner variant of
    ``logel.experiments.mujoco_learners.load_results``: ``"explained_motion_ref"``,
    ``"explained_motion_fit"``, ``"cosine_standardised"``, ``"control_weight"``, or
    ``"step_cosine"`` (the mean over steps of ``"step_cosine_ref"``)."""
    def one(r: Mapping[str, Any]) -> float:
        v = r["variants"][variant]
        return float(np.mean(v["step_cosine_ref"])) if key == "step_cosine" else float(v[key])
    return np.array([one(results[s]) for s in sorted(results)])


def premise_table(results: Mapping[int, Mapping[str, Any]], variants: Sequence[str],
                  digits: int = 3) -> str:
    """Markdown table, one row per learner variant (``variants``, in order: the keys of
    ``logel.experiments.mujoco_learners.FACTORIAL`` or ``RUNGS``): the reference reward's
    explained motion and mean per-step cosine at the true :math:`\\theta`, the motion LOGEL's
    own :math:`\\hat\\omega` explains, the standardised cosine of :math:`\\hat\\omega` with
    :math:`\\omega_{ref}`, and the recovered control weight (negative seeds / seeds with the 95%
    Wilson interval, median
    :math:`\\lvert\\hat w_{ctrl}\\rvert/\\lVert\\hat\\omega\\rVert`); seed means with 95% t-intervals."""
    rows = []
    for variant in variants:
        w = np.array([np.asarray(results[s]["variants"][variant]["weights"], dtype=float)
                      for s in sorted(results)])
        ctrl = w[:, -1]
        rows.append([variant]
                    + [mean_text(premise_values(results, variant, k), digits)
                       for k in ("explained_motion_ref", "step_cosine", "explained_motion_fit",
                                 "cosine_standardised")]
                    + [count_interval(int(np.sum(ctrl < 0)), len(ctrl)),
                       f"{np.median(np.abs(ctrl) / np.linalg.norm(w, axis=1)):.3f}"])
    return markdown_table(
        ["learner", "motion explained by ω_ref", "mean cos(Δ_t, ∇ψ_t ω_ref)",
         "motion explained by ω̂", "cos(ω̂, ω_ref), standardised", "ŵ_ctrl < 0",
         "median abs(ŵ_ctrl) / ‖ω̂‖"], rows)


def premise_claims(results: Mapping[int, Mapping[str, Any]], env_id: str, base: str,
                   other: str, threshold: float = 0.05) -> dict[str, Claim]:
    """The claims of E2/E3 on one environment, paired by seed, each with a t-interval:

    * ``"explains"``: under the ``other`` learner the reference reward's gradient explains more
      than ``threshold`` of the motion at the true :math:`\\theta` (the premise roughly holds);
    * ``"more"``: it explains more under ``other`` than under ``base`` (mean difference > 0);
    * ``"cosine"``: LOGEL's :math:`\\hat\\omega` at the true :math:`\\theta` is closer to
      :math:`\\omega_{ref}` under ``other`` than under ``base`` (standardised cosines).
    """
    x = premise_values(results, other, "explained_motion_ref")
    y = premise_values(results, base, "explained_motion_ref")
    cx = premise_values(results, other, "cosine_standardised")
    cy = premise_values(results, base, "cosine_standardised")
    fam = env_family(env_id)
    return {
        "explains": Claim.of(f"{fam}, {other}: ω_ref explains > {threshold:.0%} of the motion",
                             *_t_interval(x), threshold, ">", "t"),
        "more": Claim.of(f"{fam}: ω_ref explains more of {other} than of {base}",
                         *_t_interval(x - y), 0.0, ">", "paired t"),
        "cosine": Claim.of(f"{fam}: ω̂ is closer to ω_ref under {other} than under {base}",
                           *_t_interval(cx - cy), 0.0, ">", "paired t"),
    }


# ---------------------------------------------------------------------------------------------
# E7: the published LfL (aliasing bug kept) beside the fixed one
# ---------------------------------------------------------------------------------------------

PUBLISHED_LFL = "observer_lfl_published"
"""Key of the published LfL's observer in :func:`merge_published_lfl`'s results."""


def merge_published_lfl(results: Mapping[int, Mapping[str, Any]],
                        published: Mapping[int, Mapping[str, Any]]
                        ) -> dict[int, dict[str, Any]]:
    """The seeds present in both the main runs (``results``) and E7 (``published``, what
    ``logel.experiments.mujoco_published_lfl.load_results`` returns): each seed's main
    results plus E7's observer under :data:`PUBLISHED_LFL`, paired by seed (same learner,
    same observer seed)."""
    return {s: {**results[s], PUBLISHED_LFL: published[s]["observer_lfl"]}
            for s in sorted(set(results) & set(published))}


def published_lfl_table(merged: Mapping[int, Mapping[str, Any]], digits: int = 1) -> str:
    """Markdown table, one row per seed and a last row of means with 95% t-intervals: the
    final true return and episode length of the LOGEL observer, the fixed LfL's observer and
    the published LfL's observer."""
    names = ("observer_logel", "observer_lfl", PUBLISHED_LFL)
    ret = {n: final_values(merged, n) for n in names}
    length = {n: episode_values(merged, n, "length") for n in names}
    rows = [[str(s)] + [_fmt(ret[n][i], digits) for n in names]
            + [_fmt(length[n][i], 0) for n in names] for i, s in enumerate(sorted(merged))]
    rows.append(["mean"] + [mean_text(ret[n], digits) for n in names]
                + [mean_text(length[n], 0) for n in names])
    short = ("LOGEL obs.", "fixed LfL obs.", "published LfL obs.")
    return markdown_table(["seed"] + [f"return: {s}" for s in short]
                          + [f"length: {s}" for s in short], rows)


def published_lfl_claims(merged: Mapping[int, Mapping[str, Any]], env_id: str,
                         n_resamples: int = N_RESAMPLES, seed: int = 0) -> dict[str, Claim]:
    """E7's claims on one environment, paired by seed (as :func:`observer_claims`):
    ``beats_published`` (+ ``_diff``), the LOGEL observer beats the published LfL's observer
    (the comparison the paper made), and ``published_beats_fixed`` (+ ``_diff``), the published
    LfL's observer beats the fixed one's (what the bug changes)."""
    logel_ = final_values(merged, "observer_logel")
    fixed = final_values(merged, "observer_lfl")
    published = final_values(merged, PUBLISHED_LFL)
    claims: dict[str, Claim] = {}
    claims["beats_published"], claims["beats_published_diff"] = _beats(
        f"{env_id}: the LOGEL observer (X) beats the published LfL's observer (Y), final return",
        logel_, published, n_resamples, seed)
    claims["published_beats_fixed"], claims["published_beats_fixed_diff"] = _beats(
        f"{env_id}: the published LfL's observer (X) beats the fixed LfL's (Y), final return",
        published, fixed, n_resamples, seed)
    return claims


# ---------------------------------------------------------------------------------------------
# E5: the log standard deviation in theta
# ---------------------------------------------------------------------------------------------

LOG_STD_TRUNK, LOG_STD_TRUE, LOG_STD_CLONED = (
    "true theta (trunk)", "true theta with the log-std", "cloned theta with the log-std")
"""The observers of ``logel.experiments.mujoco_diagnostics.log_std_in_theta``."""


def log_std_values(results: Mapping[int, Mapping[str, Any]], observer: str, key: str
                   ) -> np.ndarray:
    """Per seed (sorted), statistic ``key`` of one E5 observer (``"explained_motion"``,
    ``"explained_motion_reference"``, ``"reward_correlation"``, ``"cosine_to_reference"``,
    ``"control_weight"``)."""
    return np.array([float(results[s]["observers"][observer][key]) for s in sorted(results)])


def log_std_claims(results: Mapping[int, Mapping[str, Any]], env_id: str) -> dict[str, Claim]:
    """E5's claims on one environment, at the learner's true :math:`\\theta`, paired by seed
    with t-intervals: with the log-std in :math:`\\theta` (against the trunk alone)
    ``"reference"``, the reference reward explains more of the motion; ``"correlation"``,
    LOGEL's reward correlates better with the true reward; and ``"explains"``, the reference
    reward still explains less than a tenth of the motion (the premise stays far from true)."""
    fam = env_family(env_id)
    ref_with = log_std_values(results, LOG_STD_TRUE, "explained_motion_reference")
    ref_without = log_std_values(results, LOG_STD_TRUNK, "explained_motion_reference")
    corr_with = log_std_values(results, LOG_STD_TRUE, "reward_correlation")
    corr_without = log_std_values(results, LOG_STD_TRUNK, "reward_correlation")
    return {
        "reference": Claim.of(f"{fam}: with the log-std in θ, ω_ref explains more of the motion",
                              *_t_interval(ref_with - ref_without), 0.0, ">", "paired t"),
        "correlation": Claim.of(f"{fam}: with the log-std in θ, LOGEL's reward (true θ) "
                                "correlates better with the true reward",
                                *_t_interval(corr_with - corr_without), 0.0, ">", "paired t"),
        "explains": Claim.of(f"{fam}: with the log-std in θ, ω_ref still explains < 10% of the "
                             "motion", *_t_interval(ref_with), 0.1, "<", "t"),
    }


# ---------------------------------------------------------------------------------------------
# E4: metric calibration, observers trained on rewards that carry no (or part of the) task
# ---------------------------------------------------------------------------------------------

CALIBRATION_PREFIX = "calibration: "
"""Prefix of the calibration observers' keys in :func:`merge_calibration`'s results."""


def merge_calibration(results: Mapping[int, Mapping[str, Any]],
                      calibration: Mapping[int, Mapping[str, Any]],
                      prefix: str = CALIBRATION_PREFIX) -> dict[int, dict[str, Any]]:
    """The seeds present in both the main runs (``results``) and E4 (``calibration``, what
    ``logel.experiments.mujoco_calibration.load_results`` returns): each seed's main results
    plus one agent per calibration reward, ``"calibration: <name>"``, in the main runs' layout
    (``curve`` and ``episode_<stat>``), paired by seed (same observer seed, same budget).

    Any other observers stored as ``{seed: {name: {"curve": ..., "episode_stats": ...}}}``
    merge the same way under their own ``prefix`` (e.g.
    ``logel.experiments.mujoco_preconditioned_observers``)."""
    merged: dict[int, dict[str, Any]] = {}
    for s in sorted(set(results) & set(calibration)):
        merged[s] = dict(results[s])
        for name, obs in calibration[s].items():
            merged[s][prefix + name] = {
                "curve": obs["curve"],
                **{f"episode_{k}": v for k, v in obs["episode_stats"].items()}}
    return merged


def calibration_agents(merged: Mapping[int, Mapping[str, Any]],
                       prefix: str = CALIBRATION_PREFIX) -> tuple[str, ...]:
    """The calibration agents (or the agents merged under ``prefix``) of
    :func:`merge_calibration`'s results, in the artifacts' order."""
    first = merged[min(merged)]
    return tuple(k for k in first if k.startswith(prefix))


def calibration_table(merged: Mapping[int, Mapping[str, Any]], env_id: str,
                      digits: int = 1) -> str:
    """Markdown table, one row per agent (the learner, the LOGEL and fixed-LfL observers, each
    calibration observer): final true return, normalised return (:func:`normalised_returns`),
    episode length and :data:`DISTANCE`'s statistic, means over seeds with 95% t-intervals."""
    key, label = DISTANCE[env_family(env_id)]
    rows = []
    for name in ("learner", "observer_logel", "observer_lfl") + calibration_agents(merged):
        rows.append([CURVES.get(name, name.removeprefix(CALIBRATION_PREFIX) + " reward")]
                    + [mean_text(final_values(merged, name), digits),
                       mean_text(normalised_returns(merged, name), 2),
                       mean_text(episode_values(merged, name, "length"), 0),
                       mean_text(episode_values(merged, name, key), 2)])
    return markdown_table(["agent", "final true return", "normalised return",
                           "episode length", f"{label} (m)"], rows)


def calibration_claims(merged: Mapping[int, Mapping[str, Any]], env_id: str,
                       n_resamples: int = N_RESAMPLES, seed: int = 0) -> dict[str, Claim]:
    """E4's claims on one environment, paired by seed:

    * ``beats_<name>`` (+ ``_diff``), for each calibration reward: the LOGEL observer beats the
      observer trained on it (as :func:`observer_claims`' ``beats_lfl``);
    * ``reaches_<name>``, for each calibration reward: its observer "reaches the learner", its
      mean normalised return above :data:`REACH_FRACTION` (t-interval, as
      :func:`observer_claims`' ``reaches``). Where this holds for a reward that carries no
      task, "reaches the learner" says little about a recovered reward.

    ``<name>`` is the calibration reward's name with spaces as underscores.
    """
    logel_ = final_values(merged, "observer_logel")
    claims: dict[str, Claim] = {}
    for agent in calibration_agents(merged):
        name = agent.removeprefix(CALIBRATION_PREFIX)
        key = name.replace(" ", "_")
        claims["beats_" + key], claims[f"beats_{key}_diff"] = _beats(
            f"{env_id}: the LOGEL observer (X) beats the {name}-reward observer (Y), final return",
            logel_, final_values(merged, agent), n_resamples, seed)
        claims["reaches_" + key] = Claim.of(
            f"{env_id}: the {name}-reward observer reaches the learner (normalised final return "
            f"> {REACH_FRACTION})", *_t_interval(normalised_returns(merged, agent)),
            REACH_FRACTION, ">", "t")
    return claims


# ---------------------------------------------------------------------------------------------
# E6: finite differences of the true return along the recovered reward's gradient
# ---------------------------------------------------------------------------------------------

FD_DIRECTIONS = {"reference": "∇ψ ω_ref (the reference reward's gradient)",
                 "recovered": "∇ψ ω̂ (LOGEL's reward's gradient)",
                 "learner_step": "the learner's own step Δ_k"}
"""The directions of ``logel.experiments.mujoco_checks.finite_difference_check``."""


def finite_difference_values(results: Mapping[int, Mapping[str, Any]], direction: str
                             ) -> np.ndarray:
    """Per seed (sorted), the slope of the true return along ``direction`` in units of the
    random directions' spread, :math:`z=s(v)/\\mathrm{sd}(s(v_{rand}))`, averaged over the
    checked steps: scale-free, so seeds (and environments) compare; about :math:`\\pm1` for a
    direction no better than a random one."""
    def one(r: Mapping[str, Any]) -> float:
        z = [step["slopes"][direction] / np.std(step["random_slopes"], ddof=1)
             for step in r["steps"]]
        return float(np.mean(z))
    return np.array([one(results[s]) for s in sorted(results)])


def finite_difference_table(results: Mapping[int, Mapping[str, Any]], digits: int = 2) -> str:
    """Markdown table, one row per direction of :data:`FD_DIRECTIONS`: the standardised slope
    :func:`finite_difference_values` (mean over seeds, 95% t-interval) and the seeds where the
    true return rises along it (with the 95% Wilson interval)."""
    rows = []
    for direction, label in FD_DIRECTIONS.items():
        z = finite_difference_values(results, direction)
        rows.append([label, mean_text(z, digits), count_interval(int(np.sum(z > 0)), z.size)])
    return markdown_table(["direction", "slope of the true return / random spread",
                           "seeds where it rises"], rows)


def finite_difference_claims(results: Mapping[int, Mapping[str, Any]], env_id: str
                             ) -> dict[str, Claim]:
    """E6's claims on one environment, t-intervals over seeds of
    :func:`finite_difference_values`:

    * ``reference``: the true return rises along the reference reward's estimated gradient (the
      check can see an ascent direction: its positive control);
    * ``recovered``: it rises along LOGEL's recovered reward's gradient;
    * ``reference_vs_recovered``: it rises faster along the reference's than along the
      recovered reward's (paired).
    """
    fam = env_family(env_id)
    ref = finite_difference_values(results, "reference")
    rec = finite_difference_values(results, "recovered")
    return {
        "reference": Claim.of(f"{fam}: the true return rises along ∇ψ ω_ref",
                              *_t_interval(ref), 0.0, ">", "t"),
        "recovered": Claim.of(f"{fam}: the true return rises along ∇ψ ω̂",
                              *_t_interval(rec), 0.0, ">", "t"),
        "reference_vs_recovered": Claim.of(
            f"{fam}: it rises faster along ∇ψ ω_ref than along ∇ψ ω̂",
            *_t_interval(ref - rec), 0.0, ">", "paired t"),
    }
