"""Recordings made with the virtual follower (armtwin.hardware.plants.SimPlant: the MuJoCo twin as the
plant of a virtual Feetech bus), whose servo model the tests perturb, for the twin-gap tests."""

from __future__ import annotations

import math

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.units import radians_to_ticks, ticks_to_radians


def excitation(T: int, fps: float = 30.0, seed: int = 0) -> np.ndarray:
    """(T, 6) rad commands: held steps and multi-sine sweeps around a mid-range pose (steps excite the
    saturated servo, slow sines the linear region near the target), inside the joint limits."""
    rng = np.random.default_rng(seed)
    t = np.arange(T) / fps
    # a pose in the middle of every range, the gripper half open: sweeps stay clear of the joint limits
    # (a joint against its limit makes the response jump with tiny parameter changes)
    centre = np.array([0.0, -0.3, 0.3, 0.6, 0.0, 0.7])
    q = np.tile(centre, (T, 1))
    amp = np.array([0.5, 0.35, 0.4, 0.4, 0.8, 0.5])
    for j in range(C.NUM_JOINTS):
        for f in (0.25, 0.6, 1.3):
            q[:, j] += amp[j] / 3 * math.sin(rng.uniform(0, 2 * math.pi)) * np.sin(2 * math.pi * f * t
                                                                                   + rng.uniform(0, 2 * math.pi))
        # a held step every ~1 s
        steps = rng.uniform(-1, 1, int(T / fps) + 1) * amp[j] * 0.5
        q[:, j] += steps[(t // 1.0).astype(int)]
    q = np.clip(q, C.lower_limits() + 0.05, C.upper_limits() - 0.05)
    # whole servo ticks, as a bus sends them: the recorded commands are then exactly what the plant got
    return ticks_to_radians(np.round(radians_to_ticks(q)))


def virtual_follower_run(actions: np.ndarray, servo, *, fps: float = 30.0) -> np.ndarray:
    """(T, 6) rad joint positions the virtual follower reports (rounded to whole servo ticks, as its bus
    does) at each frame while it is sent ``actions`` (one per frame, after the frame's reading), its twin
    plant built with the servo model ``servo`` (a ServoParams or calibration dict/path)."""
    import armtwin.envs
    from armtwin.hardware.plants import SimPlant

    env = armtwin.envs.make("armtwin/SO101-Lift-v0", image_size=None, ctrl_dt=1.0 / fps, servo_calibration=servo,
                            max_episode_steps=10 * len(actions))
    plant = SimPlant(env, seed=0)
    on = np.ones(C.NUM_JOINTS, dtype=bool)
    dt = 1.0 / fps
    q = np.empty((len(actions), C.NUM_JOINTS))
    ticks = plant.advance(radians_to_ticks(actions[0]), on, 0.0)  # starts the clock; no step yet
    for t in range(len(actions)):
        q[t] = ticks_to_radians(np.round(ticks))
        # a quarter period late, so exactly one control period has passed since the last call
        ticks = plant.advance(np.round(radians_to_ticks(actions[t])), on, (t + 1.25) * dt)
    plant.close()
    return q


def record_virtual_follower(path, actions: np.ndarray, servo, *, fps: float = 30.0):
    """An armtwin real-target recording (source "real": joint positions and commands only) at ``path``."""
    from armtwin.data import Recorder, RecorderConfig, make_env_args

    q = virtual_follower_run(actions, servo, fps=fps)
    with Recorder(RecorderConfig(path, env_args=make_env_args("armtwin/SO101-Lift-v0", {}), fps=fps,
                                 source="real")) as rec:
        rec.begin_episode(seed=None, instruction="twin-gap excitation")
        for t in range(len(actions)):
            rec.add_step({"joint_pos": q[t]}, actions[t], timestamp=t / fps)
        rec.end_episode(success=True)
    return q
