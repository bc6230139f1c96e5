"""What every ``armtwin bridge`` command validates, sets up and tears down the same way.

* :func:`check_transport` / :func:`check_follower` / :func:`check_outputs`: the config fields the
  commands share (backend, domain id, depth, rate, duration; follower source, port, env id; the
  ``--record`` bag and ``--report`` JSON against the inputs), each error naming the option and the
  valid choices.
* :class:`BridgeSession`: SIGINT/SIGTERM flag, the transport backend (chosen and printed), the
  optional MCAP bag (:class:`armtwin.bridge.bag.BagRecorder`), and the follower; on an error the bag is aborted (nothing half-written is
  left), and whatever happens the follower is disconnected, the backend closed and the signal
  handlers restored.
* :func:`print_summary` / :func:`write_report`: the end-of-run summary line and the JSON report.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from armtwin.bridge.bag import BagRecorder, bag_paths
from armtwin.bridge.stream import StopFlag
from armtwin.bridge.transport import BACKENDS, QosProfile, choose_backend
from armtwin.cli_fields import check_number
from armtwin.staging import check_output, staged_file


@dataclass(kw_only=True)
class TransportConfig:
    """Fields every ``armtwin bridge`` command has (keyword-only). backend: "auto", "rclpy" or
    "cyclone"; domain_id: ROS_DOMAIN_ID (None: the environment's); reliable/depth: QoS; record: MCAP
    bag to write (None: none; never replaces an existing bag); report: JSON report path (None: none;
    an existing file is replaced only with ``overwrite``). network: take part in DDS beyond this
    machine (False: loopback only; the commands that drive an arm default to False)."""

    backend: str = "auto"
    network: bool = True
    domain_id: int | None = None
    reliable: bool = True
    depth: int = 10
    record: str | None = None
    report: str | None = None
    overwrite: bool = False


#: ROS 2's domain ids (101 and up: Linux only); QoS keep-last depths the bridge accepts.
DOMAIN_IDS = (0, 232)
MAX_DEPTH = 10_000


def check_transport(cfg, *, max_rate_hz: float | None = None) -> None:
    """``cfg.backend`` one of BACKENDS; ``cfg.domain_id`` in 0..232 or None; ``cfg.depth`` in
    1..10000; ``cfg.rate_hz`` in (0, max_rate_hz] (when given, Hz); ``cfg.duration_s`` > 0 s or None."""
    if cfg.backend not in BACKENDS:
        raise ValueError(f"unknown backend {cfg.backend!r}; valid: {', '.join(BACKENDS)}")
    lo, hi = DOMAIN_IDS
    if cfg.domain_id is not None and (isinstance(cfg.domain_id, bool) or not isinstance(cfg.domain_id, int)
                                      or not lo <= cfg.domain_id <= hi):
        raise ValueError(f"--domain-id must be a ROS domain id in {lo}..{hi}, got {cfg.domain_id!r}")
    if isinstance(cfg.depth, bool) or not isinstance(cfg.depth, int) or not 1 <= cfg.depth <= MAX_DEPTH:
        raise ValueError(f"--depth (QoS keep-last history) must be in 1..{MAX_DEPTH}, got {cfg.depth!r}")
    if max_rate_hz is not None and not 0 < cfg.rate_hz <= max_rate_hz:
        raise ValueError(f"rate_hz must be in (0, {max_rate_hz:g}], got {cfg.rate_hz}")
    if cfg.duration_s is not None and not cfg.duration_s > 0:
        raise ValueError(f"duration_s must be > 0 (or None to run until stopped), got {cfg.duration_s}")


def check_max_age(value: float) -> float:
    """``--max-age``: a finite number of seconds > 0 (an infinite age would turn the stale and
    future-stamp checks off)."""
    return check_number(value, what="--max-age (s)", minimum=0, exclusive=True, optional=False)


def check_outputs(cfg, inputs=()) -> None:
    """``cfg.record`` (a bag directory, see :func:`armtwin.bridge.bag.bag_paths`) and ``cfg.report``
    (a JSON file): neither is, holds or lies inside one of ``inputs`` (e.g. ``--calibration``) or
    the other; the bag does not exist (a bag is never replaced); an existing report is replaced
    only with ``cfg.overwrite`` (:func:`armtwin.staging.check_output`)."""
    inputs = [i for i in inputs if i]
    bag_dir = None
    if cfg.record:
        bag_dir, _ = bag_paths(cfg.record)
        check_output(bag_dir, [*inputs, cfg.report], overwrite=True, kind="dir", what="--record")
        if bag_dir.exists():
            raise ValueError(f"--record: bag directory {bag_dir} exists already (a bag is never replaced); "
                             "choose another --record")
    if cfg.report:
        check_output(cfg.report, [*inputs, bag_dir], overwrite=cfg.overwrite, what="--report")


def check_follower(cfg, sources: tuple[str, ...]) -> None:
    """``cfg.source`` one of ``sources``; "real" needs ``cfg.port``; "sim" a known ``cfg.env_id``."""
    if cfg.source not in sources:
        raise ValueError(f"unknown source {cfg.source!r}; valid sources: {', '.join(sources)}")
    if cfg.source == "real" and not cfg.port:
        raise ValueError("source 'real' needs the follower's serial port (--port /dev/ttyACM0)")
    if cfg.source == "sim":
        from armtwin.envs import check_env_id

        check_env_id(cfg.env_id)


class BridgeSession:
    """``with BridgeSession("publish", cfg, topics, out=out) as s:`` ... ``s.finish(report)`` after.

    cfg: has backend, domain_id, reliable, depth, record (MCAP path or None). topics: topic -> ROS
    type name, what the bag records. Inside: ``s.stop`` (StopFlag), ``s.backend``, ``s.qos``,
    ``s.recorder`` (BagRecorder or None); set ``s.follower`` to have it disconnected on exit.
    """

    def __init__(self, command: str, cfg, topics: dict[str, str], *, out):
        self.command = command
        self.out = out
        self.follower = None
        self.recorder = None
        self.backend = None
        self.qos = QosProfile(reliable=cfg.reliable, depth=cfg.depth)
        self.stop = StopFlag().install()
        try:
            self.backend = choose_backend(cfg.backend, domain_id=cfg.domain_id, loopback=not cfg.network)
            self.say(self.backend.describe())
            if cfg.network:
                self.say("DDS is open to the network: anyone on this domain can publish to its topics "
                         "(no authentication); see docs/safety.md")
            if cfg.record:
                self.recorder = BagRecorder(cfg.record, topics)
        except BaseException:
            self._close()
            raise

    def say(self, text: str) -> None:
        print(f"armtwin bridge {self.command}: {text}", file=self.out, flush=True)

    def __enter__(self) -> "BridgeSession":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc_type is not None and self.recorder is not None:
                self.recorder.abort()
        finally:
            self._close()
        return False

    def _close(self) -> None:
        try:
            if self.follower is not None:
                self.follower.disconnect()
        finally:
            try:
                if self.backend is not None:
                    self.backend.close()
            finally:
                self.stop.restore()

    def finish(self, report: dict) -> dict:
        """After the ``with``: close the bag (its path goes into ``report["bag"]``); returns ``report``."""
        if self.recorder is not None:
            report["bag"] = str(self.recorder.close())
        return report

    def loop_report(self, cfg, *, elapsed_s: float, ticker, rx, **extra) -> dict:
        """The report fields every receiving loop has (config, transport, timing, receive stats), then ``extra``."""
        from dataclasses import asdict

        return {
            "command": self.command,
            "config": asdict(cfg),
            "transport": self.backend.name,
            "elapsed_s": elapsed_s,
            "ticks": ticker.ticks,
            "overruns": ticker.overruns,
            "receive": rx.stats.summary(),
            **extra,
        }


def print_summary(name: str, report: dict, out) -> None:
    r = report["receive"]
    line = (f"armtwin bridge {name}: {r['received']} received, {r['accepted']} accepted, "
            f"{r['dropped_out_of_order']} out-of-order, {r['dropped_stale']} stale, "
            f"{r.get('dropped_future', 0)} future-stamped, {r.get('stamp_resets', 0)} resets, "
            f"{r['malformed_total']} malformed" + (f" {r['malformed']}" if r["malformed"] else ""))
    age = r["age_s"]
    if age["n"]:
        line += f"; message age p50 {age['p50'] * 1e3:.2f} ms p99 {age['p99'] * 1e3:.2f} ms"
    print(line, file=out, flush=True)
    tr = (report.get("tracking") or {}).get("settled") or {}
    if tr.get("ticks"):
        per = ", ".join(f"{n} {e:.4f}/{m:.4f}" for n, e, m in zip(tr["joints"], tr["rms_rad"], tr["max_rad"]))
        print(f"armtwin bridge {name}: tracking error RMS/max (rad, after {report['tracking']['settle_s']:g} s): "
              f"{per}", file=out, flush=True)


def write_report(path: str | None, report: dict) -> None:
    """JSON report at ``path`` (None or "": none), staged beside it (:func:`armtwin.staging.staged_file`)
    so a reader never sees half of it."""
    if not path:
        return
    with staged_file(Path(path)) as tmp:
        tmp.write_text(json.dumps(_finite(report), indent=2, default=_json_default, allow_nan=False))


def _finite(o):
    """``o`` with every non-finite float (NaN, +-inf) as None: JSON has no such numbers, and Python's
    ``Infinity``/``NaN`` tokens break other readers."""
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    if isinstance(o, np.ndarray):
        return _finite(o.tolist())
    if isinstance(o, (float, np.floating)):
        return float(o) if math.isfinite(o) else None
    if isinstance(o, np.integer):
        return o.item()
    return o


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    return str(o)
