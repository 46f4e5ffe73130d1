"""The classical ell = 1 codes: expander (Raviv et al.), graph schemes (Glasgow-Wootters), BGC/FRC
(Charles et al.) and SGC (Bitar et al.), each checked on arithmetic independent of the code under test.
"""

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import agc
from agc.assignments import bernoulli_assignment
from agc.encodings.classical import (
    bernoulli_code,
    expander,
    graph_optimal_errors,
    one_step_decoder,
    one_step_error_bound,
    random_expander,
    second_eigenvalue,
    stochastic_code,
    stochastic_decoder,
)
from agc.stats import z_scores


def srg_lambda(params):
    """max(|r|, |s|) of the restricted eigenvalues r, s of an SRG, from its parameters alone."""
    _v, kappa, lam, mu = params
    root = math.sqrt((lam - mu) ** 2 + 4 * (kappa - mu))
    return max(abs((lam - mu + root) / 2), abs((lam - mu - root) / 2))


def one_step_errors(code, masks):
    return np.array([agc.decoding_error(code, m, one_step_decoder(code, m)) for m in masks])


# --- Raviv, Tamo, Tandon and Dimakis: expander codes -------------------------------------------


@pytest.mark.parametrize("graph", ["petersen", "hoffman_singleton", "clebsch"])
def test_expander_is_the_normalised_adjacency_with_the_srg_second_eigenvalue(graph):
    G = agc.assignments.srg(graph)
    params = agc.assignments.srg_parameters(G)
    code = expander(G)
    A = agc.assignments.graph_adjacency(G)
    assert np.array_equal(code.assignment, A)
    assert np.allclose(code.B * params.kappa, A, rtol=0, atol=1e-15)
    assert np.allclose(code.B.sum(axis=0), 1.0, rtol=0, atol=1e-12)  # the sum of all messages is g
    assert second_eigenvalue(G) == pytest.approx(srg_lambda(params), abs=1e-10)
    assert code.params == {"degree": params.kappa, "lambda": pytest.approx(srg_lambda(params), abs=1e-10)}
    assert np.array_equal(expander(A).B, code.B)  # the adjacency assignment gives the same code


def test_one_step_error_counts_surviving_neighbours():
    code = random_expander(30, 4, seed=3)
    adjacency = nx.to_numpy_array(nx.random_regular_graph(4, 30, seed=np.random.default_rng(3)), nodelist=range(30))
    assert np.array_equal(code.assignment, adjacency)  # the seeded networkx graph, nodes in order
    for mask in agc.failures.fixed_masks(30, 7, 20, seed=4):
        r = mask.sum()
        held = adjacency[mask].sum(axis=0)  # surviving neighbours of each chunk
        by_hand = np.sum((30 / (r * 4) * held - 1.0) ** 2)
        assert agc.decoding_error(code, mask, one_step_decoder(code, mask)) == pytest.approx(by_hand, rel=1e-12)


def test_raviv_bound_holds_on_every_pattern_of_their_experiment():
    """Their setting: n = 50, random 3-regular graphs, s = 3..7, 10 graphs x 100 straggler sets."""
    n, d = 50, 3
    rng = np.random.default_rng(2018)
    l2_one_step, l2_optimal = [], []
    for _ in range(10):
        code = random_expander(n, d, seed=rng)
        eigenvalues = np.sort(np.linalg.eigvalsh(code.assignment.astype(float)))
        lam = max(abs(eigenvalues[0]), abs(eigenvalues[-2]))
        for s in range(3, 8):
            bound = (lam / d) ** 2 * n * s / (n - s)  # the square of their plotted bound
            assert one_step_error_bound(code, s) == pytest.approx(bound, rel=1e-10)
            masks = agc.failures.fixed_masks(n, s, 100, seed=rng)
            one = one_step_errors(code, masks)
            optimal = agc.optimal_errors(code, masks)
            assert np.all(one <= bound * (1 + 1e-12))
            assert np.all(optimal <= one + 1e-9)
            l2_one_step.append(np.sqrt(one).mean())
            l2_optimal.append(np.sqrt(optimal).mean())
    assert np.mean(l2_optimal) < 0.5 * np.mean(l2_one_step)  # optimal decoding is far better on average


