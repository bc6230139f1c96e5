"""Teleop loop timing: a virtual SO-101 leader and a virtual follower, both through LeRobot's drivers.

    MUJOCO_GL=egl .venv/bin/python benchmarks/teleop_loop.py [--hz 60] [--seconds 60] [--peer-seconds 20]

armtwin's ControlLoop (RealLeader -> SafeFollower(RealFollower), i.e. LeRobot's SO101Leader and
SO101Follower on emulated Feetech buses) runs at --hz for --seconds. Each tick: follower
observation (SYNC_READ), leader read (SYNC_READ), safety layer (present-position SYNC_READ, clamp),
follower command (SYNC_WRITE). Reported: achieved rate, period jitter |period - 1/hz| p50/p99,
leader-to-follower latency (leader read start -> command written) p50/p99.

Peer, measured in the same run on the same buses: LeRobot's own teleoperation loop
(``lerobot-teleoperate``: get_action, send_action, ``precise_sleep`` of the rest of the period).
Goal: the target rate held, p99 jitter <= 2 ms, p99 latency <= one period.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time


os.environ.setdefault("HF_HUB_OFFLINE", "1")


def peer_loop(teleop, robot, hz: float, seconds: float):
    """LeRobot 0.4.4's teleop_loop body (minus display), timed the same way."""
    from lerobot.utils.robot_utils import precise_sleep

    from armtwin.teleop.loop import LoopStats

    stats = LoopStats(hz)
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        start = time.perf_counter()
        stats.tick_starts.append(start)
        robot.get_observation()
        t_read = time.perf_counter()
        action = teleop.get_action()
        robot.send_action(action)
        stats.latencies.append(time.perf_counter() - t_read)
        precise_sleep(max(1.0 / hz - (time.perf_counter() - start), 0.0))
    return stats


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hz", type=float, default=60.0)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--peer-seconds", type=float, default=20.0, help="LeRobot's loop, 0 to skip")
    p.add_argument("--spin-ms", type=float, default=2.0, help="busy-wait before each deadline (LoopConfig.spin_s)")
    p.add_argument("--realtime", action="store_true",
                   help="SCHED_FIFO for the loop and the virtual arms (root; how a control PC would run it, "
                        "and it keeps the emulated arms answering like hardware on a busy machine)")
    args = p.parse_args(argv)

    from tqdm import tqdm

    from armtwin.robots.real import RealFollower, RealFollowerConfig, RealLeader, RealLeaderConfig
    from armtwin.robots.safety import SafeFollower, SafetyConfig
    from armtwin.teleop.loop import ControlLoop, LoopConfig
    from armtwin.units import Calibration, UnitConverter

    tmp = tempfile.mkdtemp(prefix="armtwin-bench-")
    os.environ.setdefault("HF_LEROBOT_CALIBRATION", os.path.join(tmp, "calibration"))
    total_s = args.seconds + args.peer_seconds + 60
    # Each virtual arm serves its bus from its own process, like real arms on their own adapters
    # (in-process bus threads would compete with the loop for the GIL).
    arms = {}
    procs = []
    for role, script in (("leader", ["--script", "sine"]), ("follower", [])):
        proc = subprocess.Popen(
            [sys.executable, "-m", "armtwin", "virtual-arm", "--role", role, *script,
             "--calibration-dir", os.path.join(tmp, role), "--duration", str(total_s)],
            stdout=subprocess.PIPE, text=True,
        )
        procs.append(proc)
        info = {}
        for line in proc.stdout:
            key, _, value = line.partition(": ")
            info[key] = value.strip()
            if key == "calibration":
                break
        arms[role] = info
    la, fa = arms["leader"], arms["follower"]
    if args.realtime:
        for pid in [0] + [proc.pid for proc in procs]:
            # Every thread of the arm processes (their bus threads answer the requests).
            tids = os.listdir(f"/proc/{pid or os.getpid()}/task")
            for tid in tids:
                os.sched_setscheduler(int(tid), os.SCHED_FIFO, os.sched_param(50 if pid else 40))
    error = None
    try:
        leader = RealLeader(RealLeaderConfig(port=la["port"], id=la["id"], calibration_dir=la["calibration_dir"]))
        real = RealFollower(RealFollowerConfig(port=fa["port"], id=fa["id"], calibration_dir=fa["calibration_dir"]))
        converter = UnitConverter(Calibration.load(fa["calibration"]))
        follower = SafeFollower(real, SafetyConfig.for_converter(converter))
        leader.connect()
        follower.connect()
        n = int(args.seconds * args.hz)
        bar = tqdm(total=n, desc=f"armtwin loop @ {args.hz:g} Hz", unit="tick", file=sys.stderr)
        loop = ControlLoop(
            leader, follower,
            config=LoopConfig(hz=args.hz, duration_s=args.seconds, spin_s=args.spin_ms / 1e3, print_summary=False),
            on_tick=lambda lp: bar.update(1),
        )
        try:
            loop.run()
        except ConnectionError as e:  # report what was measured before the bus gave up
            error = f"armtwin loop stopped after {len(loop.stats.tick_starts)} ticks: {e}"
        ours = loop.stats.summary()
        bar.close()
        retried = f"bus reads retried: leader {leader.bus_errors}, follower {real.bus_errors}"
        peer = None
        if args.peer_seconds > 0 and error is None:
            print(f"LeRobot's teleop loop for {args.peer_seconds:g} s ...", file=sys.stderr)
            try:
                peer = peer_loop(leader.lerobot_teleop, real.lerobot_robot, args.hz, args.peer_seconds).summary()
            except ConnectionError as e:
                error = f"LeRobot's loop stopped: {e}"
        leader.disconnect()
        follower.disconnect()
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()

    period_ms = 1e3 / args.hz
    rows = [
        ("achieved rate (Hz)", "achieved_hz", f"= {args.hz:g}"),
        ("period jitter p50 (ms)", "jitter_p50_ms", ""),
        ("period jitter p99 (ms)", "jitter_p99_ms", "<= 2"),
        ("period jitter max (ms)", "jitter_max_ms", ""),
        ("leader->follower latency p50 (ms)", "latency_p50_ms", ""),
        ("leader->follower latency p99 (ms)", "latency_p99_ms", f"<= {period_ms:.2f}"),
        ("overruns", "overruns", ""),
    ]
    print(f"\nteleop loop, virtual leader + virtual follower through LeRobot's drivers, "
          f"{args.hz:g} Hz, {args.seconds:g} s ({int(ours['ticks'])} ticks)")
    head = f"{'':36}{'armtwin':>12}{'LeRobot loop':>14}{'ratio':>8}  goal"
    print(head)
    for label, key, goal in rows:
        a = ours.get(key, float("nan"))
        b = peer.get(key, float("nan")) if peer else float("nan")
        ratio = a / b if peer and b else float("nan")
        print(f"{label:36}{a:12.3f}{b:14.3f}{ratio:8.2f}  {goal}")
    ok = (
        abs(ours["achieved_hz"] - args.hz) / args.hz < 0.005
        and ours["jitter_p99_ms"] <= 2.0
        and ours["latency_p99_ms"] <= period_ms
    )
    print(f"goals met: {ok}")
    print(f"load average during the run: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs"
          + (", SCHED_FIFO" if args.realtime else ""))
    print(retried + " (each costs one LeRobot read timeout; the LeRobot loop has no retries)")
    if error:
        print(error)
    return 0


if __name__ == "__main__":
    sys.exit(main())
