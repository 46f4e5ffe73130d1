r"""Simulated coded training: full-batch or mini-batch gradient descent through a gradient code.

One iteration on parameters :math:`\theta_t` with training loss
:math:`L(\theta) = \frac1N \sum_{x} \ell(x; \theta)` (mean cross-entropy over the ``N``
training samples):

1. the samples of the step (:mod:`agc.training.batches`): the whole training set, split once
   into ``k`` chunks, or a fresh seeded mini-batch of ``b`` samples cut into ``k`` chunks; the
   per-chunk gradients :math:`g_i` form the rows of ``G`` (:mod:`agc.training.gradients`), so
   :math:`g = \sum_i g_i` is :math:`\nabla L(\theta_t)` (full batch) or the mini-batch gradient,
   an unbiased estimate of it;
2. the failure model (:class:`agc.failures.FailureModel`) picks the survivors ``S``;
3. the decoder of the scheme for ``S`` (:func:`agc.schemes.decoder_matrix`) gives the estimate
   :math:`\hat g = (D B_S)\, G_{\mathrm{blocks}}` (:meth:`agc.Code.estimate`, equal to decoding the
   survivors' messages :math:`D F_S` but computed without forming the ``n`` messages);
4. the estimate becomes the parameters' ``.grad`` and the optimiser steps with the step size
   :math:`\eta_t` of the schedule (:func:`step_size`).

Even on the full batch this is a *stochastic* gradient method: the survivor set is random, so
:math:`\hat g` is a random estimate of :math:`\nabla L(\theta_t)` (unbiased for the unbiased
decoder, biased for the optimal one); a mini-batch adds the sampling noise of the data.

The relative decoding error :math:`\lVert \hat g - g\rVert^2 / \lVert g \rVert^2` is recorded
every iteration against the exact gradient of the step's samples. Nothing here re-implements
encoding or decoding: the same :class:`agc.Code` and :mod:`agc.schemes` drive the error engine
and the distributed runtime, which uses :meth:`agc.Code.encode_worker` and
:meth:`agc.Code.decode` on real messages.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from agc._checks import as_generator, check_int, check_probability, survivor_mask
from agc._io import json_ready, write_json
from agc.data import Dataset, load_dataset, split_chunks
from agc.engine import worst_case
from agc.failures import FAILURE_MODELS, FailureModel, failure_probabilities, markov_transitions
from agc.schemes import as_scheme, decoder_matrix, exact_fixed_decoder
from agc.seeds import streams
from agc.training.batches import chunk_batch, mini_batches
from agc.training.gradients import ChunkedData

__all__ = ["LEARNING_RATES", "LR_SCHEDULES", "MINI_BATCH_LEARNING_RATES", "OPTIMIZERS", "GradientBuffer", "Step",
           "TrainResult", "accuracy", "check_learning_rate", "check_train_arguments", "coded_step", "default_lr",
           "full_step", "make_optimizer", "mlp", "relative_error", "save_results", "simulated_failures", "step_size",
           "train", "write_gradient"]

#: Optimisers.
OPTIMIZERS = ("sgd", "adam")
#: Default learning rates of full-batch training by optimiser and dataset. Standardised inputs
#: have :math:`E|x|^2` equal to the number of features, and the curvature of the first layer grows
#: with it: full-batch gradient descent on 784 inputs needs a step about ten times smaller than on
#: digits' 64. Evidence (784-128-10 and 64-128-10 of :func:`mlp`, plain gradient descent, seeds
#: 0 and 1, one torch thread): on a 10 000-image subset of Fashion-MNIST (test: 5000 images) the
#: step 0.05 is the largest of {0.02, 0.05, 0.1, 0.2, 0.5} at which the training loss falls at
#: every one of 200 iterations (over 600 iterations its largest rise is 0.001; final loss 0.37,
#: test accuracy 0.84). The step 0.1 ends lower (loss 0.30 and accuracy 0.85 after 600) but
#: already oscillates (222-246 rises of up to 0.077: the edge of stability, where
#: :math:`\eta \le 1/\beta` fails), 0.2 and 0.5 spike by 0.4-0.7. A coded gradient adds decoding
#: error to every step, so the default keeps the margin: 0.05. MNIST has the same size and
#: scaling (no MNIST files here to tune on): the same step. Digits: 0.5 decreases the loss at
#: every one of 300 iterations (0.2 and 1.0 too; 1.0 ends lower, 0.005 against 0.012, at the same
#: test accuracy, 0.97-0.98). Adam's steps are its usual ones (0.001; 0.01 on the small digits
#: problem), not tuned here.
LEARNING_RATES = {
    ("sgd", "digits"): 0.5,
    ("sgd", "mnist"): 0.05,
    ("sgd", "fashion-mnist"): 0.05,
    ("adam", "digits"): 0.01,
    ("adam", "mnist"): 0.001,
    ("adam", "fashion-mnist"): 0.001,
}
#: Default learning rates of mini-batch training where they differ from :data:`LEARNING_RATES`.
#: Mini-batch SGD takes a larger step than full-batch gradient descent on the 28×28 images: on
#: Fashion-MNIST (10 000-image subset, mini-batches of 256, 1000 iterations, seeds 0 and 1) the
#: final training loss is 0.31-0.32 at 0.05, 0.24 at 0.1, 0.17-0.18 at 0.2, 0.16-0.17 at 0.3, and
#: 0.17-0.36 at 0.5 (one seed blows up: rises of up to 1.4), with test accuracy highest at 0.2
#: (0.857-0.859 against 0.854 at 0.3); 0.2 it is. On digits (mini-batches of 128, 500
#: iterations) 0.5 works as in full batch (loss 0.006, accuracy 0.97-0.98).
MINI_BATCH_LEARNING_RATES = {
    ("sgd", "mnist"): 0.2,
    ("sgd", "fashion-mnist"): 0.2,
}
#: Step-size schedules (:func:`step_size`).
LR_SCHEDULES = ("constant", "inverse_sqrt")


def default_lr(optimizer, dataset="digits", batch_size=None):
    """The default learning rate of an optimiser on a dataset, full-batch or mini-batch.

    Parameters
    ----------
    optimizer : {"sgd", "adam"}
    dataset : str
        A dataset name (:func:`agc.data.load_dataset`); unknown names get the digits rate.
    batch_size : int, optional
        ``None`` for full-batch training (:data:`LEARNING_RATES`); otherwise the mini-batch
        rate (:data:`MINI_BATCH_LEARNING_RATES`, falling back to the full-batch one).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``optimizer`` is unknown.

    Examples
    --------
    >>> default_lr("sgd", "digits"), default_lr("sgd", "fashion-mnist")
    (0.5, 0.05)
    >>> default_lr("sgd", "fashion-mnist", batch_size=256), default_lr("adam", "fashion-mnist", batch_size=256)
    (0.2, 0.001)
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; valid: {', '.join(map(repr, OPTIMIZERS))}")
    if batch_size is not None and (optimizer, dataset) in MINI_BATCH_LEARNING_RATES:
        return MINI_BATCH_LEARNING_RATES[(optimizer, dataset)]
    return LEARNING_RATES.get((optimizer, dataset), LEARNING_RATES[(optimizer, "digits")])


