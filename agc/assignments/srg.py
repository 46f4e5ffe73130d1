r"""Strongly regular graphs (SRGs) as networkx graphs (book: *Strongly regular graphs*).

A graph is strongly regular with parameters :math:`(v, \kappa, \lambda, \mu)` when it has
:math:`v` vertices, is :math:`\kappa`-regular, adjacent vertices have :math:`\lambda` common
neighbours and distinct non-adjacent vertices :math:`\mu`; equivalently its adjacency matrix
satisfies :math:`A^2 = \kappa I + \lambda A + \mu (J - I - A)`. The complement is again an SRG,
with parameters :math:`(v,\; v-\kappa-1,\; v-2-2\kappa+\mu,\; v-2\kappa+\lambda)`.

Every generator returns a graph on the nodes ``0..v-1``; where the vertices have a natural
name (a pair, a subset, a line of a cubic surface) it is kept in the node attribute
``"label"``. Use :func:`agc.assignments.graph_adjacency` or
:func:`agc.assignments.graph_incidence` to turn a graph into an assignment.
"""

from __future__ import annotations

import inspect
import itertools
from typing import NamedTuple

import networkx as nx
import numpy as np

from agc._checks import check_binary_matrix, check_int
from agc.assignments.fields import check_prime_power, field_tables


class SRGParameters(NamedTuple):
    r"""Parameters of a strongly regular graph.

    Attributes
    ----------
    v : int
        Vertices.
    kappa : int
        Degree :math:`\kappa` (the load and replication of the adjacency assignment).
    lam : int
        Common neighbours of two adjacent vertices, :math:`\lambda`.
    mu : int
        Common neighbours of two distinct non-adjacent vertices, :math:`\mu`.
    """

    v: int
    kappa: int
    lam: int
    mu: int


def _labelled(G, name):
    """Copy ``G`` onto the nodes ``0..v-1`` in sorted node order, keeping the old names as ``"label"``."""
    nodes = sorted(G)
    index = {node: i for i, node in enumerate(nodes)}
    H = nx.Graph(name=name)
    H.add_nodes_from((i, {"label": node}) for i, node in enumerate(nodes))
    H.add_edges_from((index[u], index[w]) for u, w in G.edges())
    return H


def _from_adjacency(adjacency, name, labels=None):
    G = nx.from_numpy_array(np.asarray(adjacency, dtype=np.int64))
    if labels is not None:
        nx.set_node_attributes(G, dict(enumerate(labels)), "label")
    G.graph = {"name": name}
    return G


def paley(q):
    r"""Paley graph :math:`P(q)`: an SRG :math:`(q, \tfrac{q-1}{2}, \tfrac{q-5}{4}, \tfrac{q-1}{4})`.

    Vertices are the elements of :math:`GF(q)` (node ``i`` is galois's integer representation
    ``i``); :math:`x \sim y` iff :math:`x - y` is a non-zero square. The relation is symmetric
    only when :math:`-1` is a square, i.e. :math:`q \equiv 1 \pmod 4`. The graph is self-complementary.

    Parameters
    ----------
    q : int
        A prime power with ``q % 4 == 1`` (5, 9, 13, 17, 25, …).

    Returns
    -------
    networkx.Graph

    Raises
    ------
    ValueError
        If ``q`` is not a prime power or ``q % 4 != 1``.

    References
    ----------
    R. E. A. C. Paley, *On orthogonal matrices*, J. Math. Phys. 12, 1933.
    A. E. Brouwer and H. Van Maldeghem, *Strongly Regular Graphs*, Cambridge Univ. Press, 2022.

    Examples
    --------
    >>> srg_parameters(paley(13))
    SRGParameters(v=13, kappa=6, lam=2, mu=3)
    """
    q = check_prime_power(q, "Paley graph")
    if q % 4 != 1:
        raise ValueError(
            f"q={q} ≡ {q % 4} (mod 4); the Paley graph needs q ≡ 1 (mod 4) so that -1 is a square in GF(q) "
            f"and the quadratic-residue relation is symmetric"
        )
    tables = field_tables(q)
    return _from_adjacency(tables.nonzero_square[tables.sub], f"paley(q={q})")


