"""The runtime's models without processes: delays charged per chunk, their order statistics against
simulation, the fluid link model, the broadcast's receipt times, and what float32 messages cost a code.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import agc
from agc.runtime.delays import (
    DELAY_MODELS,
    Delay,
    expected_wait,
    parse_delay,
    poisson_binomial_tail,
    worker_times,
)
from agc.runtime.predict import expected_iteration, fluid_completions, link_seconds, receipt_times
from agc.runtime.wire import FLOAT32_LIMIT, float32_error


def _simulated_wait(delay, n, r, load, compute, draws=40_000, seed=1):
    """The r-th smallest of the n workers' times, averaged over simulated iterations (Delay.seconds itself)."""
    load = np.broadcast_to(load, (n,))
    compute = np.broadcast_to(compute, (n,))
    times = np.array([[compute[j] + Delay(delay.model, delay.params, seed + t).seconds(j, 0, compute[j], load[j])
                       for j in range(n)] for t in range(draws // 50)])
    return float(np.sort(times, axis=1)[:, r - 1].mean()), float(np.sort(times, axis=1)[:, r - 1].std())


def test_compute_is_charged_per_chunk():
    for spec in ("fixed:chunk=0.1", "multiplicative:chunk=0.1,p=0,factor=5", "additive:chunk=0.1,p=0,extra=9",
                 "shifted_exponential:shift=0.1,scale=0"):
        delay = parse_delay(spec)
        assert [delay.seconds(0, 0, load=load) for load in (1, 2, 4)] == pytest.approx([0.1, 0.2, 0.4]), spec
    old = parse_delay("bernoulli_ignoring_load:base=0.1,p=0,factor=5")
    assert [old.seconds(0, 0, load=load) for load in (1, 4)] == [0.1, 0.1]  # the name says it
    assert "IGNORES THE LOAD" in DELAY_MODELS["bernoulli_ignoring_load"]["description"]
    slow = parse_delay("multiplicative:chunk=0.1,p=1,factor=3")
    assert slow.seconds(0, 0, compute=0.05, load=2) + 0.05 == pytest.approx(3 * (0.05 + 0.2))  # the whole time x3
    late = parse_delay("additive:chunk=0.1,p=1,extra=0.7")
    assert late.seconds(0, 0, compute=0.05, load=2) == pytest.approx(0.2 + 0.7)  # whatever the load


def test_the_two_straggler_kinds_share_their_pattern():
    a = parse_delay("multiplicative:chunk=0.01,p=0.3,factor=5", seed=4)
    b = parse_delay("additive:chunk=0.01,p=0.3,extra=1", seed=4)
    pattern = [[a.slow(j, t) for j in range(8)] for t in range(20)]
    assert pattern == [[b.slow(j, t) for j in range(8)] for t in range(20)]
    assert 0.15 < np.mean(pattern) < 0.45


def test_heterogeneous_probabilities():
    delay = parse_delay("additive:chunk=0,p=0|1|0.5,extra=1", seed=0)
    assert delay.probabilities(3).tolist() == [0.0, 1.0, 0.5]
    assert [delay.slow(0, t) for t in range(50)] == [False] * 50 and all(delay.slow(1, t) for t in range(50))
    with pytest.raises(ValueError, match="3 probabilities but there are n=4 workers"):
        delay.check_workers(4)
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\]"):
        parse_delay("additive:p=0.1|1.5")


@pytest.mark.parametrize("spec", ["multiplicative:chunk=0.01,p=0.2,factor=5", "additive:chunk=0.01,p=0.3,extra=0.1",
                                  "additive:chunk=0.01,p=0.1|0.5|0.2|0.05|0.3,extra=0.1",
                                  "shifted_exponential:shift=0.01,scale=0.02"])
@pytest.mark.parametrize("r", [1, 3, 5])
def test_expected_wait_matches_simulation(spec, r):
    delay = parse_delay(spec)
    load, compute = np.array([1, 2, 3, 1, 2]), np.array([0.001, 0.002, 0.0, 0.003, 0.001])
    mean, sd = _simulated_wait(delay, 5, r, load, compute)
    assert expected_wait(delay, 5, r, load=load, compute=compute) == pytest.approx(mean, abs=4 * sd / math.sqrt(800))


def test_the_issue_arithmetic_coded_loses_when_compute_grows_with_load():
    """With n = 8, s = 2, p = 0.2, five times slower: 4c·1.81 = 7.25c for the coded PS against 4.33c."""
    c = 1.0
    delay = parse_delay(f"multiplicative:chunk={c},p=0.2,factor=5")
    tail_6 = sum(math.comb(8, m) * 0.2**m * 0.8 ** (8 - m) for m in range(3, 9))
    assert expected_wait(delay, 8, 6, load=4) == pytest.approx(4 * c * (1 + 4 * tail_6))
    assert expected_wait(delay, 8, 8, load=1) == pytest.approx(c * (1 + 4 * (1 - 0.8**8)))
    assert expected_wait(delay, 8, 6, load=4) > expected_wait(delay, 8, 8, load=1)
    # an additive straggler costs D whatever the load: coding wins once D/c exceeds 3 / (P[any] - P[>2])
    crossover = 3 / ((1 - 0.8**8) - tail_6)
    for ratio, wins in ((0.9 * crossover, False), (1.1 * crossover, True)):
        additive = parse_delay(f"additive:chunk={c},p=0.2,extra={ratio * c}")
        assert (expected_wait(additive, 8, 6, load=4) < expected_wait(additive, 8, 8, load=1)) == wins


@given(st.lists(st.floats(0, 1), min_size=1, max_size=7), st.integers(0, 8))
@settings(max_examples=60, deadline=None)
def test_poisson_binomial_tail_by_enumeration(q, r):
    import itertools

    exact = sum(np.prod([p if bit else 1 - p for p, bit in zip(q, bits)])
                for bits in itertools.product((0, 1), repeat=len(q)) if sum(bits) >= r)
    assert poisson_binomial_tail(q, r) == pytest.approx(exact, abs=1e-12)


def test_worker_times_and_the_load_free_model():
    fast, slow, p = worker_times(parse_delay("bernoulli_ignoring_load:base=1,p=0.2,factor=5"), 3, load=[1, 4, 9])
    assert fast.tolist() == [1, 1, 1] and slow.tolist() == [5, 5, 5] and p.tolist() == [0.2] * 3
    with pytest.raises(ValueError, match="continuous"):
        worker_times(parse_delay("shifted_exponential"), 3)


@given(st.lists(st.floats(0, 5), min_size=1, max_size=8), st.floats(0.01, 3))
@settings(max_examples=80, deadline=None)
def test_fluid_link_conserves_work(starts, work):
    done = fluid_completions(starts, work)
    assert len(done) == len(starts) and np.all(np.diff(done) >= -1e-9)
    ordered = np.sort(starts)
    assert np.all(done >= ordered + work - 1e-9)  # nobody is served faster than the whole link
    # the link is never idle while work waits: the last completion is the busy period's end
    end = ordered[0]
    for start in ordered:
        end = max(end, start) + work
    assert done[-1] == pytest.approx(end)


def test_prediction_without_links_is_the_order_statistic():
    delay = parse_delay("additive:chunk=0.01,p=0.2,extra=0.3")
    times = expected_iteration(delay, 8, 6, d=1000, load=4, compute=0.002)
    assert times["broadcast"] == 0 and times["seconds"] == pytest.approx(expected_wait(delay, 8, 6, 4, 0.002))
    shaped = expected_iteration(delay, 8, 6, d=101_770, ell=2, load=4, compute=0.002, uplink=10**8, downlink=10**8)
    assert shaped["broadcast"] == pytest.approx(link_seconds(8 * (4 * 101_770 + 16), 10**8))
    assert shaped["gather"] > times["seconds"] + 6 * shaped["upload"] - 1e-9  # at least six messages through


def test_receipt_times_by_hand():
    # shares 3 : 2 : 1 of a link that carries one message in u seconds. The first message has half
    # the link and is through at 2u; then the second has 2/3 of its bytes, the third 1/3. Those two
    # share the link 2 : 1, so the second needs (1/3) / (2/3) = u/2 more: 2.5u; the third then has
    # 1/3 + (1/2)(1/3) = 1/2 and takes the whole link for its other half: 3u.
    u = link_seconds(5000, 50_000_000)
    assert (receipt_times([1, 3, 2], 5000, 50_000_000) / u).tolist() == pytest.approx([3.0, 2.0, 2.5])
    assert (receipt_times([1, 1, 1, 1], 5000, 50_000_000) / u).tolist() == pytest.approx([4.0] * 4)  # fair
    assert receipt_times([7.0], 5000, 50_000_000).tolist() == pytest.approx([u])  # alone: the whole link
    assert receipt_times([1, 2, 3], 5000, None).tolist() == [0.0, 0.0, 0.0]  # no link
    for bad in ([], [1, 0], [1, -2], [1, np.inf], [[1, 2]]):
        with pytest.raises(ValueError, match="shares"):
            receipt_times(bad, 5000, 50_000_000)


@given(st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=10), st.floats(1.0, 1e6))
@settings(max_examples=100, deadline=None)
def test_receipt_times_conserve_work(shares, nbytes):
    u = link_seconds(nbytes, 10**8)
    times = receipt_times(shares, nbytes, 10**8)
    n = len(shares)
    assert times.max() == pytest.approx(n * u)  # the link is busy until all n messages are through
    assert np.all(np.sort(times) >= u * np.arange(1, n + 1) * (1 - 1e-9))  # k messages need k messages' time
    assert np.all(np.diff(times[np.argsort(shares, kind="stable")[::-1]]) >= -1e-12 * n * u)  # bigger share, sooner
    assert receipt_times(np.array(shares) * 7.5, nbytes, 10**8) == pytest.approx(times)  # only ratios matter
    assert receipt_times(shares, nbytes, 2 * 10**8) == pytest.approx(times / 2)


def test_random_shares_against_their_expectation():
    # n = 2, shares W1, W2 iid exponential: V = min/(W1 + W2) is uniform on (0, 1/2), and the first
    # receipt is u (1 + V/(1 - V)), whose mean is u (1 + 2 ∫_0^1/2 v/(1-v) dv) = 2 ln 2 · u.
    d, rate, fixed = 1000, 10**8, parse_delay("fixed:chunk=0.01")
    u = link_seconds(4 * d + 16, rate)
    times = expected_iteration(fixed, 2, 1, d=d, load=1, downlink=rate, shares="random", samples=20_000, seed=3)
    # V/(1-V) has variance 2 ∫_0^1/2 (v/(1-v))^2 dv - (2 ln 2 - 1)^2 = 3 - 4 ln 2 - (2 ln 2 - 1)^2
    se = u * math.sqrt(3 - 4 * math.log(2) - (2 * math.log(2) - 1) ** 2) / math.sqrt(20_000)
    assert abs(times["broadcast"] - 2 * math.log(2) * u) < 4 * se
    assert times["seconds"] == pytest.approx(times["broadcast"] + 0.01)  # no uplink: ready 10 ms after receipt
    fair = expected_iteration(fixed, 2, 1, d=d, load=1, downlink=rate)
    assert fair["broadcast"] == pytest.approx(2 * u) and fair["seconds"] == pytest.approx(2 * u + 0.01)


def test_random_shares_reduce_to_the_fair_fluid():
    delay, fixed = parse_delay("additive:chunk=0.002,p=0.1,extra=0.3"), parse_delay("fixed:chunk=0.002")
    links = {"d": 101_770, "load": 6, "compute": 0.01, "uplink": 10**8, "downlink": 10**8}
    for n in (1, 8):  # one worker, or all waited for with equal times
        fair = expected_iteration(fixed, n, n, **links)
        spread = expected_iteration(fixed, n, n, shares="random", samples=500, **links)
        assert spread["broadcast"] == pytest.approx(fair["broadcast"])  # the last receipt is B for any shares
        if n == 1:  # alone on the link: the shares do not matter
            assert spread == pytest.approx(fair)
        else:  # earlier starts never end the uplink's busy period later
            assert spread["seconds"] <= fair["seconds"] + 1e-12 and spread["gather"] < fair["gather"]
    no_link = {**links, "downlink": None}
    for model in (delay, fixed):
        fair = expected_iteration(model, 8, 6, **no_link)
        spread = expected_iteration(model, 8, 6, shares="random", samples=4000, **no_link)
        assert spread["broadcast"] == 0 and fair["broadcast"] == 0
        assert spread["seconds"] == pytest.approx(fair["seconds"], rel=0.03)
    no_links = {**no_link, "uplink": None}
    assert (expected_iteration(delay, 8, 6, shares="random", samples=4000, **no_links)["seconds"]
            == pytest.approx(expected_wait(delay, 8, 6, 6, 0.01), rel=0.03))
    with pytest.raises(ValueError, match="shares"):
        expected_iteration(delay, 8, 6, shares="unfair", **links)


def test_random_shares_receipts_and_rates():
    fixed = parse_delay("fixed:chunk=0.002")
    base = {"d": 101_770, "load": 6, "compute": 0.01, "shares": "random", "samples": 2000, "seed": 5}
    slow = expected_iteration(fixed, 8, 6, downlink=5 * 10**7, **base)
    fast = expected_iteration(fixed, 8, 6, downlink=10**8, **base)
    assert slow["broadcast"] == pytest.approx(2 * fast["broadcast"])  # the same shares, twice the time
    B = link_seconds(8 * (4 * 101_770 + 16), 10**8)
    # equal ready times: the used are the first six receipts, after six messages' time and before B
    assert 6 / 8 * B < fast["broadcast"] < B
    gathers = [expected_iteration(fixed, 8, 6, uplink=rate, downlink=10**8, **base)["gather"]
               for rate in (2 * 10**7, 5 * 10**7, 10**8, 10**9)]
    assert np.all(np.diff(gathers) < 0)  # a faster uplink, a shorter gather


def test_float32_error_of_the_polynomial_code_grows_with_s():
    errors = [float32_error(agc.encodings.polynomial(agc.assignments.cyclic(40, 40, s + 2), 2), s).max
              for s in (0, 4, 8)]
    assert errors[0] < 1e-6 < errors[1] < errors[2] and 1e-4 < errors[2] < FLOAT32_LIMIT
    approximate = float32_error(agc.make_code("cyclic", "rdm", ell=2, seed=0, n=40, k=40, load=10), 8)
    assert approximate.max < 1e-6  # a well-conditioned decoder: float32's own rounding, about 2^-24 x a few


def test_float32_error_respects_its_bound_and_is_zero_for_exact_arithmetic():
    code = agc.encodings.polynomial(agc.assignments.cyclic(12, 12, 4), 2)
    measured = float32_error(code, 2, seed=3)
    assert measured.max <= measured.bound and measured.trials == 1 + 12 + 20
    # a worker holding one chunk with coefficient 1 sends that float32 chunk unchanged: nothing is rounded
    stacking = agc.encodings.stacking(agc.assignments.cyclic(6, 6, 1), 1)
    assert float32_error(stacking, 0).max < 1e-7
