"""One evaluation episode, where it runs (this process, a pool worker or a Ray task).

:func:`run_eval_batch(job, indices)` is what :func:`armtwin.mimic.backends.make_executor` runs: per process
it builds once the policy (:class:`~armtwin.policy.local.LocalPolicy`), the sim follower behind the safety
layer (:func:`armtwin.robots.factory.make_follower`), its :class:`~armtwin.teleop.sides.SimSide` and a
:class:`~armtwin.policy.source.PolicyLeader`; each episode is one :class:`~armtwin.teleop.loop.ControlLoop`
run in non-real-time mode (ticks back to back) seeded with :func:`episode_seed`.

Same results whatever the worker count: episode ``i``'s scene seed and torch seed come from ``(seed, i)``
only, the policy is reset before it, and torch runs one thread (a reduction's result may depend on the
thread count).

Seed schemes (:data:`SEED_SCHEMES`): ``"armtwin"`` (default) hashes ``(seed, i)`` through NumPy's
``SeedSequence``, so evaluations with nearby ``--seed`` values share no episode; ``"lerobot"`` is
``lerobot-eval``'s scheme, episode ``i`` resets with ``seed + i`` (``eval_policy``'s ``start_seed`` plus the
episode's index, whatever ``--eval.batch_size``), so ``armtwin eval --seed-scheme lerobot --seed S`` and
``lerobot-eval --seed=S`` play the same scenes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from armtwin.policy.features import camera_inputs, environment_state

#: Cameras of the episode videos (side by side), and their size when the policy reads no images.
VIDEO_CAMERAS = ("front", "wrist")
VIDEO_SIZE = (128, 128)


#: How episode ``i`` of an evaluation seeded ``S`` gets its seed (module docstring).
SEED_SCHEMES = ("armtwin", "lerobot")


def episode_seed(seed: int, index: int, scheme: str = "armtwin") -> int:
    """The scene and torch seed of episode ``index`` of an evaluation seeded ``seed``: ``"armtwin"``: a
    31-bit hash of ``(seed, index)``; ``"lerobot"``: ``seed + index`` (lerobot-eval's ``start_seed`` scheme)."""
    if scheme == "lerobot":
        return int(seed) + int(index)
    if scheme != "armtwin":
        raise ValueError(f"unknown seed scheme {scheme!r}; valid: {', '.join(SEED_SCHEMES)}")
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0] & 0x7FFFFFFF)


@dataclass(frozen=True)
class EvalJob:
    """What every worker needs (pickled once per worker). policy: pretrained directory. env_id, dist
    ("D0"/"D1"), seed. hz: control rate (sim seconds per step 1/hz). max_steps: episode horizon (None:
    the env's). videos: episodes ``0..videos-1`` return their frames. record: episodes return the
    recorder calls to replay into the main process's Recorder. device: torch device (the server's with
    policy_server). policy_server: "HOST:PORT" of LeRobot's policy server (None: run the policy here);
    chunks are then requested only when the queue is empty (deterministic, see armtwin.policy.remote).
    seed_scheme: one of :data:`SEED_SCHEMES` (:func:`episode_seed`). randomize: the scenes' domain
    randomization (a frozen ``armtwin.envs.randomize_config.Randomization``; None: the env's default, none).
    policy_options: the policy config's inference-time changes (``armtwin.policy.local.policy_options``)."""

    policy: str
    env_id: str
    dist: str = "D0"
    seed: int = 0
    seed_scheme: str = "armtwin"
    hz: float = 30.0
    max_steps: int | None = None
    videos: int = 0
    record: bool = False
    device: str = "cpu"
    policy_server: str | None = None
    randomize: Any = None
    policy_options: dict = field(default_factory=dict)


@dataclass
class EpisodeOutcome:
    """One finished episode. steps: control steps run; time_s: sim seconds (steps / hz); success at the
    end; first_success_step (None: never); signals_reached: the task's subtask signals that were true at
    some step; failure: None, ``"<signal> missed"`` (first signal in the task's order never reached),
    ``"timeout"`` (all reached, not solved at the end) or ``"safety stop: ..."``."""

    episode_ix: int
    seed: int
    success: bool
    steps: int
    sum_reward: float
    max_reward: float
    first_success_step: int | None
    signals_reached: list[str]
    failure: str | None
    wall_s: float
    frames: list[np.ndarray] | None = None
    recording: list[tuple] | None = field(default=None, repr=False)

    def row(self, hz: float) -> dict[str, Any]:
        """The JSON line of ``episodes.jsonl``."""
        return {
            "episode_ix": self.episode_ix, "seed": self.seed, "success": self.success, "steps": self.steps,
            "sum_reward": self.sum_reward, "max_reward": self.max_reward,
            "time_to_success_s": None if self.first_success_step is None else self.first_success_step / hz,
            "signals_reached": self.signals_reached, "failure": self.failure, "wall_s": round(self.wall_s, 4),
        }


class _Capture:
    """A recorder for the control loop that keeps its calls (replayed into a real Recorder later)."""

    def __init__(self, env_args: dict):
        self.env_args = env_args  # what rebuilds the env: the recording's env_args
        self.calls: list[tuple] = []
        self.in_episode = False

    def begin_episode(self, **kw):
        self.calls.append(("begin", kw))
        self.in_episode = True

    def add_step(self, obs, action, **kw):
        self.calls.append(("step", ({k: (dict(v) if isinstance(v, dict) else np.copy(v)) for k, v in obs.items()},
                                    np.copy(action)), kw))

    def end_episode(self, success):
        self.calls.append(("end", bool(success)))
        self.in_episode = False
        return None

    def discard_episode(self):
        self.calls.clear()
        self.in_episode = False


