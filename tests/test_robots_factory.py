"""One follower factory, one calibration lookup, one device contract.

- ``armtwin.robots.factory.make_follower`` builds every follower behind the safety layer;
- the calibration lookup agrees with LeRobot's own (``HF_LEROBOT_HOME`` & co., read by LeRobot at
  import, hence the subprocesses);
- the contract's hooks are declared: the loop and the safety layer refuse devices outside it.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from armtwin.assets import so101_constants as C
from armtwin.robots.contract import Follower, Leader
from armtwin.robots.factory import TARGETS, BuiltFollower, make_follower
from armtwin.robots.safety import SafeFollower, SafetyConfig
from armtwin.robots.sim import SimFollower, SimFollowerConfig
from armtwin.teleop.leaders import KeyboardLeader
from armtwin.teleop.loop import ControlLoop, LoopConfig

ROOT = Path(__file__).resolve().parents[1]
LEROBOT_ENV = ("HF_HOME", "XDG_CACHE_HOME", "HF_LEROBOT_HOME", "HF_LEROBOT_CALIBRATION", "LEROBOT_HOME")


def _run(script: str, env: dict, *args: str) -> dict | list:
    base = {k: v for k, v in os.environ.items() if k not in LEROBOT_ENV}
    paths = [str(ROOT), str(ROOT / "plugins" / "lerobot_robot_armtwin"), base.get("PYTHONPATH", "")]
    r = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=300,
                       env={**base, **env, "ARMTWIN_ROOT": str(ROOT), "PYTHONPATH": os.pathsep.join(p for p in paths if p)})
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


TELEOP_REAL_TARGET = r"""
import json, os
from pathlib import Path

import importlib.util  # the torchvision hook of this machine's setup (requirements/tv_compat.py), as conftest does
spec = importlib.util.spec_from_file_location("armtwin_tv_compat", Path(os.environ["ARMTWIN_ROOT"]) / "requirements" / "tv_compat.py")
mod = importlib.util.module_from_spec(spec); import sys; sys.modules["armtwin_tv_compat"] = mod; spec.loader.exec_module(mod); mod.install()

from armtwin.hardware.cli import virtual_arm_calibration_dir
from armtwin.hardware.virtual_arm import virtual_calibration
from armtwin.teleop.factory import TeleopConfig, build_session

home = Path(os.environ["HF_LEROBOT_HOME"])
user_file = home / "calibration" / "robots" / "so_follower" / "my_arm.json"
cal = virtual_calibration()  # homing offsets unlike the default arm's
cal.save(user_file)
session = build_session(TeleopConfig(leader="keyboard", target="real", follower_port="/dev/armtwin-no-such-port",
                                     follower_id="my_arm", print_summary=False))

from lerobot.robots.so_follower import SO101Follower, SO101FollowerConfig

robot = SO101Follower(SO101FollowerConfig(port="/dev/armtwin-no-such-port", id="my_arm"))
print(json.dumps({
    "user_file": str(user_file),
    "teleop": str(session.follower.follower.config.calibration_fpath),
    "lerobot": str(robot.calibration_fpath),
    "virtual_arm": str(virtual_arm_calibration_dir("follower") / "my_arm.json"),
    "converter_is_the_users": session.side.converter.calibration.to_dict() == cal.to_dict(),
    "lerobot_read_the_users": {m: c.homing_offset for m, c in robot.calibration.items()}
    == {m: c.homing_offset for m, c in cal.motors.items()},
}))
"""


@pytest.mark.lerobot  # compares with LeRobot's own lookup
def test_teleop_real_target_uses_the_calibration_lerobot_uses_under_hf_lerobot_home(tmp_path):
    """The bug: with HF_LEROBOT_HOME set, `armtwin teleop --target real` looked under the default cache
    folder while LeRobot's SO101Follower (and `armtwin virtual-arm`) looked under $HF_LEROBOT_HOME."""
    env = {"HF_LEROBOT_HOME": str(tmp_path / "my_lerobot"), "HF_HOME": str(tmp_path / "hf"), "HOME": str(tmp_path)}
    out = _run(TELEOP_REAL_TARGET, env)
    assert out["lerobot"] == out["user_file"]  # where LeRobot itself looks
    assert out["teleop"] == out["lerobot"]  # the file teleop hands LeRobot's driver ...
    assert out["converter_is_the_users"]  # ... and the one its unit converter and safety limits came from
    assert out["lerobot_read_the_users"]
    assert out["virtual_arm"] == out["lerobot"]
    assert not (tmp_path / "hf" / "lerobot" / "calibration").exists() or not any(
        (tmp_path / "hf" / "lerobot" / "calibration").rglob("*.json"))


