"""The studio's web app: :func:`create_app` (FastAPI, the pages' routes, the request gate) and :func:`serve`."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from armtwin.studio.config import StudioConfig

STATIC = Path(__file__).parent / "static"
PAGES = ("record", "jobs", "dataset")
log = logging.getLogger(__name__)


def create_app(config: StudioConfig):
    """The ASGI app: pages under ``/`` (``/record``, ``/jobs``, ``/dataset``), JSON under ``/api``, websockets
    under ``/ws``, assets under ``/static``; always wrapped in :class:`~armtwin.studio.auth.RequestGate`
    (Host and Origin checks, JSON-only state changes, and the token when the config has one).
    ``app.state.record`` / ``app.state.jobs`` hold the record controller and job runner."""
    from fastapi import FastAPI
    from fastapi.responses import FileResponse, RedirectResponse
    from fastapi.staticfiles import StaticFiles

    from armtwin.studio import dataset_routes, job_routes, record_routes
    from armtwin.studio.auth import RequestGate
    from armtwin.studio.config import is_default_bind
    from armtwin.studio.jobs import JobRunner
    from armtwin.studio.record import RecordController

    controller = RecordController(config.root)
    jobs = JobRunner(config.root)

    @asynccontextmanager
    async def lifespan(app):
        yield
        controller.close()  # ends an episode being recorded safely, closes devices and the file
        jobs.close()

    app = FastAPI(title="armtwin studio", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.record, app.state.jobs, app.state.config = controller, jobs, config
    app.include_router(record_routes.make_router(controller))
    app.include_router(job_routes.make_router(jobs))
    app.include_router(dataset_routes.make_router(config.root, Path(config.cache_dir), jobs))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/")
    def index():
        if config.view is not None:
            rel = config.view.relative_to(config.root) if config.root in config.view.parents else config.view.name
            return RedirectResponse(f"/dataset?path={rel}")
        return RedirectResponse("/record")

    for page in PAGES:
        app.add_api_route(f"/{page}", (lambda p=page: FileResponse(STATIC / f"{p}.html")), methods=["GET"])

    return RequestGate(app, config.token, loopback=is_default_bind(config.host), port=config.port)


def serve(config: StudioConfig, *, open_browser: bool = False) -> int:
    """Run the app with uvicorn until interrupted; prints the address (with the token when one is needed)."""
    import uvicorn

    app = create_app(config)
    server = uvicorn.Server(uvicorn.Config(app, host=config.host, port=config.port, log_level="warning",
                                           ws_ping_interval=5.0, ws_ping_timeout=5.0))
    print(f"armtwin studio: serving {config.root} at {config.url}", flush=True)
    if config.token:
        print(f"armtwin studio: this address is not the default loopback; every request needs the token "
              f"{config.token} (the link above carries it)", flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(config.url)
    server.run()
    return 0
