r"""Simulated coded training: full-batch gradient descent through a gradient code (DESIGN §2, §3).

One iteration on parameters :math:`\theta_t` with training loss
:math:`L(\theta) = \frac1N \sum_{x} \ell(x; \theta)` (mean cross-entropy over the ``N``
training samples):

1. the training set is split once into ``k`` chunks (:func:`agc.data.split_chunks`); the
   per-chunk gradients :math:`g_i = \frac1N \sum_{x \in \text{chunk } i} \nabla \ell(x; \theta_t)`
   form the rows of ``G`` (:func:`chunk_gradients`), so :math:`g = \sum_i g_i = \nabla L(\theta_t)`;
2. every worker's message is computed with :meth:`agc.Code.encode` (rows = workers);
3. the failure model picks the survivors ``S`` (:class:`FailureModel`);
4. the parameter server decodes with :meth:`agc.Code.decode` and a decoder for ``S``
   (``"optimal"``: :func:`agc.optimal_decoder`; ``"unbiased"``: :func:`agc.unbiased_decoder`;
   ``"rescaled"``: the fixed decoder scaled by :math:`n/|S|`);
5. the estimate :math:`\hat g` becomes the parameters' ``.grad`` and the optimiser steps.

The relative decoding error :math:`\lVert \hat g - g\rVert^2 / \lVert g \rVert^2` is recorded
every iteration against the exact gradient. Nothing here re-implements encoding or decoding:
the same :class:`agc.Code` drives the error engine and the distributed runtime.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, vmap

from agc._checks import as_generator, check_int, check_probability, survivor_mask
from agc.code import Code
from agc.data import Dataset, load_dataset, split_chunks
from agc.decoding import fixed_decoder, optimal_decoder, unbiased_decoder
from agc.engine import worst_case
from agc.failures import bernoulli_masks, fixed_masks

#: Decoders a coded scheme can use.
DECODERS = ("optimal", "unbiased", "rescaled")
#: Failure models, drawn afresh every iteration (``"adversarial"``: one set for the whole run).
FAILURE_MODELS = ("none", "bernoulli", "fixed", "adversarial")
#: Optimisers and their default learning rates (full-batch, standardised inputs).
OPTIMIZERS = {"sgd": 0.5, "adam": 0.01}


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


class ChunkedData:
    r"""A training set laid out for per-chunk gradients: ``k`` chunks padded to one size.

    Chunk ``i`` occupies rows ``i·m … i·m + m - 1`` of a flat batch (``m`` = largest chunk);
    padding rows repeat a sample of the chunk with weight zero. Sample weights are ``1/N``
    with ``N = Σ_i |chunk i|``, so the weighted loss of chunk ``i`` is
    :math:`\frac1N \sum_{x \in \text{chunk } i} \ell(x)` and the chunk losses sum to the mean
    loss over all chunks.

    Parameters
    ----------
    X : torch.Tensor, shape (samples, features)
    y : torch.Tensor, shape (samples,)
        Class labels.
    chunks : sequence of array_like
        ``k`` non-empty index arrays into ``X`` (typically a partition, :func:`agc.data.split_chunks`).

    Examples
    --------
    >>> X, y = torch.zeros(5, 2), torch.tensor([0, 1, 0, 1, 1])
    >>> batch = ChunkedData(X, y, [[0, 1, 2], [3, 4]])
    >>> batch.k, batch.size, batch.weights.view(2, 3).sum(dim=1)
    (2, 3, tensor([0.6000, 0.4000]))
    """

    def __init__(self, X, y, chunks):
        chunks = [np.asarray(chunk, dtype=np.int64).reshape(-1) for chunk in chunks]
        if not chunks or any(chunk.size == 0 for chunk in chunks):
            raise ValueError("chunks must be a non-empty list of non-empty index arrays")
        if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
            raise ValueError(f"X must be (samples, features) and y (samples,), "
                             f"got {tuple(X.shape)} and {tuple(y.shape)}")
        for i, chunk in enumerate(chunks):
            if chunk.min() < 0 or chunk.max() >= X.shape[0]:
                raise ValueError(f"chunk {i} has indices outside [0, {X.shape[0] - 1}]")
        self.k = len(chunks)
        self.size = max(chunk.size for chunk in chunks)
        self.samples = sum(chunk.size for chunk in chunks)
        index = np.empty((self.k, self.size), dtype=np.int64)
        weights = np.zeros((self.k, self.size))
        for i, chunk in enumerate(chunks):
            index[i] = np.resize(chunk, self.size)  # padding repeats the chunk's own samples
            weights[i, : chunk.size] = 1.0 / self.samples
        flat = torch.as_tensor(index.reshape(-1))
        self.X = X[flat]
        self.y = y[flat]
        self.weights = torch.as_tensor(weights.reshape(-1), dtype=X.dtype)

    def gradients(self, model, method="auto"):
        r"""Per-chunk gradients ``G`` (``k × d``) and the loss :math:`\sum_i` (weighted chunk losses).

        ``method="linear"`` (the fast path, chosen by ``"auto"`` when it applies) serves models
        whose parameters all live in :class:`torch.nn.Linear` layers, each applied once to the
        2-D batch (the MLP): one forward and one backward pass over the whole padded batch to
        the layers' outputs :math:`\delta`, then per chunk :math:`\nabla W = \delta_c^\top a_c`
        and :math:`\nabla b = \delta_c^\top 1` as one batched matrix product per layer: about
        the cost of one plain full-batch backward pass. A :class:`torch.nn.Sequential` of Linear
        layers and :data:`ELEMENTWISE` activations is run layer by layer; any other model is run
        with forward hooks on its Linear layers to find their inputs and outputs (slower by
        the hooks' overhead). ``method="functional"`` works for any
        model: per-chunk copies of the parameters, ``torch.func.vmap`` over chunks, one
        backward pass; it is slower (``benchmarks/training_step.py``).

        Parameters
        ----------
        model : torch.nn.Module
            Maps a batch of features to logits.
        method : {"auto", "linear", "functional"}

        Returns
        -------
        G : torch.Tensor, shape (k, d)
            Row ``i`` is :math:`g_i`, flattened in the order of ``model.parameters()`` (as
            :func:`torch.nn.utils.parameters_to_vector`).
        loss : torch.Tensor
            Scalar, detached: the mean loss over the chunks' samples.

        Raises
        ------
        ValueError
            If ``method`` is unknown, or ``"linear"`` is asked of a model it does not serve.
        """
        if method not in ("auto", "linear", "functional"):
            raise ValueError(f"method must be 'auto', 'linear' or 'functional', got {method!r}")
        if method != "functional":
            calls = _sequential_calls(model, self.X)
            if calls is None:
                layers = _linear_layers(model)
                calls = _hooked_calls(model, layers, self.X) if layers is not None else None
            if calls is not None:
                return self._linear_gradients(model, *calls)
            if method == "linear":
                raise ValueError("method='linear' needs a model whose parameters all belong to torch.nn.Linear "
                                 "layers, each applied once to the 2-D batch; use method='functional'")
        return self._functional_gradients(model)

    def _linear_gradients(self, model, logits, calls):
        """Per-chunk gradients from each Linear call's input ``a`` and output ``z``: ``∇W = δᵀa``, ``∇b = δᵀ1``."""
        loss = (F.cross_entropy(logits, self.y, reduction="none") * self.weights).sum()
        deltas = torch.autograd.grad(loss, [z for _, _, z in calls])
        grads = {}
        for (layer, a, _), delta in zip(calls, deltas):
            a = a.detach().reshape(self.k, self.size, -1)
            delta = delta.reshape(self.k, self.size, -1)
            parts = [(layer.weight, torch.bmm(delta.transpose(1, 2), a).reshape(self.k, -1))]
            if layer.bias is not None:
                parts.append((layer.bias, delta.sum(dim=1)))
            for p, g in parts:  # a parameter used twice (a layer reused, weights tied) gets the sum
                grads[p] = grads[p] + g if p in grads else g
        G = torch.cat([grads[p] for p in model.parameters()], dim=1)
        return G, loss.detach()

    def _functional_gradients(self, model):
        names = [name for name, _ in model.named_parameters()]
        stacked = {name: p.detach().unsqueeze(0).expand(self.k, *p.shape).requires_grad_()
                   for name, p in model.named_parameters()}
        X = self.X.reshape(self.k, self.size, -1)
        y = self.y.reshape(self.k, self.size)
        w = self.weights.reshape(self.k, self.size)

        def chunk_loss(params, X_c, y_c, w_c):
            logits = functional_call(model, params, (X_c,))
            return (F.cross_entropy(logits, y_c, reduction="none") * w_c).sum()

        losses = vmap(chunk_loss)(stacked, X, y, w)
        grads = torch.autograd.grad(losses.sum(), [stacked[name] for name in names])
        return torch.cat([g.reshape(self.k, -1) for g in grads], dim=1), losses.sum().detach()


#: Parameter-free modules that act on each entry alone: a :class:`torch.nn.Sequential` of these
#: and Linear layers is run layer by layer on the fast path (no hooks needed).
ELEMENTWISE = (torch.nn.ReLU, torch.nn.LeakyReLU, torch.nn.Tanh, torch.nn.Sigmoid, torch.nn.GELU, torch.nn.ELU,
               torch.nn.SiLU, torch.nn.Identity)


def _sequential_calls(model, X):
    """Run a Sequential of Linear layers and :data:`ELEMENTWISE` modules on ``X``, keeping each
    Linear call's ``(layer, input, output)``; ``None`` for any other model (or an in-place activation)."""
    if not isinstance(model, torch.nn.Sequential) or not any(isinstance(m, torch.nn.Linear) for m in model):
        return None
    for module in model:
        if isinstance(module, torch.nn.Linear):
            continue
        if type(module) not in ELEMENTWISE or getattr(module, "inplace", False):
            return None
    calls = []
    x = X
    for module in model:
        out = module(x)
        if isinstance(module, torch.nn.Linear):
            calls.append((module, x, out))
        x = out
    return x, calls


def _hooked_calls(model, layers, X):
    """Run any model on ``X`` with forward hooks on its Linear ``layers``, keeping each call's
    ``(layer, input, output)``; ``None`` when a layer is reused, fed a batch that is not the 2-D
    batch, or has its input or output modified in place (then only torch.func is right)."""
    records = {}

    def hook(module, inputs, output):
        records.setdefault(module, []).append((inputs[0], output, inputs[0]._version, output._version))

    handles = [layer.register_forward_hook(hook) for layer in layers]
    try:
        logits = model(X)
    finally:
        for handle in handles:
            handle.remove()
    calls = []
    for layer in layers:
        found = records.get(layer, [])
        if len(found) != 1:
            return None
        a, z, a_version, z_version = found[0]
        if a.ndim != 2 or a.shape[0] != X.shape[0] or a._version != a_version or z._version != z_version:
            return None
        calls.append((layer, a, z))
    return logits, calls


def _linear_layers(model):
    """The model's Linear layers if they hold every parameter, else ``None``."""
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    owned = {id(p) for layer in layers for p in layer.parameters(recurse=False)}
    if not layers or any(id(p) not in owned for p in model.parameters()):
        return None
    return layers


def chunk_gradients(model, X, y, chunks):
    r"""Per-chunk gradients of the mean cross-entropy: row ``i`` is :math:`g_i`, with :math:`\sum_i g_i = \nabla L`.

    :math:`g_i = \frac1N \sum_{x \in \text{chunk } i} \nabla_\theta\, \ell(x;\theta)` with
    ``N`` the total number of samples in the chunks: the gradient of chunk ``i``'s *summed*
    loss divided by ``N``. The rows add up to the full-batch gradient of the mean loss
    :math:`L = \frac1N\sum_x \ell(x)`, the loss :func:`train` reports. See
    :meth:`ChunkedData.gradients` for the computation (one forward and backward pass, not one
    per chunk); to reuse the padded layout over many iterations build a :class:`ChunkedData`
    once.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``X`` to logits.
    X : torch.Tensor, shape (samples, features)
    y : torch.Tensor, shape (samples,)
    chunks : sequence of array_like
        ``k`` index arrays into ``X``.

    Returns
    -------
    torch.Tensor, shape (k, d)
        Flattened in the order of ``model.parameters()``.

    Examples
    --------
    >>> model = mlp(4, hidden=3, classes=2, seed=0)
    >>> X, y = torch.randn(6, 4, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 1, 0, 1, 0])
    >>> G = chunk_gradients(model, X, y, [[0, 1], [2, 3, 4], [5]])
    >>> G.shape
    torch.Size([3, 23])
    >>> F.cross_entropy(model(X), y).backward()
    >>> full = torch.nn.utils.parameters_to_vector([p.grad for p in model.parameters()])
    >>> bool(torch.allclose(G.sum(dim=0), full, atol=1e-6))
    True
    """
    return ChunkedData(X, y, chunks).gradients(model)[0]


@dataclass(frozen=True)
class Scheme:
    """What the parameter server does each iteration.

    Attributes
    ----------
    name : str
        ``"full"`` (exact full-batch gradient, no workers), ``"ignore"`` or the code's name.
    code : agc.Code or None
        ``None`` only for ``"full"``.
    decoder : str or None
        One of :data:`DECODERS` for a coded scheme, ``None`` for ``"full"``.

    Use :func:`full_gradient`, :func:`ignore_stragglers` and :func:`coded` to build one.
    """

    name: str
    code: Code | None = None
    decoder: str | None = None

    def __post_init__(self):
        if self.code is None:
            if self.decoder is not None:
                raise ValueError(f"scheme {self.name!r} has no code, so decoder must be None, got {self.decoder!r}")
        elif self.decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {', '.join(map(repr, DECODERS))}, got {self.decoder!r}")


def full_gradient():
    """The reference: the exact full-batch gradient, no workers, no coding, no failures.

    Examples
    --------
    >>> full_gradient()
    Scheme(name='full', code=None, decoder=None)
    """
    return Scheme("full")


def ignore_stragglers(n):
    r"""Uncoded training that ignores stragglers: ``k = n`` chunks, one per worker.

    The code is the identity (``B = I_n``, ``ell = 1``) and the decoder is ``"rescaled"``: the
    survivors' gradients are summed and scaled by :math:`n / |S|`,
    :math:`\hat g = \frac{n}{|S|} \sum_{j \in S} g_j` (zero when no worker survives).

    Examples
    --------
    >>> scheme = ignore_stragglers(4)
    >>> scheme.name, scheme.code.B.tolist()[1], scheme.decoder
    ('ignore', [0.0, 1.0, 0.0, 0.0], 'rescaled')
    """
    n = check_int("n", n, low=1)
    return Scheme("ignore", Code(np.eye(n), np.eye(n, dtype=np.int64), 1, name="uncoded", params={"n": n}), "rescaled")


def coded(code, decoder="optimal"):
    """A gradient code with a decoder: ``"optimal"``, ``"unbiased"`` or ``"rescaled"``.

    Examples
    --------
    >>> import agc
    >>> coded(agc.encodings.polynomial(5, 1, 2)).decoder
    'optimal'
    """
    if not isinstance(code, Code):
        raise TypeError(f"code must be an agc.Code, got {type(code).__name__}")
    return Scheme(code.name, code, decoder)


def as_scheme(scheme, decoder=None):
    """Turn a :class:`Scheme`, an :class:`agc.Code` or ``"full"`` into a :class:`Scheme`.

    ``decoder``, when given, replaces the scheme's decoder (default ``"optimal"`` for a bare code).

    Examples
    --------
    >>> as_scheme("full").name
    'full'
    """
    if isinstance(scheme, str):
        if scheme == "full":
            if decoder is not None:
                raise ValueError(f"scheme 'full' takes no decoder, got decoder={decoder!r}")
            return full_gradient()
        if scheme == "ignore":
            raise ValueError("scheme 'ignore' needs the number of workers: pass agc.training.ignore_stragglers(n)")
        raise ValueError(f"unknown scheme {scheme!r}; pass 'full', a Scheme or an agc.Code")
    if isinstance(scheme, Code):
        return coded(scheme, decoder or "optimal")
    if isinstance(scheme, Scheme):
        if decoder is None or decoder == scheme.decoder:
            return scheme
        if scheme.code is None:
            raise ValueError(f"scheme {scheme.name!r} takes no decoder, got decoder={decoder!r}")
        return Scheme(scheme.name, scheme.code, decoder)
    raise TypeError(f"scheme must be 'full', a Scheme or an agc.Code, got {type(scheme).__name__}")


class FailureModel:
    r"""Which workers answer in each iteration.

    Parameters
    ----------
    kind : {"none", "bernoulli", "fixed", "adversarial"}
        ``"none"``: every worker answers. ``"bernoulli"``: each worker fails independently
        with probability ``p``, drawn afresh every iteration. ``"fixed"``: ``s`` stragglers
        chosen uniformly at random every iteration. ``"adversarial"``: the worst straggler
        set of size ``s`` for ``code`` found **once** (at construction) by
        :func:`agc.worst_case` with ``method="search"`` (a lower estimate of the true worst
        case) and used in every iteration. It is fixed because the optimal error depends only
        on ``B`` and ``S``, not on the gradients, so the worst set does not change during
        training (and one search costs far more than an iteration). "Worst" is for the optimal
        decoder's error :math:`\mathrm{err}^*(S)`, whatever decoder the scheme uses.
    n : int
        Workers.
    p : float
        Failure probability (``"bernoulli"``).
    s : int, optional
        Stragglers (``"fixed"``, ``"adversarial"``), ``0 <= s < n``.
    code : agc.Code, optional
        Needed for ``"adversarial"``.
    seed : int or numpy.random.Generator, optional

    Attributes
    ----------
    rate : float
        The per-worker failure probability the unbiased decoder rescales by: ``p`` for
        Bernoulli, ``s/n`` for ``"fixed"`` (each worker is absent with probability ``s/n``,
        so :math:`D_{\mathrm{full}}[:, S] \cdot n/(n-s)` is unbiased there too) and for
        ``"adversarial"`` (where no decoder is unbiased), ``0`` for ``"none"``.
    stragglers : tuple of int or None
        The adversarial set.

    Examples
    --------
    >>> failures = FailureModel("fixed", 6, s=2, seed=0)
    >>> int(failures.sample().sum()), failures.rate
    (4, 0.3333333333333333)
    """

    def __init__(self, kind, n, *, p=0.2, s=None, code=None, seed=None):
        if kind not in FAILURE_MODELS:
            raise ValueError(f"unknown failure model {kind!r}; valid: {', '.join(map(repr, FAILURE_MODELS))}")
        self.kind = kind
        self.n = check_int("n", n, low=1)
        self.rng = as_generator(seed)
        self.p = check_probability("p", p) if kind == "bernoulli" else 0.0
        self.s = None
        self.stragglers = None
        if kind in ("fixed", "adversarial"):
            if s is None:
                raise ValueError(f"failure model {kind!r} needs the number of stragglers s")
            self.s = check_int("s", s, low=0, high=self.n - 1)
        if kind == "adversarial":
            if code is None or code.n != self.n:
                raise ValueError(f"failure model 'adversarial' needs the code (with n={self.n} workers)")
            self.stragglers = tuple(worst_case(code, self.s, method="search", seed=self.rng).stragglers)
        self.rate = {"none": 0.0, "bernoulli": self.p}.get(kind, (self.s or 0) / self.n)

    def sample(self):
        """The survivors of one iteration, a boolean mask of length ``n``."""
        if self.kind == "bernoulli":
            return bernoulli_masks(self.n, self.p, 1, seed=self.rng)[0]
        if self.kind == "fixed":
            return fixed_masks(self.n, self.s, 1, seed=self.rng)[0]
        mask = np.ones(self.n, dtype=bool)
        if self.kind == "adversarial":
            mask[list(self.stragglers)] = False
        return mask


def decoder_matrix(scheme, survivors, rate=0.0, D_full=None):
    r"""The ``ell × |S|`` decoder the scheme uses for ``survivors``.

    ``"optimal"``: :func:`agc.optimal_decoder`; ``"unbiased"``: :func:`agc.unbiased_decoder`
    with failure probability ``rate``; ``"rescaled"``: :math:`D_{\mathrm{full}}[:, S] \cdot n / |S|`.

    Raises
    ------
    ValueError
        If ``"unbiased"`` or ``"rescaled"`` is asked of a code without an exact fixed decoder.
    """
    code = scheme.code
    mask = survivor_mask(survivors, code.n)
    if scheme.decoder == "optimal":
        return optimal_decoder(code, mask)
    if D_full is None:
        D_full = exact_fixed_decoder(scheme)
    if scheme.decoder == "unbiased":
        return unbiased_decoder(code, mask, rate, D_full=D_full)
    size = int(mask.sum())
    return D_full[:, mask] * (code.n / size) if size else D_full[:, mask]


def exact_fixed_decoder(scheme):
    """:func:`agc.fixed_decoder` of the scheme's code, with an error naming the decoder and the code."""
    try:
        return fixed_decoder(scheme.code)
    except ValueError as error:
        raise ValueError(f"decoder={scheme.decoder!r} needs an exact fixed decoder (D B = T) and code "
                         f"{scheme.code.name!r} has none: {error}") from None


@dataclass(frozen=True)
class Step:
    """One coded iteration: the estimate, the survivors, the exact gradient and the relative error.

    ``exact`` is ``None`` and ``error`` NaN when the step was taken with ``measure=False``.
    """

    estimate: torch.Tensor
    survivors: np.ndarray
    exact: torch.Tensor
    error: float


def write_gradient(model, vector):
    """Set every parameter's ``.grad`` from one flat vector (ordering of ``parameters_to_vector``)."""
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
    r""":math:`\lVert \hat g - g \rVert^2 / \lVert g \rVert^2` as a float (``nan`` if :math:`g = 0`)."""
    denominator = float(exact.square().sum())
    return float((estimate - exact).square().sum()) / denominator if denominator > 0 else math.nan


def coded_step(model, optimizer, G, scheme, survivors, *, rate=0.0, D_full=None, measure=True, buffer=None):
    r"""One coded iteration from per-chunk gradients: encode, keep the survivors, decode, step.

    Parameters
    ----------
    model : torch.nn.Module
    optimizer : torch.optim.Optimizer
        Over ``model.parameters()``.
    G : torch.Tensor, shape (k, d)
        Per-chunk gradients (:func:`chunk_gradients`).
    scheme : Scheme or agc.Code
        A coded scheme (a bare code uses the optimal decoder).
    survivors : array_like or FailureModel
        Index array or boolean mask of the workers heard from, or a failure model to draw them.
    rate : float
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
    >>> model = mlp(4, hidden=3, classes=2, seed=0, dtype=torch.float64)
    >>> X = torch.randn(10, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> y = torch.arange(10) % 2
    >>> G = chunk_gradients(model, X, y, agc.data.split_chunks(10, 5, seed=0))
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> step = coded_step(model, optimizer, G, agc.encodings.polynomial(5, 1, 2), [0, 1, 3, 4])
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
        rate = survivors.rate
        survivors = survivors.sample()
    if buffer is not None and buffer.model is not model:
        raise ValueError("buffer is a GradientBuffer of another model")
    mask = survivor_mask(survivors, code.n)
    decoder = decoder_matrix(scheme, mask, rate, D_full)
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
    """One plain full-batch gradient step on the mean cross-entropy; returns the loss before it."""
    optimizer.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(X), y)
    loss.backward()
    optimizer.step()
    return loss.detach()


def make_optimizer(name, parameters, lr=None):
    """``torch.optim.SGD`` (plain gradient descent) or ``torch.optim.Adam`` by name.

    Examples
    --------
    >>> make_optimizer("sgd", mlp(4, seed=0).parameters()).defaults["lr"]
    0.5
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(map(repr, OPTIMIZERS))}")
    lr = OPTIMIZERS[name] if lr is None else float(lr)
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}")
    cls = torch.optim.SGD if name == "sgd" else torch.optim.Adam
    return cls(parameters, lr=lr)


