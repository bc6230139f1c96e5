"""``armtwin convert {lerobot,hdf5,actions,groot}``: thin parsers over the convert library."""

from __future__ import annotations

import sys

from armtwin.cli_fields import add_field, field_values

# Each sub-command's flags that are fields of the same name of its config (add_field: the default and type
# live in the config): LeRobotExportConfig, HDF5ExportConfig, ActionsConfig, GrootExportConfig.
LEROBOT_FIELDS = ("fps", "vcodec", "crf", "preset", "image_size", "episodes", "task", "environment_state", "cameras",
                  "overwrite", "calibration")
HDF5_FIELDS = ("repo_id", "source", "overwrite", "calibration")
ACTIONS_FIELDS = ("overwrite",)
GROOT_FIELDS = ("repo_id", "overwrite")


def _units_args(p, config_cls, *, robot_default: bool = False) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--use-degrees", dest="use_degrees", action="store_true", default=None if robot_default else True,
                   help="body joints in degrees, gripper 0..100 (LeRobot's SO101Follower default"
                        + ("; default: the recorded robot's LeRobot default, -100..100 for the OMX)" if robot_default
                           else ")"))
    g.add_argument("--range-m100-100", dest="use_degrees", action="store_false",
                   help="body joints in -100..100, gripper 0..100")
    add_field(p, config_cls, "calibration", "LeRobot calibration JSON of the arm (default: the ideal arm)")


def _fail(cmd: str, e: Exception) -> int:
    print(f"armtwin convert {cmd}: error: {e}", file=sys.stderr)
    return 1


def _cmd_lerobot(args) -> int:
    from armtwin.convert.h5io import ConvertError
    from armtwin.convert.lerobot_v3 import LeRobotExportConfig, export_lerobot
    from armtwin.convert.report import format_export

    try:
        cfg = LeRobotExportConfig(
            inputs=tuple(args.inputs), repo_id=args.repo_id, root=args.root, use_degrees=args.use_degrees,
            progress=not args.quiet, **field_values(args, LeRobotExportConfig, LEROBOT_FIELDS),
        )
        result = export_lerobot(cfg)
    except (ConvertError, FileNotFoundError) as e:
        return _fail("lerobot", e)
    print(format_export(result))
    if args.push:
        from armtwin.convert.hub import push_dataset

        try:
            url = push_dataset(result.root, args.repo_id, private=args.private)
        except Exception as e:  # noqa: BLE001 - report the hub's reason, keep the local dataset
            return _fail("lerobot", RuntimeError(f"upload failed (the dataset stays at {result.root}): {e}"))
        print(f"pushed to {url}")
    return 0


def _cmd_hdf5(args) -> int:
    from armtwin.convert.h5io import ConvertError
    from armtwin.convert.to_hdf5 import HDF5ExportConfig, export_hdf5

    try:
        res = export_hdf5(
            HDF5ExportConfig(
                dataset_root=args.dataset_root, output=args.output, use_degrees=args.use_degrees,
                images=not args.no_images, **field_values(args, HDF5ExportConfig, HDF5_FIELDS),
            )
        )
    except (ConvertError, FileNotFoundError) as e:
        return _fail("hdf5", e)
    print(f"wrote {res['episodes']} episodes, {res['frames']} frames to {res['output']}")
    return 0


def _cmd_actions(args) -> int:
    from armtwin.convert.eef import ActionsConfig, convert_actions
    from armtwin.convert.h5io import ConvertError
    from armtwin.convert.report import format_error_table

    try:
        res = convert_actions(ActionsConfig(input=args.input, output=args.output, to=args.to,
                                           **field_values(args, ActionsConfig, ACTIONS_FIELDS)))
    except (ConvertError, FileNotFoundError) as e:
        return _fail("actions", e)
    print(format_error_table(res["episodes"]))
    print(f"wrote {res['output']} ({args.to} actions)")
    return 0


def _cmd_groot(args) -> int:
    from armtwin.convert.groot import GrootExportConfig, export_groot
    from armtwin.convert.h5io import ConvertError

    try:
        res = export_groot(GrootExportConfig(dataset_root=args.dataset_root, output=args.output,
                                             **field_values(args, GrootExportConfig, GROOT_FIELDS)))
    except (ConvertError, FileNotFoundError) as e:
        return _fail("groot", e)
    print(f"wrote GR00T layout: {res['episodes']} episodes, {res['frames']} frames, videos {', '.join(res['video_keys'])} -> {res['output']}")
    return 0


