"""Name constructions by strings: ``make_code(family=..., encoding=..., ell=..., seed=..., **params)``.

Sweeps, the CLI and the chapters build codes through this one table. A *family* makes an
assignment (an ``(n, k)`` 0/1 matrix); an *encoding* turns it into a :class:`agc.Code`.
"""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np

from agc import assignments, encodings

#: family name -> (module, function name, one-line description)
FAMILIES = {
    "cyclic": (assignments, "cyclic", "worker j holds load consecutive chunks from floor(j*k/n), mod k"),
    "fractional_repetition": (assignments, "fractional_repetition", "groups of workers share the same chunks"),
    "random_biregular": (assignments, "random_biregular", "random bipartite graph with exact degrees (seeded)"),
    "projective_plane": (assignments, "projective_plane", "PG(2,q): q^2+q+1 workers and chunks, load q+1"),
    "affine_plane": (assignments, "affine_plane", "AG(2,q): q^2 chunks, q^2+q workers, load q"),
    "steiner_triple_system": (assignments, "steiner_triple_system", "STS(v): triples as workers, points as chunks"),
    "complete_design": (assignments, "complete_design", "all t-subsets of a v-set as workers"),
    "random_regular": (assignments, "random_regular", "adjacency of a random degree-regular graph (seeded)"),
    "random_fixed_load": (assignments, "random_fixed_load",
                          "every worker holds load random chunks (seeded; irregular replication)"),
    "bernoulli": (assignments, "bernoulli_assignment", "each worker holds each chunk with probability load/k (seeded)"),
    "srg": (None, "srg_assignment", "strongly regular graph: adjacency (or incidence) as assignment"),
}

#: encoding name -> (function name in agc.encodings, one-line description)
ENCODINGS = {
    "stacking": ("stacking", "the paper's baseline: every block gets the assignment's coefficients"),
    "block_split": ("block_split", "workers split into ell groups covering every chunk; group u sends block u (fair baseline)"),
    "block_split_copies": ("block_split_copies", "ell copies of the assignment; copy u sends block u (n = ell * workers)"),
    "rdm": ("rdm", "random diagonal matrices (signs per worker and block)"),
    "rhpnc": ("rhpnc", "random Hadamard product with null-space constraint (exact with no straggler)"),
    "iid_gaussian": ("iid_gaussian", "independent N(0, 1) coefficients per worker, chunk and block on the support"),
    "polynomial": ("polynomial", "Ye-Abbe exact code on the cyclic assignment with k = n, s = load - ell"),
    "optimized": ("optimized", "coefficients on the support learned by Adam on E err* (give p or s; torch)"),
    "expander": ("expander", "Raviv et al.: normalised adjacency A/degree of a regular graph (ell = 1)"),
    "sgc": ("stochastic_code", "Bitar et al.: stochastic gradient coding weights (ell = 1)"),
}


def srg_assignment(graph, incidence=False, complement=False, **params):
    """Assignment from a named strongly regular graph: its adjacency, or with ``incidence`` its edges.

    Parameters
    ----------
    graph : str
        A name of :data:`agc.assignments.SRG_FAMILIES` (e.g. ``"paley"``, ``"petersen"``).
    incidence : bool
        Workers = edges, chunks = vertices (load 2) instead of the adjacency.
    complement : bool
        Use the complement graph.
    **params
        The graph's parameters (e.g. ``q=13`` for Paley).

    Returns
    -------
    numpy.ndarray
        ``(v, v)`` for the adjacency, ``(edges, v)`` for the incidence.
    """
    G = assignments.srg(graph, complement=complement, **params)
    return assignments.graph_incidence(G) if incidence else assignments.graph_adjacency(G)


def family_function(family):
    """The function that builds the assignment of a family name (``ValueError`` if unknown).

    Parameters
    ----------
    family : str
        A key of :data:`FAMILIES`.

    Returns
    -------
    callable
        ``f(...) -> A`` (an ``(n, k)`` 0/1 matrix).
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {sorted(FAMILIES)}, got {family!r}")
    module, name, _ = FAMILIES[family]
    return getattr(module, name) if module is not None else srg_assignment


def encoding_function(encoding):
    """The function that builds the code of an encoding name (``ValueError`` if unknown).

    Parameters
    ----------
    encoding : str
        A key of :data:`ENCODINGS`.

    Returns
    -------
    callable
        ``f(A, ell, ...) -> agc.Code``.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {sorted(ENCODINGS)}, got {encoding!r}")
    return getattr(encodings, ENCODINGS[encoding][0])


