"""Flags derived from config fields: the default and type live once, in the dataclass."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from armtwin.cli_fields import add_field, field_values


@dataclass(kw_only=True)
class _Cfg:
    steps: int = 5
    rate: float = 30.0
    name: str = "x"
    horizon: int | None = None
    overwrite: bool = False


def test_flags_take_type_and_default_from_the_field():
    p = argparse.ArgumentParser()
    for f in ("steps", "rate", "name", "horizon", "overwrite"):
        add_field(p, _Cfg, f, f"the {f}")
    a = p.parse_args([])
    assert field_values(a, _Cfg, ("steps", "rate", "name", "horizon", "overwrite")) == vars(_Cfg())
    a = p.parse_args(["--steps", "7", "--rate", "15", "--horizon", "9", "--overwrite"])
    assert (a.steps, a.rate, a.horizon, a.overwrite) == (7, 15.0, 9, True)
    assert isinstance(a.rate, float)
    with pytest.raises(SystemExit):
        p.parse_args(["--steps", "many"])
    assert "[5]" in p.format_help() and "[30.0]" in p.format_help()
    with pytest.raises(KeyError, match="fields: steps, rate"):
        add_field(p, _Cfg, "nope", "?")


def test_eval_flags_are_the_eval_config_defaults():
    from armtwin.policy.cli import EVAL_FIELDS
    from armtwin.policy.eval import EvalConfig

    sub = argparse.ArgumentParser().add_subparsers()
    from armtwin.policy.cli import add_eval

    add_eval(sub)
    p = sub.choices["eval"]
    a = p.parse_args(["--policy", "p", "--env", "e", "--out", "o"])
    import dataclasses

    defaults = {f.name: f.default for f in dataclasses.fields(EvalConfig)}
    assert field_values(a, EvalConfig, EVAL_FIELDS) == {n: defaults[n] for n in EVAL_FIELDS}


def test_tuple_and_optional_fields():
    """A tuple[str, ...] field is a comma list; a ``type`` replaces the field's; tuple defaults read HxW / a,b."""
    from armtwin.cli_fields import comma_list

    @dataclass(kw_only=True)
    class Cams:
        cameras: tuple[str, ...] = ("wrist", "front")
        picked: tuple[str, ...] | None = None
        size: tuple[int, int] | None = (128, 96)

    p = argparse.ArgumentParser()
    add_field(p, Cams, "cameras", "which")
    add_field(p, Cams, "picked", None)
    add_field(p, Cams, "size", "HxW", type=lambda t: tuple(int(v) for v in t.split("x")))
    a = p.parse_args([])
    assert field_values(a, Cams, ("cameras", "picked", "size")) == vars(Cams())
    a = p.parse_args(["--cameras", "front,,top", "--picked", "", "--size", "4x5"])
    assert (a.cameras, a.picked, a.size) == (("front", "top"), (), (4, 5))
    assert comma_list("a,b,") == ("a", "b")
    text = " ".join(p.format_help().split())
    assert "which [wrist,front]" in text and "HxW [128x96]" in text


def _subparser(add, *path):
    """The parser ``path`` (e.g. ("mimic", "generate")) of a command's ``add_*`` function."""
    p = argparse.ArgumentParser()
    add(p.add_subparsers())
    for name in path:
        p = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
    return p


