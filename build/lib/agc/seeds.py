"""The seed-stream convention: one integer seed, independent streams for each random part of a run.

A training run (:func:`agc.training.train`) and a runtime run (:func:`agc.runtime.run`) with the
same ``seed`` must initialise the same model, split the data into the same chunks and (for the
simulator) draw the same failures; the runtime's delays get a stream of their own. Both take
their streams from :func:`streams`, so the convention is written down once.

Examples
--------
>>> a, b = streams(0), streams(0)
>>> a.model_seed == b.model_seed, int(a.split().integers(100)) == int(b.split().integers(100))
(True, True)
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from agc._checks import check_int

__all__ = ["Streams", "seed_record", "streams"]


class Streams(NamedTuple):
    """Independent child streams of ``numpy.random.SeedSequence(seed)`` (children 0, 1, 2, 3).

    Attributes
    ----------
    model : numpy.random.SeedSequence
        Initialisation of the network (:func:`agc.training.mlp` takes :attr:`model_seed`).
    split_sequence : numpy.random.SeedSequence
        The split of the training set into chunks.
    failures_sequence : numpy.random.SeedSequence
        The simulator's failure model (survivor sets, adversarial search, mini-batches).
    delays_sequence : numpy.random.SeedSequence
        The runtime's delay draws (:attr:`delay_seed`).
    """

    model: np.random.SeedSequence
    split_sequence: np.random.SeedSequence
    failures_sequence: np.random.SeedSequence
    delays_sequence: np.random.SeedSequence

    @property
    def model_seed(self):
        """An ``int`` seed for the model's initialisation."""
        return int(self.model.generate_state(1)[0])

    @property
    def delay_seed(self):
        """An ``int`` seed for the runtime's delays."""
        return int(self.delays_sequence.generate_state(1)[0])

    def split(self):
        """A fresh generator for the chunk split."""
        return np.random.default_rng(self.split_sequence)

    def failures(self):
        """A fresh generator for the failure model."""
        return np.random.default_rng(self.failures_sequence)


def streams(seed):
    """The four streams of a run seeded with ``seed`` (a non-negative ``int``).

    Parameters
    ----------
    seed : int

    Returns
    -------
    Streams

    Raises
    ------
    ValueError
        If ``seed`` is negative.
    """
    seed = check_int("seed", seed, low=0)
    return Streams(*np.random.SeedSequence(seed).spawn(4))


def seed_record(seed):
    """The seed to record with a result: the ``int`` itself, else ``None`` (a Generator is not reproducible by value).

    Parameters
    ----------
    seed : int, numpy.random.Generator or None

    Returns
    -------
    int or None

    Examples
    --------
    >>> seed_record(3), seed_record(np.random.default_rng(3))
    (3, None)
    """
    return int(seed) if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) else None
