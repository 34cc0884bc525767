"""Files written atomically get the mode the user's umask gives, like a plain open()."""

from __future__ import annotations

import os
import stat

import pytest

from nasspace.atomic import atomic_path, current_umask, write_json_atomic, write_text_atomic


@pytest.fixture
def umask():
    """Set a umask for one test and restore the process's afterwards."""
    saved = os.umask(0o022)
    os.umask(saved)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(saved)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_writes_follow_umask(tmp_path, umask, mask, mode):
    umask(mask)
    assert current_umask() == mask
    json_file = write_json_atomic(tmp_path / "config.json", {"a": 1})
    text_file = write_text_atomic(tmp_path / "table.md", "x\n")
    with atomic_path(tmp_path / "model.pt") as tmp:  # as torch.save / savefig use it
        tmp.write_bytes(b"weights")
    plain = tmp_path / "plain.txt"
    plain.write_text("y")
    for path in (json_file, text_file, tmp_path / "model.pt", plain):
        assert stat.S_IMODE(path.stat().st_mode) == mode, path.name


def test_replacing_keeps_umask_mode(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "summary.json"
    target.write_text("old")
    target.chmod(0o600)  # an old private file is replaced by a shareable one
    write_json_atomic(target, {"b": 2})
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
