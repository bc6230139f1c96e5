"""Training a policy on an armtwin dataset with LeRobot's own trainer (``lerobot-train``), not a copy of it.

:class:`TrainConfig` names the few choices that matter on a CPU (policy type and size, steps, batch,
learning rate); :func:`train_policy` runs ``lerobot-train`` in a child process with those flags, shows
its log lines as they come, and returns the ``checkpoints/last/pretrained_model`` directory that
``armtwin eval`` / ``armtwin run`` take as ``--policy``.

Presets (:data:`PRESETS`): ``act-lowdim`` is the ACT that trains on joints + object positions
(``observation.state`` + ``observation.environment_state``) at ~7-9 steps/s on 2 CPU cores; ``act-tiny``
is the smallest ACT that still loads and runs (tests). ACT's default learning rate (1e-5) is tuned for
long GPU runs; the presets use 2e-4, which short CPU runs need.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

#: Preset -> lerobot-train ``--policy.*`` flags (without the prefix).
PRESETS: dict[str, dict[str, object]] = {
    "act-lowdim": {
        "type": "act", "chunk_size": 20, "n_action_steps": 10, "dim_model": 128, "n_heads": 8,
        "dim_feedforward": 512, "n_encoder_layers": 2, "n_decoder_layers": 1, "n_vae_encoder_layers": 2,
        "latent_dim": 32, "optimizer_lr": 2e-4, "pretrained_backbone_weights": "null",
    },
    "act-tiny": {
        "type": "act", "chunk_size": 10, "n_action_steps": 10, "dim_model": 32, "n_heads": 2,
        "dim_feedforward": 64, "n_encoder_layers": 1, "n_decoder_layers": 1, "n_vae_encoder_layers": 1,
        "optimizer_lr": 2e-4, "pretrained_backbone_weights": "null",
    },
}


@dataclass(kw_only=True)
class TrainConfig:
    """One ``lerobot-train`` run on a local dataset.

    dataset_root: a LeRobot v3.0 dataset folder (``armtwin convert lerobot``); repo_id: its repo id.
    out_dir: lerobot-train's ``--output_dir`` (must not exist: LeRobot refuses to reuse one). preset: a key
    of :data:`PRESETS`; policy_overrides: more ``--policy.*`` flags. steps >= 1, batch_size >= 1,
    seed: training seed. device: "cpu" or "cuda". num_workers: data-loader processes. save_freq: steps
    between checkpoints (``checkpoints/<step>/pretrained_model``; None: only the last, at ``steps``).
    threads: torch's intra-op threads in the trainer (``OMP_NUM_THREADS``; None: torch's default, all
    cores), for trainings that share a machine.
    """

    dataset_root: Path
    repo_id: str
    out_dir: Path
    preset: str = "act-lowdim"
    steps: int = 2000
    batch_size: int = 32
    seed: int = 1000
    device: str = "cpu"
    num_workers: int = 0
    log_freq: int = 200
    save_freq: int | None = None
    threads: int | None = None
    policy_overrides: dict[str, object] = field(default_factory=dict)

    def __post_init__(self):
        self.dataset_root, self.out_dir = Path(self.dataset_root), Path(self.out_dir)
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; valid: {', '.join(PRESETS)}")
        for name in ("steps", "batch_size", "log_freq", "save_freq", "threads"):
            v = getattr(self, name)
            if name in ("save_freq", "threads") and v is None:
                continue
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers}")
        if not (self.dataset_root / "meta" / "info.json").is_file():
            raise FileNotFoundError(f"{self.dataset_root} is not a LeRobot dataset (no meta/info.json)")
        if self.out_dir.exists():
            raise FileExistsError(f"{self.out_dir} exists; lerobot-train needs a new output folder")

    def argv(self) -> list[str]:
        """lerobot-train's command line for this run."""
        policy = {**PRESETS[self.preset], "device": self.device, "push_to_hub": "false", **self.policy_overrides}
        return [
            str(Path(sys.executable).parent / "lerobot-train"),
            f"--dataset.repo_id={self.repo_id}", f"--dataset.root={self.dataset_root}",
            *(f"--policy.{k}={v}" for k, v in policy.items()),
            f"--steps={self.steps}", f"--batch_size={self.batch_size}", f"--seed={self.seed}",
            f"--num_workers={self.num_workers}", f"--log_freq={self.log_freq}",
            f"--save_freq={self.save_freq or self.steps}",
            "--eval_freq=0", "--wandb.enable=false", f"--output_dir={self.out_dir}", "--job_name=armtwin",
        ]


def train_policy(cfg: TrainConfig, *, echo: bool = True) -> Path:
    """Run lerobot-train; returns the pretrained_model directory. RuntimeError (with the log's tail) on failure."""
    from armtwin._optional import require

    require("lerobot", extra="lerobot", what="training a policy")
    env = dict(os.environ, HF_HUB_OFFLINE="1", WANDB_MODE="disabled")
    if cfg.threads is not None:
        env["OMP_NUM_THREADS"] = str(cfg.threads)
    t0 = time.perf_counter()
    tail: list[str] = []
    with subprocess.Popen(cfg.argv(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as p:
        for line in p.stdout:
            tail = (tail + [line.rstrip()])[-40:]
            # LeRobot's log lines: one per log_freq steps with loss, grad norm, lr and timing
            if echo and ("step:" in line or "Error" in line):
                print(f"  [lerobot-train {time.perf_counter() - t0:6.0f} s] {line.strip()}", flush=True)
        rc = p.wait()
    if rc != 0:
        raise RuntimeError(f"lerobot-train exited {rc}:\n" + "\n".join(tail))
    model = cfg.out_dir / "checkpoints" / "last" / "pretrained_model"
    if not (model / "config.json").is_file():
        raise RuntimeError(f"lerobot-train finished but wrote no {model}:\n" + "\n".join(tail))
    return model


def step_checkpoints(out_dir: str | Path) -> dict[int, Path]:
    """A finished training's checkpoints: step -> ``checkpoints/<step>/pretrained_model`` (lerobot-train
    names each by its zero-padded step and points ``last`` at the newest), in step order."""
    found = {}
    for d in (Path(out_dir) / "checkpoints").iterdir():
        if d.name.isdigit() and (d / "pretrained_model" / "config.json").is_file():
            found[int(d.name)] = d / "pretrained_model"
    return dict(sorted(found.items()))