@dataclass
class TrainResult:
    r"""Per-iteration metrics of one training run.

    Attributes
    ----------
    config : dict
        Everything that defines the run (scheme, code, dataset, failures, p, s, decoder,
        optimizer, lr, iters, seed, dtype, ...) and the adversarial stragglers if any.
    loss : list of float, length ``iters + 1``
        Mean training loss on the full training set at :math:`\theta_t`, ``t = 0 … iters``.
    error : list of float, length ``iters``
        Relative decoding error :math:`\lVert \hat g_t - g_t\rVert^2 / \lVert g_t\rVert^2`
        against the exact full gradient (``0`` for ``"full"``).
    survivors : list of int or None, length ``iters``
        ``|S|`` per iteration (``None`` for ``"full"``, which has no workers).
    gradient_norm : list of float, length ``iters``
        :math:`\lVert \nabla L(\theta_t) \rVert^2`, the squared norm of the exact full-batch
        gradient at the iterate of step ``t`` (the quantity of the SGD convergence theorem).
    seconds : list of float, length ``iters``
        Wall time of each training step (gradients, encode, decode, optimiser), without evaluation.
    eval_iteration : list of int
        Iterations ``t`` (steps taken) at which the test accuracy was measured.
    test_accuracy : list of float
        Test accuracy at those iterations.
    """

    config: dict
    loss: list = field(default_factory=list)
    error: list = field(default_factory=list)
    survivors: list = field(default_factory=list)
    gradient_norm: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    eval_iteration: list = field(default_factory=list)
    test_accuracy: list = field(default_factory=list)

    def to_dict(self):
        """A JSON-ready dictionary (non-finite floats become ``None``)."""
        return _json_ready(asdict(self))


