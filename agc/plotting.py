"""The project's plotting theme and colours, shared by every chapter.

Every chapter calls :func:`set_theme` once and colours schemes with :func:`palette_for`, so
that a scheme has the same colour in every figure of the book. The palette is seaborn's
``"colorblind"`` one (ten colours that stay distinguishable under the common forms of colour
blindness); the two baselines get the muted ones (grey and brown).

Examples
--------
>>> from agc import plotting
>>> plotting.set_theme()
>>> colors = plotting.palette_for(["rdm", "stacking"])
>>> colors["rdm"] == plotting.SCHEME_COLORS["rdm"]
True
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns

__all__ = ["PALETTE", "SCHEME_COLORS", "errorbar_plot", "palette_for", "set_theme"]

PALETTE = "colorblind"
"""The seaborn palette of the project."""

_COLORS = sns.color_palette(PALETTE, 10)
_SCHEME_INDEX = {
    "rdm": 0,
    "rhpnc": 1,
    "rhpnc_pm1": 2,
    "iid_gaussian": 3,
    "polynomial": 4,
    "block_split": 5,
    "stacking": 7,
    "rhpnc_unbiased": 8,
    "ignore": 9,
}

SCHEME_COLORS: dict[str, tuple[float, float, float]] = {
    **{name: tuple(_COLORS[i]) for name, i in _SCHEME_INDEX.items()},
    "full": (0.0, 0.0, 0.0),
}
"""Fixed colour (an RGB triple) of each scheme the book compares; the exact reference, ``"full"``, is black."""

_EXTRA = [tuple(c) for i, c in enumerate(_COLORS) if i not in _SCHEME_INDEX.values()] + [
    tuple(c) for c in _COLORS
]


def set_theme() -> None:
    """Apply the project's seaborn theme to matplotlib.

    Context ``"notebook"``, white background with a grid, the ``"colorblind"`` palette,
    figures of 7 × 4.2 inches drawn at 100 dpi (700 × 420 pixels in the book) and saved at
    200 dpi.

    Examples
    --------
    >>> set_theme()
    >>> import matplotlib as mpl
    >>> mpl.rcParams["figure.dpi"]
    100.0
    """
    sns.set_theme(
        context="notebook",
        style="whitegrid",
        palette=PALETTE,
        rc={
            "figure.figsize": (7.0, 4.2),
            "figure.dpi": 100,
            "savefig.dpi": 200,
            "savefig.bbox": "tight",
            "axes.spines.top": False,
            "axes.spines.right": False,
        },
    )


def palette_for(names) -> dict:
    """Colours for a collection of scheme names, consistent across the book.

    Names in :data:`SCHEME_COLORS` get their fixed colour. Any other names are sorted (as
    strings) and take the palette's unused colours, then its colours again in order: the
    same set of names always gets the same colours.

    Parameters
    ----------
    names : iterable of hashable
        Scheme names (typically the unique values of a ``hue`` column).

    Returns
    -------
    dict
        name → RGB triple, in the order of ``names`` (duplicates removed).

    Examples
    --------
    >>> pal = palette_for(["stacking", "rdm", "mine", "stacking"])
    >>> list(pal)
    ['stacking', 'rdm', 'mine']
    >>> pal["stacking"] == SCHEME_COLORS["stacking"]
    True
    >>> palette_for(["mine", "yours"]) == palette_for(["yours", "mine"])
    True
    """
    names = list(dict.fromkeys(names))
    others = sorted((x for x in names if x not in SCHEME_COLORS), key=str)
    extra = {x: _EXTRA[i % len(_EXTRA)] for i, x in enumerate(others)}
    return {x: SCHEME_COLORS.get(x, extra.get(x)) for x in names}


def errorbar_plot(df, x, y, se, hue=None, ax=None, band=True):
    """Plot mean curves with ± one standard error, one curve per ``hue`` value.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per point of a curve.
    x, y, se : str
        Columns of the abscissa, the mean and its standard error.
    hue : str, optional
        Column whose values name the curves (coloured with :func:`palette_for`).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure if omitted.
    band : bool
        Shade the ± s.e. band (default) or draw error bars.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"p": [0.0, 0.1, 0.0, 0.1], "err": [0.0, 0.2, 0.5, 0.6],
    ...                    "se": [0.0, 0.01, 0.0, 0.02], "scheme": ["rdm"] * 2 + ["stacking"] * 2})
    >>> ax = errorbar_plot(df, "p", "err", "se", hue="scheme")
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['rdm', 'stacking']
    >>> plt.close("all")
    """
    if ax is None:
        _, ax = plt.subplots()
    groups = [(None, df)] if hue is None else list(df.groupby(hue, sort=False))
    colors = palette_for(name for name, _ in groups) if hue is not None else {None: None}
    for name, part in groups:
        part = part.sort_values(x)
        label = None if hue is None else str(name)
        color = colors[name]
        if band:
            (line,) = ax.plot(part[x], part[y], marker="o", markersize=4, color=color, label=label)
            ax.fill_between(
                part[x], part[y] - part[se], part[y] + part[se], color=line.get_color(), alpha=0.2
            )
        else:
            ax.errorbar(part[x], part[y], yerr=part[se], marker="o", markersize=4, capsize=3,
                        color=color, label=label)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if hue is not None:
        ax.legend(title=hue)
    return ax
