"""`armtwin demo`, the main job, end to end at a small size, and its side-by-side video stage.

The end-to-end run records 2 sources through the real teleop loop (30 Hz, so ~10 s), generates 2 demos,
converts them to LeRobot v3 and writes the video (~40 s in all here).
"""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from armtwin.assets import so101_constants as C
from armtwin.pipeline import DemoConfig, run_demo, side_by_side_video

PICKPLACE = "armtwin/SO101-PickPlace-v0"


def _frames(path):
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_demo_runs_every_stage_and_prints_their_tables(tmp_path, capsys):
    out = tmp_path / "demo"
    size = (32, 32)
    stages = run_demo(DemoConfig(out_dir=out, sources=2, generate=2, workers=1, image_size=size, side_by_side=2,
                                 train=False))
    printed = capsys.readouterr().out
    for k in range(1, 6):
        assert f"=== {k}/5 " in printed
    assert "=== summary ===" in printed
    assert "annotated 2 demo(s)" in printed and "data-generation rate" in printed
    assert printed.count(" frames\n") == 2  # the video stage's table: one line per clip
    assert list(stages) == ["sources", "annotated", "generated", "dataset", "video"]
    assert all(s["seconds"] > 0 and Path(s["output"]).exists() for s in stages.values())
    assert stages["sources"]["episodes"] == 2 and stages["generated"]["kept"] == 2
    assert stages["dataset"]["episodes"] == 2 and stages["video"]["clips"] == 2
    assert json.loads((out / "summary.json").read_text())["generated"]["kept"] == 2
    # no temp or shard left behind
    assert not [p.name for p in out.iterdir() if ".part" in p.name or p.name.endswith((".shards", ".tmp"))]

    with h5py.File(out / "generated.h5") as f:
        demos = [f["data"][f"demo_{i}"] for i in range(2)]
        assert all(g.attrs["mimic_generated"] and g.attrs["success"] for g in demos)
        lengths = [int(g.attrs["num_samples"]) for g in demos]
        src_names = [json.loads(g.attrs["src_demo_names"])[0] for g in demos]
    with h5py.File(out / "sources.h5") as f:
        src_lengths = {n: int(f["data"][n].attrs["num_samples"]) for n in src_names}
    info = json.loads((out / "lerobot" / "meta" / "info.json").read_text())
    assert info["total_episodes"] == 2 and info["total_frames"] == sum(lengths)

    # the video: per clip max(source, generated) frames; panels of 2 cameras upscaled 2x plus a caption
    frames = _frames(out / "generated_vs_source.mp4")
    assert len(frames) == sum(max(n, src_lengths[s]) for n, s in zip(lengths, src_names))
    h, w = frames[0].shape[:2]
    assert (h, w) == (20 + 2 * 2 * size[0], 2 * 2 * size[1] + 4)
    assert frames[0][20:].std() > 10  # camera pixels, not a blank frame


def _tiny(path, names, *, T=3, src_names=None, value=0):
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        for i, n in enumerate(names):
            g = data.create_group(n)
            for cam in C.CAMERA_NAMES:
                g.create_dataset(f"obs/images/{cam}", data=np.full((T, 16, 16, 3), value + 10 * i, np.uint8))
            g.attrs["success"] = True
            if src_names is not None:
                g.attrs["src_demo_names"] = json.dumps(src_names[i])
                g.attrs["src_demo_inds"] = np.arange(len(src_names[i]))


