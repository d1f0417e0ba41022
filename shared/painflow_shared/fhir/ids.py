"""Logical ids for the resources and events we make."""

from __future__ import annotations

import uuid


def new_id() -> str:
    return str(uuid.uuid4())
