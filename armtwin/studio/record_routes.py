"""Record page routes: options, connect/disconnect, commands, and the live websocket.

Websocket ``/ws/record``: the server sends text messages (JSON :meth:`RecordController.snapshot`, ~10/s)
and binary messages, one per new camera frame (sent when the encoder publishes one, at most
``FrameEncoder.max_fps`` per camera): ``[1 byte n][n bytes camera name, UTF-8][JPEG]``. The
page sends ``{"cmd": "start" | "success" | "failure" | "discard" | "reset" | "resume"}``. When the
last websocket closes, :meth:`RecordController.page_lost` ends an episode being recorded safely.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from armtwin.studio.record import COMMANDS, RecordController

STATUS_EVERY_S = 0.1


def teleop_config(controller: RecordController, body: dict[str, Any]):
    """The page's form -> TeleopConfig (its own validation names what is wrong)."""
    from armtwin.teleop.factory import TeleopConfig

    allowed = {"env_id", "leader", "target", "port", "leader_id", "leader_calibration_dir", "follower_port",
               "follower_id", "follower_calibration_dir", "net_listen", "record", "hz", "image_size",
               "expert_noise", "seed", "episode_steps", "replay", "resume"}
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValueError(f"unknown settings {unknown}; valid settings: {', '.join(sorted(allowed))}")
    kw = {k: v for k, v in body.items() if v not in (None, "")}
    if "record" in kw:
        kw["record"] = controller.resolve(kw["record"])
    if "replay" in kw:
        kw["replay"] = controller.resolve(kw["replay"])
    if "image_size" in kw:
        kw["image_size"] = tuple(int(v) for v in kw["image_size"])
    for k in ("hz", "expert_noise"):
        if k in kw:
            kw[k] = float(kw[k])
    for k in ("seed", "episode_steps"):
        if k in kw:
            kw[k] = int(kw[k])
    return TeleopConfig(print_summary=False, **kw)


def make_router(controller: RecordController) -> APIRouter:
    r = APIRouter()

    @r.get("/api/record/options")
    def options():
        from armtwin.envs.registry import ENV_IDS, TASKS
        from armtwin.teleop.factory import TARGET_KINDS
        from armtwin.teleop.leader_builders import TELEOP_LEADER_KINDS

        # robots: each env's arm (an arm leader must be the env's arm: TeleopConfig says so otherwise)
        return {"env_ids": list(ENV_IDS), "descriptions": {k: TASKS[k].description for k in ENV_IDS},
                "robots": {k: TASKS[k].robot for k in ENV_IDS},
                "leaders": list(TELEOP_LEADER_KINDS), "targets": list(TARGET_KINDS), "commands": list(COMMANDS)}

    @r.get("/api/record/status")
    def status():
        return controller.snapshot()

    @r.post("/api/record/connect")
    async def connect(request: Request):
        body = await request.json()
        try:
            cfg = teleop_config(controller, body)
        except (ValueError, TypeError, FileNotFoundError) as e:
            raise HTTPException(400, str(e)) from None
        try:
            await run_in_threadpool(controller.connect, cfg)
        except RuntimeError as e:
            raise HTTPException(409, str(e)) from None
        return controller.snapshot()

    @r.post("/api/record/command/{name}")
    def command(name: str):
        try:
            controller.command(name)
        except (ValueError, RuntimeError) as e:
            raise HTTPException(400, str(e)) from None
        return controller.snapshot()

    @r.post("/api/record/disconnect")
    async def disconnect():
        await run_in_threadpool(controller.disconnect)
        return controller.snapshot()

    @r.websocket("/ws/record")
    async def live(ws: WebSocket):
        await ws.accept()
        enc = controller.encoder
        enc.clients += 1
        done = asyncio.Event()
        fresh = asyncio.Event()  # set when the encoder published new frames (or the page left)

        async def receive():
            try:
                while True:
                    msg = json.loads(await ws.receive_text())
                    try:
                        controller.command(str(msg.get("cmd")))
                    except (ValueError, RuntimeError) as e:
                        await ws.send_text(json.dumps({"type": "error", "message": str(e)}))
            except (WebSocketDisconnect, RuntimeError, json.JSONDecodeError, AttributeError):
                pass
            finally:
                done.set()
                fresh.set()

        reader = asyncio.create_task(receive())
        sent: dict[str, int] = {}
        next_status = 0.0
        loop = asyncio.get_running_loop()

        def wake():  # on the encoder thread
            try:
                loop.call_soon_threadsafe(fresh.set)
            except RuntimeError:  # the event loop is closing (server shutdown)
                pass

        enc.watch(wake)
        try:
            while not done.is_set():
                fresh.clear()  # before reading: a frame published from here on wakes the wait below
                for name, (seq, jpeg) in enc.latest().items():
                    if sent.get(name) != seq:
                        sent[name] = seq
                        head = name.encode()
                        await ws.send_bytes(bytes([len(head)]) + head + jpeg)
                now = loop.time()
                if now >= next_status:
                    next_status = now + STATUS_EVERY_S
                    await ws.send_text(json.dumps({"type": "status", **controller.snapshot()}))
                # Sleep until the encoder has new frames or the next status is due (or the page left).
                try:
                    await asyncio.wait_for(fresh.wait(), timeout=max(0.0, next_status - loop.time()))
                except asyncio.TimeoutError:
                    pass
        except Exception:  # noqa: BLE001 - the page went away mid-send (disconnect, reset, closed tab)
            pass
        finally:
            enc.unwatch(wake)
            reader.cancel()
            enc.clients -= 1
            if enc.clients == 0:
                controller.page_lost()

    return r
