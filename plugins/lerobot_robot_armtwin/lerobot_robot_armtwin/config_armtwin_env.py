"""LeRobot env type ``armtwin``: ``lerobot-eval --env.type=armtwin --env.task=SO101-PickPlace-v0``.

LeRobot's ``make_env`` imports :attr:`ArmtwinEnv.package_name` (:mod:`armtwin.envs.lerobot_view`, which
registers ``armtwin_lerobot/<task>``) and calls ``gym.make(gym_id, **gym_kwargs)``; the view returns
``agent_pos`` and ``pixels/<camera>`` in the units of ``armtwin convert lerobot`` datasets, which
LeRobot renames to ``observation.state`` / ``observation.images.<camera>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.envs.configs import EnvConfig
from lerobot.utils.constants import ACTION, OBS_IMAGES, OBS_STATE

from armtwin.assets import so101_constants as C

OBS_TYPES = ("pixels_agent_pos", "agent_pos")


@EnvConfig.register_subclass("armtwin")
@dataclass
class ArmtwinEnv(EnvConfig):
    """The armtwin twin as a LeRobot evaluation env (``--env.<field>``).

    task: armtwin task, ``SO101-Lift-v0`` style (``armtwin envs`` lists them; the ``armtwin/`` prefix is
    optional). fps: control rate (30 = the datasets' rate). episode_length: horizon, env steps.
    obs_type: ``pixels_agent_pos`` (state + cameras) or ``agent_pos`` (state only).
    observation_height/observation_width: camera frames, pixels (match the policy's dataset).
    camera_names: cameras rendered, names as in the dataset (``observation.images.<name>``).
    reset_distribution: ``D0`` or ``D1``. terminate_on_success: end the episode on success (LeRobot
    reads ``is_success`` at the episode's end). use_degrees/calibration_file: the units of the
    policy's dataset (``armtwin convert lerobot --use-degrees/--range-m100-100 --calibration``).
    """

    task: str | None = "SO101-PickPlace-v0"
    fps: int = 30
    episode_length: int = 300
    obs_type: str = "pixels_agent_pos"
    observation_height: int = 128
    observation_width: int = 128
    camera_names: list[str] = field(default_factory=lambda: ["front", "wrist"])
    reset_distribution: str = "D0"
    terminate_on_success: bool = True
    use_degrees: bool = True
    calibration_file: str | None = None
    render_mode: str = "rgb_array"
    features: dict[str, PolicyFeature] = field(default_factory=dict)
    features_map: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        from armtwin.envs.lerobot_view import armtwin_id

        if self.task is None:
            raise ValueError("--env.task is required (e.g. SO101-PickPlace-v0)")
        self._env_id = armtwin_id(self.task)  # ValueError listing the valid tasks
        if self.obs_type not in OBS_TYPES:
            raise ValueError(f"obs_type must be one of {OBS_TYPES}, got {self.obs_type!r}")
        bad = [c for c in self.camera_names if c not in C.CAMERA_NAMES]
        if bad or (self.obs_type == "pixels_agent_pos" and not self.camera_names):
            raise ValueError(f"camera_names must be a non-empty subset of {C.CAMERA_NAMES}, got {self.camera_names}")
        if not 1 <= self.fps <= 1000:
            raise ValueError(f"fps must be in 1..1000, got {self.fps}")
        if self.episode_length < 1:
            raise ValueError(f"episode_length must be >= 1, got {self.episode_length}")
        self.features = {
            ACTION: PolicyFeature(type=FeatureType.ACTION, shape=(C.NUM_JOINTS,)),
            "agent_pos": PolicyFeature(type=FeatureType.STATE, shape=(C.NUM_JOINTS,)),
        }
        self.features_map = {ACTION: ACTION, "agent_pos": OBS_STATE}
        if self.obs_type == "pixels_agent_pos":
            for cam in self.camera_names:
                key = f"pixels/{cam}"
                self.features[key] = PolicyFeature(
                    type=FeatureType.VISUAL, shape=(self.observation_height, self.observation_width, 3)
                )
                self.features_map[key] = f"{OBS_IMAGES}.{cam}"

    @property
    def package_name(self) -> str:
        """The module ``make_env`` imports when the id is not registered yet (it registers the views)."""
        return "armtwin.envs.lerobot_view"

    @property
    def gym_id(self) -> str:
        from armtwin.envs.lerobot_view import NAMESPACE

        return f"{NAMESPACE}/{self._env_id.split('/', 1)[1]}"

    @property
    def gym_kwargs(self) -> dict:
        kwargs = {
            "image_size": (self.observation_height, self.observation_width) if self.obs_type == "pixels_agent_pos"
            else None,
            "cameras": tuple(self.camera_names) or C.CAMERA_NAMES,
            "reset_distribution": self.reset_distribution,
            "episode_length": self.episode_length,
            "terminate_on_success": self.terminate_on_success,
            "render_mode": self.render_mode,
            "use_degrees": self.use_degrees,
            "calibration_file": self.calibration_file,
        }
        if self.fps != round(1.0 / C.CTRL_DT):
            # Keep the physics step near the default one while making it divide the control period.
            ctrl_dt = 1.0 / self.fps
            kwargs["ctrl_dt"] = ctrl_dt
            kwargs["sim_dt"] = ctrl_dt / max(1, round(ctrl_dt / C.SIM_DT))
        return kwargs