def add_convert(subparsers) -> None:
    from armtwin.convert.eef import ActionsConfig
    from armtwin.convert.groot import GrootExportConfig
    from armtwin.convert.lerobot_v3 import LeRobotExportConfig
    from armtwin.convert.to_hdf5 import HDF5ExportConfig

    p = subparsers.add_parser("convert", help="convert recordings: HDF5 <-> LeRobot v3, joint <-> eef actions, GR00T")
    sub = p.add_subparsers(dest="convert_command", metavar="FORMAT", required=True)

    lr = sub.add_parser("lerobot", help="HDF5 recordings -> LeRobot v3.0 dataset")
    lr.add_argument("inputs", nargs="+", help="HDF5 recordings (episodes are concatenated in order)")
    lr.add_argument("--repo-id", required=True, help="USER/NAME of the dataset")
    lr.add_argument("--root", required=True, help="directory to create (must not exist unless --overwrite)")
    add_field(lr, LeRobotExportConfig, "fps", "frame rate (default: the recordings' fps)")
    add_field(lr, LeRobotExportConfig, "vcodec", "video codec: libsvtav1 (LeRobot's default), h264 or hevc")
    add_field(lr, LeRobotExportConfig, "crf",
              "encoder quality, lower is better (default: libsvtav1 30 as LeRobot, h264 20, hevc 26)")
    add_field(lr, LeRobotExportConfig, "preset", "encoder preset (default: svt-av1 12, x264 superfast)")
    # The text goes to the config as is: it parses WxH (armtwin.convert's order, not the sim's HxW).
    add_field(lr, LeRobotExportConfig, "image_size", "resize all cameras to WxH", type=str, metavar="WxH")
    add_field(lr, LeRobotExportConfig, "episodes", "which demos to convert", choices=("success", "all"))
    add_field(lr, LeRobotExportConfig, "task", "task string for every episode (default: each demo's instruction)")
    add_field(lr, LeRobotExportConfig, "environment_state",
              "also write observation.environment_state: the task objects' positions, (3*n,) float32, "
              "metres, world frame (recordings without cameras then convert too: a state-only dataset)")
    add_field(lr, LeRobotExportConfig, "cameras",
              "which recorded cameras become videos (default: all; '' for none, with --environment-state)",
              metavar="CAM,CAM")
    lr.add_argument("--push", action="store_true", help="upload to the Hugging Face hub after converting")
    lr.add_argument("--private", action="store_true", help="with --push: create a private dataset repo")
    add_field(lr, LeRobotExportConfig, "overwrite", "replace an existing --root once the new one is complete")
    lr.add_argument("--quiet", action="store_true", help="no progress bar")
    _units_args(lr, LeRobotExportConfig, robot_default=True)
    lr.set_defaults(func=_cmd_lerobot)

    h5 = sub.add_parser("hdf5", help="LeRobot dataset (e.g. recorded on the real arm) -> HDF5 episodes for replay")
    h5.add_argument("dataset_root", help="LeRobot v3.0 dataset directory")
    h5.add_argument("output", help="HDF5 file to write (.h5/.hdf5)")
    add_field(h5, HDF5ExportConfig, "repo_id", "repo id to open the dataset with (default: local/<dir name>)")
    h5.add_argument("--no-images", action="store_true", help="do not decode and store camera frames")
    add_field(h5, HDF5ExportConfig, "source", "source attr of the written demos", choices=("real", "sim"))
    add_field(h5, HDF5ExportConfig, "overwrite", "replace an existing output file")
    _units_args(h5, HDF5ExportConfig, robot_default=True)
    h5.set_defaults(func=_cmd_hdf5)

    ac = sub.add_parser("actions", help="joint-position actions <-> end-effector pose actions")
    ac.add_argument("input", help="HDF5 recording")
    ac.add_argument("output", help="HDF5 file to write")
    ac.add_argument("--to", choices=("eef", "joint"), required=True, help="target action space")
    add_field(ac, ActionsConfig, "overwrite", "replace an existing output file")
    ac.set_defaults(func=_cmd_actions)

    gr = sub.add_parser("groot", help="LeRobot dataset -> GR00T N1.5 fine-tuning layout")
    gr.add_argument("dataset_root", help="LeRobot v3.0 dataset directory")
    gr.add_argument("output", help="directory to create")
    add_field(gr, GrootExportConfig, "repo_id", "repo id to open the dataset with (default: local/<dir name>)")
    add_field(gr, GrootExportConfig, "overwrite", "replace an existing output directory")
    gr.set_defaults(func=_cmd_groot)
