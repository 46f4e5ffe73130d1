"""Coded training in PyTorch: per-chunk gradients (:mod:`agc.training.gradients`), the samples of
each step (:mod:`agc.training.batches`: full batch or seeded mini-batches) and the simulated
training loop (:mod:`agc.training.loop`).

Needs the ``train`` extra (``pip install 'agc[train]'``: torch and scikit-learn). The schemes a
run uses (:func:`agc.schemes.coded`, :func:`agc.schemes.ignore_stragglers`,
:func:`agc.schemes.full_gradient`) live in :mod:`agc.schemes`, shared with the runtime, and the
failure models in :mod:`agc.failures`.
"""

from agc.training.batches import chunk_batch, mini_batches
from agc.training.gradients import ELEMENTWISE, ChunkedData, chunk_gradients
from agc.training.loop import (
    LEARNING_RATES,
    LR_SCHEDULES,
    MINI_BATCH_LEARNING_RATES,
    OPTIMIZERS,
    GradientBuffer,
    Step,
    TrainResult,
    accuracy,
    check_learning_rate,
    check_train_arguments,
    coded_step,
    default_lr,
    full_step,
    make_optimizer,
    mlp,
    relative_error,
    save_results,
    simulated_failures,
    step_size,
    train,
    write_gradient,
)

__all__ = [
    "ELEMENTWISE", "LEARNING_RATES", "LR_SCHEDULES", "MINI_BATCH_LEARNING_RATES", "OPTIMIZERS", "ChunkedData",
    "GradientBuffer", "Step", "TrainResult", "accuracy", "check_learning_rate", "check_train_arguments",
    "chunk_batch", "chunk_gradients", "coded_step", "default_lr", "full_step", "make_optimizer", "mini_batches",
    "mlp", "relative_error", "save_results", "simulated_failures", "step_size", "train", "write_gradient",
]
