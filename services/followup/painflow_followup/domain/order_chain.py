"""The chain of procedure orders: which block of a dual comparative pair a procedure is, and
whether an order leads back to a given referral (issue 11 items 3 and 7).

Assessment orders a follow-on procedure ``basedOn`` the previous order (the second medial
branch block on the first's order), and the first order ``basedOn`` the referral. Pure: the
caller hands in what it knows of the patient's orders as plain values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

MEDIAL_BRANCH_BLOCK = "medial-branch-block"  # the procedure type id in followup-plans-v1.json
MAX_CHAIN = 50  # a longer chain is a loop in someone's data: stop walking


@dataclass(frozen=True)
class EarlierProcedure:
    """The procedure performed on the previous order of the chain, as far as the rules care."""

    procedure_type: str | None
    region: str | None
    block_number: int | None


def block_number_of(
    procedure_type: str | None, region: str | None, previous: EarlierProcedure | None
) -> int | None:
    """1 or 2 for a medial branch block (2 when its order follows a block of the same region),
    None for any other procedure."""
    if procedure_type != MEDIAL_BRANCH_BLOCK:
        return None
    if previous is None or previous.procedure_type != MEDIAL_BRANCH_BLOCK:
        return 1
    if previous.region is not None and region is not None and previous.region != region:
        return 1
    return (previous.block_number or 1) + 1


def leads_to(order_id: str | None, target_id: str, parents: Mapping[str, str | None]) -> bool:
    """Whether following ``basedOn`` from ``order_id`` reaches ``target_id`` (itself included)."""
    current, steps = order_id, 0
    while current is not None and steps <= MAX_CHAIN:
        if current == target_id:
            return True
        current, steps = parents.get(current), steps + 1
    return False
