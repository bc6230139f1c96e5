"""A leader on one machine drives a follower on another: actions as UDP datagrams.

- Wire format (``NET_FORMAT``): one datagram per action, magic ``NET_MAGIC``, a sequence number,
  the sender's wall-clock time and six joint values in contract units.
- Send side: :class:`NetPublisher` and :func:`run_publisher` (``armtwin teleop ... --publish HOST:PORT``
  reads any leader at a fixed rate and publishes it; no follower).
- Receive side: :class:`NetLeader`, an ``armtwin.robots.contract.Leader`` (``--leader net``): the
  newest datagram wins, and its arrival time is the ``data_stamp`` the safety layer's watchdog judges.

Exposure: the listening port takes datagrams from anyone who can reach it; there is no
authentication or encryption. It listens on loopback by default; ``0.0.0.0`` opens it to the
whole network (use a trusted LAN, a firewall rule or an SSH/WireGuard tunnel). The port is
bound exclusively (no ``SO_REUSEADDR``/``SO_REUSEPORT``): a second process cannot bind it and
take the datagrams. Ordering uses a bounded sequence window (:data:`SEQ_WINDOW`): a jump beyond
it, forward or back (a restarted publisher, a forged sequence number), is a counted, logged
reset, never a lock.
"""

from __future__ import annotations

import logging
import math
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any

from armtwin.assets import so101_constants as C
from armtwin.robots.contract import Leader, LeaderExhausted, StaleInput  # noqa: F401 - StaleInput: raised here, re-exported
from armtwin.timing import RateKeeper

log = logging.getLogger(__name__)


#: Wire format of one UDP datagram: magic, sequence number, sender wall-clock time (s),
#: six joint values in contract units, C.LEROBOT_MOTOR_KEYS order. Little-endian, 68 bytes.
NET_MAGIC = b"ATW1"
NET_FORMAT = struct.Struct("<4sQd6d")

#: A datagram numbered at most this far below the newest one is a late or duplicated one and is
#: dropped; further away (either way) the stream restarted: a reset, accepted and counted.
SEQ_WINDOW = 256


