import numpy as np
import pytest
import torch

import agc
from agc.code import block_length, split_blocks


def test_split_blocks_is_block_major_and_zero_padded():
    G = np.arange(10.0).reshape(2, 5)
    blocks = split_blocks(G, 2)  # d = 5 -> blocks of length 3, one zero of padding
    np.testing.assert_array_equal(blocks, [[0, 1, 2], [5, 6, 7], [3, 4, 0], [8, 9, 0]])
    assert block_length(5, 2) == 3


def test_encode_matches_definition():
    code = agc.encodings.polynomial(agc.assignments.cyclic(6, 6, 3), 2)
    rng = np.random.default_rng(0)
    G = rng.standard_normal((code.k, 7))
    messages = code.encode(G)
    assert messages.shape == (code.n, 4)
    padded = np.pad(G, ((0, 0), (0, 1)))
    for j in range(code.n):
        expected = sum(code.B[j, u * code.k + i] * padded[i, 4 * u:4 * (u + 1)] for i in range(code.k) for u in range(2))
        np.testing.assert_allclose(messages[j], expected, atol=1e-12)


def test_encode_worker_uses_only_local_chunks():
    code = agc.encodings.polynomial(agc.assignments.cyclic(6, 6, 3), 2)
    G = np.random.default_rng(1).standard_normal((code.k, 9))
    full = code.encode(G)
    for j in range(code.n):
        local = G[np.flatnonzero(code.assignment[j])]
        np.testing.assert_allclose(code.encode_worker(j, local), full[j], atol=1e-12)


@pytest.mark.parametrize("as_torch", [False, True])
def test_exact_code_decodes_the_gradient(as_torch):
    code = agc.encodings.polynomial(agc.assignments.cyclic(7, 7, 5), 3)
    G = np.random.default_rng(2).standard_normal((code.k, 11))
    survivors = np.array([0, 2, 3, 5, 6])
    D = agc.optimal_decoder(code, survivors)
    if as_torch:
        G = torch.tensor(G)
    messages = code.encode(G)
    estimate = code.decode(messages, survivors, D, d=11)
    assert estimate.shape == (11,)
    np.testing.assert_allclose(np.asarray(estimate), np.asarray(G.sum(0)), atol=1e-9)
    # only the survivors' rows may be passed as well
    again = code.decode(messages[survivors], survivors, D, d=11)
    np.testing.assert_allclose(np.asarray(again), np.asarray(estimate), atol=1e-12)


@pytest.mark.parametrize("as_torch", [False, True])
def test_estimate_equals_decoding_the_messages(as_torch, small_codes):
    for code in small_codes:
        for d in (12, 13):  # with and without zero padding
            G = np.random.default_rng(3).standard_normal((code.k, d))
            G = torch.tensor(G) if as_torch else G
            mask = agc.failures.bernoulli_masks(code.n, 0.3, 1, seed=4)[0]
            D = agc.optimal_decoder(code, mask)
            direct = code.decode(code.encode(G), mask, D, d=d)
            estimate = code.estimate(G, mask, D)
            assert estimate.shape == (d,)
            np.testing.assert_allclose(np.asarray(estimate), np.asarray(direct), atol=1e-10)


def test_estimate_writes_into_out(small_codes):
    for code in small_codes:
        G = torch.tensor(np.random.default_rng(5).standard_normal((code.k, 12 * code.ell)))
        mask = agc.failures.bernoulli_masks(code.n, 0.3, 1, seed=6)[0]
        D = agc.optimal_decoder(code, mask)
        out = torch.full((G.shape[1],), torch.nan, dtype=G.dtype)
        result = code.estimate(G, mask, D, out=out)
        assert result.data_ptr() == out.data_ptr()
        torch.testing.assert_close(out, code.estimate(G, mask, D), rtol=0, atol=1e-12)
    code = small_codes[0]
    mask = np.ones(code.n, dtype=bool)
    D = agc.optimal_decoder(code, mask)
    with pytest.raises(ValueError, match="out must be a contiguous tensor of shape"):
        code.estimate(torch.zeros(code.k, 12, dtype=torch.float64), mask, D, out=torch.zeros(12))
    with pytest.raises(ValueError, match="out needs torch gradients"):
        code.estimate(np.zeros((code.k, 12)), mask, D, out=torch.zeros(12, dtype=torch.float64))


def test_code_rejects_support_outside_assignment():
    A = agc.assignments.cyclic(3, 3, 1)
    B = np.tile(A, (1, 2)).astype(float)
    B[0, 1] = 1.0
    with pytest.raises(ValueError, match="chunk 1 to worker 0"):
        agc.Code(B, A, 2)


def test_code_is_read_only():
    code = agc.encodings.stacking(agc.assignments.cyclic(3, 3, 2), 1)
    with pytest.raises(ValueError):
        code.B[0, 0] = 5.0
