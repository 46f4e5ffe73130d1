"""Assignments from bipartite graphs: cyclic, fractional repetition, random bi-regular, random, graphs.

The book's chapter *Bipartite graphs and the null-space constraint* uses them.

Each function returns an ``(n, k)`` 0/1 ``int64`` array, rows = workers, columns = chunks.
"""

from __future__ import annotations

import numbers

import networkx as nx
import numpy as np

from agc._checks import as_generator, check_int


def cyclic(n, k, load):
    """Cyclic (circulant) assignment: worker ``j`` holds ``load`` consecutive chunks from ``⌊j·k/n⌋``.

    Worker ``j`` holds chunks ``⌊jk/n⌋, ⌊jk/n⌋ + 1, …, ⌊jk/n⌋ + load - 1`` (mod ``k``). For
    ``n = k`` this is the classical circulant ``j, j+1, …, j+load-1``; for ``n ≠ k`` the starting
    chunks are spread evenly, so every chunk is held when ``n·load >= k`` and replications differ
    by at most one when ``n`` divides ``k`` or ``k`` divides ``n``.

    Parameters
    ----------
    n : int
        Workers, ``n >= 1``.
    k : int
        Chunks, ``k >= 1``.
    load : int
        Chunks per worker, ``1 <= load <= k``.

    Returns
    -------
    numpy.ndarray, shape (n, k)

    Raises
    ------
    ValueError
        If ``load > k`` or a parameter is below one.

    References
    ----------
    Tandon, Lei, Dimakis and Karampatziakis, *Gradient coding*, ICML 2017.

    Examples
    --------
    >>> cyclic(3, 3, 2)
    array([[1, 1, 0],
           [0, 1, 1],
           [1, 0, 1]])
    >>> cyclic(2, 4, 2)  # starts spread out: chunks 0, 1 and 2, 3
    array([[1, 1, 0, 0],
           [0, 0, 1, 1]])
    """
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=1)
    load = check_int("load", load, low=1, high=k)
    A = np.zeros((n, k), dtype=np.int64)
    for j in range(n):
        A[j, (j * k // n + np.arange(load)) % k] = 1
    return A


def fractional_repetition(n, k, load):
    """Fractional repetition: ``k/load`` groups of workers, each group holding the same ``load`` chunks.

    Chunks ``g·load, …, (g+1)·load - 1`` go to every worker of group ``g``; the ``n`` workers are
    split into ``k/load`` equal groups, so the replication is ``n·load/k``.

    Parameters
    ----------
    n : int
        Workers; must be a multiple of ``k / load``.
    k : int
        Chunks; must be a multiple of ``load``.
    load : int
        Chunks per worker, ``1 <= load <= k``.

    Returns
    -------
    numpy.ndarray, shape (n, k)

    Raises
    ------
    ValueError
        If ``load`` does not divide ``k`` or ``k/load`` does not divide ``n``.

    References
    ----------
    Tandon, Lei, Dimakis and Karampatziakis, *Gradient coding*, ICML 2017.

    Examples
    --------
    >>> fractional_repetition(4, 4, 2)
    array([[1, 1, 0, 0],
           [1, 1, 0, 0],
           [0, 0, 1, 1],
           [0, 0, 1, 1]])
    """
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=1)
    load = check_int("load", load, low=1, high=k)
    if k % load:
        raise ValueError(f"load={load} must divide k={k} for fractional repetition")
    groups = k // load
    if n % groups:
        raise ValueError(f"n={n} must be a multiple of k/load={groups} for fractional repetition")
    per_group = n // groups
    A = np.zeros((n, k), dtype=np.int64)
    for g in range(groups):
        A[g * per_group:(g + 1) * per_group, g * load:(g + 1) * load] = 1
    return A


def random_biregular(n, k, load, seed=None):
    r"""Random bi-regular assignment: every worker holds ``load`` chunks, every chunk ``replication`` workers.

    The replication is :math:`\gamma = n\,\delta / k` (``n * load / k``). The graph is sampled
    approximately uniformly from all simple bipartite graphs with these degrees by the *switch*
    Markov chain: start from the deterministic graph in which stub ``s = j·load + t`` of worker
    ``j`` goes to chunk ``s mod k``, then repeat :math:`\lceil 20\,E \ln E \rceil` times
    (:math:`E = n\,\delta` edges): pick two edges :math:`(j_1, i_1), (j_2, i_2)` uniformly at
    random and replace them by :math:`(j_1, i_2), (j_2, i_1)` unless that would repeat an edge.
    The proposal is symmetric, so the uniform distribution is stationary; by Ryser's theorem
    any two 0/1 matrices with the same margins are joined by such switches, so the chain is
    irreducible, and for degree sequences that are regular on one side it mixes rapidly
    (Miklós, Erdős and Soukup). The configuration model with rejection would be exactly
    uniform, but it accepts with probability about
    :math:`e^{-(\delta-1)(\gamma-1)/2}`, already below :math:`10^{-7}` for ``(200, 100, 5)``.

    Parameters
    ----------
    n : int
        Workers, ``n >= 1``.
    k : int
        Chunks, ``k >= 1``.
    load : int
        Chunks per worker, ``1 <= load <= k`` (then ``replication <= n`` too).
    seed : int, numpy.random.Generator or None
        Source of randomness; the same seed gives the same matrix.

    Returns
    -------
    numpy.ndarray, shape (n, k)
        A 0/1 ``int64`` matrix with row sums ``load`` and column sums ``n * load / k``.

    Raises
    ------
    ValueError
        If ``load > k``, a parameter is below one, or ``k`` does not divide ``n * load``.

    References
    ----------
    H. J. Ryser, *Combinatorial properties of matrices of zeros and ones*, Canad. J. Math. 9, 1957.
    I. Miklós, P. L. Erdős and L. Soukup, *Towards random uniform sampling of bipartite graphs
    with given degree sequence*, Electron. J. Combin. 20(1), 2013.

    Examples
    --------
    >>> A = random_biregular(40, 20, 3, seed=0)
    >>> A.shape, set(A.sum(axis=1).tolist()), set(A.sum(axis=0).tolist())
    ((40, 20), {3}, {6})
    >>> bool((A == random_biregular(40, 20, 3, seed=0)).all())
    True
    """
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=1)
    load = check_int("load", load, low=1, high=k)
    if (n * load) % k:
        raise ValueError(
            f"n*load = {n}*{load} = {n * load} must be divisible by k={k} so that every chunk "
            f"has the same replication n*load/k"
        )
    rng = as_generator(seed)
    edges = n * load
    workers = [s // load for s in range(edges)]
    chunks = [s % k for s in range(edges)]
    present = {w * k + c for w, c in zip(workers, chunks)}
    steps = max(100, int(np.ceil(20 * edges * np.log(edges))))
    for a, b in rng.integers(0, edges, size=(steps, 2)).tolist():
        w1, c1, w2, c2 = workers[a], chunks[a], workers[b], chunks[b]
        if w1 == w2 or c1 == c2 or w1 * k + c2 in present or w2 * k + c1 in present:
            continue
        present -= {w1 * k + c1, w2 * k + c2}
        present |= {w1 * k + c2, w2 * k + c1}
        chunks[a], chunks[b] = c2, c1
    A = np.zeros((n, k), dtype=np.int64)
    A[workers, chunks] = 1
    return A


def bernoulli_assignment(n, k, load, seed=None):
    r"""Random assignment with independent entries: worker ``j`` holds chunk ``i`` with probability ``load / k``.

    The loads are :math:`\mathrm{Bin}(k, \delta/k)` (mean :math:`\delta`) and the replications
    :math:`\mathrm{Bin}(n, \delta/k)` (mean :math:`n\delta/k`); a chunk may be held by nobody.

    Parameters
    ----------
    n : int
        Workers, ``n >= 1``.
    k : int
        Chunks, ``k >= 1``.
    load : float
        Expected chunks per worker, ``0 < load <= k``.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    numpy.ndarray, shape (n, k)

    Raises
    ------
    ValueError
        If ``load`` is not in ``(0, k]``.

    References
    ----------
    Z. Charles, D. Papailiopoulos and J. Ellenberg, *Approximate gradient coding via sparse
    random graphs*, arXiv 1711.06771, 2017 (the Bernoulli gradient code).

    Examples
    --------
    >>> A = bernoulli_assignment(50, 50, 5, seed=0)
    >>> A.shape, bool((A == bernoulli_assignment(50, 50, 5, seed=0)).all())
    ((50, 50), True)
    """
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=1)
    if isinstance(load, bool) or not isinstance(load, numbers.Real):
        raise TypeError(f"load must be a real number, got {load!r}")
    if not (0 < load <= k):
        raise ValueError(f"load must lie in (0, k={k}], got {load}")
    return (as_generator(seed).random((n, k)) < load / k).astype(np.int64)


