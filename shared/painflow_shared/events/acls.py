"""Kafka ACLs: what each service's principal may do, derived from the topics it uses.

Each service authenticates as its own SCRAM user (its name: ``User:referral``) and may

* write (and create) its own topic, and the DLQs of the topics it consumes (its consumer parks
  what it cannot handle there);
* read the topics it consumes, with its consumer group, and nothing else.

``admin`` is the broker's super user (tests, the painflow CLI, operators) and needs no ACL.
The bindings are computed from ``SERVICE_TOPICS`` and applied with ``apply_acls`` (``painflow
kafka acls``); nobody writes an ACL by hand.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from kafka import KafkaAdminClient
from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourceType,
)

from painflow_shared.events.types import (
    ALL_TOPICS,
    ASSESSMENT_TOPIC,
    FOLLOWUP_TOPIC,
    REFERRAL_TOPIC,
    SCHEDULING_TOPIC,
)

SUPER_USER = "admin"


@dataclass(frozen=True)
class TopicAccess:
    """The logical topics one service publishes on and consumes."""

    publishes: str | None
    consumes: tuple[str, ...]

    def writes(self) -> tuple[str, ...]:
        """Its own topic, and the DLQ of every topic it consumes."""
        own = (self.publishes,) if self.publishes else ()
        return own + tuple(f"{topic}.dlq" for topic in self.consumes)


# The one table of who publishes and consumes what. The services declare the same thing in code
# (ServiceDeclaration.subscriptions, each service's app.py); shared/ must not import them, so
# tests/test_kafka_topic_access.py checks that the two agree.
SERVICE_TOPICS: Mapping[str, TopicAccess] = MappingProxyType(
    {
        "referral": TopicAccess(
            REFERRAL_TOPIC, (ASSESSMENT_TOPIC, SCHEDULING_TOPIC, FOLLOWUP_TOPIC)
        ),
        "assessment": TopicAccess(
            ASSESSMENT_TOPIC, (REFERRAL_TOPIC, SCHEDULING_TOPIC, FOLLOWUP_TOPIC)
        ),
        "scheduling": TopicAccess(SCHEDULING_TOPIC, (REFERRAL_TOPIC, ASSESSMENT_TOPIC)),
        "followup": TopicAccess(FOLLOWUP_TOPIC, ALL_TOPICS),
    }
)

_WRITE = (ACLOperation.WRITE, ACLOperation.DESCRIBE, ACLOperation.CREATE)
_READ = (ACLOperation.READ, ACLOperation.DESCRIBE)


def principal(service: str) -> str:
    """The Kafka principal a service authenticates as (its SCRAM user is the service's name)."""
    return f"User:{service}"


def default_group(service: str) -> str:
    """The consumer group a service joins unless configured otherwise (settings)."""
    return f"painflow-{service}"


def service_acls(service: str, *, topic_prefix: str = "", group: str | None = None) -> list[ACL]:
    """Every ACL the service's principal needs, on the real (prefixed) topic names."""
    access = SERVICE_TOPICS[service]
    user = principal(service)
    acls = [
        _allow(user, op, ResourceType.TOPIC, topic_prefix + topic)
        for topic in access.writes()
        for op in _WRITE
    ]
    acls += [
        _allow(user, op, ResourceType.TOPIC, topic_prefix + topic)
        for topic in access.consumes
        for op in _READ
    ]
    if access.consumes:
        acls.append(
            _allow(user, ACLOperation.READ, ResourceType.GROUP, group or default_group(service))
        )
    return acls


def platform_acls(topic_prefix: str = "", group_suffix: str = "") -> Iterator[ACL]:
    """The ACLs of every service; groups are ``painflow-<service><group_suffix>``."""
    for service in SERVICE_TOPICS:
        yield from service_acls(
            service, topic_prefix=topic_prefix, group=default_group(service) + group_suffix
        )


def apply_acls(admin: KafkaAdminClient, acls: list[ACL]) -> int:
    """Create the ACLs (creating one that exists is a no-op for the broker); returns how many.

    Raises the broker's error for the first one refused (e.g. the caller is not ``admin``).
    """
    result = admin.create_acls(acls)
    if result["failed"]:
        error = result["failed"][0]
        raise error if isinstance(error, Exception) else error()
    return len(result["succeeded"])


def _allow(user: str, operation: ACLOperation, kind: ResourceType, name: str) -> ACL:
    return ACL(
        principal=user,
        host="*",
        operation=operation,
        permission_type=ACLPermissionType.ALLOW,
        resource_pattern=ResourcePattern(kind, name, ACLResourcePatternType.LITERAL),
    )