def parameters(function):
    """The parameters of a construction other than the assignment and ``ell``.

    Parameters
    ----------
    function : callable
        A family or encoding function.

    Returns
    -------
    list of inspect.Parameter
    """
    skip = {"A", "ell", "self"}
    return [p for p in inspect.signature(function).parameters.values() if p.name not in skip and p.kind != p.VAR_KEYWORD]


def is_random(encoding):
    """Whether an encoding draws random coefficients (takes a ``seed``).

    Parameters
    ----------
    encoding : str
        A key of :data:`ENCODINGS`.

    Returns
    -------
    bool

    Examples
    --------
    >>> is_random("rdm"), is_random("stacking")
    (True, False)
    """
    return "seed" in {p.name for p in parameters(encoding_function(encoding))}


def construction(family, encoding, ell, seed=None, **params):
    """A construction with its assignment fixed: a callable ``draw_seed -> agc.Code``.

    The assignment is built once (a random family uses ``seed``); each call draws the encoding's
    coefficients with the seed it is given, so :func:`agc.error_curve` can average over
    coefficient draws on one assignment. :func:`make_code` is ``construction(...)(seed)``.

    Parameters
    ----------
    family : str
        A key of :data:`FAMILIES`.
    encoding : str
        A key of :data:`ENCODINGS`.
    ell : int
        Communication reduction.
    seed : int or numpy.random.Generator, optional
        Seed of a random family.
    **params
        The family's and the encoding's parameters, by name (``q=9``, ``n=40``, ``dist="gaussian"``).

    Returns
    -------
    callable
        ``draw(seed) -> agc.Code``; its ``params`` record the family, the encoding, ``ell``, the
        draw's ``seed`` and ``params``.

    Raises
    ------
    ValueError
        For an unknown family, encoding or parameter, naming it and the valid choices.

    Examples
    --------
    >>> draw = construction("random_biregular", "rdm", 2, seed=0, n=8, k=4, load=2)
    >>> a, b = draw(1), draw(2)
    >>> bool((a.assignment == b.assignment).all()), bool((a.B == b.B).all())
    (True, False)
    """
    family_fn, encoding_fn = family_function(family), encoding_function(encoding)
    family_names = {p.name for p in parameters(family_fn)}
    if family == "srg":  # the graph's own parameters arrive through **params
        family_names |= {p.name for build, _ in assignments.SRG_FAMILIES.values() for p in parameters(build)}
    encoding_names = {p.name for p in parameters(encoding_fn)}
    unknown = set(params) - family_names - encoding_names
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {sorted(unknown)} for family {family!r} (takes {sorted(family_names - {'seed'})}) "
            f"and encoding {encoding!r} (takes {sorted(encoding_names - {'seed'})})"
        )
    family_args = {key: value for key, value in params.items() if key in family_names}
    encoding_args = {key: value for key, value in params.items() if key in encoding_names and key not in family_names}
    if "seed" in family_names:
        family_args["seed"] = seed
    A = family_fn(**family_args)

    def draw(draw_seed=None):
        arguments = {**encoding_args, "seed": draw_seed} if "seed" in encoding_names else encoding_args
        code = encoding_fn(A, ell, **arguments)
        record = {"family": family, "encoding": encoding, "ell": ell, "seed": draw_seed, **params}
        return dataclasses.replace(code, name=f"{family}/{encoding}", params={**code.params, **record})

    return draw


