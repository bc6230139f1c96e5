"""One-way latency, loss and rate of the ROS 2 joint-state bridge, against a plain Cyclone ping.

Two processes on one machine (shared clock, so one-way latency = receive time - send stamp),
100 Hz for 60 s each, reliable QoS, Cyclone on loopback (multicast off):

1. bridge: ``armtwin bridge publish --source script`` -> a receiver built from the bridge's own
   transport (``CycloneBackend``) and receive path (``JointStreamReceiver``: decode + validate);
   latency = time the receiver took the message - ``header.stamp`` (set before encoding).
2. floor: a plain Cyclone writer -> reader of a bare struct ``{int64 t_ns; uint32 seq}`` with the
   same QoS and loop, no armtwin code: what the DDS stack alone costs on this machine.
3. mirror (optional, ``--with-mirror``): ``armtwin bridge mirror`` (MuJoCo follower stepping at
   100 Hz) fed by the same publisher; its report's message ages.

    CYCLONEDDS_URI=... .venv/bin/python benchmarks/bridge_latency.py [--duration 60] [--rate 100]

Prints p50/p99/max one-way latency (ms), loss, achieved rate, and bridge/floor ratios; goal: bridge
p99 <= 1 ms, zero loss. ``--json out.json`` saves the figures. On a shared, loaded machine the tail is
the scheduler's: ``--fifo 50`` runs the measured processes under SCHED_FIFO, as a robot computer
would run its control processes, and the printed load average says how busy the machine was.
"""

# No "from __future__ import annotations": Cyclone resolves the Ping struct's annotations at run time.

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from cyclonedds.idl import IdlStruct
from cyclonedds.idl.types import int64, uint32

REPO = Path(__file__).resolve().parents[1]
CYCLONE_LOOPBACK = """<CycloneDDS><Domain Id="any">
  <General><Interfaces><NetworkInterface name="lo"/></Interfaces><AllowMulticast>false</AllowMulticast></General>
  <Discovery><Peers><Peer address="127.0.0.1"/></Peers><ParticipantIndex>auto</ParticipantIndex>
    <MaxAutoParticipantIndex>20</MaxAutoParticipantIndex></Discovery>
</Domain></CycloneDDS>"""


def _stats(lat_s, received: int, sent: int, span_s: float) -> dict:
    lat = np.asarray(lat_s) * 1e3
    return {
        "sent": sent,
        "received": received,
        "lost": sent - received,
        "loss_pct": 100.0 * (sent - received) / sent if sent else None,
        "rate_hz": (received - 1) / span_s if span_s > 0 and received > 1 else None,
        "p50_ms": float(np.percentile(lat, 50)) if lat.size else None,
        "p99_ms": float(np.percentile(lat, 99)) if lat.size else None,
        "max_ms": float(lat.max()) if lat.size else None,
    }


# --- roles (each runs in its own process) ------------------------------------------------------


def role_bridge_sub(args) -> None:
    """Receive JointStates with the bridge's transport and receive path until the publisher is gone."""
    from armtwin.bridge import messages as M
    from armtwin.bridge.stream import JointStreamReceiver
    from armtwin.bridge.transport import CycloneBackend, QosProfile

    backend = CycloneBackend()
    sub = backend.create_subscription("/joint_states", M.JOINT_STATE_ROS_TYPE, qos=QosProfile(depth=1000))
    rx = JointStreamReceiver(M.JOINT_STATE_ROS_TYPE, max_age_s=10.0)
    print("ready", flush=True)
    first = last = None
    quiet_since = time.monotonic()
    while True:
        if backend.wait(0.5):
            got = sub.take()
            rx.feed(got)
            if got:
                quiet_since = time.monotonic()
                first = first or got[0].recv_ns
                last = got[-1].recv_ns
        elif rx.stats.received and time.monotonic() - quiet_since > 2.0:
            break
        elif not rx.stats.received and time.monotonic() - quiet_since > args.duration + 30:
            break
    s = rx.stats
    Path(args.out).write_text(json.dumps({"lat_s": s.ages_s, "received": s.received, "accepted": s.accepted,
                                          "span_s": ((last or 0) - (first or 0)) * 1e-9}))
    backend.close()


@dataclass
class Ping(IdlStruct, typename="armtwin_bench::Ping"):
    """The floor's payload: send time (time.time_ns) and a sequence number for loss."""

    t_ns: int64
    seq: uint32


def _ping_type():
    return Ping


def _ping_entities(domain):
    from cyclonedds.domain import DomainParticipant
    from cyclonedds.qos import Policy, Qos
    from cyclonedds.topic import Topic
    from cyclonedds.util import duration

    dp = DomainParticipant(domain)
    topic = Topic(dp, "armtwin_bench_ping", _ping_type())
    qos = Qos(Policy.Reliability.Reliable(duration(milliseconds=100)), Policy.Durability.Volatile,
              Policy.History.KeepLast(1000), Policy.DataRepresentation(use_cdrv0_representation=True))
    return dp, topic, qos


