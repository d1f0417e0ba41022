"""Serve one service as ``python -m painflow_<name>`` does, counting its SQL statements.

``bench_platform.py`` starts each service with this instead of ``-m painflow_<name>`` so that it
can count statements in a process it does not share: a ``before_cursor_execute`` listener on
every SQLAlchemy engine counts them by who ran them (request, relay, consumer; the thread's
name, as tests/integration/test_statement_budget.py tells them apart) and by kind (SELECT,
INSERT, ...), and a daemon thread writes the counts to ``$BENCH_SQL_DIR/<service>-<pid>.json``
every half second. Settings come from the environment (``<SERVICE>_PORT``,
``<SERVICE>_DATABASE_URL``, ...) exactly as in ``make up``.

With ``BENCH_WORKERS`` > 1 uvicorn runs that many worker processes (its ``--workers``) on the
app factory; each worker counts on its own and writes its own file (the bench adds them up).

    BENCH_SERVICE=referral BENCH_SQL_DIR=/tmp/sql python tests/bench/serve_counted.py
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from importlib import import_module
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from painflow_shared.serve import tune_gc
from painflow_shared.settings import SharedSettings

SERVICE = os.environ.get("BENCH_SERVICE", "referral")
OUT = Path(os.environ.get("BENCH_SQL_DIR", "."))
_counts: Counter[str] = Counter()
_lock = threading.Lock()


def _who(thread_name: str) -> str:
    if thread_name == "outbox-relay":
        return "relay"
    if thread_name.startswith("consumer-"):
        return "consumer"
    return "request"


def _count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
    kind = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "?"
    key = f"{_who(threading.current_thread().name)}:{kind}"
    with _lock:
        _counts[key] += 1


def _writer() -> None:
    path, last = OUT / f"{SERVICE}-{os.getpid()}.json", ""
    while True:
        time.sleep(0.5)
        with _lock:
            text = json.dumps(dict(_counts))
        if text == last:
            continue  # an idle service stays idle
        last = text
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)  # the reader never sees half a file


def create_app() -> Any:
    """The service's app, as its ``__main__`` builds it, with statements counted."""
    event.listen(Engine, "before_cursor_execute", _count)
    threading.Thread(target=_writer, name="bench-sql-counts", daemon=True).start()
    app = import_module(f"painflow_{SERVICE}.app").create_app()
    tune_gc(os.environ.get("PAINFLOW_GC_THRESHOLDS", SharedSettings().gc_thresholds))  # as serve()
    return app


def main() -> None:
    import uvicorn

    module = import_module(f"painflow_{SERVICE}.settings")
    conf = getattr(module, f"{SERVICE.capitalize()}Settings")()  # host and port, from env
    uvicorn.run(
        "serve_counted:create_app",
        factory=True,
        host=conf.host,
        port=conf.port,
        workers=int(os.environ.get("BENCH_WORKERS", "1")),
        # uvicorn kills a worker that misses a 5 s health check; a worker starved of CPU
        # under full load on 2 shared cores can miss it (and its replacement then fails)
        timeout_worker_healthcheck=60,
        app_dir=str(Path(__file__).parent),
        log_config=None,
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