def parse_address(addr: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """"host:port" or ":port" or "port" -> (host, port); raises ValueError naming the input."""
    host, sep, port = addr.rpartition(":")
    if not sep:
        host, port = default_host, addr
    try:
        p = int(port)
    except ValueError:
        raise ValueError(f"bad network address {addr!r}: expected HOST:PORT (e.g. 127.0.0.1:5555)") from None
    if not 0 <= p <= 65535:
        raise ValueError(f"bad network address {addr!r}: port must be 0..65535")
    return host or default_host, p


class NetPublisher:
    """Sends actions (contract units) as UDP datagrams to ``host:port`` (see ``NET_FORMAT``).

    Wrap a leader: ``pub.publish(leader.get_action())`` at the leader's rate, or use
    :func:`run_publisher`. Datagrams carry a sequence number and the send time, so the
    receiver keeps only the newest and can tell how old it is.
    """

    def __init__(self, address: str | tuple[str, int]):
        self.address = parse_address(address) if isinstance(address, str) else address
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.seq = 0

    def publish(self, action: dict[str, Any], t: float | None = None) -> int:
        """Send one action; returns its sequence number."""
        self.seq += 1
        values = [float(action[k]) for k in C.LEROBOT_MOTOR_KEYS]
        msg = NET_FORMAT.pack(NET_MAGIC, self.seq, time.time() if t is None else t, *values)
        self._sock.sendto(msg, self.address)
        return self.seq

    def close(self) -> None:
        self._sock.close()


@dataclass
class NetLeaderConfig:
    """listen: "HOST:PORT" to bind (127.0.0.1: this machine only; 0.0.0.0: anyone on the network,
    unauthenticated). stale_s: no new datagram for this long (local arrival clock) makes the
    leader stale. wait_first_s: how long connect() waits for the first datagram (0: do not wait).
    on_stale: "hold" (repeat the last action, the safety layer's watchdog holds the follower) or
    "raise". stale_end_s: no new datagram for this long ends the leader
    (:class:`StaleInput`, a ``LeaderExhausted``: the episode ends as a failure); None: hold forever."""

    listen: str = "127.0.0.1:5555"
    stale_s: float = 0.25
    wait_first_s: float = 5.0
    on_stale: str = "hold"
    stale_end_s: float | None = 2.0

    def __post_init__(self):
        parse_address(self.listen)
        if self.stale_s <= 0:
            raise ValueError(f"stale_s must be > 0 seconds, got {self.stale_s}")
        if self.wait_first_s < 0:
            raise ValueError(f"wait_first_s must be >= 0 seconds, got {self.wait_first_s}")
        if self.on_stale not in ("hold", "raise"):
            raise ValueError(f"on_stale must be 'hold' or 'raise', got {self.on_stale!r}")
        if self.stale_end_s is not None and not (math.isfinite(self.stale_end_s) and self.stale_end_s > 0):
            raise ValueError(f"stale_end_s must be > 0 seconds or None (hold forever), got {self.stale_end_s}")


class NetLeader(Leader):
    """Receives a remote leader's actions over UDP; the newest datagram (by sequence number) wins.

    ``get_action`` drains the socket without blocking. Attributes: ``last_seq``,
    ``age_s`` (receive time minus the sender's timestamp: latency when clocks agree, e.g.
    loopback), ``received``, ``dropped_old`` (datagrams at most ``SEQ_WINDOW`` below the newest),
    ``seq_resets`` (sequence jumps beyond the window, or a datagram after a stale gap: accepted as
    a restarted stream), ``stale`` (no new datagram for ``stale_s``), ``stale_events``. Freshness is
    judged on this machine's clock only, never on the sender's timestamp. ``data_stamp``: the
    ``time.monotonic()`` at which the action ``get_action`` returns arrived; the control loop passes
    it to the safety layer, whose watchdog then holds the follower when the network goes quiet.
    """

    name = "net"

    def __init__(self, config: NetLeaderConfig | None = None):
        self.config = config or NetLeaderConfig()
        self._sock: socket.socket | None = None
        self._last: dict[str, float] | None = None
        self.last_seq = 0
        self.last_sent_t = math.nan
        self.last_rx_t = math.nan
        self.data_stamp: float | None = None
        self.age_s = math.nan
        self.received = 0
        self.dropped_old = 0
        self.seq_resets = 0
        self._last_reset_log = -math.inf
        self.stale = False
        self.stale_events = 0
        self.address: tuple[str, int] | None = None

    @property
    def action_features(self) -> dict[str, Any]:
        return {k: float for k in C.LEROBOT_MOTOR_KEYS}

    @property
    def is_connected(self) -> bool:
        return self._sock is not None

    def connect(self, calibrate: bool = True) -> None:
        host, port = parse_address(self.config.listen)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # No SO_REUSEADDR / SO_REUSEPORT: the port is ours alone, so another process cannot bind
        # it too and take the datagrams while this session goes stale.
        try:
            s.bind((host, port))
        except OSError as e:
            s.close()
            raise OSError(f"net leader: cannot listen on {host}:{port} (is another session using it?): {e}") from None
        exposure = ("this machine only" if host.startswith("127.") or host == "localhost"
                    else "ANY host that can reach this port, unauthenticated")
        log.warning("net leader: listening on %s:%d (UDP, no authentication): accepts actions from %s",
                    host, s.getsockname()[1], exposure)
        s.setblocking(False)
        self._sock = s
        self.address = s.getsockname()
        if self.config.wait_first_s > 0:
            deadline = time.monotonic() + self.config.wait_first_s
            while self._last is None and time.monotonic() < deadline:
                self._drain()
                time.sleep(0.002)
            if self._last is None:
                self.disconnect()
                raise TimeoutError(
                    f"net leader: nothing received on {host}:{port} within {self.config.wait_first_s} s; "
                    "is the publisher running (armtwin teleop ... --publish HOST:PORT)?"
                )

    def _drain(self) -> None:
        while True:
            try:
                data = self._sock.recv(256)
            except BlockingIOError:
                return
            now = time.time()
            if len(data) != NET_FORMAT.size:
                continue
            magic, seq, t_sent, *values = NET_FORMAT.unpack(data)
            if magic != NET_MAGIC:
                continue
            if self._last is not None:
                gap = time.monotonic() - self.data_stamp
                back = seq <= self.last_seq
                if back and self.last_seq - seq <= SEQ_WINDOW and gap <= self.config.stale_s:
                    self.dropped_old += 1  # a late or duplicated datagram of the live stream
                    continue
                if back or seq - self.last_seq > SEQ_WINDOW:
                    # A restarted publisher (numbering from 1 again), a forged sequence number, or an
                    # old datagram after a silence: start over from this one, never lock.
                    self.seq_resets += 1
                    if time.monotonic() - self._last_reset_log > 1.0:
                        self._last_reset_log = time.monotonic()
                        log.warning("net leader: sequence %d after %d (%.2f s since the last datagram): "
                                    "taken as a restarted stream (%d resets so far)", seq, self.last_seq, gap,
                                    self.seq_resets)
            self.received += 1
            self.last_seq = seq
            self.last_sent_t = t_sent
            self.last_rx_t = now
            self.data_stamp = time.monotonic()
            self.age_s = now - t_sent
            self._last = dict(zip(C.LEROBOT_MOTOR_KEYS, values))

    def get_action(self) -> dict[str, float]:
        if self._sock is None:
            raise RuntimeError(f"{self.name} is not connected: call connect() first")
        self._drain()
        if self._last is None:
            raise RuntimeError(f"net leader: no action received yet on {self.config.listen}")
        silent_s = time.monotonic() - self.data_stamp
        stale = silent_s > self.config.stale_s
        if stale and not self.stale:
            self.stale_events += 1
            log.warning("net leader: no new action for %.0f ms; holding the last one", self.config.stale_s * 1e3)
        self.stale = stale
        if stale and self.config.on_stale == "raise":
            raise TimeoutError(f"net leader: no new action for more than {self.config.stale_s} s")
        if self.config.stale_end_s is not None and silent_s > self.config.stale_end_s:
            raise StaleInput(f"net leader: no new action on {self.config.listen} for {silent_s:.1f} s "
                             f"(> {self.config.stale_end_s:g} s): the input is lost, ending the episode")
        return dict(self._last)

    def summary(self) -> str:
        """One line for the session summary: datagrams taken, late ones dropped, sequence resets, stale spells."""
        return (f"net leader on {self.config.listen}: {self.received} actions received, {self.dropped_old} late or "
                f"duplicated dropped, {self.seq_resets} sequence resets (restarted or forged numbering), "
                f"{self.stale_events} stale spells")

    def disconnect(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = None


def run_publisher(leader, address: str, *, hz: float = 60.0, duration_s: float | None = None,
                  stop: threading.Event | None = None) -> int:
    """Read ``leader`` at ``hz`` and publish each action to ``address``; returns datagrams sent."""
    pub = NetPublisher(address)
    rate = RateKeeper(hz)
    t_end = None if duration_s is None else time.perf_counter() + duration_s
    try:
        while not (stop is not None and stop.is_set()) and (t_end is None or time.perf_counter() < t_end):
            try:
                action = leader.get_action()
            except LeaderExhausted:
                break
            pub.publish(action)
            rate.wait()
    finally:
        pub.close()
    return pub.seq
