r"""The exact communication-efficient code of Ye and Abbe (ICML 2018), built to stay exact in float64.

Worker ``j`` evaluates a vector polynomial of degree ``< N = n - s`` at its node
:math:`\alpha_j`; any ``N`` evaluations determine it, and its top ``ℓ`` coefficients are the
``ℓ`` block sums. In exact arithmetic any distinct real nodes work. In floating point the
decoder's weights multiply every rounding error of the coefficients and messages, by the
amplification :math:`\kappa = \max |D_S||B_S|` (:func:`amplification`), and three choices made
here keep it small:

* **Which node each worker gets.** The holders of chunk ``i`` are ``load`` cyclically adjacent
  workers. With the nodes in monotone order they hold ``load`` adjacent nodes, the coefficients
  :math:`Z_i Q_{i,u}` that cancel every other chunk are divided differences over clustered
  points, and :math:`\kappa` grows like a power of ``n`` (``6e13`` at ``n = 40``, ``s = 6``,
  ``ℓ = 2``): the earlier construction, which also expanded the :math:`Z_i` in a basis, returned
  :math:`\mathrm{err}^*/k\ell \approx 0.3` at ``n = 60``. Here worker ``j`` gets node number
  ``j·p mod n``, with the stride ``p`` (coprime to ``n``) that spreads every cyclic window of
  ``load`` workers as evenly as possible over the nodes; :math:`\kappa` then hardly grows with
  ``n``.
* **Which coefficients are "the top ℓ".** Taken in the Chebyshev basis, not the monomial one;
  for ``ℓ >= 3`` the monomial choice costs a factor growing with ``n``.
* **How they are computed.** The nodes are the Chebyshev points :math:`\alpha = \cos\theta`,
  :math:`\theta_m = \pi(2m+1)/2n`. Under the Joukowski map :math:`x = (w + w^{-1})/2` the node
  polynomial :math:`\prod_m (x - \alpha_m) = 2^{1-n} T_n(x)` is :math:`2^{-n} w^n (1 + w^{-2n})`,
  so every quantity the code needs has a closed form in bounded terms (values of :math:`U_k` at
  the nodes, products of node differences within one chunk's holders); no polynomial is
  expanded in any basis.
"""

from __future__ import annotations

import math

import numpy as np

from agc._checks import check_binary_matrix, check_int, survivor_mask
from agc.assignments.bipartite import cyclic
from agc.code import EXACT_TOL, Code

#: Unit roundoff of float64, :math:`2^{-53}`: the decoding error estimate is ``ROUNDING * κ``.
ROUNDING = 2.0**-53


def chebyshev_nodes(n):
    r"""The ``n`` Chebyshev points of the first kind, :math:`\cos(\pi (2j+1) / 2n)`.

    Parameters
    ----------
    n : int

    Returns
    -------
    numpy.ndarray, shape (n,)
        Decreasing, in ``(-1, 1)``.
    """
    n = check_int("n", n, low=1)
    return np.cos(np.pi * (2 * np.arange(n) + 1) / (2 * n))


def _stride(n, load):
    """The stride ``p`` coprime to ``n`` that spreads ``{j p mod n : j < load}`` most evenly.

    Every cyclic window of ``load`` workers maps to a translate of that set, so this maximises
    the smallest circular gap between the node indices of one chunk's holders (then minimises
    the largest gap; then the smallest ``p``).
    """
    best_key, best = None, 1
    for p in range(1, n):
        if math.gcd(p, n) != 1:
            continue
        points = np.sort(np.arange(load) * p % n)
        gaps = np.diff(np.append(points, points[0] + n))
        key = (gaps.min(), -gaps.max())
        if best_key is None or key > best_key:
            best_key, best = key, p
    return best


def _sine(j, n):
    r""":math:`\sin(\pi j / 2n)` for integers ``j``, evaluated at an argument in :math:`[0, \pi/2]`.

    Every trigonometric value of the code is one of these (node :math:`m` sits at
    :math:`\theta_m = \pi(2m+1)/2n`). Reducing the argument exactly, in integers, keeps full
    relative accuracy near :math:`x = \pm 1`, where the nodes crowd and ``np.sin(theta)`` of a
    rounded ``theta`` near :math:`\pi` would lose ``log10(n)`` digits.
    """
    j = np.mod(j, 4 * n)
    sign = np.where(j >= 2 * n, -1.0, 1.0)
    j = np.where(j >= 2 * n, j - 2 * n, j)
    return sign * np.sin(np.pi * np.minimum(j, 2 * n - j) / (2 * n))


