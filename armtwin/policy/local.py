"""A LeRobot pretrained policy directory, run in this process: a :class:`armtwin.policy.source.PolicyBackend`.

``LocalPolicy.from_pretrained(path, device="cpu")`` loads what ``lerobot-train`` writes under
``checkpoints/<step>/pretrained_model`` (``config.json``, ``model.safetensors`` and the
``policy_preprocessor.json`` / ``policy_postprocessor.json`` pipelines with their normalization stats)
through LeRobot's public API: ``PreTrainedConfig.from_pretrained``, ``get_policy_class``,
``make_pre_post_processors(pretrained_path=...)`` and ``predict_action`` (the path ``lerobot-record``
takes with ``--policy.path``). Any policy type that loads locally works (ACT, Diffusion, ...).
torch and LeRobot are imported on first use (``armtwin[lerobot]``).

Per-step overhead removed (measured in one eval step, see benchmarks/eval_speed.py): policies call
``self.eval()`` in every ``select_action``, which walks every submodule (~1.8 ms a step for ACT with a
ResNet-18); the loaded policy is put in eval mode once and its ``eval`` made a no-op while it stays there
(:func:`_eval_once`). For ACT without temporal ensembling, the action queue is kept here, filled through
LeRobot's public ``predict_action_chunk`` (first ``n_action_steps`` of a chunk, as ACT's ``select_action``
does), so a step whose action is already queued pops and postprocesses it without converting and
preprocessing the observation it would not read; other policies go through ``predict_action`` every step.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from armtwin._optional import require
from armtwin.policy.features import TASK_KEY


def resolve_pretrained(path: str | Path) -> Path:
    """The pretrained_model directory for ``path``: itself, or for a ``lerobot-train`` output directory
    (or one checkpoint of it) the ``checkpoints/last/pretrained_model`` (``pretrained_model``) under it."""
    p = Path(path)
    for cand in (p, p / "pretrained_model", p / "checkpoints" / "last" / "pretrained_model"):
        if (cand / "config.json").is_file():
            return cand
    if not p.exists():
        raise FileNotFoundError(f"policy not found: {p}")
    raise FileNotFoundError(
        f"{p} is not a LeRobot pretrained policy directory (no config.json in it, nor in "
        f"pretrained_model/ or checkpoints/last/pretrained_model/ under it): point --policy at what "
        f"lerobot-train writes under checkpoints/<step>/pretrained_model"
    )


def policy_options(path: str | Path, options: dict[str, Any] | list[str] | None) -> dict[str, Any]:
    """Inference-time changes to a pretrained policy's config, as ``lerobot-eval --policy.KEY=VALUE`` makes
    them (e.g. ACT's ``n_action_steps`` and ``temporal_ensemble_coeff``, Diffusion's ``num_inference_steps``).

    ``options``: ``{key: value}``, or ``["KEY=VALUE", ...]`` (a VALUE is read as JSON when it parses:
    ``1``, ``0.01``, ``null``, ``true``; else kept as text). Returns the dict. ValueError for a malformed
    item or a key the policy's ``config.json`` lacks, listing its keys; nested and feature keys
    (``input_features``, ``output_features``, ``normalization_mapping``) are refused: they describe what
    the policy was trained on. Reads one JSON file; whether the values are valid together is the policy
    config's own check, made when it loads (:meth:`LocalPolicy.from_pretrained`)."""
    import json

    if not options:
        return {}
    if not isinstance(options, dict):
        parsed = {}
        for item in options:
            key, sep, raw = str(item).partition("=")
            if not sep or not key.strip():
                raise ValueError(f"policy option {item!r} is not KEY=VALUE (e.g. n_action_steps=1)")
            try:
                parsed[key.strip()] = json.loads(raw)
            except ValueError:
                parsed[key.strip()] = raw
        options = parsed
    config = json.loads((resolve_pretrained(path) / "config.json").read_text())
    fixed = ("type", "input_features", "output_features", "normalization_mapping", "device", "pretrained_path")
    valid = sorted(k for k, v in config.items() if k not in fixed and not isinstance(v, (dict, list)))
    bad = [k for k in options if k not in valid]
    if bad:
        raise ValueError(f"unknown policy option(s) {', '.join(map(repr, bad))} for this {config.get('type')} "
                         f"policy; valid: {', '.join(valid)}")
    return dict(options)


def policy_robot_type(path: str | Path) -> tuple[str, str] | None:
    """``(robot_type, where it was read)`` of the dataset a pretrained policy was trained on, or None when
    that cannot be told here.

    ``lerobot-train`` saves its ``train_config.json`` next to the weights; its ``dataset`` names the
    dataset's ``root`` (or only its ``repo_id``: then LeRobot's cache, ``$HF_LEROBOT_HOME/<repo_id>``, is
    looked in). That dataset's ``meta/info.json`` holds the ``robot_type`` it was recorded with. A policy
    that is not a local directory, has no training config or whose dataset is not on this machine: None.
    Reads two JSON files; no torch.
    """
    import json

    p = Path(path)
    if not p.exists():
        return None
    cfg = resolve_pretrained(p) / "train_config.json"
    try:
        dataset = json.loads(cfg.read_text()).get("dataset") or {}
    except (OSError, ValueError):
        return None
    roots = [dataset.get("root")]
    if dataset.get("repo_id"):
        from armtwin.robots.calibration import lerobot_home

        roots.append(lerobot_home() / str(dataset["repo_id"]))
    for root in roots:
        info = Path(root) / "meta" / "info.json" if root else None
        if info is not None and info.is_file():
            try:
                robot_type = json.loads(info.read_text()).get("robot_type")
            except ValueError:
                continue
            if robot_type:
                return str(robot_type), f"dataset {info.parent.parent}"
    return None


