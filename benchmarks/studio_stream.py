"""Studio streaming: camera frames/s reaching a page, and the control loop's jitter with the page open vs closed.

Runs the record page's controller (the scripted leader on the sim target, recording) at 30 Hz for
``--seconds`` with no page, then the same with the record page open in headless Chromium receiving
the JPEG stream; prints frames/s per camera as counted in the page and the loop's period jitter
p50/p99/max for both runs (the goal: p99 with the page within 1 ms of the closed case).

    python benchmarks/studio_stream.py [--seconds 10] [--size 128x128]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from armtwin.studio.config import StudioConfig  # noqa: E402
from studio_server import browser, inner, live_server  # noqa: E402


def _jitter(loop, since: int) -> dict:
    from armtwin.teleop.loop import LoopStats

    s = LoopStats(loop.config.hz, tick_starts=loop.stats.tick_starts[since:])
    return s.summary()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--size", default="128x128", help="camera HxW")
    args = ap.parse_args()
    h, w = (int(v) for v in args.size.split("x"))
    root = Path(tempfile.mkdtemp(prefix="armtwin-studio-bench-"))
    with live_server(StudioConfig(port=0, root=root)) as (url, app), browser() as b:
        ctl = inner(app).state.record
        from armtwin.teleop.factory import TeleopConfig

        ctl.connect(TeleopConfig(leader="scripted", target="sim", record=root / "bench.h5", image_size=(h, w),
                                 print_summary=False, episode_steps=100000))
        loop = ctl.session.loop
        loop.config.end_on_success = False  # one long episode: the same work in both runs
        ctl.command("start")
        time.sleep(1.0)
        i0 = len(loop.stats.tick_starts)
        time.sleep(args.seconds)
        closed = _jitter(loop, i0)
        page = b.new_page()
        page.goto(url + "/record")
        page.wait_for_function("window.studio.framesReceived > 10", timeout=30000)
        time.sleep(1.0)
        i1 = len(loop.stats.tick_starts)
        n1 = page.evaluate("Object.fromEntries(Object.entries(window.studio.frames).map(([k]) => [k, 0]))")
        counts0 = page.evaluate("window.studio.framesReceived")
        t0 = time.perf_counter()
        time.sleep(args.seconds)
        per_cam = page.evaluate("window.studio.fps")
        total = page.evaluate("window.studio.framesReceived") - counts0
        wall = time.perf_counter() - t0
        opened = _jitter(loop, i1)
        page.close()
        ctl.disconnect()
    cams = max(1, len(n1))
    print(f"camera {h}x{w}, loop {closed['target_hz']:.0f} Hz, {args.seconds:.0f} s per run")
    print(f"frames/s reaching the page: {total / wall / cams:.1f} per camera ({cams} cameras; "
          f"last 1 s window: {', '.join(f'{k} {v:.1f}' for k, v in (per_cam or {}).items())})")
    for name, s in (("page closed", closed), ("page open", opened)):
        print(f"{name:>12}: achieved {s['achieved_hz']:.2f} Hz, jitter p50 {s['jitter_p50_ms']:.3f} ms, "
              f"p99 {s['jitter_p99_ms']:.3f} ms, max {s['jitter_max_ms']:.3f} ms")
    print(f"p99 difference (open - closed): {opened['jitter_p99_ms'] - closed['jitter_p99_ms']:+.3f} ms (goal: < 1 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
