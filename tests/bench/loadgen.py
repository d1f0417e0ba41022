"""The benchmark's load generator: one asyncio process that POSTs referral transaction Bundles.

Run by ``bench_platform.py`` in its own process, so that the load it offers never competes with
the services for one interpreter's GIL. Two patterns:

- **closed loop** (``--clients N``): N tasks, each POSTs back to back;
- **open loop** (``--rate R``): a POST starts every 1/R s whatever the answers do (the latency a
  client sees when the server falls behind is then honest: no coordinated omission), with at
  most ``--max-inflight`` requests open at once (over it a send is counted as ``dropped``).

Every Bundle is built (``painflow_shared.testing.factories.referral_bundle``) and serialized
before the load starts: the generator's CPU goes to HTTP only. It writes one JSON document to
``--out``: a sample per request (start offset, wall-clock send time, seconds, status, the
ServiceRequest id a 200 response names) and its own CPU seconds, so a run shows whether the
generator itself was the limit. A bearer token (``--token`` or env PAINFLOW_TOKEN), obtained
once by whoever starts the run, is sent on every request; with none, no Authorization header.

    .venv/bin/python tests/bench/loadgen.py --url http://127.0.0.1:8001/fhir --clients 8 \
        --seconds 20 --warmup 3 --out /tmp/samples.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp

from painflow_shared.testing.factories import referral_bundle

FHIR_JSON = {"content-type": "application/fhir+json", "accept": "application/fhir+json"}


@dataclass
class Sample:
    offset: float  # seconds since the load started: when the send was due (open loop) or made
    sent_at: float  # wall clock (time.time()) at ``offset``
    seconds: float  # from ``offset`` to the answer (open loop: includes any lateness of the send)
    status: str  # "200", "422", ... or the exception's class name
    service_request_id: str | None  # from a 200 transaction-response


def service_request_id(body: bytes) -> str | None:
    """``ServiceRequest/{id}`` of a transaction-response (ours and HAPI's alike), else None."""
    try:
        entries = json.loads(body).get("entry") or []
    except ValueError:
        return None
    for entry in entries:
        location = (entry.get("response") or {}).get("location") or ""
        if location.startswith("ServiceRequest/"):
            return location.split("/")[1]
    return None


class Load:
    def __init__(
        self,
        client: aiohttp.ClientSession,
        url: str,
        bodies: list[bytes],
        headers: dict[str, str],
        connections: int,
    ):
        self.client, self.url, self.bodies, self.headers = client, url, bodies, headers
        # sends beyond the connections wait here, in order, and cheaply, rather than in the
        # client's pool (httpx's cost the generator a third of a core with 256 waiters)
        self.connection = asyncio.Semaphore(connections)
        self.samples: list[Sample] = []
        self.sent = 0
        self.dropped = 0
        self.begin = time.monotonic()

    def _body(self) -> bytes:
        # each send gets its own Bundle (new MRN, identifiers: a repeat would be answered as a
        # replay of the first); reused only past the pool. Counted at send, not at answer.
        body = self.bodies[self.sent % len(self.bodies)]
        self.sent += 1
        return body

    async def post(self, due: float | None = None) -> None:
        """One POST; ``due`` (monotonic) is when the schedule wanted it sent. Timing from there,
        not from the actual send, keeps a late generator or a slow server from hiding latency
        (coordinated omission)."""
        now = time.monotonic()
        due = now if due is None else due
        body, offset, sent_at = self._body(), due - self.begin, time.time() - (now - due)
        t0 = time.perf_counter() - (now - due)
        try:
            # the semaphore's wait counts: the clock started when the send was due
            post = self.client.post(self.url, data=body, headers=self.headers)
            async with self.connection, post as response:
                status, content = str(response.status), await response.read()
        except Exception as exc:  # every send is a sample: a lost one would flatter the server
            status, content = type(exc).__name__, b""
        seconds = time.perf_counter() - t0
        sr_id = service_request_id(content) if status in ("200", "201") else None
        self.samples.append(Sample(offset, sent_at, seconds, status, sr_id))


async def closed_loop(load: Load, clients: int, until: float) -> None:
    async def client() -> None:
        while time.monotonic() < until:
            await load.post()

    await asyncio.gather(*(client() for _ in range(clients)))


async def open_loop(load: Load, rate: float, until: float, max_inflight: int) -> None:
    inflight: set[asyncio.Task[None]] = set()
    interval, n = 1.0 / rate, 0
    while (due := load.begin + n * interval) < until:
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        n += 1
        if len(inflight) >= max_inflight:
            load.dropped += 1
            continue
        task = asyncio.create_task(load.post(due))
        inflight.add(task)
        task.add_done_callback(inflight.discard)
    if inflight:
        await asyncio.wait(inflight)


def headers(token: str | None) -> dict[str, str]:
    result = dict(FHIR_JSON)
    if token:
        result["authorization"] = f"Bearer {token}"
    return result


async def run(args: argparse.Namespace) -> dict[str, Any]:
    expected = int((args.rate or 50 * args.clients) * (args.warmup + args.seconds)) + 1
    bodies = [
        json.dumps(referral_bundle()).encode("utf-8") for _ in range(min(expected, args.pool))
    ]
    connections = args.connections if args.rate else args.clients
    # aiohttp, not httpx (the platform's client): a POST costs the generator ~0.25 ms of CPU
    # against httpx's ~1.8, and the generator shares the two cores with what it measures
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    cpu0 = _cpu()
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, skip_auto_headers=("User-Agent",)
    ) as client:
        token = args.token or os.environ.get("PAINFLOW_TOKEN")
        load = Load(client, args.url, bodies, headers(token), connections)
        until = load.begin + args.warmup + args.seconds
        if args.rate:
            await open_loop(load, args.rate, until, args.max_inflight)
        else:
            await closed_loop(load, args.clients, until)
        wall = time.monotonic() - load.begin
    return {
        "mode": "open" if args.rate else "closed",
        "rate": args.rate,
        "clients": args.clients,
        "warmup": args.warmup,
        "seconds": args.seconds,
        "wall_seconds": round(wall, 3),
        "sent": load.sent,
        "dropped": load.dropped,
        "cpu_seconds": round(_cpu() - cpu0, 3),
        "samples": [asdict(s) for s in load.samples],
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--url", required=True, help="the FHIR base to POST Bundles to")
    parser.add_argument("--clients", type=int, default=8, help="closed loop: concurrent clients")
    parser.add_argument("--rate", type=float, default=0.0, help="open loop: POSTs per second")
    parser.add_argument("--max-inflight", type=int, default=256, help="open loop: cap")
    parser.add_argument(
        "--connections", type=int, default=16, help="open loop: HTTP connections (an EHR's pool)"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=3.0, help="before the window")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request")
    parser.add_argument("--pool", type=int, default=20000, help="distinct Bundles at most")
    parser.add_argument("--token", default=None, help="bearer token (else env PAINFLOW_TOKEN)")
    parser.add_argument("--out", required=True, help="where to write the samples (JSON)")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0 or args.warmup < 0 or args.rate < 0:
        parser.error("--clients >= 1, --seconds > 0, --warmup >= 0, --rate >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = asyncio.run(run(args))
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