def step_size(lr, schedule, t):
    r"""The step size :math:`\eta_t` of iteration ``t`` (from 0) under a schedule.

    ``"constant"``: :math:`\eta_t = \eta`; ``"inverse_sqrt"``: :math:`\eta_t = \eta/\sqrt{t+1}`, the
    decaying step of the non-convex SGD theorem (:math:`\sum_t \eta_t = \infty`, :math:`\eta_t
    \to 0`), under which :math:`\min_{\tau \le t} \mathbb{E}\lVert\nabla L(\theta_\tau)\rVert^2`
    falls like :math:`\log t/\sqrt t` for unbiased gradients of bounded variance, where a
    constant step stops at a noise floor of order :math:`\beta\eta\sigma^2` (the book's chapter
    *Unbiasedness and convergence*).

    Parameters
    ----------
    lr : float
        :math:`\eta`, positive and finite.
    schedule : {"constant", "inverse_sqrt"}
    t : int
        Iteration, ``>= 0``.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For an unknown schedule, a bad ``lr`` or a negative ``t``.

    References
    ----------
    S. Ghadimi and G. Lan, *Stochastic first- and zeroth-order methods for nonconvex stochastic
    programming*, SIAM J. Optim. 23(4), 2013.

    Examples
    --------
    >>> step_size(0.1, "constant", 99), step_size(0.1, "inverse_sqrt", 99)
    (0.1, 0.01)
    """
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"unknown lr_schedule {schedule!r}; valid: {', '.join(map(repr, LR_SCHEDULES))}")
    lr = check_learning_rate(lr)
    t = check_int("t", t, low=0)
    return lr if schedule == "constant" else lr / math.sqrt(t + 1)


