"""Random streams that name their cell: one stream per (seed, what, index...).

A sweep's counts must not depend on which other cells ran: adding an ``m`` to the grid, or a
method to the comparison, must leave every other cell's numbers unchanged. So every random draw
of an observer comes from a stream of its own, spawned from ``np.random.SeedSequence(seed)`` with
a key that names the cell,

.. code-block:: python

    np.random.SeedSequence(seed, spawn_key=(crc32(name), *index))

e.g. ``cell_rng(seed, "lfl", m)`` for LfL after ``m`` observed steps, or
``cell_rng(seed, "observer trajectories", t)`` for the fresh trajectories an observer draws from
the learner's policy :math:`\\pi_t`. The name is hashed with CRC-32, which is stable across
processes and Python versions (unlike ``hash``). The learners keep the streams they always had,
the children ``SeedSequence(seed).spawn(k)[0]`` (spawn keys of length one, so never equal to a
cell's key of length two or more), so learner runs are unchanged.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["cell_rng", "cell_seed_sequence", "cell_rngs"]


def cell_seed_sequence(seed: int, name: str, *index: int) -> np.random.SeedSequence:
    """The seed sequence of the cell ``(seed, name, *index)``.

    Args:
        seed: the experiment's seed (a non-negative integer).
        name: what draws from the stream (e.g. ``"lfl"``, ``"observer trajectories"``).
        index: integers that complete the cell's name (e.g. ``m`` or the learning step ``t``).

    Returns:
        ``SeedSequence(seed, spawn_key=(crc32(name), *index))``.
    """
    if not name:
        raise ValueError("a stream needs a name")
    if any(int(i) < 0 for i in index):
        raise ValueError(f"stream indices must be non-negative, got {index}")
    key = (zlib.crc32(name.encode("utf-8")), *(int(i) for i in index))
    return np.random.SeedSequence(int(seed), spawn_key=key)


def cell_rng(seed: int, name: str, *index: int) -> np.random.Generator:
    """A generator on :func:`cell_seed_sequence`'s stream of ``(seed, name, *index)``."""
    return np.random.default_rng(cell_seed_sequence(seed, name, *index))


def cell_rngs(seed: int, name: str, count: int) -> list[np.random.Generator]:
    """``[cell_rng(seed, name, t) for t in range(count)]``: one stream per step ``t``."""
    return [cell_rng(seed, name, t) for t in range(count)]
