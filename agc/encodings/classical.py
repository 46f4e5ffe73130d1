r"""Classical :math:`\ell = 1` approximate gradient codes, as baselines (book: *Gradient coding in one page*).

Every code here has ``ell = 1``: ``B`` is ``n × k`` (rows = workers), the target is
:math:`T = 1_k^\top`, and the error of a decoder :math:`w \in \mathbb{R}^{1 \times |S|}` is
:math:`\lVert w B_S - 1_k^\top \rVert_2^2`, the *squared, unnormalised* distance that all four
papers below also use (Raviv et al. plot its square root; divide by ``k`` for our normalised
error). The optimal decoder is :func:`agc.optimal_decoder` and its error :func:`agc.optimal_error`.

* **Expander codes** (Raviv, Tamo, Tandon and Dimakis): :func:`expander`, :func:`random_expander`,
  :func:`second_eigenvalue`, the one-step decoder :func:`one_step_decoder` and its worst-case
  bound :func:`one_step_error_bound`.
* **Graph assignment schemes with optimal decoding** (Glasgow and Wootters): workers are the
  edges of a graph, chunks its vertices; the code is ``agc.encodings.stacking(
  agc.assignments.graph_incidence(G), 1)``, and :func:`graph_optimal_errors` is their closed form
  of the optimal error over the components of the surviving graph.
* **Bernoulli gradient codes** (Charles, Papailiopoulos and Ellenberg): :func:`agc.assignments.bernoulli_assignment`
  and :func:`bernoulli_code`, decoded one-step (:func:`one_step_decoder`) or optimally. Their
  fractional repetition code is ``stacking(agc.assignments.fractional_repetition(n, k, load), 1)``.
* **Stochastic gradient coding** (Bitar, Wootters and El Rouayheb): :func:`stochastic_code` and
  its unbiased decoder :func:`stochastic_decoder`.
"""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np

from agc._checks import check_binary_matrix, check_int, check_probability, mask_batch, survivor_mask
from agc.assignments.bipartite import bernoulli_assignment, graph_adjacency, random_regular
from agc.code import Code
from agc.decoding import unbiased_decoder
from agc.seeds import seed_record

#: Relative spread under which the column sums of ``B`` count as constant.
CONSTANT_TOL = 1e-12


def _regular_adjacency(A):
    """The adjacency assignment of a regular graph (given as a networkx graph or a matrix) and its degree."""
    if isinstance(A, nx.Graph):
        A = graph_adjacency(A)
    else:
        A = check_binary_matrix("A", A)
        if A.shape[0] != A.shape[1] or not np.array_equal(A, A.T) or np.any(np.diag(A)):
            raise ValueError(
                f"A must be the adjacency of a simple graph (square, symmetric, zero diagonal), got shape {A.shape}"
            )
    degrees = A.sum(axis=1)
    if degrees.min() != degrees.max():
        raise ValueError(f"A must be a regular graph, got degrees from {degrees.min()} to {degrees.max()}")
    if degrees[0] == 0:
        raise ValueError("A must have degree >= 1, got a graph without edges")
    return A, int(degrees[0])


def second_eigenvalue(A):
    r"""The largest adjacency eigenvalue in absolute value after the first: :math:`\lambda = \max(|\lambda_2|, |\lambda_v|)`.

    For a :math:`d`-regular graph with adjacency eigenvalues
    :math:`d = \lambda_1 \ge \lambda_2 \ge \dots \ge \lambda_v`, this is the :math:`\lambda` of
    Raviv et al.'s bound (an :math:`(v, d, \lambda)`-expander). It is :math:`d` when the graph is
    disconnected or bipartite. (Glasgow and Wootters' *spectral expansion* is the different
    quantity :math:`d - \lambda_2`.)

    Parameters
    ----------
    A : networkx.Graph or array_like
        A regular simple graph with at least one edge, or its 0/1 adjacency matrix.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the graph is not regular, has a loop, or has no edge.

    Examples
    --------
    >>> import agc
    >>> round(second_eigenvalue(agc.assignments.petersen()), 12)  # spectrum 3, 1, -2
    2.0
    """
    A, _ = _regular_adjacency(A)
    eigenvalues = np.linalg.eigvalsh(A.astype(np.float64))  # ascending
    return float(max(abs(eigenvalues[0]), abs(eigenvalues[-2])))