def role_ping_pub(args) -> None:
    from cyclonedds.pub import DataWriter

    dp, topic, qos = _ping_entities(int(os.environ["ROS_DOMAIN_ID"]))
    w = DataWriter(dp, topic, qos=qos)
    deadline = time.monotonic() + 15
    while not w.get_matched_subscriptions() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.25)  # same discovery settle as the bridge publisher (see armtwin.bridge.publisher)
    Ping = _ping_type()
    from armtwin.timing import RateKeeper

    n = int(round(args.duration * args.rate))
    rate = RateKeeper(args.rate, spin_s=0)
    for seq in range(n):
        w.write(Ping(t_ns=time.time_ns(), seq=seq))
        rate.wait()
    time.sleep(0.5)
    Path(args.out).write_text(json.dumps({"sent": n}))


def role_ping_sub(args) -> None:
    from cyclonedds.core import InstanceState, ReadCondition, SampleState, ViewState, WaitSet
    from cyclonedds.sub import DataReader
    from cyclonedds.util import duration

    dp, topic, qos = _ping_entities(int(os.environ["ROS_DOMAIN_ID"]))
    r = DataReader(dp, topic, qos=qos)
    ws = WaitSet(dp)
    ws.attach(ReadCondition(r, SampleState.NotRead | ViewState.Any | InstanceState.Any))
    print("ready", flush=True)
    lat, seqs, first, last = [], [], None, None
    quiet_since = time.monotonic()
    while True:
        if ws.wait(duration(milliseconds=500)) > 0:
            samples = [s for s in r.take(N=1000) if hasattr(s, "seq")]
            now = time.time_ns()
            for s in samples:
                lat.append((now - s.t_ns) * 1e-9)
                seqs.append(s.seq)
            if samples:
                quiet_since = time.monotonic()
                first = first or now
                last = now
        elif seqs and time.monotonic() - quiet_since > 2.0:
            break
        elif not seqs and time.monotonic() - quiet_since > args.duration + 30:
            break
    Path(args.out).write_text(json.dumps({"lat_s": lat, "received": len(set(seqs)),
                                          "span_s": ((last or 0) - (first or 0)) * 1e-9}))


# --- orchestration --------------------------------------------------------------------------------


_FIFO_PRIORITY: int | None = None


def _spawn(argv, env, log):
    def realtime():
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(_FIFO_PRIORITY))

    return subprocess.Popen(argv, cwd=REPO, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT, text=True,
                            preexec_fn=realtime if _FIFO_PRIORITY else None)


