"""``armtwin mimic annotate`` and ``armtwin mimic generate`` (thin: parse, build config, call library)."""

from __future__ import annotations

import argparse
import sys

#: ``armtwin mimic generate`` flags that are :class:`armtwin.mimic.runner.GenerateConfig` fields of the same
#: name (:func:`armtwin.cli_fields.add_field`: the default and type live in the config).
GENERATE_FIELDS = ("workers", "ray_address", "seed", "keep_failed", "max_failures", "reset_distribution",
                   "image_size", "cameras", "batch_size", "keep_shards", "overwrite")


def _image_size(text: str):
    if text.lower() in ("none", "0", "off"):
        return None
    try:
        h, _, w = text.lower().partition("x")
        return (int(h), int(w or h))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad image size {text!r}: expected HxW (e.g. 128x128) or 'none'") from None


def add_mimic(subparsers) -> None:
    from armtwin.cli_fields import add_field
    from armtwin.mimic.runner import GenerateConfig

    p = subparsers.add_parser("mimic", help="MimicGen-style augmentation: annotate subtasks, generate demos")
    sub = p.add_subparsers(dest="mimic_command", metavar="SUBCOMMAND")

    a = sub.add_parser("annotate", help="mark subtask boundaries in a recording")
    a.add_argument("input", metavar="IN.h5")
    a.add_argument("output", metavar="OUT.h5")
    g = a.add_mutually_exclusive_group(required=True)
    g.add_argument("--auto", action="store_true", help="from the recorded subtask signals (first 0->1 transition)")
    g.add_argument("--boundaries", metavar="SPEC",
                   help='end frames per demo, e.g. "demo_0:45;demo_1:50" (every subtask but the last)')
    a.add_argument("--env", default=None, help="env id (default: the file's env_args)")
    a.add_argument("--overwrite", action="store_true", help="replace an existing OUT.h5")
    a.set_defaults(func=_annotate)

    gen = sub.add_parser("generate", help="generate demos from an annotated recording")
    gen.add_argument("source", metavar="ANNOTATED.h5")
    gen.add_argument("--env", required=True, help="env id, e.g. armtwin/SO101-Lift-v0")
    gen.add_argument("--num", type=int, required=True, help="successful demos to generate")
    gen.add_argument("--out", required=True, metavar="GEN.h5")
    add_field(gen, GenerateConfig, "workers", "local worker processes (1: in-process)")
    add_field(gen, GenerateConfig, "ray_address", "run on this Ray cluster (e.g. 127.0.0.1:6379 or auto)")
    add_field(gen, GenerateConfig, "seed", None)
    add_field(gen, GenerateConfig, "keep_failed", "also write failed trials to <out>_failed.h5")
    add_field(gen, GenerateConfig, "max_failures", "stop after this many failures (default max(20, 10 * num))")
    add_field(gen, GenerateConfig, "reset_distribution", None, choices=("D0", "D1"))
    add_field(gen, GenerateConfig, "image_size", "HxW of kept demos' cameras, or none", type=_image_size)
    add_field(gen, GenerateConfig, "cameras", "comma-separated cameras to render")
    gen.add_argument("--randomize", default=None, help="domain randomization preset of the generated scenes "
                     "(none, visual, physics, all) [the sources']")
    add_field(gen, GenerateConfig, "batch_size", "trials per worker task")
    add_field(gen, GenerateConfig, "keep_shards", "keep <out>.shards after merging")
    add_field(gen, GenerateConfig, "overwrite", "replace an existing --out")
    gen.add_argument("--no-progress", action="store_true")
    gen.set_defaults(func=_generate)

    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _annotate(args) -> int:
    from armtwin.mimic.annotate import MimicDataError, annotate_file, parse_boundaries_arg

    try:
        bounds = None if args.auto else parse_boundaries_arg(args.boundaries)
        report = annotate_file(args.input, args.output, boundaries=bounds, env_id=args.env, overwrite=args.overwrite)
    except (MimicDataError, ValueError, KeyError, OSError) as e:
        print(f"armtwin mimic annotate: {e}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


def _generate(args) -> int:
    from armtwin.cli_fields import field_values
    from armtwin.mimic.annotate import MimicDataError
    from armtwin.mimic.runner import GenerateConfig, format_stats, run_generate

    try:
        cfg = GenerateConfig(
            source=args.source, env_id=args.env, num=args.num, out=args.out,
            **field_values(args, GenerateConfig, GENERATE_FIELDS), progress=not args.no_progress,
            env_kwargs={} if args.randomize is None else {"randomize": args.randomize},
        )
        stats = run_generate(cfg)
    except (MimicDataError, ValueError, KeyError, FileExistsError) as e:
        print(f"armtwin mimic generate: {e}", file=sys.stderr)
        return 2
    print(format_stats(stats))
    print(f"wrote {stats['out']} and {stats['out']}.stats.json")
    return 0 if stats["kept"] >= cfg.num else 1