def triangular(m):
    r"""Triangular graph :math:`T(m)`, the line graph of :math:`K_m`: an SRG
    :math:`(\binom{m}{2}, 2(m-2), m-2, 4)`.

    Vertices are the 2-subsets of ``{0, …, m-1}`` (``"label"``), adjacent when they meet.

    Parameters
    ----------
    m : int
        ``m >= 4`` (``T(3)`` is a triangle, a complete graph).

    Returns
    -------
    networkx.Graph

    Raises
    ------
    ValueError
        If ``m < 4``.

    References
    ----------
    A. E. Brouwer and H. Van Maldeghem, *Strongly Regular Graphs*, Cambridge Univ. Press, 2022.

    Examples
    --------
    >>> srg_parameters(triangular(5))
    SRGParameters(v=10, kappa=6, lam=3, mu=4)
    """
    m = check_int("m", m, low=4)
    return _labelled(nx.line_graph(nx.complete_graph(m)), f"triangular(m={m})")


def lattice(m):
    r"""Lattice (rook's) graph :math:`L_2(m) = K_m \square K_m`: an SRG :math:`(m^2, 2(m-1), m-2, 2)`.

    Vertices are the cells ``(row, column)`` of an ``m × m`` board (``"label"``), adjacent when
    they share a row or a column.

    Parameters
    ----------
    m : int
        ``m >= 2``.

    Returns
    -------
    networkx.Graph

    Raises
    ------
    ValueError
        If ``m < 2``.

    References
    ----------
    A. E. Brouwer and H. Van Maldeghem, *Strongly Regular Graphs*, Cambridge Univ. Press, 2022.

    Examples
    --------
    >>> srg_parameters(lattice(3))
    SRGParameters(v=9, kappa=4, lam=1, mu=2)
    """
    m = check_int("m", m, low=2)
    return _labelled(nx.cartesian_product(nx.complete_graph(m), nx.complete_graph(m)), f"lattice(m={m})")


def petersen():
    r"""Petersen graph: an SRG :math:`(10, 3, 0, 1)` (the complement of :math:`T(5)`).

    Returns
    -------
    networkx.Graph

    References
    ----------
    networkx :func:`networkx.petersen_graph`.

    Examples
    --------
    >>> srg_parameters(petersen())
    SRGParameters(v=10, kappa=3, lam=0, mu=1)
    """
    G = nx.petersen_graph()
    G.graph = {"name": "petersen"}
    return G


def clebsch():
    r"""Clebsch graph (folded 5-cube): an SRG :math:`(16, 5, 0, 2)`.

    Vertices are the 4-bit vectors ``0..15`` (the 5-cube with antipodal vertices identified);
    :math:`x \sim y` iff they differ in exactly one bit or in all four. The complement is the
    halved 5-cube, :math:`(16, 10, 6, 6)`.

    Returns
    -------
    networkx.Graph

    References
    ----------
    A. E. Brouwer and H. Van Maldeghem, *Strongly Regular Graphs*, Cambridge Univ. Press, 2022.

    Examples
    --------
    >>> srg_parameters(clebsch())
    SRGParameters(v=16, kappa=5, lam=0, mu=2)
    """
    x = np.arange(16)
    difference = x[:, None] ^ x[None, :]
    adjacency = (np.bitwise_count(difference) == 1) | (difference == 15)
    return _from_adjacency(adjacency, "clebsch")


def shrikhande():
    r"""Shrikhande graph: an SRG :math:`(16, 6, 2, 2)`, cospectral with but not isomorphic to :math:`L_2(4)`.

    The Cayley graph of :math:`\mathbb{Z}_4 \times \mathbb{Z}_4` with connection set
    :math:`\{\pm(1,0), \pm(0,1), \pm(1,1)\}`; node ``4a + b`` is ``(a, b)`` (``"label"``).

    Returns
    -------
    networkx.Graph

    References
    ----------
    S. S. Shrikhande, *The uniqueness of the L2 association scheme*, Ann. Math. Statist. 30, 1959.

    Examples
    --------
    >>> srg_parameters(shrikhande())
    SRGParameters(v=16, kappa=6, lam=2, mu=2)
    """
    cells = list(itertools.product(range(4), repeat=2))
    connection = {(1, 0), (3, 0), (0, 1), (0, 3), (1, 1), (3, 3)}
    adjacency = [[((a - c) % 4, (b - d) % 4) in connection for c, d in cells] for a, b in cells]
    return _from_adjacency(adjacency, "shrikhande", labels=cells)


