r"""Learned codes: coefficients on the support of an assignment fitted by gradient descent.

The coefficients of ``B`` on the support of ``A`` (book: *How good can a code on this assignment be?*) are
``n·load·ℓ`` free numbers. :func:`optimized` minimises the expected optimal error

.. math:: \mathbb{E}_S\, \mathrm{err}^*(S), \qquad
          \mathrm{err}^*(S) = k\ell - \operatorname{tr}\bigl(T B_S^\top (B_S B_S^\top)^{+} B_S T^\top\bigr)
          = \min_D \lVert D B_S - T \rVert_F^2 ,

over them with Adam, drawing fresh survivor patterns every step. ``err*`` is invariant to
scaling a worker's row, so the parameter is one unnormalised row per worker, normalised before
use (a direction per worker).

**The objective and its gradient.** ``err*`` is differentiable only where the rank of
:math:`B_S` is constant; its ridge-regularised form

.. math:: \mathrm{err}_\varepsilon(S) = \min_D \lVert D B_S - T \rVert_F^2 + \varepsilon \lVert D \rVert_F^2 ,
          \qquad D_S = T B_S^\top (B_S B_S^\top + \varepsilon I)^{-1} ,

(``ε`` = ``RIDGE``, relative to rows of unit norm) is smooth everywhere, lies above ``err*``
by at most :math:`k\ell\,\varepsilon/\sigma_{\min}^2` and, by the envelope theorem, has the
gradient :math:`\partial\,\mathrm{err}_\varepsilon / \partial B_S = 2 D_S^\top (D_S B_S - T)`:
only the decoders are computed, nothing is differentiated through a factorisation. The loss
recorded is :math:`\lVert D_S B_S - T \rVert_F^2`, which lies between ``err*`` and
:math:`\mathrm{err}_\varepsilon` and is computed as a residual, so it keeps its accuracy when
the code becomes nearly rank deficient (as exact codes are).

**Batched decoders.** With :math:`G = BB^\top + \varepsilon I`, :math:`W = G^{-1}`,
:math:`Y_S` the block sums :math:`BT^\top` of the survivors (zero for stragglers ``R``) and
:math:`V = W Y_S`, the block inverse :math:`(G_{SS})^{-1} = W_{SS} - W_{SR} W_{RR}^{-1} W_{RS}`
gives every pattern's decoder (transposed) as

.. math:: Z = V - W_{:,R}\, W_{RR}^{-1} V_R \qquad (Z_R = 0),

one ``n × n`` Cholesky factorisation per step and an ``s × s`` one per pattern: the
Schur-complement downdate of the error engine (:mod:`agc.engine`), in torch. Patterns of
different sizes share a batch by padding ``W_RR`` with the identity. If a factorisation fails,
each pattern's masked Gram matrix is factorised instead.

The loss is a Monte Carlo estimate of the objective, not a measurement of the code: measure a
learned code with the error engine on fresh patterns, e.g.
``agc.expected_error(code, s=9, trials=2000, seed=1)``.
"""

from __future__ import annotations

import math
import numbers
import time

import numpy as np

from agc._checks import as_generator, check_binary_matrix, check_int
from agc.code import EXACT_TOL, Code
from agc.decoding import optimal_decoder
from agc.encodings.random import rdm
from agc.failures import bernoulli_masks, failure_probabilities, fixed_masks
from agc.seeds import seed_record

#: Ridge added to the Gram matrix of the row-normalised ``B`` (whose diagonal is one).
RIDGE = 1e-10
#: Default Adam step size; the parameter's rows start at unit norm.
LEARNING_RATE = 0.03