def random_fixed_load(n, k, load, seed=None):
    """Random assignment with a constant load: every worker holds ``load`` chunks chosen uniformly at random.

    Each worker picks its ``load`` chunks without replacement, independently of the others, so
    the replication is irregular (a chunk may be held by nobody): the instances on which a
    bound must not assume constant replication.

    Parameters
    ----------
    n : int
        Workers, ``n >= 1``.
    k : int
        Chunks, ``k >= 1``.
    load : int
        Chunks per worker, ``1 <= load <= k``.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    numpy.ndarray, shape (n, k)

    Examples
    --------
    >>> A = random_fixed_load(5, 4, 2, seed=0)
    >>> A.sum(axis=1).tolist()
    [2, 2, 2, 2, 2]
    """
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=1)
    load = check_int("load", load, low=1, high=k)
    rng = as_generator(seed)
    A = np.zeros((n, k), dtype=np.int64)
    for j in range(n):
        A[j, rng.choice(k, size=load, replace=False)] = 1
    return A


def random_regular(n, degree, seed=None):
    r"""Adjacency assignment of a uniformly random ``degree``-regular graph on ``n`` vertices.

    The graph is ``networkx.random_regular_graph(degree, n, seed=rng)`` (Steger–Wormald
    pairing, close to uniform), turned into an assignment by :func:`graph_adjacency`: worker
    ``j`` holds the chunks of the neighbours of vertex ``j``, so load = replication = ``degree``.

    Parameters
    ----------
    n : int
        Workers and chunks, ``n > degree``.
    degree : int
        ``1 <= degree < n`` with ``n * degree`` even.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    numpy.ndarray, shape (n, n)

    Raises
    ------
    ValueError
        If ``n * degree`` is odd or ``degree`` is out of range.

    References
    ----------
    N. Raviv, I. Tamo, R. Tandon and A. G. Dimakis, *Gradient coding from cyclic MDS codes and
    expander graphs*, ICML 2018.

    Examples
    --------
    >>> A = random_regular(10, 3, seed=0)
    >>> set(A.sum(axis=0).tolist()), bool((A == A.T).all())
    ({3}, True)
    """
    n = check_int("n", n, low=2)
    degree = check_int("degree", degree, low=1, high=n - 1)
    if (n * degree) % 2:
        raise ValueError(f"n * degree must be even for a regular graph, got n={n}, degree={degree}")
    return graph_adjacency(nx.random_regular_graph(degree, n, seed=as_generator(seed)))


