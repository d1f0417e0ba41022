"""What the referral service staged for publication, read from its outbox (tests only)."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, col, select

from painflow_shared.events.outbox import OutboxMessage


def referral_events_for(platform: Any, request_id: str) -> list[str]:
    """Event types published (acknowledged by Kafka) that carry ServiceRequest ``request_id``."""
    with Session(platform.runtime("referral").engine) as session:
        rows = session.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.sent_at).is_not(None))
            .order_by(col(OutboxMessage.seq))
        ).all()
    return [row.event_type for row in rows if _carries(json.loads(row.payload), request_id)]


def _carries(bundle: dict[str, Any], request_id: str) -> bool:
    return any(
        e["resource"]["resourceType"] == "ServiceRequest" and e["resource"]["id"] == request_id
        for e in bundle.get("entry", [])
    )
