r"""The error engine: optimal error for one or many survivor sets, expectations, worst cases.

The optimal error of survivors ``S`` (book: *Notation and model*) is

.. math:: \mathrm{err}^*(S) = \min_D \lVert D B_S - T \rVert_F^2 = \lVert T (I - P_S) \rVert_F^2 ,

with :math:`P_S` the orthogonal projector onto the row space of :math:`B_S`.

**Batched evaluation by downdating.** Take an SVD :math:`B = U \Sigma V^\top` of rank ``r``
once, with :math:`K` (``n × (n - r)``) an orthonormal basis of the worker-space directions that
``B``'s columns miss (:math:`UU^\top + KK^\top = I`). The row space of :math:`B_S` is
:math:`V \Sigma\, \mathrm{range}(U_S^\top)`; a direction ``p`` of the stragglers' rows (a unit
vector of :math:`\mathbb{R}^s`) is lost with them exactly when the worker-space vector it spans
lies in :math:`\mathrm{range}(B)`, i.e. when :math:`K_R^\top p = 0`. With :math:`N_R` an
orthonormal basis of these directions (the left null space of the ``s × (n - r)`` block
:math:`K_R`), :math:`T' = T V` and :math:`Q = \Sigma^{-1} U_R^\top N_R`,

.. math:: \mathrm{err}^*(S) = \mathrm{err}^*([n]) + \lVert T' \Pi_Q \rVert_F^2 ,
          \qquad \lVert T' \Pi_Q \rVert_F^2 = \operatorname{tr} Z^\top (N_R^\top W_{RR} N_R)^{-1} Z,
          \quad Z = N_R^\top Y_R ,

with :math:`W = (BB^\top)^+` and :math:`Y = U\Sigma^{-1}T'^\top` computed once. Each pattern costs
a Cholesky factorisation of size ``s``, a triangular solve and a QR factorisation of the
``s × (n - r)`` block, without forming :math:`N_R` (:mod:`agc._schur`, compiled with numba),
instead of a least-squares problem of size ``(n - s) × kℓ``. With full row rank (``K`` empty,
every straggler's direction lost) this is the Schur-complement downdate
:math:`\mathrm{err}^* = \mathrm{err}^*([n]) + \operatorname{tr} Y_R^\top W_{RR}^{-1} Y_R`; when
``s <= n - r`` and :math:`K_R` has full row rank nothing is lost. The same formula covers
rank-deficient codes (fractional repetition, stacking, ``n > kℓ``, the polynomial code).

**Accuracy guard.** Downdating is used only when the row-equilibrated ``B`` has condition number at
most ``MAX_COND`` on its row space and a clear numerical rank (``RANK_GAP``); other codes are
evaluated directly, by an SVD of each ``B_S``. Whether a direction is lost is read off the
singular values ``κ`` of :math:`K_R`, which float64 resolves to about ``1e-13``; the eigenvalues
``λ = 1 - κ²`` of :math:`U_R U_R^\top` used before resolve only ``κ ≳ 1e-8``, and their
threshold ``1 - λ <= 1e-10`` counted a direction of the polynomial code with ``κ = 9e-6`` as lost
(err* 9.7 for a set it decodes exactly). Directions with ``LOST_TOL < κ < AMBIGUOUS_TOL`` are
kept but checked: if counting them lost would change ``err*`` by more than ``ENERGY_TOL``, the
pattern is recomputed directly.
``err*([n])`` is computed as a residual, not as :math:`k\ell - \lVert T' \rVert^2`, which cancels
to the rounding of :math:`k\ell`. Codes whose ``B_S`` have singular values within a few orders of
rounding (``1e-13`` relative) are not determined in float64: least squares on ``B`` and on
``3.7 B`` then disagree, and so may the two paths here.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import weakref
from dataclasses import dataclass

import numpy as np
from threadpoolctl import ThreadpoolController

from agc._checks import as_generator, check_int, check_probability, exactly_one, mask_batch, survivor_mask
from agc.code import Code, as_code
from agc.decoding import optimal_decoder
from agc.failures import (
    all_straggler_sets,
    bernoulli_enumeration,
    bernoulli_masks,
    fixed_masks,
    masks_from_stragglers,
)
from agc.stats import two_level_mean

#: A direction of the stragglers' rows is lost when its singular value ``κ`` in ``K_R`` is at most
#: this (rounding level: ``K`` is accurate to about ``MAX_COND·ε ≈ 2e-13``).
LOST_TOL = 1e-12
#: Directions with ``LOST_TOL < κ < AMBIGUOUS_TOL`` are kept, but checked: counting them lost must
#: change ``err*`` by at most ``ENERGY_TOL``, or the pattern is recomputed directly.
AMBIGUOUS_TOL = 1e-3
#: Largest change of ``err*`` (absolute) that a nearly lost direction may make on the fast path.
ENERGY_TOL = 1e-10
#: Largest condition number of the row-equilibrated ``B`` for which downdating is used.
MAX_COND = 1e3
#: Downdating also needs a clear rank: the first singular value counted as zero must lie a factor
#: ``RANK_GAP`` below the rank tolerance (exactly rank-deficient codes sit at rounding, about
#: ``1e-16`` relative, two orders below it).
RANK_GAP = 10.0
#: Corner ``c`` of the bordered matrices ``[[W, Y], [Yᵀ, c I]]``: above any energy (``err* <= kℓ``),
#: so they stay positive definite; it never mixes into the other blocks.
BORDER = 1e30
#: Patterns evaluated per batch (bounds memory at about ``BATCH * (s + n - r)**2 * 8`` bytes).
BATCH = 4096
#: Largest number of patterns an exhaustive search or exact expectation enumerates.
MAX_EXHAUSTIVE = 2_000_000

_SPECTRA = weakref.WeakKeyDictionary()


class _Spectrum:
    r"""SVD ``B = U Σ Vᵀ`` of the row-equilibrated ``B``, reduced to what the downdate needs.

    ``bordered`` is :math:`\begin{pmatrix} W & Y \\ Y^\top & cI \end{pmatrix}` with
    ``W = U Σ⁻² Uᵀ`` (:math:`(BB^\top)^+`), ``Y = U Σ⁻¹ T'ᵀ``, ``T' = T V`` and ``c = BORDER``,
    so that one gather gives each pattern's blocks; ``null_basis = K`` is an orthonormal basis of
    the ``n - r`` directions of worker space that ``B``'s columns miss (``UUᵀ + KKᵀ = I``), and
    ``schur`` is ``bordered`` with ``KKᵀ`` added to its worker block (see :mod:`agc._schur`).
    Scaling a row of ``B`` does not change the row space of any ``B_S``, so equilibrating the
    rows is free and improves the conditioning.
    """

    def __init__(self, code):
        norms = np.linalg.norm(code.B, axis=1, keepdims=True)
        U, sigma, Vt = np.linalg.svd(code.B / np.where(norms > 0, norms, 1.0), full_matrices=True)
        tol = max(code.B.shape) * np.finfo(float).eps * (sigma[0] if sigma.size else 0.0)
        r = int(np.sum(sigma > tol))
        clear_rank = r == sigma.size or sigma[r] * RANK_GAP <= tol
        self.downdate = r > 0 and sigma[0] / sigma[r - 1] <= MAX_COND and clear_rank
        self.null_basis = np.ascontiguousarray(U[:, r:])  # K, (n, n - r)
        U, inv_sigma = U[:, :r], 1.0 / sigma[:r]
        target = code.target @ Vt[:r].T  # T' = T V, shape (ell, r)
        Y = (U * inv_sigma) @ target.T  # (n, ell)
        self.bordered = np.block([[(U * inv_sigma**2) @ U.T, Y], [Y.T, BORDER * np.eye(code.ell)]])
        # [[W + KKᵀ, Y], [Yᵀ, cI]]: a positive definite worker block, for the compiled kernel (agc._schur)
        self.schur = self.bordered.copy()
        self.schur[: code.n, : code.n] += self.null_basis @ self.null_basis.T
        # err*([n]) = ||T - T' V_rᵀ||², not kℓ - ||T'||², which cancels to rounding of kℓ
        self.full_error = float(np.sum((code.target - target @ Vt[:r]) ** 2))


@functools.cache
def _blas_pools():
    """The process's BLAS thread pools, found once (inspecting the loaded libraries takes milliseconds).

    The engine's kernels are batches of matrices of size ``s`` or ``n - r``; on them BLAS threads
    only add synchronisation (batched ``eigh`` of 29 × 29 matrices ran 3 to 170 times slower
    with two threads than with one on the 2-core benchmark machine, and ``optimal_errors`` once
    50 times slower), so :func:`optimal_errors` runs with one.
    """
    return ThreadpoolController()


def _spectrum(code):
    spectrum = _SPECTRA.get(code)
    if spectrum is None:
        spectrum = _SPECTRA[code] = _Spectrum(code)
    return spectrum


def _gather(spectrum, stragglers):
    """Each pattern's bordered matrix ``[[W_RR, Y_R], [Y_Rᵀ, cI]]``, ``(m, s + ℓ, s + ℓ)``, in one ``take``."""
    size = spectrum.bordered.shape[0]
    m, ell = stragglers.shape[0], size - spectrum.null_basis.shape[0]
    rows = np.concatenate([stragglers, np.broadcast_to(np.arange(size - ell, size), (m, ell))], axis=1)
    return spectrum.bordered.take(rows[:, :, None] * size + rows[:, None, :])


