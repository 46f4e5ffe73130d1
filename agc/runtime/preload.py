"""Imported once by the forkserver of :func:`agc.runtime.run`, so that forked ranks start warm.

Building the MLP (``to_empty`` from the meta device imports ``sympy`` through
``torch.fx``), creating the optimiser (``torch._dynamo``) and loading the digits (scikit-learn)
import large modules lazily, several seconds each on a loaded machine. Importing this module
pays those costs in the forkserver, whose forked children share the loaded modules; it changes
no state the runs depend on (no global random state is used).
"""

import sklearn.datasets
import sklearn.model_selection  # noqa: F401
import torch

import agc.runtime.launch  # noqa: F401  (the ranks' entry point)
from agc.training import chunk_gradients, make_optimizer, mlp

_model = mlp(2, hidden=2, classes=2, seed=0)
make_optimizer("sgd", _model.parameters())
chunk_gradients(_model, torch.zeros(2, 2), torch.tensor([0, 1]), [[0], [1]])
del _model
