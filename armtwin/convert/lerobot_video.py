"""Video side of the LeRobot v3.0 export: one process per camera encodes every episode with PyAV.

Frames go from the recording straight into the shared ``videos/<key>/chunk-XXX/file-XXX.mp4``
files (rolling over at ``video_files_size_in_mb``), ``read_chunk`` frames at a time, and the
pixels LeRobot's image stats sample are counted on the way (see
:func:`armtwin.convert.lerobot_format.image_stats_from_counts`). No LeRobot import; the codec
settings match LeRobot 0.4.4's ``encode_video_frames`` except where stated.
"""

from __future__ import annotations

import os
import traceback
from fractions import Fraction
from pathlib import Path

import numpy as np

from armtwin.convert.lerobot_format import downsample_hwc

#: Codecs this writer encodes, with the PyAV encoder used for each (names as LeRobot's ``vcodec``).
VIDEO_CODECS: dict[str, str] = {"libsvtav1": "libsvtav1", "h264": "libx264", "hevc": "libx265"}
#: LeRobot 0.4.4's encoder defaults (``video_utils._get_codec_options``): keyframe every 2 frames, crf 30.
DEFAULT_GOP = 2
#: Default crf per codec. svt-av1 keeps LeRobot's 30 (>= 38 dB PSNR on 320x240 sim renders).
#: crf scales differ between encoders: x264 at LeRobot's 30 falls to ~31-35 dB on the same renders,
#: so h264 uses crf 20 with preset "superfast" (LeRobot leaves x264 at "medium"): worst frame
#: 35.9 dB on 320x240 renders, ~39 dB at 640x480, and superfast encodes ~3x faster than medium.
#: (x264's "veryfast" was measured *worse* in worst-frame PSNR than "superfast": 34.6 dB at crf 20.)
DEFAULT_CRF: dict[str, int] = {"libsvtav1": 30, "h264": 20, "hevc": 26}
DEFAULT_X264_PRESET = "superfast"
#: LeRobot's default svt-av1 preset.
DEFAULT_SVTAV1_PRESET = "12"
#: ``--preset`` values each encoder takes: svt-av1's speed levels (-2 slowest .. 13 fastest; this
#: build's libsvtav1 refuses others), x264's and x265's named presets.
_X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                 "placebo")
PRESETS: dict[str, tuple[str, ...]] = {"libsvtav1": tuple(str(i) for i in range(-2, 14)), "h264": _X26X_PRESETS,
                                       "hevc": _X26X_PRESETS}



def check_vcodec(vcodec: str) -> str:
    """``vcodec`` is one of VIDEO_CODECS and this PyAV build has its encoder; ValueError otherwise."""
    if vcodec not in VIDEO_CODECS:
        raise ValueError(f"unknown video codec {vcodec!r}; valid codecs: {', '.join(VIDEO_CODECS)}")
    import av

    try:
        av.codec.Codec(VIDEO_CODECS[vcodec], "w")
    except Exception:  # noqa: BLE001 - PyAV raises several types for a missing encoder
        raise ValueError(f"video codec {vcodec!r} (encoder {VIDEO_CODECS[vcodec]}) is not available in this PyAV "
                         f"build; valid codecs: {', '.join(VIDEO_CODECS)}") from None
    return vcodec


def check_preset(vcodec: str, preset: str | None) -> str | None:
    """``preset`` (None: the codec's default) is one ``vcodec``'s encoder takes (:data:`PRESETS`);
    ValueError naming them otherwise, before any encoder process starts."""
    if preset is None:
        return None
    valid = PRESETS[vcodec]
    if str(preset) not in valid:
        raise ValueError(f"unknown --preset {preset!r} for --vcodec {vcodec}; valid presets: {', '.join(valid)}")
    return str(preset)


# --- video encoding (runs in one process per camera) ---------------------------------------------


def codec_options(vcodec: str, *, crf: int, gop: int, preset: str | None, threads: int | None) -> dict[str, str]:
    """FFmpeg encoder options as LeRobot sets them (g, crf, svt-av1 preset), plus a faster x264 preset."""
    opts = {"g": str(gop), "crf": str(crf)}
    if vcodec == "libsvtav1":
        opts["preset"] = preset or DEFAULT_SVTAV1_PRESET
        if threads:
            opts["svtav1-params"] = f"lp={threads}"
    elif vcodec == "h264":
        opts["preset"] = preset or DEFAULT_X264_PRESET
        if threads:
            opts["threads"] = str(threads)
    elif vcodec == "hevc":
        opts["preset"] = preset or DEFAULT_X264_PRESET
        opts["x265-params"] = "log-level=error" + (f":pools={threads}" if threads else "")
    return opts


