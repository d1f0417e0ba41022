"""The follow-up service's pure domain: plans, outcomes, progression and the journey.

No I/O, no FastAPI, Kafka or SQL: plain data in, plain data (FHIR dicts, frozen values) out.
Policy files are read at the edge by ``painflow_followup.policies``.
"""
