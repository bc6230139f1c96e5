"""Let the pure-Python parts of torchvision import on a CPU-only torch.

The registry's torchvision 0.28.0 is a CUDA build whose compiled extension
cannot load on torch 2.13.0+cpu, and its import then dies on
``operator torchvision::nms does not exist`` (``../shared/notes/stack.md``).
Declaring the two op schemas it looks up lets ``models.resnet18``,
``transforms.v2`` and ``ops.misc.FrozenBatchNorm2d`` (all ACT and Diffusion
need) import; compiled ops still fail loudly if called.

Installed as an import hook by a ``.pth`` file that ``dev.sh`` writes into the
virtual environment, so it also covers LeRobot's own CLIs (``lerobot-train``).
The hook costs nothing until something imports torchvision.
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
    import torch

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
    if "torchvision" not in sys.modules and not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
