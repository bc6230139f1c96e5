"""Test data for the convert tests: small HDF5 recordings in the layout of docs/interfaces.md.

Two sources:

* :func:`write_synthetic_recording` needs nothing but NumPy: smooth joint
  trajectories inside the SO-101 limits and images with structure (gradients,
  a moving disc, a moving bar), not noise, so a lossy codec compresses them
  the way it compresses real camera frames.
* :func:`write_sim_recording` renders real MuJoCo frames with the armtwin
  environments (``armtwin.envs``) and records FK end-effector poses; it raises
  ``ImportError`` until those exist.

Both write exactly the keys the recorder writes (``armtwin.data.Recorder``).
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from armtwin.assets import so101_constants as C


def joint_trajectory(T: int, seed: int, *, margin: float = 0.25) -> np.ndarray:
    """(T, 6) float64 radians: sums of slow sines, kept ``margin`` rad inside the joint limits."""
    rng = np.random.default_rng(seed)
    lo = C.lower_limits() + margin
    hi = C.upper_limits() - margin
    t = np.arange(T)[:, None] / 30.0
    f = rng.uniform(0.1, 0.5, size=(1, 6))
    ph = rng.uniform(0, 2 * np.pi, size=(1, 6))
    s = 0.5 + 0.45 * np.sin(2 * np.pi * f * t + ph)
    return lo + (hi - lo) * s


def synthetic_frames(T: int, H: int, W: int, seed: int) -> np.ndarray:
    """(T, H, W, 3) uint8: a colour gradient background with a moving disc and bar."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    base = np.stack(
        [60 + 120 * x / W, 60 + 100 * y / H, 90 + 60 * (x + y) / (W + H)], axis=-1
    ).astype(np.float32)
    col = rng.uniform(30, 230, size=3).astype(np.float32)
    out = np.empty((T, H, W, 3), np.uint8)
    r = 0.18 * min(H, W)
    for t in range(T):
        cx = W * (0.5 + 0.3 * np.sin(0.07 * t + seed))
        cy = H * (0.5 + 0.3 * np.cos(0.05 * t + seed))
        img = base.copy()
        d2 = (x - cx) ** 2 + (y - cy) ** 2
        a = np.clip((r - np.sqrt(d2)) / 2.0 + 0.5, 0, 1)[..., None]  # anti-aliased edge
        img = img * (1 - a) + col * a
        bx = (t * 3 + seed * 7) % W
        bar = np.clip(1 - np.abs(x - bx) / 6.0, 0, 1)[..., None]
        img = img * (1 - 0.6 * bar) + 240 * 0.6 * bar
        out[t] = img.clip(0, 255).astype(np.uint8)
    return out


def _write_file_attrs(f: h5py.File, env_name: str, fps: float, env_kwargs: dict | None = None) -> h5py.Group:
    data = f.create_group("data")
    data.attrs["total"] = 0
    data.attrs["env_args"] = json.dumps({"env_name": env_name, "type": "armtwin", "env_kwargs": env_kwargs or {}})
    data.attrs["fps"] = float(fps)
    data.attrs["armtwin_version"] = "0.1.0"
    return data