def schlafli():
    r"""Schläfli graph: an SRG :math:`(27, 16, 10, 8)`.

    Vertices are the 27 lines on a smooth cubic surface in Schläfli's double-six notation:
    :math:`a_i, b_i` (:math:`i = 1..6`) and :math:`c_{ij}` (:math:`i < j`), node labels
    ``"a1"``, ``"b1"``, ``"c12"``, …. Two lines *meet* when they are :math:`a_i, b_j` with
    :math:`i \ne j`; :math:`a_i` or :math:`b_i` and :math:`c_{jk}` with
    :math:`i \in \{j, k\}`; or :math:`c_{ij}, c_{kl}` with :math:`\{i,j\} \cap \{k,l\} = \emptyset`.
    The intersection graph is an SRG :math:`(27, 10, 1, 5)`; the Schläfli graph is its
    complement: lines are adjacent when they are *skew*.

    Returns
    -------
    networkx.Graph

    References
    ----------
    L. Schläfli, *An attempt to determine the twenty-seven lines upon a surface of the third
    order*, Quart. J. Pure Appl. Math. 2, 1858. A. E. Brouwer and H. Van Maldeghem,
    *Strongly Regular Graphs*, Cambridge Univ. Press, 2022.

    Examples
    --------
    >>> srg_parameters(schlafli())
    SRGParameters(v=27, kappa=16, lam=10, mu=8)
    """
    lines = [("a", {i}) for i in range(1, 7)] + [("b", {i}) for i in range(1, 7)]
    lines += [("c", set(pair)) for pair in itertools.combinations(range(1, 7), 2)]

    def meet(first, second):
        (kind1, set1), (kind2, set2) = sorted([first, second], key=lambda line: line[0])
        if kind1 == kind2:
            return kind1 == "c" and not set1 & set2
        if kind2 == "c":
            return set1 <= set2
        return set1 != set2

    adjacency = [[line != other and not meet(line, other) for other in lines] for line in lines]
    labels = [kind + "".join(map(str, sorted(points))) for kind, points in lines]
    return _from_adjacency(adjacency, "schlafli", labels=labels)


def hoffman_singleton():
    r"""Hoffman–Singleton graph: an SRG :math:`(50, 7, 0, 1)`, the Moore graph of degree 7.

    Returns
    -------
    networkx.Graph

    References
    ----------
    A. J. Hoffman and R. R. Singleton, *On Moore graphs with diameters 2 and 3*, IBM J. Res.
    Develop. 4, 1960; networkx :func:`networkx.hoffman_singleton_graph`.

    Examples
    --------
    >>> srg_parameters(hoffman_singleton())
    SRGParameters(v=50, kappa=7, lam=0, mu=1)
    """
    G = nx.hoffman_singleton_graph()
    G.graph = {"name": "hoffman_singleton"}
    return G


def johnson_fusion_126():
    r"""The paper's SRG :math:`(126, 25, 8, 4)`: 4-subsets of a 9-set meeting in 0 or 3 elements.

    Vertices are the :math:`\binom{9}{4} = 126` subsets of size 4 of ``{0, …, 8}``
    (``"label"``); two are adjacent when their intersection has 0 or 3 elements: the union of
    the classes "disjoint" (5 neighbours) and "Johnson-adjacent" (20 neighbours) of the Johnson
    scheme :math:`J(9, 4)`. Checked by computation: of the fusions of :math:`J(9, 4)` (adjacency
    by an intersection size in a non-empty proper subset of ``{0, 1, 2, 3}``) this one, ``{0, 3}``,
    is the only one with parameters :math:`(126, 25, 8, 4)`; its complement ``{1, 2}`` is
    :math:`(126, 100, 78, 84)` and no other fusion is strongly regular.

    Returns
    -------
    networkx.Graph

    References
    ----------
    A. E. Brouwer, *Parameters of strongly regular graphs* (online tables), entry
    (126, 25, 8, 4). S. Munim and A. Ramamoorthy, arXiv 2603.22514 (the SRG used in the paper).

    Examples
    --------
    >>> srg_parameters(johnson_fusion_126())
    SRGParameters(v=126, kappa=25, lam=8, mu=4)
    """
    subsets = list(itertools.combinations(range(9), 4))
    masks = np.array([sum(1 << i for i in subset) for subset in subsets])
    meet = np.bitwise_count(masks[:, None] & masks[None, :])
    return _from_adjacency((meet == 0) | (meet == 3), "johnson_fusion_126", labels=subsets)


