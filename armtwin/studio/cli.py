"""``armtwin studio`` (the web app) and ``armtwin view PATH`` (its dataset viewer on one file, or ``--rerun``)."""

from __future__ import annotations

import sys
from pathlib import Path

from armtwin.studio.config import DEFAULT_HOST, DEFAULT_PORT


def _need_studio(cmd: str) -> None:
    from armtwin._optional import require

    for mod in ("fastapi", "uvicorn"):
        require(mod, extra="studio", what=f"armtwin {cmd}")


def add_studio(subparsers) -> None:
    p = subparsers.add_parser("studio", help="local web app: record, jobs, datasets (FastAPI + websockets)")
    p.add_argument("--host", default=DEFAULT_HOST, help="bind address (default 127.0.0.1; any other needs the token)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--root", default=".", help="folder of recordings and datasets (default: .)")
    p.add_argument("--token", default=None, help="token for non-default binds (default: generated, printed)")
    p.add_argument("--open", action="store_true", help="open the browser")
    p.set_defaults(func=_studio)


def _studio(args) -> int:
    from armtwin.studio.config import StudioConfig

    try:
        _need_studio("studio")
        cfg = StudioConfig(host=args.host, port=args.port, root=args.root, token=args.token)
    except (ImportError, ValueError, FileNotFoundError) as e:
        print(f"armtwin studio: {e}", file=sys.stderr)
        return 2
    from armtwin.studio.app import serve

    return serve(cfg, open_browser=args.open)


def add_view(subparsers) -> None:
    p = subparsers.add_parser("view", help="open a recording or LeRobot dataset in the studio's viewer (or --rerun)")
    p.add_argument("path", help="an .h5 recording or a LeRobot v3 dataset folder")
    p.add_argument("--rerun", metavar="OUT.rrd", default=None, help="write a Rerun recording instead of serving")
    p.add_argument("--episode", default=None, help="with --rerun: one episode (name or index; default: all)")
    p.add_argument("--overwrite", action="store_true", help="with --rerun: replace an existing OUT.rrd")
    p.add_argument("--host", default=DEFAULT_HOST)
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--open", action="store_true", help="open the browser")
    p.set_defaults(func=_view)


def _view(args) -> int:
    path = Path(args.path).expanduser().resolve()
    if not path.exists():
        print(f"armtwin view: {path} does not exist; give an .h5 recording or a LeRobot dataset folder",
              file=sys.stderr)
        return 2
    if args.rerun:
        from armtwin.staging import OutputError, check_output, staged_file
        from armtwin.studio.datasets import DatasetError
        from armtwin.studio.rerun_export import write_rrd

        try:
            # The .rrd never is, holds or lies in PATH, and replaces an existing one only with --overwrite;
            # it is written under a temporary name so a failure leaves nothing behind.
            out = check_output(args.rerun, [path], overwrite=args.overwrite, what="--rerun")
            with staged_file(out) as tmp:
                write_rrd(path, tmp, episode=args.episode)
        except (ImportError, DatasetError, OutputError) as e:
            print(f"armtwin view: {e}", file=sys.stderr)
            return 2
        print(f"wrote {out} (open it with: rerun {out})")
        return 0
    from armtwin.studio.config import StudioConfig

    try:
        _need_studio("view")
        cfg = StudioConfig(host=args.host, port=args.port, root=path.parent, view=path)
    except (ImportError, ValueError, FileNotFoundError) as e:
        print(f"armtwin view: {e}", file=sys.stderr)
        return 2
    from armtwin.studio.app import serve

    return serve(cfg, open_browser=args.open)