def encode_camera(job: dict, out_q) -> None:
    """Encode one camera's frames of every episode into ``videos/<key>/chunk-XXX/file-XXX.mp4``.

    ``job["open_frames"](files, path, demo, cam)`` gives an episode's (T, H, W, 3) uint8 frames
    (``read_direct``-able); ``files`` is its cache of open files, closed here at the end.
    Puts ("progress", cam, n) messages while encoding and finally ("done", cam, result) where
    result["segments"][i] = (chunk_index, file_index, from_timestamp, to_timestamp) of episode i
    and result["counts"][i] = (3, 256) pixel-value counts of its stats sample; or
    ("error", cam, traceback text).
    """
    try:
        from armtwin.lifeline import die_with_parent

        die_with_parent()  # a killed export must not leave encoders blocked on its queue
        import av
        from av.video.reformatter import VideoReformatter

        av.logging.set_level(av.logging.ERROR)  # x264 prints per-file statistics at INFO
        os.environ.setdefault("SVT_LOG", "1")  # svt-av1 prints its banner to stderr otherwise
        cam, key, fps = job["cam"], job["key"], int(job["fps"])
        root = Path(job["root"])
        W, H = job["size"]
        limit = job["video_files_size_in_mb"] * 1024 * 1024
        files: dict = {}
        segments, all_counts = [], []
        chunk_idx, file_idx = 0, 0
        container = stream = None
        frames_in_file = bytes_in_file = 0
        # One reformatter each, reused: a new swscale context per frame costs as much as the conversion.
        to_yuv, to_rgb = VideoReformatter(), VideoReformatter()
        tb = Fraction(1, fps)

        def open_file():
            nonlocal container, stream, frames_in_file, bytes_in_file
            path = root / f"videos/{key}/chunk-{chunk_idx:03d}/file-{file_idx:03d}.mp4"
            path.parent.mkdir(parents=True, exist_ok=True)
            container = av.open(str(path), "w", options={"movflags": "faststart"})
            stream = container.add_stream(job["encoder"], rate=fps, options=job["options"])
            stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
            stream.time_base = tb
            frames_in_file = bytes_in_file = 0

        def mux(packets):
            nonlocal bytes_in_file
            for packet in packets:
                bytes_in_file += packet.size
                container.mux(packet)

        def close_file():
            mux(stream.encode())
            container.close()

        open_file()
        buf = None
        for (path_str, demo, T), sample in zip(job["episodes"], job["samples"]):
            # Bytes muxed so far, not the file size: the muxer writes its header lazily.
            if frames_in_file > 0 and bytes_in_file >= limit:
                close_file()
                file_idx += 1
                if file_idx >= job["chunks_size"]:
                    chunk_idx, file_idx = chunk_idx + 1, 0
                open_file()
            ds = job["open_frames"](files, path_str, demo, cam)
            if buf is None or buf.shape[1:] != ds.shape[1:]:
                buf = np.empty((job["read_chunk"], *ds.shape[1:]), np.uint8)
            same_size = ds.shape[1:3] == (H, W)
            want: dict[int, int] = {}
            for j in sample:
                want[j] = want.get(j, 0) + 1
            counts = np.zeros((3, 256), np.int64)
            start = frames_in_file
            for s in range(0, T, job["read_chunk"]):
                n = min(T, s + job["read_chunk"]) - s
                ds.read_direct(buf, np.s_[s : s + n], np.s_[0:n])
                for k in range(n):
                    rgb = av.VideoFrame.from_numpy_buffer(buf[k], format="rgb24")
                    frame = to_yuv.reformat(rgb, width=W, height=H, format="yuv420p")
                    frame.pts = frames_in_file
                    frame.time_base = tb
                    mux(stream.encode(frame))
                    frames_in_file += 1
                    m = want.get(s + k)
                    if m:
                        img = buf[k] if same_size else to_rgb.reformat(rgb, width=W, height=H, format="rgb24").to_ndarray()
                        img = downsample_hwc(img)
                        for c in range(3):
                            counts[c] += m * np.bincount(img[..., c].reshape(-1), minlength=256)
                out_q.put(("progress", cam, n))
            segments.append((chunk_idx, file_idx, start / fps, frames_in_file / fps))
            all_counts.append(counts)
        close_file()
        for f in files.values():
            f.close()
        out_q.put(("done", cam, {"segments": segments, "counts": all_counts}))
    except BaseException:  # noqa: BLE001 - everything must reach the parent, which cleans up
        out_q.put(("error", job.get("cam"), traceback.format_exc()))
