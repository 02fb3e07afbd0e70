"""Input checks shared by the public API: clear errors naming the argument and its shape."""

from __future__ import annotations

from typing import Any

import numpy as np


def as_array(value: Any, name: str, *, ndim: int, shape_doc: str) -> np.ndarray:
    """Convert ``value`` (numpy array, list, or CPU torch tensor) to a finite float64 array.

    Raises:
        ValueError: naming ``name`` and the expected shape ``shape_doc`` when the number of
            dimensions is wrong, an axis is empty, or an entry is NaN or infinite.
    """
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a numeric array of shape {shape_doc}: {err}") from None
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have shape {shape_doc}, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must have shape {shape_doc} with no empty axis, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr
