"""A recording's commands replayed in the twin, from the recording's initial joint state.

The twin here is the arm of every armtwin scene (the same model, servo model and stepping as the envs:
:func:`armtwin.envs.servo.step_servos`) without task objects: only the jaw pads collide, with the table.
"""

from __future__ import annotations

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.envs.servo import ServoModel, ServoParams, command_ages, history_length, step_servos
from armtwin.twingap.source import Trajectory


class ArmTwin:
    """The bare twin arm at a control period ``ctrl_dt`` s (physics steps of about ``C.SIM_DT`` that divide it)."""

    def __init__(self, ctrl_dt: float):
        import mujoco

        from armtwin.assets.so101_mjcf import load_scene_model

        self.n = max(1, int(round(ctrl_dt / C.SIM_DT)))
        self.sim_dt = ctrl_dt / self.n
        self.model = load_scene_model((), (), sim_dt=self.sim_dt, cameras=False)
        self.data = mujoco.MjData(self.model)
        self.servo = ServoModel(self.model)
        self._qadr = np.array([self.model.joint(n).qposadr[0] for n in C.JOINT_NAMES])

    def run(self, q0: np.ndarray, actions: np.ndarray, params: ServoParams) -> np.ndarray:
        """(T, 6) rad: the joints at each frame, frame 0 = ``q0`` (at rest, holding ``q0``), frame t+1 after
        the command ``actions[t]`` was held for one control period."""
        import mujoco

        m, d = self.model, self.data
        self.servo.apply(params)
        lat = params.latency_substeps(self.sim_dt)
        ages = command_ages(lat, self.n)
        history = np.empty((history_length(lat, self.n), C.NUM_JOINTS))
        mujoco.mj_resetData(m, d)
        d.qpos[self._qadr] = q0
        d.ctrl[:] = q0
        history[:] = q0
        mujoco.mj_forward(m, d)
        lo, hi = C.lower_limits(), C.upper_limits()
        acts = np.clip(actions, lo, hi)
        T = len(actions)
        out = np.empty((T, C.NUM_JOINTS))
        out[0] = d.qpos[self._qadr]
        for t in range(T - 1):
            step_servos(m, d, history, acts[t], ages)
            out[t + 1] = d.qpos[self._qadr]
        return out


def replay(traj: Trajectory, params: ServoParams | None = None, *, twin: ArmTwin | None = None) -> np.ndarray:
    """(T, 6) rad: the twin's joints when ``traj``'s commands are replayed from ``traj.q[0]``."""
    twin = twin or ArmTwin(traj.dt)
    return twin.run(traj.q[0], traj.actions, params or ServoParams())
