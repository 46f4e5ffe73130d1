"""Input validation shared by every module: errors name the parameter, the value and the range."""

from __future__ import annotations

import numbers

import numpy as np


def check_int(name, value, *, low=None, high=None):
    """Return ``value`` as an ``int`` after checking its type and range (bounds inclusive)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def check_probability(name, value, *, allow_one=False):
    """Return ``value`` as a float in ``[0, 1)`` (or ``[0, 1]`` with ``allow_one``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    upper_ok = value <= 1.0 if allow_one else value < 1.0
    if not (np.isfinite(value) and value >= 0.0 and upper_ok):
        interval = "[0, 1]" if allow_one else "[0, 1)"
        raise ValueError(f"{name} must lie in {interval}, got {value}")
    return value


def as_generator(seed):
    """Return a :class:`numpy.random.Generator` from an int, ``None`` or a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool)):
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be an int, None or a numpy.random.Generator, got {seed!r}")


def check_matrix(name, value, *, shape=None, finite=True):
    """Return ``value`` as a 2-D float64 array, checking shape and finiteness."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric 2-D array: {exc}") from None
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {array.shape}")
    if shape is not None:
        for axis, (got, want) in enumerate(zip(array.shape, shape)):
            if want is not None and got != want:
                raise ValueError(f"{name} must have shape {shape} (axis {axis}), got {array.shape}")
    if finite and not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got NaN or infinity")
    return array


def check_binary_matrix(name, value):
    """Return a 0/1 integer matrix, raising when an entry is not 0 or 1."""
    array = check_matrix(name, value)
    if not np.all((array == 0) | (array == 1)):
        raise ValueError(f"{name} must contain only 0 and 1")
    return array.astype(np.int64)


def survivor_mask(survivors, n, name="survivors"):
    """Turn an index array or a boolean mask of length ``n`` into a boolean mask.

    Raises when an index is out of range or repeated, or a mask has the wrong length.
    """
    array = np.asarray(survivors)
    if array.dtype == bool:
        if array.shape != (n,):
            raise ValueError(f"{name} as a boolean mask must have shape ({n},), got {array.shape}")
        return array.copy()
    if array.size == 0:
        return np.zeros(n, dtype=bool)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must be a 1-D integer index array or a boolean mask, got {array.dtype} shape {array.shape}")
    if array.min() < 0 or array.max() >= n:
        raise ValueError(f"{name} must be worker indices in [0, {n - 1}], got {array.min()}..{array.max()}")
    if np.unique(array).size != array.size:
        raise ValueError(f"{name} contains repeated workers")
    mask = np.zeros(n, dtype=bool)
    mask[array] = True
    return mask


def mask_batch(masks, n, name="masks"):
    """Return a boolean ``(m, n)`` array of survivor masks."""
    array = np.asarray(masks)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != n:
        raise ValueError(f"{name} must have shape (m, {n}), got {array.shape}")
    if array.dtype != bool:
        if not np.all((array == 0) | (array == 1)):
            raise ValueError(f"{name} must be boolean (or 0/1)")
        array = array.astype(bool)
    return array


def exactly_one(**options):
    """Return the name of the one option that is not ``None``; raise unless exactly one is given.

    Parameters
    ----------
    **options
        Name → value, e.g. ``exactly_one(p=p, s=s)``.

    Returns
    -------
    str
        The name of the given option.

    Raises
    ------
    ValueError
        If none or more than one of the options is given; the message names them all.

    Examples
    --------
    >>> exactly_one(p=0.1, s=None)
    'p'
    >>> exactly_one(p=0.1, s=2)
    Traceback (most recent call last):
    ...
    ValueError: give exactly one of p or s, got p=0.1 and s=2
    """
    given = [name for name, value in options.items() if value is not None]
    if len(given) != 1:
        names = " or ".join(options)
        got = " and ".join(f"{name}={options[name]!r}" for name in given) if given else "neither"
        raise ValueError(f"give exactly one of {names}, got {got}")
    return given[0]