def _energy(bordered, ell):
    r"""``tr(Zᵀ G⁻¹ Z)`` for a batch of bordered :math:`\begin{pmatrix} G & Z \\ Z^\top & cI \end{pmatrix}`.

    One Cholesky factorisation: the factor's lower-left block is :math:`(L^{-1}Z)^\top`,
    whatever ``c`` (numpy has no batched triangular solve, and ``solve`` costs three times as
    much). Falls back to ``solve`` if some ``G`` is not positive definite in floating point.
    """
    q = bordered.shape[1] - ell
    try:
        factor = np.linalg.cholesky(bordered)
    except np.linalg.LinAlgError:
        G, Z = bordered[:, :q, :q], bordered[:, :q, q:]
        return np.einsum("mqe,mqe->m", Z, np.linalg.solve(G, Z))
    lower = factor[:, q:, :q]
    return np.einsum("meq,meq->m", lower, lower)


def _projected(bordered, P, lost):
    """The bordered matrix of ``Nᵀ W N`` and ``Nᵀ Y``, ``N`` the columns of the orthonormal ``P``
    marked ``lost``; the other columns are zeroed and given a unit pivot, so that every pattern
    of the batch has the same size. On lost directions ``‖U_Rᵀ p‖ = 1``, so ``Nᵀ W_RR N`` is as
    well conditioned as ``Σ⁻²`` even where ``W_RR`` itself is singular.
    """
    m, s, q = P.shape
    ell = bordered.shape[1] - s
    transform = np.zeros((m, s + ell, q + ell))
    transform[:, :s, :q] = P if lost.all() else P * lost[:, None, :]
    transform[:, s:, q:] = np.eye(ell)
    projected = transform.swapaxes(1, 2) @ bordered @ transform
    diagonal = np.arange(q)
    projected[:, diagonal, diagonal] += ~lost
    return projected