def _second_kind(n, index, ell):
    r""":math:`U_k(\alpha_m) = \sin((k+1)\theta_m)/\sin\theta_m` for ``k < ell``, shape ``index.shape + (ell,)``."""
    odd = 2 * np.asarray(index)[..., None] + 1
    return _sine((np.arange(ell) + 1) * odd, n) / _sine(odd, n)


def _series(n, index, ell):
    r"""First ``ell`` Taylor coefficients of :math:`\prod_m 1/(1 - 2\alpha_m z + z^2) = \prod_m \sum_k U_k(\alpha_m) z^k`."""
    coefficients = np.zeros(ell)
    coefficients[0] = 1.0
    for factor in _second_kind(n, index, ell):
        coefficients = np.convolve(coefficients, factor)[:ell]
    return coefficients


def _chebyshev_values(n, index, ell):
    r""":math:`T_k(\alpha_m) = \cos(k\theta_m)` for ``k < ell``, shape ``index.shape + (ell,)``."""
    return _sine(n - np.arange(ell) * (2 * np.asarray(index)[:, None] + 1), n)


def _differences(n, index, other):
    r""":math:`\alpha_a - \alpha_b = -2 \sin\frac{\theta_a + \theta_b}{2} \sin\frac{\theta_a - \theta_b}{2}`,
    shape ``(len(index), len(other))``: accurate to rounding even for adjacent nodes near ``±1``,
    where subtracting the cosines would lose ``log10(n²)`` digits.
    """
    a, b = np.asarray(index)[:, None], np.asarray(other)[None, :]
    return -2.0 * _sine(a + b + 1, n) * _sine(a - b, n)


def _derivative(n, index):
    r""":math:`T_n'(\alpha_m) = n \sin(n\theta_m)/\sin\theta_m = (-1)^m n / \sin\theta_m`."""
    return np.where(index % 2 == 0, 1.0, -1.0) * n / _sine(2 * index + 1, n)


def _encoding(n, load, ell, index):
    r"""``B`` of the code whose worker ``j`` has Chebyshev node number ``index[j]``.

    Column ``(i, u)`` is :math:`\hat Z_i Q_{i,u}` on the holders ``H`` of chunk ``i``, with
    :math:`\hat Z_i = 2^{n-\mathrm{load}} \prod_{m \notin H}(x - \alpha_m)`, whose value at a
    holder is :math:`T_n'(\alpha_h) / \prod_{h' \in H \setminus h} 2(\alpha_h - \alpha_{h'})`,
    and whose top Laurent coefficients in :math:`w^{-1}` are those of
    :math:`\prod_{h \in H} 1/(1 - 2\alpha_h z + z^2) = \sum_k a_k z^k`. With
    :math:`Q_{i,u} = \sum_{m<\ell} q_{mu} T_m` the top ``ℓ`` coefficients of
    :math:`\hat Z_i T_m` form :math:`M_{um} = (a_{u+1-\ell+m} + a_{u+1-\ell-m})/2`
    (:math:`a_{u+1-\ell}` for ``m = 0``; :math:`a_{<0} = 0`, :math:`a_0 = 1`): unit
    anti-diagonal, so :math:`q = M^{-1}` always exists.
    """
    B = np.zeros((n, n * ell))
    u, m = np.arange(ell)[:, None], np.arange(ell)[None, :]
    for i in range(n):
        holders = (i - np.arange(load)) % n  # worker j holds chunks j, …, j + load - 1
        nodes = index[holders]
        a = np.concatenate([np.zeros(ell), _series(n, nodes, ell)])  # a[ell + t] = a_t
        M = np.where(m == 0, a[u + 1 + m], (a[u + 1 + m] + a[np.maximum(u + 1 - m, 0)]) / 2)
        q = np.linalg.solve(M, np.eye(ell))
        differences = 2.0 * _differences(n, nodes, nodes)
        np.fill_diagonal(differences, 1.0)
        Z = _derivative(n, nodes) / np.prod(differences, axis=1)
        B[holders[:, None], i + n * np.arange(ell)[None, :]] = Z[:, None] * (_chebyshev_values(n, nodes, ell) @ q)
    return B