def mlp(d_in, hidden=128, classes=10, seed=0, dtype=torch.float32):
    r"""The network of the experiments: ``Linear(d_in, hidden) → ReLU → Linear(hidden, classes)``.

    784-128-10 for MNIST (101 770 parameters), 64-128-10 for digits (9 610). Weights and biases
    are drawn as PyTorch's default :class:`torch.nn.Linear` initialisation,
    :math:`\mathcal U(-1/\sqrt{\text{fan\_in}}, 1/\sqrt{\text{fan\_in}})`, from a private
    generator seeded with ``seed``: the global torch random state is neither used nor changed.

    Parameters
    ----------
    d_in : int
        Input features.
    hidden : int
        Hidden units.
    classes : int
        Output logits (trained with cross-entropy).
    seed : int
    dtype : torch.dtype

    Returns
    -------
    torch.nn.Sequential

    Examples
    --------
    >>> model = mlp(64, seed=0)
    >>> sum(p.numel() for p in model.parameters())
    9610
    >>> bool(torch.equal(mlp(64, seed=0)[0].weight, model[0].weight))
    True
    """
    d_in = check_int("d_in", d_in, low=1)
    hidden = check_int("hidden", hidden, low=1)
    classes = check_int("classes", classes, low=2)
    seed = check_int("seed", seed, low=0)
    model = torch.nn.Sequential(
        torch.nn.Linear(d_in, hidden, device="meta", dtype=dtype),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, classes, device="meta", dtype=dtype),
    ).to_empty(device="cpu")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in (model[0], model[2]):
            bound = 1.0 / math.sqrt(layer.in_features)
            layer.weight.uniform_(-bound, bound, generator=generator)
            layer.bias.uniform_(-bound, bound, generator=generator)
    return model


@dataclass(frozen=True)
class Step:
    r"""One coded iteration: the estimate, the survivors, the exact gradient and the relative error.

    ``exact`` is ``None`` and ``error`` NaN when the step was taken with ``measure=False``.

    Attributes
    ----------
    estimate : torch.Tensor, shape (d,)
        The decoded gradient.
    survivors : numpy.ndarray of bool, shape (n,)
    exact : torch.Tensor or None
        The exact gradient :math:`\sum_i g_i`.
    error : float
        :math:`\lVert \hat g - g\rVert^2 / \lVert g \rVert^2`.
    """

    estimate: torch.Tensor
    survivors: np.ndarray
    exact: torch.Tensor
    error: float


def write_gradient(model, vector):
    """Set every parameter's ``.grad`` from one flat vector (ordering of ``parameters_to_vector``).

    Parameters
    ----------
    model : torch.nn.Module
    vector : torch.Tensor, shape (d,)

    Raises
    ------
    ValueError
        If ``vector`` does not have one entry per parameter.
    """
    offset = 0
    for p in model.parameters():
        size = p.numel()
        values = vector[offset:offset + size].view_as(p)
        if p.grad is None:
            p.grad = values.clone()
        else:
            p.grad.copy_(values)
        offset += size
    if offset != vector.numel():
        raise ValueError(f"gradient vector has {vector.numel()} entries, the model {offset}")


class GradientBuffer:
    r"""Every parameter's ``.grad`` as a slice of one flat tensor, for writing a gradient in place.

    :meth:`agc.Code.estimate` writes the decoded estimate straight into :attr:`vector` (its
    ``out`` argument), so the gradients need no copy (:func:`write_gradient`). The slices
    follow the order of ``model.parameters()``, as :func:`torch.nn.utils.parameters_to_vector`.

    Parameters
    ----------
    model : torch.nn.Module
        Its parameters must share one dtype and one device.

    Attributes
    ----------
    model : torch.nn.Module
    vector : torch.Tensor, shape (d,)

    Examples
    --------
    >>> model = mlp(4, hidden=3, classes=2, seed=0)
    >>> buffer = GradientBuffer(model)
    >>> vector = buffer.install()
    >>> _ = vector.fill_(1.0)
    >>> float(model[0].weight.grad.sum()), vector.numel()
    (12.0, 23)
    """

    def __init__(self, model):
        self.model = model
        self._parameters = list(model.parameters())
        if not self._parameters:
            raise ValueError("model has no parameters")
        kinds = {(p.dtype, p.device) for p in self._parameters}
        if len(kinds) != 1:
            raise ValueError(f"GradientBuffer needs parameters of one dtype and device, got {sorted(map(str, kinds))}")
        dtype, device = kinds.pop()
        self.vector = torch.zeros(sum(p.numel() for p in self._parameters), dtype=dtype, device=device)
        self._views = []
        offset = 0
        for p in self._parameters:
            self._views.append(self.vector[offset:offset + p.numel()].view_as(p))
            offset += p.numel()

    def install(self):
        """Point every parameter's ``.grad`` at its slice (again, if ``zero_grad`` dropped it); return :attr:`vector`."""
        for p, view in zip(self._parameters, self._views):
            if p.grad is not view:
                p.grad = view
        return self.vector


def relative_error(estimate, exact):
    r""":math:`\lVert \hat g - g \rVert^2 / \lVert g \rVert^2` as a float (``nan`` if :math:`g = 0`).

    Parameters
    ----------
    estimate, exact : torch.Tensor
        Vectors of the same length.

    Returns
    -------
    float
    """
    denominator = float(exact.square().sum())
    return float((estimate - exact).square().sum()) / denominator if denominator > 0 else math.nan