def _lost_energy(spectrum, stragglers):
    """``||T' Π_Q||²`` for a batch of straggler index arrays of equal size (``m × s``).

    A direction ``p`` of the stragglers' rows (a unit vector in ``R^s``) is lost when the
    worker-space vector it spans lies in ``B``'s column space, i.e. when ``K_Rᵀ p = 0``: the lost
    directions are the left null space of ``K_R`` (``s × (n - r)``; with full row rank, ``n = r``,
    every direction is lost). When every singular value ``κ`` of ``K_R`` exceeds
    ``AMBIGUOUS_TOL`` (read off the small Gram matrix of ``K_R``; ``κ²`` is exact enough at that
    size), the energy comes from the compiled kernel :func:`agc._schur.lost_energies`, and
    nothing is lost when ``s <= n - r``. For the other patterns ``κ`` comes from an SVD of
    ``K_R``, accurate to about ``1e-13`` where ``1 - λ(U_R U_Rᵀ) = κ²`` resolves only
    ``κ ≳ 1e-8``: directions with ``κ <= LOST_TOL`` are lost, and, with ``N`` an orthonormal basis
    of them, ``QᵀQ = Nᵀ W_RR N`` and ``QᵀT'ᵀ = Nᵀ Y_R`` (:func:`_projected`, :func:`_energy`). Such
    a pattern is ambiguous (returned, to be recomputed directly) when also counting its directions
    with ``LOST_TOL < κ < AMBIGUOUS_TOL`` as lost would change the energy by more than
    ``ENERGY_TOL``.
    """
    m, s = stragglers.shape
    ell = spectrum.bordered.shape[1] - spectrum.null_basis.shape[0]
    ambiguous = np.zeros(m, dtype=bool)
    from agc._schur import lost_energies  # compiled on first use (numba), then cached on disk

    energy, clean = lost_energies(spectrum.schur, spectrum.null_basis, stragglers, ell, AMBIGUOUS_TOL**2)
    rest = np.flatnonzero(~clean)
    if rest.size and spectrum.null_basis.shape[1] == 0:  # full row rank: every direction is lost
        energy[rest] = _energy(_gather(spectrum, stragglers[rest]), ell)
    elif rest.size:
        bordered = _gather(spectrum, stragglers[rest])
        P, singular, _ = np.linalg.svd(spectrum.null_basis[stragglers[rest]], full_matrices=True)  # (m', s, s)
        structural = np.ones((rest.size, s - singular.shape[1]), dtype=bool)
        lost = np.concatenate([singular <= LOST_TOL, structural], axis=1)
        unsure = np.concatenate([(singular > LOST_TOL) & (singular < AMBIGUOUS_TOL), ~structural], axis=1)
        energy[rest] = _energy(_projected(bordered, P, lost), ell)
        check = unsure.any(axis=1)
        if check.any():
            upper = _energy(_projected(bordered[check], P[check], lost[check] | unsure[check]), ell)
            ambiguous[rest[check]] = upper - energy[rest[check]] > ENERGY_TOL
    return energy, ambiguous