def test_raviv_bound_is_attained_and_needs_the_smallest_eigenvalue():
    """On the 3-cube (bipartite) with one side straggling, the one-step error equals the bound with
    lambda = |lambda_n| = d; with lambda_2 = 1 in its place the 'bound' would fail.
    """
    cube = nx.convert_node_labels_to_integers(nx.hypercube_graph(3), ordering="sorted")
    code = expander(cube)
    side = np.array([bin(j).count("1") % 2 == 0 for j in range(8)])  # the bipartition by parity
    error = agc.decoding_error(code, side, one_step_decoder(code, side))
    assert error == pytest.approx(8.0)  # the other side gets coefficient 2, this side 0
    assert one_step_error_bound(code, 4) == pytest.approx(error, rel=1e-12)
    assert second_eigenvalue(cube) == pytest.approx(3.0)
    assert (1 / 3) ** 2 * 8 * 4 / 4 < error  # lambda_2 = 1 alone does not bound it


def test_worst_case_reaches_their_square_root_of_s_over_d_curve():
    """Their script plots sqrt(s/d) as 'Lower Bound (worst case)'; a local search (a lower estimate of
    the true worst case) already finds straggler sets at least that bad on a random 3-regular graph.
    """
    code = random_expander(50, 3, seed=0)
    for s in range(3, 8):
        assert agc.worst_case(code, s, method="search", restarts=1, seed=s).error >= s / 3


# --- Glasgow and Wootters: graph schemes with optimal decoding -------------------------------


def graph_code(G):
    A = agc.assignments.graph_incidence(G)
    return A, agc.encodings.stacking(A, 1)


@pytest.mark.parametrize("degree, v, p", [(3, 24, 0.4), (4, 20, 0.6), (4, 20, 0.85), (5, 16, 0.7)])
def test_graph_closed_form_equals_the_optimal_error_on_random_regular_graphs(degree, v, p):
    A, code = graph_code(nx.random_regular_graph(degree, v, seed=np.random.default_rng(degree * v)))
    masks = agc.failures.bernoulli_masks(code.n, p, 400, seed=7)
    closed = graph_optimal_errors(A, masks)
    assert np.allclose(closed, agc.optimal_errors(code, masks), rtol=0, atol=1e-9)
    fractional = closed[np.abs(closed - np.round(closed)) > 1e-6]
    assert fractional.size > 0 and np.unique(np.round(closed, 9)).size >= 5  # not only isolated vertices


def test_graph_closed_form_equals_the_optimal_error_on_every_petersen_pattern():
    A, code = graph_code(agc.assignments.petersen())  # SRG(10, 3, 0, 1): 15 workers
    masks, weights = agc.failures.bernoulli_enumeration(code.n, 0.5)
    closed = graph_optimal_errors(A, masks)
    assert np.allclose(closed, agc.optimal_errors(code, masks), rtol=0, atol=1e-9)
    assert float(weights @ closed) > 0


def test_graph_closed_form_on_an_srg_incidence():
    A, code = graph_code(agc.assignments.paley(13))  # SRG(13, 6, 2, 3): 39 workers, load 2
    masks = agc.failures.bernoulli_masks(code.n, 0.75, 150, seed=1)
    assert np.allclose(graph_optimal_errors(A, masks), agc.optimal_errors(code, masks), rtol=0, atol=1e-9)


def test_graph_closed_form_by_hand():
    star = agc.assignments.graph_incidence(nx.star_graph(3))  # centre 0, leaves 1..3: sides 1 and 3
    assert graph_optimal_errors(star, np.ones(3, bool))[0] == pytest.approx((3 - 1) ** 2 / 4)
    path = agc.assignments.graph_incidence(nx.path_graph(3))  # sides {0, 2} and {1}
    assert graph_optimal_errors(path, np.ones(2, bool))[0] == pytest.approx(1 / 3)
    triangle_and_edge = agc.assignments.graph_incidence(nx.Graph([(0, 1), (1, 2), (0, 2), (3, 4)]))
    assert graph_optimal_errors(triangle_and_edge, np.ones(4, bool))[0] == 0.0  # odd cycle, balanced edge
    assert graph_optimal_errors(triangle_and_edge, [True, True, False, False])[0] == pytest.approx(1 / 3 + 2)


@settings(max_examples=60, deadline=None)
@given(st.integers(3, 9).flatmap(lambda v: st.tuples(
    st.just(v),
    st.lists(st.tuples(st.integers(0, v - 1), st.integers(0, v - 1)).filter(lambda e: e[0] != e[1]),
             min_size=1, max_size=14, unique_by=lambda e: frozenset(e)),
    st.integers(0, 2**14 - 1))))
