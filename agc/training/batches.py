r"""The samples of each training iteration: the whole training set, or a fresh seeded mini-batch.

*Full batch*: the ``N`` training samples are split once into ``k`` chunks
(:func:`agc.data.split_chunks`) and every iteration's per-chunk gradients are taken on the same
chunks, so :math:`\sum_i g_i = \nabla L(\theta_t)` exactly; the only randomness of a coded step
is then the survivor set.

*Mini-batch*: every iteration draws ``b`` of the ``N`` samples uniformly without replacement
(:func:`mini_batches`) and cuts them into ``k`` chunks of near-equal size
(:func:`chunk_batch`); chunk ``i``'s gradient :math:`g_i = \frac1b \sum_{x \in \text{chunk } i}
\nabla_\theta \ell(x;\theta)` is what the workers holding chunk ``i`` compute, and
:math:`\sum_i g_i` is the mini-batch gradient, an unbiased estimate of :math:`\nabla L(\theta_t)`.
The coded step adds the decoding error of the survivor set on top of this sampling noise.

:func:`agc.training.train` draws the mini-batches from a child of the failure stream of
:func:`agc.seeds.streams`, which no other draw uses: every scheme trained with one ``seed``
sees the same sequence of mini-batches (whatever its number of workers), and the run is
reproducible from the seed.
"""

from __future__ import annotations

import numpy as np

from agc._checks import as_generator, check_int
from agc.training.gradients import ChunkedData

__all__ = ["chunk_batch", "mini_batches"]


def mini_batches(n_samples, batch_size, seed=None):
    """An endless stream of seeded mini-batches: ``batch_size`` distinct sample indices each, in random order.

    Parameters
    ----------
    n_samples : int
        Training samples ``N`` to draw from.
    batch_size : int
        Samples per mini-batch, ``1 <= batch_size <= n_samples``.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    iterator of numpy.ndarray of int64, shape (batch_size,)
        Each ``next`` gives indices into the training set, drawn uniformly without replacement,
        independently from one mini-batch to the next.

    Raises
    ------
    ValueError
        If ``batch_size`` lies outside ``[1, n_samples]`` (raised when the stream is created).

    Examples
    --------
    >>> stream = mini_batches(10, 4, seed=0)
    >>> first, second = next(stream), next(stream)
    >>> len(set(first.tolist())), first.tolist() == next(mini_batches(10, 4, seed=0)).tolist()
    (4, True)
    """
    n_samples = check_int("n_samples", n_samples, low=1)
    batch_size = check_int("batch_size", batch_size, low=1, high=n_samples)
    rng = as_generator(seed)

    def stream():
        while True:
            yield rng.choice(n_samples, batch_size, replace=False).astype(np.int64)

    return stream()


def chunk_batch(X, y, indices, k):
    """The samples ``indices`` cut into ``k`` chunks of near-equal size, laid out for per-chunk gradients.

    Chunk ``i`` is the ``i``-th of ``numpy.array_split(indices, k)`` (sizes differ by at most
    one); since a mini-batch comes in random order (:func:`mini_batches`), so do its chunks.
    The chunk gradients are normalised by the batch size (:class:`ChunkedData`), so they add
    up to the gradient of the batch's mean loss.

    Parameters
    ----------
    X : torch.Tensor, shape (samples, features)
    y : torch.Tensor, shape (samples,)
    indices : array_like of int
        At least ``k`` sample indices.
    k : int
        Chunks.

    Returns
    -------
    ChunkedData

    Raises
    ------
    ValueError
        If there are fewer indices than chunks.

    Examples
    --------
    >>> import torch
    >>> batch = chunk_batch(torch.zeros(10, 2), torch.zeros(10, dtype=torch.int64), [7, 2, 5, 0, 9], 2)
    >>> batch.k, batch.samples, batch.size
    (2, 5, 3)
    """
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    k = check_int("k", k, low=1)
    if indices.size < k:
        raise ValueError(f"a batch of {indices.size} samples cannot fill k={k} chunks; batch_size must be >= {k}")
    return ChunkedData(X, y, np.array_split(indices, k))