def _direct_errors(code, masks):
    """Optimal errors by an SVD of each ``B_S`` (batched per survivor count); the robust path."""
    errors = np.empty(masks.shape[0])
    counts = masks.sum(axis=1)
    for size in np.unique(counts):
        rows = np.flatnonzero(counts == size)
        if size == 0:
            errors[rows] = code.k * code.ell
            continue
        for start in range(0, rows.size, BATCH):
            part = rows[start:start + BATCH]
            B_S = code.B[np.nonzero(masks[part])[1].reshape(part.size, size)]  # (m, size, kℓ)
            _, sigma, Vt = np.linalg.svd(B_S, full_matrices=False)
            tol = max(B_S.shape[1:]) * np.finfo(float).eps * sigma[:, :1]
            kept = (code.target @ Vt.swapaxes(1, 2)) * (sigma > tol)[:, None, :]
            # ||T - T P_S||², not kℓ - ||T P_S||², which cancels to rounding of kℓ
            errors[part] = np.sum((code.target - kept @ Vt) ** 2, axis=(1, 2))
    return errors


def optimal_error(code, survivors, normalized=False):
    r"""Optimal error :math:`\mathrm{err}^*(S)` of one survivor set, by least squares.

    The direct computation with :func:`agc.optimal_decoder` (LAPACK ``gelsy``, minimum norm); the
    batched :func:`optimal_errors` is checked against it.

    Parameters
    ----------
    code : agc.Code
    survivors : array_like
        Index array or boolean mask of length ``n``.
    normalized : bool
        Divide by :math:`k\ell` (0 = exact recovery, 1 = nothing recovered).

    Returns
    -------
    float

    Examples
    --------
    >>> import agc
    >>> code = agc.encodings.stacking(agc.assignments.cyclic(4, 4, 2), 2)
    >>> optimal_error(code, [0, 1, 2, 3])  # stacking loses k(ell-1) even with no straggler
    4.0
    """
    code = as_code(code)
    mask = survivor_mask(survivors, code.n)
    with _blas_pools().limit(limits=1, user_api="blas"):  # one small factorisation: threads only cost
        D = optimal_decoder(code, mask)
        error = float(np.sum((D @ code.B[mask] - code.target) ** 2)) if mask.any() else float(code.k * code.ell)
    return error / (code.k * code.ell) if normalized else error


