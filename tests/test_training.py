"""Simulated coded training: chunk gradients, coded steps, schemes, failure models, train, results."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import unbiased_estimates

import agc
from agc import training
from agc.assignments.bipartite import random_biregular
from agc.data import load_digits, split_chunks
from agc.failures import FailureModel
from agc.schemes import coded, full_gradient, ignore_stragglers
from agc.seeds import streams
from agc.training import (
    ChunkedData,
    GradientBuffer,
    TrainResult,
    chunk_batch,
    chunk_gradients,
    coded_step,
    mini_batches,
    mlp,
    save_results,
    step_size,
    train,
)
from agc.training.gradients import _sequential_calls  # which fast path a model takes


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """One intra-op thread: these tensors are small, and on a loaded machine several OpenMP
    threads per process slow every operation down by an order of magnitude.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def default_code(seed=0):
    """The experiments' default: RHPNC (Gaussian), ell = 2, on a random bi-regular graph
    with 40 workers, 20 chunks, load 3 (replication 6).
    """
    return agc.encodings.rhpnc(random_biregular(40, 20, 3, seed=seed), 2, seed=seed)


def loop_gradients(model, X, y, chunks):
    """Reference: one backward pass per chunk of (sum of the chunk's losses) / N."""
    N = sum(len(chunk) for chunk in chunks)
    rows = []
    for chunk in chunks:
        index = torch.as_tensor(np.asarray(chunk))
        loss = F.cross_entropy(model(X[index]), y[index], reduction="sum") / N
        grads = torch.autograd.grad(loss, list(model.parameters()))
        rows.append(torch.nn.utils.parameters_to_vector(grads))
    return torch.stack(rows)


class Twice(torch.nn.Module):
    """A Linear layer applied twice (shared weights): the fast path must hand over to torch.func."""

    def __init__(self):
        super().__init__()
        self.inner = torch.nn.Linear(5, 5, dtype=torch.float64)
        self.out = torch.nn.Linear(5, 3, dtype=torch.float64)

    def forward(self, x):
        return self.out(torch.tanh(self.inner(torch.tanh(self.inner(x)))))


class Tied(torch.nn.Module):
    """Two Linear layers sharing one weight matrix."""

    def __init__(self):
        super().__init__()
        self.first = torch.nn.Linear(5, 5, dtype=torch.float64)
        self.second = torch.nn.Linear(5, 5, dtype=torch.float64)
        self.second.weight = self.first.weight
        self.out = torch.nn.Linear(5, 3, dtype=torch.float64)

    def forward(self, x):
        return self.out(torch.tanh(self.second(torch.tanh(self.first(x)))))


def small_models():
    torch.manual_seed(0)  # initialisation of the hand-built reference models only
    return {
        "inplace": torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.ReLU(inplace=True),
                                       torch.nn.Linear(6, 3)).double(),
        "tied": Tied(),
        "mlp": mlp(5, hidden=7, classes=3, seed=1, dtype=torch.float64),
        "layernorm": torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.LayerNorm(6), torch.nn.ReLU(),
                                         torch.nn.Linear(6, 3)).double(),
        "no-bias": torch.nn.Sequential(torch.nn.Linear(5, 4, bias=False), torch.nn.ReLU(),
                                       torch.nn.Linear(4, 3)).double(),
        "shared": Twice(),
        "sequential-tied": _tied_sequential(),
    }


def _tied_sequential():
    """A Sequential whose first two Linear layers share one weight, with GELU and Tanh: the
    layer-by-layer fast path sums the two uses.
    """
    first, second = torch.nn.Linear(5, 5), torch.nn.Linear(5, 5)
    second.weight = first.weight
    return torch.nn.Sequential(first, torch.nn.GELU(), second, torch.nn.Tanh(), torch.nn.Linear(5, 3)).double()


