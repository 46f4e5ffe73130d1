"""agc._io: atomic writes that keep file modes and never leave a temporary file; output paths checked first."""

import os
import stat

import pytest

from agc._io import check_directory, check_writable, json_ready, write_atomic, write_csv, write_json
from agc.cli import main

CYCLIC = ["--family", "cyclic", "--encoding", "stacking", "--ell", "2", "-P", "n=6", "-P", "k=6", "-P", "load=3"]


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_new_files_get_the_umask_mode_and_existing_files_keep_theirs(tmp_path):
    old = os.umask(0o027)
    try:
        fresh = write_atomic(tmp_path / "new.txt", "a")
        assert mode(fresh) == 0o640  # 0o666 & ~umask, not tempfile's 0o600
        existing = tmp_path / "old.txt"
        existing.write_text("x")
        existing.chmod(0o604)
        write_atomic(existing, "y")
        assert existing.read_text() == "y" and mode(existing) == 0o604
    finally:
        os.umask(old)


def test_a_failed_write_leaves_no_temporary_file(tmp_path):
    with pytest.raises(TypeError):
        write_atomic(tmp_path / "x.json", 3.5)  # neither str nor bytes
    assert list(tmp_path.iterdir()) == []
    target = tmp_path / "kept.json"
    write_json(target, {"a": 1})
    with pytest.raises(TypeError):
        write_atomic(target, None)
    assert target.read_text() == '{"a": 1}\n' and sorted(p.name for p in tmp_path.iterdir()) == ["kept.json"]


def test_json_ready_and_csv(tmp_path):
    assert json_ready({"a": (1, float("inf"))}) == {"a": [1, None]}
    assert write_csv(tmp_path / "t.csv", [{"s": 1}]).read_text() == "s\n1\n"


@pytest.mark.parametrize("path, message", [
    ("{tmp}", "is a directory"),
    ("/dev/null/x.csv", "/dev/null exists and is not a directory"),
    ("{tmp}/x.txt", "must end in .csv or .json"),
])
def test_output_paths_are_checked(tmp_path, path, message):
    with pytest.raises(ValueError, match=message):
        check_writable(path.format(tmp=tmp_path), suffixes=(".csv", ".json"), name="--out")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can see that /sys refuses new files despite os.access")
def test_a_directory_that_refuses_files_is_found_by_trying():
    with pytest.raises(ValueError, match="cannot write in the directory /sys"):
        check_writable("/sys/x.json")
    with pytest.raises(ValueError, match="cannot write in the directory /sys"):
        check_directory("/sys/sweeps")


@pytest.mark.parametrize("out", ["/dev/null/x.csv", "/sys/x.json", "{tmp}"])
def test_the_cli_refuses_a_bad_out_in_one_line_before_the_work(tmp_path, capsys, out):
    if out.startswith("/sys") and os.geteuid() != 0:
        pytest.skip("needs root to reach /sys's refusal")
    assert main(["error", *CYCLIC, "--p", "0.1", "--trials", "10", "--out", out.format(tmp=tmp_path)]) == 2
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == 1 and "error vs p" not in captured.err  # no work started
    assert not list(tmp_path.glob("*.tmp"))
