"""Tests for agc.assignments.srg: every named SRG against its known parameters, and validation."""

import itertools

import networkx as nx
import numpy as np
import pytest

from agc.assignments import (
    SRG_FAMILIES,
    SRGParameters,
    graph_adjacency,
    graph_incidence,
    lattice,
    paley,
    petersen,
    shrikhande,
    srg,
    srg_parameters,
    srg_spectrum,
    triangular,
)


def _known():
    """(name, params, parameters known from the literature) for every family."""
    cases = [("paley", {"q": q}, (q, (q - 1) // 2, (q - 5) // 4, (q - 1) // 4)) for q in (5, 9, 13, 25)]
    cases += [("triangular", {"m": m}, (m * (m - 1) // 2, 2 * (m - 2), m - 2, 4)) for m in (4, 5, 6)]
    cases += [("lattice", {"m": m}, (m * m, 2 * (m - 1), m - 2, 2)) for m in (2, 3, 4)]
    cases += [
        ("petersen", {}, (10, 3, 0, 1)),
        ("clebsch", {}, (16, 5, 0, 2)),
        ("shrikhande", {}, (16, 6, 2, 2)),
        ("schlafli", {}, (27, 16, 10, 8)),
        ("hoffman_singleton", {}, (50, 7, 0, 1)),
        ("johnson_fusion_126", {}, (126, 25, 8, 4)),
    ]
    return cases


KNOWN = _known()
IDS = [f"{name}{params}" for name, params, _ in KNOWN]


def _complement_parameters(v, kappa, lam, mu):
    return SRGParameters(v, v - kappa - 1, v - 2 - 2 * kappa + mu, v - 2 * kappa + lam)


def _assert_srg_identity(G, parameters):
    A = graph_adjacency(G)
    v, kappa, lam, mu = parameters
    identity, ones = np.eye(v, dtype=np.int64), np.ones((v, v), dtype=np.int64)
    np.testing.assert_array_equal(A @ A, kappa * identity + lam * A + mu * (ones - identity - A))


@pytest.mark.parametrize("name, params, known", KNOWN, ids=IDS)
def test_named_srg_has_known_parameters(name, params, known):
    build, _ = SRG_FAMILIES[name]
    G = build(**params)
    assert list(G) == list(range(known[0]))
    assert srg_parameters(G) == SRGParameters(*known)
    _assert_srg_identity(G, known)


@pytest.mark.parametrize("name, params, known", KNOWN, ids=IDS)
def test_srg_dispatch_and_complement(name, params, known):
    G = srg(name, **params)
    assert G.graph["srg_parameters"] == SRGParameters(*known)
    H = srg(name, complement=True, **params)
    expected = _complement_parameters(*known)
    assert H.graph["srg_parameters"] == expected
    assert srg_parameters(H) == expected
    assert H.graph["name"].startswith("complement of ")
    _assert_srg_identity(H, expected)


def test_paley_beyond_pure_python_field_order():
    # Orders above 128 build the field tables with galois's JIT-compiled ufuncs instead.
    q = 149
    assert srg_parameters(paley(q)) == (q, (q - 1) // 2, (q - 5) // 4, (q - 1) // 4)


def test_every_family_is_covered():
    assert {name for name, _, _ in KNOWN} == set(SRG_FAMILIES)
    for _name, (build, description) in SRG_FAMILIES.items():
        assert callable(build) and isinstance(description, str) and description


def test_johnson_fusion_is_the_unique_126_25_8_4_fusion():
    # Independent of the implementation: every fusion of the Johnson scheme J(9, 4).
    subsets = [frozenset(s) for s in itertools.combinations(range(9), 4)]
    meet = np.array([[len(a & b) for b in subsets] for a in subsets])
    found = {}
    for size in range(1, 4):
        for sizes in itertools.combinations(range(4), size):
            G = nx.from_numpy_array(np.isin(meet, sizes) & ~np.eye(len(subsets), dtype=bool))
            try:
                found[sizes] = srg_parameters(G)
            except ValueError:
                continue
    assert found == {(0, 3): (126, 25, 8, 4), (1, 2): (126, 100, 78, 84)}
    paper = np.isin(meet, (0, 3)).astype(np.int64)
    np.testing.assert_array_equal(graph_adjacency(srg("johnson_fusion_126")), paper)
    labels = nx.get_node_attributes(srg("johnson_fusion_126"), "label")
    assert [frozenset(labels[i]) for i in range(len(subsets))] == subsets


def test_structural_facts():
    assert nx.is_isomorphic(petersen(), nx.complement(triangular(5)))
    assert not nx.is_isomorphic(shrikhande(), lattice(4))
    for q in (9, 13):
        assert nx.is_isomorphic(paley(q), nx.complement(paley(q)))
    assert nx.is_isomorphic(srg("triangular", m=4), nx.complete_multipartite_graph(2, 2, 2))


def test_srg_incidence_assignment():
    A = graph_incidence(srg("petersen"))
    assert A.shape == (15, 10)
    assert set(A.sum(axis=1).tolist()) == {2}
    assert set(A.sum(axis=0).tolist()) == {3}


@pytest.mark.parametrize(
    "G, message",
    [
        (nx.path_graph(4), "G is not regular: degrees range from 1 to 2"),
        (nx.circular_ladder_graph(3), "λ is not constant: adjacent vertices have between 0 and 1"),
        (nx.cycle_graph(6), "μ is not constant: non-adjacent vertices have between 0 and 1"),
        (nx.complete_graph(5), r"G is complete \(K_5\)"),
        (nx.empty_graph(4), r"G is empty \(no edges on 4 vertices\)"),
        (nx.empty_graph(0), "G has no vertices"),
        (nx.DiGraph([(0, 1), (1, 0)]), "simple undirected graph, got a DiGraph"),
        (nx.MultiGraph([(0, 1), (0, 1)]), "simple undirected graph, got a MultiGraph"),
        (nx.Graph([(0, 0), (0, 1)]), "no self-loops, got 1"),
    ],
)
def test_srg_parameters_rejects(G, message):
    with pytest.raises(ValueError, match=message):
        srg_parameters(G)


def test_srg_parameters_rejects_non_graphs_and_accepts_adjacency_matrices():
    with pytest.raises(ValueError, match="G as a matrix must be a square symmetric 0/1 adjacency matrix"):
        srg_parameters(np.eye(3))
    with pytest.raises(TypeError, match="G must be a numeric 2-D array"):
        srg_parameters("petersen")
    assert srg_parameters(nx.to_numpy_array(nx.petersen_graph(), dtype=int)) == srg_parameters(nx.petersen_graph())


@pytest.mark.parametrize("name", sorted(SRG_FAMILIES))
def test_srg_spectrum_predicts_the_computed_eigenvalues(name):
    params = {"paley": {"q": 13}, "triangular": {"m": 6}, "lattice": {"m": 4}}.get(name, {})
    for complement in (False, True):
        G = srg(name, complement=complement, **params)
        eigenvalues = np.linalg.eigvalsh(nx.to_numpy_array(G))
        predicted = srg_spectrum(srg_parameters(G))
        assert sum(predicted.values()) == G.number_of_nodes()
        for value, multiplicity in predicted.items():
            assert np.sum(np.isclose(eigenvalues, value, atol=1e-8)) == multiplicity, (name, complement, value)


def test_srg_spectrum_refuses_impossible_parameters():
    with pytest.raises(ValueError, match="no SRG"):
        srg_spectrum((11, 4, 1, 2))
    with pytest.raises(ValueError, match="mu = 0"):
        srg_spectrum((6, 2, 1, 0))


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("paley", {"q": 7}, r"q=7 ≡ 3 \(mod 4\); the Paley graph needs q ≡ 1 \(mod 4\)"),
        ("paley", {"q": 15}, r"q=15 is not a prime power"),
        ("paley", {"q": 8}, r"q=8 ≡ 0 \(mod 4\)"),
        ("paley", {"q": 1}, r"q must be >= 2, got 1"),
        ("triangular", {"m": 3}, r"m must be >= 4, got 3"),
        ("lattice", {"m": 1}, r"m must be >= 2, got 1"),
        ("heawood", {}, r"name='heawood' is not a known SRG family"),
    ],
)
def test_bad_input(name, params, message):
    with pytest.raises(ValueError, match=message):
        srg(name, **params)


@pytest.mark.parametrize("name, params", [("paley", {}), ("petersen", {"q": 5}), ("lattice", {"n": 3})])
def test_srg_wrong_parameters_are_type_errors(name, params):
    with pytest.raises(TypeError, match=rf"srg\('{name}'\) takes"):
        srg(name, **params)
