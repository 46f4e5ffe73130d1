"""Bad parameters raise ValueError/TypeError naming the parameter (as a word of the message)."""

import re

import numpy as np
import pytest

import agc
from agc._parse import parse_key_values

A = agc.assignments.cyclic(4, 4, 2)
CODE = agc.encodings.stacking(A, 2)

CASES = [
    ("B", lambda: agc.Code(np.ones((4, 7)), A, 2), ValueError),
    ("B", lambda: agc.Code(np.full((4, 8), np.nan) * np.tile(A, (1, 2)), A, 2), ValueError),
    ("assignment", lambda: agc.Code(np.ones((4, 8)), np.full((4, 4), 2), 2), ValueError),
    ("ell", lambda: agc.Code(np.ones((4, 0)), A, 0), ValueError),
    ("ell", lambda: agc.encodings.stacking(A, 0), ValueError),
    ("ell", lambda: agc.encodings.stacking(A, 1.5), TypeError),
    ("G", lambda: CODE.encode(np.ones((3, 5))), ValueError),
    ("survivors", lambda: agc.optimal_error(CODE, [0, 4]), ValueError),
    ("survivors", lambda: agc.optimal_error(CODE, [1, 1]), ValueError),
    ("survivors", lambda: agc.optimal_error(CODE, [-1]), ValueError),
    ("survivors", lambda: agc.optimal_error(CODE, np.ones(3, dtype=bool)), ValueError),
    ("survivors", lambda: agc.optimal_error(CODE, [0.5]), TypeError),
    ("masks", lambda: agc.optimal_errors(CODE, np.ones((2, 5), dtype=bool)), ValueError),
    ("p", lambda: agc.expected_error(CODE, p=1.0), ValueError),
    ("p", lambda: agc.expected_error(CODE, p=-0.1), ValueError),
    ("p", lambda: agc.failures.bernoulli_masks(4, float("nan"), 3), ValueError),
    ("p or s", lambda: agc.expected_error(CODE), ValueError),
    ("s", lambda: agc.expected_error(CODE, s=4), ValueError),
    ("s", lambda: agc.worst_case(CODE, 4), ValueError),
    ("s", lambda: agc.worst_case_lower_bound(4, 4, 2, 2, 4), ValueError),
    ("load", lambda: agc.assignments.cyclic(4, 4, 5), ValueError),
    ("load", lambda: agc.worst_case_lower_bound(4, 4, 5, 2, 1), ValueError),
    ("load", lambda: agc.assignments.fractional_repetition(4, 4, 3), ValueError),
    ("n", lambda: agc.assignments.fractional_repetition(3, 4, 2), ValueError),
    ("ell", lambda: agc.encodings.polynomial(agc.assignments.cyclic(5, 5, 1), 2), ValueError),
    ("A", lambda: agc.encodings.polynomial(agc.assignments.cyclic(6, 5, 3), 2), ValueError),
    ("seed", lambda: agc.failures.bernoulli_masks(4, 0.1, 3, seed="x"), TypeError),
    ("seed", lambda: agc.failures.bernoulli_masks(4, 0.1, 3, seed=-1), ValueError),
    ("code", lambda: agc.optimal_errors("rdm", np.ones((2, 4), dtype=bool)), TypeError),
    ("code", lambda: agc.optimal_error(None, [0]), TypeError),
    ("code", lambda: agc.worst_case([[1]], 1), TypeError),
    ("code", lambda: agc.expected_error(np.eye(3), p=0.1), TypeError),
    ("code", lambda: agc.error_curve(3, s=[0]), TypeError),
    ("G", lambda: CODE.encode([[1.0] * 3] * 4), TypeError),
    ("assignment", lambda: agc.Code(np.zeros((0, 0)), np.zeros((0, 0)), 1), ValueError),
    ("ell", lambda: agc.encodings.stacking(A, 10**9), ValueError),
    ("ell", lambda: agc.encodings.rdm(A, 10**9), ValueError),
    ("MAX_BLOCKS", lambda: agc.assignments.complete_design(40, 20), ValueError),
    ("max_sets", lambda: agc.failures.all_straggler_sets(40, 10), ValueError),
    ("p", lambda: agc.error_curve(CODE, p=[0.1], s=[1]), ValueError),
    ("trials", lambda: agc.error_curve(CODE, s=[1], trials=1), ValueError),
    ("draws", lambda: agc.error_curve(CODE, s=[1], draws=2), ValueError),
    ("draws", lambda: agc.error_curve(lambda seed: CODE, s=[1], draws=0), ValueError),
    ("s", lambda: agc.bounds.stacking_bibd_error(agc.assignments.projective_plane(2), 2, 8), ValueError),
    ("stragglers", lambda: agc.failures.FailureModel("adversarial", 4), ValueError),
    ("s", lambda: agc.failures.FailureModel("fixed", 4), ValueError),
    ("exits", lambda: agc.runtime.parse_exits("1@2,1@3", 4), ValueError),
    ("-P", lambda: parse_key_values(["q=9", "q=7"]), ValueError),
    ("trials", lambda: agc.expected_error(CODE, p=0.1, trials=1), ValueError),
    ("method", lambda: agc.worst_case(CODE, 1, method="magic"), ValueError),
    ("decoder", lambda: CODE.decode(np.ones((4, 3)), [0, 1], np.ones((2, 3))), ValueError),
    ("d", lambda: CODE.decode(np.ones((4, 3)), [0, 1], np.ones((2, 2)), d=2), ValueError),
    ("p", lambda: agc.unbiased_decoder(agc.encodings.block_split_copies(A, 2), [0], 1.5), ValueError),
]


@pytest.mark.parametrize("name,call,error", CASES, ids=[f"{i}-{c[0]}" for i, c in enumerate(CASES)])
def test_bad_input_names_the_parameter(name, call, error):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert any(re.search(rf"(?<![\w-]){re.escape(part)}(?![\w-])", message) for part in name.split(" or ")), message
