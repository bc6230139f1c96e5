"""Studio streaming: camera frames/s reaching the page per camera, and the control loop's jitter with
the record page open vs closed.

Runs the record page's controller (the scripted leader on the sim target, recording one long episode)
at 30 Hz and alternates trials of ``--seconds`` each with the page closed and open, ``--rounds``
times, in the order closed/open, open/closed, closed/open, ... (slow drifts in the machine's
background load then weigh on both conditions alike). The page is Debian's headless Chromium as a
user runs it: launched on its own, with no automation client subscribed to its network events
(Playwright enables CDP's Network domain, which copies every websocket frame to its driver: a cost no
user's browser has); the page's own counters are read through CDP ``Runtime.evaluate`` only.

Closing the page is what it is in the studio: the loop stops (the follower holds, the episode is
kept as a failure); the benchmark then resumes the loop and starts the next episode, and each trial
measures only after ``--settle`` seconds.

Prints per condition: pooled period jitter p50/p99/max (|period - 1/hz|, as in ``LoopStats``),
achieved rate, overruns (periods over twice the nominal), the load average, CPU used by the browser
and by the studio process; per round the two p99s; for the open trials the frames/s per camera that
the page received and decoded into view; the pooled p99 difference with a 95% interval from resampling
whole rounds (how much of it the machine's background load explains). The goal:
p99(open) - p99(closed) <= 1 ms.

    python benchmarks/studio_stream.py [--seconds 4] [--rounds 10] [--size 128x128]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from armtwin.studio.config import StudioConfig  # noqa: E402
from armtwin.teleop.loop import LoopStats, period_jitter_ms  # noqa: E402
from studio_server import CHROMIUM, inner, live_server  # noqa: E402

TICK_S = os.sysconf("SC_CLK_TCK")


class Chromium:
    """Headless Chromium with a DevTools port; tabs opened and closed over its HTTP endpoints."""

    def __init__(self):
        self.profile = Path(tempfile.mkdtemp(prefix="armtwin-bench-chromium-"))
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--no-first-run", "--remote-debugging-port=0",
             f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = self.profile / "DevToolsActivePort"
        t_end = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > t_end or self.proc.poll() is not None:
                raise RuntimeError("chromium did not start")
            time.sleep(0.1)
        self.http = f"http://127.0.0.1:{port_file.read_text().split()[0]}"

    def open(self, url: str) -> "Tab":
        req = urllib.request.Request(f"{self.http}/json/new?{url}", method="PUT")
        with urllib.request.urlopen(req, timeout=10) as r:
            return Tab(self, json.load(r))

    def pids(self) -> list[int]:
        """The browser and all its descendants (renderer, GPU, utility processes)."""
        children: dict[int, list[int]] = {}
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    st = Path(f"/proc/{p}/stat").read_text()
                except OSError:
                    continue
                children.setdefault(int(st[st.rindex(")") + 2:].split()[1]), []).append(int(p))
        out, todo = [], [self.proc.pid]
        while todo:
            p = todo.pop()
            out.append(p)
            todo.extend(children.get(p, []))
        return out

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


class Tab:
    def __init__(self, chromium: Chromium, info: dict):
        from websockets.sync.client import connect

        self.chromium, self.id = chromium, info["id"]
        self._conn = connect(info["webSocketDebuggerUrl"], max_size=None)
        self.ws = self._conn.__enter__()
        self._n = 0

    def evaluate(self, expression: str):
        self._n += 1
        self.ws.send(json.dumps({"id": self._n, "method": "Runtime.evaluate",
                                 "params": {"expression": expression, "returnByValue": True}}))
        while True:
            msg = json.loads(self.ws.recv(timeout=10))
            if msg.get("id") == self._n:
                return msg.get("result", {}).get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30.0):
        t_end = time.monotonic() + timeout
        while time.monotonic() < t_end:
            v = self.evaluate(expression)
            if v:
                return v
            time.sleep(0.1)
        raise TimeoutError(f"page: {expression} still false after {timeout} s")

    def close(self) -> None:
        self._conn.__exit__(None, None, None)
        urllib.request.urlopen(f"{self.chromium.http}/json/close/{self.id}", timeout=10).read()


def cpu_s(pids) -> float:
    """CPU seconds (user + system) used so far by ``pids``."""
    total = 0
    for p in pids:
        try:
            f = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        f = f[f.rindex(")") + 2:].split()
        total += int(f[11]) + int(f[12])
    return total / TICK_S


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="length of one trial")
    ap.add_argument("--rounds", type=int, default=10, help="closed+open pairs, alternating their order")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds after a change before a trial measures")
    ap.add_argument("--size", default="128x128", help="camera HxW")
    args = ap.parse_args()
    h, w = (int(v) for v in args.size.split("x"))
    root = Path(tempfile.mkdtemp(prefix="armtwin-studio-bench-"))
    from armtwin.teleop.factory import TeleopConfig

    chromium = Chromium()
    results = {"closed": [], "open": []}
    try:
        with live_server(StudioConfig(port=0, root=root)) as (url, app):
            ctl = inner(app).state.record
            ctl.connect(TeleopConfig(leader="scripted", target="sim", record=root / "bench.h5", image_size=(h, w),
                                     print_summary=False, episode_steps=100000))
            loop = ctl.session.loop
            loop.config.end_on_success = False  # one long episode per trial: the same work in both conditions
            hz = loop.config.hz

            def recording():
                if not ctl.running:
                    ctl.command("resume")
                    t_end = time.monotonic() + 10
                    while not ctl.running and time.monotonic() < t_end:
                        time.sleep(0.01)
                ctl.command("start")
                t_end = time.monotonic() + 10
                while loop.state != "recording" and time.monotonic() < t_end:
                    time.sleep(0.01)

            def measure(tab=None) -> dict:
                time.sleep(args.settle)
                count = "JSON.stringify([window.studio.received, window.studio.shown, performance.now()])"
                c0 = json.loads(tab.evaluate(count)) if tab else None
                i0, cpu_b, cpu_p = len(loop.stats.tick_starts), cpu_s(chromium.pids()), time.process_time()
                load0 = os.getloadavg()[0]
                time.sleep(args.seconds)
                ticks = loop.stats.tick_starts[i0:]
                out = {"jitter": period_jitter_ms(ticks, hz), "summary": LoopStats(hz, tick_starts=ticks).summary(),
                       "browser_cpu": (cpu_s(chromium.pids()) - cpu_b) / args.seconds,
                       "studio_cpu": (time.process_time() - cpu_p) / args.seconds,
                       "load": (load0 + os.getloadavg()[0]) / 2}
                if tab:
                    c1 = json.loads(tab.evaluate(count))
                    dt = (c1[2] - c0[2]) / 1e3
                    out["received"] = {k: (v - c0[0].get(k, 0)) / dt for k, v in c1[0].items()}
                    out["shown"] = {k: (v - c0[1].get(k, 0)) / dt for k, v in c1[1].items()}
                return out

            def trial(condition: str) -> None:
                recording()
                if condition == "closed":
                    results["closed"].append(measure())
                    return
                tab = chromium.open(url + "/record")
                try:
                    tab.wait_for("window.studio && window.studio.framesReceived > 10")
                    results["open"].append(measure(tab))
                finally:
                    tab.close()
                ctl.wait_stopped(10)  # the last page gone: the loop holds the follower (see page_lost)

            for k in range(args.rounds):
                for condition in (("closed", "open") if k % 2 == 0 else ("open", "closed")):
                    trial(condition)
                    r = results[condition][-1]
                    print(f"round {k + 1} {condition:>6}: p99 {np.percentile(r['jitter'], 99):7.3f} ms, "
                          f"max {r['jitter'].max():7.3f} ms, load {r['load']:.2f}", flush=True)
            ctl.disconnect()
    finally:
        chromium.close()

    print(f"\ncamera {h}x{w}, loop {hz:.0f} Hz, {args.rounds} rounds x {args.seconds:.0f} s per condition")
    pooled = {}
    for c, runs in results.items():
        jit = np.concatenate([r["jitter"] for r in runs])
        pooled[c] = p99 = float(np.percentile(jit, 99))
        hz_ach = np.mean([r["summary"]["achieved_hz"] for r in runs])
        over = int(sum((r["jitter"] > 1e3 / hz).sum() for r in runs))
        print(f"{'page ' + c:>12}: {len(jit)} periods, achieved {hz_ach:.2f} Hz, jitter p50 "
              f"{np.percentile(jit, 50):.3f} ms, p99 {p99:.3f} ms, max {jit.max():.3f} ms, "
              f"overruns {over}; load avg {np.mean([r['load'] for r in runs]):.2f}; CPU (cores): browser "
              f"{np.mean([r['browser_cpu'] for r in runs]):.2f}, studio process "
              f"{np.mean([r['studio_cpu'] for r in runs]):.2f}")
    cams = sorted(results["open"][0]["received"])
    for what in ("received", "shown"):
        print(f"frames/s {what} in the page: " + ", ".join(
            f"{cam} {np.mean([r[what].get(cam, 0.0) for r in results['open']]):.1f}" for cam in cams))
    paired = [np.percentile(o["jitter"], 99) - np.percentile(c["jitter"], 99)
              for o, c in zip(results["open"], results["closed"])]
    # How far the pooled difference moves with the background load: resample whole rounds (a pair of
    # trials taken together), so the interval shows what this machine's noise allows one to resolve.
    rng = np.random.default_rng(0)
    boot = []
    for _ in range(2000):
        ks = rng.integers(0, len(paired), len(paired))
        boot.append(np.percentile(np.concatenate([results["open"][k]["jitter"] for k in ks]), 99)
                    - np.percentile(np.concatenate([results["closed"][k]["jitter"] for k in ks]), 99))
    lo, hi = np.percentile(boot, [2.5, 97.5])
    print(f"p99 difference (open - closed): pooled {pooled['open'] - pooled['closed']:+.3f} ms "
          f"(95% interval over rounds {lo:+.2f} .. {hi:+.2f} ms), median of rounds {np.median(paired):+.3f} ms "
          f"(rounds: {', '.join(f'{d:+.2f}' for d in paired)}); goal: <= 1 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
