"""Recordings made with the virtual follower (armtwin.hardware.plants.SimPlant: the MuJoCo twin as the
plant of a virtual Feetech bus), whose servo model the tests perturb, for the twin-gap tests."""

from __future__ import annotations

import math

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.units import radians_to_ticks, ticks_to_radians


def excitation(T: int, fps: float = 30.0, seed: int = 0, *, hold: int = 12, max_step: float = 0.15) -> np.ndarray:
    """(T, 6) rad commands: step and hold. Every ``hold`` frames (0.4 s) each joint steps to a new
    target, the step's size log-uniform from 0.005 rad (3 ticks) to ``max_step`` rad, its sign random,
    within a band around a mid-range pose (reflected at the band's edge).

    Why steps and holds (not the sweeps of a teleoperated motion): every step over ~2 ticks saturates the
    servo torque, so the terminal speed shows the damping, and the braking and ringing after it, the
    natural frequency (kp apart from kv); each hold lets the servos settle, so the open-loop replay of the
    fit starts every step from rest. Under continuous sweeps the saturated transients chain, the replay
    diverges chaotically from the recording (a 0.1 % change of kp moved it by 3 mrad RMS) and kp is hidden
    in that noise. Steps stay under ~0.15 rad: larger ones reach 4 rad/s, overshoot by up to 0.1 rad and
    ring through the hold. The band keeps the jaws off the table and the joints off their limits (a
    contact or a limit makes the response jump with tiny parameter changes)."""
    rng = np.random.default_rng(seed)
    centre = np.array([0.0, -0.3, 0.3, 0.6, 0.0, 0.7])
    band = np.array([0.5, 0.35, 0.4, 0.4, 0.8, 0.5])
    lo = np.maximum(centre - band, C.lower_limits() + 0.1)
    hi = np.minimum(centre + band, C.upper_limits() - 0.1)
    q = np.empty((T, C.NUM_JOINTS))
    cur = centre.copy()
    for s in range(0, T, hold):
        size = np.exp(rng.uniform(math.log(0.005), math.log(max_step), C.NUM_JOINTS))
        nxt = cur + size * rng.choice([-1.0, 1.0], C.NUM_JOINTS)
        out = (nxt < lo) | (nxt > hi)
        nxt[out] = 2 * cur[out] - nxt[out]  # reflect: the step keeps its size
        cur = np.clip(nxt, lo, hi)
        q[s:s + hold] = cur
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