def optimal_errors(code, masks, normalized=False):
    r"""Optimal errors of many survivor sets at once (SVD downdating; see the module notes).

    Parameters
    ----------
    code : agc.Code
    masks : array_like of bool, shape (m, n)
        Row ``t`` marks the survivors of pattern ``t``.
    normalized : bool
        Divide by :math:`k\ell`.

    Returns
    -------
    numpy.ndarray, shape (m,)
        Agrees with :func:`optimal_error` to about ``1e-9`` on well-conditioned codes.

    Examples
    --------
    >>> import agc
    >>> code = agc.encodings.polynomial(agc.assignments.cyclic(6, 6, 4), 2)
    >>> errors = optimal_errors(code, agc.failures.all_straggler_sets(6, 2))
    >>> bool(np.max(errors) < 1e-9)
    True
    """
    code = as_code(code)
    masks = mask_batch(masks, code.n)
    with _blas_pools().limit(limits=1, user_api="blas"):  # tiny batched LAPACK calls: threads only cost
        spectrum = _spectrum(code)
        errors = _downdated_errors(code, spectrum, masks) if spectrum.downdate else _direct_errors(code, masks)
    errors = np.clip(errors, 0.0, code.k * code.ell)
    return errors / (code.k * code.ell) if normalized else errors


def _downdated_errors(code, spectrum, masks):
    """``err*([n])`` plus the lost energy of each pattern, batched by straggler count; ambiguous
    patterns (see :func:`_lost_energy`) are recomputed by :func:`_direct_errors`.
    """
    errors = np.full(masks.shape[0], spectrum.full_error)
    ambiguous = np.zeros(masks.shape[0], dtype=bool)
    straggler_counts = code.n - masks.sum(axis=1)
    for s in np.unique(straggler_counts):
        if s == 0:
            continue
        rows = np.flatnonzero(straggler_counts == s)
        stragglers = np.nonzero(~masks[rows])[1].reshape(rows.size, s)
        for start in range(0, rows.size, BATCH):
            part = slice(start, start + BATCH)
            energy, unsure = _lost_energy(spectrum, stragglers[part])
            errors[rows[part]] += energy
            ambiguous[rows[part]] = unsure
    if ambiguous.any():
        errors[ambiguous] = _direct_errors(code, masks[ambiguous])
    return errors


@dataclass(frozen=True)
class Estimate:
    """An expected error: ``mean`` with standard error ``se`` (0 when ``exact``).

    Attributes
    ----------
    mean : float
    se : float
        Standard error of ``mean`` over the patterns.
    trials : int
        Patterns averaged (or enumerated).
    exact : bool
        Whether every pattern was enumerated with its probability.
    """

    mean: float
    se: float
    trials: int
    exact: bool


def _failure_masks(n, p, s, trials, rng):
    exactly_one(p=p, s=s)
    return bernoulli_masks(n, p, trials, rng) if p is not None else fixed_masks(n, s, trials, rng)