def expander(A, ell=1):
    r"""Raviv et al.'s expander code: the normalised adjacency :math:`B = A_G / d` of a :math:`d`-regular graph.

    Workers and chunks are the ``v`` vertices; worker ``j`` holds the chunks of its ``d``
    neighbours (not its own) and sends their average, :math:`f_j = \frac1d \sum_{i \sim j} g_i`.
    Every column of ``B`` sums to one, so with no straggler :math:`1^\top B = 1^\top` (the
    decoder sums all messages) and with stragglers the one-step decoder
    :math:`w = \frac{n}{|S|} 1_S` (:func:`one_step_decoder`) has, for every survivor set of size
    ``n - s`` (:func:`one_step_error_bound`),

    .. math:: \lVert w B_S - 1^\top \rVert_2^2 \le \Bigl(\frac{\lambda}{d}\Bigr)^2 \frac{n s}{n - s},
              \qquad \lambda = \max(|\lambda_2|, |\lambda_n|)

    (:func:`second_eigenvalue`): Raviv et al.'s bound, stated for the square root.

    Parameters
    ----------
    A : networkx.Graph or array_like
        A regular simple graph with sortable nodes (a random regular graph, an SRG, ...), or its
        0/1 adjacency assignment (:func:`agc.assignments.graph_adjacency`).
    ell : int
        Must be 1 (accepted so that the signature is that of every encoding, ``f(A, ell)``).

    Returns
    -------
    agc.Code
        ``name="expander"``, ``ell = 1``; ``params`` holds ``degree`` and ``lambda``.

    Raises
    ------
    ValueError
        If ``ell != 1``, or the graph is not regular, has a loop, or has no edge.

    References
    ----------
    N. Raviv, I. Tamo, R. Tandon and A. G. Dimakis, *Gradient coding from cyclic MDS codes and
    expander graphs*, ICML 2018; IEEE Trans. Inf. Theory 66(12), 2020.

    Examples
    --------
    >>> import agc
    >>> code = expander(agc.assignments.petersen())
    >>> (code.n, code.k, code.params["degree"]), bool(np.allclose(code.B.sum(axis=0), 1))
    ((10, 10, 3), True)
    """
    _check_ell_argument(ell)
    A, degree = _regular_adjacency(A)
    lam = second_eigenvalue(A)
    return Code(A / degree, A, 1, name="expander", params={"degree": degree, "lambda": lam})


def random_expander(n, degree, seed=None):
    r"""The expander code of a uniformly random ``degree``-regular graph on ``n`` vertices.

    :func:`expander` of :func:`agc.assignments.random_regular` (close to uniform; an expander
    with high probability, but not always connected for ``degree <= 2``). Raviv et al.'s
    experiments use ``n = 50``, ``degree = 3``.

    Parameters
    ----------
    n : int
        Workers and chunks, ``n > degree``.
    degree : int
        Load and replication, ``1 <= degree < n`` with ``n * degree`` even.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    agc.Code
        As :func:`expander`, with ``seed`` (``None`` unless an int) in ``params``.

    Raises
    ------
    ValueError
        If ``n * degree`` is odd or ``degree`` is out of range.

    Examples
    --------
    >>> code = random_expander(50, 3, seed=0)
    >>> code.n, set(code.load.tolist()), bool((random_expander(50, 3, seed=0).B == code.B).all())
    (50, {3}, True)
    """
    code = expander(random_regular(n, degree, seed))
    return dataclasses.replace(code, params={**code.params, "seed": seed_record(seed)})


def _check_ell_argument(ell):
    if check_int("ell", ell, low=1) != 1:
        raise ValueError(f"ell must be 1 for a classical gradient code, got ell={ell}")


def _check_ell_one(code):
    if code.ell != 1:
        raise ValueError(f"code must have ell = 1 (a classical gradient code), got ell={code.ell}")


def _column_sum(code, column_sum):
    """The column sum the scalar decoders assume: given, recorded by the code, or the mean of ``B``'s."""
    if column_sum is None:
        column_sum = code.params.get("column_sum", code.B.sum() / code.k)
    column_sum = float(column_sum)
    if not (np.isfinite(column_sum) and column_sum > 0):
        raise ValueError(f"column_sum must be a positive finite number, got {column_sum}")
    return column_sum