def test_graph_closed_form_equals_the_optimal_error_on_any_graph(case):
    v, edges, bits = case
    G = nx.Graph()
    G.add_nodes_from(range(v))
    G.add_edges_from(edges)
    A = agc.assignments.graph_incidence(G)
    mask = (bits >> np.arange(A.shape[0])) & 1 == 1
    expected = agc.optimal_error(agc.encodings.stacking(A, 1), mask)
    assert graph_optimal_errors(A, mask)[0] == pytest.approx(expected, abs=1e-9)


def test_graph_scheme_one_step_bound_is_glasgow_wootters():
    degree, v = 4, 20
    G = nx.random_regular_graph(degree, v, seed=np.random.default_rng(5))
    A, code = graph_code(G)
    m = code.n
    lambda_2 = np.sort(np.linalg.eigvalsh(nx.to_numpy_array(G, nodelist=range(v))))[-2]
    expansion = degree - lambda_2  # their spectral expansion
    for s in (4, 10, 20):
        bound = (2 * degree - expansion) * m * s / ((m - s) * degree**2)
        assert one_step_error_bound(code, s) == pytest.approx(bound, rel=1e-10)
        masks = agc.failures.fixed_masks(m, s, 200, seed=s)
        decoders = [one_step_decoder(code, mask) for mask in masks]
        assert np.allclose([w[0, 0] for w in decoders], m / (degree * (m - s)))
        errors = np.array([agc.decoding_error(code, mask, w) for mask, w in zip(masks, decoders)])
        assert np.all(errors <= bound * (1 + 1e-12))
        assert np.all(graph_optimal_errors(A, masks) <= errors + 1e-9)


# --- Charles, Papailiopoulos and Ellenberg: BGC and FRC ---------------------------------------


def test_bgc_is_seeded_bernoulli_with_the_right_density():
    A = bernoulli_assignment(200, 100, 5, seed=9)
    assert np.array_equal(A, bernoulli_assignment(200, 100, 5, seed=9))
    assert not np.array_equal(A, bernoulli_assignment(200, 100, 5, seed=10))
    q = 5 / 100
    z = (A.mean() - q) / math.sqrt(q * (1 - q) / A.size)
    assert abs(z) < 4
    code = bernoulli_code(200, 100, 5, seed=9)
    assert np.array_equal(code.assignment, A) and np.array_equal(code.B, A)
    assert code.params == {"load": 5.0, "column_sum": 10.0, "seed": 9}


def test_bgc_one_step_mean_error_matches_the_closed_form():
    """E||w B_S - 1||^2 = k (k - load) / (load |S|) over codes; a wrong formula is rejected."""
    n = k = 30
    load, survivors = 3, np.arange(24)
    rng = np.random.default_rng(11)
    errors = []
    for _ in range(3000):
        code = bernoulli_code(n, k, load, seed=rng)
        errors.append(agc.decoding_error(code, survivors, one_step_decoder(code, survivors)))
    errors = np.array(errors)
    se = errors.std(ddof=1) / math.sqrt(errors.size)
    assert abs(errors.mean() - k * (k - load) / (load * survivors.size)) < 4 * se
    assert abs(errors.mean() - k * (k - load) / (load * n)) > 8 * se  # |S| replaced by n: detected


@pytest.mark.parametrize("s", [3, 4, 6, 8])
def test_frc_expected_optimal_error_is_k_times_the_chance_a_group_is_silenced(s):
    n = k = 12
    load = 3  # 4 groups of 3 workers, replication 3
    code = agc.encodings.stacking(agc.assignments.fractional_repetition(n, k, load), 1)
    exact = agc.expected_error(code, s=s, exact=True).mean
    assert exact == pytest.approx(k * math.comb(n - load, s - load) / math.comb(n, s), rel=1e-12)


# --- Bitar, Wootters and El Rouayheb: stochastic gradient coding ------------------------------


@pytest.mark.parametrize("A", [agc.assignments.projective_plane(3), agc.assignments.cyclic(10, 4, 2)],
                         ids=["PG(2,3)", "irregular replication"])
