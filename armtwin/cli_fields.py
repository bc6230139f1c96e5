"""Checks of option values the commands share, applied when a config is built (before anything is
opened or written), each raising ValueError that names the option and the accepted values."""

from __future__ import annotations

import math


def check_image_size(size, *, what: str = "--image-size") -> tuple[int, int] | None:
    """(H, W) camera size as the sim renders it (the range :class:`armtwin.envs.config.EnvConfig`
    accepts), or None. Returns the size as ints."""
    if size is None:
        return None
    from armtwin.envs.config import EnvConfig

    try:
        values = tuple(size)
    except TypeError:
        raise ValueError(f"{what}: expected (height, width), got {size!r}") from None
    if any(isinstance(v, float) and not float(v).is_integer() for v in values):
        raise ValueError(f"{what}: sides must be whole pixels, got {size!r}")
    try:
        return EnvConfig(image_size=tuple(int(v) for v in values)).image_size
    except (ValueError, TypeError) as e:
        raise ValueError(f"{what}: {e}") from None


def check_count(value, *, what: str, minimum: int = 1, optional: bool = True) -> int | None:
    """An integer >= ``minimum`` (None allowed when ``optional``)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


def check_number(value, *, what: str, minimum: float | None = None, exclusive: bool = False,
                 optional: bool = True) -> float | None:
    """A finite number (>= ``minimum``, or > with ``exclusive``); None allowed when ``optional``."""
    if value is None and optional:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    if minimum is not None and (v <= minimum if exclusive else v < minimum):
        raise ValueError(f"{what} must be {'>' if exclusive else '>='} {minimum:g}, got {value!r}")
    return v