def _constant_column_sum(code):
    """The common column sum of ``B``; ``ValueError`` when the column sums differ."""
    sums = code.B.sum(axis=0)
    if np.ptp(sums) > CONSTANT_TOL * max(1.0, np.abs(sums).max()) or sums[0] <= 0:
        raise ValueError(
            f"code {code.name!r} must have equal positive column sums of B (every chunk weighted alike), "
            f"got sums from {sums.min():.6g} to {sums.max():.6g}"
        )
    return float(sums.mean())


def one_step_decoder(code, survivors, column_sum=None):
    r"""The one-step (fixed scalar) decoder :math:`w = \frac{n}{\gamma\,|S|} 1_S`.

    The parameter server adds the survivors' messages and rescales by :math:`n/(\gamma |S|)`,
    where :math:`\gamma` is the column sum of ``B`` (the weight with which each chunk enters
    the sum of *all* messages). With constant column sums :math:`\gamma`,
    :math:`\frac1\gamma 1^\top B = 1^\top` and, for a uniformly random survivor set of a fixed
    size, :math:`\mathbb{E}[w B_S] = 1^\top`. This is Raviv et al.'s decoder for the expander
    code (:math:`B = A_G/d`, :math:`\gamma = 1`, :math:`w = \frac{n}{n-s} 1_S`), Glasgow and
    Wootters' fixed decoder :math:`w = \frac{m}{d(m - s)} 1_S` for a graph scheme (``m`` edges,
    :math:`\gamma = d`), and Charles et al.'s *one-step decoding* of a Bernoulli gradient code
    (:math:`\gamma = n\delta/k`, :math:`w = \frac{k}{\delta |S|} 1_S`).

    Parameters
    ----------
    code : agc.Code
        A code with ``ell = 1``.
    survivors : array_like
        Index array or boolean mask of length ``n`` (at least one survivor).
    column_sum : float, optional
        :math:`\gamma`. Default: ``code.params["column_sum"]`` when the code records its design
        value (:func:`bernoulli_code` does), else the mean column sum :math:`\sum B / k`.

    Returns
    -------
    numpy.ndarray, shape (1, |S|)

    Raises
    ------
    ValueError
        If ``code.ell != 1``, no worker survives, or ``column_sum`` is not positive.

    References
    ----------
    Raviv, Tamo, Tandon and Dimakis, ICML 2018; Charles, Papailiopoulos and Ellenberg,
    *Approximate gradient coding via sparse random graphs*, arXiv 1711.06771, 2017; Glasgow and
    Wootters, *Approximate gradient coding with optimal decoding*, IEEE JSAIT 2(3), 2021.

    Examples
    --------
    >>> import agc
    >>> code = expander(agc.assignments.petersen())
    >>> one_step_decoder(code, [0, 1, 2, 3, 4])  # n / |S| = 10 / 5
    array([[2., 2., 2., 2., 2.]])
    """
    _check_ell_one(code)
    mask = survivor_mask(survivors, code.n)
    size = int(mask.sum())
    if size == 0:
        raise ValueError("survivors must contain at least one worker for the one-step decoder")
    gamma = _column_sum(code, column_sum)
    return np.full((1, size), code.n / (gamma * size))