FALLBACK_RULE = r"""
import importlib, json, os, sys

import huggingface_hub.constants as hub_constants
import lerobot.utils.constants as lerobot_constants
from armtwin.robots.calibration import _calibration_root_from_env, lerobot_calibration_root, lerobot_home

out = []
for env in json.loads(sys.argv[1]):
    for k in ("HF_HOME", "XDG_CACHE_HOME", "HF_LEROBOT_HOME", "HF_LEROBOT_CALIBRATION"):
        os.environ.pop(k, None)
    os.environ.update(env)
    importlib.reload(hub_constants)  # LeRobot reads these at import
    importlib.reload(lerobot_constants)
    row = [str(lerobot_constants.HF_LEROBOT_CALIBRATION), str(lerobot_calibration_root()),
           str(_calibration_root_from_env(os.environ))]
    sys.modules["lerobot.utils.constants"] = None  # LeRobot not importable: the same rule from the environment
    row.append(str(lerobot_calibration_root()))
    sys.modules["lerobot.utils.constants"] = lerobot_constants
    row += [str(lerobot_constants.HF_LEROBOT_HOME), str(lerobot_home())]
    out.append(row)
print(json.dumps(out))
"""


@pytest.mark.lerobot  # compares with LeRobot's own lookup
def test_without_lerobot_the_lookup_applies_lerobots_rule(tmp_path):
    cases = [
        {},
        {"HF_HOME": str(tmp_path / "hf")},
        {"XDG_CACHE_HOME": str(tmp_path / "xdg")},
        {"HF_LEROBOT_HOME": "~/lerobot_home"},
        {"HF_HOME": str(tmp_path / "hf"), "HF_LEROBOT_HOME": str(tmp_path / "lr")},
        {"HF_LEROBOT_HOME": str(tmp_path / "lr"), "HF_LEROBOT_CALIBRATION": str(tmp_path / "cal")},
    ]
    rows = _run(FALLBACK_RULE, {"HOME": str(tmp_path)}, json.dumps(cases))
    for env, (lerobot_says, ours, rule, without_lerobot, lerobot_home_says, our_home) in zip(cases, rows):
        assert ours == rule == without_lerobot == lerobot_says, env
        assert our_home == lerobot_home_says, env
    assert len({r[0] for r in rows}) == len(cases)  # each case moved the folder: the cases test something


WITHOUT_LEROBOT = r"""
import json, sys
sys.modules["lerobot"] = None  # LeRobot absent, as in the core CI run
from armtwin.robots.calibration import lerobot_calibration_root, lerobot_home
print(json.dumps([str(lerobot_home()), str(lerobot_calibration_root())]))
"""


def test_lerobot_home_and_calibration_root_follow_hf_lerobot_home_hf_home_xdg_cache_home(tmp_path):
    """LeRobot's rule, applied by armtwin alone (no LeRobot): ``HF_LEROBOT_HOME``, else ``HF_HOME/lerobot``,
    else ``${XDG_CACHE_HOME:-~/.cache}/huggingface/lerobot``; calibration under it unless
    ``HF_LEROBOT_CALIBRATION``. Expected paths written out, not recomputed."""
    t = tmp_path
    cases = [
        ({}, t / ".cache/huggingface/lerobot", t / ".cache/huggingface/lerobot/calibration"),
        ({"XDG_CACHE_HOME": str(t / "xdg")}, t / "xdg/huggingface/lerobot", t / "xdg/huggingface/lerobot/calibration"),
        ({"HF_HOME": str(t / "hf")}, t / "hf/lerobot", t / "hf/lerobot/calibration"),
        ({"HF_HOME": str(t / "hf"), "XDG_CACHE_HOME": str(t / "xdg")}, t / "hf/lerobot", t / "hf/lerobot/calibration"),
        ({"HF_HOME": str(t / "hf"), "HF_LEROBOT_HOME": "~/lr"}, t / "lr", t / "lr/calibration"),
        ({"HF_LEROBOT_HOME": str(t / "lr"), "HF_LEROBOT_CALIBRATION": str(t / "cal")}, t / "lr", t / "cal"),
    ]
    for env, home, calibration in cases:
        assert _run(WITHOUT_LEROBOT, {"HOME": str(t), **env}) == [str(home), str(calibration)], env


