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
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from logel._validation import bool_array, integer, real

_ARRAY_FIELDS = ("states", "actions", "features", "thetas", "learning_rates", "returns",
                 "episode_starts", "rewards")


class TraceError(ValueError):
    """A trace file is corrupt, truncated, not an ``.npz`` archive written by
    :meth:`LearnerTrace.save`, or holds invalid data; the message names the file."""


def _plain_numbers(arr: np.ndarray, name: str) -> None:
    """Refuse arrays a trace cannot hold: objects (they would be pickled), strings, complex."""
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers (bool, int or float), got an array of "
                         f"dtype {arr.dtype}")


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
        arrays = []
        for name in ("states", "actions", "features"):
            value = getattr(self, name)
            if value is None:
                raise ValueError(f"{name} is required (an array), got None")
            try:
                arr = np.array(value, copy=True)
            except (TypeError, ValueError) as err:
                raise ValueError(f"{name} must be a numeric array: {err}") from None
            _plain_numbers(arr, name)
            arrays.append(arr)
        states, actions, features = arrays
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
        for name, arr in (("states", states), ("actions", actions)):
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} contains NaN or infinite values")
        object.__setattr__(self, "gamma", real(self.gamma, "gamma", low=0.0, high=1.0))
        if not isinstance(self.metadata, dict):
            raise TypeError(f"metadata must be a dict, got {type(self.metadata).__name__}")
        checked = {"states": states, "actions": actions, "features": features.astype(float)}
        expected = {"thetas": ((K, -1), f"(K, d) = ({K}, d)"),
                    "learning_rates": ((K - 1,), f"(K - 1,) = ({K - 1},)"),
                    "returns": ((K, N), f"(K, N) = ({K}, {N})")}
        for name, (shape, doc) in expected.items():
            value = getattr(self, name)
            if value is None:
                continue
            raw = np.asarray(value)
            _plain_numbers(raw, name)
            arr = np.array(raw, dtype=float, copy=True)
            if arr.ndim != len(shape) or any(s not in (-1, n) for s, n in zip(shape, arr.shape, strict=False)):
                raise ValueError(f"{name} must have shape {doc}, got {arr.shape}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} contains NaN or infinite values")
            if name == "learning_rates" and (arr < 0).any():
                raise ValueError(f"learning_rates must be non-negative (a gradient step, 0 for "
                                 f"a skipped step), got {arr[arr < 0][:3]}")
            checked[name] = arr
        if self.rewards is not None:
            raw = np.asarray(self.rewards)
            _plain_numbers(raw, "rewards")
            rew = np.array(raw, dtype=float, copy=True)
            if rew.shape != (K, N, T):
                raise ValueError(f"rewards must have shape (K, N, T) = {(K, N, T)}, "
                                 f"got {rew.shape}")
            if not np.all(np.isfinite(rew)):
                raise ValueError("rewards contains NaN or infinite values")
            checked["rewards"] = rew
        if self.episode_starts is not None:
            starts = np.array(bool_array(self.episode_starts, "episode_starts",
                                         shape=(K, N, T), shape_doc=f"(K, N, T) = {(K, N, T)}"),
                              copy=True)
            checked["episode_starts"] = starts
        try:
            json.dumps(self.metadata, allow_nan=False)
        except (TypeError, ValueError) as err:
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
        """Read a trace written by :meth:`save` (no pickle).

        A missing ``path`` raises ``FileNotFoundError``; a file that is not an ``.npz``
        archive, is corrupt or truncated, holds pickled (object) arrays, lacks or has invalid
        metadata, or whose arrays do not form a valid trace raises
        ``logel.traces.TraceError`` (a ``ValueError``) naming the file.
        """
        path = Path(path)
        if not path.is_file():
            if path.exists():
                raise TraceError(f"{path}: not a file")
            raise FileNotFoundError(f"{path}: no such trace file")
        try:
            archive = np.load(path, allow_pickle=False)
            if not hasattr(archive, "files"):
                raise TraceError(f"{path}: a single .npy array, not an .npz trace archive")
            with archive as data:
                if "meta_json" not in data.files:
                    raise TraceError(f"{path}: not a trace (no meta_json entry; arrays: "
                                     f"{', '.join(data.files) or 'none'})")
                meta_text = str(data["meta_json"])
                arrays = {name: data[name] for name in _ARRAY_FIELDS if name in data.files}
        except TraceError:
            raise
        except ValueError as err:
            if "pickle" in str(err):
                raise TraceError(f"{path}: holds object (pickled) arrays, which a trace never "
                                 "does; refused without unpickling") from None
            raise TraceError(f"{path}: not a readable .npz trace ({err})") from None
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as err:
            raise TraceError(f"{path}: corrupt or truncated .npz archive "
                             f"({type(err).__name__}: {err})") from None
        except Exception as err:  # a damaged archive can fail in many ways (struct, encryption)
            raise TraceError(f"{path}: corrupt .npz archive ({type(err).__name__}: "
                             f"{err})") from None
        try:
            meta = json.loads(meta_text)
        except json.JSONDecodeError as err:
            raise TraceError(f"{path}: meta_json is not valid JSON ({err})") from None
        if not isinstance(meta, dict) or "gamma" not in meta or "metadata" not in meta:
            raise TraceError(f"{path}: meta_json must be an object with the fields 'gamma' and "
                             f"'metadata', got {meta_text[:80]!r}")
        missing = [n for n in ("states", "actions", "features") if n not in arrays]
        if missing:
            raise TraceError(f"{path}: missing array(s) {', '.join(missing)}")
        try:
            return cls(gamma=meta["gamma"], metadata=meta["metadata"], **arrays)
        except (TypeError, ValueError) as err:
            raise TraceError(f"{path}: invalid trace: {err}") from None

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
        keep = (list(range(self.n_policies)) if policies is None
                else [integer(k, "policies") for k in policies])
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
        m = integer(m, "m")
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
