"""Cameras that match the user's: a camera spec (resolution, field of view or OpenCV intrinsics, mount
pose), the OpenCV calibration file reader, and the real-background compositing of the front camera.

Frames: a scene camera's ``pos``/``target`` are world-frame metres (z up, arm base at the origin, +x
towards the workspace); a wrist camera's ``pos`` is in the ``gripper`` body frame and its ``quat``
(wxyz) turns that body frame into MuJoCo's camera frame (x right, y up, looking along -z).
Intrinsics are OpenCV's: ``fx, fy, cx, cy`` in pixels of a ``width x height`` image, (0, 0) the centre
of the top-left pixel, x right, y down. Rendering at another size scales them with the image (so the
field of view stays that of the calibrated camera).

Defaults (``SO101_CAMERAS``): the cameras SO-101 builds commonly use, USB UVC modules recording
640x480 at 30 fps: a ~78 deg-diagonal webcam in front (51.8 deg vertical at 4:3) and the 32x32 mm
wide-angle module in the wrist mount (~90 deg diagonal: 61.9 deg vertical). These are nominal: give
your own calibration file for your cameras.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from armtwin.assets.so101_mjcf import FRONT_CAMERA_POS, FRONT_CAMERA_TARGET
from armtwin.poses import quat_from_axis_angle

MOUNTS: tuple[str, ...] = ("scene", "wrist")
#: The wrist camera's nominal mount (see so101_mjcf): gripper-body frame position and orientation.
WRIST_CAMERA_POS: tuple[float, float, float] = (0.0, 0.045, -0.03)
WRIST_CAMERA_EULER_X: float = -0.42


def look_at_quat(pos, target) -> np.ndarray:
    """(4,) wxyz: orientation of a MuJoCo camera at ``pos`` looking at ``target`` (world, m), the
    image's up direction as close to world +z as possible (+x when looking straight down or up)."""
    import mujoco

    f = np.asarray(target, float) - np.asarray(pos, float)
    f /= np.linalg.norm(f)
    x = np.cross(f, [0.0, 0.0, 1.0])
    if np.linalg.norm(x) < 1e-9:  # looking straight up or down: image up towards world +x
        x = np.cross(f, [1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(-f, x)
    R = np.stack([x, y, -f], axis=1)  # columns: camera x, y, z (z points backwards) in world
    q = np.empty(4)
    mujoco.mju_mat2Quat(q, R.reshape(-1))
    return q


@dataclass(frozen=True, kw_only=True)
class CameraSpec:
    """One camera of the twin.

    width, height: pixels of the real camera (the default image size of recordings at its resolution).
    fps: frames per second of the real camera (informational; the env renders once per step).
    fovy: vertical field of view, degrees in (1, 170); ignored when ``intrinsics`` is given.
    intrinsics: (fx, fy, cx, cy) OpenCV pixels of a width x height image, or None.
    mount: "scene" (``pos``/``target`` world frame) or "wrist" (``pos``/``quat`` gripper-body frame).
    pos: (3,) m. target: (3,) m, the point a scene camera looks at. quat: (4,) wxyz, a wrist camera's
    orientation in the gripper frame (see the module docstring).
    """

    width: int = 640
    height: int = 480
    fps: float = 30.0
    fovy: float = 51.8
    intrinsics: tuple[float, float, float, float] | None = None
    mount: str = "scene"
    pos: tuple[float, float, float] = FRONT_CAMERA_POS
    target: tuple[float, float, float] | None = FRONT_CAMERA_TARGET
    quat: tuple[float, float, float, float] | None = None
    source: str = field(default="", compare=False)

    def __post_init__(self):
        for name in ("width", "height"):
            v = getattr(self, name)
            if not (isinstance(v, (int, np.integer)) and 8 <= v <= 4096):
                raise ValueError(f"CameraSpec.{name} must be pixels, an int in 8..4096, got {v!r}")
        if not (isinstance(self.fps, (int, float)) and 0 < self.fps <= 1000):
            raise ValueError(f"CameraSpec.fps must be in (0, 1000], got {self.fps!r}")
        if not (isinstance(self.fovy, (int, float)) and 1 < self.fovy < 170):
            raise ValueError(f"CameraSpec.fovy must be degrees in (1, 170), got {self.fovy!r}")
        if self.intrinsics is not None:
            k = tuple(float(x) for x in self.intrinsics)
            if len(k) != 4 or not all(math.isfinite(x) for x in k) or k[0] <= 0 or k[1] <= 0:
                raise ValueError(f"CameraSpec.intrinsics must be (fx, fy, cx, cy) pixels with fx, fy > 0, "
                                 f"got {self.intrinsics!r}")
            object.__setattr__(self, "intrinsics", k)
        if self.mount not in MOUNTS:
            raise ValueError(f"CameraSpec.mount must be one of {MOUNTS}, got {self.mount!r}")
        object.__setattr__(self, "pos", _vec(self.pos, 3, "pos"))
        if self.mount == "scene":
            if self.target is None:
                raise ValueError("CameraSpec with mount='scene' needs target (the world point it looks at)")
            object.__setattr__(self, "target", _vec(self.target, 3, "target"))
            if np.linalg.norm(np.subtract(self.target, self.pos)) < 1e-6:
                raise ValueError("CameraSpec.target must differ from pos")
        else:
            nominal = quat_from_axis_angle((1.0, 0.0, 0.0), WRIST_CAMERA_EULER_X)  # turned about the body's x
            q = _vec(self.quat if self.quat is not None else nominal, 4, "quat")
            n = math.sqrt(sum(x * x for x in q))
            if n < 1e-9:
                raise ValueError("CameraSpec.quat must be a non-zero quaternion (wxyz)")
            object.__setattr__(self, "quat", tuple(x / n for x in q))

    def to_dict(self) -> dict:
        """JSON-friendly fields (what ``env_args`` stores)."""
        d = {k: getattr(self, k) for k in ("width", "height", "fps", "fovy", "intrinsics", "mount", "pos", "target",
                                           "quat")}
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}

    def fovy_at(self) -> float:
        """The vertical field of view, degrees (from the intrinsics when given)."""
        if self.intrinsics is None:
            return float(self.fovy)
        return math.degrees(2 * math.atan(self.height / (2 * self.intrinsics[1])))


def _vec(v, n: int, name: str) -> tuple[float, ...]:
    try:
        t = tuple(float(x) for x in v)
    except TypeError:
        raise ValueError(f"CameraSpec.{name} must be {n} numbers, got {v!r}") from None
    if len(t) != n or not all(math.isfinite(x) for x in t):
        raise ValueError(f"CameraSpec.{name} must be {n} finite numbers, got {v!r}")
    return t


#: Defaults per camera name (see the module docstring).
SO101_CAMERAS: dict[str, CameraSpec] = {
    "front": CameraSpec(fovy=51.8, mount="scene", pos=FRONT_CAMERA_POS, target=FRONT_CAMERA_TARGET),
    "wrist": CameraSpec(fovy=61.9, mount="wrist", pos=WRIST_CAMERA_POS, target=None),
}


def load_opencv_calibration(path: str | Path, *, camera: str = "front", **overrides) -> CameraSpec:
    """A CameraSpec from an OpenCV calibration file (YAML as ``cv2.FileStorage`` writes it, or JSON) with
    ``camera_matrix`` (3x3, as ``{rows, cols, data}`` or nested lists) and ``image_width``/``image_height``.
    The mount pose is ``SO101_CAMERAS[camera]``'s unless ``overrides`` (CameraSpec fields) say otherwise.
    Distortion coefficients, if present, are not modelled (MuJoCo renders a pinhole)."""
    path = Path(path)
    if camera not in SO101_CAMERAS:
        raise ValueError(f"camera must be one of {tuple(SO101_CAMERAS)}, got {camera!r}")
    try:
        text = path.read_text()
    except OSError as e:
        raise ValueError(f"camera calibration {path}: {e}") from None
    d = _parse_calibration_text(text, path)
    missing = [k for k in ("camera_matrix", "image_width", "image_height") if k not in d]
    if missing:
        raise ValueError(f"camera calibration {path}: missing {', '.join(missing)} (found {', '.join(d) or 'nothing'})")
    K = d["camera_matrix"]
    if isinstance(K, dict):
        K = K.get("data")
    K = np.asarray(K, dtype=np.float64).reshape(-1)
    if K.size != 9:
        raise ValueError(f"camera calibration {path}: camera_matrix must have 9 numbers, got {K.size}")
    K = K.reshape(3, 3)
    base = SO101_CAMERAS[camera]
    spec = replace(base, width=int(d["image_width"]), height=int(d["image_height"]),
                   intrinsics=(K[0, 0], K[1, 1], K[0, 2], K[1, 2]), source=str(path))
    return replace(spec, **overrides) if overrides else spec


def _parse_calibration_text(text: str, path: Path) -> dict:
    import yaml  # PyYAML: a core dependency (pyproject.toml), so every environment parses a file the same way

    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    # OpenCV YAML: a "%YAML:1.0" header (not YAML's own "%YAML 1.1" form) and "!!opencv-matrix" tags, both of
    # which PyYAML rejects: drop them, the rest is plain YAML (each matrix a {rows, cols, dt, data} map).
    lines = [ln for ln in text.splitlines() if not ln.startswith("%YAML")]
    cleaned = "\n".join(lines).replace("!!opencv-matrix", "")
    try:
        out = yaml.safe_load(cleaned)
    except yaml.YAMLError as e:
        raise ValueError(f"camera calibration {path}: not JSON or YAML ({e})") from None
    if not isinstance(out, dict):
        raise ValueError(f"camera calibration {path}: not a JSON object or YAML mapping of keys (camera_matrix, "
                         f"image_width, image_height), got a {type(out).__name__}")
    return out


def resolve_camera(value, camera: str) -> CameraSpec | None:
    """EnvConfig's ``front_camera``/``wrist_camera``: None (the v0 camera), "so101" (``SO101_CAMERAS``), a
    calibration file path (.yaml/.yml/.json), a dict of CameraSpec fields (``calibration`` key: a file to
    start from), or a CameraSpec."""
    if value is None or isinstance(value, CameraSpec):
        return value
    if value == "so101":
        return SO101_CAMERAS[camera]
    if isinstance(value, (str, Path)):
        if not Path(value).suffix.lower() in (".yaml", ".yml", ".json"):
            raise ValueError(f"{camera}_camera must be None, 'so101', a calibration file (.yaml/.yml/.json), a dict "
                             f"or a CameraSpec, got {value!r}")
        return load_opencv_calibration(value, camera=camera)
    if isinstance(value, dict):
        d = dict(value)
        calib = d.pop("calibration", None)
        try:
            if calib:
                return load_opencv_calibration(calib, camera=camera, **d)
            base = SO101_CAMERAS[camera]
            return replace(base, **{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})
        except TypeError as e:
            raise ValueError(f"{camera}_camera dict: {e}") from None
    raise ValueError(f"{camera}_camera must be None, 'so101', a calibration file path, a dict or a CameraSpec, "
                     f"got {type(value).__name__}")


def apply_camera(model, cam_id: int, spec: CameraSpec) -> None:
    """Write ``spec``'s pose and projection into camera ``cam_id`` of a compiled model. A spec with
    intrinsics sets MuJoCo's sensor model (sensorsize in pixels, focal and principal offset in pixels:
    units cancel in the projection); otherwise fovy."""
    if spec.mount == "scene":
        model.cam_pos[cam_id] = spec.pos
        model.cam_quat[cam_id] = look_at_quat(spec.pos, spec.target)
    else:
        model.cam_pos[cam_id] = spec.pos
        model.cam_quat[cam_id] = spec.quat
    if spec.intrinsics is None:
        model.cam_fovy[cam_id] = spec.fovy
        model.cam_sensorsize[cam_id] = 0.0
    else:
        fx, fy, cx, cy = spec.intrinsics
        W, H = spec.width, spec.height
        model.cam_resolution[cam_id] = (W, H)
        model.cam_sensorsize[cam_id] = (W, H)
        # MuJoCo's principal point is an offset from the image centre, positive towards -u and -v in
        # pixel terms (measured: tests/test_sim2real_camera.py); OpenCV's (0, 0) is the top-left pixel's centre.
        model.cam_intrinsic[cam_id] = (fx, fy, W / 2 - 0.5 - cx, H / 2 - 0.5 - cy)
        model.cam_fovy[cam_id] = spec.fovy_at()


def project(spec_or_K, width: int, height: int, point_cam) -> tuple[float, float]:
    """OpenCV pixel (u, v) of a point in MuJoCo camera coordinates (x right, y up, -z forward, metres)
    for intrinsics (fx, fy, cx, cy) of a width x height image (a helper for tests and users)."""
    fx, fy, cx, cy = spec_or_K.intrinsics if isinstance(spec_or_K, CameraSpec) else spec_or_K
    x, y, z = point_cam
    return cx + fx * x / -z, cy + fy * -y / -z


# ------------------------------------------------------------------ real background


def load_background(path: str | Path, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8: the photo at ``path`` resized (bilinear) to ``size`` = (H, W)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert("RGB").resize((size[1], size[0]), Image.BILINEAR)
            return np.asarray(im, dtype=np.uint8).copy()
    except OSError as e:
        raise ValueError(f"background image {path}: {e}") from None


def background_mask(segmentation: np.ndarray, background_geoms: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels showing nothing or one of ``background_geoms`` (ids) in a MuJoCo
    segmentation image (H, W, 2) int (object id, object type)."""
    import mujoco

    ids, types = segmentation[..., 0], segmentation[..., 1]
    is_geom = types == int(mujoco.mjtObj.mjOBJ_GEOM)
    return (ids < 0) | (is_geom & np.isin(ids, background_geoms))


__all__ = [
    "MOUNTS",
    "SO101_CAMERAS",
    "CameraSpec",
    "apply_camera",
    "background_mask",
    "load_background",
    "load_opencv_calibration",
    "look_at_quat",
    "project",
    "resolve_camera",
]
