"""A policy served by LeRobot's async inference server: :class:`RemotePolicy`, a PolicyBackend over gRPC.

The server is LeRobot's own, unchanged: ``python -m lerobot.async_inference.policy_server --host=127.0.0.1
--port=8080`` (gRPC service ``AsyncInference``: ``Ready``, ``SendPolicyInstructions``, ``SendObservations``,
``GetActions``; the generated stubs and message types are LeRobot's, ``lerobot.transport``). This client
speaks the protocol LeRobot's ``robot_client`` speaks, with its payloads:

* ``Ready`` then ``SendPolicyInstructions(pickle(RemotePolicyConfig))``: the server loads the policy
  (``pretrained_name_or_path`` as *the server* sees it) with its pre/post processors;
* each observation is a pickled ``TimedObservation`` (raw robot keys ``"<motor>.pos"`` in LeRobot units,
  camera name -> ``(H, W, 3) uint8``, ``"task"``), streamed in chunks (``send_bytes_in_chunks``), with
  ``timestep`` = the last executed action's timestep (0 before any) and ``must_go`` when the action queue
  is empty (the server then always runs the policy on it);
* ``GetActions`` returns a pickled list of ``TimedAction`` (timestep, ``(6,)`` tensor, LeRobot units,
  postprocessed): the chunk predicted from that observation, one action per control step from its
  timestep on. Chunks are merged into the queue by timestep as ``robot_client`` does: actions at or
  before the last executed one are dropped, overlapping ones combined by ``aggregate`` (LeRobot's
  ``AGGREGATE_FUNCTIONS``: ``weighted_average`` 0.3 old + 0.7 new, ``latest_only``, ``average``).

A new observation is sent when ``queue / chunk <= chunk_size_threshold`` (``robot_client``'s rule; the
chunk in flight is collected in a background thread, so a real-time loop keeps executing the queue while
the server infers). With ``chunk_size_threshold=0`` a chunk is requested only when the queue is empty and
waited for: the actions then depend only on the observations, not on timing (what ``armtwin eval`` uses).
``act`` blocks while the queue is empty, up to ``timeout_s``.

Security: the server unpickles whatever it receives and this client unpickles its replies (LeRobot's
protocol): connect only to a server you trust, over loopback or a private network; LeRobot's server binds
``--host`` (its default 127.0.0.1). The server handles one client at a time (``Ready`` resets it).
The server's frames carry only ``observation.state`` and images: a policy reading
``observation.environment_state`` cannot be served this way (refused at construction).
"""

from __future__ import annotations

import json
import pickle  # nosec B403 - LeRobot's async inference protocol is pickle over gRPC (see the module doc)
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from armtwin._optional import require
from armtwin.assets import so101_constants as C
from armtwin.policy.features import ENV_STATE_KEY, IMAGE_PREFIX, STATE_KEY, TASK_KEY, _kind_shape

AGGREGATES = ("weighted_average", "latest_only", "average")


def parse_server(address: str) -> tuple[str, int]:
    """``"HOST:PORT"`` -> (host, port); ValueError naming the expected form."""
    host, sep, port = str(address).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--policy-server must be HOST:PORT (e.g. 127.0.0.1:8080), got {address!r}")
    return host, int(port)


def remote_policy_config(policy: str | Path) -> dict[str, Any]:
    """The policy's ``config.json`` as a dict: from a local pretrained directory (see
    :func:`armtwin.policy.local.resolve_pretrained`), else from the Hugging Face hub repo ``policy``."""
    from armtwin.policy.local import resolve_pretrained

    p = Path(policy)
    if p.exists():
        return json.loads((resolve_pretrained(p) / "config.json").read_text())
    require("huggingface_hub", extra="lerobot", what="reading a hub policy's config")
    from huggingface_hub import hf_hub_download

    try:
        return json.loads(Path(hf_hub_download(str(policy), "config.json")).read_text())
    except Exception as e:  # noqa: BLE001 - hub errors are many types; the message says what to pass
        raise FileNotFoundError(f"policy {policy!r} is neither a local pretrained directory nor a readable hub "
                                f"repo ({type(e).__name__}: {e})") from None


