"""The bench's printout: a few readable lines, then the whole report as one JSON object."""

from __future__ import annotations

import json
from typing import Any


def _ms(d: dict[str, Any] | None) -> str:
    if not d or not d.get("n"):
        return "n/a"
    return f"p50 {d['p50_ms']} / p95 {d['p95_ms']} / p99 {d['p99_ms']} ms (n={d['n']})"


def print_report(report: dict[str, Any]) -> None:
    load, cpu, sql = report["load"], report["cpu"], report["sql"]
    print("=" * 72)
    pattern = (
        f"open loop at {load['offered_per_second']}/s"
        if load["mode"] == "open"
        else f"closed loop, {load['clients']} clients"
    )
    print(f"{pattern}, {load['seconds']} s: {load['accepted_per_second']} accepted referrals/s")
    print(f"errors: {load['errors'] or 'none'}; loadgen CPU {load['loadgen_cpu_cores']} cores")
    print(f"HTTP POST: {_ms(report['http_ms'])}")
    for key, value in report["e2e"].items():
        print(f"{key.replace('_', ' ')}: {_ms(value)}")
    by_kind = sql.get("per_referral_post_by_kind")
    print(f"SQL per referral POST: {sql.get('per_referral_post')} {by_kind}")
    for service in ("assessment", "scheduling", "followup"):
        if f"per_{service}_event" in sql:
            print(
                f"SQL per {service} event: {sql[f'per_{service}_event']}"
                f" {sql[f'per_{service}_event_by_kind']}"
            )
    if "ms_per_referral" in cpu:
        print(f"CPU ms per referral (load + drain): {cpu['ms_per_referral']}")
        print(f"  net of idle CPU: {cpu['ms_per_referral_net_of_idle']}")
        print(
            f"  total (services + PostgreSQL): {cpu['ms_per_referral_total_excl_loadgen']} ms;"
            f" with the Kafka broker and the load generator: {cpu['ms_per_referral_all_processes']}"
        )
        print(f"idle CPU (cores): {cpu['idle_cores']}")
    else:
        print(f"CPU: {cpu.get('error')}")
    if "floor" in report:
        f = report["floor"]
        print(
            f"in-process floor: {f['referrals_per_second']}/s ({f['cpu_ms_per_referral']} ms CPU);"
            f" ratio to it: {report.get('ratio_to_floor')}"
        )
    if "replay" in report:
        r = report["replay"]
        rate = r.get("events_per_second")
        print(f"replay: {r.get('handled')}/{r.get('events')} events, {rate} events/s")
    if "hapi" in report:
        h = report["hapi"]
        rate, http = h.get("accepted_per_second"), _ms(h.get("http_ms"))
        print(f"HAPI FHIR JPA (first load): {rate}/s, HTTP {http}")
        for n, pair in enumerate(h.get("pairs", []), 1):
            print(
                f"  pair {n} ({pair['order']}): ours {pair['ours_per_second']}/s,"
                f" HAPI {pair['hapi_per_second']}/s, ratio {pair['ratio']}"
                f" (speed probe {pair['speed_probe_cpu_ms']} ms)"
            )
        print(f"ours/HAPI = {report.get('ratio_to_hapi')} (median of the pairs)")
    probe = report.get("machine", {}).get("speed_probe_cpu_ms")
    if probe:
        print(
            f"machine speed probe: {probe['start']} ms CPU at the start, {probe['end']} at the end"
            " (a fixed Python workload; lower is faster: compare runs with it)"
        )
    print("=" * 72)
    print(json.dumps(report, separators=(",", ":"), sort_keys=True, default=str))
