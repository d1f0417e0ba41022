"""Loading policy files, at the edge: the domain takes the data, never a path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from painflow_referral.domain.policy import TriagePolicy, policy_from_data

if TYPE_CHECKING:
    from painflow_referral.settings import ReferralSettings

DEFAULT_POLICY = Path(__file__).resolve().parent / "policies" / "triage-v1.json"


def load_policy(
    path: Path = DEFAULT_POLICY, overrides: dict[str, Any] | None = None
) -> TriagePolicy:
    """A triage policy file, with a site's overrides of its top-level values."""
    return policy_from_data(_document(path, overrides))


def _document(path: Path, overrides: dict[str, Any] | None) -> dict[str, Any]:
    return {**json.loads(path.read_text("utf-8")), **(overrides or {})}


def triage_document(settings: ReferralSettings) -> dict[str, Any]:
    """The policy a service runs with, as data: its configured file and the site's coverage
    override (what GET /policies/triage serves, and what the triage reads)."""
    overrides: dict[str, Any] = {}
    if settings.require_coverage is not None:
        overrides["require_coverage"] = settings.require_coverage
    return _document(settings.triage_policy_file, overrides)
