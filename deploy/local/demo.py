"""`make demo`: one acute-injury patient through the whole pathway on the services `make up`
started (127.0.0.1:8001..8004), with only the HTTP calls an EHR and the clinic's people make;
every hand-off between the services goes over Kafka. Prints the journey as the follow-up
service keeps it (days since the injury, the step, what happened, the step's trace id) and the
referral's triage Task as the EHR sees it at the end.

The driver is painflow_shared.testing.journey (tests/integration/test_whole_journey.py runs the
same journey). `python deploy/local/demo.py --second-relief 40` shows the reassessment variant.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import Any

from painflow_shared.cli.config import service_auth
from painflow_shared.testing.journey import Bases, JourneyDriver, JourneyError, milestone

Event = dict[str, Any]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--second-relief", type=float, default=90, help="second block's relief %%")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for each step")
    options = parser.parse_args()
    # the EHR's and the clinic's calls, as the dev realm's admin client (or PAINFLOW_TOKEN, or
    # PAINFLOW_CLIENT_ID/SECRET: the painflow CLI's rules)
    driver = JourneyDriver(
        Bases(), timeout=options.timeout, say=lambda s: print(f"  - {s}"), auth=service_auth()
    )
    print("Walking one patient through the pathway (HTTP only; Kafka between the services):")
    try:
        result = driver.run(second_relief=options.second_relief)
    except JourneyError as error:
        print(f"\nthe journey stopped: {error}", file=sys.stderr)
        return 1
    finally:
        driver.close()
    journey = result.journey
    print(f"\nJourney of Patient/{result.patient_id} (injury {journey['injury_onset']}):")
    print("  (all in real time on the day of the referral, except the ablation's 6-week, 3- and")
    print(
        "  6-month outcomes: a demo cannot wait six months, so they are dated at their time points)"
    )
    print(f"  {'day':>4}  {'step':<10} {'what happened':<70} trace id")
    for event in journey["events"]:
        print(_line(event))
    current = journey.get("current") or {}
    print(f"\n  now: {current.get('text')}")
    task = result.triage_task
    business = task.get("businessStatus") or {}
    print(f"\nThe EHR's view, GET :8001/fhir/Task?focus=ServiceRequest/{result.referral_id}:")
    print(f"  Task/{task.get('id')} status {task.get('status')}, businessStatus {milestone(task)}")
    for text in textwrap.wrap(str(business.get("text", "")), 96):
        print(f"    {text}")
    print(
        "\nThe journey page in the clinic web app (while `make up` runs; sign in as any dev user):"
    )
    print(f"  http://127.0.0.1:8005/patients/{result.patient_id}")
    return 0


def _line(event: Event) -> str:
    day = event["days_since_injury"]
    what = _what(event)
    what = what if len(what) <= 70 else f"{what[:67]}..."
    day_text = "?" if day is None else str(day)
    return f"  {day_text:>4}  {event['step']:<10} {what:<70} {event['trace_id']}"


def _what(event: Event) -> str:
    summary, step = event["summary"], event["step"]
    refs = " ".join(event["resources"][:1])
    text = {
        "injury": "injury (the referral's Condition onset)",
        "referral": f"referral received from the EHR ({refs})",
        "triage": "the coordinator accepted the referral",
        "intake": "intake questionnaires sent to the patient",
        "decision": f"decision: {summary.get('decision')} (intake NRS {summary.get('nrs')}, "
        f"MME {summary.get('mme')})",
        "order": f"next procedure ordered ({refs})",
        "booking": f"booked {str(summary.get('appointment_start'))[:16]}: "
        f"{summary.get('procedure')}",
        "procedure": f"performed, pre-procedure NRS {summary.get('nrs')} ({refs})",
        "follow-up": "follow-up plan: "
        + ", ".join(str(t.get("label")) for t in summary.get("time_points") or []),
        "next-step": f"next step: {summary.get('next_step_display')}",
    }.get(step)
    if step == "outcome":
        return _outcome(summary)
    return text or event["event"]


def _outcome(summary: dict[str, Any]) -> str:
    parts = [f"{summary.get('time_point')} outcome: {summary.get('relief_percent')}% relief"]
    if summary.get("nrs") is not None:
        parts.append(f"NRS {summary['nrs']}")
    return ", ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
