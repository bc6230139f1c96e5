"""``armtwin teleop``, ``armtwin inspect`` and ``armtwin virtual-arm``: thin parsers over the library."""

from __future__ import annotations

import argparse
import json
import sys


def _cmd_inspect(args) -> int:
    from armtwin.teleop.recorder import format_summary, summarize

    try:
        s = summarize(args.file)
    except (FileNotFoundError, ValueError, OSError) as e:
        print(f"armtwin inspect: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(s, indent=2, default=list))
    else:
        print(format_summary(s))
    return 0


def add_inspect(subparsers) -> None:
    p = subparsers.add_parser(
        "inspect",
        help="summarise an HDF5 recording (episodes, lengths, success, keys, shapes)",
        description="Summarise an armtwin/robomimic HDF5 recording.",
    )
    p.add_argument("file", help="the .h5/.hdf5 recording")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_cmd_inspect)
