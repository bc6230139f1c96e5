"""armtwin studio: a local web app to drive, record, watch and review (``armtwin studio``, ``armtwin view``).

- :mod:`~armtwin.studio.config`: :class:`StudioConfig` (bind address, token rule, root, cache).
- :mod:`~armtwin.studio.auth`: the token gate on every request and websocket (non-loopback binds).
- :mod:`~armtwin.studio.app`: :func:`create_app` (FastAPI) and :func:`serve` (uvicorn).
- Record page: :mod:`~armtwin.studio.record` (the teleop session on its own thread, driven through
  ``armtwin.teleop.factory.build_session``), :mod:`~armtwin.studio.frames` (latest-value slot and the
  JPEG encoder thread), :mod:`~armtwin.studio.record_routes`.
- Jobs page: :mod:`~armtwin.studio.jobs` (registry and background processes), :mod:`~armtwin.studio.job_routes`.
- Dataset page: :mod:`~armtwin.studio.datasets` (HDF5 through ``armtwin.data``, LeRobot v3 through pyarrow),
  :mod:`~armtwin.studio.dataset_routes`; :mod:`~armtwin.studio.rerun_export` (``armtwin view --rerun``).
- ``static/``: the pages (plain JS, no build step, no CDN).

Nothing here is imported by ``import armtwin``; FastAPI/uvicorn come with the ``[studio]`` extra.
"""