def _json_ready(value):
    if isinstance(value, dict):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    if isinstance(value, (np.generic, np.ndarray)):
        return _json_ready(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def accuracy(model, X, y):
    """Fraction of samples whose largest logit is the label."""
    with torch.no_grad():
        return float((model(X).argmax(dim=1) == y).double().mean())


def train(scheme, dataset, *, failures="bernoulli", p=0.2, s=None, decoder=None, optimizer="sgd", lr=None,
          iters=300, hidden=128, seed=0, dtype=torch.float32, eval_every=10, progress=False):
    r"""Train the MLP with full-batch gradients estimated through a scheme; return per-iteration metrics.

    Parameters
    ----------
    scheme : agc.Code, Scheme or "full"
        A code (decoded with ``decoder``, default ``"optimal"``), a :class:`Scheme` from
        :func:`coded`, :func:`ignore_stragglers` or :func:`full_gradient`, or ``"full"``.
    dataset : Dataset or str
        A :class:`agc.data.Dataset` or a name for :func:`agc.data.load_dataset`.
    failures : {"bernoulli", "none", "fixed", "adversarial"}
        Failure model (:class:`FailureModel`); ignored by ``"full"``.
    p : float
        Failure probability for ``"bernoulli"``.
    s : int, optional
        Stragglers for ``"fixed"`` and ``"adversarial"``.
    decoder : {"optimal", "unbiased", "rescaled"}, optional
        Replaces the scheme's decoder.
    optimizer : {"sgd", "adam"}
        Full-batch ``SGD`` without momentum (gradient descent) or ``Adam``.
    lr : float, optional
        Learning rate (default from :data:`OPTIMIZERS`: 0.5 for SGD, 0.01 for Adam).
    iters : int
        Optimiser steps.
    hidden : int
        Hidden units of the MLP (:func:`mlp`).
    seed : int
        Seeds, through independent streams of ``numpy.random.SeedSequence(seed)``, the model
        initialisation, the chunk split, the failures and the adversarial search. Same seed,
        same metrics (except the wall times).
    dtype : torch.dtype
        ``torch.float32`` (default) or ``torch.float64`` for exactness checks.
    eval_every : int
        Test accuracy every this many steps (and after the last).
    progress : bool
        Show a ``tqdm`` progress bar.

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError
        For an unknown dataset, optimizer, decoder or failure model, a missing ``s``, a code
        with more chunks than training samples, or ``"unbiased"``/``"rescaled"`` on a code
        without an exact fixed decoder.

    Examples
    --------
    >>> import agc
    >>> data = agc.data.load_digits()
    >>> result = train(agc.encodings.polynomial(8, 2, 2), data, failures="fixed", s=2, iters=30, seed=0)
    >>> result.loss[-1] < result.loss[0], max(result.error) < 1e-6, set(result.survivors)
    (True, True, {6})
    """
    scheme = as_scheme(scheme, decoder)
    data = load_dataset(dataset) if isinstance(dataset, str) else dataset
    if not isinstance(data, Dataset):
        raise TypeError(f"dataset must be an agc.data.Dataset or a name, got {type(data).__name__}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    iters = check_int("iters", iters, low=0)
    eval_every = check_int("eval_every", eval_every, low=1)
    seed = check_int("seed", seed, low=0)
    model_seed, split_seed, failure_seed = np.random.SeedSequence(seed).spawn(3)
    X, y = data.X_train.to(dtype), data.y_train
    X_test, y_test = data.X_test.to(dtype), data.y_test
    model = mlp(data.features, hidden=hidden, classes=data.classes, seed=int(model_seed.generate_state(1)[0]),
                dtype=dtype)
    opt = make_optimizer(optimizer, model.parameters(), lr)
    config = {
        "scheme": scheme.name, "code": repr(scheme.code) if scheme.code is not None else None,
        "dataset": data.name, "failures": failures, "p": p, "s": s, "decoder": scheme.decoder,
        "optimizer": optimizer, "lr": opt.defaults["lr"], "iters": iters, "hidden": hidden, "seed": seed,
        "dtype": str(dtype).removeprefix("torch."), "eval_every": eval_every,
    }
    if scheme.code is None:
        batch = failure_model = D_full = buffer = None
        if failures not in FAILURE_MODELS:
            raise ValueError(f"unknown failure model {failures!r}; valid: {', '.join(map(repr, FAILURE_MODELS))}")
    else:
        code = scheme.code
        if code.k > X.shape[0]:
            raise ValueError(f"code {code.name!r} has k={code.k} chunks but the training set only {X.shape[0]} samples")
        batch = ChunkedData(X, y, split_chunks(X.shape[0], code.k, seed=np.random.default_rng(split_seed)))
        failure_model = FailureModel(failures, code.n, p=p, s=s, code=code, seed=np.random.default_rng(failure_seed))
        config["stragglers"] = failure_model.stragglers
        D_full = exact_fixed_decoder(scheme) if scheme.decoder != "optimal" else None
        buffer = GradientBuffer(model)
    result = TrainResult(config)

    def evaluate(t):
        result.eval_iteration.append(t)
        result.test_accuracy.append(accuracy(model, X_test, y_test))

    steps = range(iters)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=scheme.name)
    for t in steps:
        if t % eval_every == 0:
            evaluate(t)
        start = time.perf_counter()
        if batch is None:
            loss = full_step(model, opt, X, y)
            error, survivors = 0.0, None
        else:
            G, loss = batch.gradients(model)
            step = coded_step(model, opt, G, scheme, failure_model, D_full=D_full, buffer=buffer)
            error, survivors = step.error, int(step.survivors.sum())
        result.seconds.append(time.perf_counter() - start)
        if batch is None:  # the exact gradient: .grad after full_step, step.exact after coded_step
            norm = sum(float(p.grad.square().sum()) for p in model.parameters())
        else:
            norm = float(step.exact.square().sum())
        result.loss.append(float(loss))
        result.error.append(error)
        result.survivors.append(survivors)
        result.gradient_norm.append(norm)
    with torch.no_grad():
        result.loss.append(float(F.cross_entropy(model(X), y)))
    evaluate(iters)
    return result


def save_results(results, path):
    """Write results as JSON, atomically (a temporary file in the same directory, then ``os.replace``).

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
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as directory:
    ...     result = TrainResult({"scheme": "full"}, loss=[1.0, math.nan])
    ...     file = save_results({"full": result}, Path(directory) / "r.json")
    ...     saved = json.loads(file.read_text())
    >>> saved["full"]["loss"]
    [1.0, None]
    """
    path = Path(path)

    def convert(value):
        if isinstance(value, TrainResult):
            return value.to_dict()
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [convert(item) for item in value]
        return value

    text = json.dumps(_json_ready(convert(results)), allow_nan=False)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp",
                                     delete=False) as handle:
        handle.write(text)
    try:
        os.replace(handle.name, path)
    except OSError:
        os.unlink(handle.name)
        raise
    return path
