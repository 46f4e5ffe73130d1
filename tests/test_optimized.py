"""Learned codes (``agc.encodings.optimized``): the objective, the search, the record, bad input."""

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import agc
from agc.encodings.optimized import RIDGE, batch_errors, exact_without_stragglers, optimized

A8 = agc.assignments.cyclic(8, 8, 3)


def learn(A=A8, ell=2, **kwargs):
    if "p" not in kwargs:
        kwargs.setdefault("s", 1)
    kwargs.setdefault("steps", 150)
    kwargs.setdefault("seed", 0)
    return optimized(A, ell, progress=False, **kwargs)


def paired_improvement(better, worse, masks):
    """Mean and standard error of ``err*(worse) - err*(better)`` over the same survivor masks."""
    gain = agc.optimal_errors(worse, masks) - agc.optimal_errors(better, masks)
    return gain.mean(), gain.std(ddof=1) / math.sqrt(gain.size)


def ridge_bound(code, masks):
    r"""Largest gap between the ridged decoder's error and err* that the ridge allows, per pattern.

    With :math:`t_i` the energy of ``T`` on the right singular vector ``i`` of ``B_S``, the ridged
    decoder recovers the fraction :math:`\sigma_i^2/(\sigma_i^2 + \varepsilon)` of each part, so
    the gap is :math:`\sum_i t_i\, (\varepsilon/(\sigma_i^2+\varepsilon))^2 \le k\ell\,
    (\varepsilon / \sigma_{\min}^2)^2`, with :math:`\sigma_{\min}` the smallest non-zero
    singular value of ``B_S``.
    """
    bounds = []
    for mask in masks:
        sigma = np.linalg.svd(code.B[mask], compute_uv=False)
        sigma = sigma[sigma > max(code.B.shape) * np.finfo(float).eps * sigma.max()]
        bounds.append(code.k * code.ell * (RIDGE / sigma.min() ** 2) ** 2)
    return np.array(bounds)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), shape=st.sampled_from([(8, 8, 3, 2), (12, 5, 2, 2), (6, 4, 2, 1), (9, 9, 4, 3)]),
       p=st.floats(0.0, 0.6), downdate=st.booleans())
def test_batch_errors_is_err_star_up_to_the_ridge(seed, shape, p, downdate):
    # (12, 5, 2, 2) has n > k*ell: B is rank deficient and the masked path must handle it.
    n, k, load, ell = shape
    A = agc.assignments.cyclic(n, k, load)
    rng = np.random.default_rng(seed)
    B = np.tile(A, (1, ell)) * rng.standard_normal((n, k * ell))
    B /= np.linalg.norm(B, axis=1, keepdims=True)
    code = agc.Code(B, A, ell)
    masks = agc.failures.bernoulli_masks(n, p, 40, seed=rng)
    masks = masks[masks.any(axis=1)]
    got = batch_errors(torch.tensor(B), torch.from_numpy(masks), k, ell, downdate).numpy()
    want = agc.optimal_errors(code, masks)
    # Rounding: a Cholesky-based solve with G = BBᵀ + εI errs by about n·eps·cond(G) relative,
    # which enters the residual squared; plus float64 sums of k·ell terms.
    eigenvalues = np.linalg.eigvalsh(B @ B.T) + RIDGE
    rounding = k * ell * ((n * np.finfo(float).eps * eigenvalues[-1] / eigenvalues[0]) ** 2 + 1e-12)
    assert np.all(got >= want - rounding)  # no decoder beats the optimal one
    assert np.all(got - want <= ridge_bound(code, masks) + rounding)


def test_same_seed_same_code():
    first, again, other = learn(seed=7), learn(seed=7), learn(seed=8)
    np.testing.assert_array_equal(first.B, again.B)
    timeless = [{key: value for key, value in code.params["history"].items() if key != "heldout_seconds"}
                for code in (first, again)]
    assert timeless[0] == timeless[1]
    assert not np.array_equal(first.B, other.B)


def test_generator_seed_reproduces_the_int_seed():
    np.testing.assert_array_equal(learn(seed=3).B, learn(seed=np.random.default_rng(3)).B)


A12 = agc.assignments.random_biregular(12, 6, 2, seed=1)


def block_split_same(A, groups):
    """Group ``u`` sends block ``u`` of its chunks, normalised per chunk over the group's holders."""
    n, k = A.shape
    B = np.zeros((n, 2 * k))
    for u in (0, 1):
        holders = A[groups == u].sum(axis=0)
        assert holders.min() > 0  # the group covers every chunk
        B[groups == u, u * k:(u + 1) * k] = A[groups == u] / holders
    return agc.Code(B, A, 2, name="block_split_same")


