"""The converters' view of armtwin recordings: validation through :mod:`armtwin.data`, their error type.

Every converter validates its whole input with :func:`scan_recordings` (``armtwin.data``'s validator)
before it writes anything: a missing key, mismatched lengths, a corrupt file or inconsistent cameras
raise :class:`ConvertError` naming the file, the demo and what is wrong. Nothing here imports torch
or LeRobot.
"""

from __future__ import annotations

from armtwin.assets import so101_constants as C
from armtwin.data import EpisodeRef, RecordingError, RecordingScan  # noqa: F401 - the converters' input types
from armtwin.data import scan_recordings as _scan


class ConvertError(RecordingError):
    """Bad input to a converter: the message says which file/demo/key and what was expected."""


def scan_recordings(paths, **kwargs) -> RecordingScan:
    """:func:`armtwin.data.scan_recordings`, its errors raised as ConvertError."""
    try:
        return _scan(paths, **kwargs)
    except ConvertError:
        raise
    except RecordingError as e:
        raise ConvertError(str(e)) from None


def order_cameras(names) -> list[str]:
    """Camera names in ``C.CAMERA_NAMES`` order first, then any others sorted."""
    names = list(names)
    return [c for c in C.CAMERA_NAMES if c in names] + sorted(c for c in names if c not in C.CAMERA_NAMES)