def expected_error(code, *, p=None, s=None, trials=1000, seed=None, exact=False, normalized=False):
    r"""Expected optimal error under Bernoulli(``p``) failures or ``s`` uniform stragglers.

    The mean over straggler sets of one code; for a random construction, whose error also varies
    with the coefficient draw, use :func:`error_curve` with ``draws``.

    Parameters
    ----------
    code : agc.Code
    p : float, optional
        Each worker fails independently with probability ``p`` in ``[0, 1)``.
    s : int, optional
        Exactly ``s`` stragglers, uniformly at random. Give exactly one of ``p`` and ``s``.
    trials : int
        Monte Carlo patterns (ignored when ``exact``).
    seed : int or numpy.random.Generator, optional
    exact : bool
        Enumerate every pattern: weights :math:`p^s(1-p)^{n-s}` for ``n <= 20``, or all
        :math:`\binom{n}{s}` sets.
    normalized : bool
        Divide by :math:`k\ell`.

    Returns
    -------
    Estimate

    Examples
    --------
    >>> import agc
    >>> code = agc.encodings.stacking(agc.assignments.fractional_repetition(6, 6, 3), 1)
    >>> est = expected_error(code, p=0.5, exact=True, normalized=True)
    >>> round(est.mean, 12)  # p ** replication
    0.125
    """
    code = as_code(code)
    kind = exactly_one(p=p, s=s)
    if exact:
        if kind == "p":
            masks, weights = bernoulli_enumeration(code.n, p)
        else:
            s = check_int("s", s, low=0, high=code.n - 1)
            if math.comb(code.n, s) > MAX_EXHAUSTIVE:
                raise ValueError(f"s={s}: C({code.n}, {s}) patterns exceed MAX_EXHAUSTIVE={MAX_EXHAUSTIVE}")
            masks = all_straggler_sets(code.n, s)
            weights = np.full(masks.shape[0], 1.0 / masks.shape[0])
        mean = float(weights @ optimal_errors(code, masks, normalized))
        return Estimate(mean, 0.0, masks.shape[0], True)
    trials = check_int("trials", trials, low=2)
    masks = _failure_masks(code.n, p, s, trials, as_generator(seed))
    errors = optimal_errors(code, masks, normalized)
    return Estimate(float(errors.mean()), float(errors.std(ddof=1) / np.sqrt(trials)), trials, False)