SRG_FAMILIES = {
    "paley": (paley, "q: prime power with q ≡ 1 (mod 4); (q, (q-1)/2, (q-5)/4, (q-1)/4)"),
    "triangular": (triangular, "m >= 4; T(m) = line graph of K_m, (m(m-1)/2, 2(m-2), m-2, 4)"),
    "lattice": (lattice, "m >= 2; rook's graph K_m □ K_m, (m², 2(m-1), m-2, 2)"),
    "petersen": (petersen, "no parameters; (10, 3, 0, 1)"),
    "clebsch": (clebsch, "no parameters; folded 5-cube, (16, 5, 0, 2)"),
    "shrikhande": (shrikhande, "no parameters; (16, 6, 2, 2)"),
    "schlafli": (schlafli, "no parameters; (27, 16, 10, 8)"),
    "hoffman_singleton": (hoffman_singleton, "no parameters; (50, 7, 0, 1)"),
    "johnson_fusion_126": (johnson_fusion_126, "no parameters; 4-subsets of a 9-set meeting in 0 or 3, (126, 25, 8, 4)"),
}


def srg(name, *, complement=False, **params):
    r"""Build a named strongly regular graph, or its complement, and check that it is one.

    Parameters
    ----------
    name : str
        A key of :data:`SRG_FAMILIES`.
    complement : bool, optional
        Return the complement, an SRG :math:`(v, v-\kappa-1, v-2-2\kappa+\mu, v-2\kappa+\lambda)`.
    **params
        The family's parameters (``q`` for ``"paley"``, ``m`` for ``"triangular"`` and
        ``"lattice"``, none for the others).

    Returns
    -------
    networkx.Graph
        With ``G.graph["name"]`` and ``G.graph["srg_parameters"]`` (an :class:`SRGParameters`).

    Raises
    ------
    ValueError
        If ``name`` is unknown or the family rejects its parameters.
    TypeError
        If ``params`` do not match the family.

    References
    ----------
    A. E. Brouwer and H. Van Maldeghem, *Strongly Regular Graphs*, Cambridge Univ. Press, 2022.

    Examples
    --------
    >>> srg("paley", q=9).graph["srg_parameters"]
    SRGParameters(v=9, kappa=4, lam=1, mu=2)
    >>> srg("petersen", complement=True).graph["srg_parameters"]
    SRGParameters(v=10, kappa=6, lam=3, mu=4)
    """
    if name not in SRG_FAMILIES:
        raise ValueError(f"name={name!r} is not a known SRG family; choose one of {sorted(SRG_FAMILIES)}")
    build, description = SRG_FAMILIES[name]
    try:
        inspect.signature(build).bind(**params)
    except TypeError as exc:
        raise TypeError(f"srg({name!r}) takes {description}: {exc}") from None
    G = build(**params)
    if complement:
        label = G.graph["name"]
        G = nx.complement(G)
        G.graph = {"name": f"complement of {label}"}
    G.graph["srg_parameters"] = srg_parameters(G)
    return G


