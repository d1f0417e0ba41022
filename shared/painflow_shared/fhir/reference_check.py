"""Referential integrity of a write: every reference resolves, to a type its element allows.

What a reference may be (FHIR R4 section 2.3.0 "Resolving references", as HAPI FHIR's JPA
server enforces by default):

- ``Type/id``: a resource written by the same request, or stored here (not deleted). All the
  targets of one request are looked up together, in ONE query (``stored_keys``).
- ``#id``: a contained resource of the same resource (``#`` alone: the container itself).
- an absolute URL: only under a trusted FHIR base (remote_policy.py); never looked up here.
- ``urn:uuid:``: only as a name of another entry of the same transaction (the Bundle planner
  rewrites those to ``Type/id`` before this check; one left over names nothing).
- no ``reference`` at all (identifier-only or display-only): nothing to resolve, allowed.

The target type must be one the element allows (reference_sites.py reads those from the R4B
models); a caller may narrow an element further. A resource must not reference itself, and
hierarchy elements (``partOf``) must not form a cycle among the resources written together.
Diagnostics name the element and the target type, never the id or URL sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import tuple_
from sqlmodel import Session, col, select

from painflow_shared.fhir.errors import Issue
from painflow_shared.fhir.reference_sites import ReferenceSite, reference_sites
from painflow_shared.fhir.references import is_relative, parse_relative, split_absolute
from painflow_shared.fhir.store import StoredResource

Key = tuple[str, str]  # (resource type, id)
Lookup = Callable[[set[Key]], set[Key]]  # which of these keys are stored here
MAX_LOOKUPS = 5000  # distinct stored targets one request may name (one bounded query)
HOW = "use Type/id, #id, a urn:uuid of this transaction or an absolute URL on a trusted FHIR base"


@dataclass(frozen=True)
class Written:
    path: str  # where the resource is in the request: "Bundle.entry[0].resource", "Task"
    resource: dict[str, Any]  # with its resourceType and (assigned) id


@dataclass(frozen=True)
class ReferenceRules:
    is_trusted: Callable[[str], bool] = lambda url: False  # may an absolute URL stay?
    narrowed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # element -> types
    local_only: frozenset[str] = frozenset()  # elements that must name a resource here
    hierarchies: frozenset[str] = frozenset({"partOf"})  # element names that must not cycle

    def allowed(self, site: ReferenceSite) -> tuple[str, ...]:
        return self.narrowed.get(site.element, site.allowed)


def reference_issues(
    written: list[Written], known: set[Key], lookup: Lookup, rules: ReferenceRules
) -> list[Issue]:
    """Every problem with the references of ``written``; ``known``: keys written with them."""
    issues: list[Issue] = []
    pending: list[tuple[ReferenceSite, Key]] = []
    edges: dict[Key, list[tuple[ReferenceSite, Key]]] = {}
    for item in written:
        for site in reference_sites(item.resource, item.path):
            result = _check_site(item, site, rules)
            if isinstance(result, Issue):
                issues.append(result)
                continue
            if result is not None:
                pending.append((site, result))
                if site.element.rsplit(".", 1)[-1] in rules.hierarchies:
                    edges.setdefault(_key(item.resource), []).append((site, result))
    issues += _unresolved(pending, known, lookup)
    issues += [_issue(site, "makes a cycle", "business-rule") for site in _back_edges(edges)]
    return issues


def stored_keys(session: Session) -> Lookup:
    """The one-query look-up against the shared FHIR store (``fhir_resource``)."""

    def lookup(keys: set[Key]) -> set[Key]:
        columns = tuple_(col(StoredResource.resource_type), col(StoredResource.id))
        query = select(StoredResource.resource_type, StoredResource.id).where(
            columns.in_(sorted(keys)), col(StoredResource.deleted).is_(False)
        )
        return {(rtype, rid) for rtype, rid in session.exec(query).all()}

    return lookup


def _check_site(item: Written, site: ReferenceSite, rules: ReferenceRules) -> Issue | Key | None:
    """An issue, the key to look up, or None when the reference needs nothing more."""
    ref = site.reference
    if ref.startswith("#"):
        if ref == "#" or ref[1:] in _contained_ids(item.resource):
            return None
        return _issue(site, "does not resolve: no contained resource has that id", "not-found")
    if ref.startswith("urn:"):
        return _issue(site, "does not resolve: it names no entry of this transaction", "not-found")
    target = _target(ref)
    if target is None:
        return _issue(site, f"is not a reference this server can resolve ({HOW})", "invalid")
    (rtype, rid), absolute = target
    allowed = rules.allowed(site)
    if allowed and rtype not in allowed:
        return _issue(site, f"must reference one of: {', '.join(allowed)}", "business-rule")
    if absolute and site.element in rules.local_only:
        return _issue(site, f"must name a {rtype} in this request or on this server", "not-found")
    if absolute:
        return None if rules.is_trusted(ref) else _untrusted(site)
    if (rtype, rid) == _key(item.resource):
        return _issue(site, "must not reference the resource itself", "business-rule")
    return rtype, rid


def _target(ref: str) -> tuple[Key, bool] | None:
    """((type, id), is absolute) of a Type/id or an absolute FHIR URL."""
    if is_relative(ref):
        return parse_relative(ref), False
    parts = split_absolute(ref)
    return ((parts[1], parts[2]), True) if parts else None


def _unresolved(
    pending: list[tuple[ReferenceSite, Key]], known: set[Key], lookup: Lookup
) -> list[Issue]:
    wanted = {key for _, key in pending} - known
    if len(wanted) > MAX_LOOKUPS:
        diagnostics = f"a request may reference at most {MAX_LOOKUPS} distinct stored resources"
        return [Issue(diagnostics, "too-costly", "error", ())]
    found = lookup(wanted) if wanted else set()
    return [
        _issue(
            site, f"does not resolve: no {key[0]} with that id here or in this request", "not-found"
        )
        for site, key in pending
        if key not in known and key not in found
    ]


def _back_edges(edges: dict[Key, list[tuple[ReferenceSite, Key]]]) -> list[ReferenceSite]:
    """The references that close a cycle (iterative depth-first search: no recursion limit)."""
    done: set[Key] = set()
    found: list[ReferenceSite] = []
    for start in edges:
        if start in done:
            continue
        on_path = {start}
        stack: list[tuple[Key, Iterator[tuple[ReferenceSite, Key]]]] = [(start, iter(edges[start]))]
        while stack:
            node, children = stack[-1]
            step = next(children, None)
            if step is None:
                stack.pop()
                on_path.discard(node)
                done.add(node)
            elif step[1] in on_path:
                found.append(step[0])
            elif step[1] not in done:
                on_path.add(step[1])
                stack.append((step[1], iter(edges.get(step[1], []))))
    return found


def _contained_ids(resource: dict[str, Any]) -> set[str]:
    return {str(c.get("id")) for c in resource.get("contained") or [] if isinstance(c, dict)}


def _key(resource: dict[str, Any]) -> Key:
    return str(resource.get("resourceType")), str(resource.get("id"))


def _untrusted(site: ReferenceSite) -> Issue:
    return _issue(
        site, "is an absolute URL on a server that is not a trusted FHIR base", "business-rule"
    )


def _issue(site: ReferenceSite, rule: str, code: str) -> Issue:
    return Issue(f"{site.element} {rule}", code, "error", (site.path,))