def test_every_target_is_behind_the_safety_layer_and_errors_name_the_choices(tmp_path):
    assert TARGETS == ("sim", "real", "virtual")
    built = make_follower("sim", rate_hz=50.0, max_step_rad=0.1)
    try:
        assert isinstance(built, BuiltFollower) and isinstance(built.follower, SafeFollower)
        follower, converter = built  # the bridge's unpacking
        assert isinstance(built.device, SimFollower) and built.device.config.ctrl_dt == pytest.approx(0.02)
        assert follower.is_connected and converter is built.device.converter
        present = converter.to_radians(follower.get_observation())
        far = np.clip(present + 1.0, C.lower_limits(), C.upper_limits())
        sent = converter.to_radians(follower.send_action(converter.to_lerobot_dict(far)))
        assert np.all(np.abs(sent - present) <= 0.1 + 1e-9)  # the per-step clamp, not the target
    finally:
        follower.disconnect()
    with pytest.raises(ValueError, match="sim, real, virtual"):
        make_follower("gazebo")
    with pytest.raises(ValueError, match="serial port"):
        make_follower("real", connect=False)
    with pytest.raises(FileNotFoundError, match="nobody.json"):
        make_follower("real", connect=False, port="/dev/null", robot_id="nobody", calibration_dir=tmp_path)
    with pytest.raises(ValueError, match="not both"):
        make_follower("real", port="/dev/null", calibration=tmp_path / "a.json", calibration_dir=tmp_path)


def test_contract_is_declared_not_probed():
    class Bare:  # has the LeRobot names, not the contract
        name = "bare"

        def get_observation(self):
            return {}

        def send_action(self, action):
            return action

    cfg = SafetyConfig.for_converter()
    with pytest.raises(TypeError, match="get_joint_positions"):
        SafeFollower(Bare(), cfg)
    sim = SimFollower(SimFollowerConfig(image_size=None))
    with pytest.raises(TypeError, match="SafeFollower"):
        ControlLoop(KeyboardLeader(), sim, config=LoopConfig(print_summary=False))
    with pytest.raises(TypeError, match="Leader"):
        ControlLoop(object(), SafeFollower(sim, cfg), config=LoopConfig(print_summary=False))

    class HalfLeader(Leader):
        name = "half"

    with pytest.raises(TypeError, match="get_action"):
        HalfLeader()

    class MinimalLeader(Leader):  # only what is required: the hooks keep their declared defaults
        name = "minimal"
        is_connected = True
        action_features = {k: float for k in C.LEROBOT_MOTOR_KEYS}

        def connect(self, calibrate=True):
            pass

        def get_action(self):
            return dict.fromkeys(C.LEROBOT_MOTOR_KEYS, 0.0)

        def disconnect(self):
            pass

    leader = MinimalLeader()
    assert leader.reset_request() is None and leader.handle_key("w") is False and leader.data_stamp is None
    loop = ControlLoop(leader, SafeFollower(sim, cfg), config=LoopConfig(hz=30, duration_s=0.2, print_summary=False))
    try:
        loop.run()
    finally:
        sim.disconnect()
    assert loop.stats.summary()["ticks"] >= 2 and not loop.handle_key("w")
    assert issubclass(SimFollower, Follower)


def _module_imports(path: Path) -> set[str]:
    """armtwin modules the file at ``path`` imports, at module level or inside functions (a deferred
    import still ties the two modules together)."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("armtwin"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("armtwin"))
    return found


def test_no_import_cycles_among_devices_teleop_and_timing():
    files = [*sorted((ROOT / "armtwin" / "robots").glob("*.py")), *sorted((ROOT / "armtwin" / "teleop").glob("*.py")),
             ROOT / "armtwin" / "timing.py"]
    names = {".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): f for f in files}
    graph = {m: {d for d in _module_imports(f) if d in names and d != m} for m, f in names.items()}
    assert "armtwin.teleop.loop" not in graph["armtwin.teleop.leaders"]
    assert "armtwin.teleop.leaders" not in graph["armtwin.teleop.loop"]

    def cycle_from(start, node, seen):
        for nxt in graph[node]:
            if nxt == start:
                return [node, nxt]
            if nxt not in seen:
                seen.add(nxt)
                rest = cycle_from(start, nxt, seen)
                if rest:
                    return [node, *rest]
        return None

    cycles = [c for m in graph if (c := cycle_from(m, m, {m}))]
    assert not cycles, cycles
