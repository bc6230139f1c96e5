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
