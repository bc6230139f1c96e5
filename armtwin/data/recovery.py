"""What resume does with episodes a crash left in ``/incomplete`` (see :mod:`armtwin.data.writer`).

Episodes a crash left in ``/incomplete/demo_<i>`` are moved to ``/incomplete/crashed_<k>``
(reported; an episode with no flushed step is dropped). A kill in the middle of a flush can leave the
interrupted episode's own metadata half-written; then the whole ``/incomplete`` group is renamed
``/damaged_incomplete_<k>`` untouched and a fresh one is made. ``/data`` is never touched here.
"""

from __future__ import annotations

import logging
from pathlib import Path

import h5py

from armtwin.data.schema import CRASHED_RE, INCOMPLETE, sort_demo_names

log = logging.getLogger(__name__)


def scan_incomplete(path: Path) -> tuple[dict[str, int], str | None]:
    """Read-only look at /incomplete: ({leftover demo name: flushed rows}, damage description or None).

    Read-only on purpose: touching a half-written object in write mode would make HDF5 try to
    write it back on close."""
    leftovers: dict[str, int] = {}
    damaged = None
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise OSError(f"cannot open recording {path}: {e}") from None
    try:
        if INCOMPLETE in f:
            inc = f[INCOMPLETE]
            for name in sort_demo_names(inc.keys()):  # crashed_<k> numbers follow the demo numbers
                n = inc[name]
                leftovers[name] = int(n["actions"].shape[0]) if "actions" in n else 0
                n.visititems(lambda _, obj: None)  # every object must open (None: keep visiting)
    except Exception as e:  # noqa: BLE001 - any HDF5 error here means half-written metadata
        damaged = str(e)
    finally:
        try:
            f.close()
        except Exception:  # noqa: BLE001 - closing damaged objects read-only changes nothing on disk
            pass
    return leftovers, damaged


def recover_incomplete(f: h5py.File, path: Path, leftovers: dict[str, int], damaged: str | None, *,
                       keep: bool) -> list[str]:
    """Set aside (``keep``) or drop the leftovers found by :func:`scan_incomplete`; returns the
    ``/incomplete/crashed_<k>`` groups made."""
    if damaged is not None:
        # Renaming a link changes only the root's index; deleting it would make HDF5 walk
        # (and fail on) the damaged objects to free them.
        k = 0
        while f"damaged_{INCOMPLETE}_{k}" in f:
            k += 1
        f.move(INCOMPLETE, f"damaged_{INCOMPLETE}_{k}")
        f.create_group(INCOMPLETE)
        log.warning("%s: an interrupted episode in /incomplete is unreadable (%s); moved /incomplete to "
                    "/damaged_incomplete_%d", path, damaged, k)
        return []
    recovered: list[str] = []
    inc = f.require_group(INCOMPLETE)
    taken = [int(m.group(1)) for k in inc.keys() if (m := CRASHED_RE.match(k))]
    k = max(taken, default=-1) + 1
    for name, rows in leftovers.items():
        if rows == 0:  # interrupted before its first flush: nothing to keep
            del inc[name]
        elif keep:
            dst = f"crashed_{k}"
            inc.move(name, dst)
            inc[dst].attrs["flushed_steps"] = rows
            recovered.append(f"/{INCOMPLETE}/{dst}")
            log.warning("%s: an episode interrupted before it finished (%d flushed steps) was kept as "
                        "/incomplete/%s", path, rows, dst)
            k += 1
        else:
            del inc[name]
            log.warning("%s: removed an interrupted episode (%d flushed steps)", path, rows)
    return recovered
