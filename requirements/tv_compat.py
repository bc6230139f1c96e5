"""Let the pure-Python parts of torchvision import on a CPU-only torch.

The registry's torchvision 0.28.0 is a CUDA build whose compiled extension
cannot load on torch 2.13.0+cpu, and its import then dies on
``operator torchvision::nms does not exist`` (``../shared/notes/stack.md``).
Declaring the two op schemas it looks up lets ``models.resnet18``,
``transforms.v2`` and ``ops.misc.FrozenBatchNorm2d`` (all ACT and Diffusion
need) import; compiled ops still fail loudly if called.

An environment workaround for this machine's pins (``constraints.txt``), not part
of armtwin: ``dev.sh`` copies this file into the virtual environment's
site-packages as the module ``armtwin_tv_compat`` plus an ``armtwin_tv_compat.pth``
that calls :func:`install`, so it covers every process of that environment,
LeRobot's own CLIs (``lerobot-train``) included. ``tests/conftest.py`` installs it
too (from this file when the environment lacks it). The hook costs nothing until
something imports torchvision, and does nothing where torch is not installed.
"""

from __future__ import annotations

import importlib.abc
import sys

_DONE = False


def declare_missing_ops() -> None:
    """Declare ``torchvision::nms`` / ``qnms`` schemas if the compiled library did not."""
    global _DONE
    if _DONE:
        return
    _DONE = True
    try:
        import torch
    except ImportError:  # no torch, so no torchvision to help
        return

    try:
        torch.ops.torchvision.nms  # noqa: B018 - probing whether the op exists
        return
    except (AttributeError, RuntimeError):
        pass
    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    # Keep the library object alive: dropping it unregisters the schemas.
    sys.modules[__name__]._LIB = lib


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname == "torchvision":
            sys.meta_path.remove(self)
            declare_missing_ops()
        return None


def install() -> None:
    """Declare the ops right before torchvision is first imported (no-op once it is)."""
    if "torchvision" not in sys.modules and not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