@pytest.mark.parametrize("name", ["mlp", "layernorm", "no-bias", "shared", "inplace", "tied", "sequential-tied"])
def test_chunk_gradients_match_one_backward_per_chunk(name):
    """Both paths agree with the loop to float64 round-off (1e-10 relative)."""
    model = small_models()[name]
    rng = torch.Generator().manual_seed(2)
    X = torch.randn(23, 5, dtype=torch.float64, generator=rng)
    y = torch.randint(0, 3, (23,), generator=rng)
    chunks = split_chunks(23, 4, seed=3)  # sizes 6, 6, 6, 5: one padded row
    G = chunk_gradients(model, X, y, chunks)
    reference = loop_gradients(model, X, y, chunks)
    torch.testing.assert_close(G, reference, rtol=1e-10, atol=1e-12)
    batch = ChunkedData(X, y, chunks)
    torch.testing.assert_close(batch.gradients(model, method="functional")[0], reference, rtol=1e-10, atol=1e-12)
    layer_by_layer = _sequential_calls(model, X) is not None  # else torch.func
    assert layer_by_layer == (name in ("mlp", "no-bias", "sequential-tied"))
    if layer_by_layer:
        torch.testing.assert_close(batch.gradients(model, method="linear")[0], reference, rtol=1e-10, atol=1e-12)
    else:
        with pytest.raises(ValueError, match="use method='functional'"):
            batch.gradients(model, method="linear")
    model.zero_grad()
    F.cross_entropy(model(X), y).backward()
    full = torch.nn.utils.parameters_to_vector([p.grad for p in model.parameters()])
    torch.testing.assert_close(G.sum(dim=0), full, rtol=1e-10, atol=1e-12)
    _, loss = ChunkedData(X, y, chunks).gradients(model)
    with torch.no_grad():
        assert float(loss) == pytest.approx(float(F.cross_entropy(model(X), y)), rel=1e-12)


