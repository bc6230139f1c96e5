"""Teleop tick latency through LeRobot's own drivers on virtual Feetech buses.

One tick = leader read (SO101Leader.get_action) + follower write
(SO101Follower.send_action) + follower read (SO101Follower.get_observation).
Measured with the virtual arms (a) in this process (server threads) and (b) in
their own `armtwin virtual-arm` processes, plus (c) the same tick through
armtwin's SafeFollower (one more read for the per-step clamp), interleaved
tick by tick with the plain one. Peer: a bare
PING round trip with pyserial on the same kind of bus, the floor of one
transaction. Run by hand:

    .venv/bin/python benchmarks/hardware_loop.py [--n 500]
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from tqdm import tqdm

from armtwin.hardware.feetech.protocol import encode_instruction
from armtwin.hardware.virtual_arm import VirtualArm, VirtualArmConfig
from armtwin.robots.real import RealFollower, RealFollowerConfig, RealLeader, RealLeaderConfig
from armtwin.robots.safety import SafeFollower, SafetyConfig
from armtwin.units import Calibration, UnitConverter


def stats(ms: np.ndarray) -> str:
    return f"median {np.median(ms):6.3f} ms  p99 {np.percentile(ms, 99):6.3f} ms  (n={len(ms)})"


def time_ticks(leader, follower, safe, n: int, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Plain and SafeFollower ticks, interleaved so that load changes hit both alike."""
    plain, guarded = [], []
    for _ in tqdm(range(n), desc=label, leave=False):
        t0 = time.perf_counter()
        follower.lerobot_robot.send_action(leader.get_action())
        follower.get_observation()
        t1 = time.perf_counter()
        safe.send_action(leader.get_action(), stamp=time.monotonic())
        follower.get_observation()
        t2 = time.perf_counter()
        plain.append((t1 - t0) * 1e3)
        guarded.append((t2 - t1) * 1e3)
    return np.array(plain), np.array(guarded)


def ping_floor(port: str, n: int) -> np.ndarray:
    import serial

    ping, out = encode_instruction(1, 0x01), []
    with serial.Serial(port, 1_000_000, timeout=1) as s:
        for _ in tqdm(range(n), desc="pyserial PING", leave=False):
            t0 = time.perf_counter()
            s.write(ping)
            assert len(s.read(6)) == 6
            out.append((time.perf_counter() - t0) * 1e3)
    return np.array(out)


def spawn(role: str, cal_dir: Path, stack: ExitStack) -> dict[str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "armtwin", "virtual-arm", "--role", role, "--calibration-dir", str(cal_dir)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    stack.callback(lambda: (proc.send_signal(signal.SIGINT), proc.wait(10)))
    info = {}
    while "LeRobot" not in info:
        key, _, value = proc.stdout.readline().partition(": ")
        if not key:
            raise RuntimeError(f"virtual-arm {role} exited early")
        info[key] = value.strip()
    return info


def connect(leader_port, leader_dir, leader_id, follower_port, follower_dir, follower_id):
    leader = RealLeader(RealLeaderConfig(port=leader_port, id=leader_id, calibration_dir=leader_dir))
    follower = RealFollower(RealFollowerConfig(port=follower_port, id=follower_id, calibration_dir=follower_dir))
    leader.connect()
    follower.connect()
    return leader, follower


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=500)
    n = ap.parse_args().n
    import lerobot.robots.so_follower  # noqa: F401
    import lerobot.teleoperators.so_leader  # noqa: F401

    # A full GC pass over LeRobot's heap takes ~0.7 s here and would stall the in-process servers.
    gc.collect()
    gc.freeze()
    tmp = Path(tempfile.mkdtemp(prefix="armtwin-bench-"))
    results = {}
    with ExitStack() as stack:
        la = stack.enter_context(VirtualArm(VirtualArmConfig(role="leader", calibration_dir=tmp / "l")))
        fa = stack.enter_context(VirtualArm(VirtualArmConfig(role="follower", calibration_dir=tmp / "f")))
        results["pyserial PING (peer)"] = ping_floor(fa.port, n)
        leader, follower = connect(la.port, la.calibration_dir, la.id, fa.port, fa.calibration_dir, fa.id)
        stack.callback(leader.disconnect)
        stack.callback(follower.disconnect)
        safe = SafeFollower(follower, SafetyConfig.for_converter(UnitConverter(fa.calibration)))
        time_ticks(leader, follower, safe, 50, "warm-up")
        plain, guarded = time_ticks(leader, follower, safe, n, "in-process")
        results["tick, arms in-process"] = plain
        results["tick + SafeFollower, in-process"] = guarded
    with ExitStack() as stack:
        li = spawn("leader", tmp / "pl", stack)
        fi = spawn("follower", tmp / "pf", stack)
        leader, follower = connect(li["port"], tmp / "pl", li["id"], fi["port"], tmp / "pf", fi["id"])
        stack.callback(leader.disconnect)
        stack.callback(follower.disconnect)
        cal = Calibration.load(tmp / "pf" / f"{fi['id']}.json")
        safe = SafeFollower(follower, SafetyConfig.for_converter(UnitConverter(cal)))
        time_ticks(leader, follower, safe, 50, "warm-up")
        plain, guarded = time_ticks(leader, follower, safe, n, "processes")
        results["tick, arms in own processes"] = plain
        results["tick + SafeFollower, own processes"] = guarded
    peer = np.median(results["pyserial PING (peer)"])
    print(f"\nleader read + follower write + follower read through LeRobot 0.4.4's drivers ({os.cpu_count()} cores)")
    for label, ms in results.items():
        print(f"{label:38s} {stats(ms)}   x{np.median(ms) / peer:5.1f} peer")


if __name__ == "__main__":
    main()