@dataclass(frozen=True, kw_only=True)
class RemotePolicyOptions:
    """server: ``"HOST:PORT"`` of LeRobot's policy server. policy: pretrained path or hub id as the server
    sees it (its ``config.json`` is also read here, locally or from the hub, for the input features).
    device: the server's torch device. actions_per_chunk: actions kept per chunk (None: the config's
    ``n_action_steps``, else ``chunk_size``). chunk_size_threshold in [0, 1]: send an observation when the
    queue holds at most this fraction of a chunk. aggregate: one of AGGREGATES. timeout_s: longest wait for
    a chunk (and for connecting)."""

    server: str
    policy: str
    device: str = "cpu"
    actions_per_chunk: int | None = None
    chunk_size_threshold: float = 0.5
    aggregate: str = "weighted_average"
    timeout_s: float = 30.0

    def __post_init__(self):
        parse_server(self.server)
        if not 0.0 <= self.chunk_size_threshold <= 1.0:
            raise ValueError(f"chunk_size_threshold must be in [0, 1], got {self.chunk_size_threshold}")
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"unknown aggregate {self.aggregate!r}; valid: {', '.join(AGGREGATES)}")
        if self.actions_per_chunk is not None and self.actions_per_chunk < 2:
            # a chunk of 1 starts at the executed step (robot_client's timestep rule): nothing new would come
            raise ValueError(f"actions_per_chunk must be >= 2, got {self.actions_per_chunk}")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")


