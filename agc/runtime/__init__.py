r"""A real parameter-server runtime on ``torch.distributed`` (gloo): real stragglers, real bytes.

Rank 0 is the parameter server, ranks ``1..n`` the workers; every rank runs the same
:class:`agc.Code` (encode with :meth:`agc.Code.encode_worker`, decode with
:meth:`agc.Code.decode`) and the same gradient code (:class:`agc.training.ChunkedData`) as the
simulator, so that a run and a simulation with the same survivors give the same gradients.

* :class:`RunConfig` holds every option of a run (one definition for every entry point) and
  :func:`run` starts every rank on this machine and returns a :class:`RunResult`;
* ``agc run`` and ``python -m agc.runtime.launch`` do the same from the command line, and the
  latter runs under ``torchrun`` across machines (see :mod:`agc.runtime.launch`);
* :data:`DELAY_MODELS` lists the straggler models, charged per chunk of work, and
  :func:`expected_wait` their order statistics (:mod:`agc.runtime.delays`);
  :mod:`agc.runtime.predict` adds a link's bandwidth;
* ``bandwidth=`` runs over a shaped link between network namespaces (:mod:`agc.runtime.netns`);
* :func:`float32_error` measures what float32 messages cost a code (:mod:`agc.runtime.wire`);
* the protocol is described in :mod:`agc.runtime.protocol` and :mod:`agc.runtime.server`.

The launcher's names are imported on first use, so that ``python -m agc.runtime.launch``
does not find its own module already imported by this package.
"""

from agc.runtime.config import RunConfig, named_code
from agc.runtime.delays import DELAY_MODELS, Delay, expected_wait, parse_delay, parse_exits
from agc.runtime.results import RunResult
from agc.runtime.wire import float32_error

_LAUNCH = ("RunFailed", "run")

__all__ = ["DELAY_MODELS", "Delay", "RunConfig", "RunResult", "expected_wait", "float32_error", "named_code",
           "parse_delay", "parse_exits", *_LAUNCH]


def __getattr__(name):
    if name in _LAUNCH:
        from agc.runtime import launch

        return getattr(launch, name)
    raise AttributeError(f"module 'agc.runtime' has no attribute {name!r}")
