"""Datasets: digits, the MNIST readers (IDX, gzipped IDX, npz), errors, and the chunk split."""

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from agc.data import (
    FASHION_MNIST_DIR,
    MNIST_FILES,
    auto_dataset,
    fashion_mnist_installed,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    read_idx,
    split_chunks,
)

IDX_CODES = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype("i2"): 0x0B, np.dtype("i4"): 0x0C,
             np.dtype("f4"): 0x0D, np.dtype("f8"): 0x0E}


def idx_bytes(array):
    """The IDX encoding of ``array`` (written independently of the reader under test)."""
    array = np.asarray(array)
    header = bytes([0, 0, IDX_CODES[array.dtype], array.ndim])
    header += b"".join(int(size).to_bytes(4, "big") for size in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def tiny_mnist(seed=0, train=12, test=5):
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, train).astype(np.uint8),
        "x_test": rng.integers(0, 256, (test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, test).astype(np.uint8),
    }


def write_idx_set(directory, arrays, gzipped=()):
    for role, stem in MNIST_FILES.items():
        raw = idx_bytes(arrays[role])
        if role in gzipped:
            (directory / f"{stem}.gz").write_bytes(gzip.compress(raw))
        else:
            (directory / stem).write_bytes(raw)


def check_mnist(data, arrays):
    """Shapes, dtypes, labels, and that undoing the standardisation recovers the raw pixels."""
    assert data.name == "mnist"
    assert data.X_train.shape == (arrays["x_train"].shape[0], 784)
    assert data.X_train.dtype == torch.float32 and data.y_train.dtype == torch.int64
    assert data.y_train.tolist() == arrays["y_train"].tolist()
    assert data.y_test.tolist() == arrays["y_test"].tolist()
    pixels = arrays["x_train"].reshape(-1, 784) / 255.0
    mean, std = pixels.mean(), pixels.std()
    # float32 storage: relative error ~1e-7 on values of size ~2, times 255 -> well below 1e-3
    recovered = (data.X_test.double().numpy() * std + mean) * 255.0
    np.testing.assert_allclose(recovered, arrays["x_test"].reshape(-1, 784), atol=1e-3)
    assert abs(float(data.X_train.double().mean())) < 1e-6
    assert float(data.X_train.double().std(unbiased=False)) == pytest.approx(1.0, abs=1e-6)


