"""agc.record: numbers recorded in memory and, with AGC_RECORD_DIR, as JSON lines."""

import json
import os

import numpy as np
import pytest

from agc import record as rec


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.delenv(rec.ENV_VAR, raising=False)
    rec.clear()
    yield
    rec.clear()


def test_records_are_kept_in_memory_in_order_and_copied():
    rec.record("a", 1, scheme="rdm")
    rec.record("b", 0.5)
    got = rec.records()
    assert got == [{"name": "a", "value": 1, "scheme": "rdm"}, {"name": "b", "value": 0.5}]
    got[0]["value"] = 99
    assert rec.records()[0]["value"] == 1
    rec.clear()
    assert rec.records() == []


def test_numpy_scalars_become_plain_python_numbers():
    assert rec.record("x", np.float32(0.25), n=np.int64(8), ok=np.bool_(True)) is None
    rec.record("y", np.array(3))
    rec.record("z", np.float64(1.0) < 2)
    x, y, z = rec.records()
    assert x == {"name": "x", "value": 0.25, "n": 8, "ok": True}
    assert type(x["value"]) is float and type(x["n"]) is int and type(x["ok"]) is bool
    assert type(y["value"]) is int and z["value"] is True


@pytest.mark.parametrize(
    ("args", "labels", "error"),
    [
        (("x", "high"), {}, TypeError),
        (("x", [1, 2]), {}, TypeError),
        (("x", float("inf")), {}, ValueError),
        (("x", float("nan")), {}, ValueError),
        (("", 1), {}, TypeError),
        ((3, 1), {}, TypeError),
        (("x", 1), {"p": None}, TypeError),
        (("x", 1), {"p": float("nan")}, ValueError),
    ],
)
def test_bad_records_are_rejected_and_not_stored(args, labels, error):
    with pytest.raises(error):
        rec.record(*args, **labels)
    assert rec.records() == []


def test_labels_cannot_shadow_name_or_value():
    with pytest.raises(TypeError):
        rec.record("x", 1, **{"value": 2})


def test_records_go_to_one_jsonl_file_per_process(tmp_path, monkeypatch):
    monkeypatch.setenv(rec.ENV_VAR, str(tmp_path / "records"))
    rec.record("err", 0.5, scheme="rdm", ell=2)
    rec.record("holds", True)
    path = tmp_path / "records" / f"records-{os.getpid()}.jsonl"
    lines = path.read_text().splitlines()
    assert [json.loads(line) for line in lines] == rec.records()
    assert rec.read_records(tmp_path / "records") == rec.records()


def test_without_the_variable_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rec.record("x", 1)
    assert list(tmp_path.iterdir()) == []


def test_read_records_merges_files_and_rejects_bad_lines(tmp_path):
    assert rec.read_records(tmp_path / "missing") == []
    (tmp_path / "records-1.jsonl").write_text('{"name": "a", "value": 1}\n')
    (tmp_path / "records-2.jsonl").write_text('{"name": "b", "value": 2, "p": 0.1}\n')
    assert rec.read_records(tmp_path) == [
        {"name": "a", "value": 1},
        {"name": "b", "value": 2, "p": 0.1},
    ]
    (tmp_path / "records-3.jsonl").write_text('{"name": "c", "val')
    with pytest.raises(ValueError, match=r"records-3\.jsonl, line 1"):
        rec.read_records(tmp_path)
    (tmp_path / "records-3.jsonl").write_text('{"name": "c"}\n')
    with pytest.raises(ValueError, match="needs a name and a value"):
        rec.read_records(tmp_path)
