"""What every ``armtwin bridge`` command validates, sets up and tears down the same way.

* :func:`check_transport` / :func:`check_follower`: the config fields the commands share
  (backend, rate, duration; follower source, port, env id), each error listing the valid choices.
* :class:`BridgeSession`: SIGINT/SIGTERM flag, the transport backend (chosen and printed), the
  optional MCAP bag (:class:`armtwin.bridge.bag.BagRecorder`), and the follower; on an error the bag is aborted (nothing half-written is
  left), and whatever happens the follower is disconnected, the backend closed and the signal
  handlers restored.
* :func:`print_summary` / :func:`write_report`: the end-of-run summary line and the JSON report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from armtwin.bridge.bag import BagRecorder
from armtwin.bridge.stream import StopFlag
from armtwin.bridge.transport import BACKENDS, QosProfile, choose_backend
from armtwin.staging import staged_file


@dataclass(kw_only=True)
class TransportConfig:
    """Fields every ``armtwin bridge`` command has (keyword-only). backend: "auto", "rclpy" or
    "cyclone"; domain_id: ROS_DOMAIN_ID (None: the environment's); reliable/depth: QoS; record: MCAP
    bag to write (None: none); report: JSON report path (None: none). network: take part in DDS
    beyond this machine (False: loopback only; the commands that drive an arm default to False)."""

    backend: str = "auto"
    network: bool = True
    domain_id: int | None = None
    reliable: bool = True
    depth: int = 10
    record: str | None = None
    report: str | None = None


def check_transport(cfg, *, max_rate_hz: float | None = None) -> None:
    """``cfg.backend`` one of BACKENDS; ``cfg.rate_hz`` in (0, max_rate_hz] (when given, Hz);
    ``cfg.duration_s`` > 0 s or None."""
    if cfg.backend not in BACKENDS:
        raise ValueError(f"unknown backend {cfg.backend!r}; valid: {', '.join(BACKENDS)}")
    if max_rate_hz is not None and not 0 < cfg.rate_hz <= max_rate_hz:
        raise ValueError(f"rate_hz must be in (0, {max_rate_hz:g}], got {cfg.rate_hz}")
    if cfg.duration_s is not None and not cfg.duration_s > 0:
        raise ValueError(f"duration_s must be > 0 (or None to run until stopped), got {cfg.duration_s}")


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
        tmp.write_text(json.dumps(report, indent=2, default=_json_default))


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    return str(o)
