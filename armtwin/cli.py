"""The ``armtwin`` command.

Registration is explicit: COMMANDS maps each sub-command to the function that
adds its parser (``"module:function"``). Only the module of the command being
run is imported, so ``armtwin envs`` never pays for torch or LeRobot.
Each ``add_*`` function takes argparse's sub-parsers object, adds one parser
and sets ``func`` to a callable ``(args) -> int`` (the exit status).
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: dict[str, str] = {
    "demo": "armtwin.pipeline:add_demo",
    "envs": "armtwin.envs.cli:add_envs",
    "rollout": "armtwin.envs.cli:add_rollout",
    "teleop": "armtwin.teleop.cli:add_teleop",
    "virtual-arm": "armtwin.hardware.cli:add_virtual_arm",
    "inspect": "armtwin.teleop.cli:add_inspect",
    "convert": "armtwin.convert.cli:add_convert",
    "mimic": "armtwin.mimic.cli:add_mimic",
    "bridge": "armtwin.bridge.cli:add_bridge",
    "eval": "armtwin.policy.cli:add_eval",
    "run": "armtwin.policy.cli:add_run",
    "studio": "armtwin.studio.cli:add_studio",
    "view": "armtwin.studio.cli:add_view",
    "twin-gap": "armtwin.twingap.cli:add_twin_gap",
}


def _load(spec: str):
    module, _, func = spec.partition(":")
    return getattr(importlib.import_module(module), func)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="armtwin", description="Simulation-first digital twin of the SO-101 arm for imitation learning."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, spec in COMMANDS.items():
        if only is None or name == only:
            _load(spec)(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in argv if not a.startswith("-")), None)
    if first is not None and first not in COMMANDS:
        print(f"armtwin: unknown command {first!r}; valid commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    parser = build_parser(first)
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0 if not argv else 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("armtwin: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
