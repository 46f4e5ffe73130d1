r"""Monte Carlo statistics used by the chapters and the tests: z-scores and two-level means.

**Two levels of randomness.** The error of a random code varies with the coefficient draw *and*
with the straggler set. With ``R`` draws and ``M`` straggler sets per draw, write
:math:`x_{rm}` for the error of set ``m`` under draw ``r`` and :math:`\bar x_r` for the mean of
draw ``r``. The draws are independent, so the per-draw means are i.i.d. and the grand mean
:math:`\bar x = \frac1R \sum_r \bar x_r` has standard error

.. math:: \mathrm{se}(\bar x) = \frac{\mathrm{sd}(\bar x_1, \dots, \bar x_R)}{\sqrt R},

which includes the between-draw variance :math:`\sigma_a^2` as well as the within-draw
:math:`\sigma_e^2/M`. The pooled formula :math:`\mathrm{sd}(x)/\sqrt{RM}` treats all ``RM``
values as independent and leaves out most of :math:`\sigma_a^2`: with ``R = 2`` draws it can be
an order of magnitude too small. With a single draw the between-draw variance cannot be
estimated at all; :func:`two_level_mean` then returns the within-draw standard error and says so.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["TwoLevel", "two_level_mean", "z_scores"]


class TwoLevel(NamedTuple):
    """A grand mean over draws and sets, with its standard errors.

    Attributes
    ----------
    mean : float
        Mean of the per-draw means (equal to the mean of all values when every draw has ``M`` sets).
    se : float
        ``sd(per-draw means) / √R`` for ``R ≥ 2`` draws; for one draw, the within-draw s.e.
        ``sd(values) / √M`` (conditional on that draw).
    se_within : float
        The pooled ``sd(all values) / √(RM)``, for comparison (too small when draws vary).
    draws : int
        ``R``.
    trials : int
        ``M``, sets per draw.
    """

    mean: float
    se: float
    se_within: float
    draws: int
    trials: int


def two_level_mean(values):
    """Mean and two-level standard error of errors from ``R`` draws × ``M`` straggler sets.

    Parameters
    ----------
    values : array_like, shape (R, M)
        Row ``r`` holds the errors of the ``M`` straggler sets under coefficient draw ``r``.

    Returns
    -------
    TwoLevel

    Raises
    ------
    ValueError
        If ``values`` is not 2-D with at least one draw and two sets, or is not finite.

    Examples
    --------
    >>> values = np.array([[1.0, 1.2, 0.8], [2.0, 2.2, 1.8]])  # two draws that differ a lot
    >>> result = two_level_mean(values)
    >>> round(result.mean, 6), round(result.se, 6), round(result.se_within, 3)
    (1.5, 0.5, 0.235)
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] < 1 or values.shape[1] < 2:
        raise ValueError(f"values must have shape (draws >= 1, trials >= 2), got {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("values must be finite")
    draws, trials = values.shape
    means = values.mean(axis=1)
    within = values.std(ddof=1) / np.sqrt(values.size)
    if draws >= 2:
        se = means.std(ddof=1) / np.sqrt(draws)
    else:
        se = values[0].std(ddof=1) / np.sqrt(trials)
    return TwoLevel(float(means.mean()), float(se), float(within), draws, trials)


def z_scores(samples, truth, *, atol=1e-12):
    r"""Per-entry z-scores of a Monte Carlo mean against the value it should estimate.

    :math:`z = (\bar x - \mu) / (\mathrm{sd}(x) / \sqrt{N})` for every entry of the samples'
    trailing shape. An entry with no spread across samples cannot have a z-score: it must equal
    ``truth`` within ``atol`` (checked) and gets ``z = 0``.

    Parameters
    ----------
    samples : array_like, shape (N, ...)
        ``N ≥ 2`` independent samples of an estimator.
    truth : array_like
        Broadcastable to ``samples.shape[1:]``.
    atol : float
        Tolerance for the entries with zero spread.

    Returns
    -------
    numpy.ndarray
        Shape ``samples.shape[1:]``.

    Raises
    ------
    ValueError
        If fewer than two samples are given, or an entry with zero spread differs from ``truth``
        by more than ``atol`` (a biased estimator that never varies).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = z_scores(rng.normal(1.0, 1.0, size=(10000, 3)), 1.0)
    >>> bool(np.all(np.abs(z) < 4))
    True
    >>> bool(np.abs(z_scores(rng.normal(1.1, 1.0, size=(10000, 3)), 1.0)).min() > 4)  # a bias of 0.1 is found
    True
    """
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim < 1 or samples.shape[0] < 2:
        raise ValueError(f"samples must hold at least two samples along axis 0, got shape {samples.shape}")
    truth = np.broadcast_to(np.asarray(truth, dtype=np.float64), samples.shape[1:])
    mean = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0])
    constant = se == 0
    if np.any(np.abs(mean - truth)[constant] > atol):
        raise ValueError("an entry with zero spread differs from truth: the estimator is biased there")
    return np.divide(mean - truth, se, out=np.zeros_like(mean), where=~constant)