def optimized(A, ell, *, p=None, s=None, steps=2000, batch=256, lr=LEARNING_RATE, init="rdm",
              seed=None, progress=True, heldout=1000, eval_every=None, threads=1, callback=None):
    r"""A code on the assignment ``A`` learned to minimise the expected optimal error.

    Minimises :math:`\mathbb{E}_S\,\mathrm{err}^*(S)` (see the module notes) under Bernoulli(``p``)
    failures or ``s`` uniformly random stragglers, by Adam on the support entries of ``B``
    (float64, torch), with a cosine-annealed step size from ``lr`` to zero over ``steps``.
    Every step draws ``batch`` fresh survivor patterns (:mod:`agc.failures`) and follows the
    gradient of their mean ridge-regularised error, computed from their least-squares decoders
    by the envelope theorem (module notes). Each row of ``B`` is normalised to unit length
    (``err*`` does not depend on a row's scale); entries outside the support of ``A`` are
    never parameters, so they stay zero.

    Parameters
    ----------
    A : array_like, shape (n, k)
        0/1 assignment.
    ell : int
        Communication reduction, ``ell >= 1``.
    p : float or array_like of shape (n,), optional
        Each worker fails independently with probability ``p`` in ``[0, 1)``, or worker ``j``
        with its own ``p[j]`` (heterogeneous failures, :func:`agc.failures.bernoulli_masks`).
    s : int or sequence of int, optional
        Exactly ``s`` stragglers, ``0 <= s <= n - 1``, uniformly at random; a sequence gives
        the uniform mixture over its values (a code for a range of straggler counts). Give
        exactly one of ``p`` and ``s``.
    steps : int
        Adam steps, ``>= 1``.
    batch : int
        Survivor patterns per step, ``>= 1``.
    lr : float
        Initial Adam step size, positive (the rows of the parameter have unit norm at the start).
    init : {"rdm", "gaussian"} or agc.Code
        Starting point: :func:`agc.encodings.rdm` drawn from ``seed``, i.i.d. :math:`N(0, 1)`
        on the support, or the coefficients of a code on the same assignment and ``ell``.
        A start in which every worker serves one block (the block split) is a critical point
        in the coefficients of the other blocks (``err*`` is even in them), which then stay
        zero: the descent keeps that structure.
    seed : int or numpy.random.Generator, optional
        Drives the start and every pattern drawn; the same seed gives the same ``B``.
    progress : bool
        Show a ``tqdm`` progress bar.
    heldout : int
        Fixed patterns, drawn once from a stream of their own, on which the objective is
        estimated every ``eval_every`` steps (``>= 2``); not used for training.
    eval_every : int, optional
        Steps between held-out estimates (default ``max(1, steps // 20)``; the last step is
        always evaluated).
    threads : int, optional
        Torch threads for the duration of the call (restored afterwards); ``None`` keeps
        torch's setting.
    callback : callable, optional
        Called as ``callback(step, code)`` with the current :class:`agc.Code` at every held-out
        estimate (for example to measure it with the error engine).

    Returns
    -------
    agc.Code
        ``name="optimized"``; ``params`` holds ``ell``, ``p`` (a float, or a list of one per
        worker) or ``s``, ``steps``, ``batch``, ``lr``, ``seed`` (``None`` unless an int),
        ``init`` (``"rdm"``, ``"gaussian"`` or the name of the starting code), ``ridge`` and
        ``history``: a dict of plain lists, ``loss``
        (the mean error of each step's patterns), ``heldout_step``, ``heldout_mean`` and
        ``heldout_se`` (the objective on the held-out patterns, unnormalised, with its standard
        error) and ``heldout_seconds`` (wall time since the start).

    Raises
    ------
    ValueError
        If both or neither of ``p`` and ``s`` are given; ``p`` (or an entry of it) is outside
        ``[0, 1)``, or a vector of a length other than ``n``; ``s`` is outside ``[0, n - 1]``;
        ``ell``, ``steps``, ``batch``, ``heldout`` or ``eval_every``
        are too small; ``lr`` is not a positive finite number; ``init`` is unknown, or a code
        on another assignment, another ``ell`` or with a zero row.

    References
    ----------
    Munim and Ramamoorthy, *Communication-Efficient Approximate Gradient Coding*, 2026 (the
    problem); Kingma and Ba, *Adam: A method for stochastic optimization*, ICLR 2015.

    Examples
    --------
    >>> import agc
    >>> A = agc.assignments.cyclic(8, 8, 3)
    >>> code = optimized(A, 2, s=1, steps=200, seed=0, progress=False)
    >>> start = agc.encodings.rdm(A, 2, seed=0)
    >>> learned = agc.expected_error(code, s=1, exact=True).mean
    >>> bool(learned < agc.expected_error(start, s=1, exact=True).mean / 10)
    True
    >>> bool(np.all(code.B[:, :8][code.assignment == 0] == 0))
    True
    """
    A = check_binary_matrix("A", A)
    ell = check_int("ell", ell, low=1)
    model = _failure_model(p, s, A.shape[0])
    steps = check_int("steps", steps, low=1)
    batch = check_int("batch", batch, low=1)
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    heldout = check_int("heldout", heldout, low=2)
    eval_every = max(1, steps // 20) if eval_every is None else check_int("eval_every", eval_every, low=1)
    if threads is not None:
        threads = check_int("threads", threads, low=1)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {callback!r}")
    rng = as_generator(seed)
    start, init_name = _start(init, A, ell, rng)

    import torch

    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        B, history = _train(A, ell, start, model, steps, batch, float(lr), rng, heldout, eval_every,
                            progress, callback)
    finally:
        torch.set_num_threads(previous_threads)
    params = {"ell": ell, **model.record(), "steps": steps, "batch": batch, "lr": float(lr),
              "seed": seed_record(seed), "init": init_name, "ridge": RIDGE, "history": history}
    return Code(B, A, ell, name="optimized", params=params)


def exact_without_stragglers(code):
    r"""A small correction on the support of ``A`` that makes a code exact when every worker answers.

    A learned code minimises an expected error and, with stragglers, leaves
    :math:`\mathrm{err}^*([n]) = \min_D \lVert D B - T \rVert_F^2` small but not zero. Fix the
    optimal decoder with all workers, :math:`D = T B^{+}`, and its residual :math:`R = T - D B`.
    Column ``c = u·k + i`` of ``B`` may change only on the holders :math:`N(i)` of chunk ``i``;
    :math:`D (B + \Delta) = T` asks, column by column,

    .. math:: D_{:, N(i)}\, \Delta_{N(i), c} = R_{:, c} ,

    ``ℓ`` equations in :math:`\gamma_i` unknowns, solved with the least norm
    (:math:`\Delta_{N(i), c} = D_{:, N(i)}^{+} R_{:, c}`). Then :math:`D (B + \Delta) = T`
    exactly, the change is of the order of :math:`\sqrt{\mathrm{err}^*([n])}`, and so is its
    effect on the error of every other survivor set (measure it with the error engine). A code
    that is already exact is returned unchanged (up to rounding).

    Parameters
    ----------
    code : agc.Code
        Any code (typically a learned one).

    Returns
    -------
    agc.Code
        The same name and assignment; ``params`` gains ``"exact_without_stragglers"``: the
        Frobenius norm of the change, relative to that of ``B``.

    Raises
    ------
    ValueError
        If the correction does not exist: for some chunk the decoder's columns
        :math:`D_{:, N(i)}` do not span the residual (e.g. a chunk whose holders all serve one
        block), so the corrected code is not exact.

    Examples
    --------
    >>> import agc
    >>> A = agc.assignments.cyclic(8, 8, 3)
    >>> code = optimized(A, 2, s=[0, 1, 2], steps=30, seed=0, progress=False)
    >>> exact = exact_without_stragglers(code)
    >>> bool(agc.optimal_error(code, range(8)) > 1e-9), bool(agc.optimal_error(exact, range(8)) < 1e-12)
    (True, True)
    """
    everyone = np.ones(code.n, dtype=bool)
    D = optimal_decoder(code, everyone)
    residual = code.target - D @ code.B
    support = np.tile(code.assignment, (1, code.ell)).astype(bool)
    change = np.zeros_like(code.B)
    for column in range(code.B.shape[1]):
        rows = np.flatnonzero(support[:, column])
        if rows.size:
            change[rows, column] = np.linalg.pinv(D[:, rows]) @ residual[:, column]
    B = code.B + change
    left = np.linalg.norm(D @ B - code.target) / math.sqrt(code.k * code.ell)
    if left > EXACT_TOL:
        raise ValueError(f"code {code.name!r} cannot be made exact this way: the decoder's columns on some chunk's "
                         f"holders do not span the residual (||D B' - T||_F / sqrt(k*ell) = {left:.3g})")
    relative = float(np.linalg.norm(change) / np.linalg.norm(code.B))
    return Code(B, code.assignment, code.ell, name=code.name,
                params={**code.params, "exact_without_stragglers": relative})


class _FailureModel:
    """Bernoulli(``p``) failures (``p`` a length-``n`` vector), or a uniform mixture over fixed straggler counts ``s``."""

    def __init__(self, n, p=None, counts=None, scalar=True):
        self.n, self.p, self.counts, self.scalar = n, p, counts, scalar

    def masks(self, trials, rng):
        if self.p is not None:
            return bernoulli_masks(self.n, self.p, trials, rng)
        if len(self.counts) == 1:
            return fixed_masks(self.n, self.counts[0], trials, rng)
        per_count = rng.multinomial(trials, np.full(len(self.counts), 1.0 / len(self.counts)))
        return np.vstack([fixed_masks(self.n, s, m, rng) for s, m in zip(self.counts, per_count) if m])

    def record(self):
        if self.p is not None:
            return {"p": float(self.p[0]) if self.scalar else self.p.tolist()}
        return {"s": self.counts[0] if self.scalar else list(self.counts)}


def _failure_model(p, s, n):
    if (p is None) == (s is None):
        raise ValueError(f"give exactly one of p (Bernoulli failures) or s (fixed number of stragglers), "
                         f"got p={p!r} and s={s!r}")
    if p is not None:
        return _FailureModel(n, p=failure_probabilities(n, p), scalar=np.ndim(p) == 0)
    if isinstance(s, numbers.Integral) and not isinstance(s, bool):
        return _FailureModel(n, counts=[check_int("s", s, low=0, high=n - 1)])
    try:
        values = list(s)
    except TypeError:
        raise TypeError(f"s must be an integer or a sequence of integers, got {s!r}") from None
    if not values:
        raise ValueError("s must not be an empty sequence")
    return _FailureModel(n, counts=[check_int("s", v, low=0, high=n - 1) for v in values], scalar=False)


def _start(init, A, ell, rng):
    """The starting ``B`` (rows of unit norm) and the name recorded for it."""
    support = np.tile(A, (1, ell)).astype(bool)
    if isinstance(init, Code):
        if init.ell != ell or not np.array_equal(init.assignment, A):
            raise ValueError(f"init must be a code on the same assignment and ell={ell}, got {init!r}")
        B, name = np.array(init.B), init.name
    elif isinstance(init, str) and init == "rdm":
        B, name = rdm(A, ell, seed=rng).B.copy(), "rdm"
    elif isinstance(init, str) and init == "gaussian":
        B, name = np.where(support, rng.standard_normal(support.shape), 0.0), "gaussian"
    else:
        raise ValueError(f"init must be 'rdm', 'gaussian' or an agc.Code, got {init!r}")
    norms = np.linalg.norm(B, axis=1)
    loaded = support.any(axis=1)
    if np.any(loaded & (norms == 0)):
        j = int(np.flatnonzero(loaded & (norms == 0))[0])
        raise ValueError(f"init has a zero row for worker {j}, which holds chunks: its direction is undefined")
    return B / np.where(norms > 0, norms, 1.0)[:, None], name


def _train(A, ell, start, model, steps, batch, lr, rng, heldout, eval_every, progress, callback):
    import torch

    if progress:
        from tqdm.auto import tqdm
    else:  # tqdm.auto warns on import in a notebook without ipywidgets, even for a disabled bar
        from tqdm import tqdm

    n, k = A.shape
    support = np.tile(A, (1, ell)).astype(bool)
    rows, cols = np.nonzero(support)
    rows_t, cols_t = torch.from_numpy(rows), torch.from_numpy(cols)
    entries = torch.tensor(start[rows, cols], dtype=torch.float64, requires_grad=True)

    def current():
        X = torch.zeros(n, k * ell, dtype=torch.float64).index_put((rows_t, cols_t), entries)
        return X / X.norm(dim=1, keepdim=True).clamp_min(np.finfo(float).tiny)

    train_rng, heldout_rng = rng.spawn(2)
    heldout_masks = torch.from_numpy(model.masks(heldout, heldout_rng))
    optimizer = torch.optim.Adam([entries], lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    history = {"loss": [], "heldout_step": [], "heldout_mean": [], "heldout_se": [], "heldout_seconds": []}
    began = time.perf_counter()
    bar = tqdm(range(steps), desc="optimized", disable=not progress)
    for step in bar:
        masks = torch.from_numpy(model.masks(batch, train_rng))
        B = current()
        with torch.no_grad():  # the envelope theorem: d err / d B_S = 2 D_Sᵀ (D_S B_S - T)
            Z = batch_decoders(B, masks, k, ell)
            residuals = _residuals(B, Z, k, ell)
            gradient = 2.0 / batch * Z.permute(1, 0, 2).reshape(n, -1) @ residuals.reshape(-1, k * ell)
        optimizer.zero_grad()
        B.backward(gradient)
        optimizer.step()
        schedule.step()
        history["loss"].append(float(residuals.pow(2).sum()) / batch)
        if (step + 1) % eval_every == 0 or step == steps - 1:
            with torch.no_grad():
                B = current()
                errors = batch_errors(B, heldout_masks, k, ell)
            history["heldout_step"].append(step + 1)
            history["heldout_mean"].append(float(errors.mean()))
            history["heldout_se"].append(float(errors.std() / math.sqrt(heldout)))
            history["heldout_seconds"].append(time.perf_counter() - began)
            bar.set_postfix(loss=f"{history['loss'][-1]:.4g}", heldout=f"{history['heldout_mean'][-1]:.4g}")
            if callback is not None:
                callback(step + 1, Code(B.numpy().copy(), A, ell, name="optimized"))
    bar.close()
    with torch.no_grad():
        return current().numpy().copy(), history


def batch_decoders(B, masks, k, ell, downdate=True):
    r"""Ridged least-squares decoders of a batch of survivor masks, transposed and zero-padded.

    Row ``j`` of ``Z[t]`` is the weight of worker ``j`` in the decoder of pattern ``t``
    (zero for stragglers): :math:`Z_S = (B_S B_S^\top + \varepsilon I)^{-1} B_S T^\top`, so
    :math:`D_S = Z_S^\top` is the least-squares decoder up to the ridge ``RIDGE``.

    Parameters
    ----------
    B : torch.Tensor, shape (n, k * ell)
        Rows of unit norm (float64).
    masks : torch.Tensor of bool, shape (m, n)
        Row ``t`` marks the survivors of pattern ``t``.
    k, ell : int
    downdate : bool
        Use the Schur-complement downdate of the module notes (unless a factorisation fails);
        otherwise factorise each pattern's masked Gram matrix, ``m`` times the work.

    Returns
    -------
    torch.Tensor, shape (m, n, ell)
    """
    import torch

    n = B.shape[0]
    gram = B @ B.T + RIDGE * torch.eye(n, dtype=B.dtype)
    keep = masks.to(B.dtype)
    sums = B.reshape(n, ell, k).sum(dim=2)[None, :, :] * keep[:, :, None]  # Y_S = B_S Tᵀ, zero-padded
    if downdate:
        factor, info = torch.linalg.cholesky_ex(gram)
        if int(info) == 0:
            Z = _downdated(torch.cholesky_inverse(factor), sums, masks)
            if Z is not None:
                return Z
    masked = gram * keep[:, :, None] * keep[:, None, :] + torch.diag_embed(1.0 - keep)
    return torch.cholesky_solve(sums, torch.linalg.cholesky(masked))


def _downdated(W, sums, masks):
    """``Z = V - W[:, R] W_RR⁻¹ V_R`` with ``V = W Y_S`` (zero on R); ``None`` if a ``W_RR`` does not factorise."""
    import torch

    n = W.shape[0]
    V = W @ sums  # (m, n, ell)
    counts = n - masks.sum(dim=1)
    largest = int(counts.max())
    if largest == 0:
        return V
    stragglers = torch.argsort(masks.to(torch.int8), dim=1, stable=True)[:, :largest]  # stragglers first
    valid = (torch.arange(largest)[None, :] < counts[:, None]).to(W.dtype)
    columns = W[:, stragglers].permute(1, 0, 2) * valid[:, None, :]  # W[:, R], (m, n, largest)
    W_RR = torch.gather(columns, 1, stragglers[:, :, None].expand(-1, -1, largest)) * valid[:, :, None]
    factor, info = torch.linalg.cholesky_ex(W_RR + torch.diag_embed(1.0 - valid))
    if bool((info != 0).any()):
        return None
    V_R = torch.gather(V, 1, stragglers[:, :, None].expand(-1, -1, V.shape[2])) * valid[:, :, None]
    Z = V - columns @ torch.cholesky_solve(V_R, factor)
    return Z * masks.to(W.dtype)[:, :, None]


def batch_errors(B, masks, k, ell, downdate=True):
    r"""Errors :math:`\lVert D_S B_S - T \rVert_F^2` of the ridged least-squares decoders of a batch.

    The torch counterpart of :func:`agc.optimal_errors` that the training uses: an upper bound
    on :math:`\mathrm{err}^*(S)`, above it by at most
    :math:`k\ell\,(\varepsilon/\sigma_{\min}^2)^2` (``ε = RIDGE``, :math:`\sigma_{\min}` the
    smallest non-zero singular value of ``B_S``) plus rounding. For measuring codes use the
    engine.

    Parameters
    ----------
    B : torch.Tensor, shape (n, k * ell)
        Rows of unit norm (float64).
    masks : torch.Tensor of bool, shape (m, n)
    k, ell : int
    downdate : bool
        See :func:`batch_decoders`.

    Returns
    -------
    torch.Tensor, shape (m,)
    """
    return _residuals(B, batch_decoders(B, masks, k, ell, downdate), k, ell).pow(2).sum(dim=(1, 2))


def _residuals(B, Z, k, ell):
    """``D_S B_S - T`` for every pattern, shape ``(m, ell, k·ell)``."""
    import torch

    target = torch.kron(torch.eye(ell, dtype=B.dtype), torch.ones(1, k, dtype=B.dtype))
    return Z.transpose(1, 2) @ B - target