def srg_parameters(G):
    r"""Parameters :math:`(v, \kappa, \lambda, \mu)` of a strongly regular graph.

    Parameters
    ----------
    G : networkx.Graph or array_like, shape (v, v)
        A simple undirected graph, or its 0/1 adjacency matrix (symmetric, zero diagonal).

    Returns
    -------
    SRGParameters

    Raises
    ------
    ValueError
        If ``G`` is directed, a multigraph, has self-loops, is not regular, is complete or
        empty (:math:`\mu` or :math:`\lambda` undefined), or :math:`\lambda` or :math:`\mu` is
        not constant; the message says which.
    TypeError
        If ``G`` is neither a networkx graph nor a numeric matrix.

    References
    ----------
    A. E. Brouwer and H. Van Maldeghem, *Strongly Regular Graphs*, Cambridge Univ. Press, 2022.

    Examples
    --------
    >>> import networkx as nx
    >>> srg_parameters(nx.cycle_graph(5))
    SRGParameters(v=5, kappa=2, lam=0, mu=1)
    >>> srg_parameters(nx.to_numpy_array(nx.petersen_graph(), dtype=int))
    SRGParameters(v=10, kappa=3, lam=0, mu=1)
    >>> srg_parameters(nx.path_graph(3))
    Traceback (most recent call last):
    ...
    ValueError: G is not regular: degrees range from 1 to 2
    """
    if isinstance(G, nx.Graph):
        if G.is_directed() or G.is_multigraph():
            raise ValueError(f"G must be a simple undirected graph, got a {type(G).__name__}")
        if nx.number_of_selfloops(G):
            raise ValueError(f"G must have no self-loops, got {nx.number_of_selfloops(G)}")
        A = nx.to_numpy_array(G, dtype=np.int64, weight=None)
    else:
        A = check_binary_matrix("G", G)
        if A.shape[0] != A.shape[1] or np.any(A != A.T) or np.any(np.diag(A) != 0):
            raise ValueError(f"G as a matrix must be a square symmetric 0/1 adjacency matrix with zero diagonal, "
                             f"got shape {A.shape}")
    v = len(A)
    if v == 0:
        raise ValueError("G has no vertices")
    degrees = A.sum(axis=1)
    if degrees.min() != degrees.max():
        raise ValueError(f"G is not regular: degrees range from {degrees.min()} to {degrees.max()}")
    kappa = int(degrees[0])
    if kappa == 0:
        raise ValueError(f"G is empty (no edges on {v} vertices); λ is undefined, so it is not an SRG")
    if kappa == v - 1:
        raise ValueError(f"G is complete (K_{v}); μ is undefined, so it is not an SRG")
    common = A @ A
    adjacent = A == 1
    non_adjacent = ~adjacent & ~np.eye(v, dtype=bool)
    lam_values, mu_values = common[adjacent], common[non_adjacent]
    if lam_values.min() != lam_values.max():
        raise ValueError(
            f"λ is not constant: adjacent vertices have between {lam_values.min()} and {lam_values.max()} "
            f"common neighbours"
        )
    if mu_values.min() != mu_values.max():
        raise ValueError(
            f"μ is not constant: non-adjacent vertices have between {mu_values.min()} and {mu_values.max()} "
            f"common neighbours"
        )
    return SRGParameters(v=v, kappa=kappa, lam=int(lam_values[0]), mu=int(mu_values[0]))


def srg_spectrum(parameters):
    r"""The three adjacency eigenvalues of an SRG and their multiplicities, from its parameters.

    :math:`A^2 = \kappa I + \lambda A + \mu(J - I - A)` gives the eigenvalue :math:`\kappa` on
    :math:`1` (once, for a connected graph) and, on :math:`1^\perp`, the roots
    :math:`\theta > \tau` of :math:`x^2 - (\lambda - \mu)x - (\kappa - \mu) = 0`; their
    multiplicities ``f`` and ``g`` follow from :math:`f + g = v - 1` and
    :math:`\operatorname{tr} A = \kappa + f\theta + g\tau = 0`.

    Parameters
    ----------
    parameters : SRGParameters or tuple
        :math:`(v, \kappa, \lambda, \mu)`.

    Returns
    -------
    dict
        eigenvalue → multiplicity, ``{kappa: 1, theta: f, tau: g}``.

    Raises
    ------
    ValueError
        If the multiplicities are not non-negative integers (no SRG has these parameters), or
        :math:`\mu = 0` (a disjoint union of complete graphs, whose eigenvalue :math:`\kappa` is
        not simple).

    Examples
    --------
    >>> srg_spectrum((10, 3, 0, 1))  # the Petersen graph
    {3: 1, 1.0: 5, -2.0: 4}
    """
    v, kappa, lam, mu = (int(x) for x in parameters)
    if mu == 0:
        raise ValueError(f"mu = 0: SRG{(v, kappa, lam, mu)} is a disjoint union of complete graphs, not connected")
    root = np.sqrt((lam - mu) ** 2 + 4 * (kappa - mu))
    theta, tau = ((lam - mu) + root) / 2, ((lam - mu) - root) / 2
    f = ((v - 1) * -tau - kappa) / (theta - tau)
    if abs(f - round(f)) > 1e-9 or not 0 <= round(f) <= v - 1:
        raise ValueError(f"no SRG{(v, kappa, lam, mu)}: the multiplicity of {theta:g} would be {f:g}")
    return {kappa: 1, float(theta): round(f), float(tau): v - 1 - round(f)}
