"""How a consumer tells a handler's failure worth retrying from one to dead-letter at once.

A permanent failure (the handler refused the event: PoisonMessage, ContractViolation, a FHIR
error below 500, or a bug that would fail the same way again) is dead-lettered with its reason;
only infrastructure errors (database, broker, network, a remote server) are retried.
"""

from __future__ import annotations

from kafka.errors import KafkaError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from painflow_shared.contracts import ContractViolation
from painflow_shared.events.envelope import PoisonMessage
from painflow_shared.fhir.errors import FhirError

# Failures that say nothing about the event itself: the same event may well succeed later.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,  # the database is down, restarting, or a connection broke
    IntegrityError,  # a unique-key race with a concurrent writer: the retry sees its rows
    PoolTimeout,
    KafkaError,
    ConnectionError,
    TimeoutError,
)


def classify_failure(exc: BaseException) -> str | None:
    """None when ``exc`` is worth retrying; otherwise the DLQ reason for a permanent failure."""
    if isinstance(exc, FhirError):
        return None if exc.status >= 500 else "rejected"
    if isinstance(exc, PoisonMessage | ContractViolation):
        return "rejected"
    if isinstance(exc, TRANSIENT_ERRORS):
        return None
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return None
    return "handler-error"  # a bug fails the same way on every attempt: park it, move on


def describe_failure(exc: BaseException) -> str:
    """What went wrong, for the DLQ header: our own errors' reasons carry no patient data."""
    if isinstance(exc, FhirError):
        return f"{type(exc).__name__}: {exc.diagnostics}"
    if isinstance(exc, ContractViolation):
        return f"ContractViolation: {exc.reason}"
    return type(exc).__name__  # other messages may quote data: the type alone
