"""The book's visual language: one theme, one colour per scheme, one style per bound, one error-bar helper.

Every chapter calls :func:`set_theme` once, colours schemes with :func:`palette_for` (a scheme has
the same colour in every figure of the book), draws bounds with :data:`BOUND_STYLES` (grey, one
line style per kind of bound) and mean curves with :func:`errorbar_plot`, whose bars are a stated
number of standard errors (:func:`band_label` says it in the legend or caption). The palette is
seaborn's ``"colorblind"`` one; the exact reference (``"full"``) is black and the paper's
stacking baseline grey, so that the eye goes to the codes.

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

__all__ = ["BOUND_STYLES", "PALETTE", "SCHEME_COLORS", "SCHEME_LABELS", "band_label", "errorbar_plot", "palette_for",
           "set_theme"]

PALETTE = "colorblind"
"""The seaborn palette of the project."""

_COLORS = sns.color_palette(PALETTE, 10)
_DARK = sns.color_palette("dark", 10)
_SCHEME_INDEX = {
    "rdm": 0,
    "rhpnc": 1,
    "block_split": 2,
    "polynomial": 3,
    "rhpnc_pm1": 4,
    "iid_gaussian": 6,
    "rhpnc_unbiased": 8,
    "ignore": 9,
}

SCHEME_COLORS: dict[str, tuple[float, float, float]] = {
    **{name: tuple(_COLORS[i]) for name, i in _SCHEME_INDEX.items()},
    "rhpnc_authors": tuple(_DARK[1]),  # the authors' variant of RHPNC: a darker shade of RHPNC's colour
    "block_split_copies": tuple(_DARK[2]),  # a darker shade of the block split's
    "optimized": tuple(_DARK[9]),
    "stacking": (0.55, 0.55, 0.55),
    "full": (0.0, 0.0, 0.0),
    "wait-for-all": (0.0, 0.0, 0.0),
}
"""Fixed colour (an RGB triple) of each scheme the book compares; the exact references are black."""

SCHEME_LABELS = {
    "stacking": "stacking (the paper's baseline)",
    "block_split": "block split (same assignment)",
    "block_split_copies": "block split over copies",
    "rdm": "RDM",
    "rhpnc": "RHPNC (Gaussian, random null-space draw)",
    "rhpnc_authors": "RHPNC (Gaussian, the authors' v₂)",
    "rhpnc_pm1": "RHPNC (±1)",
    "rhpnc_unbiased": "RHPNC, unbiased decoder",
    "iid_gaussian": "i.i.d. Gaussian on the support",
    "polynomial": "polynomial (Ye–Abbe, exact)",
    "optimized": "learned",
    "ignore": "ignore stragglers",
    "full": "full gradient",
}
"""Legend labels of the schemes (a name not listed is its own label)."""

BOUND_STYLES = {
    "upper": {"color": "0.25", "ls": "--", "lw": 1.3},
    "upper (worst case)": {"color": "0.25", "ls": "-.", "lw": 1.3},
    "lower (per pattern)": {"color": "0.25", "ls": ":", "lw": 1.8},
    "lower (worst case)": {"color": "0.45", "ls": (0, (1, 3)), "lw": 1.8},
    "exact": {"color": "0.25", "ls": "-", "lw": 0.9},
}
"""Line style of each kind of bound: grey, told apart by the dash pattern."""

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
            "legend.fontsize": "small",
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


def band_label(width=2):
    """The text that says what the error bars are, e.g. ``"±2 s.e. (draws and straggler sets)"``.

    Parameters
    ----------
    width : float
        Number of standard errors.

    Returns
    -------
    str

    Examples
    --------
    >>> band_label(2)
    '±2 s.e. of the mean'
    """
    return f"±{width:g} s.e. of the mean"


def errorbar_plot(df, x, y, se, hue=None, ax=None, band=True, width=2, labels=None, logy=False):
    """Plot mean curves with ± ``width`` standard errors, one curve per ``hue`` value, in the book's colours.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per point of a curve.
    x, y, se : str
        Columns of the abscissa, the mean and its standard error (two-level for random codes,
        as :func:`agc.error_curve` returns it).
    hue : str, optional
        Column whose values name the curves (coloured with :func:`palette_for`).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure if omitted.
    band : bool
        Shade the band (default) or draw error bars.
    width : float
        The band is the mean ± ``width`` standard errors.
    labels : dict, optional
        Legend label per ``hue`` value (default :data:`SCHEME_LABELS`, else the value itself).
    logy : bool
        Logarithmic ordinate (for curves that span decades); the band's lower edge is clipped
        at a tenth of the mean so that it stays drawable.

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
    ['RDM', "stacking (the paper's baseline)"]
    >>> plt.close("all")
    """
    if ax is None:
        _, ax = plt.subplots()
    labels = SCHEME_LABELS if labels is None else labels
    groups = [(None, df)] if hue is None else list(df.groupby(hue, sort=False))
    colors = palette_for(name for name, _ in groups) if hue is not None else {None: None}
    for name, part in groups:
        part = part.sort_values(x)
        label = None if hue is None else str(labels.get(name, name))
        color = colors[name]
        low, high = part[y] - width * part[se], part[y] + width * part[se]
        if logy:
            low = low.clip(lower=part[y] / 10)
        if band:
            (line,) = ax.plot(part[x], part[y], marker="o", markersize=4, color=color, label=label)
            ax.fill_between(part[x], low, high, color=line.get_color(), alpha=0.2, lw=0)
        else:
            ax.errorbar(part[x], part[y], yerr=[part[y] - low, high - part[y]], marker="o", markersize=4,
                        capsize=3, color=color, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if hue is not None:
        ax.legend()
    return ax
