"""Tests for agc.assignments.bipartite: cyclic, fractional repetition, random bi-regular, graphs."""

import collections

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from agc.assignments import cyclic, fractional_repetition, graph_adjacency, graph_incidence, random_biregular


def test_cyclic_and_fractional_repetition_degrees():
    A = cyclic(6, 6, 3)
    assert set(A.sum(axis=1).tolist()) == {3} and set(A.sum(axis=0).tolist()) == {3}
    B = fractional_repetition(6, 4, 2)
    assert set(B.sum(axis=1).tolist()) == {2} and set(B.sum(axis=0).tolist()) == {3}


def _assert_biregular(A, n, k, load):
    assert A.shape == (n, k)
    assert A.dtype == np.int64
    assert set(np.unique(A).tolist()) <= {0, 1}
    np.testing.assert_array_equal(A.sum(axis=1), np.full(n, load))
    np.testing.assert_array_equal(A.sum(axis=0), np.full(k, n * load // k))


@pytest.mark.parametrize("n, k, load", [(40, 20, 3), (200, 100, 5), (6, 4, 2), (5, 5, 5), (3, 6, 2), (1, 1, 1)])
def test_random_biregular_exact_degrees(n, k, load):
    _assert_biregular(random_biregular(n, k, load, seed=7), n, k, load)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 12),
    k=st.integers(1, 12),
    load=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_biregular_degrees_property(n, k, load, seed):
    if load > k or (n * load) % k:
        with pytest.raises(ValueError):
            random_biregular(n, k, load, seed=seed)
    else:
        _assert_biregular(random_biregular(n, k, load, seed=seed), n, k, load)


def test_random_biregular_seeds():
    A = random_biregular(40, 20, 3, seed=1)
    np.testing.assert_array_equal(A, random_biregular(40, 20, 3, seed=1))
    np.testing.assert_array_equal(
        random_biregular(40, 20, 3, seed=np.random.default_rng(5)),
        random_biregular(40, 20, 3, seed=np.random.default_rng(5)),
    )
    assert not np.array_equal(A, random_biregular(40, 20, 3, seed=2))
    generator = np.random.default_rng(0)
    assert not np.array_equal(random_biregular(40, 20, 3, seed=generator), random_biregular(40, 20, 3, seed=generator))


def test_random_biregular_is_close_to_uniform():
    # The 4x4 0/1 matrices with all row and column sums 2: there are 90 of them.
    draws = 1800
    counts = collections.Counter(random_biregular(4, 4, 2, seed=seed).tobytes() for seed in range(draws))
    assert len(counts) == 90
    result = stats.chisquare(list(counts.values()))
    assert result.pvalue > 1e-3, result


@pytest.mark.parametrize(
    "n, k, load, message",
    [
        (10, 5, 6, r"load must be <= 5, got 6"),
        (15, 20, 3, r"n\*load = 15\*3 = 45 must be divisible by k=20"),
        (0, 5, 1, r"n must be >= 1, got 0"),
        (5, 0, 1, r"k must be >= 1, got 0"),
        (5, 5, 0, r"load must be >= 1, got 0"),
    ],
)
def test_random_biregular_bad_parameters(n, k, load, message):
    with pytest.raises(ValueError, match=message):
        random_biregular(n, k, load)


def test_random_biregular_bad_seed():
    with pytest.raises(TypeError, match="seed must be"):
        random_biregular(4, 4, 2, seed="abc")


def test_graph_incidence_orders_edges_after_sorting_nodes():
    G = nx.Graph([("c", "a"), ("b", "c"), ("a", "b")])
    G.add_node("d")
    A = graph_incidence(G)
    # Nodes a, b, c, d -> 0..3; edges (0, 1), (0, 2), (1, 2); d is held by no worker.
    np.testing.assert_array_equal(A, [[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 0]])
    assert A.dtype == np.int64


def test_graph_incidence_of_regular_graph():
    A = graph_incidence(nx.complete_graph(5))
    assert A.shape == (10, 5)
    assert set(A.sum(axis=1).tolist()) == {2} and set(A.sum(axis=0).tolist()) == {4}


def test_graph_adjacency():
    G = nx.Graph([(3, 1), (1, 2)])
    G.add_node(0)
    A = graph_adjacency(G)
    np.testing.assert_array_equal(A, [[0, 0, 0, 0], [0, 0, 1, 1], [0, 1, 0, 0], [0, 1, 0, 0]])
    assert A.dtype == np.int64
    P = graph_adjacency(nx.petersen_graph())
    np.testing.assert_array_equal(P, P.T)
    assert set(P.sum(axis=0).tolist()) == {3}


@pytest.mark.parametrize("build", [graph_incidence, graph_adjacency])
@pytest.mark.parametrize(
    "G, error, message",
    [
        (nx.DiGraph([(0, 1)]), ValueError, "simple undirected graph, got a DiGraph"),
        (nx.MultiGraph([(0, 1), (0, 1)]), ValueError, "simple undirected graph, got a MultiGraph"),
        (nx.Graph([(0, 1), (1, 1)]), ValueError, "no self-loops, got 1 .*node 1"),
        (nx.Graph(), ValueError, "at least one node"),
        (nx.Graph([(0, "a")]), TypeError, "sorted"),
        (np.eye(2), TypeError, "G must be a networkx graph"),
    ],
)
def test_graph_assignments_reject(build, G, error, message):
    with pytest.raises(error, match=message):
        build(G)


def test_graph_incidence_needs_an_edge():
    with pytest.raises(ValueError, match="at least one edge"):
        graph_incidence(nx.empty_graph(3))
