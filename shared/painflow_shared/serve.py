"""Serve one app with uvicorn on its configured address."""

from __future__ import annotations

import gc
import logging

import uvicorn
from fastapi import FastAPI

from painflow_shared.settings import SharedSettings

log = logging.getLogger(__name__)


def serve(app: FastAPI, settings: SharedSettings) -> None:
    tune_gc(settings.gc_thresholds)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,  # no "server: uvicorn" banner for a scanner to match
    )


def tune_gc(thresholds: str) -> None:
    """For a served process, once its modules and app are built (issue 12): what exists now is
    frozen out of the collector's scans (``gc.freeze``: imported modules, the app, policies),
    and generation 0 is collected every ``thresholds[0]`` allocations instead of 700. Cyclic
    garbage still goes, a little later; a request's objects mostly die by reference count.
    Measured: about 6% more referrals/s and 13% more events/s in a replay (docs/performance.md).
    Not for a test process, which builds and drops many apps: frozen objects are never freed.
    """
    if not thresholds:
        return
    parts = [int(part) for part in thresholds.split(",")]
    gc.collect()
    gc.freeze()
    gc.set_threshold(*parts)
    log.debug("gc thresholds %s, %d objects frozen", parts, gc.get_freeze_count())
