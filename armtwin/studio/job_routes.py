"""Jobs page routes: the registry (forms), start, list with progress, cancel."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from armtwin.studio.jobs import REGISTRY, JobRunner


def make_router(runner: JobRunner) -> APIRouter:
    r = APIRouter()

    @r.get("/api/jobs/kinds")
    def kinds():
        return [k.describe() for k in REGISTRY.values()]

    @r.get("/api/jobs")
    def jobs():
        return runner.jobs()

    @r.post("/api/jobs/{kind}")
    async def start(kind: str, request: Request):
        try:
            job = runner.start(kind, await request.json())
        except (ValueError, TypeError) as e:
            raise HTTPException(422, str(e)) from None
        return job.view()

    @r.post("/api/jobs/{job_id}/cancel")
    def cancel(job_id: int):
        try:
            return runner.cancel(job_id).view()
        except KeyError as e:
            raise HTTPException(404, str(e)) from None

    return r
