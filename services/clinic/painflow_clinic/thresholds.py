"""What the charts mark, for display only: the follow-up service's clinically important change
(policies/outcome-measures-v1.json there, which decides; its outcome Observations carry the
verdict in ``interpretation``) and the assessment service's MME flags at 50 and 90 (mme-v1.json).
A site that changes those policies changes these lines too."""

from __future__ import annotations

from typing import Any

THRESHOLDS: dict[str, Any] = {
    "nrs": {"min_points": 2, "min_percent": 30, "cite": "2 points or 30%, Farrar 2001"},
    "odi": {"min_points": 10, "min_percent": 30, "cite": "10 points or 30%, Ostelo 2008"},
    "ndi": {"min_points": 10, "min_percent": 30, "cite": "10 points or 30%, uncertain"},
    "mme": {"lines": (50, 90), "cite": "CDC 2022"},
}
