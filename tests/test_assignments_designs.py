"""Tests for agc.assignments.designs: projective and affine planes, STS, complete designs, validation."""

import itertools
import math

import galois
import numpy as np
import pytest

from agc.assignments import (
    BIBDParameters,
    affine_plane,
    bibd_parameters,
    complete_design,
    from_blocks,
    projective_plane,
    steiner_triple_system,
)

PRIME_POWERS = [2, 3, 4, 5, 7, 8, 9]
FANO = [[0, 1, 2], [0, 3, 4], [0, 5, 6], [1, 3, 5], [1, 4, 6], [2, 3, 6], [2, 4, 5]]


@pytest.mark.parametrize("q", PRIME_POWERS)
def test_projective_plane_is_symmetric_bibd(q):
    A = projective_plane(q)
    v = q * q + q + 1
    assert A.dtype == np.int64
    np.testing.assert_array_equal(A, A.T)
    assert bibd_parameters(A) == BIBDParameters(v=v, b=v, r=q + 1, block_size=q + 1, lam=1)
    # Any two lines meet in exactly one point, any two points lie on exactly one line.
    expected = q * np.eye(v, dtype=np.int64) + np.ones((v, v), dtype=np.int64)
    np.testing.assert_array_equal(A @ A.T, expected)
    np.testing.assert_array_equal(A.T @ A, expected)


@pytest.mark.parametrize("q", PRIME_POWERS)
def test_affine_plane_parameters(q):
    A = affine_plane(q)
    assert A.dtype == np.int64
    assert bibd_parameters(A) == BIBDParameters(v=q * q, b=q * q + q, r=q + 1, block_size=q, lam=1)


@pytest.mark.parametrize("q", PRIME_POWERS)
def test_affine_plane_has_q_plus_one_parallel_classes(q):
    # Lines y = m x + c with the same slope m (and the verticals) partition the points.
    A = affine_plane(q)
    classes = A.reshape(q + 1, q, q * q)
    np.testing.assert_array_equal(classes.sum(axis=1), np.ones((q + 1, q * q), dtype=np.int64))


def test_field_modes_are_restored():
    projective_plane(9)
    assert galois.GF(9).ufunc_mode == "jit-lookup"
    assert galois.GF(3).ufunc_mode == "jit-lookup"


@pytest.mark.parametrize("v", [3, 7, 9, 13, 15, 19])
def test_steiner_triple_system(v):
    A = steiner_triple_system(v)
    assert bibd_parameters(A) == BIBDParameters(v=v, b=v * (v - 1) // 6, r=(v - 1) // 2, block_size=3, lam=1)
    assert len({tuple(row) for row in A.tolist()}) == len(A)


@pytest.mark.parametrize("v, t", [(5, 2), (6, 3), (7, 4), (4, 4)])
def test_complete_design(v, t):
    A = complete_design(v, t)
    expected = BIBDParameters(
        v=v, b=math.comb(v, t), r=math.comb(v - 1, t - 1), block_size=t, lam=math.comb(v - 2, t - 2)
    )
    assert bibd_parameters(A) == expected
    blocks = [tuple(np.flatnonzero(row)) for row in A]
    assert blocks == list(itertools.combinations(range(v), t))


def test_from_blocks_accepts_fano_plane():
    A = from_blocks(FANO)
    assert A.shape == (7, 7)
    assert bibd_parameters(A) == BIBDParameters(v=7, b=7, r=3, block_size=3, lam=1)
    for row, block in zip(A, FANO):
        assert set(np.flatnonzero(row)) == set(block)


def test_from_blocks_accepts_generators_and_numpy_points():
    A = from_blocks((np.array(block) for block in FANO), v=7)
    np.testing.assert_array_equal(A, from_blocks(FANO))


@pytest.mark.parametrize(
    "blocks, v, message",
    [
        ([[0, 1, 2], [0, 3], [1, 3], [2, 3]], None, r"block size \(points per block\) is not constant"),
        ([[0, 1], [1, 2], [0, 2], [0, 3]], None, r"replication \(blocks per point\) is not constant"),
        ([[0, 1], [2, 3], [0, 2], [1, 3]], None, r"pair count λ \(blocks per pair of points\) is not constant"),
        ([*FANO[:-1], [2, 4, 4]], None, r"blocks\[6\] = \[2, 4, 4\] repeats a point"),
        (FANO, 5, r"outside the points \[0, 4\] for v=5"),
        ([*FANO[:-1], [2, -4, 5]], None, r"a point of blocks\[6\] must be >= 0, got -4"),
        ([], None, "at least one block"),
        ([[0, 1], []], None, r"blocks\[1\] is empty"),
    ],
)
def test_from_blocks_rejects_broken_designs(blocks, v, message):
    with pytest.raises(ValueError, match=message):
        from_blocks(blocks, v=v)


def test_pair_count_message_names_the_pair():
    with pytest.raises(ValueError, match=r"the pair \(0, 3\) has 0"):
        from_blocks([[0, 1], [2, 3], [0, 2], [1, 3]])


def test_bibd_parameters_rejects_non_binary_and_degenerate_matrices():
    with pytest.raises(ValueError, match="A must contain only 0 and 1"):
        bibd_parameters([[1, 2], [1, 1]])
    with pytest.raises(ValueError, match="at least one block and two points"):
        bibd_parameters([[1], [1]])
    with pytest.raises(ValueError, match="every block is empty"):
        bibd_parameters(np.zeros((3, 4), dtype=int))


@pytest.mark.parametrize(
    "build, arg, error, message",
    [
        (projective_plane, 6, ValueError, r"q=6 is not a prime power; no projective plane of order 6"),
        (projective_plane, 10, ValueError, r"q=10 is not a prime power"),
        (projective_plane, 1, ValueError, r"q must be >= 2, got 1"),
        (affine_plane, 12, ValueError, r"q=12 is not a prime power; no affine plane of order 12"),
        (affine_plane, 0, ValueError, r"q must be >= 2, got 0"),
        (projective_plane, 4.0, TypeError, r"q must be an integer"),
        (steiner_triple_system, 8, ValueError, r"v=8 is not admissible.*1 or 3 \(mod 6\)"),
        (steiner_triple_system, 11, ValueError, r"v=11 is not admissible"),
        (steiner_triple_system, 1, ValueError, r"v must be >= 3, got 1"),
    ],
)
def test_bad_input(build, arg, error, message):
    with pytest.raises(error, match=message):
        build(arg)


@pytest.mark.parametrize("v, t, message", [(1, 1, "v must be >= 2"), (4, 5, "t must be <= 4"), (4, 0, "t must be >= 1")])
def test_complete_design_bad_input(v, t, message):
    with pytest.raises(ValueError, match=message):
        complete_design(v, t)