def test_coded_step_writes_the_decoded_gradient_and_steps():
    model = mlp(6, hidden=4, classes=3, seed=0, dtype=torch.float64)
    X = torch.randn(30, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.arange(30) % 3
    code = agc.encodings.block_split_copies(agc.assignments.cyclic(5, 5, 2), 2)  # n = 10, k = 5
    G = chunk_gradients(model, X, y, split_chunks(30, code.k, seed=0))
    before = torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    survivors = [0, 1, 2, 4, 5, 6, 8, 9]
    step = coded_step(model, optimizer, G, coded(code, "unbiased"), survivors, p=0.2)
    D = agc.unbiased_decoder(code, survivors, 0.2)
    expected = code.decode(code.encode(G), survivors, D, d=G.shape[1])
    torch.testing.assert_close(step.estimate, expected)
    after = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
    torch.testing.assert_close(after, before - 0.1 * expected)
    assert step.error == pytest.approx(float((expected - G.sum(0)).square().sum() / G.sum(0).square().sum()))


@pytest.mark.parametrize("hidden", [4, 5])  # d = 38 (ell divides d: in place) and 47 (padding: copied)
def test_coded_step_into_a_gradient_buffer_matches_the_copy(hidden):
    X = torch.randn(30, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.arange(30) % 2
    code = agc.encodings.block_split_copies(agc.assignments.cyclic(5, 5, 2), 2)
    chunks = split_chunks(30, code.k, seed=0)
    models = [mlp(6, hidden=hidden, classes=2, seed=0, dtype=torch.float64) for _ in range(2)]
    optimizers = [torch.optim.SGD(model.parameters(), lr=0.1) for model in models]
    buffer = GradientBuffer(models[1])
    for t, survivors in enumerate([[0, 1, 2, 4, 5, 6, 8, 9], [1, 2, 3, 5, 7, 9]]):
        if t == 1:
            optimizers[1].zero_grad(set_to_none=True)  # drops the views: the buffer puts them back
        steps = [coded_step(model, optimizer, chunk_gradients(model, X, y, chunks), code, survivors,
                            buffer=buffer if i else None)
                 for i, (model, optimizer) in enumerate(zip(models, optimizers))]
        torch.testing.assert_close(steps[1].estimate, steps[0].estimate, rtol=0, atol=1e-15)
        grads = [torch.nn.utils.parameters_to_vector([p.grad for p in model.parameters()]) for model in models]
        torch.testing.assert_close(grads[1], grads[0], rtol=0, atol=1e-15)
        if hidden == 4:
            assert steps[1].estimate.data_ptr() == buffer.vector.data_ptr()
            assert models[1][0].weight.grad.data_ptr() == buffer.vector.data_ptr()
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-15)
    G = chunk_gradients(models[0], X, y, chunks)
    with pytest.raises(ValueError, match="buffer is a GradientBuffer of another model"):
        coded_step(models[0], optimizers[0], G, code, [0, 1], buffer=buffer)


def test_ignore_stragglers_rescales_the_survivors_sum():
    scheme = ignore_stragglers(6)
    model = mlp(4, hidden=3, classes=2, seed=0, dtype=torch.float64)
    X = torch.randn(12, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.arange(12) % 2
    G = chunk_gradients(model, X, y, split_chunks(12, 6, seed=0))
    step = coded_step(model, torch.optim.SGD(model.parameters(), lr=0.1), G, scheme, [0, 2, 3, 5])
    torch.testing.assert_close(step.estimate, 6 / 4 * G[[0, 2, 3, 5]].sum(dim=0))
    zero = coded_step(model, torch.optim.SGD(model.parameters(), lr=0.1), G, scheme, np.zeros(6, dtype=bool))
    assert float(zero.estimate.abs().max()) == 0.0


@pytest.mark.parametrize("failures, s", [("none", None), ("fixed", 2), ("adversarial", 2)])
def test_exact_code_reproduces_full_gradient_descent(digits, failures, s):
    """Float64: the polynomial code (any <= s stragglers) follows plain gradient descent.

    Tolerance 1e-5 relative (the brief's) on the loss; float64 round-off through the
    Chebyshev interpolation is ~1e-12, so the trajectories agree far more tightly.
    """
    code = agc.encodings.polynomial(agc.assignments.cyclic(10, 10, 4), 2)
    reference = train("full", digits, iters=20, seed=4, dtype=torch.float64)
    result = train(code, digits, failures=failures, s=s, iters=20, seed=4, dtype=torch.float64)
    np.testing.assert_allclose(result.loss, reference.loss, rtol=1e-5)
    np.testing.assert_allclose(result.gradient_norm, reference.gradient_norm, rtol=1e-5)
    assert len(result.gradient_norm) == 20
    assert max(result.error) < 1e-12
    assert set(result.survivors) == {10 - (s or 0)}
    assert result.test_accuracy == reference.test_accuracy


def test_rhpnc_on_digits_reaches_90_percent_and_seeds_reproduce(digits):
    code = default_code()
    result = train(code, digits, p=0.2, seed=0)  # default iterations, SGD, optimal decoder
    assert result.test_accuracy[-1] >= 0.9
    assert len(result.loss) == 301 and len(result.error) == len(result.survivors) == 300
    assert result.loss[-1] < 0.1 * result.loss[0]
    assert 0 < np.mean(result.error) < 1  # approximate: some error, far from losing everything
    assert min(result.survivors) < 40  # failures did happen
    again = train(code, digits, p=0.2, seed=0)
    for key in ("loss", "error", "survivors", "test_accuracy", "eval_iteration", "config"):
        assert getattr(again, key) == getattr(result, key), key
    other = train(code, digits, p=0.2, seed=1, iters=10)
    assert other.survivors != result.survivors[:10]


def test_unbiased_decoder_is_unbiased_on_network_gradients(digits):
    """Monte Carlo mean of the fixed-decoder estimate over 2000 Bernoulli(0.2) draws.

    Multiple comparisons: the 4-s.e. check is made on 25 coordinates fixed in advance (a
    seeded choice among the coordinates with non-zero variance), so under unbiasedness and the
    normal approximation a false alarm has probability <= 25 * P(|Z| > 4) = 1.6e-3. Every
    coordinate is also checked at the Bonferroni threshold for family-wise level 1e-3 over all
    d coordinates, z* = Phi^{-1}(1 - 1e-3 / (2d)) (about 5.3 for d = 9610). The same check
    rejects the decoder without the 1/(1-p) rescaling, so it has power.
    """
    from scipy.stats import norm

    code = default_code()
    p, draws = 0.2, 2000
    model = mlp(64, seed=0, dtype=torch.float64)
    X, y = digits.X_train.double(), digits.y_train
    G = chunk_gradients(model, X, y, split_chunks(X.shape[0], code.k, seed=0))
    exact = G.sum(dim=0).numpy()
    estimates = unbiased_estimates(code, G.numpy(), p, agc.fixed_decoder(code), draws, seed=1)
    mean, se = estimates.mean(axis=0), estimates.std(axis=0, ddof=1) / math.sqrt(draws)
    constant = se == 0
    np.testing.assert_allclose(mean[constant], exact[constant], atol=1e-15)  # e.g. dead ReLU units
    z = (mean[~constant] - exact[~constant]) / se[~constant]
    subset = np.random.default_rng(0).choice(z.size, 25, replace=False)
    assert np.max(np.abs(z[subset])) <= 4, z[subset]
    assert np.max(np.abs(z)) <= norm.ppf(1 - 1e-3 / (2 * exact.size))
    biased = estimates * (1 - p)  # D_full[:, S] without the 1/(1-p): mean (1-p) g
    z_biased = (biased.mean(axis=0)[~constant] - exact[~constant]) / (se[~constant] * (1 - p))
    assert np.max(np.abs(z_biased[subset])) > 4


def test_adversarial_set_is_found_once_and_kept(digits):
    code = agc.encodings.stacking(agc.assignments.cyclic(10, 10, 3), 2)
    result = train(code, digits, failures="adversarial", s=3, iters=5, seed=0)
    stragglers = result.config["stragglers"]
    assert len(stragglers) == 3 and set(result.survivors) == {7}
    worst = agc.worst_case(code, 3, method="exhaustive").error
    assert agc.optimal_error(code, [j for j in range(10) if j not in stragglers]) == pytest.approx(worst)


def test_failure_models_draw_the_right_survivors():
    rng_a, rng_b = FailureModel("bernoulli", 200, p=0.3, seed=3), FailureModel("bernoulli", 200, p=0.3, seed=3)
    masks = np.array([rng_a.sample() for _ in range(50)])
    assert np.array_equal(masks, np.array([rng_b.sample() for _ in range(50)]))
    assert abs(1 - masks.mean() - 0.3) < 0.02  # 10000 Bernoulli draws: s.e. 0.0046
    fixed = FailureModel("fixed", 9, s=4, seed=0)
    assert {int(fixed.sample().sum()) for _ in range(20)} == {5} and fixed.p == pytest.approx(4 / 9)
    assert FailureModel("none", 5).sample().all() and FailureModel("none", 5).p == 0.0


def test_unbiased_and_full_schemes_train(digits):
    code = agc.encodings.block_split_copies(agc.assignments.cyclic(20, 20, 3), 2)
    result = train(code, digits, decoder="unbiased", optimizer="adam", iters=30, seed=0)
    assert result.config["decoder"] == "unbiased" and result.config["lr"] == 0.01
    assert result.test_accuracy[-1] >= 0.9
    full = train(full_gradient(), digits, iters=5, eval_every=2)
    assert full.survivors == [None] * 5 and full.error == [0.0] * 5
    assert full.eval_iteration == [0, 2, 4, 5]


def test_bad_input_is_rejected_with_one_line_messages(digits):
    code = agc.encodings.polynomial(agc.assignments.cyclic(6, 6, 3), 2)
    cases = [
        (lambda: train(code, "cifar"), "unknown dataset 'cifar'"),
        (lambda: train(code, digits, decoder="median"), "decoder must be one of 'optimal', 'unbiased', 'rescaled'"),
        (lambda: train(code, digits, failures="byzantine"), "unknown failure model 'byzantine'"),
        (lambda: train("full", digits, failures="byzantine"), "unknown failure model 'byzantine'"),
        (lambda: train(code, digits, optimizer="lbfgs"), "unknown optimizer 'lbfgs'; valid: 'sgd', 'adam'"),
        (lambda: train(code, digits, failures="fixed"), "needs the number of stragglers s"),
        (lambda: train(code, digits, failures="fixed", s=6), "s must be <= 5"),
        (lambda: train(code, digits, p=1.0), r"p must lie in \[0, 1\)"),
        (lambda: train("ignore", digits), "ignore_stragglers"),
        (lambda: train("full", digits, decoder="optimal"), "takes no decoder"),
        (lambda: train(code, digits, dtype=torch.float16), "dtype must be"),
    ]
    stacking = agc.encodings.stacking(agc.assignments.cyclic(6, 6, 2), 2)
    cases.append((lambda: train(stacking, digits, decoder="unbiased"), "code 'stacking' has none"))
    model = mlp(64, seed=0)
    G = torch.zeros(5, 9610)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    cases.append((lambda: coded_step(model, optimizer, G, code, [0, 1]),
                  "5 chunk gradients but code 'polynomial' has k=6"))
    for call, message in cases:
        with pytest.raises(ValueError, match=message) as info:
            call()
        assert "\n" not in str(info.value)


def test_save_results_is_atomic_json(tmp_path, digits):
    result = train(ignore_stragglers(8), digits, iters=3, seed=0)
    path = save_results({"ignore": result, "extra": [TrainResult({"x": 1}, loss=[math.inf])]}, tmp_path / "r.json")
    saved = json.loads(path.read_text())
    assert saved["ignore"]["loss"] == result.loss and saved["ignore"]["config"]["scheme"] == "ignore"
    assert saved["extra"][0]["loss"] == [None]
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
    save_results(result, path)  # overwrite in place
    assert json.loads(path.read_text())["survivors"] == result.survivors


# --- mini-batches, step-size schedules, arguments checked up front, the chapter's data path ---


def test_mini_batches_are_distinct_seeded_and_uniform():
    """Each batch has distinct indices; same seed, same stream; every sample is drawn at rate b/N.

    2000 batches of 10 from 50 samples: each count is Binomial(2000, 0.2), s.d. 17.9, so a
    count more than 5 s.d. from 400 has probability below 3e-5 over all 50 samples.
    """
    stream, again = mini_batches(50, 10, seed=3), mini_batches(50, 10, seed=3)
    batches = np.array([next(stream) for _ in range(2000)])
    assert np.array_equal(batches[:5], np.array([next(again) for _ in range(5)]))
    assert all(len(set(batch.tolist())) == 10 for batch in batches) and batches.min() >= 0 and batches.max() < 50
    counts = np.bincount(batches.ravel(), minlength=50)
    assert np.abs(counts - 400).max() < 5 * math.sqrt(2000 * 0.2 * 0.8)
    assert not np.array_equal(batches[0], batches[1])
    with pytest.raises(ValueError, match="batch_size must be <= 50"):
        mini_batches(50, 51)


def test_chunks_of_a_mini_batch_sum_to_its_gradient():
    """The k chunk gradients of a batch add up to the gradient of the batch's mean loss (float64)."""
    model = mlp(5, hidden=4, classes=3, seed=0, dtype=torch.float64)
    X = torch.randn(40, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.arange(40) % 3
    indices = next(mini_batches(40, 13, seed=1))
    batch = chunk_batch(X, y, indices, 4)
    assert batch.k == 4 and batch.samples == 13
    G, loss = batch.gradients(model)
    model.zero_grad()
    reference = F.cross_entropy(model(X[torch.as_tensor(indices)]), y[torch.as_tensor(indices)])
    reference.backward()
    full = torch.nn.utils.parameters_to_vector([p.grad for p in model.parameters()])
    torch.testing.assert_close(G.sum(dim=0), full, rtol=1e-10, atol=1e-12)
    assert float(loss) == pytest.approx(float(reference.detach()), rel=1e-12)
    with pytest.raises(ValueError, match="batch_size must be >= 5"):
        chunk_batch(X, y, indices[:4], 5)


def test_mini_batch_training_is_reproducible_from_the_seed(digits):
    code = default_code()
    first = train(code, digits, p=0.2, batch_size=64, iters=25, eval_every=5, seed=2)
    again = train(code, digits, p=0.2, batch_size=64, iters=25, eval_every=5, seed=2)
    for key in ("loss", "error", "survivors", "gradient_norm", "test_accuracy", "train_loss", "config"):
        assert getattr(again, key) == getattr(first, key), key
    other = train(code, digits, p=0.2, batch_size=64, iters=25, eval_every=5, seed=3)
    assert other.loss[1:-1] != first.loss[1:-1]
    assert first.config["batch_size"] == 64 and first.config["lr"] == training.default_lr("sgd", "digits", 64)
    assert len(first.train_loss) == len(first.eval_iteration) == 6
    assert first.train_loss[-1] == pytest.approx(first.loss[-1], rel=1e-6)  # both: whole set at the end


def test_every_scheme_at_one_seed_sees_the_same_mini_batches(digits):
    """An exact code without failures follows plain mini-batch SGD of the same seed (float64):
    same initialisation, same mini-batches, chunk gradients that sum to the batch gradient.
    """
    code = agc.encodings.polynomial(agc.assignments.cyclic(10, 10, 4), 2)
    plain = train("full", digits, batch_size=50, iters=20, seed=5, dtype=torch.float64)
    coded_run = train(code, digits, failures="fixed", s=2, batch_size=50, iters=20, seed=5, dtype=torch.float64)
    np.testing.assert_allclose(coded_run.loss, plain.loss, rtol=1e-9)
    np.testing.assert_allclose(coded_run.gradient_norm, plain.gradient_norm, rtol=1e-9)
    full_batch = train("full", digits, iters=20, seed=5, dtype=torch.float64)
    assert full_batch.loss[1] != pytest.approx(plain.loss[1], rel=1e-6)  # the mini-batches do differ from the set


def test_step_size_schedules():
    assert [step_size(0.3, "inverse_sqrt", t) for t in (0, 3, 8)] == pytest.approx([0.3, 0.15, 0.1])
    assert step_size(0.3, "constant", 10**6) == 0.3
    with pytest.raises(ValueError, match="unknown lr_schedule 'cosine'"):
        step_size(0.3, "cosine", 0)


def test_inverse_sqrt_schedule_is_gradient_descent_with_decaying_steps(digits):
    """Against an independent loop: theta_{t+1} = theta_t - lr / sqrt(t + 1) * grad L(theta_t), float64."""
    lr, iters, seed = 0.8, 15, 4
    result = train("full", digits, lr=lr, lr_schedule="inverse_sqrt", iters=iters, seed=seed, dtype=torch.float64)
    model = mlp(digits.features, seed=streams(seed).model_seed, dtype=torch.float64)
    X, y = digits.X_train.double(), digits.y_train
    losses = []
    for t in range(iters):
        model.zero_grad()
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        losses.append(float(loss.detach()))
        with torch.no_grad():
            for p in model.parameters():
                p -= lr / math.sqrt(t + 1) * p.grad
    np.testing.assert_allclose(result.loss[:-1], losses, rtol=1e-10)
    assert result.config["lr_schedule"] == "inverse_sqrt"
    constant = train("full", digits, lr=lr, iters=iters, seed=seed, dtype=torch.float64)
    assert constant.loss[2] != pytest.approx(result.loss[2], rel=1e-6)


def test_default_learning_rates_by_batching():
    assert training.default_lr("sgd", "fashion-mnist") == 0.05
    assert training.default_lr("sgd", "fashion-mnist", batch_size=256) == 0.2
    assert training.default_lr("sgd", "digits", batch_size=256) == training.default_lr("sgd", "digits")
    assert training.default_lr("adam", "mnist", batch_size=64) == 0.001


@pytest.mark.parametrize("arguments, error, message", [
    ({"lr": math.inf}, ValueError, "lr must be a positive finite number, got inf"),
    ({"lr": math.nan}, ValueError, "lr must be a positive finite number, got nan"),
    ({"lr": -0.1}, ValueError, "lr must be a positive finite number"),
    ({"lr": "0.1"}, ValueError, "lr must be a positive finite number"),
    ({"lr_schedule": "cosine"}, ValueError, "unknown lr_schedule 'cosine'"),
    ({"batch_size": 5}, ValueError, r"batch_size must be >= 6 \(one sample for each of the k=6 chunks"),
    ({"batch_size": 0.5}, TypeError, "batch_size must be an integer or None"),
    ({"batch_size": True}, TypeError, "batch_size must be an integer or None"),
    ({"p": math.nan}, ValueError, r"p must lie in \[0, 1\)"),
    ({"iters": -1}, ValueError, "iters must be >= 0"),
    ({"failures": "markov"}, ValueError, "needs the mean burst length: burst="),
    ({"failures": "markov", "burst": 0.5}, ValueError, "burst must be a finite mean burst length >= 1"),
    ({"failures": "markov", "burst": [2.0, 3.0]}, ValueError, "burst"),
    ({"failures": "bernoulli", "burst": 3.0}, ValueError, "burst is the mean burst length of failure model 'markov'"),
    ({"p": [0.1, 0.2]}, ValueError, r"p must be a probability or a vector of one per worker \(length n=6\)"),
    ({"p": [0.1] * 5 + [1.0]}, ValueError, r"p"),
])
def test_bad_arguments_are_refused_before_the_data_are_loaded(monkeypatch, arguments, error, message):
    def no_loading(*args, **kwargs):
        raise AssertionError("the dataset was loaded before the arguments were checked")

    monkeypatch.setattr(agc.training.loop, "load_dataset", no_loading)
    code = agc.encodings.polynomial(agc.assignments.cyclic(6, 6, 3), 2)
    with pytest.raises(error, match=message) as info:
        train(code, "fashion-mnist", **arguments)
    assert "\n" not in str(info.value)


def test_batch_size_larger_than_the_training_set_is_refused(digits):
    with pytest.raises(ValueError, match="batch_size must be <= 1347, the training samples of digits, got 2000"):
        train("full", digits, batch_size=2000, iters=1)


@pytest.mark.parametrize("extra, message", [
    (["--lr", "inf"], "--lr must be a positive finite number, got inf"),
    (["--lr", "nan"], "--lr must be a positive finite number, got nan"),
    (["--batch-size", "3"], "batch_size must be >= 6"),
    (["--lr-schedule", "cosine"], "unknown lr_schedule 'cosine'"),
    (["--failures", "markov"], "needs the mean burst length"),
    (["--failures", "markov", "--burst", "0.5"], "burst must be a finite mean burst length >= 1"),
    (["--dataset", "digits", "--test-size", "10"], "apply to mnist and fashion-mnist, not to digits"),
])
def test_agc_train_refuses_bad_arguments_before_loading(monkeypatch, capsys, extra, message):
    from agc.cli import main

    def no_loading(*args, **kwargs):
        raise AssertionError("agc train loaded the dataset before checking its arguments")

    monkeypatch.setattr(agc.data, "load_dataset", no_loading)
    argv = ["train", "--family", "cyclic", "--encoding", "polynomial", "--ell", "2", "-P", "n=6", "-P", "k=6",
            "-P", "load=3", "--dataset", "fashion-mnist", *extra]
    if "--dataset" in extra:
        argv = argv[:argv.index("--dataset")] + extra
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_agc_train_mini_batches(tmp_path, capsys):
    from agc.cli import main

    out = tmp_path / "run.json"
    argv = ["train", "--scheme", "ignore", "--workers", "8", "--batch-size", "32", "--lr-schedule", "inverse_sqrt",
            "--iters", "12", "--eval-every", "4", "--seed", "1", "--out", str(out)]
    assert main(argv) == 0
    saved = json.loads(out.read_text())
    assert saved["config"]["batch_size"] == 32 and saved["config"]["lr_schedule"] == "inverse_sqrt"
    assert saved["eval_iteration"] == [0, 4, 8, 12] and len(saved["train_loss"]) == 4
    assert "on digits" in capsys.readouterr().out


def _chapter_cells(*ids):
    notebook = json.loads((Path(__file__).resolve().parents[1] / "book" / "training.ipynb").read_text())
    cells = {cell["id"]: cell for cell in notebook["cells"]}
    parameters = next(cell for cell in notebook["cells"] if "parameters" in cell["metadata"].get("tags", []))
    return ["".join(parameters["source"])] + ["".join(cells[cid]["source"]) for cid in ids]


def _write_idx(path, array):
    """An IDX file written independently of the reader: header, big-endian dims, unsigned bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize("where", ["mnist", "nothing"])
def test_the_chapter_loads_the_dataset_the_package_picks(tmp_path, monkeypatch, capsys, where):
    """The chapter's parameters and data cells, run as papermill would (image subsets off): with
    AGC_MNIST_DIR set it trains on MNIST, with neither MNIST nor Fashion-MNIST on digits, and its
    first output says so; the choice is agc.data.auto_dataset's.
    """
    monkeypatch.setattr(agc.data, "FASHION_MNIST_DIR", str(tmp_path / "no-fashion"))
    monkeypatch.delenv(agc.data.MNIST_ENV, raising=False)
    if where == "mnist":
        rng = np.random.default_rng(0)
        for name, shape in [("train-images-idx3-ubyte", (30, 28, 28)), ("t10k-images-idx3-ubyte", (8, 28, 28))]:
            _write_idx(tmp_path / name, rng.integers(0, 256, shape))
        for name, size in [("train-labels-idx1-ubyte", 30), ("t10k-labels-idx1-ubyte", 8)]:
            _write_idx(tmp_path / name, rng.integers(0, 10, size))
        monkeypatch.setenv(agc.data.MNIST_ENV, str(tmp_path))
    parameters, data_cell = _chapter_cells("cell-002")
    namespace = {}
    exec(parameters, namespace)
    assert namespace["dataset"] == "auto"
    namespace.update(train_size=None, test_size=None)
    exec(data_cell, namespace)
    expected = agc.data.auto_dataset()
    assert expected == ("mnist" if where == "mnist" else "digits")
    assert namespace["data"].name == expected
    first_line = capsys.readouterr().out.splitlines()[0]
    assert first_line.startswith(f"Training on {expected}:")
    assert namespace["lr"] == training.default_lr("sgd", expected, batch_size=namespace["batch_size"])


def lag_one_correlation(values):
    values = np.asarray(values, dtype=float)
    return float(np.corrcoef(values[:-1], values[1:])[0, 1])


def test_bursty_failures_persist_across_training_iterations(digits):
    # Two-state chains with stationary rate p and mean burst L: each worker's state has lag-one
    # autocorrelation 1 - f - r (f = p / (L (1 - p)), r = 1 / L), and so has the count of survivors,
    # a sum of n independent such chains; Bernoulli failures have none.
    code = agc.encodings.rdm(random_biregular(12, 6, 2, seed=0), 2, seed=0)
    p, burst, iters = 0.3, 20.0, 400
    theory = 1 - p / (burst * (1 - p)) - 1 / burst
    bursty = train(code, digits, failures="markov", p=p, burst=burst, iters=iters, eval_every=iters, seed=3)
    independent = train(code, digits, failures="bernoulli", p=p, iters=iters, eval_every=iters, seed=3)
    assert bursty.config["burst"] == burst and bursty.config["failures"] == "markov"
    assert lag_one_correlation(bursty.survivors) > theory - 0.15 > 0.7
    assert abs(lag_one_correlation(independent.survivors)) < 4 / np.sqrt(iters)
    # the stationary rate: mean survivors n (1 - p) within 4 s.e. of the (correlated) counts
    counts = np.asarray(bursty.survivors, dtype=float)
    se = np.sqrt(12 * p * (1 - p) * (1 + theory) / (1 - theory) / iters)
    assert abs(counts.mean() - 12 * (1 - p)) < 4 * se


def test_per_worker_failure_rates_in_training(digits):
    code = agc.encodings.rhpnc(random_biregular(12, 6, 2, seed=0), 2, seed=0)
    rates = np.linspace(0.0, 0.55, 12)
    iters = 400
    result = train(code, digits, failures="bernoulli", p=rates, decoder="unbiased", iters=iters,
                   eval_every=iters, seed=5)
    assert result.config["p"] == pytest.approx(rates.tolist())
    counts = np.asarray(result.survivors, dtype=float)
    expected, variance = float(np.sum(1 - rates)), float(np.sum(rates * (1 - rates)))
    assert abs(counts.mean() - expected) < 4 * np.sqrt(variance / iters)
    assert result.loss[-1] < result.loss[0]
    # the unbiased decoder rescales each survivor by its own 1 / (1 - p_j)
    from agc.schemes import decoder_matrix

    scheme = coded(code, decoder="unbiased")
    D_full = agc.fixed_decoder(code)
    mask = np.ones(12, dtype=bool)
    mask[[2, 7]] = False
    np.testing.assert_allclose(decoder_matrix(scheme, mask, p=rates, D_full=D_full),
                               D_full[:, mask] / (1 - rates[mask]), rtol=1e-12)