def one_step_error_bound(code, s):
    r"""Worst-case bound on the one-step decoder's error over all survivor sets of size ``n - s``.

    For a code with constant column sums :math:`\gamma` and
    :math:`\sigma_\perp = \lVert (I - \tfrac1n J) B \rVert_2` (the largest singular value of
    ``B`` on the complement of :math:`1_n`), every survivor set with ``s`` stragglers satisfies

    .. math:: \lVert w B_S - 1^\top \rVert_2^2 \le \sigma_\perp^2\, \frac{n s}{\gamma^2 (n - s)},
              \qquad w = \tfrac{n}{\gamma (n-s)} 1_S ,

    since :math:`w B_S - 1^\top = z^\top B` with :math:`z = w - \frac1\gamma 1 \perp 1` and
    :math:`\lVert z \rVert^2 = \frac{ns}{\gamma^2(n-s)}`. It bounds :math:`\mathrm{err}^*(S)`
    too. Special cases: the expander code :math:`B = A_G/d` has :math:`\gamma = 1`,
    :math:`\sigma_\perp = \lambda/d` and gives Raviv et al.'s
    :math:`(\lambda/d)^2\, ns/(n-s)`; a graph scheme (incidence of a :math:`d`-regular graph,
    ``m`` edges as workers) has :math:`\gamma = d`, :math:`\sigma_\perp^2 = d + \lambda_2`
    and gives Glasgow and Wootters' :math:`(2d - \lambda_{GW})\, ms/((m-s) d^2)` with
    :math:`\lambda_{GW} = d - \lambda_2`. The bound is attained, e.g. by a bipartite regular
    graph whose stragglers are one side.

    Parameters
    ----------
    code : agc.Code
        A code with ``ell = 1`` and equal column sums of ``B``.
    s : int
        Stragglers, ``0 <= s < n``.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``code.ell != 1``, the column sums of ``B`` differ, or ``s`` is out of range.

    References
    ----------
    Raviv, Tamo, Tandon and Dimakis, ICML 2018 (expander codes); Glasgow and Wootters, IEEE
    JSAIT 2021 (adversarial stragglers).

    Examples
    --------
    >>> import agc
    >>> code = expander(agc.assignments.petersen())  # lambda = 2, d = 3
    >>> round(one_step_error_bound(code, 2), 12), round((2 / 3) ** 2 * 10 * 2 / 8, 12)
    (1.111111111111, 1.111111111111)
    """
    _check_ell_one(code)
    gamma = _constant_column_sum(code)
    s = check_int("s", s, low=0, high=code.n - 1)
    centred = code.B - code.B.mean(axis=0)  # (I - J/n) B
    sigma = np.linalg.norm(centred, 2) if code.n > 1 else 0.0
    return float(sigma**2 * code.n * s / (gamma**2 * (code.n - s)))


def _incidence_ends(A):
    A = check_binary_matrix("A", A)
    loads = A.sum(axis=1)
    if np.any(loads != 2):
        j = int(np.flatnonzero(loads != 2)[0])
        raise ValueError(
            f"A must be a graph incidence assignment (every worker holds exactly 2 chunks), "
            f"got load {loads[j]} at worker {j}"
        )
    return A, np.nonzero(A)[1].reshape(-1, 2)


def _component_error(k, edges):
    """Sum of ``(|L| - |R|)² / (|L| + |R|)`` over the bipartite components of the graph on ``k`` vertices."""
    parent = list(range(k))
    parity = [0] * k  # colour of a vertex relative to its parent
    odd = [False] * k  # root flag: the component contains an odd cycle

    def find(x):
        """Root of ``x`` and the colour of ``x`` relative to it; compresses the path."""
        path = []
        while parent[x] != x:
            path.append(x)
            x = parent[x]
        colour = 0
        for y in reversed(path):  # nearest the root first: accumulate the colour relative to the root
            colour ^= parity[y]
            parent[y], parity[y] = x, colour
        return x, colour

    for u, v in edges:
        (ru, cu), (rv, cv) = find(u), find(v)
        if ru == rv:
            odd[ru] = odd[ru] or cu == cv
        else:  # hang rv under ru so that v gets the colour opposite to u
            parent[rv], parity[rv] = ru, cu ^ cv ^ 1
            odd[ru] = odd[ru] or odd[rv]
    sides = {}
    for x in range(k):
        root, colour = find(x)
        sides.setdefault(root, [0, 0])[colour] += 1
    return float(sum((a - b) ** 2 / (a + b) for root, (a, b) in sides.items() if not odd[root]))


