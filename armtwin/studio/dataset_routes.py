"""Dataset page routes: list, episodes, one episode, its videos (HTTP range), filtered copies.

Errors a person can fix come back as HTTP 422 with the reader's message (the page shows it).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from armtwin.studio import datasets as D
from armtwin.studio.jobs import JobRunner


def make_router(root: Path, cache_dir: Path, jobs: JobRunner) -> APIRouter:
    r = APIRouter()

    def where(rel: str) -> Path:
        try:
            return D.resolve(root, rel)
        except D.DatasetError as e:
            raise HTTPException(404, str(e)) from None

    @r.get("/api/datasets")
    def listing():
        return {"root": str(root), "datasets": D.discover(root, skip=cache_dir)}

    @r.get("/api/dataset")
    async def episodes(path: str):
        p = where(path)
        try:
            return await run_in_threadpool(D.lerobot_episodes if D.is_lerobot(p) else D.hdf5_episodes, p)
        except D.DatasetError as e:
            raise HTTPException(422, str(e)) from None

    @r.get("/api/dataset/episode")
    async def episode(path: str, episode: str):
        p = where(path)
        try:
            if D.is_lerobot(p):
                out = await run_in_threadpool(D.lerobot_episode, p, int(episode.rsplit("_", 1)[-1]))
                out["video_urls"] = {k: f"/files/{Path(path) / v['file']}" for k, v in out["videos"].items()}
            else:
                out = await run_in_threadpool(D.hdf5_episode, p, episode)
                out["video_urls"] = {c: f"/api/dataset/video?path={path}&demo={episode}&camera={c}"
                                     for c in out["cameras"]}
                out["videos"] = {c: {"from": 0.0, "to": out["length"] / out["fps"]} for c in out["cameras"]}
        except (D.DatasetError, ValueError) as e:
            raise HTTPException(422, str(e)) from None
        return out

    @r.get("/api/dataset/video")
    async def video(path: str, demo: str, camera: str):
        p = where(path)
        try:
            mp4 = await run_in_threadpool(D.hdf5_video, p, demo, camera, cache_dir)
        except D.DatasetError as e:
            raise HTTPException(422, str(e)) from None
        return FileResponse(mp4, media_type="video/mp4")

    @r.get("/files/{rel:path}")
    def files(rel: str):
        p = where(rel)
        if not p.is_file():
            raise HTTPException(404, f"{rel} is not a file")
        media = "video/mp4" if p.suffix == ".mp4" else None
        return FileResponse(p, media_type=media)  # answers Range requests (seeking <video>)

    @r.post("/api/dataset/filter")
    async def filtered(request: Request):
        body = await request.json()
        p = where(body.get("path", ""))
        exclude = [str(x) for x in body.get("exclude", [])]
        out_rel = str(body.get("out") or "").strip()
        if not out_rel:
            raise HTTPException(422, "name the filtered copy (out)")
        out = (root / out_rel).resolve()
        if root.resolve() not in out.parents:
            raise HTTPException(422, f"{out_rel!r} is outside the studio's root {root}")
        if D.is_lerobot(p):
            try:
                job = jobs.start("lerobot_filter", {"root": str(p), "out": str(out),
                                                    "exclude": ",".join(e.rsplit("_", 1)[-1] for e in exclude)})
            except ValueError as e:
                raise HTTPException(422, str(e)) from None
            return {"job": job.id, "out": str(out.relative_to(root))}
        try:
            await run_in_threadpool(D.write_filtered, p, exclude, out)
        except D.DatasetError as e:
            raise HTTPException(422, str(e)) from None
        return {"out": str(out.relative_to(root))}

    return r
