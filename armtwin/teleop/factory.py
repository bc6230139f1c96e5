"""Build a teleoperation session from one config: the only place where ``sim`` and ``real`` differ.

``build_session(TeleopConfig(...))`` returns a :class:`Session` (leader, follower, side,
recorder, loop). The follower comes from :func:`armtwin.robots.factory.make_follower`, always
behind :class:`armtwin.robots.safety.SafeFollower` (joint limits, per-step clamp, watchdog, NaN
hold), sim or real alike; ``TARGETS`` maps ``--target`` to the function that builds it and its
:class:`EpisodeSide`; the leaders' builders (``LEADERS``, ``--leader``) are :mod:`armtwin.teleop.leader_builders`.
"""

from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from armtwin.cli_fields import check_count, check_image_size, check_number
from armtwin.staging import check_output
from armtwin.teleop.leader_builders import (
    ARM_LEADERS, LEADER_KINDS, LeaderBuilder, leader_builder,
)

TARGET_KINDS = ("sim", "real")
COMPRESSIONS = ("none", "gzip", "lzf")


@dataclass
class TeleopConfig:
    """Everything ``armtwin teleop`` needs.

    env_id: the sim task (also names the task of real recordings; None: the first task of ``robot``).
    robot: the arm (``armtwin.robots.registry``; None: the env's); it must be the env's arm, and an arm
    leader (``--leader so101|omx``) must be the same arm. leader: one of LEADER_KINDS.
    target: "sim" or "real". port / leader_id / leader_calibration_dir: the SO-101 leader arm and
    its LeRobot calibration (``<dir>/<id>.json``). follower_port / follower_id /
    follower_calibration_dir: the real follower. restore_calibration: a real arm left by an unfinished
    lerobot-calibrate gets its file written back to its motors (``RealFollowerConfig``). replay / replay_demo: HDF5 file and episode for
    ``--leader replay``. net_listen: "HOST:PORT" for ``--leader net``. policy / policy_device: the LeRobot
    pretrained directory and torch device for ``--leader policy`` (``armtwin run``); policy_server: "HOST:PORT"
    of LeRobot's async inference server that runs it instead. real_cameras: ``{camera: LeRobot CameraConfig}``
    of the real follower (``armtwin.robots.factory.opencv_cameras`` / ``twin_cameras``). record: HDF5 output (None:
    do not record). episodes, episode_steps, duration_s, hz, reset_s: see LoopConfig. image_size:
    (H, W) sim camera frames, None for none. hz None: the replayed recording's fps, else 30. expert_noise: scripted leader noise.
    """

    env_id: str | None = None
    robot: str | None = None
    leader: str = "keyboard"
    target: str = "sim"
    port: str | None = None
    leader_id: str | None = None
    leader_calibration_dir: str | Path | None = None
    follower_port: str | None = None
    follower_id: str | None = None
    follower_calibration_dir: str | Path | None = None
    restore_calibration: bool = False
    replay: str | Path | None = None
    replay_demo: int | str = 0
    net_listen: str = "127.0.0.1:5555"
    net_wait_s: float = 5.0
    policy: str | Path | None = None
    policy_device: str = "cpu"
    policy_server: str | None = None
    real_cameras: dict[str, Any] = field(default_factory=dict)
    record: str | Path | None = None
    resume: bool = False
    compression: str = "none"
    flush_every: int = 30
    episodes: int | None = None
    episode_steps: int | None = None
    duration_s: float | None = None
    hz: float | None = None  # None: the recording's fps for --leader replay, else 30
    reset_s: float | None = None
    seed: int | None = 0
    image_size: tuple[int, int] | None = (128, 128)
    use_degrees: bool | None = None  # None: the robot's LeRobot default (C.LEROBOT_USE_DEGREES)
    expert_noise: float = 0.0
    max_step_rad: float = 0.15
    print_summary: bool = True
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    #: --resume: the seed the next episode uses (after every seed in the file); set on construction.
    resume_seed: int | None = field(default=None, init=False)
    #: --leader net: the UDP leader's config (``net_listen``, ``net_wait_s``), built and checked on construction.
    net_leader: Any = field(default=None, init=False)

    def __post_init__(self):
        from armtwin.assets.models import robot_model
        from armtwin.envs import ENV_IDS, check_env_id, get_task

        if self.robot is not None:
            robot_model(self.robot)  # a clear error naming the valid robots
        if self.env_id is None:
            robot = self.robot or "so101"
            self.env_id = next(i for i in ENV_IDS if get_task(i).robot == robot)
        check_env_id(self.env_id)
        env_robot = get_task(self.env_id).robot
        if self.robot is not None and self.robot != env_robot:
            raise ValueError(f"--env {self.env_id} is a task of the {env_robot!r} arm, not --robot {self.robot!r}")
        self.robot = env_robot
        if self.leader in ARM_LEADERS and self.leader != self.robot:
            raise ValueError(f"--leader {self.leader} drives the {self.leader!r} arm; the follower is the {self.robot!r}"
                             f" (--leader {self.robot})")
        if self.use_degrees is None:
            self.use_degrees = robot_model(self.robot).C.LEROBOT_USE_DEGREES
        if self.leader not in LEADER_KINDS:
            raise ValueError(f"unknown leader {self.leader!r}; valid leaders: {', '.join(LEADER_KINDS)}")
        if self.target not in TARGET_KINDS:
            raise ValueError(f"unknown target {self.target!r}; valid targets: {', '.join(TARGET_KINDS)}")
        if self.compression not in COMPRESSIONS:
            raise ValueError(f"unknown compression {self.compression!r}; valid choices: {', '.join(COMPRESSIONS)}")
        if self.leader in ARM_LEADERS and not self.port:
            raise ValueError(f"--leader {self.leader} needs --port (the leader arm's serial port, e.g. /dev/ttyACM0)")
        if self.target == "real" and not self.follower_port:
            raise ValueError("--target real needs --follower-port (the follower arm's serial port)")
        if self.leader == "replay" and not self.replay:
            raise ValueError("--leader replay needs --replay FILE.h5 (and optionally --demo N)")
        if self.leader == "replay" and not Path(self.replay).is_file():
            raise FileNotFoundError(f"recording to replay not found: {self.replay}")
        if self.leader == "replay":
            _check_replay(self.replay, self.replay_demo)
        if self.leader == "policy" and not self.policy:
            raise ValueError("the policy leader needs a policy (armtwin run --policy PATH: a LeRobot pretrained_model "
                             "directory)")
        if "servo_calibration" in self.env_kwargs:
            if self.target != "sim":
                raise ValueError("--servo-calibration is for --target sim: it sets the twin's servo model, a real "
                                 "follower has its own servos")
            from armtwin.envs.servo import resolve_servo

            resolve_servo(self.env_kwargs["servo_calibration"])  # a bad file is named now, not at the first reset
        if self.leader == "scripted" and self.target != "sim":
            raise ValueError("--leader scripted needs --target sim: the expert plans from the simulated scene")
        if "randomize" in self.env_kwargs:
            from armtwin.envs.randomize_config import resolve_randomization

            try:
                resolve_randomization(self.env_kwargs["randomize"])  # now, not at the first reset
            except ValueError as e:
                raise ValueError(f"--{e}") from None
        self.image_size = check_image_size(self.image_size)
        check_count(self.seed, what="--seed", minimum=0)  # gymnasium's reset takes no negative seed
        check_count(self.episodes, what="--episodes")
        check_count(self.episode_steps, what="--episode-steps")
        check_count(self.flush_every, what="--flush-every", optional=False)
        check_number(self.duration_s, what="--duration", minimum=0, exclusive=True)
        check_number(self.reset_s, what="--reset-s", minimum=0)
        check_number(self.expert_noise, what="--expert-noise", minimum=0, optional=False)
        check_number(self.net_wait_s, what="net_wait_s", minimum=0, exclusive=True, optional=False)
        if self.leader == "net":
            from armtwin.teleop.net import NetLeaderConfig

            try:
                self.net_leader = NetLeaderConfig(listen=self.net_listen, wait_first_s=self.net_wait_s)
            except ValueError as e:
                raise ValueError(f"--listen: {e}") from None
        if self.resume and self.record is None:
            raise ValueError("--resume needs --record FILE.h5 (the recording to append to)")
        if self.record is not None:
            self.record = Path(self.record)
            if self.record.suffix not in (".h5", ".hdf5"):
                raise ValueError(f"--record must be an .h5 or .hdf5 file, got {str(self.record)!r}")
            if self.resume and not self.record.exists():
                raise FileNotFoundError(f"--resume: recording to append to not found: {self.record}")
            # --resume appends to the file; otherwise it must not exist (never replaced).
            check_output(self.record, [self.replay, self.policy], overwrite=self.resume, what="--record")
            if self.resume:
                self.resume_seed = _check_resume(self)
        if self.hz is None:
            self.hz = 30.0
            if self.leader == "replay":
                from armtwin.data import read_fps

                self.hz = read_fps(self.replay, 30.0)
        if not (1 <= self.hz <= 60):
            raise ValueError(f"--hz must be between 1 and 60, got {self.hz}")
        if self.max_step_rad <= 0 or not math.isfinite(self.max_step_rad):
            raise ValueError(f"max_step_rad must be > 0, got {self.max_step_rad}")


