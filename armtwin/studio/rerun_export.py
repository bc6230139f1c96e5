"""``armtwin view PATH --rerun out.rrd``: a recording or LeRobot dataset as a Rerun recording.

Per episode (entity ``episode_<k>`` or the demo name): ``state/<joint>`` and ``action/<joint>`` scalars
and ``subtask/<name>`` signals on the ``frame`` timeline, and each camera's frames as images (HDF5:
the recorded pixels; LeRobot: the videos as ``AssetVideo`` with their frame timestamps). ``rerun-sdk``
comes with LeRobot and is imported lazily.
"""

from __future__ import annotations

from pathlib import Path

from armtwin.studio import datasets as D


def write_rrd(path: Path, out: str | Path, *, episode: str | None = None) -> Path:
    """Write ``out`` (.rrd) from ``path``; ``episode`` one name/index or None for all. Returns ``out``."""
    from armtwin._optional import require

    require("rerun", extra="lerobot", what="armtwin view --rerun")
    import rerun as rr

    path, out = Path(path), Path(out)
    lerobot = D.is_lerobot(path)
    listing = D.lerobot_episodes(path) if lerobot else D.hdf5_episodes(path)
    eps = listing["episodes"]
    if episode is not None:
        eps = [e for e in eps if episode in (e["name"], str(e["index"]))]
        if not eps:
            raise D.DatasetError(f"no episode {episode!r}; episodes: {', '.join(e['name'] for e in listing['episodes'])}")
    rec = rr.RecordingStream("armtwin_view")
    rec.save(str(out))
    for e in eps:
        ent = e["name"]
        ep = D.lerobot_episode(path, e["index"]) if lerobot else D.hdf5_episode(path, e["name"])
        for t in range(ep["length"]):
            rec.set_time("frame", sequence=t)
            for kind in ("state", "action"):
                if ep[kind]:
                    for j, name in enumerate(ep["names"]):
                        rec.log(f"{ent}/{kind}/{name}", rr.Scalars(float(ep[kind][t][j])))
            for name, sig in ep["subtasks"].items():
                rec.log(f"{ent}/subtask/{name}", rr.Scalars(float(sig[t])))
        if lerobot:
            for cam, v in ep["videos"].items():
                asset = rr.AssetVideo(path=str(path / v["file"]))
                rec.log(f"{ent}/{cam}", asset, static=True)
                ts = asset.read_frame_timestamps_nanos()
                lo, hi = int(v["from"] * 1e9), int(v["to"] * 1e9)
                sel = [x for x in ts if lo <= x < hi][: ep["length"]]
                for t, x in enumerate(sel):
                    rec.set_time("frame", sequence=t)
                    rec.log(f"{ent}/{cam}", rr.VideoFrameReference(nanoseconds=int(x)))
        else:
            from armtwin.data import open_recording

            with open_recording(path) as r:
                view = r.demo(e["name"])
                for cam in ep["cameras"]:
                    frames = view.dataset(f"obs/images/{cam}")
                    for t in range(frames.shape[0]):
                        rec.set_time("frame", sequence=t)
                        rec.log(f"{ent}/{cam}", rr.Image(frames[t]))
    rec.flush()
    return out
