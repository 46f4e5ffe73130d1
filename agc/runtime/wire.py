r"""float32 on the wire, float64 in the decoder: how much precision a code loses to its messages.

A worker of the runtime computes its chunks' gradients in float32 (the model's precision),
encodes them in float64 and rounds the message :math:`f_j` to float32 for the wire; the PS
decodes in float64. The only error that the wire adds is therefore the rounding of each message,
:math:`\tilde f_j = f_j (1 + \varepsilon_j)` entrywise with :math:`|\varepsilon| \le u = 2^{-24}`,
and the decoder passes it on:

.. math:: \hat g - \hat g_{64} = D\,(\tilde F_S - F_S), \qquad
          \frac{\lVert D(\tilde F_S - F_S)\rVert}{\lVert T G\rVert}
          \;\le\; u\,\frac{\lVert D\rVert_2\,\lVert F_S\rVert_F}{\lVert TG \rVert_F}.

A code whose decoder has large entries and whose messages have large entries (the Ye–Abbe
polynomial code, whose coefficients grow fast with ``n``) cancels almost all of the message to
recover the gradient, and loses as many digits. :func:`float32_error` measures this relative
error on random chunk gradients, exactly along the runtime's path (float32 gradients, float64
encoding, float32 message, float64 decoding), against a float64 decoding of the same float32
gradients, so that an approximate code's own approximation error is not counted.
:data:`FLOAT32_WARN` and :data:`FLOAT32_LIMIT` are the thresholds the runtime applies
(:class:`agc.runtime.RunConfig`): a warning above the first, a refusal above the second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agc._checks import as_generator, check_int
from agc.code import Code, split_blocks
from agc.decoding import optimal_decoder

#: Relative gradient error from float32 messages above which the runtime warns (1e-4: a hundred
#: times float32's own resolution of a gradient's entries, far below SGD's noise).
FLOAT32_WARN = 1e-4
#: Relative gradient error above which the runtime refuses the code (1 %: the decoded gradient
#: would be wrong in its second digit because of the wire's precision alone).
FLOAT32_LIMIT = 1e-2


@dataclass(frozen=True)
class WireError:
    r"""What :func:`float32_error` measured.

    Attributes
    ----------
    mean, max : float
        Mean and largest relative error :math:`\lVert D(\tilde F_S - F_S)\rVert / \lVert TG\rVert`
        over the survivor sets tried.
    bound : float
        Largest first-order bound :math:`u \lVert D\rVert_2 \lVert F_S\rVert_F / \lVert TG\rVert_F`.
    trials : int
        Survivor sets tried (the full set, the adjacent and the random sets of size ``n - s``).
    """

    mean: float
    max: float
    bound: float
    trials: int

    def to_dict(self):
        """JSON-ready.

        Returns
        -------
        dict
        """
        return {"mean": self.mean, "max": self.max, "bound": self.bound, "trials": self.trials}


def float32_error(code, s=0, *, decoder=None, trials=20, width=64, seed=0):
    r"""Relative error of the decoded gradient caused by float32 messages (module notes).

    Chunk gradients :math:`G` are i.i.d. standard normal, rounded to float32; for each survivor
    set :math:`S` (all ``n`` workers; with ``s > 0`` the ``n`` sets that lose ``s`` cyclically
    adjacent workers, the hard case of interpolation codes, whose survivors leave the widest gap
    between nodes; then ``trials`` uniformly random sets of ``n − s``),
    the messages are encoded in float64, rounded to float32 and decoded in float64 with the
    decoder of :math:`S`; the error is measured against the float64 decoding of the float64
    messages, relative to :math:`\lVert T G\rVert`.

    Parameters
    ----------
    code : agc.Code
    s : int
        Stragglers, ``0 <= s < n``.
    decoder : callable, optional
        ``decoder(mask) -> ℓ × |S|`` matrix; default :func:`agc.optimal_decoder`.
    trials : int
        Random survivor sets, at least 0.
    width : int
        Columns of each chunk gradient (the error is per entry, so a few dozen suffice).
    seed : int or numpy.random.Generator

    Returns
    -------
    WireError

    Raises
    ------
    TypeError
        If ``code`` is not an :class:`agc.Code`.
    ValueError
        For ``s``, ``trials`` or ``width`` out of range.

    Examples
    --------
    >>> import agc
    >>> small = agc.encodings.polynomial(agc.assignments.cyclic(8, 8, 4), 2)
    >>> float32_error(small, s=2).max < FLOAT32_WARN
    True
    """
    if not isinstance(code, Code):
        raise TypeError(f"code must be an agc.Code, got {type(code).__name__}")
    s = check_int("s", s, low=0, high=code.n - 1)
    trials = check_int("trials", trials, low=0)
    width = check_int("width", width, low=1)
    rng = as_generator(seed)
    decoder = decoder or (lambda mask: optimal_decoder(code, mask))
    G = rng.standard_normal((code.k, width)).astype(np.float32).astype(np.float64)
    blocks = split_blocks(G, code.ell)
    exact = code.target @ blocks
    norm = np.linalg.norm(exact)
    F = code.B @ blocks
    rounded = F.astype(np.float32).astype(np.float64)
    masks = [np.ones(code.n, dtype=bool)]
    if s:
        for start in range(code.n):
            masks.append(np.ones(code.n, dtype=bool))
            masks[-1][(start + np.arange(s)) % code.n] = False
        for _ in range(trials):
            masks.append(np.ones(code.n, dtype=bool))
            masks[-1][rng.choice(code.n, size=s, replace=False)] = False
    errors, bounds = [], []
    for mask in masks:
        D = np.asarray(decoder(mask), dtype=np.float64)
        errors.append(np.linalg.norm(D @ (rounded[mask] - F[mask])) / norm)
        bounds.append(2.0**-24 * np.linalg.norm(D, 2) * np.linalg.norm(F[mask]) / norm)
    return WireError(float(np.mean(errors)), float(np.max(errors)), float(np.max(bounds)), len(masks))
