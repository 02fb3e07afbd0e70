"""Input checks shared by the public API: clear errors naming the argument and what was expected.

One vocabulary for every public function, configuration and loader (issue 17):

* a scalar option of the wrong *kind* (``None``, a string or an array where a number is
  expected, a float where an integer is) raises :class:`TypeError`;
* a value outside its domain (NaN, a negative learning rate, an array of the wrong shape, an
  array of strings, objects or complex numbers, a non-boolean mask) raises
  :class:`ValueError`;

and each message starts with the argument's name and says what was expected. Ill-conditioned
but valid inputs are not errors: the numerical routines warn instead.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _numeric_dtype(arr: np.ndarray, name: str, expected: str) -> None:
    if arr.dtype == object or arr.dtype.kind in "USVcmM":
        raise ValueError(f"{name} must be {expected}, got an array of dtype {arr.dtype}")


def as_array(value: Any, name: str, *, ndim: int, shape_doc: str) -> np.ndarray:
    """Convert ``value`` (numpy array, list, or CPU torch tensor) to a finite float64 array.

    Raises:
        ValueError: naming ``name`` and the expected shape ``shape_doc`` when the values are
            not real numbers (None, strings, objects, complex numbers, ragged lists), the
            number of dimensions is wrong, an axis is empty, or an entry is NaN or infinite.
    """
    if value is None:
        raise ValueError(f"{name} must be a numeric array of shape {shape_doc}, got None")
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as err:  # ragged nested lists
        raise ValueError(f"{name} must be a numeric array of shape {shape_doc}: {err}") from None
    _numeric_dtype(raw, name, f"a real numeric array of shape {shape_doc}")
    arr = np.asarray(raw, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have shape {shape_doc}, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must have shape {shape_doc} with no empty axis, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def real(value: Any, name: str, *, low: float | None = None, high: float | None = None,
         low_open: bool = False, high_open: bool = False, allow_inf: bool = False) -> float:
    """A finite real scalar (Python or numpy number, or a 0-d array) within optional bounds.

    Args:
        value: the value to check.
        name: the argument's name, for the message.
        low, high: bounds (None: unbounded).
        low_open, high_open: exclude the bound itself.
        allow_inf: accept infinities within the bounds (NaN never).

    Raises:
        TypeError: if ``value`` is not a real number (None, a string, a bool, an array with
            more than one element).
        ValueError: if it is NaN, infinite or outside the bounds.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_describe(value)}")
    out = float(value)
    if np.isnan(out) or (np.isinf(out) and not allow_inf):
        raise ValueError(f"{name} must be a finite number, got {out}")
    lo_ok = low is None or (out > low if low_open else out >= low)
    hi_ok = high is None or (out < high if high_open else out <= high)
    if not (lo_ok and hi_ok):
        left = "-inf" if low is None else f"{low:g}"
        right = "inf" if high is None else f"{high:g}"
        interval = (("(" if low_open or low is None else "[") + f"{left}, {right}"
                    + (")" if high_open or high is None else "]"))
        raise ValueError(f"{name} must lie in {interval}, got {out:g}")
    return out


def integer(value: Any, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """An integer scalar (Python or numpy integer; not a bool, not a float) within bounds.

    Raises:
        TypeError: if ``value`` is not an integer.
        ValueError: if it lies outside ``[low, high]``.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {_describe(value)}")
    out = int(value)
    if (low is not None and out < low) or (high is not None and out > high):
        left = "-inf" if low is None else str(low)
        right = "inf" if high is None else str(high)
        raise ValueError(f"{name} must be an integer in [{left}, {right}], got {out}")
    return out


def choice(value: Any, name: str, options: Sequence[Any]) -> Any:
    """``value`` if it is one of ``options`` (compared by equality, hashable values only).

    Raises:
        ValueError: naming the allowed values otherwise.
    """
    try:
        ok = any(value == o and type(value) is type(o) for o in options)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        shown = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name} must be one of {shown}, got {_describe(value)}")
    return value


def boolean(value: Any, name: str) -> bool:
    """A Python or numpy bool.

    Raises:
        TypeError: for anything else (including the integers 0 and 1 and strings).
    """
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {_describe(value)}")
    return bool(value)


def bool_array(value: Any, name: str, *, shape: tuple[int, ...] | None = None,
               shape_doc: str = "") -> np.ndarray:
    """A boolean array: ``bool`` dtype, or numbers that are all exactly 0 or 1.

    NaN is neither True nor False, so it is refused rather than read as True.

    Raises:
        ValueError: for None, strings, objects, complex values, numbers other than 0 and 1,
            or a shape other than ``shape``.
    """
    if value is None:
        raise ValueError(f"{name} must be a boolean array{' of shape ' + shape_doc if shape_doc else ''}, got None")
    arr = np.asarray(value)
    _numeric_dtype(arr, name, "a boolean array")
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {shape_doc or tuple(shape)}, got {arr.shape}")
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{name} must be boolean (True/False or 0/1), got other values "
                             "(NaN is neither True nor False)")
        arr = arr.astype(bool)
    return arr


def finite_result(value: np.ndarray, what: str, hint: str = "") -> np.ndarray:
    """``value`` if every entry is finite, else a :class:`ValueError` saying that ``what``
    overflows float64 (``hint`` is appended)."""
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{what} is not representable in float64 (overflow){hint}")
    return value


def power_of_two_scale(arr: np.ndarray) -> float:
    """A power of two close to ``max|arr|`` (1.0 for an all-zero array).

    Dividing by a power of two is exact in floating point (away from the subnormal range), so
    normalising by it changes no digit of a well-scaled computation while keeping squares and
    products of badly scaled inputs inside float64's range.
    """
    peak = float(np.max(np.abs(arr))) if arr.size else 0.0
    if not peak or not np.isfinite(peak):
        return 1.0
    _, exponent = np.frexp(peak)
    return float(np.ldexp(1.0, int(exponent)))


def items(value: Any, name: str, check: Callable[[Any, str], Any], *,
          nonempty: bool = True) -> tuple[Any, ...]:
    """A tuple (or list) whose every entry passes ``check(entry, "name[i]")``.

    Args:
        value: the sequence to check.
        name: the argument's name, for the message.
        check: one of this module's scalar checks with its bounds bound, e.g.
            ``lambda v, n: integer(v, n, low=1)``.
        nonempty: refuse an empty sequence.

    Raises:
        TypeError: if ``value`` is not a tuple or a list (a string, None, a number), or an
            entry has the wrong kind.
        ValueError: if it is empty (with ``nonempty``) or an entry is outside its domain.
    """
    if not isinstance(value, tuple | list):
        raise TypeError(f"{name} must be a tuple of values, got {_describe(value)}")
    if nonempty and not value:
        raise ValueError(f"{name} must not be empty")
    return tuple(check(v, f"{name}[{i}]") for i, v in enumerate(value))


def instance(value: Any, name: str, cls: type) -> Any:
    """``value`` if it is an instance of ``cls`` (e.g. a nested configuration dataclass).

    Raises:
        TypeError: naming ``cls`` otherwise.
    """
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be a {cls.__name__}, got {_describe(value)}")
    return value


def text(value: Any, name: str) -> str:
    """A non-empty string.

    Raises:
        TypeError: if ``value`` is not a string; ValueError: if it is empty.
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {_describe(value)}")
    if not value.strip():
        raise ValueError(f"{name} must be a non-empty string")
    return value
