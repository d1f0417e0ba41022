"""Stop uncommitted work when its client disconnects.

Long work runs in the thread pool, where nothing notices that the client left. ``run_cancellable``
watches the connection while the work runs and hands the work a ``threading.Event`` that is set
on ``http.disconnect``; the work checks it at its own safe points (before a commit, between the
entries of a batch) and raises ``WorkAbandoned``. The error boundary (``http_edge``) logs that as
one line and answers nothing: nobody is left to read an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

T = TypeVar("T")


class WorkAbandoned(ClientDisconnect):
    """Work stopped at a safe point because its client disconnected; says how far it got."""


def stop_if_cancelled(cancelled: threading.Event | None, progress: str) -> None:
    """At a safe point of the work: stop here, before anything more happens, if the client left."""
    if cancelled is not None and cancelled.is_set():
        raise WorkAbandoned(progress)


@contextlib.asynccontextmanager
async def disconnect_signal(request: Request) -> AsyncIterator[threading.Event]:
    """An event set when the client disconnects, while the block runs. Call it after the body
    was read: every message left on the connection is then the disconnect."""
    cancelled = threading.Event()

    async def watch() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        cancelled.set()

    watcher = asyncio.create_task(watch())
    try:
        yield cancelled
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def run_cancellable(request: Request, work: Callable[[threading.Event], T]) -> T:
    """``work(cancelled)`` in the thread pool, with ``cancelled`` set if the client leaves."""
    async with disconnect_signal(request) as cancelled:
        return await run_in_threadpool(work, cancelled)
