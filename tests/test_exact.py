"""The polynomial code: the Ye–Abbe construction, exact in float64, and honest where it is not."""

import itertools

import numpy as np
import pytest
from numpy.polynomial import chebyshev

import agc
from agc.code import split_blocks
from agc.encodings import exact

SMALL = [(6, 2, 2), (8, 3, 2), (9, 2, 3), (12, 4, 2), (16, 3, 4), (10, 3, 1), (11, 2, 1), (7, 5, 2), (9, 0, 2)]


def nodes_of(code):
    """Worker j's node: the public Chebyshev points, permuted by the code's stride."""
    return agc.encodings.chebyshev_nodes(code.n)[np.arange(code.n) * code.params["stride"] % code.n]


@pytest.mark.parametrize("n,s,ell", SMALL)
def test_columns_are_the_ye_abbe_polynomials(n, s, ell):
    """Column (i, u) holds the values at the nodes of a polynomial of degree < N = n - s that
    vanishes where chunk i is missing, with top ell Chebyshev coefficients c·e_u (c the same for
    every chunk): fitted independently in the Chebyshev basis at all n nodes.
    """
    code = agc.encodings.polynomial(agc.assignments.cyclic(n, n, s + ell), ell)
    N = n - s
    V = chebyshev.chebvander(nodes_of(code), N - 1)  # n × N, well conditioned at Chebyshev points
    coefficients, *_ = np.linalg.lstsq(V, code.B, rcond=None)
    scale = np.abs(code.B).max()
    np.testing.assert_allclose(V @ coefficients, code.B, atol=1e-11 * scale)  # degree < N
    assert np.all(code.B[np.tile(code.assignment, (1, ell)) == 0] == 0)  # zero where the chunk is missing
    top = coefficients[N - 1 - np.arange(ell)]  # row u': coefficient of T_{N-1-u'}
    for u in range(ell):
        block = top[:, u * n:(u + 1) * n]
        c = block[u, 0]
        assert abs(c) > 0.1
        np.testing.assert_allclose(block, c * (np.arange(ell)[:, None] == u) * np.ones((1, n)), atol=1e-11 * scale)


@pytest.mark.parametrize("n,s,ell", SMALL)
def test_every_set_of_n_minus_s_survivors_decodes_exactly(n, s, ell):
    """The closed-form interpolation decoder gives D_S B_S = T for every straggler set of size
    s, to within a small multiple of 2^-53 times the set's amplification; the engine agrees.
    """
    code = agc.encodings.polynomial(agc.assignments.cyclic(n, n, s + ell), ell)
    index = np.arange(n) * code.params["stride"] % n
    masks = agc.failures.all_straggler_sets(n, s)
    for mask in masks:
        D = exact._decoder(n, ell, index, mask)
        residual = np.abs(D @ code.B[mask] - code.target).max()
        # D and B each carry a few tens of roundings (products over a chunk's holders and the stragglers)
        assert residual <= 64 * exact.ROUNDING * agc.encodings.exact.amplification(code, mask)
    assert agc.optimal_errors(code, masks, normalized=True).max() <= 1e-20


@pytest.mark.parametrize("n,s,ell", [(16, 3, 1), (12, 6, 1), (18, 2, 2), (16, 4, 2), (14, 5, 2), (14, 3, 3), (13, 4, 2)])
def test_runs_of_adjacent_nodes_contain_the_worst_set(n, s, ell):
    """The construction check evaluates only the n runs of adjacent nodes; over all C(n, s)
    straggler sets none amplifies rounding errors more.
    """
    code = agc.encodings.polynomial(agc.assignments.cyclic(n, n, s + ell), ell)
    every = max(exact.amplification(code, mask) for mask in agc.failures.all_straggler_sets(n, s))
    assert every <= code.params["amplification"] * (1 + 1e-9)
    assert code.params["amplification"] <= every * (1 + 1e-9)  # the runs are sets too


def test_amplification_is_bounded_in_n_but_grew_with_n_in_monotone_order():
    kappas = [agc.encodings.polynomial(agc.assignments.cyclic(n, n, 6), 2).params["amplification"] for n in (40, 80, 160)]
    assert max(kappas) < 1e4  # s = 4, ell = 2: measured 1.2e3, 8.4e2, 1e3
    monotone = np.arange(40)  # worker j at node j, the earlier construction
    B = exact._encoding(40, 6, 2, monotone)
    worst = max(exact._amplification(B, 2, monotone, mask) for mask in exact._worst_sets(monotone, 4))
    assert worst > 1e10


