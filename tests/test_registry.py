"""agc.registry: every family and encoding is reachable by name, parameters are routed, errors name them."""

import numpy as np
import pytest

import agc
from agc import registry

#: Small parameters for every family (checked to cover the table).
FAMILY_PARAMS = {
    "cyclic": {"n": 6, "k": 6, "load": 3},
    "fractional_repetition": {"n": 6, "k": 6, "load": 3},
    "random_biregular": {"n": 8, "k": 4, "load": 2},
    "projective_plane": {"q": 2},
    "affine_plane": {"q": 3},
    "steiner_triple_system": {"v": 7},
    "complete_design": {"v": 5, "t": 2},
    "random_regular": {"n": 8, "degree": 3},
    "random_fixed_load": {"n": 8, "k": 6, "load": 2},
    "bernoulli": {"n": 8, "k": 6, "load": 2},
    "srg": {"graph": "petersen"},
}


def test_every_family_has_test_parameters():
    assert set(FAMILY_PARAMS) == set(registry.FAMILIES)


@pytest.mark.parametrize("family", sorted(FAMILY_PARAMS))
def test_every_family_builds_its_assignment(family):
    build = registry.family_function(family)
    seeded = "seed" in {p.name for p in registry.parameters(build)}
    A = build(**FAMILY_PARAMS[family], **({"seed": 0} if seeded else {}))
    code = agc.make_code(family, "stacking", 1, seed=0, **FAMILY_PARAMS[family])
    assert np.array_equal(code.assignment, A)  # a random family gets the same seed
    assert code.name == f"{family}/stacking" and code.params["family"] == family and code.params["ell"] == 1


@pytest.mark.parametrize("encoding", sorted(registry.ENCODINGS))
def test_every_encoding_builds_a_code_by_name(encoding):
    family, params, ell = "cyclic", {"n": 8, "k": 4, "load": 2}, 2
    if encoding == "polynomial":
        params = {"n": 8, "k": 8, "load": 4}
    if encoding in ("expander", "sgc"):
        family, params, ell = "srg", {"graph": "petersen"}, 1
    if encoding == "optimized":
        params = {**params, "s": 1, "steps": 5, "batch": 8, "heldout": 10, "progress": False}
    code = agc.make_code(family, encoding, ell, seed=1, **params)
    assert isinstance(code, agc.Code) and code.name == f"{family}/{encoding}" and code.ell == ell
    assert code.params["encoding"] == encoding and code.params["seed"] == 1
    assert registry.is_random(encoding) == ("seed" in {p.name for p in registry.parameters(
        registry.encoding_function(encoding))})


def test_parameters_are_routed_to_the_family_and_the_encoding():
    code = agc.make_code("projective_plane", "rdm", 2, seed=3, q=3, dist="gaussian")
    assert code.params["dist"] == "gaussian" and code.n == 13
    assert not np.all(np.abs(code.vectors) == 1)  # Gaussian weights, not signs


def test_construction_fixes_the_assignment_and_redraws_the_coefficients():
    draw = registry.construction("random_biregular", "rdm", 2, seed=5, n=12, k=6, load=2)
    first, second, again = draw(0), draw(1), draw(0)
    assert np.array_equal(first.assignment, second.assignment)
    assert not np.array_equal(first.B, second.B) and np.array_equal(first.B, again.B)
    assert np.array_equal(agc.make_code("random_biregular", "rdm", 2, seed=5, n=12, k=6, load=2).B, draw(5).B)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: agc.make_code("torus", "rdm", 2), "family must be one of"),
        (lambda: agc.make_code("cyclic", "magic", 2, n=4, k=4, load=2), "encoding must be one of"),
        (lambda: agc.make_code("cyclic", "rdm", 2, n=4, k=4, load=2, colour=1), r"unknown parameter\(s\) \['colour'\]"),
        (lambda: agc.make_code("cyclic", "polynomial", 2, n=6, k=4, load=3), "cyclic assignment"),
    ],
)
def test_bad_names_and_parameters_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_describe_lists_every_name_with_its_parameters():
    text = "\n".join(registry.describe())
    for name in [*registry.FAMILIES, *registry.ENCODINGS, *agc.assignments.SRG_FAMILIES]:
        assert name in text
    assert "rdm(seed=None, dist='rademacher')" in text


def test_paper_schemes_offer_rhpnc_exactly_where_the_null_space_exists():
    """RHPNC needs a non-zero vector in ker Aᵀ: the cyclic 7 × 7 assignment of load 3 is
    invertible (1 + ω + ω² ≠ 0 for every 7th root of unity ω: no RHPNC), the 6 × 6 of load 2 is not.
    """
    import numpy as np

    counts = {"draws": 5, "gaussian_draws": 2, "extra_draws": 3}
    regular = agc.assignments.cyclic(7, 7, 3)
    assert np.linalg.matrix_rank(regular) == regular.shape[0]
    plain = agc.registry.paper_schemes(regular, 2, agc.encodings.block_split(regular, 2), **counts)
    assert list(plain) == ["stacking", "rdm", "block_split", "iid_gaussian"]
    singular = agc.assignments.cyclic(6, 6, 2)
    table = agc.registry.paper_schemes(singular, 2, agc.encodings.block_split(singular, 2), **counts)
    assert {name: draws for name, (_, draws) in table.items()} == {
        "stacking": 1, "rdm": 5, "rhpnc_authors": 2, "rhpnc_pm1_authors": 5, "block_split": 1, "rhpnc": 5,
        "rhpnc_pm1": 3, "iid_gaussian": 3}
    for name, (make, _) in table.items():
        if callable(make):  # a construction: seeded, and on the assignment it was given
            a, b = make(7), make(7)
            assert np.array_equal(a.B, b.B) and np.array_equal(a.assignment, singular), name
