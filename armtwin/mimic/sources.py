"""Scripted source demos for MimicGen: roll the env's expert and record it with the recorder.

Used by the tests and ``benchmarks/mimic_rate.py`` (a person would record by teleoperation instead;
the file layout is the same, docs/interfaces.md, including ``datagen_info``).
"""

from __future__ import annotations

from pathlib import Path


def record_expert_demos(
    env_id: str, path: str | Path, *, num: int, seed: int = 0, reset_distribution: str = "D0",
    noise: float = 0.0, extra_steps: int = 10, max_attempts: int | None = None, image_size=None,
) -> list[int]:
    """Record ``num`` successful expert episodes of ``env_id`` into a new file ``path`` (replacing any
    file there once the recording is complete; on an error nothing is written there).

    Episode k resets with seed ``seed + j`` for the j-th attempt; failed attempts are discarded.
    Each step stores obs, the clamped action (radians), the full state and datagen_info (eef_pose,
    target_eef_pose = FK of the action, gripper_action, object_poses, subtask_term_signals).
    Returns the reset seeds of the kept episodes. Raises RuntimeError if ``max_attempts``
    (default 3 * num) attempts do not give ``num`` successes.
    """
    from armtwin import envs
    from armtwin.data import Recorder, RecorderConfig, datagen_row, make_env_args
    from armtwin.envs.experts import make_expert, run_episode
    from armtwin.envs.ik import IK
    from armtwin.staging import staged_file

    path = Path(path)
    env = envs.make(env_id, image_size=image_size, reset_distribution=reset_distribution)
    u = env.unwrapped
    ik = IK(robot=u.ROBOT)
    cfg = u.config
    env_args = make_env_args(env_id, cfg.to_kwargs())
    kept: list[int] = []
    limit = max_attempts if max_attempts is not None else 3 * num
    attempt = 0
    # The recorder appends to an existing file: record under a fresh temporary name, rename when done.
    try:
        with staged_file(path, exists=False) as tmp, \
                Recorder(RecorderConfig(tmp, env_args=env_args, fps=1.0 / cfg.ctrl_dt, flush_every=1000)) as rec:
            while len(kept) < num:
                if attempt >= limit:
                    raise RuntimeError(f"{env_id}: only {len(kept)}/{num} expert successes in {limit} attempts")
                s = seed + attempt
                attempt += 1
                steps = [0]

                def record(obs, action):
                    # the action as the env applies it (clamped, float64)
                    action, _ = u.check_action(action)
                    dg = datagen_row(u.get_datagen_info(), target_eef_pose=ik.fk_mat(action), action=action)
                    if steps[0] == 0:  # after the reset: the episode's instruction is drawn
                        rec.begin_episode(seed=s, instruction=u.instruction)
                    rec.add_step(obs, action, state=u.get_state(), datagen_info=dg, timestamp=steps[0] * cfg.ctrl_dt)
                    steps[0] += 1

                ok, _ = run_episode(env, make_expert(env_id, noise=noise, seed=s), seed=s, extra_steps=extra_steps,
                                    before_step=record)
                if ok:
                    rec.end_episode(success=True)
                    kept.append(s)
                else:
                    rec.discard_episode()
    finally:
        env.close()
    return kept