def error_curve(code, *, p=None, s=None, trials=1000, draws=1, seed=None, normalized=False, progress=False):
    r"""Expected optimal error at each failure probability ``p`` or straggler count ``s``, over draws and sets.

    For each of ``draws`` coefficient draws :math:`r` and each point, ``trials`` fresh straggler
    sets are drawn and the mean error :math:`\bar x_r` of the draw is taken; the point's mean is
    the mean over draws and its standard error is ``sd(per-draw means) / √draws``, which includes
    the draw-to-draw variance (two levels; see :mod:`agc.stats`). With one draw the s.e. is over
    the straggler sets only, conditional on that code.

    Parameters
    ----------
    code : agc.Code or callable
        A code, or a construction ``seed -> agc.Code`` that draws a new code for each coefficient
        draw, e.g. ``lambda seed: agc.encodings.rdm(A, 2, seed=seed)`` or
        :func:`agc.registry.construction`. A fixed code allows only ``draws=1``.
    p : float or sequence of float, optional
        Bernoulli failure probabilities in ``[0, 1)``.
    s : int or sequence of int, optional
        Straggler counts (uniform sets of exactly ``s``). Give exactly one of ``p`` and ``s``.
    trials : int
        Straggler sets per draw and point, ``>= 2``.
    draws : int
        Coefficient draws; the codes are drawn once and shared by every point of the curve.
    seed : int or numpy.random.Generator, optional
        One generator drives the draws' seeds and every straggler set: same seed, same curve.
    normalized : bool
        Divide by :math:`k\ell`.
    progress : bool
        Show a tqdm bar over the points.

    Returns
    -------
    pandas.DataFrame
        One row per point: ``p`` or ``s``, ``model`` (``"bernoulli"`` or ``"fixed"``), ``mean``,
        ``se`` (two-level when ``draws >= 2``), ``se_within`` (the pooled s.e. that ignores the
        draws, for comparison), ``draws``, ``trials``, and ``code`` (the code's name).

    Raises
    ------
    ValueError
        If neither or both of ``p`` and ``s`` are given, a value is out of range, ``trials < 2``,
        ``draws < 1``, or ``draws > 1`` for a fixed code.
    TypeError
        If ``code`` is neither an :class:`agc.Code` nor callable, or the construction does not
        return a Code.

    Examples
    --------
    >>> import agc
    >>> A = agc.assignments.cyclic(8, 8, 3)
    >>> curve = error_curve(lambda seed: agc.encodings.rdm(A, 2, seed=seed), s=[0, 2], trials=50, draws=4, seed=0)
    >>> list(curve.columns)
    ['s', 'model', 'mean', 'se', 'se_within', 'draws', 'trials', 'code']
    >>> bool((curve["mean"] > 0).all()), curve["draws"].tolist()
    (True, [4, 4])
    """
    import pandas as pd
    from tqdm import tqdm  # tqdm.auto warns on stderr in a notebook without ipywidgets

    key = exactly_one(p=p, s=s)
    values = list(np.atleast_1d(np.asarray(p if key == "p" else s, dtype=object)))
    if not values:
        raise ValueError(f"{key} must hold at least one value")
    trials = check_int("trials", trials, low=2)
    draws = check_int("draws", draws, low=1)
    rng = as_generator(seed)
    if isinstance(code, Code):
        if draws != 1:
            raise ValueError(f"draws={draws} needs a construction (a callable seed -> Code); code {code.name!r} is fixed")
        codes = [code]
    elif callable(code):
        codes = [as_code(code(int(x)), "the construction's result") for x in rng.integers(0, 2**32, size=draws)]
    else:
        raise TypeError(f"code must be an agc.Code or a callable seed -> Code, got {type(code).__name__}")
    n = codes[0].n
    if key == "p":
        values = [check_probability("p", x) for x in values]
    else:
        values = [check_int("s", x, low=0, high=n - 1) for x in values]
    rows = []
    for x in tqdm(values, desc=f"{codes[0].name}: error vs {key}", disable=not progress):
        point = {"p": x} if key == "p" else {"s": x}
        errors = np.array([optimal_errors(c, _failure_masks(n, point.get("p"), point.get("s"), trials, rng), normalized)
                           for c in codes])
        summary = two_level_mean(errors)
        rows.append({key: x, "model": "bernoulli" if key == "p" else "fixed", "mean": summary.mean,
                     "se": summary.se, "se_within": summary.se_within, "draws": draws, "trials": trials,
                     "code": codes[0].name})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class WorstCase:
    """The largest error found over straggler sets of one size, and the set attaining it.

    Attributes
    ----------
    error : float
        The largest optimal error found (normalised when asked).
    stragglers : tuple of int
        A straggler set attaining it.
    exhaustive : bool
        Whether every set was evaluated (otherwise ``error`` is a lower estimate of the true worst case).
    evaluated : int
        Patterns evaluated.
    """

    error: float
    stragglers: tuple
    exhaustive: bool
    evaluated: int


def _combination_batches(n, s):
    if s == 0:
        yield np.ones((1, n), dtype=bool)
        return
    combos = itertools.combinations(range(n), s)
    while True:
        block = np.array(list(itertools.islice(combos, BATCH)), dtype=np.int64).reshape(-1, s)
        if block.shape[0] == 0:
            return
        yield masks_from_stragglers(n, block)


