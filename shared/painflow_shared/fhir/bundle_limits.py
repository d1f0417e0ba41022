"""How much work one Bundle may ask for, checked on the raw JSON before any model parsing
(parsing 50,000 entries is itself the cost the limit is there to avoid)."""

from __future__ import annotations

from typing import Any

from painflow_shared.fhir.errors import PayloadTooLarge


def check_entry_count(bundle: dict[str, Any], max_entries: int) -> None:
    """A 413 ``too-costly`` naming ``Bundle.entry`` when a Bundle has more than ``max_entries``."""
    entries = bundle.get("entry")
    if isinstance(entries, list) and len(entries) > max_entries:
        raise PayloadTooLarge(
            f"a Bundle may have at most {max_entries} entries; split it into several",
            expression="Bundle.entry",
        )
