"""HDF5 -> LeRobot v3.0 conversion speed: armtwin's converter vs LeRobot's straightforward path.

Both paths convert the same recording (default 20 episodes x 300 frames, two 640x480 cameras,
real MuJoCo renders of the SO-101 scene, image datasets gzip level 1 as the recorder can write
them: ~0.22 GiB instead of 10.3 GiB raw, so the disk is not what is measured) with the same codec,
each in a fresh subprocess after reading the file once into the page cache, and this script
prints dataset frames/s, real-time factor (recorded seconds per wall second), peak memory (RSS of
the whole process tree, sampled every 200 ms) and CPU time (process + reaped children) of each,
and their ratios. On a shared machine the wall-clock numbers depend on the other load (printed);
the CPU-time ratio does much less.

The straightforward path is what a user writes with LeRobot's API: ``LeRobotDataset.create``
then ``add_frame`` per frame (unit-converted state/action, both images, task) and
``save_episode`` per episode, ``finalize()`` at the end; it uses LeRobot's async image writer
with 4 threads per camera, as ``lerobot-record`` does.

Goal (issue): armtwin >= 2x the straightforward path and >= 5x real time on a 2-core machine.

Run:  MUJOCO_GL=egl .venv/bin/python benchmarks/convert_speed.py [--episodes 20 --frames 300]
      [--vcodec h264|libsvtav1] [--compression gzip|lzf|none] [--only armtwin|lerobot]
      [--recording FILE.h5 (rendered once, then reused)]

armtwin's h264 defaults are preset superfast, crf 20 (LeRobot's h264 path: x264 default preset
"medium", crf 30, as ``encode_video_frames`` sets it); both use g=2 and yuv420p.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_recording(path: Path, episodes: int, frames: int, height: int, width: int, compression: str | None) -> None:
    """Real MuJoCo renders (both cameras) of the arm following smooth joint trajectories.

    ``compression``: HDF5 filter of the image datasets, as ``armtwin.data.Recorder`` offers
    ("gzip" at level 1, "lzf" or None).
    """
    import h5py
    import mujoco
    import numpy as np
    from tqdm import tqdm

    from armtwin.assets import so101_constants as C
    from armtwin.assets.so101_mjcf import load_scene_model

    sys.path.insert(0, str(ROOT / "tests"))
    from convert_data import _write_demo, _write_file_attrs, joint_trajectory

    model = load_scene_model()
    d = mujoco.MjData(model)
    r = mujoco.Renderer(model, height=height, width=width)
    tmp = path.with_suffix(".partial.h5")
    with h5py.File(tmp, "w") as f, tqdm(total=episodes * frames, desc="render recording", unit="frame") as bar:
        data = _write_file_attrs(f, "armtwin/SO101-Lift-v0", 30.0)
        for e in range(episodes):
            q = joint_trajectory(frames + 1, e, margin=0.45)
            imgs = {c: np.empty((frames, height, width, 3), np.uint8) for c in C.CAMERA_NAMES}
            for t in range(frames):
                d.qpos[: C.NUM_JOINTS] = q[t]
                mujoco.mj_forward(model, d)
                for c in C.CAMERA_NAMES:
                    r.update_scene(d, camera=C.MJCF_CAMERAS[c])
                    r.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
                    r.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
                    imgs[c][t] = r.render()
                bar.update()
            _write_demo(data, e, joint_pos=q[:frames], actions=q[1:], images=imgs, fps=30.0, success=True,
                        instruction="lift the cube", seed=e, image_compression=compression)
    r.close()
    tmp.rename(path)


def run_armtwin(rec: Path, out: Path, vcodec: str) -> None:
    from armtwin.convert.lerobot_v3 import LeRobotExportConfig, export_lerobot

    export_lerobot(LeRobotExportConfig(inputs=[rec], repo_id="bench/armtwin", root=out, vcodec=vcodec, progress=False))


def run_lerobot(rec: Path, out: Path, vcodec: str) -> None:
    import numpy as np

    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from armtwin.assets import so101_constants as C
    from armtwin.data import open_recording
    from armtwin.units import UnitConverter

    conv = UnitConverter()
    with open_recording(rec) as f:
        names = f.demo_names
        H, W = f.demo(names[0]).dataset("obs/images/front").shape[1:3]
        motor = {"dtype": "float32", "shape": (6,), "names": list(C.LEROBOT_MOTOR_KEYS)}
        feats = {"observation.state": motor, "action": dict(motor)}
        for c in C.CAMERA_NAMES:
            feats[f"observation.images.{c}"] = {"dtype": "video", "shape": (H, W, 3), "names": ["height", "width", "channels"]}
        ds = LeRobotDataset.create("bench/lerobot", 30, feats, root=out, robot_type=C.LEROBOT_ROBOT_TYPE,
                                   vcodec=vcodec, image_writer_threads=4 * len(C.CAMERA_NAMES))
        for name in names:
            g = f.demo(name)
            state = conv.from_radians(g["obs/joint_pos"]).astype(np.float32)
            action = conv.from_radians(g["actions"]).astype(np.float32)
            task = str(g.attrs["instruction"])
            for t in range(len(action)):
                frame = {"observation.state": state[t], "action": action[t], "task": task}
                for c in C.CAMERA_NAMES:
                    frame[f"observation.images.{c}"] = g.dataset(f"obs/images/{c}")[t]
                ds.add_frame(frame)
            ds.save_episode()
        ds.finalize()
        ds.stop_image_writer()


def _child(args) -> int:
    fn = {"armtwin": run_armtwin, "lerobot": run_lerobot}[args.child]
    import resource

    t0 = time.perf_counter()
    fn(Path(args.recording), Path(args.out), args.vcodec)
    wall = time.perf_counter() - t0
    # CPU of this process and of every child it waited for (encoder processes, pools).
    cpu = sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for f in ("ru_utime", "ru_stime"))
    print(json.dumps({"wall_s": wall, "cpu_s": cpu}))
    return 0


def _measure(which: str, rec: Path, out: Path, vcodec: str) -> dict:
    """Run one path in a fresh interpreter; wall time from the child, peak tree RSS sampled here."""
    import psutil

    env = dict(os.environ, HF_HUB_OFFLINE="1", WANDB_MODE="disabled", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, __file__, "--child", which, "--recording", str(rec), "--out", str(out), "--vcodec", vcodec]
    with open(rec, "rb") as f:  # same start for both paths: the recording in the page cache
        while f.read(1 << 24):
            pass
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    proc = psutil.Process(p.pid)
    peak = 0
    while p.poll() is None:
        try:
            rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.2)
    out_text = p.stdout.read()
    if p.returncode != 0:
        raise RuntimeError(f"{which} path failed (exit {p.returncode}); rerun the child to see why:\n  {' '.join(cmd)}")
    res = json.loads(out_text.strip().splitlines()[-1])
    size = sum(q.stat().st_size for q in out.rglob("*") if q.is_file())
    return {"wall_s": res["wall_s"], "cpu_s": res["cpu_s"], "peak_rss_mb": peak / 2**20, "size_mb": size / 2**20}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", default="640x480", help="WxH of both cameras")
    ap.add_argument("--vcodec", default="h264", help="codec for both paths (h264 or libsvtav1)")
    ap.add_argument("--recording", default=None, help="HDF5 recording to use/create (default: a cached file in /tmp)")
    ap.add_argument("--compression", choices=("gzip", "lzf", "none"), default="gzip",
                    help="image compression of a newly rendered recording (gzip = level 1; renders compress ~30x)")
    ap.add_argument("--only", choices=("armtwin", "lerobot"), default=None, help="run one path only")
    ap.add_argument("--child", choices=("armtwin", "lerobot"), default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return _child(args)
    W, H = (int(v) for v in args.size.split("x"))
    comp = None if args.compression == "none" else args.compression
    rec = Path(args.recording or f"/tmp/armtwin_convert_bench_{args.episodes}x{args.frames}_{W}x{H}_{args.compression}.h5")
    if not rec.exists():
        make_recording(rec, args.episodes, args.frames, H, W, comp)
    n = args.episodes * args.frames
    print(f"recording: {rec} ({rec.stat().st_size / 2**30:.2f} GiB), {args.episodes} episodes x {args.frames} frames, "
          f"2 cameras {W}x{H}, 30 fps = {n / 30:.0f} s of data; codec {args.vcodec}; {os.cpu_count()} cores; "
          f"load average before: {os.getloadavg()[0]:.1f}")
    results = {}
    work = Path(tempfile.mkdtemp(prefix="armtwin_convert_bench_"))
    try:
        for which in ("armtwin", "lerobot"):
            if args.only and which != args.only:
                continue
            out = work / which
            r = _measure(which, rec, out, args.vcodec)
            r["fps"] = n / r["wall_s"]
            r["rtf"] = (n / 30) / r["wall_s"]
            results[which] = r
            print(f"{which:8s}: {r['wall_s']:7.1f} s  {r['fps']:7.1f} frames/s  {r['rtf']:5.2f}x real time  "
                  f"peak RSS {r['peak_rss_mb']:7.0f} MB  dataset {r['size_mb']:.1f} MB  "
                  f"CPU {r['cpu_s']:.0f} s ({n / r['cpu_s']:.0f} frames per CPU-second)", flush=True)
            shutil.rmtree(out, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if len(results) == 2:
        ratio = results["armtwin"]["fps"] / results["lerobot"]["fps"]
        cpu_ratio = results["lerobot"]["cpu_s"] / results["armtwin"]["cpu_s"]
        print(f"CPU work ratio LeRobot / armtwin: {cpu_ratio:.2f}x")
        print(f"speed-up armtwin / LeRobot add_frame path: {ratio:.2f}x (goal >= 2x); "
              f"armtwin real-time factor {results['armtwin']['rtf']:.2f}x (goal >= 5x); "
              f"load average after: {os.getloadavg()[0]:.1f} (other work on the machine skews both)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