def _decoder(n, ell, index, survivors):
    r"""The interpolation decoder :math:`D_S` (``ℓ × |S|``) of :func:`_encoding`, in closed form.

    Row ``u`` maps the survivors' values of a polynomial of degree ``< N = |S|`` to its Laurent
    coefficient of :math:`w^{N-1-u}`; for survivor ``h`` and stragglers ``R`` this is
    :math:`b_u \prod_{r \in R} 2(\alpha_h - \alpha_r) / T_n'(\alpha_h)`, with :math:`b_u` the
    Taylor coefficients of :math:`\prod_{m \in R \cup \{h\}} 1/(1 - 2\alpha_m z + z^2)`.
    """
    stragglers, kept = index[~survivors], index[survivors]
    series = _series(n, stragglers, ell)
    toeplitz = np.array([[series[u - j] if u >= j else 0.0 for u in range(ell)] for j in range(ell)])
    b = _second_kind(n, kept, ell) @ toeplitz  # (|S|, ell): series of R times 1/(1 - 2α_h z + z²)
    weights = np.prod(2.0 * _differences(n, kept, stragglers), axis=1)
    return (b * (weights / _derivative(n, kept))[:, None]).T


def _worst_sets(index, s):
    """Straggler sets of size ``s`` whose nodes are adjacent: runs ``[a, a + s)`` of node
    numbers and runs split between the two ends of ``[-1, 1]`` (``n`` sets).

    A run at an end of the interval makes the decoder extrapolate across the widest gap; it was
    the worst set in every exhaustive search (``tests/test_exact.py``).
    """
    n = index.size
    worker = np.argsort(index)  # worker[m] has node number m
    runs = [worker[a:a + s] for a in range(n - s + 1)]
    runs += [np.concatenate([worker[:t], worker[n - s + t:]]) for t in range(1, s)]
    masks = np.ones((len(runs), n), dtype=bool)
    for row, run in zip(masks, runs):
        row[run] = False
    return masks


def _amplification(B, ell, index, survivors):
    """``max (|D_S| |B_S|)`` for the code ``B`` of :func:`_encoding` (see :func:`amplification`)."""
    D = _decoder(index.size, ell, index, survivors)
    return float(np.max(np.abs(D) @ np.abs(B[survivors])))


def amplification(code, survivors):
    r"""How much the polynomial code's decoder amplifies relative rounding errors, for survivors ``S``.

    .. math:: \kappa(S) = \max_{u,\,c}\; \bigl(|D_S|\,|B_S|\bigr)_{u c},

    with :math:`D_S` the interpolation decoder (:math:`D_S B_S = T` exactly). A relative
    perturbation ``δ`` of every coefficient and message changes the decoded block sums by at most
    :math:`\kappa\,\delta` per unit of the gradients (first order), so float64 decoding is
    accurate to about :math:`2^{-53}\kappa` and float32 messages to about :math:`2^{-24}\kappa`.

    Parameters
    ----------
    code : agc.Code
        A code made by :func:`polynomial`.
    survivors : array_like of bool, shape (n,)
        At least ``n - s`` survivors.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``code`` was not made by :func:`polynomial` or ``survivors`` has fewer than ``n - s``.

    Examples
    --------
    >>> import agc
    >>> code = polynomial(agc.assignments.cyclic(8, 8, 4), 2)
    >>> 1.0 <= amplification(code, [True] * 6 + [False] * 2) < 1e3
    True
    """
    if code.name != "polynomial" or "stride" not in code.params:
        raise ValueError(f"code must be made by agc.encodings.polynomial, got {code!r}")
    mask = survivor_mask(survivors, code.n)
    if mask.sum() < code.n - code.params["s"]:
        raise ValueError(f"survivors must number at least n - s = {code.n - code.params['s']}, got {int(mask.sum())}")
    return _amplification(code.B, code.ell, np.arange(code.n) * code.params["stride"] % code.n, mask)