def coded_step(model, optimizer, G, scheme, survivors, *, p=0.0, D_full=None, measure=True, buffer=None):
    r"""One coded iteration from per-chunk gradients: encode, keep the survivors, decode, step.

    Parameters
    ----------
    model : torch.nn.Module
    optimizer : torch.optim.Optimizer
        Over ``model.parameters()``.
    G : torch.Tensor, shape (k, d)
        Per-chunk gradients (:func:`chunk_gradients`).
    scheme : agc.schemes.Scheme or agc.Code
        A coded scheme (a bare code uses the optimal decoder).
    survivors : array_like or agc.failures.FailureModel
        Index array or boolean mask of the workers heard from, or a failure model to draw them.
    p : float
        Failure probability the unbiased decoder rescales by (a failure model gives its own).
    D_full : numpy.ndarray, optional
        Precomputed fixed decoder (for ``"unbiased"`` and ``"rescaled"``).
    measure : bool
        Also form the exact gradient and the relative decoding error (a metric, not part of
        the iteration itself).
    buffer : GradientBuffer, optional
        For ``model``: the estimate is written straight into the gradients, without a copy.
        ``Step.estimate`` is then the buffer's vector, overwritten by the next call.

    Returns
    -------
    Step

    Raises
    ------
    ValueError
        If ``G`` does not have ``code.k`` rows, the scheme is ``"full"``, or ``buffer`` belongs
        to another model.

    Examples
    --------
    >>> import agc
    >>> from agc.training import chunk_gradients
    >>> model = mlp(4, hidden=3, classes=2, seed=0, dtype=torch.float64)
    >>> X = torch.randn(10, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> y = torch.arange(10) % 2
    >>> G = chunk_gradients(model, X, y, agc.data.split_chunks(10, 5, seed=0))
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> step = coded_step(model, optimizer, G, agc.encodings.polynomial(agc.assignments.cyclic(5, 5, 3), 2), [0, 1, 3, 4])
    >>> step.error < 1e-20  # the polynomial code tolerates one straggler exactly
    True
    """
    scheme = as_scheme(scheme)
    if scheme.code is None:
        raise ValueError("coded_step needs a coded scheme; for 'full' use the plain gradient")
    code = scheme.code
    if G.ndim != 2 or G.shape[0] != code.k:
        raise ValueError(f"G has {G.shape[0] if G.ndim else 0} chunk gradients but code {code.name!r} "
                         f"has k={code.k} chunks")
    if isinstance(survivors, FailureModel):
        p = survivors.p
        survivors = survivors.sample()
    if buffer is not None and buffer.model is not model:
        raise ValueError("buffer is a GradientBuffer of another model")
    mask = survivor_mask(survivors, code.n)
    decoder = decoder_matrix(scheme, mask, p, D_full)
    # both paths overwrite every .grad: no zero_grad needed
    if buffer is not None and G.shape[1] % code.ell == 0:
        estimate = code.estimate(G, mask, decoder, out=buffer.install())
    else:
        estimate = code.estimate(G, mask, decoder)
        write_gradient(model, estimate)
    exact = G.sum(dim=0) if measure else None
    step = Step(estimate, mask, exact, relative_error(estimate, exact) if measure else math.nan)
    optimizer.step()
    return step


def full_step(model, optimizer, X, y):
    """One plain full-batch gradient step on the mean cross-entropy; returns the loss before it.

    Parameters
    ----------
    model : torch.nn.Module
    optimizer : torch.optim.Optimizer
    X : torch.Tensor, shape (samples, features)
    y : torch.Tensor, shape (samples,)

    Returns
    -------
    torch.Tensor
        The mean cross-entropy at the parameters before the step (detached).
    """
    optimizer.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(X), y)
    loss.backward()
    optimizer.step()
    return loss.detach()


def make_optimizer(name, parameters, lr=None, dataset="digits", batch_size=None):
    """``torch.optim.SGD`` (plain gradient descent, no momentum) or ``torch.optim.Adam`` by name.

    Parameters
    ----------
    name : {"sgd", "adam"}
    parameters : iterable of torch.nn.Parameter
    lr : float, optional
        Learning rate, positive and finite; default :func:`default_lr` of ``name``, ``dataset``
        and ``batch_size``.
    dataset : str
        The dataset the default learning rate is for.
    batch_size : int, optional
        The mini-batch size the default learning rate is for (``None``: full batch).

    Returns
    -------
    torch.optim.Optimizer

    Raises
    ------
    ValueError
        If ``name`` is unknown or ``lr`` is not a positive finite number.

    Examples
    --------
    >>> make_optimizer("sgd", mlp(4, seed=0).parameters()).defaults["lr"]
    0.5
    """
    lr = default_lr(name, dataset, batch_size) if lr is None else check_learning_rate(lr)
    cls = torch.optim.SGD if name == "sgd" else torch.optim.Adam
    return cls(parameters, lr=lr)


