"""Where outputs are written, and how.

- :func:`check_output`: the one rule every writing command applies when its config is built: an
  output never is, contains or lies inside one of its inputs (whatever ``--overwrite`` says), an
  existing output is replaced only with ``overwrite``, and a file output is not a directory.
- :func:`staged_file` / :func:`staged_dir`: outputs are built under a temporary name beside their
  destination and moved into place only when complete: a failure or bad input leaves nothing
  behind, and an existing output is replaced only by a finished one (same filesystem, so the final
  step is a rename). Temporary names carry the writer's pid (``.<name>.tmp-<pid>-<random>``), so
  the next writer into the same directory removes what a killed run (``kill -9``) left behind
  (:func:`reclaim_stale`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

#: Temporary entries of this module: ``.<name>.tmp-<pid>-<random>[suffix]`` / ``.<name>.old-<pid>-<random>``.
_STAGED = re.compile(r"^\..+\.(?:tmp|old)-(\d+)-[A-Za-z0-9_]{6,}(?:\.[A-Za-z0-9]+)?$")


class OutputError(ValueError):
    """An output path that must not be written: it is an input, holds one, or exists without overwrite."""


def _real(p) -> Path:
    return Path(os.path.realpath(os.path.expanduser(str(p))))


def _same(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)  # hard links, bind mounts
    except OSError:
        return False


def check_output(out, inputs: Iterable = (), *, overwrite: bool = False, kind: str = "file",
                 what: str = "output", error: type[Exception] = OutputError) -> Path:
    """Refuse an output that would destroy or block; returns ``out`` as a Path.

    out: the path to write (file or directory, per ``kind``: "file" | "dir"). inputs: paths the
    command reads (files or directories; missing ones are still compared by name). overwrite: an
    existing ``out`` may be replaced (or appended to, for a resume). Raises ``error`` (default
    :class:`OutputError`, a ValueError) naming the path when ``out`` is an input, contains one
    (a directory above it) or lies inside one; when it exists and ``overwrite`` is False; when a file
    output is an existing directory (or a directory output an existing file).
    """
    if kind not in ("file", "dir"):
        raise ValueError(f"kind must be 'file' or 'dir', got {kind!r}")
    out = Path(out)
    ro = _real(out)
    for inp in inputs:
        if inp is None:
            continue
        ri = _real(inp)
        if _same(ro, ri):
            raise error(f"{what} {out} is the input {inp}; writing it would destroy the input: choose another {what}")
        if ri.is_relative_to(ro):
            raise error(f"{what} {out} contains the input {inp}; replacing it would destroy the input: "
                        f"choose another {what}")
        if ro.is_relative_to(ri):
            raise error(f"{what} {out} lies inside the input {inp}; choose another {what}, outside it")
    if kind == "file" and out.is_dir():
        raise error(f"{what} {out} is a directory; give a file path")
    if kind == "dir" and out.exists() and not out.is_dir():
        raise error(f"{what} {out} is a file; give a directory path")
    if out.exists() and not overwrite:
        raise error(f"{what} {out} already exists (pass --overwrite to replace it)")
    return out


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def reclaim_stale(directory) -> list[Path]:
    """Remove this module's temporary entries in ``directory`` whose writer (the pid in the name) is
    dead; returns what was removed. Entries of live writers, and anything else, are left alone."""
    removed = []
    try:
        entries = list(Path(directory).iterdir())
    except OSError:
        return removed
    for p in entries:
        m = _STAGED.match(p.name)
        if m is None or _pid_alive(int(m.group(1))):
            continue
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
        except OSError:
            pass
    return removed


def _prefix(name: str, tag: str) -> str:
    return f".{name}.{tag}-{os.getpid()}-"


@contextmanager
def staged_dir(dest: Path, *, nested: bool = False) -> Iterator[Path]:
    """Yields an empty temporary directory beside ``dest``; on a clean exit it becomes ``dest`` (an
    existing ``dest`` is swapped out, then removed); on an error it is removed. ``nested`` True: yields
    instead the free path ``<temporary directory>/<dest.name>`` (not created), for writers that create
    the directory themselves and name what is inside after it (rosbags' Writer: ``run/run.mcap``)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    reclaim_stale(dest.parent)
    stage = Path(tempfile.mkdtemp(prefix=_prefix(dest.name, "tmp"), dir=dest.parent))
    tmp = stage / dest.name if nested else stage
    try:
        yield tmp
        if dest.exists():
            old = Path(tempfile.mkdtemp(prefix=_prefix(dest.name, "old"), dir=dest.parent))
            dest.rename(old / "d")
            tmp.rename(dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(dest)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    if nested:
        shutil.rmtree(stage, ignore_errors=True)  # emptied by the rename


@contextmanager
def staged_file(dest: Path, *, exists: bool = True) -> Iterator[Path]:
    """Yields a temporary file path beside ``dest`` (same suffix); on a clean exit it replaces ``dest``,
    on an error it is deleted. ``exists`` False: the path is free (for writers that refuse to open an
    existing file). A writer that decides to write nothing deletes the temporary path (or, with
    ``exists`` False, never creates it): ``dest`` is then left as it was."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    reclaim_stale(dest.parent)
    fd, name = tempfile.mkstemp(prefix=_prefix(dest.stem, "tmp"), suffix=dest.suffix, dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    if not exists:
        tmp.unlink()
    try:
        yield tmp
        if tmp.exists():
            tmp.replace(dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
