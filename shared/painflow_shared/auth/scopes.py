"""SMART on FHIR scopes: what a token's ``scope`` claim lets its holder do (pure).

SMART App Launch v2 scopes are ``context/Type.perms`` with perms a subset of ``cruds`` in that
order (``system/ServiceRequest.c``, ``system/Patient.rs``, ``user/*.cruds``); the v1 forms
``context/Type.read|write|*`` are read as ``rs``, ``cud`` and ``cruds``. ``context`` is
``system`` (a backend service), ``user`` (a person signed in) or ``patient`` (limited to the
token's ``patient`` compartment).

Granular v2 scopes (``patient/Observation.rs?category=...``) narrow a grant by search
parameters; this server does not evaluate those narrowings, so it grants nothing for them rather
than more than was asked (a safe refusal, documented in the README).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Interaction(StrEnum):
    """The SMART permission letter each FHIR interaction needs."""

    CREATE = "c"
    READ = "r"  # read, vread, history
    UPDATE = "u"  # update, patch
    DELETE = "d"
    SEARCH = "s"


CONTEXTS = ("system", "user", "patient")
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
_SCOPE = re.compile(r"^(system|user|patient)/(\*|[A-Z][A-Za-z]{1,63})\.([a-z*]{1,5})$")
_ORDER = "cruds"


@dataclass(frozen=True)
class Grant:
    context: str
    resource_type: str  # a type, or "*"
    permissions: frozenset[str]

    def allows(self, resource_type: str, interaction: Interaction) -> bool:
        return self.resource_type in ("*", resource_type) and interaction.value in self.permissions


def parse_scope(scope: str) -> Grant | None:
    """One scope string as a grant, or None for anything that is not a resource scope this
    server grants (``openid``, ``launch/patient``, granular or malformed scopes)."""
    match = _SCOPE.match(scope)
    if match is None:
        return None
    context, resource_type, perms = match.groups()
    letters = _V1.get(perms, perms)
    if not _in_cruds_order(letters):
        return None
    return Grant(context, resource_type, frozenset(letters))


def _in_cruds_order(letters: str) -> bool:
    positions = [_ORDER.find(letter) for letter in letters]
    return all(p >= 0 for p in positions) and positions == sorted(set(positions))


def parse_scopes(claim: str | list[str] | None) -> tuple[Grant, ...]:
    """The grants in a token's ``scope`` claim (space-separated, or a list as some IdPs send)."""
    if not claim:
        return ()
    words = claim.split() if isinstance(claim, str) else [w for s in claim for w in s.split()]
    return tuple(g for g in (parse_scope(w) for w in words) if g is not None)


@dataclass(frozen=True)
class Permission:
    """What the grants say about one interaction on one type."""

    allowed: bool
    patient_only: bool  # allowed only through patient/ grants: limited to one compartment


def permission(
    grants: tuple[Grant, ...], resource_type: str, interaction: Interaction
) -> Permission:
    matching = [g for g in grants if g.allows(resource_type, interaction)]
    if not matching:
        return Permission(allowed=False, patient_only=False)
    return Permission(allowed=True, patient_only=all(g.context == "patient" for g in matching))