def _write_demo(
    data: h5py.Group,
    i: int,
    *,
    joint_pos: np.ndarray,
    actions: np.ndarray,
    images: dict[str, np.ndarray],
    fps: float,
    success: bool,
    instruction: str,
    eef_pos: np.ndarray | None = None,
    eef_quat: np.ndarray | None = None,
    eef_pose: np.ndarray | None = None,
    target_eef_pose: np.ndarray | None = None,
    states: np.ndarray | None = None,
    seed: int = -1,
    source: str = "sim",
    image_compression: str | None = None,
) -> None:
    T = len(actions)
    g = data.create_group(f"demo_{i}")
    g.attrs.update(num_samples=T, seed=seed, success=bool(success), source=source, instruction=instruction)
    g["actions"] = actions.astype(np.float64)
    g["timestamps"] = np.arange(T, dtype=np.float64) / fps
    g["obs/joint_pos"] = joint_pos.astype(np.float64)
    g["obs/joint_vel"] = np.gradient(joint_pos, 1.0 / fps, axis=0) if T > 1 else np.zeros_like(joint_pos)
    g["obs/eef_pos"] = eef_pos if eef_pos is not None else np.zeros((T, 3))
    g["obs/eef_quat"] = eef_quat if eef_quat is not None else np.tile([1.0, 0, 0, 0], (T, 1))
    for cam, frames in images.items():
        chunks = (1, *frames.shape[1:]) if T else None
        kw = {"compression": "gzip", "compression_opts": 1} if image_compression == "gzip" else {}
        if image_compression == "lzf":
            kw = {"compression": "lzf"}
        g.create_dataset(f"obs/images/{cam}", data=frames, chunks=chunks, **kw)
    if states is not None:
        g["states"] = states
        g["initial_state"] = states[0]
    if eef_pose is not None:
        g["datagen_info/eef_pose"] = eef_pose
    if target_eef_pose is not None:
        g["datagen_info/target_eef_pose"] = target_eef_pose
    g["datagen_info/gripper_action"] = actions[:, 5:6]
    data.attrs["total"] = int(data.attrs["total"]) + T


def write_synthetic_recording(
    path: str | Path,
    *,
    lengths=(12, 9, 15),
    image_size: tuple[int, int] | None = (64, 80),
    cameras=C.CAMERA_NAMES,
    success=None,
    instructions=None,
    fps: float = 30.0,
    seed: int = 0,
    env_name: str = "armtwin/SO101-Lift-v0",
) -> Path:
    """Write a recording of ``len(lengths)`` demos; returns ``path``.

    ``image_size`` is (H, W) or None for no images; ``success``/``instructions``
    are per-demo sequences (defaults: all successful, "lift the cube").
    Actions lead the observed joint positions by one step, like a position servo following its target.
    """
    path = Path(path)
    n = len(lengths)
    success = [True] * n if success is None else list(success)
    instructions = ["lift the cube"] * n if instructions is None else list(instructions)
    with h5py.File(path, "w") as f:
        data = _write_file_attrs(f, env_name, fps)
        for i, T in enumerate(lengths):
            q = joint_trajectory(T + 1, seed * 100 + i)
            images = {}
            if image_size is not None:
                H, W = image_size
                images = {cam: synthetic_frames(T, H, W, seed * 100 + 10 * i + k) for k, cam in enumerate(cameras)}
            _write_demo(
                data, i, joint_pos=q[:T], actions=q[1:], images=images, fps=fps,
                success=success[i], instruction=instructions[i], seed=seed * 100 + i,
            )
    return path