@pytest.mark.parametrize("init", ["rdm", "gaussian"])
def test_support_stays_inside_the_assignment(init):
    code = learn(A12, init=init, s=2, steps=60)
    outside = np.tile(A12, (1, 2)) == 0
    assert np.all(code.B[outside] == 0)
    assert np.all(code.B[~outside] != 0)
    np.testing.assert_allclose(np.linalg.norm(code.B, axis=1), 1.0, rtol=1e-12)


def test_a_block_split_start_keeps_one_block_per_worker():
    # Flipping the sign of block 1 everywhere (an orthogonal mixing) and then of the rows of
    # group 1 (a row scaling) maps the block split with a perturbation x of group 0's block-1
    # entries to the one with -x, leaving err* unchanged: err* is even in x, so its gradient
    # there vanishes and the descent never leaves the block structure. The
    # within-block coefficients do move.
    groups = np.array([0, 1] * 6)
    start = block_split_same(A12, groups)
    code = learn(A12, init=start, s=2, steps=60)
    assert code.params["init"] == "block_split_same"
    np.testing.assert_array_equal(code.B == 0, start.B == 0)
    assert not np.allclose(code.B / np.linalg.norm(code.B, axis=1, keepdims=True),
                           start.B / np.linalg.norm(start.B, axis=1, keepdims=True))


@pytest.mark.parametrize("model", [{"p": 0.2}, {"s": 2}, {"s": [0, 1, 2, 3]}])
def test_learned_code_beats_its_rdm_start(model):
    code = learn(steps=300, **model)
    start = agc.encodings.rdm(A8, 2, seed=0)  # the start optimized(seed=0) draws first
    if "p" in model:
        masks = agc.failures.bernoulli_masks(8, model["p"], 2000, seed=11)
    else:
        counts = np.atleast_1d(model["s"])
        masks = np.vstack([agc.failures.fixed_masks(8, s, 500, seed=11 + s) for s in counts])
    gain, se = paired_improvement(code, start, masks)
    assert gain > 5 * se > 0  # a held-out improvement far outside the Monte Carlo noise
    loss = np.array(code.params["history"]["loss"])
    head, tail = loss[:30], loss[-30:]
    gap_se = math.sqrt(head.var(ddof=1) / head.size + tail.var(ddof=1) / tail.size)
    assert head.mean() - tail.mean() > 3 * gap_se


def test_reaches_an_exact_code_where_one_exists():
    # The polynomial code (Ye and Abbe) on cyclic(8, 8, 3) with ell = 2 is exact against every
    # single straggler (replication 3 = s + ell), so exact codes exist on this support. A generic
    # code is not: T's two rows would have to lie in the 7-dimensional row space of every B_S in
    # R^16. Threshold: normalised err* <= 1e-6 for all 8 patterns, enumerated. That is five orders
    # below the RDM start (about 0.3) and far above the engine's rounding (about 1e-14); 400 steps
    # reach about 1e-9 on the seeds tried, so the margin is a thousandfold.
    assert agc.expected_error(agc.encodings.polynomial(agc.assignments.cyclic(8, 8, 3), 2), s=1, exact=True).mean < 1e-9
    code = learn(s=1, steps=400)
    errors = agc.optimal_errors(code, agc.failures.all_straggler_sets(8, 1), normalized=True)
    start = agc.expected_error(agc.encodings.rdm(A8, 2, seed=0), s=1, exact=True, normalized=True).mean
    assert start > 0.1
    assert errors.max() <= 1e-6


def test_a_code_learned_for_per_worker_rates_beats_the_common_rate_code_there():
    """Half the workers fail with probability 0.6, half with 0.02: learning for the vector p helps.

    Exact expectations over all 2^8 patterns; the two codes share the seed, hence the start.
    """
    p = np.array([0.6, 0.02] * 4)
    heterogeneous = learn(p=p, steps=300)
    common = learn(p=float(p.mean()), steps=300)
    assert heterogeneous.params["p"] == p.tolist() and common.params["p"] == pytest.approx(0.31)
    better = agc.expected_error(heterogeneous, p=p, exact=True).mean
    worse = agc.expected_error(common, p=p, exact=True).mean
    assert better < 0.9 * worse
    np.testing.assert_array_equal(learn(p=0.3, steps=20).B, learn(p=[0.3] * 8, steps=20).B)  # same masks


def test_exact_without_stragglers_makes_a_learned_code_exact_with_a_small_change():
    code = learn(s=[0, 1, 2, 3], steps=60)
    everyone = np.ones(8, dtype=bool)
    before = agc.optimal_error(code, everyone)
    assert before > 1e-8  # not exact yet
    exact = exact_without_stragglers(code)
    D_full = agc.fixed_decoder(exact)  # raises unless some D has D B = T
    assert np.linalg.norm(D_full @ exact.B - exact.target) < 1e-9
    support = np.tile(A8, (1, 2)) == 1
    assert np.all(exact.B[~support] == 0)
    change = exact.params["exact_without_stragglers"]
    assert 0 < change < 10 * math.sqrt(before)  # of the order of the distance to exactness
    masks = agc.failures.fixed_masks(8, 2, 300, seed=3)
    shift = np.abs(agc.optimal_errors(exact, masks) - agc.optimal_errors(code, masks)).max()
    assert shift < 100 * change  # the other survivor sets barely move


