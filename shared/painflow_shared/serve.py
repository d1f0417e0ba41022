"""Serve one app with uvicorn on its configured address."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from painflow_shared.settings import SharedSettings


def serve(app: FastAPI, settings: SharedSettings) -> None:
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,  # no "server: uvicorn" banner for a scanner to match
    )