def _check_replay(path, demo) -> None:
    """The replayed demo exists and holds valid actions (RecordingError, one line, otherwise)."""
    from armtwin.data import ACTIONS_ONLY, RecordingError, check_demo, open_recording

    with open_recording(path) as rec:
        try:
            view = rec.demo(demo)
        except KeyError as e:
            raise RecordingError(e.args[0]) from None
        except ValueError as e:  # not a demo number or name
            raise RecordingError(f"{path}: bad --demo {demo!r}: {e}") from None
        check_demo(view, required=ACTIONS_ONLY)


def _check_resume(cfg: "TeleopConfig") -> int | None:
    """--resume: the file is a recording of this env (with this image size, in sim; the writer's own
    :func:`armtwin.data.check_resumable`); returns the seed to continue from (one past the largest
    recorded seed, at least ``cfg.seed``), None without seeds."""
    from armtwin.data import check_resumable, open_recording

    with open_recording(cfg.record) as rec:
        check_resumable(cfg.record, rec.env_args, env_id=cfg.env_id,
                        **({"image_size": cfg.image_size} if cfg.target == "sim" else {}))
        seeds = [int(v.attrs["seed"]) for v in rec if "seed" in v.attrs and int(v.attrs["seed"]) >= 0]
    if cfg.seed is None:
        return None
    return max([cfg.seed, *(s + 1 for s in seeds)])