def check_learning_rate(lr, name="lr"):
    """Return ``lr`` as a float after checking that it is a positive finite number.

    Parameters
    ----------
    lr : object
    name : str
        The parameter named in the error.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``lr`` is not a positive finite number (``inf`` and NaN are refused: they turn the
        first step into NaN parameters).

    Examples
    --------
    >>> check_learning_rate(float("inf"))
    Traceback (most recent call last):
    ...
    ValueError: lr must be a positive finite number, got inf
    """
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {lr!r}")
    return float(lr)


@dataclass
class TrainResult:
    r"""Per-iteration metrics of one training run.

    "The step's samples" are the whole training set (full batch) or the step's mini-batch.

    Attributes
    ----------
    config : dict
        Everything that defines the run (scheme, code, dataset, training samples, batch size,
        failures, p, s, decoder, optimizer, lr, lr schedule, iters, seed, dtype, ...) and the
        adversarial stragglers if any.
    loss : list of float, length ``iters + 1``
        Entry ``t < iters``: the mean loss at :math:`\theta_t` over step ``t``'s samples (for full
        batch, the training loss :math:`L(\theta_t)`); the last entry: :math:`L(\theta_{\mathrm{iters}})`
        over the whole training set.
    error : list of float, length ``iters``
        Relative decoding error :math:`\lVert \hat g_t - g_t\rVert^2 / \lVert g_t\rVert^2`
        against the exact gradient of the step's samples (``0`` for ``"full"``).
    survivors : list of int or None, length ``iters``
        ``|S|`` per iteration (``None`` for ``"full"``, which has no workers).
    gradient_norm : list of float, length ``iters``
        :math:`\lVert g_t \rVert^2`, the squared norm of the exact gradient of the step's
        samples at :math:`\theta_t`: for full batch :math:`\lVert \nabla L(\theta_t) \rVert^2`, the
        quantity of the SGD convergence theorem.
    chunk_gradient_norm : list of float, length ``iters``
        :math:`\max_i \lVert g_i \rVert^2` over the chunks of step ``t`` (NaN for ``"full"``): the
        unbiased decoder's variance is at most a constant times this (the book's chapter
        *Training with coded gradients*).
    seconds : list of float, length ``iters``
        Wall time of each training step (gradients, encode, decode, optimiser), without evaluation.
    eval_iteration : list of int
        Iterations ``t`` (steps taken) at which the model was evaluated.
    test_accuracy : list of float
        Test accuracy at those iterations.
    train_loss : list of float
        Training loss :math:`L(\theta_t)` over the whole training set at those iterations (full
        batch: the entries of ``loss``; mini-batch: an extra forward pass at each evaluation).
    """

    config: dict
    loss: list = field(default_factory=list)
    error: list = field(default_factory=list)
    survivors: list = field(default_factory=list)
    gradient_norm: list = field(default_factory=list)
    chunk_gradient_norm: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    eval_iteration: list = field(default_factory=list)
    test_accuracy: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)

    def to_dict(self):
        """A JSON-ready dictionary (non-finite floats become ``None``)."""
        return json_ready(asdict(self))


def simulated_failures(kind, code, *, p=0.2, s=None, burst=None, seed=None):
    """The :class:`agc.failures.FailureModel` of a simulated run; ``"adversarial"`` searches its set first.

    Parameters
    ----------
    kind : {"none", "bernoulli", "markov", "fixed", "adversarial"}
    code : agc.Code
    p : float or array_like of shape (n,)
        Failure probability (``"bernoulli"``) or stationary failure rate (``"markov"``), common
        or one per worker.
    s : int, optional
        Stragglers (``"fixed"``, ``"adversarial"``).
    burst : float or array_like of shape (n,), optional
        Mean burst length in iterations (``"markov"``).
    seed : int or numpy.random.Generator, optional
        Drives the adversarial search, then the draws.

    Returns
    -------
    agc.failures.FailureModel

    Raises
    ------
    ValueError
        For an unknown ``kind``, a missing or out-of-range ``s`` or ``burst``.
    """
    if kind not in FAILURE_MODELS:
        raise ValueError(f"unknown failure model {kind!r}; valid: {', '.join(map(repr, FAILURE_MODELS))}")
    rng = as_generator(seed)
    stragglers = None
    if kind == "adversarial":
        if s is None:
            raise ValueError("failure model 'adversarial' needs the number of stragglers s")
        stragglers = worst_case(code, check_int("s", s, low=0, high=code.n - 1), method="search", seed=rng).stragglers
    return FailureModel(kind, code.n, p=p, s=s, stragglers=stragglers, burst=burst, seed=rng)


