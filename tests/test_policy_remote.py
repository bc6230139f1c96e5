"""Remote inference: armtwin as a client of LeRobot's own async inference server (a real process on loopback)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from armtwin.assets import so101_constants as C

LIFT = "armtwin/SO101-Lift-v0"


def test_server_address_and_options_are_checked():
    from armtwin.policy.remote import RemotePolicyOptions, parse_server

    assert parse_server("127.0.0.1:8080") == ("127.0.0.1", 8080)
    for bad in ("8080", "host:", ":80", "host:99999", "host:port"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_server(bad)
    with pytest.raises(ValueError, match="aggregate"):
        RemotePolicyOptions(server="h:1", policy="p", aggregate="max")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        RemotePolicyOptions(server="h:1", policy="p", chunk_size_threshold=2)


def test_eval_refuses_several_workers_with_a_server(tmp_path):
    from armtwin.cli import main

    (tmp_path / "pol").mkdir()
    (tmp_path / "pol" / "config.json").write_text("{}")
    assert main(["eval", "--policy", str(tmp_path / "pol"), "--env", LIFT, "--episodes", "2", "--workers", "2",
                 "--policy-server", "127.0.0.1:1", "--out", str(tmp_path / "o"), "--no-progress"]) == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def policy_server(tmp_path_factory):
    """``python -m lerobot.async_inference.policy_server`` on a free loopback port; yields "HOST:PORT"."""
    pytest.importorskip("grpc", reason="LeRobot's async extra (grpcio) is not installed")
    port = _free_port()
    cwd = tmp_path_factory.mktemp("policy_server")  # it writes logs/ into its working directory
    log = open(cwd / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lerobot.async_inference.policy_server", "--host=127.0.0.1", f"--port={port}",
         "--fps=30", "--inference_latency=0", "--obs_queue_timeout=2"],
        cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"policy_server exited {proc.returncode}:\n{(cwd / 'server.log').read_text()[-3000:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError("policy_server did not listen within 120 s")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _frame(seed=0):
    from armtwin.policy.features import STATE_KEY, image_key

    rng = np.random.default_rng(seed)
    return {STATE_KEY: rng.uniform(-20, 20, 6).astype(np.float32),
            image_key("wrist"): rng.integers(0, 255, (32, 32, 3), dtype=np.uint8),
            image_key("front"): rng.integers(0, 255, (32, 32, 3), dtype=np.uint8), "task": "lift"}


@pytest.mark.lerobot
def test_remote_chunk_equals_the_local_policy(tiny_act_checkpoint, policy_server):
    """The first chunk from the server is what the same checkpoint computes here (same processors)."""
    from armtwin.policy.local import LocalPolicy
    from armtwin.policy.remote import RemotePolicy, RemotePolicyOptions

    local = LocalPolicy.from_pretrained(tiny_act_checkpoint)
    remote = RemotePolicy.connect(RemotePolicyOptions(server=policy_server, policy=str(tiny_act_checkpoint),
                                                      chunk_size_threshold=0.0))
    try:
        assert set(remote.input_features) == set(local.input_features) and remote.actions_per_chunk == 10
        frame = _frame()
        local.reset()
        remote.reset()
        want = np.stack([local.act(frame) for _ in range(10)])
        got = np.stack([remote.act(frame) for _ in range(10)])
        assert remote.chunks == 1 and got.shape == (10, 6) and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
        assert np.ptp(got, axis=0).max() > 0  # a chunk, not one action repeated
        remote.act(_frame(1))  # the queue ran dry: a new observation, a new chunk
        assert remote.chunks == 2
    finally:
        remote.close()


@pytest.mark.lerobot
def test_policy_server_drives_the_twin_in_eval_and_run(tiny_act_checkpoint, policy_server, tmp_path):
    from armtwin.policy import episodes
    from armtwin.policy.eval import EvalConfig, run_eval
    from armtwin.policy.run import run_policy

    res = run_eval(EvalConfig(policy=tiny_act_checkpoint, env_id=LIFT, episodes=2, max_steps=25,
                              out=tmp_path / "eval", policy_server=policy_server, progress=False, print_table=False))
    assert [o.steps for o in res.outcomes] == [25, 25]
    backend = episodes._RUNNER.policy
    # 25 steps with 10-action chunks: chunks at steps 0, 10 (9 new actions), 19 (...): 3 per episode
    assert type(backend).__name__ == "RemotePolicy" and backend.chunks == 6
    # same seeds, same server: the same episodes (requests only when the queue is empty: no timing in it)
    again = run_eval(EvalConfig(policy=tiny_act_checkpoint, env_id=LIFT, episodes=2, max_steps=25,
                                out=tmp_path / "eval2", policy_server=policy_server, progress=False,
                                print_table=False))
    assert [o.row(30.0)["signals_reached"] for o in again.outcomes] == [o.row(30.0)["signals_reached"]
                                                                        for o in res.outcomes]
    episodes._RUNNER.close()
    episodes._RUNNER = episodes._RUNNER_JOB = None

    # armtwin run, real time, robot_client's sending rule (threshold 0.5): the server keeps the queue fed
    loop = run_policy(policy=tiny_act_checkpoint, env_id=LIFT, episodes=1, episode_steps=30,
                      policy_server=policy_server, print_summary=False)
    assert [r.steps for r in loop.results] == [30] and loop.safety_stop is None
    assert loop.leader.steps == 30 and loop.leader.backend.chunks >= 3
    assert all(k in C.LEROBOT_MOTOR_KEYS for k in loop.leader.action_features)