def failure_reason(signal_order: tuple[str, ...], reached: set[str], success: bool) -> str | None:
    """None on success, else the first signal of ``signal_order`` never reached + " missed", else "timeout"."""
    if success:
        return None
    for name in signal_order:
        if name not in reached:
            return f"{name} missed"
    return "timeout"


class EpisodeRunner:
    """The per-process objects of an evaluation (see the module docstring); ``run(i)`` -> EpisodeOutcome."""

    def __init__(self, job: EvalJob):
        from armtwin._optional import require

        require("torch", extra="lerobot", what="evaluating a policy (armtwin eval)")
        import torch

        from armtwin.policy.local import policy_robot_type
        from armtwin.policy.source import PolicyLeader, make_backend
        from armtwin.robots.factory import make_follower
        from armtwin.teleop.sides import SimSide

        torch.set_num_threads(1)
        self.job = job
        self.torch = torch
        self.policy = make_backend(job.policy, device=job.device, policy_server=job.policy_server,
                                   chunk_size_threshold=0.0, options=job.policy_options or None)
        cams = camera_inputs(self.policy.input_features)
        sizes = set(cams.values())
        if len(sizes) > 1:
            raise ValueError(f"the policy's cameras have different image sizes {cams}; the twin renders one size")
        env_kwargs: dict[str, Any] = {"reset_distribution": job.dist}
        if job.max_steps is not None:
            env_kwargs["max_episode_steps"] = job.max_steps
        if job.randomize is not None:
            env_kwargs["randomize"] = job.randomize
        built = make_follower("sim", connect=True, env_id=job.env_id, rate_hz=job.hz,
                              image_size=next(iter(sizes)) if sizes else None,
                              cameras=tuple(cams) or VIDEO_CAMERAS, seed=None, env_kwargs=env_kwargs)
        self.follower, self.sim = built.follower, built.device
        self.side = SimSide(self.sim)
        self.leader = PolicyLeader(self.policy, task=self.sim.instruction,
                                   environment_state=lambda: environment_state(self.sim.last_obs),
                                   trained_on=policy_robot_type(job.policy))
        # the env's arm: its units, limits (the safety layer's) and LeRobot robot_type
        self.leader.check(self.follower.observation_features, robot_type=built.converter.C.LEROBOT_ROBOT_TYPE)
        self.signal_order = tuple(self.sim.unwrapped.SIGNALS)

    def run(self, index: int) -> EpisodeOutcome:
        import time

        from armtwin.teleop.loop import ControlLoop, LoopConfig

        job = self.job
        seed = episode_seed(job.seed, index, job.seed_scheme)
        self.torch.manual_seed(seed)
        video = index < job.videos
        capture = _Capture(self.sim.env_args) if job.record else None
        rewards: list[float] = []
        reached: set[str] = set()
        frames: list[np.ndarray] = []
        first: list[int] = []

        def on_tick(loop):
            info = self.sim.last_info
            rewards.append(float(bool(info.get("is_success", False))))
            if rewards[-1] and not first:
                first.append(len(rewards))
            reached.update(k for k, v in info.get("subtask_signals", {}).items() if v)
            if video:
                ims = (self.sim.last_obs.get("images") or {})
                if not all(c in ims for c in VIDEO_CAMERAS):
                    ims = self.sim.unwrapped.render_images(image_size=VIDEO_SIZE, cameras=VIDEO_CAMERAS)
                frames.append(np.concatenate([ims[c] for c in VIDEO_CAMERAS], axis=1))

        cfg = LoopConfig(hz=job.hz, episodes=1, seed=seed, real_time=False, print_summary=False,
                         episode_steps=job.max_steps)
        loop = ControlLoop(self.leader, self.follower, capture, self.side, cfg, on_tick=on_tick)
        t0 = time.perf_counter()
        loop.run()
        wall = time.perf_counter() - t0
        res = loop.results[0] if loop.results else None
        success = bool(res.success) if res is not None else False
        failure = f"safety stop: {loop.safety_stop}" if loop.safety_stop else failure_reason(
            self.signal_order, reached, success)
        return EpisodeOutcome(
            episode_ix=index, seed=seed, success=success, steps=len(rewards), sum_reward=float(sum(rewards)),
            max_reward=float(max(rewards, default=0.0)), first_success_step=first[0] if first else None,
            signals_reached=[s for s in self.signal_order if s in reached], failure=failure, wall_s=wall,
            frames=frames if video else None, recording=[("env_args", capture.env_args), *capture.calls] if capture is not None else None,
        )

    def close(self) -> None:
        self.follower.disconnect()
        self.leader.disconnect()


_RUNNER: EpisodeRunner | None = None
_RUNNER_JOB: EvalJob | None = None


def run_eval_batch(job: EvalJob, indices: list[int]) -> list[EpisodeOutcome]:
    """Run episodes ``indices`` of ``job`` in this process (the runner is built once per process and job)."""
    global _RUNNER, _RUNNER_JOB
    if _RUNNER is None or _RUNNER_JOB != job:
        if _RUNNER is not None:
            _RUNNER.close()
        _RUNNER, _RUNNER_JOB = EpisodeRunner(job), job
    return [_RUNNER.run(i) for i in indices]