def test_side_by_side_shows_each_demos_own_source_and_fails_cleanly(tmp_path):
    src, gen, out = tmp_path / "s.h5", tmp_path / "g.h5", tmp_path / "v.mp4"
    _tiny(src, ["demo_0", "demo_7"], T=5, value=40)
    _tiny(gen, ["demo_0", "demo_1"], T=3, src_names=[["demo_7", "demo_0"], ["demo_0", "demo_0"]], value=200)
    clips = side_by_side_video(src, gen, out, count=5, fps=30, scale=1)
    assert clips == [{"generated": "demo_0", "sources": ["demo_7", "demo_0"], "frames": 5},
                     {"generated": "demo_1", "sources": ["demo_0", "demo_0"], "frames": 5}]
    frames = _frames(out)
    assert len(frames) == 5 + 5 and frames[0].shape == (20 + 32, 16 + 4 + 16, 3)
    # left panel: the named source (demo_7 = value 50, demo_0 = 40); right panel: the generated demo
    assert abs(int(np.median(frames[0][20:, :16])) - 50) <= 3
    assert abs(int(np.median(frames[5][20:, :16])) - 40) <= 3
    assert abs(int(np.median(frames[0][20:, 20:])) - 200) <= 3
    assert abs(int(np.median(frames[5][20:, 20:])) - 210) <= 3
    # a generated demo whose source is missing: a clear error, the old video kept, no temp file
    before = out.read_bytes()
    _tiny(gen, ["demo_0"], src_names=[["demo_3", "demo_3"]])
    with pytest.raises(KeyError, match=r"demo_3.*holds demo_0, demo_7"):
        side_by_side_video(src, gen, out, count=1, fps=30)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.h5", "s.h5", "v.mp4"]
    # nothing to show: no video written
    assert side_by_side_video(src, gen, tmp_path / "none.mp4", count=0, fps=30) == []
    assert not (tmp_path / "none.mp4").exists()


def test_demo_config_is_validated():
    assert DemoConfig().repo_id == "armtwin/so101_pickplace_mimic"
    assert DemoConfig(env_id="armtwin/SO101-Stack-v0").repo_id == "armtwin/so101_stack_mimic"
    with pytest.raises(ValueError, match="valid ids"):
        DemoConfig(env_id="armtwin/SO101-Nope-v0")
    with pytest.raises(ValueError, match="--generate"):
        DemoConfig(generate=0)
    with pytest.raises(ValueError, match="--side-by-side"):
        DemoConfig(side_by_side=-1)


@pytest.mark.lerobot
def test_demo_closes_the_loop_train_and_evaluate(tmp_path, capsys):
    """Stages 6-7: lerobot-train on a state + object-position dataset of the generated demos, then
    armtwin eval of that policy in the twin; the numbers in the summary are eval_info.json's."""
    out = tmp_path / "demo"
    stages = run_demo(DemoConfig(out_dir=out, sources=2, generate=2, workers=1, image_size=(32, 32),
                                 side_by_side=0, train_steps=20, eval_episodes=2))
    printed = capsys.readouterr().out
    for k in range(1, 8):
        assert f"=== {k}/7 " in printed
    assert list(stages)[-3:] == ["state_dataset", "policy", "eval"]
    info = json.loads((out / "lerobot_state" / "meta" / "info.json").read_text())
    assert "observation.environment_state" in info["features"]
    assert not any(k.startswith("observation.images.") for k in info["features"]), "a state-only dataset"
    model = Path(stages["policy"]["output"])
    assert (model / "config.json").is_file() and model.is_relative_to(out / "policy")
    ev = json.loads((out / "eval" / "eval_info.json").read_text())
    assert len(ev["per_episode"]) == 2
    assert stages["eval"]["successes"] == f"{sum(e['success'] for e in ev['per_episode'])}/2"
    assert "success rate (95% Wilson)" in printed


def test_overwrite_removes_an_earlier_runs_outputs_this_run_did_not_write(tmp_path):
    """With --overwrite, an output of an earlier run that this run does not produce (here --no-train: the
    policy and eval folders) is removed once the run is complete, so the folder holds one run."""
    from armtwin.pipeline import DemoConfig, OUTPUTS, run_demo

    out = tmp_path / "demo"
    for name in (OUTPUTS["policy"], OUTPUTS["eval"]):
        (out / name).mkdir(parents=True)
        (out / name / "old.txt").write_text("an earlier run's")
    stages = run_demo(DemoConfig(out_dir=out, sources=2, generate=2, side_by_side=1, workers=1, image_size=(32, 32),
                                 train=False, overwrite=True))
    assert not (out / OUTPUTS["policy"]).exists() and not (out / OUTPUTS["eval"]).exists()
    assert (out / OUTPUTS["generated"]).is_file() and "policy" not in stages