def _wait_ready(proc, log: Path, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and "ready" in log.read_text():
            return
        time.sleep(0.05)
    raise RuntimeError(f"receiver not ready; log:\n{log.read_text()}")


def _progress(label, seconds):
    from tqdm import tqdm

    for _ in tqdm(range(int(seconds)), desc=label, unit="s", leave=False):
        time.sleep(1)


def run(args) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="armtwin-bridge-bench-"))
    env = dict(os.environ, PYTHONUNBUFFERED="1", MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"))
    if "CYCLONEDDS_URI" not in os.environ:
        (tmp / "cyclonedds.xml").write_text(CYCLONE_LOOPBACK)
        env["CYCLONEDDS_URI"] = (tmp / "cyclonedds.xml").as_uri()
    env.setdefault("ROS_DOMAIN_ID", str(200 + os.getpid() % 30))
    py = sys.executable
    me = str(Path(__file__).resolve())
    results = {"rate_hz": args.rate, "duration_s": args.duration, "cyclonedds_uri": env["CYCLONEDDS_URI"],
               "cpus": os.cpu_count(), "loadavg_1m_start": os.getloadavg()[0]}

    # 1. bridge
    sub = _spawn([py, me, "--role", "bridge-sub", "--out", str(tmp / "bsub.json"), "--duration", str(args.duration)],
                 env, tmp / "bsub.log")
    _wait_ready(sub, tmp / "bsub.log")
    pub = _spawn([py, "-m", "armtwin", "bridge", "publish", "--source", "script", "--backend", "cyclone",
                  "--rate", str(args.rate), "--duration", str(args.duration), "--depth", "1000",
                  "--wait-for-subscribers", "1", "--report", str(tmp / "bpub.json")], env, tmp / "bpub.log")
    _progress("bridge", args.duration)
    pub.wait()
    sub.wait()
    b_pub = json.loads((tmp / "bpub.json").read_text())
    b_sub = json.loads((tmp / "bsub.json").read_text())
    results["bridge"] = _stats(b_sub["lat_s"], b_sub["received"], b_pub["sent"], b_sub["span_s"])
    results["bridge"]["publisher_rate_hz"] = b_pub["achieved_rate_hz"]
    results["bridge"]["publisher_overruns"] = b_pub["overruns"]

    # 2. floor
    sub = _spawn([py, me, "--role", "ping-sub", "--out", str(tmp / "psub.json"), "--duration", str(args.duration)],
                 env, tmp / "psub.log")
    _wait_ready(sub, tmp / "psub.log")
    pub = _spawn([py, me, "--role", "ping-pub", "--out", str(tmp / "ppub.json"), "--rate", str(args.rate),
                  "--duration", str(args.duration)], env, tmp / "ppub.log")
    _progress("cyclone ping", args.duration)
    pub.wait()
    sub.wait()
    p_pub = json.loads((tmp / "ppub.json").read_text())
    p_sub = json.loads((tmp / "psub.json").read_text())
    results["floor"] = _stats(p_sub["lat_s"], p_sub["received"], p_pub["sent"], p_sub["span_s"])

    # 3. the mirror itself (sim stepping in the receiving process)
    if args.with_mirror:
        mir = _spawn([py, "-m", "armtwin", "bridge", "mirror", "--backend", "cyclone", "--rate", str(args.rate),
                      "--duration", str(args.duration + 3), "--max-age", "10", "--depth", "1000",
                      "--report", str(tmp / "mirror.json")], env, tmp / "mirror.log")
        time.sleep(0.5)
        pub = _spawn([py, "-m", "armtwin", "bridge", "publish", "--source", "script", "--backend", "cyclone",
                      "--rate", str(args.rate), "--duration", str(args.duration), "--depth", "1000",
                      "--wait-for-subscribers", "1", "--wait-timeout", "60", "--report", str(tmp / "mpub.json")],
                     env, tmp / "mpub.log")
        _progress("mirror", args.duration)
        pub.wait()
        mir.wait()
        m = json.loads((tmp / "mirror.json").read_text())
        m_pub = json.loads((tmp / "mpub.json").read_text())
        age = m["receive"]["age_s"]
        results["mirror"] = {
            "sent": m_pub["sent"], "received": m["receive"]["received"],
            "lost": m_pub["sent"] - m["receive"]["received"],
            "p50_ms": age["p50"] * 1e3, "p99_ms": age["p99"] * 1e3, "max_ms": age["max"] * 1e3,
            "tracking_settled_rms_rad": m["tracking"]["settled"].get("rms_rad"),
            "mirror_overruns": m["overruns"],
        }
    results["loadavg_1m_end"] = os.getloadavg()[0]
    shutil.rmtree(tmp, ignore_errors=True)  # kept only when a step failed, for its logs
    return results


def report(results: dict) -> None:
    rows = [k for k in ("bridge", "floor", "mirror") if k in results]
    print(f"\n{results['duration_s']:g} s at {results['rate_hz']:g} Hz, reliable QoS, two processes, loopback; "
          f"{results['cpus']} CPUs, load average {results['loadavg_1m_start']:.1f} -> {results['loadavg_1m_end']:.1f}, "
          f"{results.get('scheduling', '')}")
    cols = ("sent", "recv", "lost", "rate Hz", "p50 ms", "p99 ms", "max ms")
    print(f"{'':8s} " + " ".join(f"{c:>{6 if i < 2 else 5 if i == 2 else 8}s}" for i, c in enumerate(cols)))
    for k in rows:
        r = results[k]
        rate = f"{r['rate_hz']:.2f}" if r.get("rate_hz") else "-"
        print(f"{k:8s} {r['sent']:6d} {r['received']:6d} {r['lost']:5d} {rate:>8s} {r['p50_ms']:8.3f} "
              f"{r['p99_ms']:8.3f} {r['max_ms']:8.3f}")
    b, f = results["bridge"], results["floor"]
    print(f"bridge / floor: p50 x{b['p50_ms'] / f['p50_ms']:.2f}, p99 x{b['p99_ms'] / f['p99_ms']:.2f}")
    ok = b["p99_ms"] <= 1.0 and b["lost"] == 0
    print(f"goal (bridge p99 <= 1 ms, zero loss): {'met' if ok else 'NOT met'}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds per measurement (default 60)")
    ap.add_argument("--rate", type=float, default=100.0, help="Hz (default 100)")
    ap.add_argument("--with-mirror", action="store_true", help="also measure `armtwin bridge mirror` (sim in loop)")
    ap.add_argument("--json", default=None, help="save the figures here")
    ap.add_argument("--fifo", type=int, default=None, metavar="PRIO",
                    help="run every measured process under SCHED_FIFO at PRIO (1-99; needs CAP_SYS_NICE), as a "
                         "robot computer would run its control processes; default: normal scheduling")
    ap.add_argument("--role", default=None, choices=("bridge-sub", "ping-pub", "ping-sub"), help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.role:
        {"bridge-sub": role_bridge_sub, "ping-pub": role_ping_pub, "ping-sub": role_ping_sub}[args.role](args)
        return 0
    global _FIFO_PRIORITY
    if args.fifo is not None:
        if not 1 <= args.fifo <= 99:
            ap.error(f"--fifo must be in 1..99, got {args.fifo}")
        os.sched_param(args.fifo)
        _FIFO_PRIORITY = args.fifo
    results = run(args)
    results["scheduling"] = f"SCHED_FIFO {args.fifo}" if args.fifo else "SCHED_OTHER (default)"
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
