"""The audit trail: an AuditEvent for every guarded request, a Provenance for every write.

``trail`` holds the request's record (opened by ``auth.guard.authorize``), ``events`` builds the
FHIR resources (pure), ``records`` writes them (with a write's own commit, or after the response
of anything else), ``routes`` serves them. See docs/audit.md.
"""
