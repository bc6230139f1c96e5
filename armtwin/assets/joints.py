"""Joint-table lookups every robot's constants module offers (``joint_index``, ``lower_limits``,
``upper_limits``), written once; each ``<robot>_constants`` binds them to its own names and limits."""

from __future__ import annotations


def index_of(name: str, names: tuple[str, ...], robot: str) -> int:
    """Index of joint ``name`` in ``names``; raises KeyError naming ``robot`` and listing the valid names."""
    try:
        return names.index(name)
    except ValueError:
        raise KeyError(f"unknown {robot} joint {name!r}; valid joints: {', '.join(names)}") from None


def limit_array(limits: dict[str, tuple[float, float]], names: tuple[str, ...], side: int):
    """(len(names),) float, radians, ``names`` order: the lower (``side`` 0) or upper (1) limits."""
    import numpy as np

    return np.array([limits[n][side] for n in names])
