r"""The :class:`Code`: an encoding matrix on an assignment, and the encode/decode of messages.

Orientation (book: *Notation and model*): rows are workers. ``B`` has shape ``(n, k * ell)`` and column
``u * k + i`` holds the coefficient of block ``u`` of chunk ``i`` (block-major). The paper
writes the transpose, ``kℓ × n``.

Worker ``j`` sends :math:`f_j = \sum_{i,u} B_{j,uk+i}\, g_i^{(u)}`, a vector of length
:math:`\lceil d/\ell \rceil`; a decoder :math:`D \in \mathbb{R}^{\ell \times |S|}` turns the
survivors' messages into the ``ell`` block sums, concatenated into the length-``d`` estimate.
Every part of the project (error engine, simulated training, distributed runtime) encodes and
decodes through :meth:`Code.encode` and :meth:`Code.decode`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from agc._checks import check_binary_matrix, check_int, check_matrix, survivor_mask

#: Residual :math:`\lVert D B - T \rVert_F / \sqrt{k\ell}` under which ``D B = T`` counts as exact
#: (float64 round-off of the constructions is about ``1e-15``; conditioning can cost a few digits).
EXACT_TOL = 1e-9


#: Largest number of entries of ``B`` an encoding builds (2 GiB of float64): beyond it the
#: encodings refuse with the size instead of running out of memory.
MAX_B_ENTRIES = 2**28


def check_size(n, k, ell):
    """Refuse, before allocating, an encoding matrix ``B`` of ``n × kℓ`` entries beyond :data:`MAX_B_ENTRIES`.

    Parameters
    ----------
    n, k : int
        Workers and chunks.
    ell : int
        Communication reduction, ``ell >= 1``.

    Returns
    -------
    int
        ``ell``, checked.

    Raises
    ------
    ValueError
        If ``ell < 1`` or ``B`` would be too large (the message gives its size).

    Examples
    --------
    >>> check_size(91, 91, 10**9)
    Traceback (most recent call last):
    ...
    ValueError: ell=1000000000: B would be 91 × 91000000000 (8.28e+12 entries, 6.62e+04 GB of float64), more than ...
    """
    ell = check_int("ell", ell, low=1)
    entries = n * k * ell
    if entries > MAX_B_ENTRIES:
        raise ValueError(f"ell={ell}: B would be {n} × {k * ell} ({entries:.3g} entries, {entries * 8 / 1e9:.3g} GB "
                         f"of float64), more than MAX_B_ENTRIES={MAX_B_ENTRIES}")
    return ell


def block_length(d, ell):
    r"""Length :math:`\lceil d/\ell \rceil` of one block (and of one worker's message).

    Parameters
    ----------
    d : int
        Gradient length, ``d >= 1``.
    ell : int
        Blocks, ``ell >= 1``.

    Returns
    -------
    int
    """
    d = check_int("d", d, low=1)
    ell = check_int("ell", ell, low=1)
    return -(-d // ell)


def split_blocks(G, ell):
    r"""Stack per-chunk gradients ``G`` (``k × d``) into the ``kℓ × ⌈d/ℓ⌉`` block matrix.

    Row ``u * k + i`` is block ``u`` of chunk ``i``; ``d`` is zero-padded to ``ell·⌈d/ℓ⌉``.
    Works on NumPy arrays and torch tensors alike.

    Parameters
    ----------
    G : numpy.ndarray or torch.Tensor, shape (k, d)
        Row ``i`` is the gradient on chunk ``i``.
    ell : int

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (k * ell, ⌈d/ℓ⌉)

    Examples
    --------
    >>> split_blocks(np.arange(6.0).reshape(2, 3), 2)
    array([[0., 1.],
           [3., 4.],
           [2., 0.],
           [5., 0.]])
    """
    k, d = G.shape
    m = block_length(d, ell)
    pad = m * ell - d
    if pad:
        if _is_torch(G):
            import torch

            G = torch.nn.functional.pad(G, (0, pad))
        else:
            G = np.pad(G, ((0, 0), (0, pad)))
    # (k, ell, m) -> (ell, k, m) -> (ell*k, m): block-major rows
    return G.reshape(k, ell, m).swapaxes(0, 1).reshape(ell * k, m)


def _is_torch(x):
    return type(x).__module__.startswith("torch")


def _like(matrix, x):
    """``matrix`` (NumPy) converted to the array type, dtype and device of ``x``."""
    if _is_torch(x):
        import torch

        return torch.tensor(np.asarray(matrix), dtype=x.dtype, device=x.device)
    return np.asarray(matrix, dtype=np.result_type(x.dtype, np.float32))


@dataclass(frozen=True, eq=False)
class Code:
    r"""A communication-efficient gradient code.

    Parameters
    ----------
    B : array_like, shape (n, k * ell)
        Encoding matrix, rows = workers, columns block-major (``u * k + i``). Converted to float64.
    assignment : array_like, shape (n, k)
        0/1 matrix; ``assignment[j, i] = 1`` iff worker ``j`` holds chunk ``i``.
    ell : int
        Communication reduction: each worker sends ``⌈d/ℓ⌉`` numbers.
    name : str, optional
        Human-readable label (family and encoding).
    params : dict, optional
        How the code was made (for records and plots).
    vectors : array_like, shape (ell, n), optional
        Per-worker weights of a code whose blocks scale the assignment row by row,
        :math:`B^{(u)} = \operatorname{diag}(v_u) A \operatorname{diag}(c_u)`: the random signs
        :math:`r_u` of :func:`agc.encodings.rdm` (``c_u = 1``) or the vectors :math:`v_u` of
        :func:`agc.encodings.rhpnc` (which are its fixed decoder, :math:`V B = T`). Read-only;
        ``None`` for other codes.

    Raises
    ------
    ValueError
        If shapes disagree, ``B`` is not finite, or ``B`` has a non-zero entry for a chunk that
        the worker does not hold.

    Examples
    --------
    >>> A = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]])
    >>> code = Code(np.hstack([A, A]), A, ell=2, name="stacking")
    >>> (code.n, code.k, code.ell)
    (3, 3, 2)
    """

    B: np.ndarray
    assignment: np.ndarray
    ell: int
    name: str = "code"
    params: dict = field(default_factory=dict)
    vectors: np.ndarray | None = None

    def __post_init__(self):
        ell = check_int("ell", self.ell, low=1)
        A = check_binary_matrix("assignment", self.assignment)
        n, k = A.shape
        if n == 0 or k == 0:
            raise ValueError(f"assignment must have at least one worker and one chunk, got shape {A.shape}")
        B = check_matrix("B", self.B, shape=(n, k * ell))
        support = np.tile(A, (1, ell)).astype(bool)
        if np.any(B[~support] != 0):
            j, c = np.argwhere((B != 0) & ~support)[0]
            raise ValueError(
                f"B has a non-zero entry at worker {j}, column {c} (block {c // k}, chunk {c % k}) "
                f"but the assignment does not give chunk {c % k} to worker {j}"
            )
        if self.vectors is not None:
            vectors = check_matrix("vectors", self.vectors, shape=(ell, n)).copy()
            vectors.setflags(write=False)
            object.__setattr__(self, "vectors", vectors)
        B.setflags(write=False)
        A.setflags(write=False)
        object.__setattr__(self, "B", B)
        object.__setattr__(self, "assignment", A)
        object.__setattr__(self, "ell", ell)
        object.__setattr__(self, "params", dict(self.params))

    @property
    def n(self):
        """Number of workers."""
        return self.assignment.shape[0]

    @property
    def k(self):
        """Number of data chunks."""
        return self.assignment.shape[1]

    @cached_property
    def target(self):
        r"""The ``ℓ × kℓ`` target :math:`T = I_\ell \otimes 1_k^\top` (row ``u`` sums block ``u``; read-only)."""
        target = np.kron(np.eye(self.ell), np.ones((1, self.k)))
        target.setflags(write=False)
        return target

    @property
    def load(self):
        """Chunks per worker (row sums of the assignment), an array of length ``n``."""
        return self.assignment.sum(axis=1)

    @property
    def replication(self):
        """Workers per chunk (column sums of the assignment), an array of length ``k``."""
        return self.assignment.sum(axis=0)

    def __repr__(self):
        return f"Code(name={self.name!r}, n={self.n}, k={self.k}, ell={self.ell})"

    def _check_gradients(self, G):
        if not (isinstance(G, np.ndarray) or _is_torch(G)):
            raise TypeError(f"G must be a numpy array or a torch tensor of shape (k={self.k}, d), got {type(G).__name__}")
        if G.ndim != 2 or G.shape[0] != self.k:
            raise ValueError(f"G must have shape (k={self.k}, d), got {tuple(G.shape)}")

    def _check_decoder(self, decoder, mask):
        D = np.asarray(decoder, dtype=np.float64)
        size = int(mask.sum())
        if D.shape != (self.ell, size):
            raise ValueError(f"decoder must have shape (ell={self.ell}, |S|={size}), got {D.shape}")
        return D

    def encode(self, G):
        r"""Worker messages ``F = B · blocks(G)`` for per-chunk gradients ``G`` (``k × d``).

        Parameters
        ----------
        G : numpy.ndarray or torch.Tensor, shape (k, d)
            Row ``i`` is the gradient on chunk ``i``.

        Returns
        -------
        messages : same type as ``G``, shape (n, ⌈d/ℓ⌉)
            Row ``j`` is what worker ``j`` sends.
        """
        self._check_gradients(G)
        return _like(self.B, G) @ split_blocks(G, self.ell)

    def encode_worker(self, worker, G_local):
        """Message of one worker from the gradients of its own chunks only.

        ``G_local`` has one row per chunk the worker holds, in increasing chunk order.
        """
        worker = check_int("worker", worker, low=0, high=self.n - 1)
        chunks = np.flatnonzero(self.assignment[worker])
        if G_local.shape[0] != chunks.size:
            raise ValueError(
                f"G_local must have one row per chunk of worker {worker} ({chunks.size}), got {G_local.shape[0]}"
            )
        columns = (np.arange(self.ell)[:, None] * self.k + chunks[None, :]).ravel()
        row = self.B[worker, columns][None, :]
        return (_like(row, G_local) @ split_blocks(G_local, self.ell))[0]

    def decode(self, messages, survivors, decoder, d=None):
        r"""Estimate the full gradient from the survivors' messages.

        Parameters
        ----------
        messages : numpy.ndarray or torch.Tensor
            Either all ``n`` messages (rows of non-survivors are ignored) or only the
            survivors' messages, in increasing worker order; shape ``(·, ⌈d/ℓ⌉)``.
        survivors : array_like
            Index array or boolean mask of length ``n``.
        decoder : array_like, shape (ell, |S|)
            Decoding matrix, e.g. :func:`agc.optimal_decoder`.
        d : int, optional
            Gradient length; the zero padding beyond ``d`` is dropped.

        Returns
        -------
        estimate : same type as ``messages``, shape (d,)
            Concatenation of the ``ell`` estimated block sums.
        """
        mask = survivor_mask(survivors, self.n)
        size = int(mask.sum())
        D = self._check_decoder(decoder, mask)
        if messages.shape[0] == self.n and size != self.n:
            messages = messages[mask.tolist()] if _is_torch(messages) else messages[mask]
        if messages.shape[0] != size:
            raise ValueError(f"messages must have n={self.n} or |S|={size} rows, got {messages.shape[0]}")
        estimate = (_like(D, messages) @ messages).reshape(-1)
        if d is not None:
            d = check_int("d", d, low=1, high=estimate.shape[0])
            if block_length(d, self.ell) != messages.shape[1]:
                raise ValueError(f"d={d} does not match message length {messages.shape[1]} with ell={self.ell}")
            estimate = estimate[:d]
        return estimate

    def estimate(self, G, survivors, decoder, out=None):
        r"""The decoded gradient for per-chunk gradients ``G``, computed without the messages.

        Equal to ``decode(encode(G), survivors, decoder, d)`` (the PS's estimate), but computed as
        :math:`(D B_S)\,G_{\mathrm{blocks}}`: an ``ℓ × kℓ`` product first, instead of all ``n``
        messages. This is the simulator's fast path; the runtime, which has real messages, uses
        :meth:`decode`.

        Parameters
        ----------
        G : numpy.ndarray or torch.Tensor, shape (k, d)
        survivors : array_like
            Index array or boolean mask of length ``n``.
        decoder : array_like, shape (ell, |S|)
        out : torch.Tensor, optional
            A contiguous length-``d`` tensor of ``G``'s dtype to write the estimate into (torch
            ``G`` with ``ell`` dividing ``d`` only), e.g. a buffer whose slices are the
            parameters' ``.grad``.

        Returns
        -------
        estimate : same type as ``G``, shape (d,)
            ``out`` when given.

        Raises
        ------
        ValueError
            If ``out`` is given where it cannot be used, or has the wrong shape or dtype.
        """
        self._check_gradients(G)
        mask = survivor_mask(survivors, self.n)
        D = self._check_decoder(decoder, mask)
        combined = _like(D @ self.B[mask], G)  # (ell, k*ell)
        k, d = G.shape
        m = block_length(d, self.ell)
        if out is not None:
            if not _is_torch(G) or m * self.ell != d:
                raise ValueError("out needs torch gradients G whose length d is a multiple of ell")
            if out.shape != (d,) or out.dtype != G.dtype or not out.is_contiguous():
                raise ValueError(f"out must be a contiguous tensor of shape ({d},) and dtype {G.dtype}, "
                                 f"got shape {tuple(out.shape)} and dtype {out.dtype}")
        if m * self.ell != d:  # zero padding needs the copy that split_blocks makes
            return (combined @ split_blocks(G, self.ell)).reshape(-1)[:d]
        # block w of every chunk is the column slice w*m:(w+1)*m of G: no copy of G is needed
        if not _is_torch(G):
            return sum(combined[:, w * k:(w + 1) * k] @ G[:, w * m:(w + 1) * m] for w in range(self.ell)).reshape(-1)
        import torch

        blocks = torch.mm(combined[:, :k], G[:, :m], out=None if out is None else out.view(self.ell, m))
        for w in range(1, self.ell):
            blocks.addmm_(combined[:, w * k:(w + 1) * k], G[:, w * m:(w + 1) * m])
        return blocks.view(-1)


def as_code(code, name="code"):
    """Return ``code`` if it is an :class:`Code`; otherwise raise a ``TypeError`` naming ``name``.

    Parameters
    ----------
    code : object
    name : str
        The parameter named in the error.

    Returns
    -------
    Code

    Raises
    ------
    TypeError
        If ``code`` is not a :class:`Code`.

    Examples
    --------
    >>> as_code("rdm")
    Traceback (most recent call last):
    ...
    TypeError: code must be an agc.Code, got 'rdm' (str)
    """
    if not isinstance(code, Code):
        raise TypeError(f"{name} must be an agc.Code, got {code!r} ({type(code).__name__})")
    return code
