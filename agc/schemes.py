r"""What the parameter server does with the messages: the schemes the simulator and the runtime share.

A :class:`Scheme` pairs a code with a decoder (or is the uncoded reference ``"full"``). The
simulated training (:mod:`agc.training`) and the distributed runtime (:mod:`agc.runtime`) both
take a scheme and ask :func:`decoder_matrix` for the ``ℓ × |S|`` decoder of each survivor set,
so the two cannot drift apart.

Decoders (:data:`DECODERS`):

* ``"optimal"``: the minimum-norm least-squares decoder :func:`agc.optimal_decoder`
  (:math:`D = T B_S^{+}`, error :math:`\mathrm{err}^*(S)`; biased in general);
* ``"unbiased"``: :func:`agc.unbiased_decoder`, :math:`D_{\mathrm{full}}[:, S] / (1 - p)`, unbiased
  under Bernoulli(``p``) failures for a code with :math:`D_{\mathrm{full}} B = T`;
* ``"rescaled"``: :math:`D_{\mathrm{full}}[:, S] \cdot n / |S|` (ignore stragglers and rescale).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agc._checks import check_int, survivor_mask
from agc.code import Code
from agc.decoding import fixed_decoder, optimal_decoder, unbiased_decoder

__all__ = ["DECODERS", "Scheme", "as_scheme", "coded", "decoder_matrix", "exact_fixed_decoder", "full_gradient",
           "ignore_stragglers"]

#: Decoders a coded scheme can use.
DECODERS = ("optimal", "unbiased", "rescaled")


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

    Returns
    -------
    Scheme

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

    Parameters
    ----------
    n : int
        Workers (and chunks).

    Returns
    -------
    Scheme

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

    Parameters
    ----------
    code : agc.Code
    decoder : {"optimal", "unbiased", "rescaled"}

    Returns
    -------
    Scheme

    Raises
    ------
    TypeError
        If ``code`` is not an :class:`agc.Code`.

    Examples
    --------
    >>> import agc
    >>> coded(agc.encodings.polynomial(agc.assignments.cyclic(5, 5, 3), 2)).decoder
    'optimal'
    """
    if not isinstance(code, Code):
        raise TypeError(f"code must be an agc.Code, got {type(code).__name__}")
    return Scheme(code.name, code, decoder)


def as_scheme(scheme, decoder=None):
    """Turn a :class:`Scheme`, an :class:`agc.Code` or ``"full"`` into a :class:`Scheme`.

    ``decoder``, when given, replaces the scheme's decoder (default ``"optimal"`` for a bare code).

    Parameters
    ----------
    scheme : Scheme, agc.Code or "full"
    decoder : str, optional
        One of :data:`DECODERS`.

    Returns
    -------
    Scheme

    Raises
    ------
    ValueError
        For an unknown scheme name or a decoder given to ``"full"``.
    TypeError
        For any other type.

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
            raise ValueError("scheme 'ignore' needs the number of workers: pass agc.schemes.ignore_stragglers(n)")
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


def decoder_matrix(scheme, survivors, p=0.0, D_full=None):
    r"""The ``ell × |S|`` decoder the scheme uses for ``survivors``.

    ``"optimal"``: :func:`agc.optimal_decoder`; ``"unbiased"``: :func:`agc.unbiased_decoder`
    with failure probability ``p``; ``"rescaled"``: :math:`D_{\mathrm{full}}[:, S] \cdot n / |S|`.

    Parameters
    ----------
    scheme : Scheme
        A coded scheme.
    survivors : array_like
        Index array or boolean mask of length ``n``.
    p : float or array_like of shape (n,)
        The failure probability the unbiased decoder rescales by, common or one per worker.
    D_full : numpy.ndarray, optional
        A precomputed fixed decoder (saves a least-squares solve per call).

    Returns
    -------
    numpy.ndarray, shape (ell, |S|)

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
        return unbiased_decoder(code, mask, p, D_full=D_full)
    size = int(mask.sum())
    return D_full[:, mask] * (code.n / size) if size else D_full[:, mask]


def exact_fixed_decoder(scheme):
    """:func:`agc.fixed_decoder` of the scheme's code, with an error naming the decoder and the code.

    Parameters
    ----------
    scheme : Scheme

    Returns
    -------
    numpy.ndarray, shape (ell, n)

    Raises
    ------
    ValueError
        If the code has no exact fixed decoder.
    """
    try:
        return fixed_decoder(scheme.code)
    except ValueError as error:
        raise ValueError(f"decoder={scheme.decoder!r} needs an exact fixed decoder (D B = T) and code "
                         f"{scheme.code.name!r} has none: {error}") from None
