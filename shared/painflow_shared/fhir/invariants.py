"""FHIR invariants that the R4B models do not enforce, checked on every resource we accept.

- id: at most 64 characters of ``[A-Za-z0-9\\-.]`` (the models check characters, not length);
- per-1: a Period's start is not after its end;
- txt-1/txt-2: narrative XHTML is well-formed and carries no script, no event handlers;
- bdl-7: a Bundle's entries do not repeat a fullUrl;
- no extension is defined at an example domain (it can never be resolved);
- no string outside the narrative carries HTML markup (the HL7 validator's security check).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

from painflow_shared.fhir.errors import InvalidRequest, Issue

_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_HTML_IN_STRING = re.compile(
    r"<\s*/?\s*(script|img|a|iframe|object|embed|form|input|style|link|base|svg|body|html|meta|div|span|p)\b",
    re.IGNORECASE,
)
_EXAMPLE_DOMAIN = re.compile(r"^https?://(www\.)?example\.(org|com|net)/", re.IGNORECASE)
_FORBIDDEN_TAGS = {"script", "object", "embed", "iframe", "form", "input", "style", "base", "link"}


def check_invariants(data: dict[str, Any]) -> None:
    issues = list(_walk(data, str(data.get("resourceType", "Resource"))))
    if issues:
        raise InvalidRequest(issues[0].diagnostics, issues=issues)


def _walk(node: Any, path: str) -> Iterator[Issue]:
    if isinstance(node, str):
        if not path.endswith(".div") and _HTML_IN_STRING.search(node):
            yield Issue("the string looks like it embeds HTML markup", "security", "error", (path,))
        return
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{path}[{index}]")
        return
    if not isinstance(node, dict):
        return
    yield from _check_node(node, path)
    for key, value in node.items():
        yield from _walk(value, f"{path}.{key}")


def _check_node(node: dict[str, Any], path: str) -> Iterator[Issue]:
    if "resourceType" in node and "id" in node and not _ID.match(str(node["id"])):
        yield Issue("a resource id is 1-64 of A-Z a-z 0-9 - .", "value", "error", (f"{path}.id",))
    start, end = node.get("start"), node.get("end")
    if isinstance(start, str) and isinstance(end, str) and _normal(start) > _normal(end):
        yield Issue(
            "per-1: a period's start must not be after its end", "invariant", "error", (path,)
        )
    if node.get("status") in {"generated", "extensions", "additional", "empty"} and "div" in node:
        yield from _check_xhtml(str(node["div"]), f"{path}.div")
    if node.get("resourceType") == "Bundle":
        yield from _check_full_urls(node, path)
    url = node.get("url")
    if (
        path.rsplit(".", 1)[-1].split("[")[0] in ("extension", "modifierExtension")
        and isinstance(url, str)
        and _EXAMPLE_DOMAIN.match(url)
    ):
        yield Issue(
            "extensions defined at example domains cannot be resolved",
            "extension",
            "error",
            (f"{path}.url",),
        )


def _normal(value: str) -> str:
    """Dates and dateTimes compare as text once padded to the same precision."""
    return value.replace("Z", "+00:00")[:19].ljust(19, "0")


def _check_xhtml(div: str, path: str) -> Iterator[Issue]:
    try:
        root = ET.fromstring(div)
    except ET.ParseError as exc:
        yield Issue(f"narrative is not well-formed XHTML: {exc}", "invalid", "error", (path,))
        return
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1].lower()
        handlers = [name for name in element.attrib if name.lower().startswith("on")]
        if tag in _FORBIDDEN_TAGS or handlers:
            yield Issue(
                f"txt-1: narrative may not contain <{tag}> or event handlers",
                "invariant",
                "error",
                (path,),
            )
            return


def _check_full_urls(bundle: dict[str, Any], path: str) -> Iterator[Issue]:
    seen: set[str] = set()
    for index, entry in enumerate(bundle.get("entry") or []):
        url = entry.get("fullUrl") if isinstance(entry, dict) else None
        if not url:
            continue
        version = ((entry.get("resource") or {}).get("meta") or {}).get("versionId")
        key = f"{url}|{version}"
        if key in seen:
            yield Issue(
                "bdl-7: fullUrl must be unique in a bundle",
                "invariant",
                "error",
                (f"{path}.entry[{index}].fullUrl",),
            )
        seen.add(key)