def test_sgc_decoder_is_unbiased_by_exact_enumeration(A):
    code = stochastic_code(A)
    p = 0.3
    masks, weights = agc.failures.bernoulli_enumeration(code.n, p)
    mean = sum(w * stochastic_decoder(code, m, p) @ code.B[m] for m, w in zip(masks, weights))
    assert np.allclose(mean, np.ones((1, code.k)), rtol=0, atol=1e-12)
    biased = sum(w * stochastic_decoder(code, m, p) @ code.B[m] * (1 - p) for m, w in zip(masks, weights))
    assert not np.allclose(biased, np.ones((1, code.k)), atol=0.1)  # the plain 1/gamma sum is biased
    errors = [agc.decoding_error(code, m, stochastic_decoder(code, m, p)) for m in masks]
    gamma = code.params["replication"]
    assert float(weights @ np.array(errors)) == pytest.approx(
        p / (1 - p) * np.sum(code.B**2) / gamma**2, rel=1e-10)


def test_sgc_decoded_gradient_is_unbiased_and_the_z_test_has_power():
    code = stochastic_code(agc.assignments.projective_plane(3))  # 13 workers, load = replication = 4
    p, d = 0.3, 5
    G = 1.0 + np.random.default_rng(0).standard_normal((code.k, d))
    messages = code.encode(G)
    masks = agc.failures.bernoulli_masks(code.n, p, 4000, seed=1)
    masks = masks[masks.any(axis=1)]
    estimates = np.array([code.decode(messages, m, stochastic_decoder(code, m, p), d=d) for m in masks])
    assert np.max(np.abs(z_scores(estimates, G.sum(axis=0)))) < 4.5
    assert np.min(np.abs(z_scores(1.05 * estimates, G.sum(axis=0)))) > 6  # a 5 % bias is detected


# --- bad input ----------------------------------------------------------------------------------


def test_bad_input_raises_naming_the_parameter():
    with pytest.raises(ValueError, match="A must be a regular graph, got degrees from 1 to 2"):
        expander(nx.path_graph(4))
    with pytest.raises(ValueError, match="A must be the adjacency of a simple graph"):
        expander(np.array([[0, 1], [0, 0]]))
    with pytest.raises(ValueError, match="A must have degree >= 1"):
        second_eigenvalue(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="ell must be 1 for a classical gradient code, got ell=2"):
        expander(agc.assignments.petersen(), 2)
    with pytest.raises(ValueError, match="ell must be 1 for a classical gradient code, got ell=3"):
        stochastic_code(agc.assignments.cyclic(4, 4, 2), 3)
    with pytest.raises(ValueError, match="n \\* degree must be even"):
        random_expander(7, 3)
    with pytest.raises(ValueError, match="degree must be <= 4, got 5"):
        random_expander(5, 5)
    code2 = agc.encodings.stacking(agc.assignments.cyclic(4, 4, 2), 2)
    with pytest.raises(ValueError, match="code must have ell = 1"):
        one_step_decoder(code2, [0, 1])
    bgc = bernoulli_code(10, 10, 3, seed=0)
    with pytest.raises(ValueError, match="must have equal positive column sums"):
        one_step_error_bound(bgc, 2)
    with pytest.raises(ValueError, match="survivors must contain at least one worker"):
        one_step_decoder(bgc, np.zeros(10, bool))
    with pytest.raises(ValueError, match="column_sum must be a positive finite number"):
        one_step_decoder(bgc, [0], column_sum=0)
    with pytest.raises(ValueError, match="s must be <= 9, got 10"):
        one_step_error_bound(expander(agc.assignments.petersen()), 10)
    with pytest.raises(ValueError, match="every worker holds exactly 2 chunks\\), got load 3 at worker 0"):
        graph_optimal_errors(agc.assignments.cyclic(4, 4, 3), np.ones(4, bool))
    with pytest.raises(ValueError, match="load must lie in \\(0, k=10\\], got 0"):
        bernoulli_assignment(10, 10, 0)
    with pytest.raises(TypeError, match="load must be a real number"):
        bernoulli_assignment(10, 10, "3")
    with pytest.raises(ValueError, match="A must give every chunk a holder, got none for chunk 3"):
        stochastic_code(np.array([[1, 1, 0, 0], [0, 1, 1, 0]]))
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\), got 1.0"):
        stochastic_decoder(stochastic_code(agc.assignments.projective_plane(2)), [0], 1.0)
