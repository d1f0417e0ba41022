"""A per-client rate limit (the ``limits`` library's moving window, in this process's memory).

Each client id (the token's ``azp``/``client_id``) gets ``PAINFLOW_RATE_LIMIT`` (default
``100/second`` per process: an EHR's backlog replay at the platform's measured intake rate fits,
a runaway loop does not); past it, a 429 with ``Retry-After``. Several replicas each count
their own: the limit a client sees is per replica, which the README says.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many, storage, strategies

from painflow_shared.fhir.errors import TooManyRequests


class RateLimiter:
    def __init__(self, spec: str) -> None:
        self.items: list[RateLimitItem] = parse_many(spec) if spec else []
        self._window = strategies.MovingWindowRateLimiter(storage.MemoryStorage())

    def check(self, client_id: str) -> None:
        for item in self.items:
            if not self._window.hit(item, client_id):
                reset = self._window.get_window_stats(item, client_id).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                raise TooManyRequests(
                    f"rate limit of {item} per client exceeded; retry after {wait} s",
                    retry_after=wait,
                )