def paper_schemes(A, ell, split, *, draws, gaussian_draws, extra_draws):
    r"""The schemes of the paper's figures on one assignment, as the chapter *Reproducing the
    paper's figures* and ``benchmarks/paper_figures.py`` draw them.

    The paper's curves (RDM; where :math:`A^\top` has a non-trivial kernel, the authors' Gaussian
    and ±1 RHPNC) and the baselines beside them: stacking, the fair block split (given: it is
    found once per assignment), our random-null-space RHPNC in both variants and i.i.d. Gaussian
    coefficients on the support.

    Parameters
    ----------
    A : numpy.ndarray
        ``(n, k)`` assignment.
    ell : int
    split : agc.Code
        The block split of ``A`` (:func:`agc.encodings.block_split`).
    draws : int
        Coefficient draws of RDM, of the authors' ±1 RHPNC and of our Gaussian RHPNC.
    gaussian_draws : int
        Draws of the authors' Gaussian RHPNC (one ``SVD`` of a ``k × n`` matrix each, and a code
        that the engine evaluates directly: its ``B`` is ill conditioned).
    extra_draws : int
        Draws of the schemes beyond the paper (±1 RHPNC of ours, i.i.d. Gaussian).

    Returns
    -------
    dict
        ``name -> (code or construction, draws)``, a construction being ``seed -> agc.Code``
        (what :func:`agc.error_curve` takes), in the chapter's legend order.

    Examples
    --------
    >>> import agc
    >>> A = agc.assignments.cyclic(6, 6, 2)  # Aᵀ is singular: RHPNC exists
    >>> split = agc.encodings.block_split(A, 2)
    >>> list(paper_schemes(A, 2, split, draws=3, gaussian_draws=2, extra_draws=1))[:4]
    ['stacking', 'rdm', 'rhpnc_authors', 'rhpnc_pm1_authors']
    """
    singular = np.linalg.matrix_rank(A) < A.shape[0]  # dim ker Aᵀ > 0
    rdm, rhpnc = encodings.rdm, encodings.rhpnc
    schemes = {"stacking": (encodings.stacking(A, ell), 1), "rdm": (lambda d: rdm(A, ell, seed=d), draws)}
    if singular:
        schemes["rhpnc_authors"] = (lambda d: rhpnc(A, ell, seed=d, variant="authors"), gaussian_draws)
        schemes["rhpnc_pm1_authors"] = (lambda d: rhpnc(A, ell, seed=d, variant="pm1", objective="none"), draws)
    schemes["block_split"] = (split, 1)
    if singular:
        schemes["rhpnc"] = (lambda d: rhpnc(A, ell, seed=d), draws)
        schemes["rhpnc_pm1"] = (lambda d: rhpnc(A, ell, seed=d, variant="pm1"), extra_draws)
    schemes["iid_gaussian"] = (lambda d: encodings.iid_gaussian(A, ell, seed=d), extra_draws)
    return schemes


def make_code(family, encoding, ell, seed=None, **params):
    """Build a :class:`agc.Code` from a family name, an encoding name and their parameters.

    Parameters
    ----------
    family : str
        A key of :data:`FAMILIES`.
    encoding : str
        A key of :data:`ENCODINGS`.
    ell : int
        Communication reduction.
    seed : int or numpy.random.Generator, optional
        Passed to the family and to the encoding when they are random.
    **params
        The family's and the encoding's parameters, by name (``q=9``, ``n=40``, ``dist="gaussian"``).

    Returns
    -------
    agc.Code
        Its ``params`` record the family, the encoding, ``ell``, ``seed`` and ``params``.

    Raises
    ------
    ValueError
        For an unknown family, encoding or parameter, naming it and the valid choices.

    Examples
    --------
    >>> code = make_code("cyclic", "stacking", ell=2, n=6, k=6, load=3)
    >>> code
    Code(name='cyclic/stacking', n=6, k=6, ell=2)
    """
    return construction(family, encoding, ell, seed, **params)(seed)


def describe():
    """Lines listing every family and encoding with its parameters (for ``agc info``).

    Returns
    -------
    list of str
    """
    lines = ["families (assignments):"]
    for name, (_, _, text) in FAMILIES.items():
        args = ", ".join(str(p) for p in parameters(family_function(name)))
        lines.append(f"  {name}({args}): {text}")
    for graph, (_, text) in assignments.SRG_FAMILIES.items():
        lines.append(f"    graph={graph}: {text}")
    lines.append("encodings (A, ell, ...):")
    for name, (_, text) in ENCODINGS.items():
        args = ", ".join(str(p) for p in parameters(encoding_function(name)))
        lines.append(f"  {name}({args}): {text}")
    return lines
