"""Values written on the command line: ``NAME=VALUE`` pairs and typed scalars.

Shared by the ``agc`` command, the runtime's launcher and the sweep (whose grids are typed the
same way), and kept apart from validation (:mod:`agc._checks`).
"""

from __future__ import annotations


def parse_value(text):
    """Read a parameter value written on the command line.

    ``true``/``false`` (any case) are bools, ``none`` is ``None``, then ints, then floats;
    anything else stays a string.

    Parameters
    ----------
    text : str

    Returns
    -------
    bool, None, int, float or str

    Examples
    --------
    >>> [parse_value(t) for t in ["3", "-1", "0.25", "1e-3", "True", "none", "rdm"]]
    [3, -1, 0.25, 0.001, True, None, 'rdm']
    """
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_key_values(pairs, option="-P"):
    """Parse ``["name=value", ...]`` (a repeated command-line option) into a dict of typed values.

    Parameters
    ----------
    pairs : iterable of str, or None
    option : str
        The option named in errors.

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        If an item is not ``name=value`` or a name is given twice.

    Examples
    --------
    >>> parse_key_values(["q=9", "dist=gaussian"])
    {'q': 9, 'dist': 'gaussian'}
    >>> parse_key_values(["q=9", "q=7"])
    Traceback (most recent call last):
    ...
    ValueError: -P q given twice (q=9, then q=7)
    """
    params = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"{option} expects name=value, got {pair!r}")
        value = parse_value(text)
        if key in params:
            raise ValueError(f"{option} {key} given twice ({key}={params[key]}, then {key}={value})")
        params[key] = value
    return params