def _sorted_simple_graph(G):
    """Return ``(nodes, index)`` for a simple undirected networkx graph, nodes in sorted order."""
    if not isinstance(G, nx.Graph):
        raise TypeError(f"G must be a networkx graph, got {type(G).__name__}")
    if G.is_directed() or G.is_multigraph():
        raise ValueError(f"G must be a simple undirected graph, got a {type(G).__name__}")
    loops = nx.number_of_selfloops(G)
    if loops:
        raise ValueError(f"G must have no self-loops, got {loops} (e.g. at node {next(nx.nodes_with_selfloops(G))!r})")
    if G.number_of_nodes() == 0:
        raise ValueError("G must have at least one node, got the null graph")
    try:
        nodes = sorted(G)
    except TypeError:
        raise TypeError("G's nodes must be mutually comparable so that they can be sorted") from None
    return nodes, {node: i for i, node in enumerate(nodes)}


def graph_incidence(G):
    r"""Incidence assignment of a graph: workers = edges, chunks = vertices, load 2.

    Nodes are relabelled ``0..v-1`` in sorted order; worker ``j`` is the ``j``-th edge of
    ``sorted(G.edges())`` after the relabelling (each edge written as ``(low, high)``) and holds
    the chunks of its two end points, so the replication of chunk ``i`` is the degree of
    vertex ``i`` (constant, :math:`\kappa`, for a regular graph such as an SRG). An isolated
    vertex gives a chunk that no worker holds.

    Parameters
    ----------
    G : networkx.Graph
        A simple undirected graph with at least one edge and sortable nodes.

    Returns
    -------
    numpy.ndarray, shape (G.number_of_edges(), G.number_of_nodes())
        The 0/1 ``int64`` edge-vertex incidence matrix.

    Raises
    ------
    ValueError
        If ``G`` is directed, a multigraph, has self-loops or has no edge.
    TypeError
        If ``G`` is not a networkx graph or its nodes cannot be sorted.

    References
    ----------
    M. Glasgow and M. Wootters, *Approximate gradient coding with optimal decoding*, IEEE JSAIT 2021
    (workers = edges of a graph).

    Examples
    --------
    >>> import networkx as nx
    >>> graph_incidence(nx.path_graph(["a", "b", "c"]))
    array([[1, 1, 0],
           [0, 1, 1]])
    """
    nodes, index = _sorted_simple_graph(G)
    if G.number_of_edges() == 0:
        raise ValueError("G must have at least one edge: its edges are the workers")
    edges = sorted(tuple(sorted((index[u], index[v]))) for u, v in G.edges())
    A = np.zeros((len(edges), len(nodes)), dtype=np.int64)
    rows = np.arange(len(edges))
    ends = np.array(edges)
    A[rows, ends[:, 0]] = 1
    A[rows, ends[:, 1]] = 1
    return A


