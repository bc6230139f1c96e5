"""Scene layout and generation settings the task modules share.

Layout: table top at z = 0, arm base at the origin, the workspace in front (+x). Reset distributions:
``D0`` narrow (objects jittered by ~1.5 cm and a few degrees around a nominal layout), ``D1`` wide
(objects anywhere in the reachable ring 14-25 cm from the base, +-0.7 rad about +x, any yaw up to the
object's symmetry). Sizes in metres, masses in kg.
"""

from __future__ import annotations

import math

import numpy as np

from armtwin.assets.scene import ObjectSpec

#: The 9 cm plate of PickPlace and Sandwich.
PLATE = ObjectSpec("plate", "cylinder", (0.045, 0.005), (0.92, 0.92, 0.95, 1.0), 0.15, (1.0, 0.01, 0.0001))

#: The OMX's 8 cm plate (its PickPlace): the SO-101's scaled to the OMX's smaller workspace.
OMX_PLATE = ObjectSpec("plate", "cylinder", (0.04, 0.005), (0.92, 0.92, 0.95, 1.0), 0.12, (1.0, 0.01, 0.0001))
#: The OMX's D1 ring, metres from the base: where it reaches the table top-down (IK on the twin: 8-24 cm
#: at grasp height, the elbow's lower limit bounds it), less a margin on each side.
OMX_RING: tuple[float, float] = (0.11, 0.21)

#: Steps added to the end of a grasp subtask (MimicGen uses (10, 20) on its Stack): the next,
#: object-to-object segment then starts from the lifted carry pose, so the interpolation to it does
#: not drag the held object along the table (in D1 that stalled the arm on a third of PickPlace trials).
GRASP_OFFSET: tuple[int, int] = (15, 25)


def ring(rng: np.random.Generator, r=(0.14, 0.25), az=(-0.7, 0.7)) -> np.ndarray:
    """(2,) m: a uniform radius in ``r`` (m) and azimuth in ``az`` (rad about +x) around the base."""
    rr, a = rng.uniform(*r), rng.uniform(*az)
    return np.array([rr * math.cos(a), rr * math.sin(a)])


def jitter(rng: np.random.Generator, xy, d: float) -> np.ndarray:
    """(2,) m: ``xy`` plus a uniform offset in [-d, d] m on each axis."""
    return np.asarray(xy, float) + rng.uniform(-d, d, 2)