def write_sim_recording(
    path: str | Path,
    *,
    env_id: str = "armtwin/SO101-Lift-v0",
    n_episodes: int = 2,
    max_steps: int = 40,
    image_size: tuple[int, int] | None = (96, 96),
    seed: int = 0,
) -> Path:
    """Roll out the env's scripted expert with real MuJoCo renders and FK poses; returns ``path``.

    ``image_size`` None records no images. An episode ends at success (plus a few steps) or ``max_steps``.

    Raises ImportError while ``armtwin.envs`` is not available.
    """
    from armtwin.envs import make  # noqa: PLC0415 - optional until the env part lands
    from armtwin.envs.experts import make_expert  # noqa: PLC0415

    path = Path(path)
    env = make(env_id, image_size=image_size, max_episode_steps=max_steps)
    u = env.unwrapped
    fps = 1.0 / float(getattr(getattr(u, "config", None), "ctrl_dt", C.CTRL_DT))
    try:
        with h5py.File(path, "w") as f:
            data = _write_file_attrs(f, env_id, fps, {"image_size": list(image_size) if image_size else None})
            for ep in range(n_episodes):
                obs, info = env.reset(seed=seed + ep)
                expert = make_expert(env_id, seed=seed + ep)
                expert.reset(env, obs)
                rec = {k: [] for k in ("q", "a", "p", "qu", "pose", "state")}
                imgs = {cam: [] for cam in obs.get("images", {})}
                success = False
                after = 0
                for _ in range(max_steps):
                    a = np.asarray(expert.act(obs), dtype=np.float64)
                    rec["q"].append(obs["joint_pos"])
                    rec["p"].append(obs["eef_pos"])
                    rec["qu"].append(obs["eef_quat"])
                    rec["pose"].append(u.get_datagen_info()["eef_pose"])
                    rec["state"].append(u.get_state())
                    for cam, im in obs.get("images", {}).items():
                        imgs[cam].append(im)
                    obs, _, term, trunc, info = env.step(a.astype(np.float32))
                    rec["a"].append(a)
                    success = success or bool(info.get("is_success", False))
                    after += success
                    if term or trunc or after > 5:
                        break
                _write_demo(
                    data, ep,
                    joint_pos=np.array(rec["q"]), actions=np.array(rec["a"]),
                    images={c: np.stack(v) for c, v in imgs.items()}, fps=fps, success=success,
                    instruction=str(obs.get("instruction", u.instruction)),
                    eef_pos=np.array(rec["p"]), eef_quat=np.array(rec["qu"]), eef_pose=np.array(rec["pose"]),
                    states=np.array(rec["state"]), seed=seed + ep,
                )
    finally:
        env.close()
    return path


def write_mujoco_recording(
    path: str | Path,
    *,
    lengths=(20, 14),
    image_size: tuple[int, int] | None = (96, 128),
    success=None,
    instructions=None,
    fps: float = 30.0,
    seed: int = 0,
    env_name: str = "armtwin/SO101-Lift-v0",
) -> Path:
    """Like :func:`write_synthetic_recording` but every frame is a real MuJoCo render of the SO-101
    scene (both cameras, shadows/reflections off) at the recorded joint positions, and eef poses
    (obs/eef_*, datagen_info/eef_pose, target_eef_pose) are forward kinematics of the arm model.

    ``image_size`` is (H, W); None records no images.
    """
    import mujoco

    from armtwin.assets.so101_mjcf import load_scene_model
    from armtwin.envs.ik import IK

    path = Path(path)
    n = len(lengths)
    success = [True] * n if success is None else list(success)
    instructions = ["lift the cube"] * n if instructions is None else list(instructions)
    model = load_scene_model()
    d = mujoco.MjData(model)
    ik = IK()
    renderer = None
    if image_size is not None:
        renderer = mujoco.Renderer(model, height=image_size[0], width=image_size[1])
    try:
        with h5py.File(path, "w") as f:
            data = _write_file_attrs(f, env_name, fps)
            for i, T in enumerate(lengths):
                q = joint_trajectory(T + 1, seed * 100 + i, margin=0.45)
                images = {cam: [] for cam in C.CAMERA_NAMES} if renderer else {}
                for t in range(T):
                    if renderer is None:
                        break
                    d.qpos[: C.NUM_JOINTS] = q[t]
                    mujoco.mj_forward(model, d)
                    for cam in C.CAMERA_NAMES:
                        renderer.update_scene(d, camera=C.MJCF_CAMERAS[cam])
                        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
                        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
                        images[cam].append(renderer.render().copy())
                poses = np.stack([ik.fk_mat(qq) for qq in q])
                pos = poses[:T, :3, 3]
                quat = np.stack([ik.fk(qq)[1] for qq in q[:T]])
                _write_demo(
                    data, i, joint_pos=q[:T], actions=q[1:], fps=fps,
                    images={c: np.stack(v) for c, v in images.items()},
                    success=success[i], instruction=instructions[i], seed=seed * 100 + i,
                    eef_pos=pos, eef_quat=quat, eef_pose=poses[:T], target_eef_pose=poses[1:],
                )
    finally:
        if renderer is not None:
            renderer.close()
    return path
