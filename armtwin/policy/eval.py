"""``armtwin eval``: a policy's success rate in the twin, headless and as fast as the machine allows.

Episodes run through :mod:`armtwin.policy.episodes` (the ControlLoop in non-real-time mode, SafeFollower,
SimFollower, PolicyLeader) on :func:`armtwin.mimic.backends.make_executor`'s executors: in this process
(``workers=1``), on a process pool (``workers=K``) or on a Ray cluster (``ray_address``). Episode ``i`` is
seeded from ``(seed, i)``, so the per-episode results do not depend on K or Ray.

Outputs in ``out``:

* ``eval_info.json`` in ``lerobot-eval``'s shape: ``per_episode`` [{episode_ix, success, seed, sum_reward,
  max_reward}], ``aggregated`` {pc_success, avg_sum_reward, avg_max_reward, eval_s, eval_ep_s}, ``video_paths``;
  plus ``armtwin`` (the settings, the Wilson interval, failure counts);
* ``episodes.jsonl``: one line per episode (:meth:`EpisodeOutcome.row`, with its failure reason);
* ``videos/eval_episode_<i>.mp4`` for the first ``videos`` episodes (front | wrist), and
  ``videos/grid.mp4`` tiling up to 2 successes and 2 failures among them;
* ``record``: the rollouts in the armtwin recording format (:class:`armtwin.data.Recorder`).
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from armtwin.policy.episodes import SEED_SCHEMES, EpisodeOutcome, EvalJob, run_eval_batch

DISTRIBUTIONS = ("D0", "D1")


@dataclass(kw_only=True)
class EvalConfig:
    """policy: pretrained directory. env_id. episodes >= 1. out: output folder. dist: D0/D1. seed.
    seed_scheme: "armtwin" (episode i seeded by a hash of (seed, i)) or "lerobot" (seed + i, as
    ``lerobot-eval --seed`` seeds its episodes: the same scenes as LeRobot's evaluator).
    workers >= 1 (pool when > 1) or ray_address. videos: MP4s of the first N episodes. record: rollouts
    HDF5 path or None. hz: control rate. max_steps: horizon (None: the env's). device: torch device.
    policy_server: "HOST:PORT" of LeRobot's async inference server that runs the policy (one worker).
    progress: show a progress bar. print_table: print the summary. overwrite: write into an existing ``out``.
    randomize: domain randomization of the evaluation scenes (a preset name of
    ``armtwin.envs.randomize_config.PRESETS``, a dict of groups or a Randomization; None: the env's default, none);
    drawn on each episode's reset from its seed, so the scenes are the same whatever the worker count.
    policy_options: inference-time changes to the policy's config, as ``lerobot-eval --policy.KEY=VALUE``
    (``{key: value}`` or ``["KEY=VALUE", ...]``; :func:`armtwin.policy.local.policy_options`), e.g.
    ``{"n_action_steps": 1, "temporal_ensemble_coeff": 0.01}`` for ACT's temporal ensembling."""

    policy: str | Path
    env_id: str
    episodes: int
    out: str | Path
    dist: str = "D0"
    seed: int = 0
    seed_scheme: str = "armtwin"
    workers: int = 1
    ray_address: str | None = None
    videos: int = 0
    record: str | Path | None = None
    hz: float = 30.0
    max_steps: int | None = None
    device: str = "cpu"
    policy_server: str | None = None
    progress: bool = True
    print_table: bool = True
    overwrite: bool = False
    randomize: str | dict | None = None
    policy_options: dict | list = field(default_factory=dict)

    def __post_init__(self):
        from armtwin.envs import check_env_id
        from armtwin.envs.randomize_config import resolve_randomization
        from armtwin.policy.local import resolve_pretrained

        check_env_id(self.env_id)
        if self.policy_server is None or Path(self.policy).exists():
            self.policy = resolve_pretrained(self.policy)  # a server may also load a hub id
        if self.policy_server is not None:
            from armtwin.policy.remote import parse_server

            parse_server(self.policy_server)
            if self.workers != 1 or self.ray_address is not None:
                raise ValueError("--policy-server takes one worker: LeRobot's policy server serves one client at a time")
            if self.policy_options:
                raise ValueError("--policy-option applies to a policy run here, not on --policy-server (the server "
                                 "loads it as saved)")
        else:
            from armtwin.policy.local import policy_options

            self.policy_options = policy_options(self.policy, self.policy_options)
        from armtwin.staging import check_output

        # the outputs never replace or land inside the policy; an existing --out only with overwrite
        self.out = check_output(self.out, [self.policy], overwrite=self.overwrite, kind="dir", what="--out")
        if self.dist not in DISTRIBUTIONS:
            raise ValueError(f"unknown --dist {self.dist!r}; valid: {', '.join(DISTRIBUTIONS)}")
        if self.seed_scheme not in SEED_SCHEMES:
            raise ValueError(f"unknown --seed-scheme {self.seed_scheme!r}; valid: {', '.join(SEED_SCHEMES)}")
        for name, lo in (("episodes", 1), ("workers", 1), ("videos", 0)):
            v = getattr(self, name)
            if not isinstance(v, int) or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
        if self.max_steps is not None and (not isinstance(self.max_steps, int) or self.max_steps < 1):
            raise ValueError(f"max_steps must be a positive integer or None, got {self.max_steps!r}")
        if self.ray_address is not None and self.workers != 1:
            raise ValueError("give either --workers K or --ray-address A, not both")
        if not 1 <= self.hz <= 60:
            raise ValueError(f"hz must be between 1 and 60, got {self.hz}")
        if self.randomize is not None:
            resolve_randomization(self.randomize)  # a bad preset or group fails here, naming the valid ones
        if self.record is not None:
            self.record = Path(self.record)
            if self.record.suffix not in (".h5", ".hdf5"):
                raise ValueError(f"--record must name an .h5/.hdf5 file, got {self.record}")
            # never the policy or inside it; and never an existing file (the recorder does not replace one)
            check_output(self.record, [self.policy], overwrite=True, what="--record")
            if self.record.exists():
                raise ValueError(f"--record {self.record} exists; choose a new file (a recording is never replaced)")

    def job(self) -> EvalJob:
        return EvalJob(policy=str(self.policy), env_id=self.env_id, dist=self.dist, seed=self.seed,
                       seed_scheme=self.seed_scheme, hz=self.hz,
                       max_steps=self.max_steps, videos=self.videos, record=self.record is not None,
                       device=self.device, policy_server=self.policy_server,
                       randomize=None if self.randomize is None else _resolve(self.randomize),
                       policy_options=dict(self.policy_options))


@dataclass
class EvalResult:
    """All episodes (index order), wall time, and where the files went."""

    outcomes: list[EpisodeOutcome]
    eval_s: float
    hz: float
    out: Path
    video_paths: list[str] = field(default_factory=list)

    @property
    def successes(self) -> int:
        return sum(o.success for o in self.outcomes)

    @property
    def success_rate(self) -> float:
        return self.successes / len(self.outcomes)

    @property
    def env_steps(self) -> int:
        return sum(o.steps for o in self.outcomes)

    def failures(self) -> Counter:
        return Counter(o.failure for o in self.outcomes if not o.success)


def _resolve(randomize):
    from armtwin.envs.randomize_config import resolve_randomization

    return resolve_randomization(randomize)


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a success rate k/n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def run_eval(cfg: EvalConfig) -> EvalResult:
    """Run the evaluation and write its outputs (see the module docstring)."""
    from tqdm import tqdm

    from armtwin.mimic.backends import make_executor

    cfg.out.mkdir(parents=True, exist_ok=True)
    job = cfg.job()
    backend = "ray" if cfg.ray_address else ("pool" if cfg.workers > 1 else "inline")
    writer = _Outputs(cfg)
    t0 = time.perf_counter()
    ex, parallel = make_executor(job, backend, workers=cfg.workers, ray_address=cfg.ray_address, run=run_eval_batch)
    done: dict[int, EpisodeOutcome] = {}
    bar = tqdm(total=cfg.episodes, unit="ep", desc="eval", disable=not cfg.progress, smoothing=0.1)
    try:
        nxt = 0
        while len(done) < cfg.episodes:
            while nxt < cfg.episodes and ex.in_flight < 2 * parallel:
                ex.submit([nxt])
                nxt += 1
            _, outcomes = ex.wait_one()
            for o in outcomes:
                done[o.episode_ix] = o
            writer.flush(done)
            bar.update(len(outcomes))
            ok = sum(o.success for o in done.values())
            bar.set_postfix(success=f"{ok}/{len(done)}")
    finally:
        bar.close()
        ex.close()
        writer.close()
    result = EvalResult([done[i] for i in range(cfg.episodes)], time.perf_counter() - t0, cfg.hz, cfg.out,
                        writer.video_paths)
    writer.finish(result)
    if cfg.print_table:
        print(summary_table(result))
    return result


class _Outputs:
    """Videos and the recording, written in episode order as outcomes arrive."""

    def __init__(self, cfg: EvalConfig):
        self.cfg = cfg
        self.next = 0
        self.video_paths: list[str] = []
        self.clips: list[tuple[bool, list[np.ndarray]]] = []
        self.recorder = None

    def flush(self, done: dict[int, EpisodeOutcome]) -> None:
        while self.next in done:
            o = done[self.next]
            if o.frames:
                self._video(o)
            if self.cfg.record is not None and o.recording:
                self._replay(o.recording)
            o.frames = o.recording = None  # written: free the memory
            self.next += 1

    def _video(self, o: EpisodeOutcome) -> None:
        from armtwin.video import Mp4Writer

        path = self.cfg.out / "videos" / f"eval_episode_{o.episode_ix}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        w = Mp4Writer(str(path), fps=int(round(self.cfg.hz)))
        try:
            for f in o.frames:
                w.write(f)
        finally:
            w.close()
        self.video_paths.append(str(path))
        kind = [c for c in self.clips if c[0] == o.success]
        if len(kind) < 2:
            self.clips.append((o.success, o.frames))

    def _replay(self, calls: list[tuple]) -> None:
        for call in calls:
            if call[0] == "env_args":
                if self.recorder is None:  # the first recorded episode says how to rebuild its env
                    from armtwin.data import Recorder, RecorderConfig

                    self.cfg.record.parent.mkdir(parents=True, exist_ok=True)
                    self.recorder = Recorder(RecorderConfig(self.cfg.record, fps=self.cfg.hz, source="sim",
                                                            env_args=call[1]))
                rec = self.recorder
            elif call[0] == "begin":
                rec.begin_episode(**call[1])
            elif call[0] == "step":
                (obs, action), kw = call[1], call[2]
                rec.add_step(obs, action, **kw)
            elif call[0] == "end":
                rec.end_episode(call[1])

    def _grid(self) -> None:
        """Up to 2 successes and 2 failures side by side (2 x 2 tiles), held on their last frame."""
        if len(self.clips) < 2:
            return
        from armtwin.video import Mp4Writer

        clips = sorted(self.clips, key=lambda c: not c[0])[:4]
        h, w = clips[0][1][0].shape[:2]
        n = max(len(c[1]) for c in clips)
        path = self.cfg.out / "videos" / "grid.mp4"
        wr = Mp4Writer(str(path), fps=int(round(self.cfg.hz)))
        try:
            for t in range(n):
                canvas = np.zeros((2 * h, 2 * w, 3), np.uint8)
                for j, (ok, frames) in enumerate(clips):
                    f = frames[min(t, len(frames) - 1)]
                    r, c = divmod(j, 2)
                    canvas[r * h:(r + 1) * h, c * w:(c + 1) * w] = f[:h, :w]
                    canvas[r * h:r * h + 3, c * w:(c + 1) * w] = (0, 200, 0) if ok else (200, 0, 0)
                wr.write(canvas)
        finally:
            wr.close()
        self.video_paths.append(str(path))

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None

    def finish(self, result: EvalResult) -> None:
        self._grid()
        self.clips = []
        result.video_paths = self.video_paths
        write_eval_info(result, self.cfg)


def write_eval_info(result: EvalResult, cfg: EvalConfig) -> Path:
    """``eval_info.json`` (lerobot-eval's keys plus ``armtwin``) and ``episodes.jsonl``; returns the json path."""
    outs = result.outcomes
    n = len(outs)
    lo, hi = wilson_interval(result.successes, n)
    info = {
        "per_episode": [{"episode_ix": o.episode_ix, "sum_reward": o.sum_reward, "max_reward": o.max_reward,
                         "success": o.success, "seed": o.seed} for o in outs],
        "aggregated": {
            "avg_sum_reward": float(np.mean([o.sum_reward for o in outs])),
            "avg_max_reward": float(np.mean([o.max_reward for o in outs])),
            "pc_success": 100.0 * result.success_rate,
            "eval_s": result.eval_s,
            "eval_ep_s": result.eval_s / n,
        },
        "video_paths": result.video_paths,
        "armtwin": {
            "policy": str(cfg.policy), "env_id": cfg.env_id, "dist": cfg.dist, "seed": cfg.seed,
            "seed_scheme": cfg.seed_scheme, "episodes": n, "workers": cfg.workers, "ray_address": cfg.ray_address,
            "hz": cfg.hz,
            **({} if cfg.randomize is None else {"randomize": _resolve(cfg.randomize).to_dict()}),
            **({"policy_options": cfg.policy_options} if cfg.policy_options else {}),
            "success_ci95": [lo, hi], "env_steps": result.env_steps,
            "env_steps_per_s": result.env_steps / result.eval_s if result.eval_s > 0 else None,
            "failures": dict(result.failures()),
        },
    }
    path = cfg.out / "eval_info.json"
    path.write_text(json.dumps(info, indent=2))
    with open(cfg.out / "episodes.jsonl", "w") as f:
        for o in outs:
            f.write(json.dumps(o.row(cfg.hz)) + "\n")
    return path


def summary_table(result: EvalResult) -> str:
    """The printed summary: success rate with its 95% Wilson interval, steps and time to success, failures."""
    outs, n = result.outcomes, len(result.outcomes)
    lo, hi = wilson_interval(result.successes, n)
    ok = [o for o in outs if o.success]
    first = [o.first_success_step for o in ok if o.first_success_step is not None]
    sim_s = result.env_steps / result.hz
    rows = [
        ("episodes", f"{n}"),
        ("success rate (95% Wilson)", f"{100 * result.success_rate:.1f}%  [{100 * lo:.1f}, {100 * hi:.1f}]"),
        ("mean steps (all / successes)",
         f"{np.mean([o.steps for o in outs]):.1f} / {np.mean([o.steps for o in ok]):.1f}" if ok
         else f"{np.mean([o.steps for o in outs]):.1f} / -"),
        ("mean time to success", f"{np.mean(first) / result.hz:.2f} s" if first else "-"),
        ("wall time", f"{result.eval_s:.1f} s ({60 * n / result.eval_s:.1f} episodes/min, "
                      f"{result.env_steps / result.eval_s:.0f} env steps/s, {sim_s / result.eval_s:.1f}x real time)"),
    ]
    for reason, count in sorted(result.failures().items(), key=lambda kv: -kv[1]):
        rows.append((f"failed: {reason}", f"{count} ({100 * count / n:.1f}%)"))
    w = max(len(r[0]) for r in rows)
    return "\n".join(f"  {k:<{w}}  {v}" for k, v in rows)