def polynomial(A, ell, *, max_error=EXACT_TOL):
    r"""Ye–Abbe polynomial code: zero error for every survivor set of size at least ``n - s``.

    The assignment must be cyclic with ``k = n`` chunks, ``A = agc.assignments.cyclic(n, n, load)``
    (worker ``j`` holds chunks ``j, …, j + load - 1`` mod ``n``), and the code tolerates
    :math:`s = \mathrm{load} - \ell` stragglers: the load is :math:`\gamma = s + \ell`. With ``N = n - s``, worker ``j`` evaluates
    at the node :math:`\alpha_j` the vector polynomial

    .. math:: q(x) = \sum_{i,u} Z_i(x) Q_{i,u}(x)\, g_i^{(u)}, \qquad
              Z_i(x) = \prod_{j : A_{j i} = 0} (x - \alpha_j),

    where :math:`Z_i` (degree ``N - ℓ``) vanishes at the workers lacking chunk ``i`` and
    :math:`Q_{i,u}` (degree ``< ℓ``) makes the top ``ℓ`` coefficients of :math:`Z_i Q_{i,u}`
    equal to the unit vector :math:`e_u`. Then :math:`\deg q \le N - 1` and its top ``ℓ``
    coefficients are :math:`\sum_i g_i^{(u)}`: any ``N`` evaluations recover the ``ℓ`` block sums
    by interpolation.

    **Numerics** (see the module notes). The nodes are the Chebyshev points
    :math:`\cos(\pi(2m+1)/2n)`, worker ``j`` gets node number ``m = j·p mod n`` with a stride
    ``p`` that spreads each chunk's holders over ``[-1, 1]``, and the coefficients are Chebyshev
    coefficients computed in closed form. The float64 error of the interpolation decoder is
    about :math:`2^{-53}\kappa` (first order; measured within a factor 4 on the worst sets),
    with :math:`\kappa` the worst :func:`amplification` over survivor sets. The worst sets are the
    ``s`` workers whose nodes are nearest an end of the interval (the decoder extrapolates across
    the gap); :math:`\kappa` is evaluated on construction over all ``n`` runs of adjacent nodes,
    and exhaustive searches at small ``n``
    found no worse set. Measured by ``benchmarks/polynomial_conditioning.py`` for ``n`` from
    ``2·load`` to 200, :math:`\kappa` grows about tenfold per straggler and hardly with ``n``:

    ====  ==========  ==========  ==========  ==========  ==========
    ℓ     s = 2       s = 4       s = 6       s = 8       s = 10
    ====  ==========  ==========  ==========  ==========  ==========
    1     1e1         1e2–5e2     1e3–2e3     8e3–4e4     2e5–3e5
    2     3e1–7e2     8e2–4e3     2e4–8e4     7e5–5e6     1e7–4e7
    3     6e1–8e2     3e3         4e4–2e5     2e6–3e6     2e7–6e7
    ====  ==========  ==========  ==========  ==========  ==========

    With the default ``max_error`` the codes of the last column are refused; all others decode
    with a measured :math:`\mathrm{err}^*/k\ell \le 5 \cdot 10^{-16}` by the least-squares decoder
    :func:`agc.optimal_decoder`, whose relative residual on the worst sets exceeds the
    interpolation decoder's estimate by up to a thousandfold (``B_S`` itself is ill conditioned
    there) but stays below ``3e-8``. With float32 messages, as the training loop and the runtime send
    them, the decoded gradient's relative error is at most about :math:`2^{-24}\kappa` (measured
    ``≤ 2e-5`` for ``s ≤ 4``, ``≤ 5e-4`` for ``s = 6``, up to ``1e-2`` for ``s = 8``). With the
    nodes in monotone order (worker ``j`` at node ``j``, the earlier construction)
    :math:`\kappa` grows like a power of ``n``: ``6e13`` at ``n = 40`` and ``1e18`` at ``n = 80``
    for ``s = 6``, ``ℓ = 2``, where float64 decoding is meaningless.

    Parameters
    ----------
    A : array_like, shape (n, n)
        The cyclic assignment ``cyclic(n, n, load)`` with ``load >= ell``.
    ell : int
        Communication reduction.
    max_error : float or None
        Largest accepted estimate :math:`2^{-53}\kappa` of the relative float64 decoding error over
        all survivor sets of size ``n - s`` (default ``EXACT_TOL = 1e-9``, the tolerance under which
        ``D B = T`` counts as exact; for float32 messages the error is :math:`2^{29}` times larger).
        ``None`` builds the code whatever its accuracy.

    Returns
    -------
    agc.Code
        ``params``: ``"s"``, the number of stragglers tolerated (``load - ell``); ``"stride"``, the
        ``p`` above; ``"amplification"``, the worst :math:`\kappa`.

    Raises
    ------
    ValueError
        If ``A`` is not a cyclic assignment with ``k = n``, ``load < ell``, ``max_error`` is not
        positive, or the decoding error estimate exceeds ``max_error``.

    References
    ----------
    Ye and Abbe, *Communication-computation efficient gradient coding*, ICML 2018.
    Fahim and Cadambe, *Numerically stable polynomially coded computing*, IEEE Trans. Inf.
    Theory 67 (2021): Chebyshev nodes and basis for real-valued polynomial codes.
    Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., SIAM 2002, §7.2:
    componentwise condition numbers, :math:`\lVert |D||B| \rVert`.

    Examples
    --------
    >>> import agc
    >>> code = polynomial(agc.assignments.cyclic(5, 5, 3), 2)  # load 3 = s + ell: one straggler
    >>> code.params["s"], bool(agc.optimal_error(code, [0, 2, 3, 4]) < 1e-12)
    (1, True)
    >>> big = polynomial(agc.assignments.cyclic(80, 80, 8), 2)  # s = 6: exact at any n
    >>> bool(big.params["amplification"] * 2.0**-53 < 1e-9)
    True
    >>> polynomial(agc.assignments.cyclic(40, 40, 14), 2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: polynomial code with n=40, s=12, ell=2: ...
    """
    A = check_binary_matrix("A", A)
    n, k = A.shape
    load = int(A[0].sum())
    if k != n or load == 0 or not np.array_equal(A, cyclic(n, n, load)):
        raise ValueError(f"A must be the cyclic assignment agc.assignments.cyclic(n, n, load) with k = n "
                         f"(the polynomial code needs it), got shape {A.shape}")
    ell = check_int("ell", ell, low=1, high=load)
    if max_error is not None and not (isinstance(max_error, (int, float)) and max_error > 0):
        raise ValueError(f"max_error must be a positive number or None, got {max_error!r}")
    s = load - ell
    B, stride, kappa, stragglers = _build(n, load, ell)
    if max_error is not None and kappa * ROUNDING > max_error:
        fewer = next((t for t in range(s - 1, -1, -1) if _build(n, t + ell, ell)[2] * ROUNDING <= max_error), None)
        advice = (f"at this n and ell it is exact to max_error for s <= {fewer} (load <= {fewer + ell})"
                  if fewer is not None else "no load reaches max_error at this n and ell")
        raise ValueError(
            f"polynomial code with n={n}, s={s}, ell={ell}: the float64 decoding error can reach "
            f"{kappa * ROUNDING:.1e} (rounding errors amplified {kappa:.1e}-fold, stragglers {stragglers.tolist()}), "
            f"above max_error={max_error:g}; the amplification grows about tenfold per straggler and hardly with n: "
            f"{advice}; pass max_error=None to build it anyway")
    return Code(B, A, ell, name="polynomial", params={"s": s, "ell": ell, "stride": stride, "amplification": kappa})


def _build(n, load, ell):
    """``B``, the stride, and the worst amplification over :func:`_worst_sets` with its stragglers."""
    stride = _stride(n, load)
    index = np.arange(n) * stride % n
    B = _encoding(n, load, ell, index)
    masks = _worst_sets(index, load - ell)
    kappas = [_amplification(B, ell, index, mask) for mask in masks]
    worst = int(np.argmax(kappas))
    return B, stride, kappas[worst], np.flatnonzero(~masks[worst])
