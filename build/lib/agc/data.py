r"""Datasets for the training experiments, and the seeded split of samples into chunks.

Two datasets, both returned as a :class:`Dataset` of torch tensors (features ``float32``,
labels ``int64``):

* ``"digits"``: scikit-learn's bundled 8×8 handwritten digits (1797 samples, 64 features, no
  download), split and standardised per feature with the training statistics.
* ``"mnist"``: the 28×28 MNIST digits (784 features) read from local files, either the four
  standard IDX files (gzipped or not) or one ``mnist.npz``. Nothing is ever downloaded.

The training data are then cut into ``k`` chunks by :func:`split_chunks` (DESIGN §2.1:
``g_i`` is the gradient on chunk ``i``).
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agc._checks import as_generator, check_int

#: The IDX files of MNIST, by role.
MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
#: Environment variable naming the MNIST directory when ``path`` is not given.
MNIST_ENV = "AGC_MNIST_DIR"
#: Element types of the IDX format: type code -> big-endian NumPy dtype.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_HOW_TO_GET_MNIST = (
    "download the four files from a mirror of http://yann.lecun.com/exdb/mnist/ (for example "
    "https://ossci-datasets.s3.amazonaws.com/mnist/) or save keras' mnist.npz, put them in one "
    f"directory and pass it as path= or set {MNIST_ENV}"
)


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification dataset as torch tensors.

    Attributes
    ----------
    X_train, X_test : torch.Tensor
        Features, ``float32``, shape ``(samples, features)``.
    y_train, y_test : torch.Tensor
        Labels, ``int64``, values in ``0 .. classes - 1``.
    name : str
    """

    X_train: object
    y_train: object
    X_test: object
    y_test: object
    name: str

    @property
    def features(self):
        """Number of input features (64 for digits, 784 for MNIST)."""
        return int(self.X_train.shape[1])

    @property
    def classes(self):
        """Number of classes (one more than the largest label)."""
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    def __repr__(self):
        return (f"Dataset(name={self.name!r}, train={tuple(self.X_train.shape)}, "
                f"test={tuple(self.X_test.shape)}, classes={self.classes})")


def _as_dataset(X_train, y_train, X_test, y_test, name):
    import torch

    return Dataset(
        torch.as_tensor(np.ascontiguousarray(X_train), dtype=torch.float32),
        torch.as_tensor(np.ascontiguousarray(y_train), dtype=torch.int64),
        torch.as_tensor(np.ascontiguousarray(X_test), dtype=torch.float32),
        torch.as_tensor(np.ascontiguousarray(y_test), dtype=torch.int64),
        name,
    )


def load_digits(test_size=0.25, seed=0):
    r"""scikit-learn's 8×8 digits, split (stratified, seeded) and standardised per feature.

    Each feature is centred and scaled with the *training* mean and standard deviation
    (features that are constant on the training set are only centred), so no test statistic
    leaks into training.

    Parameters
    ----------
    test_size : float or int
        Fraction (in ``(0, 1)``) or number of samples held out for testing.
    seed : int or numpy.random.Generator
        Seed of the stratified split.

    Returns
    -------
    Dataset
        ``name = "digits"``, 64 features, 10 classes; 1347 training and 450 test samples with
        the default ``test_size``.

    Examples
    --------
    >>> data = load_digits()
    >>> data
    Dataset(name='digits', train=(1347, 64), test=(450, 64), classes=10)
    >>> round(float(data.X_train.mean()), 6), data.X_train.dtype, data.y_train.dtype
    (0.0, torch.float32, torch.int64)
    """
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    bunch = sklearn_digits()
    state = int(seed.integers(2**31)) if isinstance(seed, np.random.Generator) else check_int("seed", seed, low=0)
    X_train, X_test, y_train, y_test = train_test_split(
        bunch.data, bunch.target, test_size=test_size, stratify=bunch.target, random_state=state
    )
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std[std == 0] = 1.0
    return _as_dataset((X_train - mean) / std, y_train, (X_test - mean) / std, y_test, "digits")


def read_idx(path):
    """Read one IDX file (the format of the MNIST files), gzipped or not.

    The header is two zero bytes, a type code (``0x08`` unsigned byte, ``0x09`` signed byte,
    ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64), the number of
    dimensions, then each dimension as a big-endian ``uint32``; the data follow, big-endian,
    in C order. A gzipped file is recognised by its magic bytes, whatever its name.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    numpy.ndarray
        In native byte order.

    Raises
    ------
    ValueError
        If the magic number, the type code or the length of the data is wrong.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> header = bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    >>> with tempfile.TemporaryDirectory() as directory:
    ...     file = pathlib.Path(directory) / "tiny-idx2-ubyte"
    ...     _ = file.write_bytes(header + bytes(range(6)))
    ...     array = read_idx(file)
    >>> array
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
    """
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (magic number must start with two zero bytes)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02X}; valid: "
                         + ", ".join(f"0x{c:02X}" for c in _IDX_TYPES))
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header ({ndim} dimensions need {header} bytes, got {len(raw)})")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[code])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{path}: IDX shape {shape} of {dtype} needs {expected} bytes, file has {len(raw)}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _mnist_arrays(directory):
    """The four MNIST arrays from ``directory`` (IDX files first, then ``mnist.npz``)."""
    found, missing = {}, []
    for role, stem in MNIST_FILES.items():
        candidates = [directory / stem, directory / f"{stem}.gz"]
        existing = [c for c in candidates if c.is_file()]
        if existing:
            found[role] = existing[0]
        else:
            missing.append(f"{stem}[.gz]")
    if not missing:
        return {role: read_idx(file) for role, file in found.items()}
    npz = directory / "mnist.npz"
    if npz.is_file():
        with np.load(npz) as archive:
            absent = [key for key in MNIST_FILES if key not in archive.files]
            if absent:
                raise ValueError(f"{npz} lacks the arrays {absent}; it must hold {list(MNIST_FILES)}")
            return {key: archive[key] for key in MNIST_FILES}
    raise FileNotFoundError(
        f"MNIST not found in {directory}: missing {', '.join(missing)} (and no mnist.npz there); "
        + _HOW_TO_GET_MNIST
    )