def test_the_reported_failure_is_gone():
    """N = 60, load 8, ell = 2 (s = 6): reported as 0.125 mean normalised error; now zero, and the
    batched engine agrees with least squares on every run of adjacent stragglers.
    """
    code = agc.encodings.polynomial(agc.assignments.cyclic(60, 60, 8), 2)
    estimate = agc.expected_error(code, s=6, trials=200, seed=0, normalized=True)
    assert estimate.mean <= 1e-15
    index = np.arange(60) * code.params["stride"] % 60
    masks = np.vstack([exact._worst_sets(index, 6), agc.failures.all_straggler_sets(60, 1)])
    single = np.array([agc.optimal_error(code, m, normalized=True) for m in masks])
    np.testing.assert_allclose(agc.optimal_errors(code, masks, normalized=True), single, atol=1e-12)
    assert single.max() <= 1e-15


@pytest.mark.parametrize("n,s,ell", [(80, 6, 2), (40, 4, 2), (50, 3, 3)])
def test_float32_messages_stay_within_the_componentwise_bound(n, s, ell):
    """Encode in float64, round the messages to float32, decode in float64 (as the runtime does):
    each decoded entry errs by at most 2^-24 (|D_S| |B_S| |blocks|) plus float64 rounding.
    """
    code = agc.encodings.polynomial(agc.assignments.cyclic(n, n, s + ell), ell)
    rng = np.random.default_rng(0)
    blocks = split_blocks(rng.standard_normal((n, 30 * ell)), ell)
    messages = (code.B @ blocks).astype(np.float32).astype(np.float64)
    truth = code.target @ blocks
    index = np.arange(n) * code.params["stride"] % n
    for mask in np.vstack([exact._worst_sets(index, s), agc.failures.fixed_masks(n, s, 20, rng)]):
        D = agc.optimal_decoder(code, mask)
        bound = 2.0**-24 * np.abs(D) @ np.abs(code.B[mask]) @ np.abs(blocks)
        error = np.abs(D @ messages[mask] - truth)
        assert np.all(error <= 1.01 * bound + 1e-10 * np.abs(blocks).sum())
        assert np.linalg.norm(error) / np.linalg.norm(truth) <= 1e-3


def test_refuses_a_code_that_float64_cannot_decode():
    A = agc.assignments.cyclic(40, 40, 14)  # s = 12, ell = 2: amplification about 2e9
    with pytest.raises(ValueError, match=r"n=40, s=12, ell=2.*max_error=1e-09.*s <= (\d+)") as info:
        agc.encodings.polynomial(A, 2)
    fewer = int(info.value.args[0].split("s <= ")[1].split(" ")[0])
    assert agc.encodings.polynomial(agc.assignments.cyclic(40, 40, fewer + 2), 2).params["s"] == fewer
    with pytest.raises(ValueError):
        agc.encodings.polynomial(agc.assignments.cyclic(40, 40, fewer + 3), 2)
    anyway = agc.encodings.polynomial(A, 2, max_error=None)
    assert anyway.params["amplification"] * exact.ROUNDING > 1e-9
    looser = anyway.params["amplification"] * exact.ROUNDING * 2
    assert agc.encodings.polynomial(A, 2, max_error=looser).params["amplification"] == anyway.params["amplification"]


@pytest.mark.parametrize("bad", [0, -1e-9, "1e-9", float("nan")])
def test_max_error_must_be_positive_or_none(bad):
    with pytest.raises(ValueError, match="max_error"):
        agc.encodings.polynomial(agc.assignments.cyclic(6, 6, 3), 2, max_error=bad)


def test_amplification_checks_its_arguments():
    code = agc.encodings.polynomial(agc.assignments.cyclic(6, 6, 3), 2)
    with pytest.raises(ValueError, match="at least n - s = 5"):
        exact.amplification(code, [True] * 4 + [False] * 2)
    with pytest.raises(ValueError, match="polynomial"):
        exact.amplification(agc.encodings.stacking(code.assignment, 2), [True] * 6)


def test_stride_spreads_every_chunks_holders():
    """Every chunk's holders get node numbers at least n // load - 1 apart (cyclically), the
    best an arithmetic progression can do up to one; monotone order puts them 1 apart.
    """
    for n, load in itertools.product((20, 33, 64, 91), (3, 6, 8)):
        p = agc.encodings.polynomial(agc.assignments.cyclic(n, n, load), 1, max_error=None).params["stride"]
        holders = np.sort(np.arange(load) * p % n)
        gaps = np.diff(np.append(holders, holders[0] + n))
        assert gaps.min() >= n // load - 1, (n, load, p)
