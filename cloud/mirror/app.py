"""The mirror's web face: the ``/mirror`` page, its frames over WebSocket (MJPEG as the
fallback) and its figures. Served by ``dancebooth cloud mirror`` itself, beside the
engine, so the booth's API never loads a generator. With no stream open and no frame
asked for, the engine leaves its generator idle (:meth:`FrameHub.watched`).

Routes::

    GET /mirror             the full-screen page (``?operator`` adds fps and latency)
    WS  /mirror/ws          frames: u32 header length, JSON header, JPEG (newest only);
                            the viewer answers each with any message (its ack)
    GET /mirror/mjpeg       multipart/x-mixed-replace JPEGs, for clients without WebSocket
    GET /mirror/frame.jpg   the newest frame (keeps the generator running for a few s)
    GET /mirror/stats       the engine's and the keypoint gate's figures (JSON)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Response, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from cloud.mirror.hub import FrameHub

logger = logging.getLogger(__name__)

UI = Path(__file__).resolve().parents[2] / "booth_ui"
BOUNDARY = "mirrorframe"
WAIT_S = 1.0
# Frames a WebSocket viewer may hold unacknowledged. Without acks a slow viewer's frames
# would pile up in socket buffers (megabytes on Linux: seconds of stale dancing); with
# them, it is sent the newest frame whenever it has taken the ones before.
IN_FLIGHT = 2


def create_mirror_app(hub: FrameHub, stats: Callable[[], dict[str, Any]]) -> FastAPI:
    app = FastAPI(title="dancebooth mirror", version="1")
    page = (UI / "templates" / "mirror.html").read_text()

    @app.get("/mirror", response_class=HTMLResponse)
    async def mirror_page() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    @app.get("/mirror/stats")
    async def mirror_stats() -> dict[str, Any]:
        return {**stats(), "viewers": hub.viewers}

    @app.get("/mirror/frame.jpg")
    async def mirror_frame() -> Response:
        frame = hub.glance()
        if frame is None:
            return Response(status_code=503, content="no frame yet: is the mirror starting?")
        return Response(frame.jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.websocket("/mirror/ws")
    async def mirror_ws(ws: WebSocket) -> None:
        await ws.accept()
        credit = asyncio.BoundedSemaphore(IN_FLIGHT)
        acks = asyncio.create_task(_take_acks(ws, credit))
        try:
            with hub.viewer():
                await _send_frames(ws, hub, acks, credit)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        finally:
            acks.cancel()

    @app.get("/mirror/mjpeg")
    async def mirror_mjpeg() -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            with hub.viewer():
                last = 0
                while True:
                    frame = await hub.newer_than(last, WAIT_S)
                    if frame is None:
                        continue
                    last = frame.index
                    head = (
                        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                        f"Content-Length: {len(frame.jpeg)}\r\n\r\n"
                    )
                    yield head.encode() + frame.jpeg + b"\r\n"

        return StreamingResponse(
            parts(),
            media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            headers={"Cache-Control": "no-store"},
        )

    app.mount("/static", StaticFiles(directory=UI / "static"), name="static")
    return app


async def _send_frames(
    ws: WebSocket, hub: FrameHub, acks: asyncio.Task[None], credit: asyncio.BoundedSemaphore
) -> None:
    """The newest frame whenever the viewer has credit, until it leaves."""
    last = 0
    while not acks.done():
        try:
            await asyncio.wait_for(credit.acquire(), WAIT_S)
        except TimeoutError:
            continue
        frame = await hub.newer_than(last, WAIT_S)
        if frame is None:
            credit.release()
            continue
        last = frame.index
        await ws.send_bytes(frame.message())


async def _take_acks(ws: WebSocket, credit: asyncio.BoundedSemaphore) -> None:
    """Each message from the viewer returns one frame's credit; ends when it leaves."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        with contextlib.suppress(ValueError):  # more acks than frames sent: ignored
            credit.release()
