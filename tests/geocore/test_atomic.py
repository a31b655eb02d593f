import os

import pytest

from geocore.atomic import atomic_output, check_output_path
from geocore.errors import OutputExistsError, OutputWriteError


def test_writes_and_moves_into_place(tmp_path):
    target = tmp_path / "out.csv"
    with atomic_output(target) as tmp:
        assert tmp.suffix == ".csv" and tmp != target
        tmp.write_text("a")
        assert not target.exists()
    assert target.read_text() == "a"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_refuses_existing_without_overwrite(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("keep me")
    with pytest.raises(OutputExistsError, match="already exists; pass --overwrite"):
        with atomic_output(target):
            pass
    assert target.read_text() == "keep me"
    with atomic_output(target, overwrite=True) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"


def test_failure_leaves_nothing_behind(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(target, overwrite=True) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_bad_folders(tmp_path):
    with pytest.raises(OutputWriteError, match="does not exist; create it first"):
        check_output_path(tmp_path / "missing" / "out.csv")
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    with pytest.raises(OutputWriteError, match="is not a folder"):
        check_output_path(afile / "out.csv")
    with pytest.raises(OutputWriteError, match="it is a folder"):
        check_output_path(tmp_path)


def test_unwritable_folder(tmp_path):
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o500)
    elif os.path.isdir("/proc/self"):
        folder = "/proc/self"  # even root cannot create files here
    else:  # pragma: no cover
        pytest.skip("no folder that is unwritable for this user")
    with pytest.raises(OutputWriteError, match="cannot write in folder"):
        with atomic_output(os.path.join(folder, "out.csv")):
            pass