def test_digits_split_is_stratified_standardised_and_seeded():
    data = load_digits()
    assert data.X_train.shape == (1347, 64) and data.X_test.shape == (450, 64)
    assert data.X_train.dtype == torch.float32 and data.y_test.dtype == torch.int64
    assert data.features == 64 and data.classes == 10
    X = data.X_train.double()
    varying = X.std(dim=0) > 0
    assert torch.allclose(X.mean(dim=0), torch.zeros(64, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(X[:, varying].std(dim=0, unbiased=False), torch.ones(int(varying.sum()), dtype=torch.float64),
                          atol=1e-5)
    train_share = torch.bincount(data.y_train, minlength=10) / 1347
    test_share = torch.bincount(data.y_test, minlength=10) / 450
    assert float((train_share - test_share).abs().max()) < 0.01  # stratified: ~180 samples per class
    again, other = load_digits(seed=0), load_digits(seed=1)
    assert torch.equal(again.X_train, data.X_train) and torch.equal(again.y_test, data.y_test)
    assert not torch.equal(other.y_train, data.y_train)


@pytest.mark.parametrize("gzipped", [(), tuple(MNIST_FILES), ("x_train", "y_test")])
def test_mnist_idx_files_plain_gzipped_and_mixed(tmp_path, gzipped):
    arrays = tiny_mnist()
    write_idx_set(tmp_path, arrays, gzipped)
    check_mnist(load_mnist(tmp_path), arrays)


def test_mnist_npz_and_environment_variable(tmp_path, monkeypatch):
    arrays = tiny_mnist(seed=3)
    np.savez(tmp_path / "mnist.npz", **arrays)
    monkeypatch.setenv("AGC_MNIST_DIR", str(tmp_path))
    check_mnist(load_mnist(), arrays)
    check_mnist(load_dataset("mnist"), arrays)


def test_mnist_subsets_are_seeded(tmp_path):
    arrays = tiny_mnist(train=30, test=10)
    write_idx_set(tmp_path, arrays)
    a = load_mnist(tmp_path, train_size=8, test_size=4, seed=1)
    b = load_mnist(tmp_path, train_size=8, test_size=4, seed=1)
    assert a.X_train.shape == (8, 784) and a.X_test.shape == (4, 784)
    assert torch.equal(a.X_train, b.X_train) and torch.equal(a.y_test, b.y_test)
    with pytest.raises(ValueError, match="train_size must be <= 30"):
        load_mnist(tmp_path, train_size=31)


def test_missing_mnist_files_are_named(tmp_path, monkeypatch):
    arrays = tiny_mnist()
    (tmp_path / MNIST_FILES["x_train"]).write_bytes(idx_bytes(arrays["x_train"]))
    (tmp_path / f"{MNIST_FILES['y_test']}.gz").write_bytes(gzip.compress(idx_bytes(arrays["y_test"])))
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message and "mnist.npz" in message and "AGC_MNIST_DIR" in message
    missing = message.split("missing ", 1)[1].split(" (", 1)[0]
    assert missing == "train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz]"
    monkeypatch.delenv("AGC_MNIST_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="AGC_MNIST_DIR"):
        load_mnist()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")


def test_npz_without_the_four_arrays_is_rejected(tmp_path):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="lacks the arrays"):
        load_mnist(tmp_path)


@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
def test_read_idx_round_trips_every_type(tmp_path, dtype):
    array = (np.arange(24) - 7).reshape(2, 3, 4).astype(dtype)
    if dtype == "u1":
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(array))
    (tmp_path / "b.gz").write_bytes(gzip.compress(idx_bytes(array)))
    for name in ("a", "b.gz"):
        out = read_idx(tmp_path / name)
        assert out.dtype == np.dtype(dtype) and out.dtype.isnative
        np.testing.assert_array_equal(out, array)


def test_read_idx_rejects_bad_files(tmp_path):
    good = idx_bytes(np.zeros((2, 3), np.uint8))
    cases = {
        "magic": (b"\x01" + good[1:], "not an IDX file"),
        "type": (good[:2] + b"\x07" + good[3:], "unknown IDX type code 0x07"),
        "short": (good[:-1], "needs 18 bytes, file has 17"),
        "header": (good[:6], "truncated IDX header"),
    }
    for name, (raw, message) in cases.items():
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(ValueError, match=message):
            read_idx(tmp_path / name)


def test_load_dataset_dispatches_and_rejects_unknown_names():
    assert load_dataset("digits", seed=2).name == "digits"
    with pytest.raises(ValueError, match="unknown dataset 'cifar10'; valid: 'digits', 'mnist', 'fashion-mnist', 'auto'"):
        load_dataset("cifar10")


def test_split_chunks_is_a_seeded_near_equal_partition():
    chunks = split_chunks(103, 20, seed=5)
    assert len(chunks) == 20
    assert sorted(np.concatenate(chunks).tolist()) == list(range(103))
    assert {chunk.size for chunk in chunks} == {5, 6}
    assert all(np.all(np.diff(chunk) > 0) for chunk in chunks)
    again = split_chunks(103, 20, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(chunks, again))
    assert not all(np.array_equal(a, b) for a, b in zip(chunks, split_chunks(103, 20, seed=6)))
    with pytest.raises(ValueError, match="k must be <= 10"):
        split_chunks(10, 11)


def test_auto_dataset_prefers_mnist_then_fashion_mnist_then_digits(tmp_path):
    fashion = tmp_path / "fashion"
    fashion.mkdir()
    assert auto_dataset(environ={}, fashion_dir=fashion) == "digits"
    write_idx_set(fashion, tiny_mnist(), gzipped=tuple(MNIST_FILES))
    assert fashion_mnist_installed(fashion)
    assert auto_dataset(environ={}, fashion_dir=fashion) == "fashion-mnist"
    assert auto_dataset(environ={"AGC_MNIST_DIR": str(tmp_path)}, fashion_dir=fashion) == "mnist"
    assert auto_dataset(environ={"AGC_MNIST_DIR": ""}, fashion_dir=fashion) == "fashion-mnist"


def test_fashion_mnist_reader_on_idx_files_it_writes(tmp_path):
    arrays = tiny_mnist(seed=3)
    write_idx_set(tmp_path, arrays, gzipped=("x_train", "y_test"))
    data = load_fashion_mnist(tmp_path)
    assert data.name == "fashion-mnist" and data.features == 784 and data.classes <= 10
    assert data.y_train.tolist() == arrays["y_train"].tolist()
    subset = load_fashion_mnist(tmp_path, train_size=5, seed=1)
    assert subset.X_train.shape == (5, 784)
    assert torch.equal(subset.X_train, load_fashion_mnist(tmp_path, train_size=5, seed=1).X_train)


@pytest.mark.skipif(not fashion_mnist_installed(), reason=f"Fashion-MNIST is not installed in {FASHION_MNIST_DIR} "
                                                          "(make data)")
def test_fashion_mnist_reader_on_the_real_files():
    data = load_fashion_mnist(train_size=2000, test_size=500, seed=0)
    assert data.X_train.shape == (2000, 784) and data.X_test.shape == (500, 784)
    assert set(data.y_train.unique().tolist()) == set(range(10))
    full = read_idx(Path(FASHION_MNIST_DIR) / "train-labels-idx1-ubyte.gz")
    assert full.shape == (60000,) and np.bincount(full).tolist() == [6000] * 10  # balanced classes
    assert read_idx(Path(FASHION_MNIST_DIR) / "t10k-images-idx3-ubyte.gz").shape == (10000, 28, 28)
    assert load_dataset("auto", train_size=100).name in ("fashion-mnist", "mnist")


def test_image_datasets_refuse_bad_files_naming_them(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'svhn'"):
        load_dataset("svhn")
    with pytest.raises(FileNotFoundError, match=r"fashion-mnist not found in .*missing train-images-idx3-ubyte"):
        load_fashion_mnist(tmp_path)
    arrays = tiny_mnist()
    write_idx_set(tmp_path, arrays)
    path = tmp_path / MNIST_FILES["x_test"]
    path.write_bytes(path.read_bytes()[:-7])  # a truncated download
    with pytest.raises(ValueError, match=f"{path.name}: IDX shape"):
        load_fashion_mnist(tmp_path)
    write_idx_set(tmp_path, {**arrays, "y_train": np.where(np.arange(12) == 4, -1, arrays["y_train"]).astype(np.int8)})
    with pytest.raises(ValueError, match=r"train labels must lie in 0\.\.9, got -1"):
        load_mnist(tmp_path)
    pixels = arrays["x_train"].astype(np.float32)
    pixels[0, 0, 0] = np.nan
    write_idx_set(tmp_path, {**arrays, "x_train": pixels})
    with pytest.raises(ValueError, match="NaN or infinite pixels"):
        load_mnist(tmp_path)