def worst_case(code, s, *, method="auto", restarts=8, seed=None, max_exhaustive=MAX_EXHAUSTIVE, normalized=False):
    r"""Worst-case optimal error over all straggler sets of size ``s``.

    Parameters
    ----------
    code : agc.Code
    s : int
        Number of stragglers, ``0 <= s < n``.
    method : {"auto", "exhaustive", "search"}
        ``"exhaustive"`` enumerates all :math:`\binom{n}{s}` sets; ``"search"`` runs greedy
        construction followed by best-improvement swap local search, from the greedy start and
        ``restarts`` random starts (a lower estimate of the true worst case); ``"auto"`` is
        exhaustive when at most ``max_exhaustive`` sets exist.
    restarts : int
        Random restarts of the local search.
    seed : int or numpy.random.Generator, optional
    max_exhaustive : int
        Largest number of sets ``"auto"`` and ``"exhaustive"`` enumerate.
    normalized : bool
        Report ``error`` divided by :math:`k\ell`.

    Returns
    -------
    WorstCase
        ``error``, the ``stragglers`` attaining it, whether the search was ``exhaustive``, and how
        many patterns were ``evaluated``.

    Examples
    --------
    >>> import agc
    >>> code = agc.encodings.stacking(agc.assignments.fractional_repetition(6, 6, 2), 1)
    >>> worst_case(code, 2).error  # silencing one group loses its two chunks
    2.0
    """
    code = as_code(code)
    n = code.n
    s = check_int("s", s, low=0, high=n - 1)
    if method not in ("auto", "exhaustive", "search"):
        raise ValueError(f"method must be 'auto', 'exhaustive' or 'search', got {method!r}")
    if method == "auto":
        method = "exhaustive" if math.comb(n, s) <= max_exhaustive else "search"
    if method == "exhaustive":
        if math.comb(n, s) > max_exhaustive:
            raise ValueError(f"s={s}: C({n}, {s}) = {math.comb(n, s)} sets exceed max_exhaustive={max_exhaustive}")
        best, best_mask, evaluated = -1.0, None, 0
        for masks in _combination_batches(n, s):
            errors = optimal_errors(code, masks)
            evaluated += masks.shape[0]
            t = int(np.argmax(errors))
            if errors[t] > best:
                best, best_mask = float(errors[t]), masks[t]
        found = WorstCase(best, tuple(np.flatnonzero(~best_mask).tolist()), True, evaluated)
    else:
        found = _local_search(code, s, check_int("restarts", restarts, low=0), as_generator(seed))
    if normalized:
        found = dataclasses.replace(found, error=found.error / (code.k * code.ell))
    return found


def _local_search(code, s, restarts, rng):
    n = code.n
    evaluated = 0

    def improve(stragglers):
        nonlocal evaluated
        current = optimal_errors(code, masks_from_stragglers(n, [stragglers]))[0]
        evaluated += 1
        while s > 0:
            outside = np.setdiff1d(np.arange(n), stragglers)
            swaps = [(a, b) for a in range(s) for b in outside]
            candidates = []
            for a, b in swaps:
                trial = stragglers.copy()
                trial[a] = b
                candidates.append(trial)
            errors = optimal_errors(code, masks_from_stragglers(n, candidates))
            evaluated += len(candidates)
            t = int(np.argmax(errors))
            if errors[t] <= current + 1e-12:
                break
            current, stragglers = float(errors[t]), candidates[t]
        return float(current), stragglers

    greedy = np.zeros(0, dtype=np.int64)
    for _ in range(s):
        outside = np.setdiff1d(np.arange(n), greedy)
        errors = optimal_errors(code, masks_from_stragglers(n, [np.append(greedy, b) for b in outside]))
        evaluated += outside.size
        greedy = np.append(greedy, outside[int(np.argmax(errors))])
    starts = [greedy] + [rng.choice(n, size=s, replace=False) for _ in range(restarts)]
    best, best_set = -1.0, None
    for start in starts:
        error, stragglers = improve(np.asarray(start, dtype=np.int64))
        if error > best:
            best, best_set = error, stragglers
    return WorstCase(best, tuple(sorted(best_set.tolist())), False, evaluated)