def graph_optimal_errors(A, masks):
    r"""Glasgow and Wootters' closed form of the optimal error of a graph assignment scheme.

    Workers are the edges of a graph on the ``k`` chunks (``A`` is its incidence assignment,
    :func:`agc.assignments.graph_incidence`); each worker sends the sum of its two chunks (or
    any non-zero multiple of it). The survivors form a subgraph on all ``k`` vertices. The
    optimal :math:`\alpha^* = w^* B_S` satisfies :math:`\alpha^*_u + \alpha^*_v = 2` on every
    surviving edge, so :math:`1 - \alpha^*` alternates in sign along edges with constant
    magnitude on each component: it vanishes on a component with an odd cycle, and on a
    bipartite component with sides ``L``, ``R`` it equals
    :math:`\pm(|L| - |R|)/(|L| + |R|)`. Hence

    .. math:: \mathrm{err}^*(S) = \sum_{C \text{ bipartite}} \frac{(|L_C| - |R_C|)^2}{|L_C| + |R_C|},

    with an isolated vertex (a chunk no survivor holds) contributing 1 and a tree or even cycle
    with equal sides 0. Computed by union–find with parities, without linear algebra.

    Parameters
    ----------
    A : array_like, shape (m, k)
        0/1 incidence assignment: every row has exactly two ones.
    masks : array_like, shape (t, m) or (m,)
        Survivor masks (boolean or 0/1), one row per pattern.

    Returns
    -------
    numpy.ndarray, shape (t,)
        Unnormalised :math:`\mathrm{err}^*` (divide by ``k`` to normalise).

    Raises
    ------
    ValueError
        If a row of ``A`` does not have exactly two ones, or the masks have the wrong shape.

    References
    ----------
    M. Glasgow and M. Wootters, *Approximate gradient coding with optimal decoding*, IEEE J.
    Sel. Areas Inf. Theory 2(3), 2021 (characterisation of :math:`\alpha^*`).

    Examples
    --------
    >>> import agc, networkx as nx
    >>> A = agc.assignments.graph_incidence(nx.path_graph(4))  # edges 01, 12, 23
    >>> graph_optimal_errors(A, [[True, True, True], [True, False, True], [False, True, False]])
    array([0., 0., 2.])
    """
    A, ends = _incidence_ends(A)
    masks = mask_batch(masks, A.shape[0])
    k = A.shape[1]
    return np.array([_component_error(k, ends[mask].tolist()) for mask in masks])


def bernoulli_code(n, k, load, seed=None):
    r"""Charles et al.'s Bernoulli gradient code (BGC): :math:`B = A`, :math:`A_{ji} \sim \mathrm{Bernoulli}(\delta/k)` i.i.d.

    Each worker sends the plain sum of the chunks it happens to hold. The design column sum
    :math:`\gamma = n\delta/k` is recorded in ``params["column_sum"]``, so that
    :func:`one_step_decoder` uses Charles et al.'s one-step weights :math:`k/(\delta |S|)`.
    Averaged over the code and a survivor set ``S`` chosen independently of it, the one-step
    error is exactly

    .. math:: \mathbb{E}\,\lVert w B_S - 1^\top \rVert_2^2 = \frac{k (k - \delta)}{\delta\, |S|},

    since the survivors holding chunk ``i`` are :math:`X_i \sim \mathrm{Bin}(|S|, \delta/k)` and
    the coefficient of chunk ``i`` is :math:`k X_i / (\delta |S|)`, of mean one and variance
    :math:`(k-\delta)/(\delta |S|)`.

    Parameters
    ----------
    n, k : int
        Workers and chunks.
    load : float
        Expected chunks per worker, ``0 < load <= k``.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    agc.Code
        ``name="bgc"``, ``ell = 1``; ``params``: ``load``, ``column_sum``, ``seed``.

    References
    ----------
    Z. Charles, D. Papailiopoulos and J. Ellenberg, *Approximate gradient coding via sparse
    random graphs*, arXiv 1711.06771, 2017 (NIPS 2017 ML Systems workshop).

    Examples
    --------
    >>> code = bernoulli_code(20, 20, 4, seed=1)
    >>> code.params["column_sum"], float(one_step_decoder(code, range(10))[0, 0])  # k / (load |S|)
    (4.0, 0.5)
    """
    A = bernoulli_assignment(n, k, load, seed)
    params = {"load": float(load), "column_sum": n * load / k, "seed": seed_record(seed)}
    return Code(A.astype(np.float64), A, 1, name="bgc", params=params)


