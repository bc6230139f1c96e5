"""Replay a recorded sim episode in a fresh env and compare the states it goes through.

``replay_in_sim(path, demo)`` rebuilds the env from ``data.attrs["env_args"]`` (without
cameras: they do not affect physics), restores ``initial_state``, applies the recorded
``actions`` (radians) one by one and compares ``get_state()`` before each action with the
recorded ``states``. Sim recordings are deterministic: the states match bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class ReplayReport:
    demo: str
    steps: int
    max_state_error: float  # max |replayed - recorded| over states[0..T-1]
    recorded_success: bool
    replayed_success: bool  # env success after the last action


def make_env_from_recording(path: str | Path, *, image_size=None):
    """The env a recording was made in (``env_args``), with ``image_size`` overridden (None: no cameras)."""
    import armtwin.envs
    from armtwin.data import read_env_args, recorded_env

    env_id, kwargs = recorded_env(read_env_args(path), where=str(path))
    kwargs["image_size"] = image_size
    kwargs.pop("render_mode", None)
    return armtwin.envs.make(env_id, **kwargs)


def replay_in_sim(path: str | Path, demo: int | str = 0, *, env=None) -> ReplayReport:
    """Replay one episode; see the module docstring. ``env``: reuse an env made by
    :func:`make_env_from_recording` (it is reset here)."""
    from armtwin.data import load_episode

    ep = load_episode(path, demo)
    if ep.states is None or ep.initial_state is None:
        raise ValueError(f"{path}:{ep.name} has no sim states (recorded on the real arm?); nothing to replay against")
    own = env is None
    env = env if env is not None else make_env_from_recording(path)
    try:
        env.reset(seed=int(ep.attrs.get("seed", -1)) if int(ep.attrs.get("seed", -1)) >= 0 else None)
        u = env.unwrapped
        u.set_state(ep.initial_state)
        err = 0.0
        info = {}
        for t, a in enumerate(ep.actions):
            err = max(err, float(np.max(np.abs(u.get_state() - ep.states[t]))))
            _, _, _, _, info = env.step(a)
        return ReplayReport(ep.name, ep.num_samples, err, ep.success, bool(info.get("is_success", False)))
    finally:
        if own:
            env.close()
