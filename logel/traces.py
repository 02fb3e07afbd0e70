"""What a learner leaves behind: one validated, frozen record per learning run.

A learner and an observer meet only here (the observer never imports a learner), which is what
lets a user bring their own learner's data: fill a :class:`LearnerTrace` from numpy arrays.

Files are ``.npz`` archives written atomically (temporary file, then rename) and read with
``np.load(allow_pickle=False)``; metadata travels as a JSON string, so loading never executes
data.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_ARRAY_FIELDS = ("states", "actions", "features", "thetas", "learning_rates", "returns",
                 "episode_starts", "rewards")


@dataclass(frozen=True)
class LearnerTrace:
    """Data of ``K = m + 1`` consecutive policies of one learner, ``N`` trajectories each.

    Attributes:
        states: ``(K, N, T)`` int (tabular) or ``(K, N, T, obs_dim)`` float: :math:`s_t`.
        actions: ``(K, N, T)`` int or ``(K, N, T, act_dim)`` float: :math:`a_t`.
        features: ``(K, N, T, q)`` float: per-step reward features :math:`\\phi_t`.
        gamma: the discount the learner optimises.
        thetas: ``(K, d)`` policy parameters :math:`\\theta_1..\\theta_K`, or None when the
            learner's internal parameters are not policy parameters of the observer's class.
        learning_rates: ``(K - 1,)`` the learner's step sizes :math:`\\alpha_t`, or None.
        returns: ``(K, N)`` discounted returns under the learner's true reward, or None.
        metadata: JSON-serialisable description (learner, environment, variant, seed, ...).
        episode_starts: ``(K, N, T)`` bool, True where :math:`s_t` is the first state of an
            episode (a row ``n`` is then a stream of consecutive steps of one environment, cut
            into episodes at these flags, as a PPO rollout of fixed length), or None when every
            row is one trajectory starting at ``t = 0``.
        rewards: ``(K, N, T)`` per-step rewards under the learner's true reward, or None.
    """

    states: np.ndarray
    actions: np.ndarray
    features: np.ndarray
    gamma: float
    thetas: np.ndarray | None = None
    learning_rates: np.ndarray | None = None
    returns: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    episode_starts: np.ndarray | None = None
    rewards: np.ndarray | None = None

    def __post_init__(self) -> None:
        states, actions, features = (np.array(x, copy=True) for x in (self.states, self.actions,
                                                              self.features))
        if features.ndim != 4:
            raise ValueError(f"features must have shape (K, N, T, q), got {features.shape}")
        K, N, T, _ = features.shape
        for name, arr in (("states", states), ("actions", actions)):
            if arr.ndim not in (3, 4) or arr.shape[:3] != (K, N, T):
                raise ValueError(f"{name} must have shape (K, N, T) or (K, N, T, dim) with "
                                 f"(K, N, T) = {(K, N, T)}, got {arr.shape}")
        if K < 1 or N < 1 or T < 1:
            raise ValueError(f"a trace needs K, N, T >= 1, got {(K, N, T)}")
        if not np.all(np.isfinite(features)):
            raise ValueError("features contains NaN or infinite values")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must lie in [0, 1], got {self.gamma}")
        checked = {"states": states, "actions": actions, "features": features.astype(float)}
        expected = {"thetas": ((K, -1), f"(K, d) = ({K}, d)"),
                    "learning_rates": ((K - 1,), f"(K - 1,) = ({K - 1},)"),
                    "returns": ((K, N), f"(K, N) = ({K}, {N})")}
        for name, (shape, doc) in expected.items():
            value = getattr(self, name)
            if value is None:
                continue
            arr = np.array(value, dtype=float, copy=True)
            if arr.ndim != len(shape) or any(s not in (-1, n) for s, n in zip(shape, arr.shape, strict=False)):
                raise ValueError(f"{name} must have shape {doc}, got {arr.shape}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} contains NaN or infinite values")
            checked[name] = arr
        if self.rewards is not None:
            rew = np.array(self.rewards, dtype=float, copy=True)
            if rew.shape != (K, N, T):
                raise ValueError(f"rewards must have shape (K, N, T) = {(K, N, T)}, "
                                 f"got {rew.shape}")
            if not np.all(np.isfinite(rew)):
                raise ValueError("rewards contains NaN or infinite values")
            checked["rewards"] = rew
        if self.episode_starts is not None:
            starts = np.array(self.episode_starts, copy=True)
            if starts.shape != (K, N, T):
                raise ValueError(f"episode_starts must have shape (K, N, T) = {(K, N, T)}, "
                                 f"got {starts.shape}")
            if starts.dtype != bool:
                if not np.isin(starts, (0, 1)).all():
                    raise ValueError("episode_starts must be boolean (or 0/1)")
                starts = starts.astype(bool)
            checked["episode_starts"] = starts
        try:
            json.dumps(self.metadata)
        except TypeError as err:
            raise ValueError(f"metadata must be JSON-serialisable: {err}") from None
        for name, arr in checked.items():
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def n_policies(self) -> int:
        """``K``, the number of policies (``m = K - 1`` learning steps)."""
        return self.features.shape[0]

    @property
    def n_trajectories(self) -> int:
        return self.features.shape[1]

    @property
    def horizon(self) -> int:
        return self.features.shape[2]

    @property
    def n_features(self) -> int:
        return self.features.shape[3]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write an ``.npz`` atomically; returns the final path."""
        arrays = {name: getattr(self, name) for name in _ARRAY_FIELDS
                  if getattr(self, name) is not None}
        arrays["meta_json"] = np.array(json.dumps({"gamma": self.gamma,
                                                   "metadata": self.metadata}))
        return atomic_savez(path, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LearnerTrace:
        """Read a trace written by :meth:`save` (no pickle)."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta_json"]))
            arrays = {name: data[name] for name in _ARRAY_FIELDS if name in data.files}
        return cls(gamma=meta["gamma"], metadata=meta["metadata"], **arrays)

    def subset(self, policies: Sequence[int] | None = None, rows: slice = slice(None),
               time: slice = slice(None), metadata: dict[str, Any] | None = None
               ) -> LearnerTrace:
        """The data of some policies, rows and time steps, as a new trace.

        Args:
            policies: indices of the policies kept, in order (default: all). Learning rates are
                kept only for a run of consecutive policies.
            rows: the trajectories (environment rows) kept.
            time: the time steps kept.
            metadata: replaces the metadata (default: kept).
        """
        keep = list(range(self.n_policies)) if policies is None else [int(k) for k in policies]
        if not keep or any(not 0 <= k < self.n_policies for k in keep):
            raise ValueError(f"policies must be indices in 0..{self.n_policies - 1}, got {keep}")
        consecutive = all(b == a + 1 for a, b in zip(keep, keep[1:], strict=False))

        def cut(x: np.ndarray | None) -> np.ndarray | None:
            return None if x is None else x[keep][:, rows, time]

        rates = (self.learning_rates[keep[0]: keep[-1]]
                 if self.learning_rates is not None and consecutive else None)
        return LearnerTrace(cut(self.states), cut(self.actions), cut(self.features), self.gamma,
                            None if self.thetas is None else self.thetas[keep], rates,
                            None if self.returns is None else self.returns[keep][:, rows],
                            self.metadata if metadata is None else metadata,
                            cut(self.episode_starts), cut(self.rewards))

    def steps(self, m: int) -> LearnerTrace:
        """The first ``m`` learning steps (``m + 1`` policies)."""
        if not 1 <= m <= self.n_policies - 1:
            raise ValueError(f"m must lie in 1..{self.n_policies - 1}, got {m}")
        sl = slice(0, m + 1)
        return LearnerTrace(self.states[sl], self.actions[sl], self.features[sl], self.gamma,
                            None if self.thetas is None else self.thetas[sl],
                            None if self.learning_rates is None else self.learning_rates[:m],
                            None if self.returns is None else self.returns[sl], self.metadata,
                            None if self.episode_starts is None else self.episode_starts[sl],
                            None if self.rewards is None else self.rewards[sl])


def atomic_savez(path: str | os.PathLike[str], **arrays: np.ndarray) -> Path:
    """``np.savez_compressed`` to a temporary file in the same folder, then rename into place."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
