"""Teleop loop timing: a virtual SO-101 leader and a virtual follower, both through LeRobot's drivers.

    MUJOCO_GL=egl .venv/bin/python benchmarks/teleop_loop.py [--hz 60] [--seconds 60] [--peer-seconds 20]
        [--robot so101,omx]

Each arm of --robot (default: every arm of ``armtwin.robots.registry``) runs in turn with its own pair of
``armtwin virtual-arm --robot R`` processes: the SO-101 on emulated Feetech buses, the OMX on emulated
Dynamixel Protocol 2.0 buses through LeRobot's OmxLeader and OmxFollower. Every arm gets the same table;
the one after the SO-101's also shows its ratio to the SO-101's armtwin loop of the same run.

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


def _start_arms(robot: str, tmp: str, total_s: float, realtime: bool) -> tuple[dict, list]:
    """The virtual leader (sine script) and follower of ``robot``, each served by its own
    ``armtwin virtual-arm`` process; returns ({role: the lines it printed, parsed}, [processes])."""
    # Each virtual arm serves its bus from its own process, like real arms on their own adapters
    # (in-process bus threads would compete with the loop for the GIL).
    arms = {}
    procs = []
    for role, script in (("leader", ["--script", "sine"]), ("follower", [])):
        proc = subprocess.Popen(
            [sys.executable, "-m", "armtwin", "virtual-arm", "--robot", robot, "--role", role, *script,
             "--calibration-dir", os.path.join(tmp, role), "--duration", str(total_s)],
            stdout=subprocess.PIPE, text=True,
        )
        procs.append(proc)
        info = {}
        for line in proc.stdout:
            key, _, value = line.partition(": ")
            info[key] = value.strip()
            if key == "LeRobot":  # the last line it prints before serving
                break
        if "port" not in info:
            for p in procs:
                p.terminate()
            raise RuntimeError(f"armtwin virtual-arm --robot {robot} --role {role} printed no port "
                               f"(exit {proc.wait()})")
        arms[role] = info
    if realtime:
        for pid in [0] + [proc.pid for proc in procs]:
            # Every thread of the arm processes (their bus threads answer the requests).
            tids = os.listdir(f"/proc/{pid or os.getpid()}/task")
            for tid in tids:
                os.sched_setscheduler(int(tid), os.SCHED_FIFO, os.sched_param(50 if pid else 40))
    return arms, procs


def run_robot(robot: str, args, tmp: str) -> tuple[dict, dict | None, str, str | None, float]:
    """One robot's run: armtwin's loop for args.seconds, then LeRobot's for args.peer_seconds, on the
    same buses. Returns (armtwin's LoopStats summary, LeRobot's or None, the retry counts line, error or None,
    the 1-minute load average at its end)."""
    from tqdm import tqdm

    from armtwin.assets.models import robot_model
    from armtwin.robots.factory import make_follower
    from armtwin.robots.real import RealLeader, RealLeaderConfig
    from armtwin.teleop.loop import ControlLoop, LoopConfig

    RC = robot_model(robot).C
    tmp = os.path.join(tmp, robot)
    total_s = args.seconds + args.peer_seconds + 60
    arms, procs = _start_arms(robot, tmp, total_s, args.realtime)
    la, fa = arms["leader"], arms["follower"]
    # A robot LeRobot calibrates unattended (the OMX) has no file yet: LeRobot writes its factory
    # calibration into these folders on connect; the SO-101's virtual arms wrote theirs.
    leader_cal = la.get("calibration_dir", os.path.join(tmp, "lerobot", "leader"))
    leader_id = la.get("id", f"armtwin_virtual_{robot}_leader")
    if "calibration" in fa:
        where = {"calibration": fa["calibration"]}
    else:
        where = {"calibration_dir": os.path.join(tmp, "lerobot", "follower"),
                 "robot_id": f"armtwin_virtual_{robot}_follower"}
    error = None
    try:
        leader = RealLeader(RealLeaderConfig(port=la["port"], id=leader_id, calibration_dir=leader_cal, robot=robot,
                                             use_degrees=RC.LEROBOT_USE_DEGREES))
        # LeRobot's follower driver behind the safety layer, built where every follower is built
        built = make_follower("real", connect=False, port=fa["port"], robot=robot, use_degrees=RC.LEROBOT_USE_DEGREES,
                              **where)
        follower, real = built.follower, built.device
        leader.connect()
        follower.connect()
        n = int(args.seconds * args.hz)
        bar = tqdm(total=n, desc=f"armtwin loop, {robot} @ {args.hz:g} Hz", unit="tick", file=sys.stderr)
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
            print(f"LeRobot's teleop loop ({robot}) for {args.peer_seconds:g} s ...", file=sys.stderr)
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
    return ours, peer, retried, error, os.getloadavg()[0]


DRIVERS = {"so101": "SO101Leader/SO101Follower, Feetech", "omx": "OmxLeader/OmxFollower, Dynamixel"}


def main(argv=None) -> int:
    from armtwin.robots.registry import ROBOTS

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hz", type=float, default=60.0)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--peer-seconds", type=float, default=20.0, help="LeRobot's loop, 0 to skip")
    p.add_argument("--spin-ms", type=float, default=2.0, help="busy-wait before each deadline (LoopConfig.spin_s)")
    p.add_argument("--realtime", action="store_true",
                   help="SCHED_FIFO for the loop and the virtual arms (root; how a control PC would run it, "
                        "and it keeps the emulated arms answering like hardware on a busy machine)")
    p.add_argument("--robot", default=",".join(ROBOTS),
                   help=f"comma-separated arms, one after the other, each with its own virtual leader and follower "
                        f"({', '.join(ROBOTS)}) [{','.join(ROBOTS)}]")
    args = p.parse_args(argv)
    robots = [r for r in args.robot.split(",") if r]
    for r in robots:
        if r not in ROBOTS:
            p.error(f"unknown robot {r!r}; valid robots: {', '.join(ROBOTS)}")

    tmp = tempfile.mkdtemp(prefix="armtwin-bench-")
    os.environ.setdefault("HF_LEROBOT_CALIBRATION", os.path.join(tmp, "calibration"))
    results = {r: run_robot(r, args, tmp) for r in robots}

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
    for robot, (ours, peer, retried, error, load) in results.items():
        # the SO-101's table as it always was; another arm's names it, its drivers, and adds its ratio to the
        # SO-101's armtwin loop of this run
        ref = results["so101"][0] if robot != "so101" and "so101" in results else None
        if robot == "so101":
            print(f"\nteleop loop, virtual leader + virtual follower through LeRobot's drivers, "
                  f"{args.hz:g} Hz, {args.seconds:g} s ({int(ours['ticks'])} ticks)")
        else:
            print(f"\nteleop loop, {robot}: virtual leader + virtual follower through LeRobot's drivers "
                  f"({DRIVERS.get(robot, robot)}), {args.hz:g} Hz, {args.seconds:g} s ({int(ours['ticks'])} ticks)")
        head = f"{'':36}{'armtwin':>12}{'LeRobot loop':>14}{'ratio':>8}"
        head += (f"{'x SO-101':>10}" if ref else "") + "  goal"
        print(head)
        for label, key, goal in rows:
            a = ours.get(key, float("nan"))
            b = peer.get(key, float("nan")) if peer else float("nan")
            ratio = a / b if peer and b else float("nan")
            vs = ""
            if ref:
                r0 = ref.get(key, float("nan"))
                vs = f"{a / r0 if r0 else float('nan'):10.2f}"
            print(f"{label:36}{a:12.3f}{b:14.3f}{ratio:8.2f}{vs}  {goal}")
        ok = (
            abs(ours["achieved_hz"] - args.hz) / args.hz < 0.005
            and ours["jitter_p99_ms"] <= 2.0
            and ours["latency_p99_ms"] <= period_ms
        )
        print(f"goals met: {ok}")
        print(f"load average during the run: {load:.2f} (1 min), {os.cpu_count()} CPUs"
              + (", SCHED_FIFO" if args.realtime else ""))
        print(retried + " (each costs one LeRobot read timeout; the LeRobot loop has no retries)")
        if error:
            print(error)
    return 0


if __name__ == "__main__":
    sys.exit(main())