def _command_cases():
    from armtwin.convert import cli as convert_cli
    from armtwin.convert.eef import ActionsConfig
    from armtwin.convert.groot import GrootExportConfig
    from armtwin.convert.lerobot_v3 import LeRobotExportConfig
    from armtwin.convert.to_hdf5 import HDF5ExportConfig
    from armtwin.envs import cli as envs_cli
    from armtwin.hardware import cli as hardware_cli
    from armtwin.hardware.virtual_arm import VirtualArmConfig
    from armtwin.mimic import cli as mimic_cli
    from armtwin.mimic.runner import GenerateConfig
    from armtwin.policy import cli as policy_cli
    from armtwin.policy.eval import EvalConfig
    from armtwin.teleop import cli as teleop_cli
    from armtwin.teleop.factory import TeleopConfig

    return [
        (teleop_cli.add_teleop, ("teleop",), TeleopConfig, teleop_cli.TELEOP_FIELDS),
        (mimic_cli.add_mimic, ("mimic", "generate"), GenerateConfig, mimic_cli.GENERATE_FIELDS),
        (convert_cli.add_convert, ("convert", "lerobot"), LeRobotExportConfig, convert_cli.LEROBOT_FIELDS),
        (convert_cli.add_convert, ("convert", "hdf5"), HDF5ExportConfig, convert_cli.HDF5_FIELDS),
        (convert_cli.add_convert, ("convert", "actions"), ActionsConfig, convert_cli.ACTIONS_FIELDS),
        (convert_cli.add_convert, ("convert", "groot"), GrootExportConfig, convert_cli.GROOT_FIELDS),
        (hardware_cli.add_virtual_arm, ("virtual-arm",), VirtualArmConfig, hardware_cli.VIRTUAL_ARM_FIELDS),
        (envs_cli.add_rollout, ("rollout",), envs_cli.RolloutConfig, envs_cli.ROLLOUT_FIELDS),
        (policy_cli.add_eval, ("eval",), EvalConfig, policy_cli.EVAL_FIELDS),
    ]


@pytest.mark.parametrize("case", range(9), ids=["teleop", "mimic generate", "convert lerobot", "convert hdf5",
                                                 "convert actions", "convert groot", "virtual-arm", "rollout", "eval"])
def test_command_flags_are_their_config_defaults(case):
    """Every field-derived flag of each command: same name as the field, argparse default == the dataclass
    default, and its value reaches the config through ``field_values`` (so flag and field cannot drift)."""
    import dataclasses

    add, path, config_cls, names = _command_cases()[case]
    p = _subparser(add, *path)
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    actions = {a.dest: a for a in p._actions}
    assert names and len(set(names)) == len(names)
    for n in names:
        assert fields[n].default is not dataclasses.MISSING, f"{path}: {n} has no default in {config_cls.__name__}"
        a = actions[n]
        assert a.option_strings == ["--" + n.replace("_", "-")], (path, n, a.option_strings)
        assert a.default == fields[n].default, (path, n, a.default, fields[n].default)
        assert p.get_default(n) == fields[n].default


def test_field_derived_flags_parse_as_before():
    """Sizes, comma lists and Optional numbers parse to what the configs took before (the text handed over)."""
    t = _subparser(_command_cases()[0][0], "teleop")
    assert t.parse_args(["--image-size", "64x96"]).image_size == (64, 96)
    assert t.parse_args(["--image-size", "none"]).image_size is None
    assert t.parse_args(["--hz", "20"]).hz == 20.0 and t.parse_args([]).hz is None
    with pytest.raises(SystemExit):
        t.parse_args(["--image-size", "64"])  # teleop wants HxW
    g = _subparser(_command_cases()[1][0], "mimic", "generate")
    base = ["s.h5", "--env", "e", "--num", "1", "--out", "o.h5"]
    a = g.parse_args(base + ["--cameras", "front,,wrist", "--image-size", "64"])
    assert (a.cameras, a.image_size) == (("front", "wrist"), (64, 64))
    assert g.parse_args(base + ["--cameras", ""]).cameras == ()
    c = _subparser(_command_cases()[2][0], "convert", "lerobot")
    a = c.parse_args(["a.h5", "--repo-id", "u/n", "--root", "r", "--image-size", "64x48", "--cameras", "front,"])
    assert (a.image_size, a.cameras) == ("64x48", ("front",))  # the config parses WxH itself
    assert c.parse_args(["a.h5", "--repo-id", "u/n", "--root", "r"]).cameras is None
