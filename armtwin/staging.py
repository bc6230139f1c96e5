"""Outputs are built under a temporary name beside their destination and moved into place only when
complete: a failure or bad input leaves nothing behind, and an existing output is replaced only by a
finished one (same filesystem, so the final step is a rename)."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def staged_dir(dest: Path) -> Iterator[Path]:
    """Yields an empty temporary directory beside ``dest``; on a clean exit it becomes ``dest`` (an
    existing ``dest`` is swapped out, then removed); on an error it is removed."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        yield tmp
        if dest.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
            dest.rename(old / "d")
            tmp.rename(dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextmanager
def staged_file(dest: Path, *, exists: bool = True) -> Iterator[Path]:
    """Yields a temporary file path beside ``dest`` (same suffix); on a clean exit it replaces ``dest``,
    on an error it is deleted. ``exists`` False: the path is free (for writers that refuse to open an
    existing file)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.stem}.tmp-", suffix=dest.suffix, dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    if not exists:
        tmp.unlink()
    try:
        yield tmp
        tmp.replace(dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
