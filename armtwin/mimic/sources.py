"""Scripted source demos for MimicGen: roll the env's expert and record it with the recorder.

Used by the tests and ``benchmarks/mimic_rate.py`` (a person would record by teleoperation instead;
the file layout is the same, docs/interfaces.md, including ``datagen_info``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def record_expert_demos(
    env_id: str, path: str | Path, *, num: int, seed: int = 0, reset_distribution: str = "D0",
    noise: float = 0.0, extra_steps: int = 10, max_attempts: int | None = None, image_size=None,
) -> list[int]:
    """Record ``num`` successful expert episodes of ``env_id`` into a new file ``path``.

    Episode k resets with seed ``seed + j`` for the j-th attempt; failed attempts are discarded.
    Each step stores obs, the clamped action (radians), the full state and datagen_info (eef_pose,
    target_eef_pose = FK of the action, gripper_action, object_poses, subtask_term_signals).
    Returns the reset seeds of the kept episodes. Raises RuntimeError if ``max_attempts``
    (default 3 * num) attempts do not give ``num`` successes.
    """
    from armtwin import envs
    from armtwin.envs.experts import make_expert
    from armtwin.envs.ik import IK
    from armtwin.teleop.recorder import Recorder, RecorderConfig

    env = envs.make(env_id, image_size=image_size, reset_distribution=reset_distribution)
    u = env.unwrapped
    ik = IK()
    cfg = u.config
    env_args = {"env_name": env_id, "type": "armtwin", "env_kwargs": cfg.to_kwargs()}
    kept: list[int] = []
    limit = max_attempts if max_attempts is not None else 3 * num
    attempt = 0
    with Recorder(RecorderConfig(path, env_args=env_args, fps=1.0 / cfg.ctrl_dt, flush_every=1000)) as rec:
        while len(kept) < num:
            if attempt >= limit:
                raise RuntimeError(f"{env_id}: only {len(kept)}/{num} expert successes in {limit} attempts")
            s = seed + attempt
            attempt += 1
            expert = make_expert(env_id, noise=noise, seed=s)
            obs, info = env.reset(seed=s)
            expert.reset(env, obs)
            rec.begin_episode(seed=s, instruction=u.instruction)
            after = 0
            for t in range(cfg.max_episode_steps):
                action, _ = u.check_action(expert.act(obs))
                dg = u.get_datagen_info()
                dg["target_eef_pose"] = ik.fk_mat(action)
                dg["gripper_action"] = np.array([action[5]])
                rec.add_step(obs, action, state=u.get_state(), datagen_info=dg, timestamp=t * cfg.ctrl_dt)
                obs, _, term, trunc, info = env.step(action)
                if expert.done:
                    after += 1
                if term or trunc or after > extra_steps:
                    break
            if info["is_success"]:
                rec.end_episode(success=True)
                kept.append(s)
            else:
                rec.discard_episode()
    env.close()
    return kept
