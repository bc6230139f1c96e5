"""Camera specs: an OpenCV intrinsics file sets the rendered projection; the real-background compositing."""

from __future__ import annotations

import json

import mujoco
import numpy as np
import pytest
from PIL import Image

import armtwin.envs as E
from armtwin.envs.camera import SO101_CAMERAS, CameraSpec, apply_camera, load_opencv_calibration, project

OPENCV_YAML = """%YAML:1.0
---
image_width: 640
image_height: 480
camera_name: front
camera_matrix: !!opencv-matrix
   rows: 3
   cols: 3
   dt: d
   data: [ {fx}, 0., {cx}, 0., {fy}, {cy}, 0., 0., 1. ]
distortion_coefficients: !!opencv-matrix
   rows: 1
   cols: 5
   dt: d
   data: [ 0., 0., 0., 0., 0. ]
"""


def _yaml(tmp_path, name="cam.yaml", fx=420.0, fy=410.0, cx=300.0, cy=260.0):
    p = tmp_path / name
    p.write_text(OPENCV_YAML.format(fx=fx, fy=fy, cx=cx, cy=cy))
    return p


def test_opencv_file_is_read(tmp_path):
    spec = load_opencv_calibration(_yaml(tmp_path), camera="front")
    assert (spec.width, spec.height) == (640, 480)
    assert spec.intrinsics == (420.0, 410.0, 300.0, 260.0)
    assert spec.mount == "scene" and spec.pos == SO101_CAMERAS["front"].pos
    js = tmp_path / "cam.json"
    js.write_text(json.dumps({"image_width": 320, "image_height": 240, "camera_matrix": [[200, 0, 160], [0, 200, 120],
                                                                                          [0, 0, 1]]}))
    assert load_opencv_calibration(js, camera="wrist").intrinsics == (200.0, 200.0, 160.0, 120.0)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"image_width": 320}))
    with pytest.raises(ValueError, match="camera_matrix"):
        load_opencv_calibration(bad)


@pytest.mark.parametrize("size", [(480, 640), (240, 320)])
def test_intrinsics_put_a_known_point_where_opencv_projects_it(tmp_path, size):
    spec = load_opencv_calibration(_yaml(tmp_path), camera="front", pos=(0.05, -0.25, 0.8), target=(0.0, 0.0, 0.0))
    pts = [(0.10, 0.05, 0.0), (-0.12, -0.08, 0.0), (0.0, 0.0, 0.0)]
    geoms = "".join(f'<geom type="sphere" size="0.004" pos="{x} {y} {z}" rgba="1 0 0 1"/>' for x, y, z in pts)
    m = mujoco.MjModel.from_xml_string(
        f'<mujoco><visual><quality offsamples="0"/><global offwidth="640" offheight="480"/>'
        f'<headlight ambient="1 1 1"/></visual><worldbody>{geoms}<camera name="c" pos="0 0 1"/></worldbody></mujoco>')
    apply_camera(m, 0, spec)
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    H, W = size
    with mujoco.Renderer(m, H, W) as r:
        r.enable_segmentation_rendering()
        r.update_scene(d, camera="c")
        seg = r.render()
    s = W / spec.width  # intrinsics scale with the rendered size
    R = d.cam_xmat[0].reshape(3, 3)
    for i, p in enumerate(pts):
        ys, xs = np.nonzero(seg[..., 0] == i)
        assert len(xs) > 0
        pc = R.T @ (np.asarray(p) - d.cam_xpos[0])  # point in the MuJoCo camera frame
        u, v = project(spec, spec.width, spec.height, pc)
        # pixel centres: OpenCV (u, v) at full size -> the rendered image's pixel grid
        u_r, v_r = (u + 0.5) * s - 0.5, (v + 0.5) * s - 0.5
        assert abs(xs.mean() - u_r) < 0.75 and abs(ys.mean() - v_r) < 0.75, (i, xs.mean(), u_r, ys.mean(), v_r)


def test_an_intrinsics_file_changes_the_envs_field_of_view(tmp_path):
    """Doubling fx, fy halves the field of view: the plate spans twice the pixels."""
    widths = []
    for fx in (300.0, 600.0):
        env = E.make("armtwin/SO101-PickPlace-v0", image_size=(240, 320), cameras=("front",),
                     front_camera=str(_yaml(tmp_path, f"c{fx}.yaml", fx=fx, fy=fx, cx=319.5, cy=239.5))).unwrapped
        env.reset(seed=0)
        r = mujoco.Renderer(env.model, 240, 320)
        r.enable_segmentation_rendering()
        r.update_scene(env.data, camera="front_cam")
        seg = r.render()
        r.close()
        plate = env._obj_geom["plate"]
        xs = np.nonzero((seg[..., 0] == plate).any(axis=0))[0]
        widths.append(xs.max() - xs.min() + 1)
        expected = 2 * np.degrees(np.arctan(480 / (2 * fx)))  # the file is for 480 rows
        assert abs(env.model.cam_fovy[env.model.camera("front_cam").id] - expected) < 1e-6
    assert 1.85 < widths[1] / widths[0] < 2.15, widths


def test_camera_spec_is_validated():
    with pytest.raises(ValueError, match="fovy"):
        CameraSpec(fovy=200.0)
    with pytest.raises(ValueError, match="mount"):
        CameraSpec(mount="ceiling")
    with pytest.raises(ValueError, match="front_camera"):
        E.make("armtwin/SO101-Lift-v0", front_camera="camera.txt")
    env = E.make("armtwin/SO101-Lift-v0", front_camera="so101", wrist_camera="so101", image_size=(48, 64)).unwrapped
    assert abs(env.model.cam_fovy[env.model.camera("wrist_cam").id] - SO101_CAMERAS["wrist"].fovy) < 1e-9


def test_real_background_replaces_table_and_sky_but_keeps_the_foreground(tmp_path):
    photo = tmp_path / "table.png"
    Image.new("RGB", (80, 60), (10, 200, 30)).save(photo)
    plain = E.make("armtwin/SO101-PickPlace-v0", image_size=(60, 80)).unwrapped
    comp = E.make("armtwin/SO101-PickPlace-v0", image_size=(60, 80), background=str(photo)).unwrapped
    a, b = plain.reset(seed=0)[0]["images"], comp.reset(seed=0)[0]["images"]
    np.testing.assert_array_equal(a["wrist"], b["wrist"])  # only the front camera composites
    green = (b["front"] == (10, 200, 30)).all(axis=-1)
    assert 0.3 < green.mean() < 0.97
    # everything not replaced is the sim's own rendering (arm, cube, plate)
    np.testing.assert_array_equal(b["front"][~green], a["front"][~green])
    with pytest.raises(ValueError, match="background"):
        E.make("armtwin/SO101-Lift-v0", background=str(tmp_path / "missing.png"))


def test_a_calibration_file_that_is_not_a_mapping_is_refused_by_name(tmp_path):
    text = tmp_path / "notes.yaml"
    text.write_text("just a sentence\n")
    with pytest.raises(ValueError, match=r"notes\.yaml: not a JSON object or YAML mapping.*got a str"):
        load_opencv_calibration(text)
    broken = tmp_path / "broken.yaml"
    broken.write_text("camera_matrix: [1, 2\nimage_width: 640\n")
    with pytest.raises(ValueError, match=r"broken\.yaml: not JSON or YAML"):
        load_opencv_calibration(broken)