@dataclass
class Session:
    leader: Any
    follower: Any  # the SafeFollower the loop drives
    side: Any
    recorder: Any
    loop: Any

    def close(self) -> None:
        """Disconnect both devices and close the recording (finished episodes are already on disk)."""
        for closer in (
            lambda: self.recorder is not None and self.recorder.close(),
            lambda: self.leader.is_connected and self.leader.disconnect(),
            lambda: self.follower.is_connected and self.follower.disconnect(),
        ):
            try:
                closer()
            except Exception as e:  # noqa: BLE001 - close everything we can
                import logging

                logging.getLogger(__name__).warning("while closing the session: %s", e)


# ------------------------------------------------------------------ followers (the sim/real switch)


def _sim_target(cfg: TeleopConfig):
    from armtwin.robots.factory import make_follower
    from armtwin.teleop.sides import SimSide

    env_kwargs = dict(cfg.env_kwargs)
    if cfg.episode_steps is not None:  # the env's horizon must not end episodes before the loop does
        env_kwargs.setdefault("max_episode_steps", cfg.episode_steps)
    built = make_follower(
        "sim", connect=False, env_id=cfg.env_id, rate_hz=cfg.hz, image_size=cfg.image_size,
        use_degrees=cfg.use_degrees, seed=cfg.seed, env_kwargs=env_kwargs, max_step_rad=cfg.max_step_rad,
    )
    return built, SimSide(built.device), 0.0


def _real_target(cfg: TeleopConfig):
    from armtwin.robots.factory import make_follower
    from armtwin.teleop.sides import RealSide

    built = make_follower(
        "real", connect=False, port=cfg.follower_port, robot_id=cfg.follower_id,
        calibration_dir=cfg.follower_calibration_dir, use_degrees=cfg.use_degrees, max_step_rad=cfg.max_step_rad,
        real_cameras=dict(cfg.real_cameras), restore_calibration=cfg.restore_calibration,
        robot=cfg.robot,
    )
    converter = built.converter
    from armtwin.data import make_env_args

    env_args = make_env_args(cfg.env_id, {"ctrl_dt": 1.0 / cfg.hz})
    from armtwin.envs import get_task

    side = RealSide(converter, instruction=get_task(cfg.env_id).description, env_args=env_args)
    return built, side, 10.0