def test_exact_without_stragglers_leaves_an_exact_code_alone_and_refuses_the_impossible():
    split = agc.encodings.block_split(agc.assignments.cyclic(8, 8, 4), 2)
    np.testing.assert_allclose(exact_without_stragglers(split).B, split.B, atol=1e-12)
    stacking = agc.encodings.stacking(A8, 2)  # every worker sends the sum of its blocks: D_{:, N(i)} has rank one
    with pytest.raises(ValueError, match="cannot be made exact this way"):
        exact_without_stragglers(stacking)


def test_history_and_settings_are_recorded():
    code = learn(s=2, steps=45, batch=16, lr=0.02, eval_every=10, heldout=50)
    params = code.params
    assert code.name == "optimized"
    assert {k: params[k] for k in ("ell", "s", "steps", "batch", "lr", "seed", "init")} == {
        "ell": 2, "s": 2, "steps": 45, "batch": 16, "lr": 0.02, "seed": 0, "init": "rdm"}
    history = params["history"]
    assert len(history["loss"]) == 45
    assert history["heldout_step"] == [10, 20, 30, 40, 45]
    for key in ("heldout_mean", "heldout_se", "heldout_seconds"):
        assert len(history[key]) == 5
    assert all(type(x) is float for key in history if key != "heldout_step" for x in history[key])
    json.dumps(history)  # plain lists of numbers
    assert "p" not in params
    assert learn(p=0.1, steps=2).params["p"] == 0.1
    assert learn(s=[1, 2], steps=2).params["s"] == [1, 2]
    assert learn(s=1, steps=2, seed=np.random.default_rng(0)).params["seed"] is None


def test_heldout_history_matches_the_engine():
    # The held-out curve is the ridged objective on fixed patterns; at the end it must agree
    # with the engine's err* on fresh patterns within their Monte Carlo error.
    code = learn(p=0.3, steps=100, heldout=2000)
    history = code.params["history"]
    estimate = agc.expected_error(code, p=0.3, trials=2000, seed=5)
    gap = abs(history["heldout_mean"][-1] - estimate.mean)
    assert gap <= 4 * math.hypot(history["heldout_se"][-1], estimate.se)


def test_callback_sees_the_current_code():
    seen = []
    code = learn(s=1, steps=20, eval_every=10, callback=lambda step, c: seen.append((step, c)))
    assert [step for step, _ in seen] == [10, 20]
    assert all(isinstance(c, agc.Code) for _, c in seen)
    np.testing.assert_array_equal(seen[-1][1].B, code.B)


def test_torch_threads_are_restored():
    before = torch.get_num_threads()
    learn(s=1, steps=2, threads=1)
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("kwargs, name", [
    ({"steps": 0}, "steps"),
    ({"batch": 0}, "batch"),
    ({"lr": 0.0}, "lr"),
    ({"lr": -0.1}, "lr"),
    ({"lr": float("nan")}, "lr"),
    ({"lr": "fast"}, "lr"),
    ({"p": 0.1}, "p"),  # with s as well: both given
    ({"s": None}, "p"),  # neither given
    ({"s": None, "p": 1.0}, "p"),
    ({"s": None, "p": -0.1}, "p"),
    ({"s": None, "p": [0.1] * 7}, "p"),
    ({"s": None, "p": [0.1] * 7 + [1.0]}, "p"),
    ({"s": -1}, "s"),
    ({"s": 8}, "s"),
    ({"s": [1, 9]}, "s"),
    ({"s": []}, "s"),
    ({"ell": 0}, "ell"),
    ({"init": "zeros"}, "init"),
    ({"init": agc.encodings.rdm(A8, 3, seed=0)}, "init"),
    ({"heldout": 1}, "heldout"),
    ({"eval_every": 0}, "eval_every"),
])
def test_bad_input_names_the_parameter_before_any_work(kwargs, name):
    # steps = 10**9 unless under test: the error must come before the descent starts.
    arguments = {"ell": 2, "s": 1, "steps": 10**9, **kwargs}
    ell = arguments.pop("ell")
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        optimized(A8, ell, progress=False, **arguments)


def test_zero_row_start_is_rejected():
    B = agc.encodings.rdm(A8, 2, seed=0).B.copy()
    B[3] = 0.0
    with pytest.raises(ValueError, match="init has a zero row for worker 3"):
        optimized(A8, 2, s=1, init=agc.Code(B, A8, 2), progress=False)