class RemotePolicy:
    """A :class:`armtwin.policy.source.PolicyBackend` served by LeRobot's policy server (module doc).

    ``RemotePolicy.connect(options)`` opens the channel, sends the policy instructions and returns the
    backend. ``input_features``: the policy config's. ``act(frame)`` -> ``(6,) float32``, LeRobot units.
    ``chunks``: action chunks received so far; ``close()`` closes the channel.
    """

    def __init__(self, options: RemotePolicyOptions, config: dict[str, Any]):
        require("grpc", extra="lerobot", what="--policy-server (LeRobot's async inference client)")
        import grpc
        from lerobot.async_inference.configs import AGGREGATE_FUNCTIONS
        from lerobot.transport import services_pb2, services_pb2_grpc

        self.options = options
        self.config = config
        self._features = dict(config.get("input_features") or {})
        if ENV_STATE_KEY in self._features:
            raise ValueError(f"the policy reads {ENV_STATE_KEY}; LeRobot's policy server passes only "
                             f"{STATE_KEY} and camera images to it: run it locally (drop --policy-server)")
        self.policy_type = str(config.get("type"))
        n = options.actions_per_chunk or config.get("n_action_steps") or config.get("chunk_size")
        if not n or int(n) < 2:
            raise ValueError(f"cannot tell the policy's actions per chunk ({n!r}): pass actions_per_chunk >= 2")
        self.actions_per_chunk = int(n)
        self._cameras = {k[len(IMAGE_PREFIX):]: _kind_shape(v)[1] for k, v in self._features.items()
                         if k.startswith(IMAGE_PREFIX)}
        self._aggregate = AGGREGATE_FUNCTIONS[options.aggregate]
        self._pb = services_pb2
        self._grpc = grpc
        host, port = parse_server(options.server)
        self._channel = grpc.insecure_channel(f"{host}:{port}")
        self._stub = services_pb2_grpc.AsyncInferenceStub(self._channel)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="armtwin-get-actions")
        self._pending = None  # (episode generation, future of GetActions)
        self._generation = 0
        self._queue: dict[int, Any] = {}  # timestep -> action tensor, ascending
        self._latest = -1  # timestep of the last executed action
        self._chunk_len = -1  # longest chunk received (robot_client's action_chunk_size)
        self.chunks = 0

    @classmethod
    def connect(cls, options: RemotePolicyOptions) -> "RemotePolicy":
        """Connect to ``options.server`` and have it load ``options.policy``; ConnectionError if it does not
        answer within ``options.timeout_s``."""
        require("lerobot", extra="lerobot", what="--policy-server (LeRobot's async inference client)")
        self = cls(options, remote_policy_config(options.policy))
        try:
            self._grpc.channel_ready_future(self._channel).result(timeout=options.timeout_s)
            self._stub.Ready(self._pb.Empty(), timeout=options.timeout_s)
            self._send_instructions()
        except (self._grpc.FutureTimeoutError, self._grpc.RpcError) as e:
            self.close()
            raise ConnectionError(f"LeRobot's policy server at {options.server} did not answer ({e}); start it "
                                  "with python -m lerobot.async_inference.policy_server --host=HOST --port=PORT") from None
        return self

    def _send_instructions(self) -> None:
        from lerobot.async_inference.helpers import RemotePolicyConfig, map_robot_keys_to_lerobot_features

        class _Shape:  # what map_robot_keys_to_lerobot_features reads from a robot
            observation_features = self.robot_observation_features

        spec = RemotePolicyConfig(self.policy_type, str(self.options.policy), map_robot_keys_to_lerobot_features(_Shape),
                                  self.actions_per_chunk, self.options.device)
        self._stub.SendPolicyInstructions(self._pb.PolicySetup(data=pickle.dumps(spec)), timeout=None)

    @property
    def robot_observation_features(self) -> dict[str, Any]:
        """The robot's ``observation_features`` the server is told about: motors float, cameras (H, W, 3)."""
        out: dict[str, Any] = {k: float for k in C.LEROBOT_MOTOR_KEYS}
        for cam, (_, h, w) in self._cameras.items():
            out[cam] = (h, w, 3)
        return out

    # ---------------------------------------------------------------- PolicyBackend
    @property
    def input_features(self) -> dict[str, Any]:
        return self._features

    def reset(self) -> None:
        """A new episode: empty the queue, forget the chunk in flight, reset the server's timesteps."""
        self._generation += 1
        self._pending = None
        self._queue.clear()
        self._latest = -1
        self._stub.Ready(self._pb.Empty(), timeout=self.options.timeout_s)

    def act(self, frame: dict[str, Any]) -> np.ndarray:
        """The next queued action (``(6,) float32``), requesting chunks as described in the module doc."""
        self._collect(wait=0.0)
        if not self._queue or len(self._queue) / max(self._chunk_len, 1) <= self.options.chunk_size_threshold:
            if self._pending is None:
                self._send(frame, must_go=not self._queue)
                self._request()
        deadline = time.monotonic() + self.options.timeout_s
        resent = False
        while not self._queue:
            if not resent:  # the queue ran dry: this observation must be inferred, whatever the server filters
                self._send(frame, must_go=True)
                resent = True
            if self._pending is None:
                self._request()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no action chunk from the policy server {self.options.server} within "
                                   f"{self.options.timeout_s} s")
            if not self._collect(wait=left):
                resent = False  # GetActions came back empty (no observation in the server's queue): send again
        step = min(self._queue)
        action = self._queue.pop(step)
        self._latest = step
        return np.asarray(action.detach().to("cpu").numpy() if hasattr(action, "detach") else action,
                          dtype=np.float32).reshape(-1)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._channel.close()

    # ---------------------------------------------------------------- protocol
    def _raw_observation(self, frame: dict[str, Any]) -> dict[str, Any]:
        state = np.asarray(frame[STATE_KEY], dtype=np.float32).reshape(-1)
        raw: dict[str, Any] = {k: float(v) for k, v in zip(C.LEROBOT_MOTOR_KEYS, state)}
        for cam in self._cameras:
            raw[cam] = np.asarray(frame[IMAGE_PREFIX + cam], dtype=np.uint8)
        raw[TASK_KEY] = frame.get(TASK_KEY, "")
        return raw

    def _send(self, frame: dict[str, Any], *, must_go: bool) -> None:
        from lerobot.async_inference.helpers import TimedObservation
        from lerobot.transport.utils import send_bytes_in_chunks

        obs = TimedObservation(timestamp=time.time(), observation=self._raw_observation(frame),
                               timestep=max(self._latest, 0), must_go=must_go)
        payload = pickle.dumps(obs)
        self._stub.SendObservations(send_bytes_in_chunks(payload, self._pb.Observation, silent=True),
                                    timeout=self.options.timeout_s)

    def _request(self) -> None:
        self._pending = (self._generation,
                         self._pool.submit(self._stub.GetActions, self._pb.Empty(), timeout=self.options.timeout_s))

    def _collect(self, *, wait: float) -> bool:
        """Fold a finished GetActions into the queue (waiting up to ``wait`` s); True if a chunk came."""
        if self._pending is None:
            return False
        gen, fut = self._pending
        try:
            reply = fut.result(timeout=wait) if wait > 0 else (fut.result() if fut.done() else None)
        except FutureTimeout:
            return False
        except self._grpc.RpcError as e:
            self._pending = None
            raise ConnectionError(f"the policy server {self.options.server} failed: {e}") from None
        if reply is None:
            return False
        self._pending = None
        if gen != self._generation or not reply.data:
            return False
        chunk = pickle.loads(reply.data)  # nosec B301 - the server's reply (see the module doc)
        self._chunk_len = max(self._chunk_len, len(chunk))
        self.chunks += 1
        merged: dict[int, Any] = {}
        for ta in chunk:
            t = ta.get_timestep()
            if t <= self._latest:
                continue
            merged[t] = self._aggregate(self._queue[t], ta.get_action()) if t in self._queue else ta.get_action()
        # robot_client's queue after a chunk: the incoming timesteps only (older queued ones are replaced)
        self._queue = dict(sorted(merged.items()))
        return bool(merged)