#: --target -> builder returning (BuiltFollower from armtwin.robots.factory.make_follower, its
#: EpisodeSide, default reset period in s).
TARGETS: dict[str, Callable[[TeleopConfig], tuple]] = {"sim": _sim_target, "real": _real_target}


def build_session(cfg: TeleopConfig, *, builders: Mapping[str, LeaderBuilder] | None = None) -> Session:
    """Follower (SafeFollower around sim or real), its side, the leader, the recorder and the loop.

    builders: leader kinds built outside teleop (``armtwin.policy.leader.POLICY_LEADERS`` for
    ``--leader policy``), merged over :data:`~armtwin.teleop.leader_builders.LEADERS`."""
    from armtwin.teleop.loop import ControlLoop, LoopConfig
    from armtwin.data import Recorder, RecorderConfig

    built, side, default_reset_s = TARGETS[cfg.target](cfg)
    follower = built.follower
    leader = leader_builder(cfg.leader, builders)(cfg, follower, side)
    loop_cfg = LoopConfig(
        hz=cfg.hz,
        episodes=cfg.episodes,
        episode_steps=cfg.episode_steps,
        duration_s=cfg.duration_s,
        reset_s=default_reset_s if cfg.reset_s is None else cfg.reset_s,
        seed=cfg.seed if cfg.resume_seed is None else cfg.resume_seed,
        print_summary=cfg.print_summary,
    )
    recorder = None
    if cfg.record is not None:
        # env_args need the connected sim (its env config); connect the follower first (a policy
        # leader may have connected it already, to check its inputs).
        if not follower.is_connected:
            follower.connect()
        recorder = Recorder(
            RecorderConfig(
                cfg.record,
                flush_every=cfg.flush_every,
                compression=None if cfg.compression == "none" else cfg.compression,
                resume=cfg.resume,
                env_args=side.env_args,
                fps=cfg.hz,
                source=side.source,
            )
        )
    loop = ControlLoop(leader, follower, recorder, side, loop_cfg)
    return Session(leader, follower, side, recorder, loop)


#: Signals that end a session cleanly (the open episode kept as on Ctrl-C, the summary printed).
STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


@contextmanager
def _stop_on_signals(loop):
    """While the loop runs, SIGINT/SIGTERM/SIGHUP ask it to stop after the current tick (a second
    one raises KeyboardInterrupt); ``loop.stop_signal`` records which arrived. Only in the main
    thread (Python delivers signals there); elsewhere nothing changes."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if loop.stop_signal is not None:
            raise KeyboardInterrupt
        loop.stop_signal = signum
        loop.stop()

    old = {}
    for name in STOP_SIGNALS:
        sig = getattr(signal, name, None)
        if sig is not None:
            old[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def run_teleop(cfg: TeleopConfig, *, keys: bool = False, builders: Mapping[str, LeaderBuilder] | None = None):
    """Build the session, run the loop (reading keys from the terminal when ``keys``), close; returns
    the loop. A stop signal (STOP_SIGNALS) while it runs ends it like the stop key: the episode being
    recorded is kept (a failure unless the task reports success), the summary is printed, and
    ``loop.stop_signal`` names the signal."""
    session = build_session(cfg, builders=builders)
    failed = True
    try:
        with _stop_on_signals(session.loop):
            if keys:
                from armtwin.teleop.keys import TerminalKeys

                with TerminalKeys(session.loop.handle_key):
                    session.loop.run()
            else:
                session.loop.run()
        failed = False
    finally:
        # A run that failed before finishing an episode (e.g. the leader could not connect) leaves no
        # empty recording behind: the file is this run's own (without --resume it did not exist).
        drop = (failed and session.recorder is not None and not cfg.resume
                and session.recorder.num_episodes == 0)
        session.close()
        if drop:
            Path(cfg.record).unlink(missing_ok=True)
    return session.loop


def run_publish(cfg: TeleopConfig, address: str) -> int:
    """Read the configured leader and publish its actions over UDP to ``address`` (no follower)."""
    from armtwin.teleop.net import run_publisher
    from armtwin.units import UnitConverter

    class _NoSide:  # what a leader builder reads of an EpisodeSide
        converter = UnitConverter(use_degrees=cfg.use_degrees)
        sim = None

    leader = leader_builder(cfg.leader, None)(cfg, None, _NoSide())  # a policy needs a follower to act on
    leader.connect()
    try:
        return run_publisher(leader, address, hz=cfg.hz, duration_s=cfg.duration_s)
    finally:
        leader.disconnect()
