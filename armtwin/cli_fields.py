"""What the commands share about their options: flags derived from a config's dataclass fields
(:func:`add_field`, :func:`field_values`), and checks of option values applied when a config is built
(before anything is opened or written), each raising ValueError that names the option and the accepted
values."""

from __future__ import annotations

import dataclasses
import math
import types
import typing


def _field(config_cls, name: str) -> dataclasses.Field:
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    if name not in fields:
        raise KeyError(f"{config_cls.__name__} has no field {name!r}; fields: {', '.join(fields)}")
    return fields[name]


def comma_list(text: str) -> tuple[str, ...]:
    """``"a,b"`` -> ``("a", "b")``; empty items are dropped (``""`` -> ``()``). The option type of a
    ``tuple[str, ...]`` field."""
    return tuple(c for c in text.split(",") if c)


def _shown(default) -> str:
    """How a default reads in a help's ``[...]``: a tuple of ints as ``HxW``, of strings as ``a,b``."""
    if isinstance(default, tuple):
        sep = "x" if default and all(isinstance(v, int) for v in default) else ","
        return sep.join(str(v) for v in default)
    return str(default)


def _kind(hint):
    """The option type of a field's annotation: its bool/int/float/str (a ``Path`` is a str), a
    ``tuple[str, ...]`` a :func:`comma_list`; anything else is taken as text."""
    members = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    for t in members:
        if t in (bool, int, float, str):
            return t
        if typing.get_origin(t) is tuple and typing.get_args(t) == (str, ...):
            return comma_list
    return str


def add_field(parser, config_cls, name: str, help: str | None, **kwargs) -> None:
    """``--<name with dashes>`` for the dataclass field ``name`` of ``config_cls``: its default and value
    type come from the field (so they are written once, in the config), its help gets ``[default]``
    (a tuple default as ``HxW`` or ``a,b``).

    A bool field becomes a switch (``store_true``); ``kwargs`` go to ``add_argument`` (e.g. ``choices``,
    ``metavar``, ``required``), a ``type`` there replaces the field's (e.g. a parser of ``HxW`` sizes)."""
    f = _field(config_cls, name)
    default = f.default if f.default is not dataclasses.MISSING else None
    kind = kwargs.pop("type", None) or _kind(typing.get_type_hints(config_cls)[name])
    flag = "--" + name.replace("_", "-")
    if kind is bool:
        parser.add_argument(flag, dest=name, action="store_true", default=bool(default), help=help, **kwargs)
        return
    text = " ".join(t for t in (help, None if default is None else f"[{_shown(default)}]") if t) or None
    parser.add_argument(flag, dest=name, type=kind, default=default, help=text, **kwargs)


def field_values(args, config_cls, names) -> dict:
    """``{name: args.<name>}`` for the fields :func:`add_field` added: the config's keyword arguments."""
    return {n: getattr(args, _field(config_cls, n).name) for n in names}


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