def graph_adjacency(G):
    r"""Adjacency assignment of a graph: workers = chunks = vertices.

    Worker ``j`` holds the chunks of the neighbours of vertex ``j`` (not its own), so the load
    and the replication both equal the degree: :math:`\kappa` for a :math:`\kappa`-regular
    graph. Nodes are taken in sorted order. For a strongly regular graph the matrix obeys
    :math:`A^2 = \kappa I + \lambda A + \mu (J - I - A)` (book: *Strongly regular graphs*).

    Parameters
    ----------
    G : networkx.Graph
        A simple undirected graph with sortable nodes.

    Returns
    -------
    numpy.ndarray, shape (v, v)
        The symmetric 0/1 ``int64`` adjacency matrix, ``v = G.number_of_nodes()``.

    Raises
    ------
    ValueError
        If ``G`` is directed, a multigraph, has self-loops or no node.
    TypeError
        If ``G`` is not a networkx graph or its nodes cannot be sorted.

    References
    ----------
    N. Raviv, I. Tamo, R. Tandon and A. G. Dimakis, *Gradient coding from cyclic MDS codes and
    expander graphs*, ICML 2018.

    Examples
    --------
    >>> import networkx as nx
    >>> graph_adjacency(nx.cycle_graph(4))
    array([[0, 1, 0, 1],
           [1, 0, 1, 0],
           [0, 1, 0, 1],
           [1, 0, 1, 0]])
    """
    nodes, _ = _sorted_simple_graph(G)
    return nx.to_numpy_array(G, nodelist=nodes, dtype=np.int64, weight=None)