def stochastic_code(A, ell=1):
    r"""Bitar et al.'s stochastic gradient coding (SGC) weights: :math:`B_{ji} = A_{ji}\,\bar\gamma/\gamma_i`.

    Chunk ``i`` is held by :math:`\gamma_i` workers (:math:`\bar\gamma` the mean replication);
    worker ``j`` sends :math:`\sum_{i \in N(j)} (\bar\gamma/\gamma_i)\, g_i`, the plain sum when
    every chunk is replicated :math:`\gamma` times, as in Bitar et al. Every column of ``B``
    then sums to :math:`\bar\gamma`, and the parameter server's plain sum of the survivors'
    messages scaled by :math:`1/((1-p)\bar\gamma)` (:func:`stochastic_decoder`) is unbiased
    under independent Bernoulli(``p``) failures. Bitar et al. distribute the data *pair-wise
    balanced* (every pair of chunks shares as equal a number of workers as possible), which
    minimises the variance for correlated chunk gradients; the BIBDs of
    :mod:`agc.assignments.designs` (points = chunks) are exactly pair-wise balanced.

    Parameters
    ----------
    A : array_like, shape (n, k)
        0/1 assignment in which every chunk has at least one holder.
    ell : int
        Must be 1 (accepted so that the signature is that of every encoding, ``f(A, ell)``).

    Returns
    -------
    agc.Code
        ``name="sgc"``, ``ell = 1``; ``params["replication"]`` is :math:`\bar\gamma`.

    Raises
    ------
    ValueError
        If ``ell != 1``, ``A`` is not 0/1 or some chunk has no holder.

    References
    ----------
    R. Bitar, M. Wootters and S. El Rouayheb, *Stochastic gradient coding for straggler
    mitigation in distributed learning*, IEEE J. Sel. Areas Inf. Theory 1(1), 2020.

    Examples
    --------
    >>> import agc
    >>> code = stochastic_code(agc.assignments.projective_plane(2))  # 7 workers, replication 3
    >>> code.params["replication"], bool((code.B == code.assignment).all())
    (3.0, True)
    """
    _check_ell_argument(ell)
    A = check_binary_matrix("A", A)
    replication = A.sum(axis=0)
    if np.any(replication == 0):
        raise ValueError(f"A must give every chunk a holder, got none for chunk {int(np.argmin(replication))}")
    mean = float(replication.mean())
    return Code(A * (mean / replication), A, 1, name="sgc", params={"replication": mean})


def stochastic_decoder(code, survivors, p):
    r"""Bitar et al.'s SGC decoder: :math:`w = \frac{1}{(1-p)\gamma} 1_S` for a code with column sums :math:`\gamma`.

    Each worker survives independently with probability :math:`1 - p`, so
    :math:`\mathbb{E}[w B_S] = \frac{1}{\gamma} 1^\top B = 1^\top`: the decoded gradient is
    unbiased for every choice of chunk gradients. It is :func:`agc.unbiased_decoder` with the
    exact decoder :math:`D_{\mathrm{full}} = \frac1\gamma 1^\top`, and its mean error is
    :math:`\frac{p}{1-p}\sum_j \lVert B_{j,:}\rVert^2/\gamma^2`
    (:func:`agc.bounds.unbiased_expected_error`).

    Parameters
    ----------
    code : agc.Code
        A code with ``ell = 1`` and equal column sums (:func:`stochastic_code`, :func:`expander`,
        ``stacking`` of a replication-regular assignment, ...).
    survivors : array_like
        Index array or boolean mask of length ``n``.
    p : float
        Failure probability in ``[0, 1)``.

    Returns
    -------
    numpy.ndarray, shape (1, |S|)

    Raises
    ------
    ValueError
        If ``code.ell != 1``, the column sums of ``B`` differ, or ``p`` is not in ``[0, 1)``.

    References
    ----------
    R. Bitar, M. Wootters and S. El Rouayheb, IEEE J. Sel. Areas Inf. Theory 1(1), 2020.

    Examples
    --------
    >>> import agc
    >>> code = stochastic_code(agc.assignments.projective_plane(2))
    >>> stochastic_decoder(code, [0, 3, 5], 0.25)  # 1 / ((1 - p) * 3)
    array([[0.44444444, 0.44444444, 0.44444444]])
    """
    _check_ell_one(code)
    p = check_probability("p", p)
    gamma = _constant_column_sum(code)
    return unbiased_decoder(code, survivors, p, D_full=np.full((1, code.n), 1.0 / gamma))
