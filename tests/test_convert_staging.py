"""Every converter's output appears whole or not at all (armtwin.staging)."""

from __future__ import annotations

import pytest

from armtwin.staging import staged_dir, staged_file


def test_staged_dir_appears_only_when_complete_and_replaces_the_old_one(tmp_path):
    dest = tmp_path / "out" / "ds"
    with pytest.raises(RuntimeError, match="boom"):
        with staged_dir(dest) as tmp:
            (tmp / "half.parquet").write_text("x")
            raise RuntimeError("boom")
    assert not dest.exists() and list(dest.parent.iterdir()) == []
    with staged_dir(dest) as tmp:
        (tmp / "a").write_text("1")
    assert (dest / "a").read_text() == "1"
    with pytest.raises(KeyboardInterrupt):
        with staged_dir(dest) as tmp:
            (tmp / "b").write_text("2")
            raise KeyboardInterrupt
    assert sorted(p.name for p in dest.parent.iterdir()) == ["ds"] and (dest / "a").exists()  # untouched
    with staged_dir(dest) as tmp:
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in dest.iterdir()) == ["b"]  # swapped for the new one
    assert sorted(p.name for p in dest.parent.iterdir()) == ["ds"]  # no temp or old copy left


def test_staged_file_replaces_only_on_success(tmp_path):
    dest = tmp_path / "out.h5"
    dest.write_text("old")
    with pytest.raises(ValueError):
        with staged_file(dest) as tmp:
            assert tmp.exists() and tmp.parent == dest.parent and tmp.suffix == ".h5"
            tmp.write_text("half")
            raise ValueError
    assert dest.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.h5"]
    with staged_file(dest, exists=False) as tmp:
        assert not tmp.exists()
        tmp.write_text("new")
    assert dest.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["out.h5"]
