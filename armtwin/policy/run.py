"""``armtwin run``: a policy drives a follower, sim or real, in real time, through the teleop session.

:func:`run_policy` builds a :class:`armtwin.teleop.factory.TeleopConfig` with ``leader="policy"``, so
everything is teleop's: :func:`~armtwin.teleop.factory.build_session` (the follower from
``make_follower``, always behind the safety layer), the same episode keys (start, success, failure,
discard, reset, quit), the same recorder and ``--target sim|real`` switch. The sim's cameras are
rendered at the size the policy was trained on (read from its ``config.json``, no torch needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from armtwin.policy.features import camera_inputs


def policy_input_features(path: str | Path) -> dict[str, Any]:
    """``input_features`` of a pretrained directory's ``config.json`` (plain dicts, images ``(3, H, W)``);
    a path that is not local is read as a hub id (a policy a remote server loads)."""
    from armtwin.policy.remote import remote_policy_config

    return dict(remote_policy_config(path).get("input_features") or {})


def policy_image_size(path: str | Path) -> tuple[int, int] | None:
    """(H, W) of the policy's cameras (None: it reads no images); ValueError if they differ."""
    sizes = set(camera_inputs(policy_input_features(path)).values())
    if len(sizes) > 1:
        raise ValueError(f"the policy's cameras have different image sizes {sorted(sizes)}; the twin renders one size")
    return next(iter(sizes)) if sizes else None


def real_cameras(policy: str | Path, *, cameras=(), twin_socket: str | Path | None = None,
                 hz: float = 30.0) -> dict[str, Any]:
    """The real follower's LeRobot camera configs for ``policy``: ``cameras`` (``NAME=DEVICE[@WxH]``,
    OpenCV) and, with ``twin_socket``, every other camera the policy reads rendered by that virtual arm's
    twin (:class:`armtwin.robots.twin_camera.TwinCamera`), all at the policy's image size."""
    from armtwin.robots.factory import opencv_cameras, twin_cameras

    size = policy_image_size(policy)
    out = opencv_cameras(cameras, image_size=size, fps=int(round(hz))) if cameras else {}
    if twin_socket is not None:
        rest = [c for c in camera_inputs(policy_input_features(policy)) if c not in out]
        out.update(twin_cameras(twin_socket, rest, image_size=size or (128, 128), fps=int(round(hz))))
    return out


def run_policy(*, policy: str | Path, keys: bool = False, cameras=(), twin_cameras: str | Path | None = None,
               **teleop: Any):
    """Drive a follower with ``policy`` for ``teleop["episodes"]`` episodes; returns the finished loop.

    teleop: :class:`armtwin.teleop.factory.TeleopConfig` fields (``target``, ``env_id``, ``episodes``,
    ``record``, ``hz``...); ``image_size`` defaults to the policy's. cameras / twin_cameras (``--target
    real``): see :func:`real_cameras`.
    """
    from armtwin.policy.leader import POLICY_LEADERS
    from armtwin.teleop.factory import TeleopConfig, run_teleop

    if cameras or twin_cameras is not None:
        if teleop.get("target", "sim") != "real":
            raise ValueError("--camera / --twin-cameras are for --target real (the sim renders its own cameras)")
        teleop["real_cameras"] = real_cameras(policy, cameras=cameras, twin_socket=twin_cameras,
                                              hz=teleop.get("hz") or 30.0)
    teleop.setdefault("image_size", policy_image_size(policy))
    cfg = TeleopConfig(leader="policy", policy=policy, **teleop)
    return run_teleop(cfg, keys=keys, builders=POLICY_LEADERS)
