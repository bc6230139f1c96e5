"""New recordings made from existing ones: merges, annotated or filtered copies, edited copies.

:func:`write_subset` and :func:`edited_copy` never edit an input: it builds the output under a temporary name beside it and
renames it into place when complete (:mod:`armtwin.staging`), so a failure leaves nothing behind.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import h5py

from armtwin.data.reader import RecordingError
from armtwin.data.schema import DATA, attr_value, demo_name, sort_demo_names
from armtwin.data.writer import init_file
from armtwin.staging import staged_file


def write_subset(
    out: str | Path,
    demos: Sequence[tuple[str | Path, str]],
    *,
    like: str | Path | None = None,
    env_args: Mapping[str, Any] | None = None,
    fps: float | None = None,
    renumber: bool = True,
    demo_attrs: Mapping[str, Mapping[str, Any]] | None = None,
    data_attrs: Mapping[str, Any] | None = None,
    keep_other_groups: bool = False,
) -> Path:
    """Write ``out``: the demos ``[(recording path, demo name), ...]`` in that order.

    like: a recording whose ``/data`` attributes the output takes (else a fresh /data with
    ``env_args`` and ``fps``); with ``keep_other_groups`` its other top-level groups (``/incomplete``,
    producer metadata) are copied too. renumber: name the output's demos ``demo_0..`` in order (else
    keep their names; they must then be distinct). demo_attrs: extra attributes per *input* demo name.
    data_attrs: extra ``/data`` attributes. ``total`` is recomputed. Returns ``out``.
    """
    out = Path(out)
    names = [demo_name(k) if renumber else str(name) for k, (_, name) in enumerate(demos)]
    if len(set(names)) != len(names):
        raise ValueError(f"demo names repeat in the output: {names}; pass renumber=True")
    if like is None and fps is None:
        raise ValueError("write_subset needs `like` (a recording to take /data's attributes from) or `fps`")
    with staged_file(out, exists=False) as tmp, h5py.File(tmp, "w") as f:
        if like is None:
            init_file(f, env_args=env_args, fps=float(fps))
        else:
            with _open(like) as src:
                data = f.create_group(DATA)
                for k, v in src[DATA].attrs.items():
                    data.attrs[k] = v
                if keep_other_groups:
                    for k in src.keys():
                        if k != DATA:
                            src.copy(src[k], f, name=k)
        data = f[DATA]
        total = 0
        handles: dict[str, h5py.File] = {}
        try:
            for (path, name), new in zip(demos, names):
                src = handles.get(str(path))
                if src is None:
                    src = handles[str(path)] = _open(path)
                if name not in src[DATA]:
                    raise RecordingError(f"{path} has no demo {name!r}")
                src.copy(src[DATA][name], data, name=new)
                g = data[new]
                for k, v in (demo_attrs or {}).get(name, {}).items():
                    g.attrs[k] = v
                total += int(g.attrs.get("num_samples", g["actions"].shape[0] if "actions" in g else 0))
        finally:
            for h in handles.values():
                h.close()
        data.attrs["total"] = total
        for k, v in (data_attrs or {}).items():
            data.attrs[k] = v
    return out


def _open(path: str | Path) -> h5py.File:
    try:
        f = h5py.File(path, "r")
    except (OSError, FileNotFoundError) as e:
        raise RecordingError(f"{path}: not a readable HDF5 file ({e})") from None
    if DATA not in f:
        f.close()
        raise RecordingError(f"{path} is not an armtwin/robomimic recording: it has no /{DATA} group")
    return f


class RecordingEditor:
    """Writable access to a staged copy of a recording (see :func:`edited_copy`); keys as in :class:`DemoView`."""

    def __init__(self, f: h5py.File):
        self._f = f

    @property
    def demo_names(self) -> list[str]:
        return sort_demo_names(self._f[DATA].keys())

    def has(self, demo: str, key: str) -> bool:
        return key in self._f[DATA][demo]

    def read(self, demo: str, key: str):
        return self._f[DATA][demo][key][()]

    def shape(self, demo: str, key: str) -> tuple[int, ...]:
        return tuple(self._f[DATA][demo][key].shape)

    def put(self, demo: str, key: str, value) -> None:
        """Write ``value`` (an array) at ``key`` of ``demo``, replacing what was there."""
        g = self._f[DATA][demo]
        if key in g:
            del g[key]
        g[key] = value

    def delete(self, demo: str, key: str) -> None:
        del self._f[DATA][demo][key]

    def data_attr(self, name: str, default=None):
        return attr_value(self._f[DATA].attrs.get(name, default))

    def set_data_attrs(self, attrs: Mapping[str, Any]) -> None:
        for k, v in attrs.items():
            self._f[DATA].attrs[k] = v


@contextmanager
def edited_copy(src: str | Path, out: str | Path) -> Iterator[RecordingEditor]:
    """A copy of recording ``src`` (every group and attribute) to edit; it becomes ``out`` when the block
    ends without an error, and is removed otherwise (``src`` is never written)."""
    with staged_file(Path(out)) as tmp:
        with _open(src) as fin, h5py.File(tmp, "w") as fout:
            for k, v in fin.attrs.items():
                fout.attrs[k] = v
            for name in fin:
                fin.copy(fin[name], fout, name)
            yield RecordingEditor(fout)
