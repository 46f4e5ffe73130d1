r"""A real parameter-server runtime on ``torch.distributed`` (gloo): real stragglers, real bytes.

Rank 0 is the parameter server, ranks ``1..n`` the workers; every rank runs the same
:class:`agc.Code` (encode with :meth:`agc.Code.encode_worker`, decode with
:meth:`agc.Code.decode`) and the same gradient code (:class:`agc.training.ChunkedData`) as the
simulator, so that a run and a simulation with the same survivors give the same gradients.

* :func:`run` starts every rank on this machine and returns the results;
  :func:`run_named` does the same from names and numbers (the ``agc run`` command);
* ``python -m agc.runtime.launch`` runs under ``torchrun`` across machines (see
  :mod:`agc.runtime.launch`);
* :data:`DELAY_MODELS` lists the straggler models (:mod:`agc.runtime.delays`);
* the protocol is described in :mod:`agc.runtime.protocol` and :mod:`agc.runtime.server`.

The launcher's names are imported on first use, so that ``python -m agc.runtime.launch``
does not find its own module already imported by this package.
"""

from agc.runtime.delays import DELAY_MODELS, Delay, expected_wait, parse_delay, parse_exits

_LAUNCH = ("make_config", "named_code", "run", "run_named", "summary")

__all__ = ["DELAY_MODELS", "Delay", "expected_wait", "parse_delay", "parse_exits", *_LAUNCH]


def __getattr__(name):
    if name in _LAUNCH:
        from agc.runtime import launch

        return getattr(launch, name)
    raise AttributeError(f"module 'agc.runtime' has no attribute {name!r}")
