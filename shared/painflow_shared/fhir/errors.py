"""One error vocabulary for every service: each error knows its HTTP status and FHIR issue type.

Handlers and domain code raise these; one exception handler (``outcomes.install_error_handlers``)
turns them into an OperationOutcome. Diagnostics never echo submitted values: they name paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Issue:
    diagnostics: str
    code: str = "invalid"  # http://hl7.org/fhir/issue-type
    severity: str = "error"
    expression: tuple[str, ...] = field(default_factory=tuple)


class FhirError(Exception):
    status: int = 400
    issue_code: str = "invalid"
    headers: dict[str, str] = {}

    def __init__(
        self, diagnostics: str, *, expression: str | None = None, issues: list[Issue] | None = None
    ) -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
        exprs = (expression,) if expression else ()
        self.issues = issues or [Issue(diagnostics, self.issue_code, "error", exprs)]


def rebase_paths(error: FhirError, old: str, new: str) -> FhirError:
    """The same error with expressions under ``old`` reported under ``new`` (in place)."""
    error.issues = [
        Issue(
            i.diagnostics,
            i.code,
            i.severity,
            tuple(new + e[len(old) :] if e.startswith(old) else e for e in i.expression),
        )
        for i in error.issues
    ]
    return error


class InvalidRequest(FhirError):
    """The request or resource is malformed: bad JSON, unknown type, structure errors."""

    status = 400
    issue_code = "structure"


class InvalidCode(FhirError):
    """A code outside a required binding (status, intent, gender, ...)."""

    status = 400
    issue_code = "code-invalid"


class BusinessRuleViolation(FhirError):
    """Parses fine but breaks a rule of the program (a referral without a subject...)."""

    status = 422
    issue_code = "business-rule"


class UnsupportedSearch(FhirError):
    """A search parameter, modifier, include or result parameter this server does not know or
    honour: a 400, as HAPI's JPA server answers (``Prefer: handling=lenient`` ignores it)."""

    status = 400
    issue_code = "not-supported"


class SearchTooCostly(FhirError):
    """A search past a documented limit (value length, values, criteria, offset)."""

    status = 400
    issue_code = "too-costly"


class NotFound(FhirError):
    status = 404
    issue_code = "not-found"


class Gone(FhirError):
    status = 410
    issue_code = "deleted"


class MethodNotAllowed(FhirError):
    status = 405
    issue_code = "not-supported"


class NotAcceptable(FhirError):
    """The client asked (``_format`` or ``Accept``) for a format this server does not send."""

    status = 406
    issue_code = "not-supported"


class Conflict(FhirError):
    status = 409
    issue_code = "conflict"


class PreconditionFailed(FhirError):
    status = 412
    issue_code = "conflict"


class PayloadTooLarge(FhirError):
    status = 413
    issue_code = "too-costly"


class UnsupportedMediaType(FhirError):
    status = 415
    issue_code = "not-supported"


class Unauthorized(FhirError):
    """No token, or one we cannot trust (RFC 6750): the client must get a new one."""

    status = 401
    issue_code = "login"

    def __init__(self, diagnostics: str) -> None:
        super().__init__(diagnostics)
        quoted = diagnostics.replace('"', "'")
        self.headers = {
            "WWW-Authenticate": (
                f'Bearer realm="painflow", error="invalid_token", error_description="{quoted}"'
            )
        }


class Forbidden(FhirError):
    """A trusted token whose scopes do not allow this interaction (or this patient)."""

    status = 403
    issue_code = "forbidden"


class TooManyRequests(FhirError):
    """A client past its rate limit: wait ``Retry-After`` seconds."""

    status = 429
    issue_code = "throttled"

    def __init__(self, diagnostics: str, *, retry_after: int) -> None:
        super().__init__(diagnostics)
        self.headers = {"Retry-After": str(retry_after)}


class ServiceUnavailable(FhirError):
    """Our own database is out of reach for a moment (restarting, a dropped connection): nothing
    was written; the client may retry."""

    status = 503
    issue_code = "transient"


class UpstreamUnavailable(FhirError):
    """A FHIR server we had to call (the referrer's) did not answer in time."""

    status = 502
    issue_code = "transient"