def accuracy(model, X, y):
    """Fraction of samples whose largest logit is the label.

    Parameters
    ----------
    model : torch.nn.Module
    X : torch.Tensor, shape (samples, features)
    y : torch.Tensor, shape (samples,)

    Returns
    -------
    float
    """
    with torch.no_grad():
        return float((model(X).argmax(dim=1) == y).double().mean())


def check_train_arguments(scheme, *, failures="bernoulli", p=0.2, burst=None, decoder=None, optimizer="sgd",
                          lr=None, lr_schedule="constant", batch_size=None, iters=300, eval_every=10, seed=0,
                          dtype=torch.float32):
    """Check the arguments of :func:`train` that need no data, before anything is loaded or computed.

    :func:`train` calls it first; ``agc train`` calls it before it loads the dataset. What
    needs the data (``batch_size <= N``, ``k <= N``) is checked by :func:`train` right after
    loading.

    Parameters
    ----------
    scheme : agc.Code, agc.schemes.Scheme or "full"
    failures, p, burst, decoder, optimizer, lr, lr_schedule, batch_size, iters, eval_every, seed, dtype
        As in :func:`train`.

    Returns
    -------
    scheme : agc.schemes.Scheme
        With ``decoder`` applied.
    checked : dict
        ``p`` (a float, or a list of one per worker), ``burst`` (``None``, a float or a list),
        ``lr`` (``None`` or a float), ``batch_size``, ``iters``, ``eval_every`` and ``seed`` as
        checked numbers.

    Raises
    ------
    ValueError
        For an unknown optimizer, schedule, failure model or decoder, a learning rate that is
        not a positive finite number, ``p`` outside ``[0, 1)`` or a vector ``p`` whose length is
        not the scheme's ``n`` workers, a missing ``burst`` or one below 1 for ``"markov"``,
        ``batch_size`` below the scheme's ``k`` chunks, or a bad ``dtype``.
    TypeError
        For a non-integer ``batch_size``, ``iters``, ``eval_every`` or ``seed``.

    Examples
    --------
    >>> check_train_arguments("full", lr=float("inf"))
    Traceback (most recent call last):
    ...
    ValueError: lr must be a positive finite number, got inf
    """
    lr = None if lr is None else check_learning_rate(lr)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; valid: {', '.join(map(repr, OPTIMIZERS))}")
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"unknown lr_schedule {lr_schedule!r}; valid: {', '.join(map(repr, LR_SCHEDULES))}")
    if failures not in FAILURE_MODELS:
        raise ValueError(f"unknown failure model {failures!r}; valid: {', '.join(map(repr, FAILURE_MODELS))}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    scheme = as_scheme(scheme, decoder)
    if failures in ("bernoulli", "markov"):
        if np.ndim(p) == 0:
            p = check_probability("p", p)
        elif scheme.code is None:
            raise ValueError(f"a per-worker p needs a scheme with workers, not {scheme.name!r}")
        else:
            p = failure_probabilities(scheme.code.n, p).tolist()
    if failures == "markov" and scheme.code is not None:
        if burst is None:
            raise ValueError("failure model 'markov' needs the mean burst length: burst=...")
        markov_transitions(scheme.code.n, p, burst)  # burst >= 1, one per worker or common
        burst = float(burst) if np.ndim(burst) == 0 else np.asarray(burst, dtype=np.float64).tolist()
    elif burst is not None:
        raise ValueError(f"burst is the mean burst length of failure model 'markov', not {failures!r}")
    if batch_size is not None:
        k = scheme.code.k if scheme.code is not None else 1
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
            raise TypeError(f"batch_size must be an integer or None, got {batch_size!r} ({type(batch_size).__name__})")
        if batch_size < k:
            reason = f" (one sample for each of the k={k} chunks of {scheme.name!r})" if scheme.code is not None else ""
            raise ValueError(f"batch_size must be >= {k}{reason}, got {batch_size}")
        batch_size = int(batch_size)
    checked = {"p": p, "burst": burst, "lr": lr, "batch_size": batch_size, "iters": check_int("iters", iters, low=0),
               "eval_every": check_int("eval_every", eval_every, low=1), "seed": check_int("seed", seed, low=0)}
    return scheme, checked


def train(scheme, dataset, *, failures="bernoulli", p=0.2, s=None, burst=None, decoder=None, optimizer="sgd",
          lr=None, lr_schedule="constant", batch_size=None, iters=300, hidden=128, seed=0, dtype=torch.float32,
          eval_every=10, progress=False):
    r"""Train the MLP with gradients estimated through a scheme; return per-iteration metrics.

    Every argument is checked before any data are loaded or any gradient is computed.

    Parameters
    ----------
    scheme : agc.Code, agc.schemes.Scheme or "full"
        A code (decoded with ``decoder``, default ``"optimal"``), a scheme from
        :func:`agc.schemes.coded`, :func:`agc.schemes.ignore_stragglers` or
        :func:`agc.schemes.full_gradient`, or ``"full"``.
    dataset : Dataset or str
        A :class:`agc.data.Dataset` or a name for :func:`agc.data.load_dataset`.
    failures : {"bernoulli", "markov", "none", "fixed", "adversarial"}
        Failure model (:class:`agc.failures.FailureModel`); ignored by ``"full"``. ``"markov"``:
        bursty failures that persist across iterations (a two-state chain per worker,
        :func:`agc.failures.markov_masks`). For ``"adversarial"`` the worst straggler set of size
        ``s`` is found once, before training, by :func:`agc.worst_case` with ``method="search"``,
        and used in every iteration.
    p : float or array_like of shape (n,)
        Failure probability for ``"bernoulli"`` (stationary failure rate for ``"markov"``), in
        ``[0, 1)``: one for every worker, or worker ``j``'s own ``p[j]`` (the unbiased decoder
        then rescales worker ``j`` by ``1 / (1 - p[j])``).
    s : int, optional
        Stragglers for ``"fixed"`` and ``"adversarial"``.
    burst : float or array_like of shape (n,), optional
        Mean burst length in iterations, ``>= 1``, for ``"markov"`` (required there).
    decoder : {"optimal", "unbiased", "rescaled"}, optional
        Replaces the scheme's decoder.
    optimizer : {"sgd", "adam"}
        ``SGD`` without momentum (gradient descent on the step's samples) or ``Adam``.
    lr : float, optional
        Learning rate :math:`\eta`, positive and finite (default :func:`default_lr` for the
        optimizer, the dataset and the batching, e.g. 0.5 for SGD on digits, 0.05 for full-batch
        and 0.2 for mini-batch SGD on the 28×28 images).
    lr_schedule : {"constant", "inverse_sqrt"}
        Step size of iteration ``t``: :math:`\eta` or :math:`\eta/\sqrt{t+1}` (:func:`step_size`).
    batch_size : int, optional
        ``None`` (default): full batch, the training set split once into the scheme's ``k``
        chunks. An int ``b``: a fresh mini-batch of ``b`` distinct samples every iteration, cut
        into the ``k`` chunks (:mod:`agc.training.batches`); needs ``k <= b <= N``.
    iters : int
        Optimiser steps.
    hidden : int
        Hidden units of the MLP (:func:`mlp`).
    seed : int
        Seeds, through the streams of :func:`agc.seeds.streams`, the model initialisation, the
        chunk split, the failures, the adversarial search and (a child of the failure stream)
        the mini-batches. Same seed, same metrics (except the wall times); every scheme trained
        with one seed starts from the same model and sees the same mini-batches.
    dtype : torch.dtype
        ``torch.float32`` (default) or ``torch.float64`` for exactness checks.
    eval_every : int
        Test accuracy and training loss every this many steps (and after the last).
    progress : bool
        Show a ``tqdm`` progress bar.

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError
        For an unknown dataset, optimizer, decoder, schedule or failure model, a learning rate
        that is not a positive finite number, a ``p`` outside ``[0, 1)``, a missing ``s``, a
        batch size outside ``[k, N]``, a code with more chunks than training samples, or
        ``"unbiased"``/``"rescaled"`` on a code without an exact fixed decoder.
    TypeError
        For a non-integer ``batch_size``, ``iters``, ``eval_every`` or ``seed``, or a dataset
        that is neither a name nor a :class:`agc.data.Dataset`.

    Examples
    --------
    >>> import agc
    >>> data = agc.data.load_digits()
    >>> code = agc.encodings.polynomial(agc.assignments.cyclic(8, 8, 4), 2)  # exact with 2 stragglers
    >>> result = train(code, data, failures="fixed", s=2, iters=30, seed=0)
    >>> result.loss[-1] < result.loss[0], max(result.error) < 1e-6, set(result.survivors)
    (True, True, {6})
    >>> mini = train(code, data, failures="fixed", s=2, batch_size=64, iters=30, seed=0)
    >>> mini.config["lr"], mini.train_loss[-1] < mini.train_loss[0], max(mini.error) < 1e-6
    (0.5, True, True)
    """
    scheme, checked = check_train_arguments(scheme, failures=failures, p=p, burst=burst, decoder=decoder,
                                            optimizer=optimizer, lr=lr, lr_schedule=lr_schedule,
                                            batch_size=batch_size, iters=iters, eval_every=eval_every, seed=seed,
                                            dtype=dtype)
    p, burst, lr, batch_size, iters, eval_every, seed = (
        checked[key] for key in ("p", "burst", "lr", "batch_size", "iters", "eval_every", "seed"))
    k = scheme.code.k if scheme.code is not None else 1
    if isinstance(dataset, str):
        dataset = load_dataset(dataset)
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be an agc.data.Dataset or a name, got {type(dataset).__name__}")
    data = dataset
    X, y = data.X_train.to(dtype), data.y_train
    X_test, y_test = data.X_test.to(dtype), data.y_test
    if k > X.shape[0]:
        raise ValueError(f"code {scheme.code.name!r} has k={k} chunks but the training set only {X.shape[0]} samples")
    if batch_size is not None and batch_size > X.shape[0]:
        raise ValueError(f"batch_size must be <= {X.shape[0]}, the training samples of {data.name}, got {batch_size}")
    seeds = streams(seed)
    model = mlp(data.features, hidden=hidden, classes=data.classes, seed=seeds.model_seed, dtype=dtype)
    opt = make_optimizer(optimizer, model.parameters(), lr, dataset=data.name, batch_size=batch_size)
    config = {
        "scheme": scheme.name, "code": repr(scheme.code) if scheme.code is not None else None,
        "dataset": data.name, "train_samples": int(X.shape[0]), "batch_size": batch_size, "failures": failures,
        "p": p, "s": s, "burst": burst, "decoder": scheme.decoder, "optimizer": optimizer, "lr": opt.defaults["lr"],
        "lr_schedule": lr_schedule, "iters": iters, "hidden": hidden, "seed": seed,
        "dtype": str(dtype).removeprefix("torch."), "eval_every": eval_every,
    }
    batches = (mini_batches(X.shape[0], batch_size, seed=np.random.default_rng(seeds.failures_sequence.spawn(1)[0]))
               if batch_size is not None else None)
    if scheme.code is None:
        full = failure_model = D_full = buffer = None
    else:
        code = scheme.code
        full = ChunkedData(X, y, split_chunks(X.shape[0], code.k, seed=seeds.split())) if batches is None else None
        failure_model = simulated_failures(failures, code, p=p, s=s, burst=burst, seed=seeds.failures())
        config["stragglers"] = failure_model.stragglers
        D_full = exact_fixed_decoder(scheme) if scheme.decoder != "optimal" else None
        buffer = GradientBuffer(model)
    result = TrainResult(config)

    def evaluate(t):
        result.eval_iteration.append(t)
        result.test_accuracy.append(accuracy(model, X_test, y_test))
        if batches is not None:
            with torch.no_grad():
                result.train_loss.append(float(F.cross_entropy(model(X), y)))

    steps = range(iters)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=scheme.name)
    for t in steps:
        if t % eval_every == 0:
            evaluate(t)
        start = time.perf_counter()
        indices = next(batches) if batches is not None else None
        for group in opt.param_groups:
            group["lr"] = step_size(opt.defaults["lr"], lr_schedule, t)
        if scheme.code is None:
            X_t, y_t = (X, y) if indices is None else (X[indices], y[indices])
            loss = full_step(model, opt, X_t, y_t)
            error, survivors = 0.0, None
        else:
            batch = full if indices is None else chunk_batch(X, y, indices, scheme.code.k)
            G, loss = batch.gradients(model)
            step = coded_step(model, opt, G, scheme, failure_model, D_full=D_full, buffer=buffer)
            error, survivors = step.error, int(step.survivors.sum())
        result.seconds.append(time.perf_counter() - start)
        if scheme.code is None:  # the exact gradient: .grad after full_step, step.exact after coded_step
            norm, chunk_norm = sum(float(p.grad.square().sum()) for p in model.parameters()), math.nan
        else:
            norm, chunk_norm = float(step.exact.square().sum()), float(torch.linalg.vector_norm(G, dim=1).max()) ** 2
        result.loss.append(float(loss))
        result.error.append(error)
        result.survivors.append(survivors)
        result.gradient_norm.append(norm)
        result.chunk_gradient_norm.append(chunk_norm)
    with torch.no_grad():
        result.loss.append(float(F.cross_entropy(model(X), y)))
    evaluate(iters)
    if batches is None:
        result.train_loss = [result.loss[t] for t in result.eval_iteration]
    return result


def save_results(results, path):
    """Write results as JSON, atomically (:func:`agc._io.write_json`).

    Parameters
    ----------
    results : TrainResult, dict or list
        A result, or a dict/list of results (nested freely); :class:`TrainResult` objects are
        converted with :meth:`TrainResult.to_dict`, non-finite floats become ``null``.
    path : str or os.PathLike

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as directory:
    ...     result = TrainResult({"scheme": "full"}, loss=[1.0, math.nan])
    ...     file = save_results({"full": result}, Path(directory) / "r.json")
    ...     saved = json.loads(file.read_text())
    >>> saved["full"]["loss"]
    [1.0, None]
    """
    return write_json(path, results)