def _subset(X, y, size, rng, name):
    if size is None:
        return X, y
    size = check_int(name, size, low=1, high=X.shape[0])
    keep = np.sort(rng.permutation(X.shape[0])[:size])
    return X[keep], y[keep]


def load_mnist(path=None, *, train_size=None, test_size=None, seed=0):
    r"""MNIST from local files, scaled to ``[0, 1]`` and standardised; never downloads.

    Looks in ``path``, else in the directory named by the environment variable
    ``AGC_MNIST_DIR``, for the four IDX files ``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (each
    optionally gzipped, ``.gz``); failing those, for ``mnist.npz`` with arrays ``x_train``,
    ``y_train``, ``x_test``, ``y_test`` (keras' layout). Images are flattened to 784 features,
    divided by 255, then standardised with the mean and standard deviation of all training
    pixels (one scalar pair, the usual MNIST normalisation: per-pixel scaling would blow up the
    nearly constant border pixels).

    Parameters
    ----------
    path : str or os.PathLike, optional
        Directory holding the files.
    train_size, test_size : int, optional
        Keep a seeded random subset of this many training / test samples (all when ``None``;
        the standard split has 60000 and 10000). The normalisation uses the kept training
        samples.
    seed : int or numpy.random.Generator
        Seed of the subsets.

    Returns
    -------
    Dataset
        ``name = "mnist"``, 784 features, 10 classes.

    Raises
    ------
    FileNotFoundError
        If neither ``path`` nor ``AGC_MNIST_DIR`` is given, the directory does not exist, or
        files are missing: the message names the missing files, the directory searched and how
        to obtain them.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as empty:
    ...     try:
    ...         load_mnist(empty)
    ...     except FileNotFoundError as error:
    ...         message = str(error)
    >>> print(message.split(": ", 1)[1].split(" (")[0].replace(", ", "\n"))
    missing train-images-idx3-ubyte[.gz]
    train-labels-idx1-ubyte[.gz]
    t10k-images-idx3-ubyte[.gz]
    t10k-labels-idx1-ubyte[.gz]
    """
    if path is None:
        path = os.environ.get(MNIST_ENV)
        if not path:
            raise FileNotFoundError(f"MNIST location unknown: pass path= or set {MNIST_ENV}; to get the files, "
                                    + _HOW_TO_GET_MNIST)
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(f"MNIST directory {directory} does not exist; " + _HOW_TO_GET_MNIST)
    arrays = _mnist_arrays(directory)
    rng = as_generator(seed)
    X_train = arrays["x_train"].reshape(arrays["x_train"].shape[0], -1)
    X_test = arrays["x_test"].reshape(arrays["x_test"].shape[0], -1)
    for name, X, y in (("train", X_train, arrays["y_train"]), ("test", X_test, arrays["y_test"])):
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"MNIST {name} set has {X.shape[0]} images but {y.shape[0]} labels")
    X_train, y_train = _subset(X_train, arrays["y_train"], train_size, rng, "train_size")
    X_test, y_test = _subset(X_test, arrays["y_test"], test_size, rng, "test_size")
    X_train = X_train.astype(np.float64) / 255.0
    X_test = X_test.astype(np.float64) / 255.0
    mean, std = X_train.mean(), X_train.std()
    std = std if std > 0 else 1.0
    return _as_dataset((X_train - mean) / std, y_train.astype(np.int64), (X_test - mean) / std,
                       y_test.astype(np.int64), "mnist")


#: Dataset loaders by name.
LOADERS = {"digits": load_digits, "mnist": load_mnist}


def load_dataset(name, **kwargs):
    """Load a dataset by name: ``"digits"`` (:func:`load_digits`) or ``"mnist"`` (:func:`load_mnist`).

    Parameters
    ----------
    name : str
    **kwargs
        Passed to the loader.

    Raises
    ------
    ValueError
        If ``name`` is not one of the known datasets.

    Examples
    --------
    >>> load_dataset("digits").name
    'digits'
    >>> load_dataset("cifar")
    Traceback (most recent call last):
    ...
    ValueError: unknown dataset 'cifar'; valid: 'digits', 'mnist'
    """
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; valid: " + ", ".join(repr(key) for key in LOADERS))
    return LOADERS[name](**kwargs)


def split_chunks(n_samples, k, seed=None):
    """A seeded partition of ``range(n_samples)`` into ``k`` chunks of near-equal size.

    Sizes differ by at most one (the first ``n_samples mod k`` chunks get the extra sample);
    each chunk's indices are sorted.

    Parameters
    ----------
    n_samples : int
    k : int
        Number of chunks, ``1 <= k <= n_samples``.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    list of numpy.ndarray
        ``k`` disjoint ``int64`` index arrays whose union is ``range(n_samples)``.

    Examples
    --------
    >>> [chunk.tolist() for chunk in split_chunks(7, 3, seed=0)]
    [[2, 3, 4], [5, 6], [0, 1]]
    """
    n_samples = check_int("n_samples", n_samples, low=1)
    k = check_int("k", k, low=1, high=n_samples)
    order = as_generator(seed).permutation(n_samples)
    return [np.sort(part).astype(np.int64) for part in np.array_split(order, k)]