def _eval_once(policy) -> None:
    """Put ``policy`` in eval mode and make its per-call ``eval()`` free while it stays in eval mode.

    ``nn.Module.eval`` recurses through every submodule; policies call it at each ``select_action``.
    Inference here never switches back to training, so a check of the root flag replaces the walk
    (should anything call ``train()``, the next ``eval()`` walks again)."""
    policy.eval()
    real_eval = type(policy).eval

    def eval_if_needed():
        return policy if not policy.training else real_eval(policy)

    policy.eval = eval_if_needed  # instance attribute: nn.Module.__setattr__ stores plain callables as-is


class LocalPolicy:
    """A loaded LeRobot policy with its pre/post processors (see the module docstring).

    ``input_features``: the policy config's ``{name: PolicyFeature}`` (images ``(3, H, W)``).
    ``act(frame)``: frame from :func:`armtwin.policy.features.to_frame` -> ``(n_joints,) float32`` action in
    LeRobot units. ``reset()``: at each episode start (action queues, observation history).
    """

    def __init__(self, policy, preprocessor, postprocessor, *, path: Path, device: str):
        self.policy = policy
        self.preprocessor = preprocessor
        self.postprocessor = postprocessor
        self.path = Path(path)
        self.device = device
        import torch

        self._torch = torch
        self._torch_device = torch.device(device)
        cfg = policy.config
        # ACT pops queued actions without reading the observation (see the module doc); the queue is
        # this object's, so LeRobot's own (private) one is never touched
        self._act_queue = cfg.type == "act" and cfg.temporal_ensemble_coeff is None
        self._queue: deque = deque()

    @classmethod
    def from_pretrained(cls, path: str | Path, *, device: str = "cpu",
                        options: dict[str, Any] | None = None) -> "LocalPolicy":
        """Load the pretrained policy directory ``path`` (see :func:`resolve_pretrained`) onto ``device``,
        its config changed by ``options`` (:func:`policy_options`; ValueError from the config's own
        validation, e.g. ACT's temporal ensembling without ``n_action_steps=1``)."""
        import dataclasses

        path = resolve_pretrained(path)
        options = policy_options(path, options)
        require("lerobot", extra="lerobot", what="running a LeRobot policy")
        from lerobot.configs.policies import PreTrainedConfig
        from lerobot.policies.factory import get_policy_class, make_pre_post_processors

        cfg = PreTrainedConfig.from_pretrained(str(path))
        if options:
            try:  # replace re-runs the config's own __post_init__ checks
                cfg = dataclasses.replace(cfg, **options)
            except (ValueError, TypeError, NotImplementedError) as e:
                raise ValueError(f"the {cfg.type} policy's config refuses the options {options}: {e}") from None
        cfg.device = device
        cfg.pretrained_path = str(path)
        policy = get_policy_class(cfg.type).from_pretrained(str(path), config=cfg)
        policy.to(device)
        _eval_once(policy)
        pre, post = make_pre_post_processors(
            cfg, pretrained_path=str(path),
            preprocessor_overrides={"device_processor": {"device": device}},
        )
        return cls(policy, pre, post, path=path, device=device)

    @property
    def input_features(self) -> dict[str, Any]:
        return dict(self.policy.config.input_features)

    @property
    def policy_type(self) -> str:
        return str(self.policy.config.type)

    def reset(self) -> None:
        self.policy.reset()
        self._queue.clear()
        for proc in (self.preprocessor, self.postprocessor):
            proc.reset()

    def close(self) -> None:
        """Nothing to release: the policy lives in this process (``PolicyBackend.close``)."""

    def act(self, frame: dict[str, Any]) -> np.ndarray:
        """One action for one frame: ``(n_joints,) float32``, LeRobot units, the frame's joint order."""
        obs = {k: v for k, v in frame.items() if k != TASK_KEY}
        task = frame.get(TASK_KEY) or None
        if not self._act_queue:
            from lerobot.utils.control_utils import predict_action

            action = predict_action(obs, self.policy, self._torch_device, self.preprocessor, self.postprocessor,
                                    use_amp=False, task=task)
            return action.squeeze(0).to("cpu").numpy().astype(np.float32)
        with self._torch.inference_mode():
            if not self._queue:
                # predict_action's steps, with ACT's select_action's queue filling in place of select_action
                from lerobot.policies.utils import prepare_observation_for_inference

                batch = self.preprocessor(prepare_observation_for_inference(obs, self._torch_device, task, None))
                chunk = self.policy.predict_action_chunk(batch)[:, : self.policy.config.n_action_steps]
                self._queue.extend(chunk.transpose(0, 1))  # (B, n, A) -> n actions of (B, A)
            action = self.postprocessor(self._queue.popleft())
        return action.squeeze(0).to("cpu").numpy().astype(np.float32)
